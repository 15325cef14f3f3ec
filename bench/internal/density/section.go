package density

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/artifactfs/artifactfs/bench/internal/chart"
	"github.com/artifactfs/artifactfs/bench/internal/ctrd"
	"github.com/artifactfs/artifactfs/bench/internal/host"
	"github.com/artifactfs/artifactfs/bench/internal/section"
	"github.com/artifactfs/artifactfs/bench/internal/stats"
	"github.com/artifactfs/artifactfs/shimglue"
)

// kernelMiB is the kernel of the section's image; its initrd is
// ctrd.InitrdMiB.
const kernelMiB = 16

// counts are the numbers of containers of the image measured.
var counts = []int{1, 10, 50}

// snapshotters are measured in this order.
var snapshotters = []string{"blockfile", "overlayfs"}

// layout is how the containers of one image get their artifacts.
type layout struct {
	Key, Name string
	copy      bool // urunc's copy path: containers without the view, copies on tmpfs
}

// The layouts, in report order.
var (
	shared   = layout{Key: "shared", Name: "shared view (default)"}
	own      = layout{Key: "own", Name: "per-container views"}
	copyPath = layout{Key: "copy", Name: "copy path (urunc)", copy: true}
	layouts  = []layout{shared, own, copyPath}
)

// daemon is one private containerd of the section and the layouts measured
// on it: the per-container views need the shim's environment changed.
type daemon struct {
	name    string
	env     []string
	layouts []layout
}

var daemons = []daemon{
	{name: "-shared", layouts: []layout{shared, copyPath}},
	{name: "-own", env: []string{shimglue.PerContainerViewsEnv + "=1"}, layouts: []layout{own}},
}

// Run measures every layout, snapshotter and count, one daemon after the
// other.
func Run(ctx context.Context, e *section.Env) (*section.Result, error) {
	t, err := ctrd.BuildTools(e.Repo)
	if err != nil {
		return nil, err
	}
	var rows []*row
	var floors []*floorRow
	for _, d := range daemons {
		more, fl, err := onDaemon(ctx, t, e.Work, d)
		rows, floors = append(rows, more...), append(floors, fl...)
		if err != nil {
			return nil, err
		}
	}
	slices.SortStableFunc(rows, func(a, b *row) int {
		if c := slices.Index(snapshotters, a.sn) - slices.Index(snapshotters, b.sn); c != 0 {
			return c
		}
		if c := slices.Index(layouts, a.lay) - slices.Index(layouts, b.lay); c != 0 {
			return c
		}
		return a.n - b.n
	})
	md, err := markdown(rows, floors)
	if err != nil {
		return nil, err
	}
	return &section.Result{Markdown: md, Panels: []chart.Panel{panel(rows)}}, nil
}

// onDaemon starts daemon d with the image in both snapshotters and, per
// snapshotter, runs an untimed warm-up container, measures containerd's
// floor where views are shared, then each of d's layouts at each count.
func onDaemon(ctx context.Context, t *ctrd.Tools, work string, d daemon) (rows []*row, floors []*floorRow, err error) {
	c, err := ctrd.StartWith(ctx, t, work, kernelMiB, ctrd.Options{Name: d.name, Env: d.env, Snapshotters: snapshotters})
	if err != nil {
		return nil, nil, err
	}
	defer func() { err = errors.Join(err, c.Close()) }()
	for _, sn := range snapshotters {
		host.Progress("density%s, %s: warm-up container (untimed)", d.name, sn)
		if _, err := measure(ctx, c, work, sn, d.layouts[0], 1); err != nil {
			return rows, floors, fmt.Errorf("%s, warm-up: %w", sn, err)
		}
		if slices.Contains(d.layouts, shared) {
			f, err := floor(ctx, c, sn)
			if err != nil {
				return rows, floors, fmt.Errorf("%s, floor: %w", sn, err)
			}
			floors = append(floors, f)
			host.Progress("density, %s: view.PrepareShared from the bench's client %s ms, lease create %s ms",
				sn, stats.MsCell(f.prepare), stats.MsCell(f.lease))
		}
		for _, l := range d.layouts {
			for _, n := range counts {
				start := time.Now()
				r, err := measure(ctx, c, work, sn, l, n)
				if err != nil {
					return rows, floors, fmt.Errorf("%s, %s, %d containers: %w", sn, l.Name, n, err)
				}
				rows = append(rows, r)
				host.Progress("density, %s, %s, N=%d (%s): ΔCached %s MiB, resident %.1f + %.1f MiB, ΔShmem %.1f MiB, view loops %d, mounts %d+%d, shims %.0f MiB, Create waited %s / %s ms, left %d",
					sn, l.Key, n, time.Since(start).Round(time.Second), r.cached.Format("%.1f"), r.resident, r.residentBlock, r.shmem, r.viewLoops,
					r.viewMounts, r.fuseMounts, r.rss, stats.Ms(r.first.Median()), stats.Ms(r.others.Median()), len(r.left))
			}
		}
	}
	return rows, floors, nil
}
