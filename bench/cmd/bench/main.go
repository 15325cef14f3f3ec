package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	var (
		runs   = flag.Int("runs", 5, "repetitions per measurement; median and min–max are reported")
		sizes  = flag.String("sizes", "1,16,64,256", "contiguous kernel sizes in MiB, comma-separated")
		frag   = flag.Int("frag", 256, "size in MiB of the fragmented kernel (throughput); 0 skips it")
		pieces = flag.Int("pieces", 256, "extents the fragmented kernel is spread over, about")
		only   = flag.String("only", "all", "sections to run, comma-separated: "+sectionNames())
		out    = flag.String("out", "bench", "directory for results.md and results.png")
		work   = flag.String("work", "", "directory for images and mountpoints (default: a new temp dir, removed at the end)")
	)
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "Usage: bench [flags] (as root)\n\nSections:\n")
		for _, s := range sections {
			fmt.Fprintf(os.Stderr, "  %-10s %s\n", s.name, s.what)
		}
		fmt.Fprintf(os.Stderr, "\nFlags:\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if err := runBench(*runs, *sizes, *frag, *pieces, *only, *out, *work); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func runBench(runs int, sizeList string, frag, pieces int, only, out, work string) error {
	if os.Geteuid() != 0 {
		return errors.New("needs root: containerd, loop devices, FUSE mounts and drop_caches")
	}
	if runs < 1 {
		return errors.New("-runs must be at least 1")
	}
	picked, err := pickSections(only)
	if err != nil {
		return err
	}
	var sizes []int
	for _, f := range strings.Split(sizeList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return fmt.Errorf("-sizes: bad size %q", f)
		}
		sizes = append(sizes, n)
	}
	if work == "" {
		dir, err := os.MkdirTemp("", "artifactfs-bench.")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		work = dir
	}
	// On Ctrl-C, unmount what is mounted before leaving.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	started := time.Now()
	var results []*sectionResult
	for i, s := range picked {
		progress("[%d/%d] %s: %s", i+1, len(picked), s.name, s.what)
		e := &env{runs: runs, sizes: sizes, frag: frag, pieces: pieces, work: filepath.Join(work, s.name)}
		if err := os.MkdirAll(e.work, 0o755); err != nil {
			return err
		}
		res, err := s.run(ctx, e)
		if rerr := os.RemoveAll(e.work); rerr != nil && err == nil {
			err = fmt.Errorf("remove %s: %w", e.work, rerr)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		progress("[%d/%d] %s done after %s", i+1, len(picked), s.name, time.Since(started).Round(time.Second))
		results = append(results, res)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	md := filepath.Join(out, "results.md")
	if err := os.WriteFile(md, []byte(report(picked, results, runs, started, work)), 0o644); err != nil {
		return err
	}
	progress("wrote %s", md)
	png := filepath.Join(out, "results.png")
	if err := chart(png, results); err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	progress("wrote %s", png)
	return nil
}
