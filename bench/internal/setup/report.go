package setup

import (
	_ "embed"
	"fmt"
	"sort"
	"strings"

	"github.com/artifactfs/artifactfs/bench/internal/ctrd"
	"github.com/artifactfs/artifactfs/bench/internal/report"
	"github.com/artifactfs/artifactfs/bench/internal/stats"
	"github.com/artifactfs/artifactfs/internal/ctrtest"
	"github.com/artifactfs/artifactfs/shimglue"
)

//go:embed setup.md.tmpl
var tmplText string

var tmpl = report.Template("setup.md.tmpl", tmplText)

// view is what the template shows.
type view struct {
	Containerd, Runtime, Mode  string
	ScratchExtraMiB, InitrdMiB int
	Runs                       int
	Rows                       []ttaCells
	Targets                    []targetCells
	Limits                     string
	Steps                      []string
	StepRows                   []stepCells
	Creates                    []createCells
	Scale                      *scaleView
}

// ttaCells is a row of the time-to-artifacts table: one kernel size at one temperature.
type ttaCells struct {
	MiB                                                   int
	Cache, Took, Waited, Copy, CopyOverTook, CopyOverWait string
}

// targetCells is a row of the targets table: one temperature, one measure.
type targetCells struct{ Cache, Measured, Max, Flat, At64 string }

// stepCells is a row of the steps table: the median of each of the shim's steps.
type stepCells struct {
	MiB           int
	Cache         string
	Cells         []string
	Outside, Took string
}

// createCells is a row of the whole-Create table.
type createCells struct {
	MiB                         int
	Cache, With, Without, Added string
}

// scaleView is the subsection on many containers through containerd.
type scaleView struct {
	N, MiB                       int
	Rows                         []scaleCells
	CreateVerdict, DeleteVerdict string
}

// scaleCells is a row of its table: one number of containers at once.
type scaleCells struct {
	N                                      int
	Create, CreateWall, Took, Del, DelWall string
}

// markdown renders the section; scale holds the rows at 1 and at scaleN
// containers, measured on the daemon of scaleMiB.
func markdown(rows []*row, scale []*scaleRow, scaleMiB, runs int) (string, error) {
	v := view{Containerd: ctrtest.ContainerdVersion, Runtime: ctrd.Runtime, Mode: "?",
		ScratchExtraMiB: ctrd.ScratchExtraMiB, InitrdMiB: ctrd.InitrdMiB, Runs: runs,
		Limits: limits(rows), Steps: stepNames(rows)}
	if len(rows) > 0 {
		v.Mode = rows[0].mode
	}
	for _, r := range rows {
		for _, t := range ctrd.Caches {
			v.Rows = append(v.Rows, ttaCells{MiB: r.mib, Cache: t.String(), Took: stats.MsCell(r.took[t]),
				Waited: stats.MsCell(r.waited[t]), Copy: stats.MsCell(r.copyPath[t]),
				CopyOverTook: stats.Times(r.copyPath[t], r.took[t]), CopyOverWait: stats.Times(r.copyPath[t], r.waited[t])})
			sc := stepCells{MiB: r.mib, Cache: t.String(), Outside: stats.Ms(r.outside[t].Median()), Took: stats.Ms(r.took[t].Median())}
			for _, s := range v.Steps {
				if st := r.steps[t][s]; st != nil {
					sc.Cells = append(sc.Cells, stats.Ms(st.Median()))
				} else {
					sc.Cells = append(sc.Cells, "–")
				}
			}
			v.StepRows = append(v.StepRows, sc)
			v.Creates = append(v.Creates, createCells{MiB: r.mib, Cache: t.String(),
				With: stats.MsCell(r.createView[t]), Without: stats.MsCell(r.createPlain[t]),
				Added: stats.Ms(r.createView[t].Median() - r.createPlain[t].Median())})
		}
	}
	for _, t := range ctrd.Caches {
		for _, m := range []struct {
			name string
			pick func(*row) stats.Runs
		}{
			{"shim's work (took)", func(r *row) stats.Runs { return r.took[t] }},
			{"Create's wait (waited)", func(r *row) stats.Runs { return r.waited[t] }},
		} {
			v.Targets = append(v.Targets, targetCells{Cache: t.String(), Measured: m.name,
				Max: targetMax(rows, m.pick), Flat: targetFlat(rows, m.pick), At64: target64(rows, t, m.pick)})
		}
	}
	if len(scale) == 2 {
		one, many := scale[0], scale[1]
		sv := &scaleView{N: scaleN, MiB: scaleMiB,
			CreateVerdict: report.Verdict(many.createWall.Median() <= 1.5*one.createWall.Median(), stats.Times(many.createWall, one.createWall)),
			DeleteVerdict: report.Verdict(many.delWall.Median() <= 1.5*one.delWall.Median(), stats.Times(many.delWall, one.delWall))}
		for _, r := range scale {
			sv.Rows = append(sv.Rows, scaleCells{N: r.n, Create: stats.MsCell(r.create), CreateWall: stats.MsCell(r.createWall),
				Took: stats.MsCell(r.took), Del: stats.MsCell(r.del), DelWall: stats.MsCell(r.delWall)})
		}
		v.Scale = sv
	}
	return report.Execute(tmpl, v)
}

// targetMax: the median of pick is at most 10 ms at every size.
func targetMax(rows []*row, pick func(*row) stats.Runs) string {
	var over []string
	worst := 0.0
	for _, r := range rows {
		m := pick(r).Median()
		worst = max(worst, m)
		if m > 10 {
			over = append(over, fmt.Sprintf("%d MiB: %s ms", r.mib, stats.Ms(m)))
		}
	}
	if len(over) > 0 {
		return report.Verdict(false, strings.Join(over, ", "))
	}
	return report.Verdict(true, "at most "+stats.Ms(worst)+" ms")
}

// targetFlat: the largest kernel's median within 1.5× of the smallest's.
func targetFlat(rows []*row, pick func(*row) stats.Runs) string {
	if len(rows) < 2 {
		return "– (one size only)"
	}
	lo, hi := rows[0], rows[len(rows)-1]
	r := pick(hi).Median() / pick(lo).Median()
	return report.Verdict(r <= 1.5, fmt.Sprintf("%d MiB %s ms = %.2f× %d MiB %s ms",
		hi.mib, stats.Ms(pick(hi).Median()), r, lo.mib, stats.Ms(pick(lo).Median())))
}

// target64: at 64 MiB the copy path takes at least 10× artifactfs.
func target64(rows []*row, t ctrd.Cache, pick func(*row) stats.Runs) string {
	for _, r := range rows {
		if r.mib == 64 {
			return report.Verdict(r.copyPath[t].Median() >= 10*pick(r).Median(),
				fmt.Sprintf("%s: %s vs %s ms", stats.Times(r.copyPath[t], pick(r)), stats.Ms(r.copyPath[t].Median()), stats.Ms(pick(r).Median())))
		}
	}
	return "– (64 MiB not measured)"
}

// limits names, for every size and temperature over 10 ms, the largest
// step of the shim.
func limits(rows []*row) string {
	var out []string
	for _, r := range rows {
		for _, t := range ctrd.Caches {
			if r.took[t].Median() <= 10 {
				continue
			}
			step, worst := "", 0.0
			for s, st := range r.steps[t] {
				if m := st.Median(); m > worst {
					step, worst = s, m
				}
			}
			out = append(out, fmt.Sprintf("%d MiB %s %s ms — `%s` %s ms", r.mib, t, stats.Ms(r.took[t].Median()), step, stats.Ms(worst)))
		}
	}
	return strings.Join(out, "; ")
}

// stepNames lists the steps the shim logged, in shimglue's order, then any
// it does not know of (the shim may have changed), sorted.
func stepNames(rows []*row) []string {
	seen := map[string]bool{}
	for _, r := range rows {
		for _, m := range r.steps {
			for s := range m {
				seen[s] = true
			}
		}
	}
	var out []string
	for _, s := range shimglue.Steps {
		if seen[string(s)] {
			out = append(out, string(s))
			delete(seen, string(s))
		}
	}
	var rest []string
	for s := range seen {
		rest = append(rest, s)
	}
	sort.Strings(rest)
	return append(out, rest...)
}
