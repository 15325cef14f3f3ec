package scale

import (
	_ "embed"
	"fmt"
	"strconv"

	"github.com/artifactfs/artifactfs/bench/internal/artifacttree"
	"github.com/artifactfs/artifactfs/bench/internal/chart"
	"github.com/artifactfs/artifactfs/bench/internal/mounts"
	"github.com/artifactfs/artifactfs/bench/internal/report"
	"github.com/artifactfs/artifactfs/bench/internal/stats"
	"github.com/artifactfs/artifactfs/fs"
)

//go:embed scale.md.tmpl
var tmplText string

var tmpl = report.Template("scale.md.tmpl", tmplText)

// view is what the template shows.
type view struct {
	KernelPath, FSType, Mkfs string
	Min, Runs, SizeMiB       int
	Rows                     []rowCells
	Targets                  []targetCells
}

// rowCells is a row of the scale table: one source, count and kind of round.
type rowCells struct {
	Source                                                    string
	N                                                         int
	Mode, How, Create, Del, Sum, SumX, Single, SingleX, Conns string
	Cmd                                                       string
}

// targetCells is a row of the targets table: one source's verdicts and ratios.
type targetCells struct {
	Source, Hundred, Ten                       string
	Single100, Single10, Fastest100, Fastest10 float64
}

// find returns the row for a source, count and kind, or an empty one.
func find(rows []*row, src string, n int, parallel bool) *row {
	for _, r := range rows {
		if r.src.Name == src && r.n == n && r.parallel == parallel {
			return r
		}
	}
	return &row{}
}

// command is roughly how to do the same by hand, with the CLI (a server
// process per mount, where the bench and the shim serve every mount from
// one process).
func command(r *row) string {
	amp := ""
	if r.parallel {
		amp = " &"
	}
	return fmt.Sprintf("for i in $(seq %d); do artifactfs mount --background %s MNTS/c$i%s; done; wait; "+
		"for i in $(seq %d); do artifactfs umount MNTS/c$i%s; done; wait", r.n, r.src.Flags, amp, r.n, amp)
}

// markdown renders the section.
func markdown(rows []*row, mkfsCmd string, size, runs int) (string, error) {
	v := view{KernelPath: artifacttree.KernelPath, FSType: fs.FSType, Mkfs: mkfsCmd, Min: minContainers, Runs: runs, SizeMiB: size}
	for _, r := range rows {
		ref := find(rows, r.src.Name, 1, false)
		single, singleX := "–", "–"
		if !r.parallel {
			single, singleX = r.single.Format("%.2f"), stats.Ratio(r.single, ref.single)
		}
		v.Rows = append(v.Rows, rowCells{Source: r.src.Name, N: r.n, Mode: r.mode, How: r.how(),
			Create: r.create.Format("%.2f"), Del: r.del.Format("%.2f"), Sum: r.sum.Format("%.2f"),
			SumX: stats.Ratio(r.sum, ref.sum), Single: single, SingleX: singleX, Conns: r.conns, Cmd: command(r)})
	}
	for _, src := range mounts.Sources {
		one, ten, hundred := find(rows, src.Name, 1, false), find(rows, src.Name, 10, false), find(rows, src.Name, 100, false)
		wall := func(r *row) float64 { return r.sum.Median() / one.sum.Median() }
		single := func(r *row) float64 { return r.single.Median() / one.single.Median() }
		fastest := func(r *row) float64 { return r.sum.Min() / one.sum.Min() }
		v.Targets = append(v.Targets, targetCells{Source: src.Name,
			Hundred:   report.Verdict(wall(hundred) <= 1.5, fmt.Sprintf("×%.2f", wall(hundred))),
			Ten:       report.Verdict(wall(ten) <= 1.5, fmt.Sprintf("×%.2f", wall(ten))),
			Single100: single(hundred), Single10: single(ten), Fastest100: fastest(hundred), Fastest10: fastest(ten)})
	}
	return report.Execute(tmpl, v)
}

// panel draws the time per container against the number of containers,
// per source: create + delete of all over their number, sequential and
// parallel, and the median single container (sequential).
func panel(rows []*row) chart.Panel {
	p := &chart.Lines{Title: "artifactfs: create + delete time per container mount, in process, median",
		XLabel: "containers", YLabel: "ms per container"}
	for _, n := range counts {
		p.X = append(p.X, strconv.Itoa(n))
	}
	for _, src := range mounts.Sources {
		seq := chart.Line{Name: src.Name + ", sequential, all over N"}
		par := chart.Line{Name: src.Name + ", parallel, all over N"}
		single := chart.Line{Name: src.Name + ", sequential, median single container"}
		for _, n := range counts {
			r := find(rows, src.Name, n, false)
			seq.Y = append(seq.Y, r.sum.Median())
			single.Y = append(single.Y, r.single.Median())
			if n > 1 { // one container is one container
				r = find(rows, src.Name, n, true)
			}
			par.Y = append(par.Y, r.sum.Median())
		}
		p.Series = append(p.Series, seq, par, single)
	}
	return p
}
