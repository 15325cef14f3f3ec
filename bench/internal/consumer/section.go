package consumer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/artifactfs/artifactfs/bench/internal/chart"
	"github.com/artifactfs/artifactfs/bench/internal/ctrd"
	"github.com/artifactfs/artifactfs/bench/internal/host"
	"github.com/artifactfs/artifactfs/bench/internal/section"
	"github.com/artifactfs/artifactfs/bench/internal/stats"
	"github.com/artifactfs/artifactfs/tests/harness"
)

// row holds, for one kernel size and indexed by ctrd.Cache, the time from
// Create to the last byte of kernel and initrd, and its parts, in ms.
type row struct {
	mib int
	// afs and cp are the totals; afsCreate/afsRead and
	// cpCreate/cpCopy/cpRead their parts.
	afs, afsCreate, afsRead      [2]stats.Runs
	cp, cpCreate, cpCopy, cpRead [2]stats.Runs
}

// Run measures, per kernel size, a VMM-like reader of kernel and initrd
// from container Create to the last byte, through artifactfs and through
// the copy path.
func Run(ctx context.Context, e *section.Env) (*section.Result, error) {
	var rows []*row
	err := ctrd.PerKernel(ctx, e.Repo, e.Kernels(), func(t *ctrd.Tools, _, mib int) error {
		r, err := size(ctx, e, t, mib)
		rows = append(rows, r)
		return err
	})
	if err != nil {
		return nil, err
	}
	md, err := markdown(rows, e.Runs)
	if err != nil {
		return nil, err
	}
	return &section.Result{Markdown: md, Panels: []chart.Panel{panel(rows)}}, nil
}

// size runs one daemon with a kernel of mib MiB: a warm-up round, then
// e.Runs rounds cold and warm; everything is removed and checked for leaks
// at the end.
func size(ctx context.Context, e *section.Env, t *ctrd.Tools, mib int) (r *row, err error) {
	err = ctrd.WithDaemon(ctx, t, e.Work, mib, "vmm", func(c *ctrd.Env, gated, plain *harness.Task) ([]*harness.Task, error) {
		r = &row{mib: mib}
		buf := make([]byte, ctrd.ReadBuf)
		host.Progress("%d MiB: warm-up round (untimed)", mib)
		if err := round(ctx, c, e.Work, gated, plain, ctrd.Warm, buf, nil); err != nil {
			return nil, fmt.Errorf("warm-up: %w", err)
		}
		for run := 1; run <= e.Runs; run++ {
			for _, temp := range ctrd.Caches {
				if err := round(ctx, c, e.Work, gated, plain, temp, buf, r); err != nil {
					return nil, fmt.Errorf("run %d, %s: %w", run, temp, err)
				}
				last := func(s stats.Runs) string { return stats.Ms(s.Last()) }
				host.Progress("%d MiB, run %d/%d, %s: Create to last byte: artifactfs %s ms (Create %s, read %s), copy path %s ms (Create %s, copy %s, read %s)",
					mib, run, e.Runs, temp, last(r.afs[temp]), last(r.afsCreate[temp]), last(r.afsRead[temp]),
					last(r.cp[temp]), last(r.cpCreate[temp]), last(r.cpCopy[temp]), last(r.cpRead[temp]))
			}
		}
		return nil, nil
	})
	return r, err
}

// round measures both paths once at temperature temp (cold: the page
// cache dropped before each path's Create). artifactfs: Create the gated
// container's task, then read kernel and initrd from its per-container
// path. Copy path: Create the plain container's task, mount its rootfs,
// copy the artifacts to tmpfs, unmount, then read the copies. r nil: a
// warm-up, nothing recorded.
func round(ctx context.Context, c *ctrd.Env, work string, gated, plain *harness.Task, temp ctrd.Cache, buf []byte, r *row) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	off, err := c.H.D.LogSize()
	if err != nil {
		return err
	}
	if err := temp.Prepare(); err != nil {
		return err
	}
	t0 := time.Now()
	if _, err := c.CreateTask(ctx, gated); err != nil {
		return err
	}
	tCreate := time.Now()
	if err := c.ReadArtifacts(c.H.Path(gated.ID), buf); err != nil {
		return fmt.Errorf("read through artifactfs: %w", err)
	}
	t1 := time.Now()
	// Proof that the shim served them (and did not roll back).
	if _, err := harness.WaitServed(ctx, c.H.D, off, gated.ID); err != nil {
		return err
	}
	if _, err := c.DeleteTask(ctx, gated); err != nil {
		return err
	}
	if r != nil {
		r.afs[temp].AddMs(t1.Sub(t0))
		r.afsCreate[temp].AddMs(tCreate.Sub(t0))
		r.afsRead[temp].AddMs(t1.Sub(tCreate))
	}

	ms, err := c.RootfsMounts(ctx, plain) // urunc has them from the spec: untimed
	if err != nil {
		return err
	}
	dst := ctrd.CopyDir()
	defer os.RemoveAll(dst)
	if err := temp.Prepare(); err != nil {
		return err
	}
	t0 = time.Now()
	if _, err := c.CreateTask(ctx, plain); err != nil {
		return err
	}
	tCreate = time.Now()
	dCopy, err := ctrd.CopyArtifacts(plain, ms, filepath.Join(work, "copy-mnt"), dst)
	if err != nil {
		return err
	}
	tCopy := time.Now()
	if err := c.ReadArtifacts(dst, buf); err != nil {
		return fmt.Errorf("read the copies: %w", err)
	}
	t1 = time.Now()
	if err := os.RemoveAll(dst); err != nil {
		return err
	}
	if _, err := c.DeleteTask(ctx, plain); err != nil {
		return err
	}
	if r != nil {
		r.cp[temp].AddMs(t1.Sub(t0))
		r.cpCreate[temp].AddMs(tCreate.Sub(t0))
		r.cpCopy[temp].AddMs(dCopy)
		r.cpRead[temp].AddMs(t1.Sub(tCopy))
	}
	return nil
}
