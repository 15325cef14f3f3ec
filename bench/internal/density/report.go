package density

import (
	_ "embed"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/artifactfs/artifactfs/bench/internal/chart"
	"github.com/artifactfs/artifactfs/bench/internal/ctrd"
	"github.com/artifactfs/artifactfs/bench/internal/report"
	"github.com/artifactfs/artifactfs/bench/internal/stats"
	"github.com/artifactfs/artifactfs/internal/ctrtest"
	"github.com/artifactfs/artifactfs/shimglue"
)

//go:embed density.md.tmpl
var tmplText string

var tmpl = report.Template("density.md.tmpl", tmplText)

// Targets of issue 11.
const (
	maxCacheGrowth = 1.2 // page cache at N = 50 over N = 1, blockfile, shared
	maxWaitMs      = 5.0 // Create's wait, median after the first container
)

// page is what the template shows.
type page struct {
	Containerd, Runtime, Env string
	KernelMiB, InitrdMiB     int
	Cycles                   int
	Counts                   string
	Tables                   []table
	Targets                  []targetCells
	Steps                    []stepCells
	Floors                   []floorCells
	FloorRuns                int
	F                        findings
}

// floorCells is a row of the floor table.
type floorCells struct{ Snapshotter, Prepare, Lease string }

// table is the rows of one snapshotter.
type table struct {
	Snapshotter string
	Rows        []rowCells
}

// rowCells is a row: one layout and count.
type rowCells struct {
	Layout                                              string
	N                                                   int
	Mode, Cached, Resident, Shmem, Loops, Mounts, Views string
	Shims, First, Others, Left                          string
}

// targetCells is a row of the targets table.
type targetCells struct{ Target, Measured, Verdict string }

// stepCells is a row of the steps table: the shim's steps, medians, ms.
type stepCells struct {
	Snapshotter, Layout string
	N                   int
	First, Others       string
}

// markdown renders the section.
func markdown(rows []*row, floors []*floorRow) (string, error) {
	v := page{Containerd: ctrtest.ContainerdVersion, Runtime: ctrd.Runtime, Env: shimglue.PerContainerViewsEnv,
		KernelMiB: kernelMiB, InitrdMiB: ctrd.InitrdMiB, Cycles: readCycles, Counts: fmt.Sprint(counts)}
	for _, sn := range snapshotters {
		t := table{Snapshotter: sn}
		for _, r := range rows {
			if r.sn == sn {
				t.Rows = append(t.Rows, cells(r))
			}
			if r.sn == sn && !r.lay.copy && r.n > 1 {
				v.Steps = append(v.Steps, stepCells{Snapshotter: sn, Layout: r.lay.Name, N: r.n,
					First: stepList(r.firstSteps), Others: stepList(r.steps)})
			}
		}
		v.Tables = append(v.Tables, t)
	}
	v.Targets = targets(rows)
	v.FloorRuns, v.F = floorRuns, findingsOf(rows, floors)
	for _, f := range floors {
		v.Floors = append(v.Floors, floorCells{Snapshotter: f.sn, Prepare: stats.MsCell(f.prepare), Lease: stats.MsCell(f.lease)})
	}
	return report.Execute(tmpl, v)
}

// cells formats row r.
func cells(r *row) rowCells {
	c := rowCells{Layout: r.lay.Name, N: r.n, Mode: "copy", Cached: fmt.Sprintf("%s (%s)", mib(r.cached.Min()), mib(r.cached.Max())),
		Resident: fmt.Sprintf("%s + %s", mib(r.resident), mib(r.residentBlock)),
		Shmem:    mib(r.shmem), Loops: fmt.Sprintf("%d (%d)", r.viewLoops, r.allLoops),
		Mounts: fmt.Sprintf("%d + %d", r.viewMounts, r.fuseMounts), Views: "–",
		Shims: fmt.Sprintf("%.0f / %.0f", r.rss, r.pss), First: stats.Ms(r.first.Median()), Others: "–", Left: "nothing"}
	if !r.lay.copy {
		var ms []string
		for _, m := range slices.Sorted(maps.Keys(r.modes)) {
			ms = append(ms, fmt.Sprintf("%s ×%d", m, r.modes[m]))
		}
		c.Mode = strings.Join(ms, ", ")
		c.Views = fmt.Sprintf("%d shared, %d own", r.sharedViews, r.ownViews)
	}
	if len(r.others) > 0 {
		c.Others = fmt.Sprintf("%s (%s)", stats.Ms(r.others.Median()), stats.Ms(r.others.Quantile(0.9)))
	}
	if len(r.left) > 0 {
		c.Left = fmt.Sprintf("**%d**: %s", len(r.left), strings.Join(r.left, "; "))
	}
	return c
}

// targets judges issue 11's targets on the rows.
func targets(rows []*row) []targetCells {
	find := func(sn string, l layout, n int) *row {
		for _, r := range rows {
			if r.sn == sn && r.lay == l && r.n == n {
				return r
			}
		}
		return nil
	}
	var out []targetCells
	one, fifty := find("blockfile", shared, 1), find("blockfile", shared, 50)
	if one != nil && fifty != nil {
		x := fifty.cached.Min() / one.cached.Min()
		xr := (fifty.resident + fifty.residentBlock) / (one.resident + one.residentBlock)
		out = append(out, targetCells{Target: fmt.Sprintf("page cache at N = 50 ≤ %.1f× N = 1 (blockfile, shared view, passthrough)", maxCacheGrowth),
			Measured: fmt.Sprintf("ΔCached %s → %s MiB (least of the cycles), %.2f×; resident (mincore) %s → %s MiB, %.2f×; FUSE mounts at 50: %s",
				mib(one.cached.Min()), mib(fifty.cached.Min()), x,
				mib(one.resident+one.residentBlock), mib(fifty.resident+fifty.residentBlock), xr, cells(fifty).Mode),
			Verdict: report.Verdict(x <= maxCacheGrowth && fifty.modes["passthrough"] == fifty.n, "")})
	}
	var loops []string
	ok := true
	for _, n := range counts {
		if r := find("blockfile", shared, n); r != nil {
			loops = append(loops, fmt.Sprintf("%d at N = %d", r.viewLoops, n))
			ok = ok && r.viewLoops == 1
		}
	}
	out = append(out, targetCells{Target: "loop devices of the views for N containers of one image = 1 (blockfile, shared view)",
		Measured: strings.Join(loops, ", "), Verdict: report.Verdict(ok, "")})
	for _, sn := range snapshotters {
		for _, n := range counts[1:] {
			if r := find(sn, shared, n); r != nil {
				out = append(out, targetCells{Target: fmt.Sprintf("Create waits ≤ %.0f ms, median after the first container (%s, shared view, N = %d)", maxWaitMs, sn, n),
					Measured: fmt.Sprintf("%s ms (p90 %s, max %s); first container %s ms", stats.Ms(r.others.Median()),
						stats.Ms(r.others.Quantile(0.9)), stats.Ms(r.others.Max()), stats.Ms(r.first.Median())),
					Verdict: report.Verdict(r.others.Median() <= maxWaitMs, "")})
			}
		}
	}
	left := 0
	for _, r := range rows {
		left += len(r.left)
	}
	out = append(out, targetCells{Target: "nothing left behind after removing every row's containers (harness SettledLeftovers)",
		Measured: fmt.Sprintf("%d leftovers over %d rows", left, len(rows)), Verdict: report.Verdict(left == 0, "")})
	return out
}

// stepList prints the median of each step, by name.
func stepList(steps map[string]*stats.Runs) string {
	var out []string
	for _, s := range slices.Sorted(maps.Keys(steps)) {
		out = append(out, fmt.Sprintf("%s %s", s, stats.Ms(steps[s].Median())))
	}
	if len(out) == 0 {
		return "–"
	}
	return strings.Join(out, ", ")
}

// mib prints MiB with one decimal.
func mib(v float64) string { return fmt.Sprintf("%.1f", v) }

// panel draws the memory the artifacts hold (ΔCached of the reads plus
// ΔShmem) per snapshotter and count, a bar per layout.
func panel(rows []*row) chart.Panel {
	p := &chart.Bars{YLabel: "MiB",
		Title: fmt.Sprintf("artifactfs: density — page cache of the reads + tmpfs for N containers of one image (%d MiB kernel + %d MiB initrd)", kernelMiB, ctrd.InitrdMiB)}
	for _, sn := range snapshotters {
		for _, n := range counts {
			p.Groups = append(p.Groups, fmt.Sprintf("%s, N = %d", sn, n))
		}
	}
	for _, l := range layouts {
		s := chart.BarSeries{Name: l.Name, Values: make([]float64, len(p.Groups))}
		for _, r := range rows {
			if r.lay == l {
				s.Values[slices.Index(p.Groups, fmt.Sprintf("%s, N = %d", r.sn, r.n))] = r.cached.Min() + r.shmem
			}
		}
		p.Series = append(p.Series, s)
	}
	return p
}
