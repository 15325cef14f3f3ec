package setup

import (
	"context"
	"fmt"
	"time"

	"github.com/artifactfs/artifactfs/bench/internal/ctrd"
	"github.com/artifactfs/artifactfs/bench/internal/host"
	"github.com/artifactfs/artifactfs/bench/internal/stats"
	"github.com/artifactfs/artifactfs/tests/harness"
)

// containers creates scaleN gated containers and, runs times (warm),
// creates and deletes the task of one of them, then of all of them at
// once. It returns the containers (for the caller to remove) and a row per
// count.
func containers(ctx context.Context, c *ctrd.Env, runs int) ([]*harness.Task, []*scaleRow, error) {
	host.Progress("%d MiB: creating %d containers (their rootfs snapshots copy block files; untimed)", c.KernelMiB, scaleN)
	var ks []*harness.Task
	for i := range scaleN {
		k, err := c.NewContainer(ctx, fmt.Sprintf("scale-%02d", i), ctrd.Gated)
		if err != nil {
			return ks, nil, err
		}
		ks = append(ks, k)
	}
	rows := []*scaleRow{{n: 1}, {n: scaleN}}
	for run := 1; run <= runs; run++ {
		for _, r := range rows {
			if err := scaleRound(ctx, c, ks[:r.n], r); err != nil {
				return ks, nil, fmt.Errorf("run %d, %d container(s): %w", run, r.n, err)
			}
			host.Progress("%d container(s) at once, run %d/%d: Create %s ms per container (wall ÷ n), Delete %s ms",
				r.n, run, runs, stats.Ms(r.createWall.Last()), stats.Ms(r.delWall.Last()))
		}
	}
	return ks, rows, nil
}

// scaleRound creates the tasks of ks all at once, checks that the shim
// served each, then deletes them all at once.
func scaleRound(ctx context.Context, c *ctrd.Env, ks []*harness.Task, r *scaleRow) error {
	off, err := c.H.D.LogSize()
	if err != nil {
		return err
	}
	wall, each, err := ctrd.Parallel(ctx, ks, func(k *harness.Task) (time.Duration, error) { return c.CreateTask(ctx, k) })
	if err != nil {
		return err
	}
	r.createWall.AddMs(wall / time.Duration(len(ks)))
	for _, d := range each {
		r.create.AddMs(d)
	}
	for _, k := range ks {
		s, err := harness.WaitServed(ctx, c.H.D, off, k.ID)
		if err != nil {
			return err
		}
		r.took.AddMs(s.Took)
	}
	wall, each, err = ctrd.Parallel(ctx, ks, func(k *harness.Task) (time.Duration, error) { return c.DeleteTask(ctx, k) })
	if err != nil {
		return err
	}
	r.delWall.AddMs(wall / time.Duration(len(ks)))
	for _, d := range each {
		r.del.AddMs(d)
	}
	return nil
}
