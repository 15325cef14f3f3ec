package memory

import (
	_ "embed"
	"fmt"
	"strings"
	"time"

	"github.com/artifactfs/artifactfs/bench/internal/artifacttree"
	"github.com/artifactfs/artifactfs/bench/internal/memserver"
	"github.com/artifactfs/artifactfs/bench/internal/mounts"
	"github.com/artifactfs/artifactfs/bench/internal/report"
	"github.com/artifactfs/artifactfs/bench/internal/stats"
)

//go:embed memory.md.tmpl
var tmplText string

var tmpl = report.Template("memory.md.tmpl", tmplText)

// view is what the template shows.
type view struct {
	KernelPath, Mkfs   string
	Settle             time.Duration
	Runs               int
	SmallMiB, LargeMiB int
	Counts             []countCells
	Extra              []extraCells
	Reads              []readCells
	Targets            []targetCells
}

// countCells is a row of the table per number of mounts.
type countCells struct {
	Source                     string
	Mounts                     int
	Mode, RSS, RSSx, Anon, Pss string
	Cmd                        string
}

// extraCells is a row of the cost of one more mount.
type extraCells struct {
	Source    string
	Mounts    int
	RSS, Anon string
}

// readCells is a row of the table of reading the whole kernel.
type readCells struct {
	Source, Mode                     string
	SizeMiB                          int
	Before, PerKernel, Alloc, Allocs float64
	ThreadsBefore, ThreadsAfter      float64
	Held, Peak, Retained, Cmd        string
}

// targetCells is a row of the targets table: one source's verdicts.
type targetCells struct {
	Source, Extra, Retained, Peak string
}

// command is how to run a server by hand, from the bench module.
func command(src mounts.Source, n int) string {
	path := "IMG"
	if src.Kind == mounts.KindDir {
		path = "DIR"
	}
	cfg := memserver.Config{Source: src.Kind, Path: path, Mounts: n, Dir: "MNTS", Passthrough: src.Passthrough}
	return "go run " + serverPackage + " " + strings.Join(cfg.Args(), " ")
}

// markdown renders the section.
func markdown(cs []*countRow, rs []*readRow, sizes []int, mkfsCmd string, runs int) (string, error) {
	small, large := sizes[0], sizes[len(sizes)-1]
	v := view{KernelPath: artifacttree.KernelPath, Mkfs: mkfsCmd, Settle: settle, Runs: runs, SmallMiB: small, LargeMiB: large}
	for _, r := range cs {
		ref := findCount(cs, r.src.Name, 0)
		v.Counts = append(v.Counts, countCells{Source: r.src.Name, Mounts: r.mounts, Mode: r.mode,
			RSS: r.rss.Format("%.1f"), RSSx: stats.Ratio(r.rss, ref.rss), Anon: r.anon.Format("%.1f"),
			Pss: r.pss.Format("%.1f"), Cmd: command(r.src, r.mounts)})
		if r.mounts > 1 {
			v.Extra = append(v.Extra, extraCells{Source: r.src.Name, Mounts: r.mounts,
				RSS: r.extraRSS.Format("%.0f"), Anon: r.extraA.Format("%.0f")})
		}
	}
	for _, r := range rs {
		v.Reads = append(v.Reads, readCells{Source: r.src.Name, Mode: r.mode, SizeMiB: r.sizeMiB,
			Before: r.before.Median(), Held: r.held.Format("%.1f"), Peak: r.peakGrowth.Format("%.1f"),
			PerKernel: r.peakGrowth.Median() / float64(r.sizeMiB), Retained: r.retained.Format("%.1f"),
			Alloc: r.allocPerMiB.Median(), Allocs: r.allocsPerMiB.Median(),
			ThreadsBefore: r.threadsBefore.Median(), ThreadsAfter: r.threadsAfter.Median(), Cmd: command(r.src, 1)})
	}
	for _, src := range mounts.Sources {
		extra := findCount(cs, src.Name, 100).extraRSS.Median()
		lo, hi := findRead(rs, src.Name, small), findRead(rs, src.Name, large)
		growth := func(pick func(*readRow) stats.Runs) (float64, string) {
			d := pick(hi).Median() - pick(lo).Median()
			detail := fmt.Sprintf("%+.1f MiB, %.1f MiB at %d MiB", d, pick(hi).Median(), large)
			if len(sizes) > 2 {
				prev := sizes[len(sizes)-2]
				detail += fmt.Sprintf("; %+.1f MiB over %d MiB", pick(hi).Median()-pick(findRead(rs, src.Name, prev)).Median(), prev)
			}
			return d, detail
		}
		dRetained, retained := growth(func(r *readRow) stats.Runs { return r.retained })
		dPeak, peak := growth(func(r *readRow) stats.Runs { return r.peakGrowth })
		v.Targets = append(v.Targets, targetCells{Source: src.Name,
			Extra:    report.Verdict(extra <= 1024, fmt.Sprintf("%.0f KiB", extra)),
			Retained: report.Verdict(dRetained <= 1, retained), Peak: report.Verdict(dPeak <= 1, peak)})
	}
	return report.Execute(tmpl, v)
}

// findCount returns the row of src with mounts, or an empty one.
func findCount(rows []*countRow, src string, mounts int) *countRow {
	for _, r := range rows {
		if r.src.Name == src && r.mounts == mounts {
			return r
		}
	}
	return &countRow{}
}

// findRead returns the row of src reading a kernel of size MiB, or an
// empty one.
func findRead(rows []*readRow, src string, size int) *readRow {
	for _, r := range rows {
		if r.src.Name == src && r.sizeMiB == size {
			return r
		}
	}
	return &readRow{}
}
