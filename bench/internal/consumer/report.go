package consumer

import (
	_ "embed"
	"fmt"

	"github.com/artifactfs/artifactfs/bench/internal/chart"
	"github.com/artifactfs/artifactfs/bench/internal/ctrd"
	"github.com/artifactfs/artifactfs/bench/internal/report"
	"github.com/artifactfs/artifactfs/bench/internal/stats"
	"github.com/artifactfs/artifactfs/internal/ctrtest"
)

//go:embed consumer.md.tmpl
var tmplText string

var tmpl = report.Template("consumer.md.tmpl", tmplText)

// view is what the template shows.
type view struct {
	Containerd, Runtime      string
	InitrdMiB, ReadMiB, Runs int
	Rows                     []rowCells
}

// rowCells is a row of the table: one kernel size at one temperature.
type rowCells struct {
	MiB                                                  int
	Cache, Afs, AfsCreate, AfsRead, Cp, CpCreate, CpCopy string
	CpRead, Ratio                                        string
}

// markdown renders the section.
func markdown(rows []*row, runs int) (string, error) {
	v := view{Containerd: ctrtest.ContainerdVersion, Runtime: ctrd.Runtime, InitrdMiB: ctrd.InitrdMiB,
		ReadMiB: ctrd.ReadBuf >> 20, Runs: runs}
	for _, r := range rows {
		for _, t := range ctrd.Caches {
			v.Rows = append(v.Rows, rowCells{MiB: r.mib, Cache: t.String(),
				Afs: stats.MsCell(r.afs[t]), AfsCreate: stats.Ms(r.afsCreate[t].Median()), AfsRead: stats.Ms(r.afsRead[t].Median()),
				Cp: stats.MsCell(r.cp[t]), CpCreate: stats.Ms(r.cpCreate[t].Median()), CpCopy: stats.Ms(r.cpCopy[t].Median()),
				CpRead: stats.Ms(r.cpRead[t].Median()), Ratio: stats.Times(r.cp[t], r.afs[t])})
		}
	}
	return report.Execute(tmpl, v)
}

// panel draws Create to last byte against kernel size, both paths, cold
// and warm.
func panel(rows []*row) chart.Panel {
	p := &chart.Sizes{Unit: "ms",
		Title: fmt.Sprintf("artifactfs: the consumer's view — container Create to the last byte of kernel and %d MiB initrd (median; log scales)", ctrd.InitrdMiB)}
	for _, r := range rows {
		p.Sizes = append(p.Sizes, r.mib)
	}
	for _, t := range ctrd.Caches {
		var afs, cp []float64
		for _, r := range rows {
			afs = append(afs, r.afs[t].Median())
			cp = append(cp, r.cp[t].Median())
		}
		p.Series = append(p.Series,
			chart.SizeSeries{Name: "artifactfs: Create, read from the per-container path, " + t.String(), Values: afs, Color: 0, Dashed: t == ctrd.Warm},
			chart.SizeSeries{Name: "copy path: Create, mount + copy + unmount, read the copies, " + t.String(), Values: cp, Color: 1, Dashed: t == ctrd.Warm})
	}
	return p
}
