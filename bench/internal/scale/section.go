package scale

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/artifactfs/artifactfs/bench/internal/chart"
	"github.com/artifactfs/artifactfs/bench/internal/host"
	"github.com/artifactfs/artifactfs/bench/internal/images"
	"github.com/artifactfs/artifactfs/bench/internal/mounts"
	"github.com/artifactfs/artifactfs/bench/internal/section"
	"github.com/artifactfs/artifactfs/bench/internal/stats"
)

// counts are the numbers of containers created and deleted at once.
var counts = []int{1, 10, 100}

// minContainers is how many containers one sample covers at least: rounds
// of fewer are repeated.
const minContainers = 10

// row is one source, one number of containers, sequential or in parallel:
// the time per container to create and to delete, over runs.
type row struct {
	src              mounts.Source
	n                int
	parallel         bool
	mode             string
	create, del, sum stats.Runs // wall-clock ms per container
	single           stats.Runs // sequential: median ms of one container's create + delete
	conns            string     // FUSE connections before → after the last round
}

// how names the row's kind of round.
func (r *row) how() string {
	if r.parallel {
		return "parallel"
	}
	return "sequential"
}

// Run creates and deletes 1, 10 and 100 per-container mounts in this
// process, sequentially and in parallel, per source.
func Run(ctx context.Context, e *section.Env) (_ *section.Result, err error) {
	size := slices.Min(e.Sizes)
	host.Progress("making image and directory with a %d MiB kernel", size)
	img, err := images.Contiguous(e.Work, size)
	if err != nil {
		return nil, fmt.Errorf("image %d MiB: %w", size, err)
	}
	tree, unmountTree, err := images.Tree(e.Work, size)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, unmountTree()) }()
	lc, err := newLeakCheck(e.Work)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, lc.close()) }()

	var rows []*row
	for _, src := range mounts.Sources {
		for _, n := range counts {
			for _, par := range []bool{false, true} {
				if n > 1 || !par {
					rows = append(rows, &row{src: src, n: n, parallel: par})
				}
			}
		}
	}
	mnts := filepath.Join(e.Work, "mnt")
	// A first, untimed round per source pays for one-time setup (the
	// runtime's poller, first opens of the image) and sets the baseline
	// of open descriptors.
	for _, src := range mounts.Sources {
		if _, err := round(ctx, src, src.Path(img.Path, tree), mnts, img.KernelSize, 1, false, lc); err != nil {
			return nil, fmt.Errorf("%s, warm-up: %w", src.Name, err)
		}
	}
	lc.fds = countFds()
	for run := 1; run <= e.Runs; run++ {
		for _, r := range rows {
			if err := r.sample(ctx, img, tree, mnts, lc); err != nil {
				return nil, err
			}
			host.Progress("scale, run %d/%d, %-40s %3d containers, %-10s create %6.2f ms, delete %6.2f ms per container",
				run, e.Runs, r.src.Name, r.n, r.how(), r.create.Last(), r.del.Last())
		}
	}
	md, err := markdown(rows, img.MkfsCmd, size, e.Runs)
	if err != nil {
		return nil, err
	}
	return &section.Result{Markdown: md, Panels: []chart.Panel{panel(rows)}}, nil
}

// sample adds one run to r: rounds of r.n containers, repeated until
// minContainers went by, so that one sample is not one mount's timer
// noise.
func (r *row) sample(ctx context.Context, img *images.Image, tree, mnts string, lc *leakCheck) error {
	reps := max(1, minContainers/r.n)
	var create, del time.Duration
	var single stats.Runs
	for range reps {
		t, err := round(ctx, r.src, r.src.Path(img.Path, tree), mnts, img.KernelSize, r.n, r.parallel, lc)
		if err != nil {
			return fmt.Errorf("%s, %d containers, %s: %w", r.src.Name, r.n, r.how(), err)
		}
		create, del = create+t.create, del+t.del
		for _, d := range t.single {
			single = append(single, d.Seconds()*1000)
		}
		r.mode, r.conns = t.mode, lc.last
	}
	per := func(d time.Duration) float64 { return d.Seconds() * 1000 / float64(r.n*reps) }
	r.create = append(r.create, per(create))
	r.del = append(r.del, per(del))
	r.sum = append(r.sum, per(create+del))
	if !r.parallel {
		r.single = append(r.single, single.Median())
	}
	return nil
}
