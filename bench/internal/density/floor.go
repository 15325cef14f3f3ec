package density

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/containerd/containerd/v2/core/leases"

	"github.com/artifactfs/artifactfs/bench/internal/ctrd"
	"github.com/artifactfs/artifactfs/bench/internal/stats"
	"github.com/artifactfs/artifactfs/tests/harness"
	"github.com/artifactfs/artifactfs/view"
)

// floorRuns is how often floor takes the shared view.
const floorRuns = 20

// floorRow is what containerd's calls cost the bench's own, connected
// client on one snapshotter, in ms: view.PrepareShared of an image whose
// shared view exists (the containerd calls of the shim's "prepare" step
// after the first container, without a fresh process), and one lease
// create (a write transaction of containerd's metadata store) alone.
type floorRow struct {
	sn             string
	prepare, lease stats.Runs
}

// floor measures floorRow on sn: a running container holds the shared
// view, a second container (no task) takes it floorRuns times, each
// released again (view.Release); both are removed at the end.
func floor(ctx context.Context, c *ctrd.Env, sn string) (f *floorRow, err error) {
	f = &floorRow{sn: sn}
	var ks []*harness.Task
	defer func() { err = errors.Join(err, c.RemoveContainers(ctx, ks)) }()
	for _, id := range []string{"floor-holder-" + sn, "floor-probe-" + sn} {
		k, err := c.NewContainerOn(ctx, id, sn, ctrd.Gated)
		if err != nil {
			return nil, err
		}
		ks = append(ks, k)
	}
	if _, err := c.CreateTask(ctx, ks[0]); err != nil {
		return nil, err
	}
	cl, ns, pctx := c.H.D.Client(), c.H.Namespace, c.H.D.Context(ctx)
	for range floorRuns {
		start := time.Now()
		v, err := view.PrepareShared(pctx, cl, ns, ks[1].ID)
		d := time.Since(start)
		if err != nil {
			return nil, err
		}
		if err := view.Release(pctx, cl, ns, sn, ks[1].ID); err != nil {
			return nil, err
		}
		if !view.IsShared(v.Key) {
			return nil, fmt.Errorf("floor: view %s is not shared", v.Key)
		}
		f.prepare.AddMs(d)
		start = time.Now()
		l, err := cl.LeasesService().Create(pctx, leases.WithRandomID())
		f.lease.AddMs(time.Since(start))
		if err != nil {
			return nil, err
		}
		if err := cl.LeasesService().Delete(pctx, l); err != nil {
			return nil, err
		}
	}
	return f, nil
}
