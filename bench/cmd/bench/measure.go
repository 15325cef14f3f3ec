package main

import (
	"context"
	"fmt"
	"io"
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
func (s stats) median() float64 { return overRuns(s.runs).median() }
func (s stats) min() float64    { return overRuns(s.runs).min() }
func (s stats) max() float64    { return overRuns(s.runs).max() }

// overRuns is one figure over runs: median, min and max (0 without runs).
type overRuns []float64

func (s overRuns) median() float64 {
	if len(s) == 0 {
		return 0
	}
	r := slices.Sorted(slices.Values(s))
	if n := len(r); n%2 == 1 {
		return r[n/2]
	} else {
		return (r[n/2-1] + r[n/2]) / 2
	}
}

func (s overRuns) min() float64 {
	if len(s) == 0 {
		return 0
	}
	return slices.Min(s)
}

func (s overRuns) max() float64 {
	if len(s) == 0 {
		return 0
	}
	return slices.Max(s)
}

// format prints the median and min–max with the given verb, e.g. "%.1f".
func (s overRuns) format(verb string) string {
	return fmt.Sprintf(verb+" ("+verb+"–"+verb+")", s.median(), s.min(), s.max())
}

// medianRatio is the ratio of two medians, or "–".
func medianRatio(s, ref overRuns) string {
	if ref.median() == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", s.median()/ref.median())
}

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
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0); err != nil {
		return fmt.Errorf("drop caches: %w", err)
	}
	return nil
}

// readWhole reads file p sequentially with buf-sized reads, as a VMM loads
// a kernel, and returns the bytes read.
func readWhole(p string, buf []byte) (int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var n int64
	for {
		k, err := f.Read(buf)
		n += int64(k)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("read %s: %w", p, err)
		}
	}
}

// readSize reads the file at p whole and checks that it holds want bytes.
func readSize(p string, want int64) error {
	n, err := readWhole(p, make([]byte, 1<<20))
	if err != nil {
		return err
	}
	if n != want {
		return fmt.Errorf("read %s: got %d bytes, want %d", p, n, want)
	}
	return nil
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
