package throughput

import (
	"context"
	"fmt"
	"time"

	"github.com/artifactfs/artifactfs/bench/internal/host"
	"github.com/artifactfs/artifactfs/bench/internal/images"
	"github.com/artifactfs/artifactfs/bench/internal/stats"
)

// warmBytes is how much one warm sample reads, in repeated whole reads.
const warmBytes = 256 << 20

// row is one source reading one image's kernel: MB/s over runs.
type row struct {
	image, source, cmd, note string
	cold, warm               stats.Runs
}

// measure reads the kernel through every reader of s, runs times, cold
// (caches dropped first) and then warm. Runs are interleaved across readers
// so that drift on a shared machine spreads over all of them.
func measure(ctx context.Context, img *images.Image, s *setup, runs int) ([]*row, error) {
	res := make([]*row, len(s.readers))
	for i, r := range s.readers {
		res[i] = &row{image: img.Name, source: r.name, cmd: r.cmd, note: r.note}
	}
	buf := make([]byte, 1<<20)
	for run := 1; run <= runs; run++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for i, r := range s.readers {
			if err := host.DropCaches(); err != nil {
				return nil, err
			}
			d, err := r.readOnce(buf, img.KernelSize)
			if err != nil {
				return nil, fmt.Errorf("%s, cold: %w", r.name, err)
			}
			res[i].cold.AddMBps(img.KernelSize, d)
			// A warm sample repeats the read until about warmBytes went by,
			// so that small kernels are not timed at timer resolution.
			reps := max(1, warmBytes/img.KernelSize)
			var total time.Duration
			for range reps {
				d, err = r.readOnce(buf, img.KernelSize)
				if err != nil {
					return nil, fmt.Errorf("%s, warm: %w", r.name, err)
				}
				total += d
			}
			res[i].warm.AddMBps(reps*img.KernelSize, total)
			host.Progress("%s, run %d/%d, %-52s cold %7.0f MB/s  warm %7.0f MB/s", img.Name, run, runs, r.name,
				res[i].cold.Last(), res[i].warm.Last())
		}
	}
	return res, nil
}

// find returns the row of source for image, or an empty one.
func find(rows []*row, image, source string) *row {
	for _, r := range rows {
		if r.image == image && r.source == source {
			return r
		}
	}
	return &row{}
}
