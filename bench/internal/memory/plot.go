package memory

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/artifactfs/artifactfs/bench/internal/chart"
	"github.com/artifactfs/artifactfs/bench/internal/mounts"
)

// panels returns two panels: VmRSS and RssAnon against the number of
// mounts, and the growth during and after a read against the kernel's size.
func panels(cs []*countRow, rs []*readRow) []chart.Panel {
	p1 := &chart.Lines{Title: "artifactfs: resident memory of one server process per number of mounts, median",
		XLabel: "mounts (one per container)", YLabel: "MiB"}
	for _, n := range counts {
		p1.X = append(p1.X, strconv.Itoa(n))
	}
	for _, src := range mounts.Sources {
		rss, anon := chart.Line{Name: src.Name + ": VmRSS"}, chart.Line{Name: src.Name + ": RssAnon"}
		for _, n := range counts {
			r := findCount(cs, src.Name, n)
			rss.Y = append(rss.Y, r.rss.Median())
			anon.Y = append(anon.Y, r.anon.Median())
		}
		p1.Series = append(p1.Series, rss, anon)
	}

	var sizes []int
	for _, r := range rs {
		if !slices.Contains(sizes, r.sizeMiB) {
			sizes = append(sizes, r.sizeMiB)
		}
	}
	p2 := &chart.Lines{Title: "artifactfs: memory of a 1-mount server reading the whole kernel once, cold, over its memory before, median",
		XLabel: "kernel size", YLabel: "MiB"}
	for _, n := range sizes {
		p2.X = append(p2.X, fmt.Sprintf("%d MiB", n))
	}
	for _, src := range mounts.Sources {
		peak := chart.Line{Name: src.Name + ": peak VmHWM during the read"}
		retained := chart.Line{Name: src.Name + ": retained after freeing garbage"}
		for _, n := range sizes {
			r := findRead(rs, src.Name, n)
			peak.Y = append(peak.Y, r.peakGrowth.Median())
			retained.Y = append(retained.Y, r.retained.Median())
		}
		p2.Series = append(p2.Series, peak, retained)
	}
	return []chart.Panel{p1, p2}
}
