package setup

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/artifactfs/artifactfs/bench/internal/ctrd"
	"github.com/artifactfs/artifactfs/bench/internal/stats"
	"github.com/artifactfs/artifactfs/tests/harness"
)

// round measures once at temperature temp: Create of the gated container
// (whole NewTask, and the shim's took and steps from its log), then Create
// of the plain one followed by the copy path on its rootfs. Caches are
// dropped before each Create and before the copy when cold. r nil: a
// warm-up, nothing recorded.
func round(ctx context.Context, c *ctrd.Env, work string, gated, plain *harness.Task, temp ctrd.Cache, r *row) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := temp.Prepare(); err != nil {
		return err
	}
	off, err := c.H.D.LogSize()
	if err != nil {
		return err
	}
	dView, err := c.CreateTask(ctx, gated)
	if err != nil {
		return err
	}
	s, err := harness.WaitServed(ctx, c.H.D, off, gated.ID)
	if err != nil {
		return err
	}
	if _, err := c.DeleteTask(ctx, gated); err != nil {
		return err
	}

	if err := temp.Prepare(); err != nil {
		return err
	}
	dPlain, err := c.CreateTask(ctx, plain)
	if err != nil {
		return err
	}
	ms, err := c.RootfsMounts(ctx, plain)
	if err != nil {
		return err
	}
	if err := temp.Prepare(); err != nil {
		return err
	}
	dst := ctrd.CopyDir()
	dCopy, err := ctrd.CopyArtifacts(plain, ms, filepath.Join(work, "copy-mnt"), dst)
	if rerr := os.RemoveAll(dst); err == nil && rerr != nil {
		err = rerr
	}
	if err != nil {
		return err
	}
	if _, err := c.DeleteTask(ctx, plain); err != nil {
		return err
	}
	if r != nil {
		r.record(temp, s, dView, dPlain, dCopy)
	}
	return nil
}

// record adds one run at temperature temp: what the shim logged (s) and
// the durations of both Creates and of the copy path.
func (r *row) record(temp ctrd.Cache, s *harness.Served, dView, dPlain, dCopy time.Duration) {
	r.mode = s.Mode
	r.createView[temp].AddMs(dView)
	r.createPlain[temp].AddMs(dPlain)
	r.copyPath[temp].AddMs(dCopy)
	r.took[temp].AddMs(s.Took)
	r.waited[temp].AddMs(s.Waited)
	var sum time.Duration
	for step, d := range s.Steps {
		if r.steps[temp][step] == nil {
			r.steps[temp][step] = &stats.Runs{}
		}
		r.steps[temp][step].AddMs(d)
		sum += d
	}
	r.outside[temp].AddMs(s.Took - sum)
}
