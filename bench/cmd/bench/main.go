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

	"github.com/artifactfs/artifactfs/bench/internal/chart"
	"github.com/artifactfs/artifactfs/bench/internal/host"
	"github.com/artifactfs/artifactfs/bench/internal/report"
	"github.com/artifactfs/artifactfs/bench/internal/section"
)

// options are the command's flags.
type options struct {
	runs, frag, pieces int
	sizes, only        string
	out, work          string
}

func main() {
	var o options
	flag.IntVar(&o.runs, "runs", 5, "repetitions per measurement; median and min–max are reported")
	flag.StringVar(&o.sizes, "sizes", "1,16,64,256", "contiguous kernel sizes in MiB, comma-separated")
	flag.IntVar(&o.frag, "frag", 256, "size in MiB of the fragmented kernel (throughput); 0 skips it")
	flag.IntVar(&o.pieces, "pieces", 256, "extents the fragmented kernel is spread over, about")
	flag.StringVar(&o.only, "only", "all", "sections to run, comma-separated: "+sectionNames())
	flag.StringVar(&o.out, "out", ".", "directory for results.md and results.png")
	flag.StringVar(&o.work, "work", "", "directory for images and mountpoints (default: a new temp dir, removed at the end)")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "Usage: bench [flags] (as root, in the bench module's directory)\n\nSections:\n")
		for _, s := range sections {
			fmt.Fprintf(os.Stderr, "  %-10s %s\n", s.Name, s.What)
		}
		fmt.Fprintf(os.Stderr, "\nFlags:\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// run runs the picked sections one after the other, each in a work
// directory of its own, and writes results.md and results.png.
func run(o options) error {
	if os.Geteuid() != 0 {
		return errors.New("needs root: containerd, loop devices, FUSE mounts and drop_caches")
	}
	if o.runs < 1 {
		return errors.New("-runs must be at least 1")
	}
	picked, err := pickSections(o.only)
	if err != nil {
		return err
	}
	sizes, err := parseSizes(o.sizes)
	if err != nil {
		return err
	}
	repo, bench, err := checkouts()
	if err != nil {
		return err
	}
	if o.work == "" {
		dir, err := os.MkdirTemp("", "artifactfs-bench.")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		o.work = dir
	}
	// On Ctrl-C, unmount what is mounted before leaving.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	started := time.Now()
	res := &report.Results{Runs: o.runs, Started: started}
	var panels []chart.Panel
	for i, s := range picked {
		host.Progress("[%d/%d] %s: %s", i+1, len(picked), s.Name, s.What)
		e := &section.Env{Runs: o.runs, Sizes: sizes, Frag: o.frag, Pieces: o.pieces,
			Work: filepath.Join(o.work, s.Name), Repo: repo, Bench: bench}
		if err := os.MkdirAll(e.Work, 0o755); err != nil {
			return err
		}
		r, err := s.Run(ctx, e)
		if rerr := os.RemoveAll(e.Work); rerr != nil && err == nil {
			err = fmt.Errorf("remove %s: %w", e.Work, rerr)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", s.Name, err)
		}
		host.Progress("[%d/%d] %s done after %s", i+1, len(picked), s.Name, time.Since(started).Round(time.Second))
		res.Sections = append(res.Sections, report.Entry{Name: s.Name, What: s.What})
		res.Parts = append(res.Parts, r.Markdown)
		panels = append(panels, r.Panels...)
	}
	res.Took = time.Since(started).Round(time.Second)
	res.Machine = report.Machine(o.work)
	return write(o.out, res, panels)
}

// write writes results.md and results.png into out.
func write(out string, res *report.Results, panels []chart.Panel) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	text, err := res.Markdown()
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	md := filepath.Join(out, "results.md")
	if err := os.WriteFile(md, []byte(text), 0o644); err != nil {
		return err
	}
	host.Progress("wrote %s", md)
	png := filepath.Join(out, "results.png")
	if err := chart.Write(png, panels); err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	host.Progress("wrote %s", png)
	return nil
}

// parseSizes parses the -sizes list.
func parseSizes(list string) ([]int, error) {
	var sizes []int
	for _, f := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-sizes: bad size %q", f)
		}
		sizes = append(sizes, n)
	}
	return sizes, nil
}
