package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"time"

	"golang.org/x/sys/unix"
)

// stats is the throughput of N runs, in MB/s (10^6 bytes per second).
type stats struct {
	runs []float64
}

func (s *stats) add(bytes int64, d time.Duration) {
	s.runs = append(s.runs, float64(bytes)/d.Seconds()/1e6)
}

// median, min and max of the runs.
func (s stats) median() float64 {
	if len(s.runs) == 0 {
		return 0
	}
	r := slices.Sorted(slices.Values(s.runs))
	if n := len(r); n%2 == 1 {
		return r[n/2]
	} else {
		return (r[n/2-1] + r[n/2]) / 2
	}
}
func (s stats) min() float64 { return slices.Min(s.runs) }
func (s stats) max() float64 { return slices.Max(s.runs) }

// result is one row: one source reading one image's kernel.
type result struct {
	image, source, cmd, note string
	cold, warm               stats
}

// warmBytes is how much one warm sample reads, in repeated whole reads.
const warmBytes = 256 << 20

// dropCaches writes back dirty pages and drops the page cache, dentries
// and inodes, as `sync; echo 3 > /proc/sys/vm/drop_caches` does.
func dropCaches() error {
	unix.Sync()
	return os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0)
}

// measure reads the kernel through every reader of s, runs times, cold
// (caches dropped first) and then warm. Runs are interleaved across readers
// so that drift on a shared machine spreads over all of them.
func measure(ctx context.Context, img *benchImage, s *setup, runs int) ([]*result, error) {
	res := make([]*result, len(s.readers))
	for i, r := range s.readers {
		res[i] = &result{image: img.name, source: r.name, cmd: r.cmd, note: r.note}
	}
	buf := make([]byte, 1<<20)
	for run := 1; run <= runs; run++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for i, r := range s.readers {
			if err := dropCaches(); err != nil {
				return nil, fmt.Errorf("drop caches: %w", err)
			}
			d, err := r.readOnce(buf, img.kernelSize)
			if err != nil {
				return nil, fmt.Errorf("%s, cold: %w", r.name, err)
			}
			res[i].cold.add(img.kernelSize, d)
			// A warm sample repeats the read until about warmBytes went by,
			// so that small kernels are not timed at timer resolution.
			reps := max(1, warmBytes/img.kernelSize)
			var total time.Duration
			for range reps {
				d, err = r.readOnce(buf, img.kernelSize)
				if err != nil {
					return nil, fmt.Errorf("%s, warm: %w", r.name, err)
				}
				total += d
			}
			res[i].warm.add(reps*img.kernelSize, total)
			progress("%s, run %d/%d, %-52s cold %7.0f MB/s  warm %7.0f MB/s", img.name, run, runs, r.name,
				res[i].cold.runs[run-1], res[i].warm.runs[run-1])
		}
	}
	return res, nil
}

// progress prints one progress line on stderr.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+format+"\n", args...)
}
