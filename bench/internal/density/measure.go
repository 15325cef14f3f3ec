package density

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/artifactfs/artifactfs/bench/internal/ctrd"
	"github.com/artifactfs/artifactfs/bench/internal/host"
	"github.com/artifactfs/artifactfs/bench/internal/stats"
	"github.com/artifactfs/artifactfs/tests/harness"
)

// row is one layout, snapshotter and count.
type row struct {
	sn  string
	lay layout
	n   int
	// cached is what Cached grew by while every container read its
	// kernel and initrd, the page cache dropped before, per read cycle;
	// shmem what Shmem grew by from before the first container to after
	// the reads; resident and residentBlock the pages in the page cache
	// after the reads (mincore) of the files read and of the views' block
	// files; rss the shims' VmRSS summed, pss their Pss. MiB.
	cached                                   stats.Runs
	shmem, resident, residentBlock, rss, pss float64
	observed
	// first is what Create of the first container waited for the shim
	// (copy path: urunc's mount + copy + unmount), others the rest; ms.
	first, others stats.Runs
	// firstSteps and steps are the shim's steps of the first container
	// and of the others (ms).
	firstSteps, steps map[string]*stats.Runs
	// modes counts the per-container FUSE mounts by serving mode (the
	// shims' "mounted" lines).
	modes map[string]int
	// left is what was left behind once every container was removed.
	left []string
}

// measure creates n containers of layout l on snapshotter sn one after the
// other (Create, for the copy path the copy, then start), drops the page
// cache, reads every container's kernel and initrd once, observes the
// host, removes the containers and lists what is left.
func measure(ctx context.Context, c *ctrd.Env, work, sn string, l layout, n int) (r *row, err error) {
	r = &row{sn: sn, lay: l, n: n, firstSteps: map[string]*stats.Runs{}, steps: map[string]*stats.Runs{}}
	if err := host.DropCaches(); err != nil {
		return nil, err
	}
	m0, err := host.ProcFields("/proc/meminfo")
	if err != nil {
		return nil, err
	}
	off, err := c.H.D.LogSize()
	if err != nil {
		return nil, err
	}
	var ks []*harness.Task
	defer func() {
		if ks != nil { // not removed yet: an error on the way
			err = errors.Join(err, c.RemoveContainers(ctx, ks))
		}
		err = errors.Join(err, os.RemoveAll(ctrd.CopyDir()))
	}()
	ann := ctrd.Gated
	if l.copy {
		ann = ctrd.Plain
	}
	for i := range n {
		k, err := c.NewContainerOn(ctx, fmt.Sprintf("%s-%s-%d-%d", l.Key, sn, n, i), sn, ann)
		if err != nil {
			return nil, err
		}
		ks = append(ks, k)
		if err := r.create(ctx, c, work, k, i == 0); err != nil {
			return nil, err
		}
		if err := c.StartTask(ctx, k); err != nil {
			return nil, err
		}
	}
	m2, err := r.readAll(c, ks)
	if err != nil {
		return nil, err
	}
	r.shmem = (m2["Shmem"] - m0["Shmem"]) / 1024
	if r.observed, err = observe(c, l); err != nil {
		return nil, err
	}
	if r.resident, err = resident(r.files); err != nil {
		return nil, err
	}
	if r.residentBlock, err = resident(r.blockFiles); err != nil {
		return nil, err
	}
	if r.rss, r.pss, err = shimMemory(c); err != nil {
		return nil, err
	}
	if r.modes, err = mountModes(c.H.D.LogPath, off); err != nil {
		return nil, err
	}
	rerr := c.RemoveContainers(ctx, ks)
	ks = nil
	if rerr != nil {
		return nil, rerr
	}
	r.left = c.H.SettledLeftovers(ctx, 10*time.Second)
	return r, nil
}

// readCycles is how often the reads are measured, the page cache dropped
// before each: other processes on the host move Cached meanwhile.
const readCycles = 5

// readAll drops the page cache and reads every container's kernel and
// initrd once from where its VMM would, readCycles times, recording what
// Cached grew by each time; it returns /proc/meminfo after the last.
func (r *row) readAll(c *ctrd.Env, ks []*harness.Task) (map[string]float64, error) {
	buf := make([]byte, ctrd.ReadBuf)
	var after map[string]float64
	for range readCycles {
		if err := host.DropCaches(); err != nil {
			return nil, err
		}
		before, err := host.ProcFields("/proc/meminfo")
		if err != nil {
			return nil, err
		}
		for _, k := range ks {
			if err := c.ReadArtifacts(served(c, r.lay, k), buf); err != nil {
				return nil, err
			}
		}
		if after, err = host.ProcFields("/proc/meminfo"); err != nil {
			return nil, err
		}
		r.cached = append(r.cached, (after["Cached"]-before["Cached"])/1024)
	}
	return after, nil
}

// create creates k's task and records what Create waited: the shim's
// "artifacts served" line, or for the copy path urunc's copy of the
// artifacts to tmpfs right after (blockfile: mount the rootfs block file
// again, read-only; overlayfs: from the rootfs containerd mounted).
func (r *row) create(ctx context.Context, c *ctrd.Env, work string, k *harness.Task, first bool) error {
	off, err := c.H.D.LogSize()
	if err != nil {
		return err
	}
	if _, err := c.CreateTask(ctx, k); err != nil {
		return err
	}
	waits, steps := &r.others, r.steps
	if first {
		waits, steps = &r.first, r.firstSteps
	}
	if r.lay.copy {
		d, err := copyArtifacts(ctx, c, work, r.sn, k)
		waits.AddMs(d)
		return err
	}
	s, err := harness.WaitServed(ctx, c.H.D, off, k.ID)
	if err != nil {
		return err
	}
	waits.AddMs(s.Waited)
	for step, d := range s.Steps {
		if steps[step] == nil {
			steps[step] = &stats.Runs{}
		}
		steps[step].AddMs(d)
	}
	return nil
}

// copyArtifacts is urunc's copy path for k into its directory under
// ctrd.CopyDir, and how long it took.
func copyArtifacts(ctx context.Context, c *ctrd.Env, work, sn string, k *harness.Task) (time.Duration, error) {
	dst := filepath.Join(ctrd.CopyDir(), k.ID)
	if sn == ctrd.Snapshotter {
		ms, err := c.RootfsMounts(ctx, k) // urunc has them from the spec: untimed
		if err != nil {
			return 0, err
		}
		return ctrd.CopyArtifacts(k, ms, filepath.Join(work, "copy-mnt"), dst)
	}
	start := time.Now()
	err := ctrd.CopyFiles(filepath.Join(c.H.Bundle(k.ID), "rootfs"), dst)
	return time.Since(start), err
}

// served is where k's VMM reads kernel and initrd: its per-container
// path, or its copies.
func served(c *ctrd.Env, l layout, k *harness.Task) string {
	if l.copy {
		return filepath.Join(ctrd.CopyDir(), k.ID)
	}
	return c.H.Path(k.ID)
}
