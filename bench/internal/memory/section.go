package memory

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/artifactfs/artifactfs/bench/internal/host"
	"github.com/artifactfs/artifactfs/bench/internal/images"
	"github.com/artifactfs/artifactfs/bench/internal/memserver"
	"github.com/artifactfs/artifactfs/bench/internal/mounts"
	"github.com/artifactfs/artifactfs/bench/internal/section"
	"github.com/artifactfs/artifactfs/bench/internal/stats"
)

// counts are the numbers of mounts one server holds; 0 is the reference,
// the bare server process.
var counts = []int{0, 1, 10, 100}

// countRow is the memory of a server holding some number of mounts.
type countRow struct {
	src              mounts.Source
	mounts           int
	mode             string
	rss, anon, pss   stats.Runs // MiB
	extraRSS, extraA stats.Runs // KiB per extra mount, (X(mounts) − X(1)) / (mounts − 1)
}

// readRow is a 1-mount server before and after one cold read of the whole
// kernel.
type readRow struct {
	src                 mounts.Source
	sizeMiB             int
	mode                string
	before, after, peak stats.Runs // VmRSS before, VmRSS after, VmHWM during the read; MiB
	held, peakGrowth    stats.Runs // after − before, VmHWM − before; MiB
	retained            stats.Runs // VmRSS once the server freed its garbage − before; MiB
	allocPerMiB         stats.Runs // KiB the server allocated per MiB read
	allocsPerMiB        stats.Runs // heap objects the server allocated per MiB read
	threadsBefore       stats.Runs // the server's threads before the read
	threadsAfter        stats.Runs // and after
}

// Run measures the resident memory of a separate server process holding
// 0, 1, 10 and 100 mounts, and of a 1-mount server reading the whole
// kernel, per kernel size.
func Run(ctx context.Context, e *section.Env) (_ *section.Result, err error) {
	host.Progress("building %s", serverPackage)
	bin, err := buildServer(ctx, e.Bench, e.Work)
	if err != nil {
		return nil, err
	}
	sizes := e.Kernels()
	imgs := map[int]string{}
	trees := map[int]string{}
	var unmounts []func() error // the read-only trees
	defer func() {
		for _, u := range unmounts {
			err = errors.Join(err, u())
		}
	}()
	var mkfsCmd string
	for _, n := range sizes {
		host.Progress("making image and directory with a %d MiB kernel", n)
		img, err := images.Contiguous(e.Work, n)
		if err != nil {
			return nil, fmt.Errorf("image %d MiB: %w", n, err)
		}
		imgs[n], mkfsCmd = img.Path, img.MkfsCmd
		var unmount func() error
		if trees[n], unmount, err = images.Tree(e.Work, n); err != nil {
			return nil, err
		}
		unmounts = append(unmounts, unmount)
	}
	small := sizes[0]

	var cs []*countRow
	var rs []*readRow
	for _, src := range mounts.Sources {
		for _, n := range counts {
			cs = append(cs, &countRow{src: src, mounts: n})
		}
		for _, n := range sizes {
			rs = append(rs, &readRow{src: src, sizeMiB: n})
		}
	}
	mnts := filepath.Join(e.Work, "mnt")
	// Runs are interleaved across rows so that drift spreads over all.
	for run := 1; run <= e.Runs; run++ {
		one := map[string]sample{}
		for _, r := range cs {
			cfg := memserver.Config{Source: r.src.Kind, Path: r.src.Path(imgs[small], trees[small]),
				Mounts: r.mounts, Dir: mnts, Passthrough: r.src.Passthrough}
			s, mode, err := count(ctx, bin, cfg)
			if err != nil {
				return nil, fmt.Errorf("%s, %d mounts: %w", r.src.Name, r.mounts, err)
			}
			r.add(s, mode, one)
			host.Progress("memory, run %d/%d, %-40s %3d mounts: VmRSS %6.1f MiB, RssAnon %6.1f MiB, Pss %6.1f MiB",
				run, e.Runs, r.src.Name, r.mounts, s.rss/1024, s.anon/1024, s.pss/1024)
		}
		for _, r := range rs {
			cfg := memserver.Config{Source: r.src.Kind, Path: r.src.Path(imgs[r.sizeMiB], trees[r.sizeMiB]),
				Mounts: 1, Dir: mnts, Passthrough: r.src.Passthrough}
			m, err := read(ctx, bin, cfg, int64(r.sizeMiB)<<20)
			if err != nil {
				return nil, fmt.Errorf("%s, reading a %d MiB kernel: %w", r.src.Name, r.sizeMiB, err)
			}
			r.add(m)
			host.Progress("memory, run %d/%d, %-40s read %3d MiB kernel: VmRSS %6.1f → %6.1f MiB, peak %6.1f MiB, freed %6.1f MiB",
				run, e.Runs, r.src.Name, r.sizeMiB, m.before.rss/1024, m.after.rss/1024, m.after.hwm/1024, m.freed.rss/1024)
		}
	}
	md, err := markdown(cs, rs, sizes, mkfsCmd, e.Runs)
	if err != nil {
		return nil, err
	}
	return &section.Result{Markdown: md, Panels: panels(cs, rs)}, nil
}

// add records one run's sample s of a server in mode; one holds, per
// source, the sample at 1 mount of this run (to compute the cost of an
// extra mount), and gets it when r is that row.
func (r *countRow) add(s sample, mode string, one map[string]sample) {
	r.mode = mode
	r.rss = append(r.rss, s.rss/1024)
	r.anon = append(r.anon, s.anon/1024)
	r.pss = append(r.pss, s.pss/1024)
	if r.mounts == 1 {
		one[r.src.Name] = s
	} else if o, ok := one[r.src.Name]; ok && r.mounts > 1 {
		r.extraRSS = append(r.extraRSS, (s.rss-o.rss)/float64(r.mounts-1))
		r.extraA = append(r.extraA, (s.anon-o.anon)/float64(r.mounts-1))
	}
}

// add records one run's reading m.
func (r *readRow) add(m *reading) {
	mib := float64(r.sizeMiB)
	r.mode = m.mode
	r.before = append(r.before, m.before.rss/1024)
	r.after = append(r.after, m.after.rss/1024)
	r.peak = append(r.peak, m.after.hwm/1024)
	r.held = append(r.held, (m.after.rss-m.before.rss)/1024)
	r.peakGrowth = append(r.peakGrowth, (m.after.hwm-m.before.rss)/1024)
	r.retained = append(r.retained, (m.freed.rss-m.before.rss)/1024)
	r.allocPerMiB = append(r.allocPerMiB, float64(m.alloc)/1024/mib)
	r.allocsPerMiB = append(r.allocsPerMiB, float64(m.allocs)/mib)
	r.threadsBefore = append(r.threadsBefore, m.before.threads)
	r.threadsAfter = append(r.threadsAfter, m.after.threads)
}
