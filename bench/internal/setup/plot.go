package setup

import (
	"github.com/artifactfs/artifactfs/bench/internal/chart"
	"github.com/artifactfs/artifactfs/bench/internal/ctrd"
)

// panel draws time to artifacts against kernel size, both paths, cold and
// warm.
func panel(rows []*row) chart.Panel {
	p := &chart.Sizes{Title: "artifactfs: time to artifacts vs kernel size (median; log scales)", Unit: "ms"}
	for _, r := range rows {
		p.Sizes = append(p.Sizes, r.mib)
	}
	for _, t := range ctrd.Caches {
		var afs, wait, cp []float64
		for _, r := range rows {
			afs = append(afs, r.took[t].Median())
			wait = append(wait, r.waited[t].Median())
			cp = append(cp, r.copyPath[t].Median())
		}
		p.Series = append(p.Series,
			chart.SizeSeries{Name: "artifactfs (view + mount + state), " + t.String(), Values: afs, Color: 0, Dashed: t == ctrd.Warm},
			chart.SizeSeries{Name: "artifactfs, what Create waited for, " + t.String(), Values: wait, Color: 2, Dashed: t == ctrd.Warm},
			chart.SizeSeries{Name: "copy path (mount, copy to tmpfs, unmount), " + t.String(), Values: cp, Color: 1, Dashed: t == ctrd.Warm})
	}
	return p
}
