package setup

import (
	"context"
	"fmt"

	"github.com/artifactfs/artifactfs/bench/internal/chart"
	"github.com/artifactfs/artifactfs/bench/internal/ctrd"
	"github.com/artifactfs/artifactfs/bench/internal/host"
	"github.com/artifactfs/artifactfs/bench/internal/section"
	"github.com/artifactfs/artifactfs/bench/internal/stats"
	"github.com/artifactfs/artifactfs/tests/harness"
)

// scaleN is how many containers are created and deleted at once in the
// containerd half of issue 4's item 4.
const scaleN = 20

// row holds the figures of one kernel size, indexed by ctrd.Cache.
type row struct {
	mib  int
	mode string // the shim's serving mode, from its log
	// took is the shim's view + mount + state ("artifacts served", took);
	// waited the part of it Create waited for (the shim starts preparing
	// when its process starts, before Create arrives);
	// copyPath urunc's mount + copy + unmount; createView and createPlain
	// the whole NewTask with and without the view; steps the shim's
	// per-step times. All in ms.
	took, waited, copyPath, createView, createPlain [2]stats.Runs
	steps                                           [2]map[string]*stats.Runs
	// outside is took minus the sum of the steps, per run: the shim's
	// work before the first step (clearing an earlier attempt's paths).
	outside [2]stats.Runs
}

// scaleRow holds create and delete of n containers at once (warm).
type scaleRow struct {
	n int
	// create and del are per container (each NewTask / task Delete, timed
	// by its own goroutine); createWall and delWall are the wall time of
	// all n divided by n; took is the shim's own "took" per container.
	create, del, createWall, delWall, took stats.Runs
}

// Run measures time to artifacts per kernel size against the copy path
// and creates and deletes 1 and 20 containers through containerd, each
// kernel size with a daemon of its own.
func Run(ctx context.Context, e *section.Env) (*section.Result, error) {
	sizes := e.Kernels()
	var rows []*row
	var scale []*scaleRow
	err := ctrd.PerKernel(ctx, e.Repo, sizes, func(t *ctrd.Tools, i, mib int) error {
		r, sc, err := size(ctx, e, t, mib, i == 0)
		if err != nil {
			return err
		}
		rows = append(rows, r)
		if sc != nil {
			scale = sc
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	md, err := markdown(rows, scale, sizes[0], e.Runs)
	if err != nil {
		return nil, err
	}
	return &section.Result{Markdown: md, Panels: []chart.Panel{panel(rows)}}, nil
}

// size runs one daemon with a kernel of mib MiB: a warm-up round, e.Runs
// rounds cold and warm, then (withScale) the 1-vs-20 containers runs;
// everything is removed and checked for leaks at the end.
func size(ctx context.Context, e *section.Env, t *ctrd.Tools, mib int, withScale bool) (r *row, scale []*scaleRow, err error) {
	err = ctrd.WithDaemon(ctx, t, e.Work, mib, "tta", func(c *ctrd.Env, gated, plain *harness.Task) ([]*harness.Task, error) {
		r = &row{mib: mib, steps: [2]map[string]*stats.Runs{{}, {}}}
		host.Progress("%d MiB: warm-up round (untimed), checking the served kernel", mib)
		if err := round(ctx, c, e.Work, gated, plain, ctrd.Warm, nil); err != nil {
			return nil, fmt.Errorf("warm-up: %w", err)
		}
		if err := c.CheckServed(ctx, gated); err != nil {
			return nil, err
		}
		for run := 1; run <= e.Runs; run++ {
			for _, temp := range ctrd.Caches {
				if err := round(ctx, c, e.Work, gated, plain, temp, r); err != nil {
					return nil, fmt.Errorf("run %d, %s: %w", run, temp, err)
				}
				host.Progress("%d MiB, run %d/%d, %s: artifactfs %s ms, Create waited %s ms (Create %s ms), copy path %s ms (Create without view %s ms)",
					mib, run, e.Runs, temp, stats.Ms(r.took[temp].Last()), stats.Ms(r.waited[temp].Last()), stats.Ms(r.createView[temp].Last()),
					stats.Ms(r.copyPath[temp].Last()), stats.Ms(r.createPlain[temp].Last()))
			}
		}
		if !withScale {
			return nil, nil
		}
		more, sc, err := containers(ctx, c, e.Runs)
		if err != nil {
			return more, fmt.Errorf("%d containers: %w", scaleN, err)
		}
		scale = sc
		return more, nil
	})
	return r, scale, err
}
