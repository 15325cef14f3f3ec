package throughput

import (
	_ "embed"
	"fmt"
	"strings"

	"github.com/artifactfs/artifactfs/bench/internal/artifacttree"
	"github.com/artifactfs/artifactfs/bench/internal/chart"
	"github.com/artifactfs/artifactfs/bench/internal/images"
	"github.com/artifactfs/artifactfs/bench/internal/report"
	"github.com/artifactfs/artifactfs/bench/internal/stats"
)

//go:embed throughput.md.tmpl
var tmplText string

var tmpl = report.Template("throughput.md.tmpl", tmplText)

// view is what the template shows.
type view struct {
	KernelPath string
	Runs       int
	Images     []imageLine
	Rows       []tableRow
	Targets    []targetRow
}

// imageLine is an entry of the list of images: how it was made.
type imageLine struct {
	Name    string
	Extents int
	Mkfs    string
}

// tableRow is a row of the throughput table: one source reading one image.
type tableRow struct {
	Kernel, Source, Cold, ColdX, Warm, WarmX, Cmd string
}

// targetRow is a row of the targets table: one image's verdicts.
type targetRow struct {
	Kernel, Passthrough, Image, Ahead string
}

// markdown renders the section.
func markdown(imgs []*images.Image, ext map[string]int, rows []*row, runs int) (string, error) {
	v := view{KernelPath: artifacttree.KernelPath, Runs: runs}
	for _, img := range imgs {
		v.Images = append(v.Images, imageLine{Name: img.Name, Extents: ext[img.Name], Mkfs: img.MkfsCmd})
	}
	for _, img := range imgs {
		ref := find(rows, img.Name, srcNative)
		for _, r := range rows {
			if r.image != img.Name {
				continue
			}
			name := r.source
			if r.note != "" {
				name += " — " + r.note
			}
			v.Rows = append(v.Rows, tableRow{Kernel: img.Name, Source: name,
				Cold: r.cold.Format("%.0f"), ColdX: stats.Ratio(r.cold, ref.cold),
				Warm: r.warm.Format("%.0f"), WarmX: stats.Ratio(r.warm, ref.warm), Cmd: r.cmd})
		}
		v.Targets = append(v.Targets, targets(img.Name, rows))
	}
	return report.Execute(tmpl, v)
}

// targets judges issue 4's targets for one image.
func targets(image string, rows []*row) targetRow {
	ref := find(rows, image, srcNative)
	pt, im, f2 := find(rows, image, srcDirPT), find(rows, image, srcImage), find(rows, image, srcFuse2fs)
	ahead := true
	var behind []string
	for _, r := range rows {
		if r.image == image && strings.HasPrefix(r.source, "artifactfs") &&
			(r.cold.Median() <= f2.cold.Median() || r.warm.Median() <= f2.warm.Median()) {
			ahead = false
			behind = append(behind, r.source)
		}
	}
	return targetRow{Kernel: image,
		Passthrough: report.Verdict(pt.cold.Median() >= 0.9*ref.cold.Median() && pt.warm.Median() >= 0.9*ref.warm.Median(),
			fmt.Sprintf("%s / %s", stats.Ratio(pt.cold, ref.cold), stats.Ratio(pt.warm, ref.warm))),
		Image: report.Verdict(im.cold.Median() >= 0.5*ref.cold.Median() && im.warm.Median() >= 0.8*ref.warm.Median(),
			fmt.Sprintf("%s / %s", stats.Ratio(im.cold, ref.cold), stats.Ratio(im.warm, ref.warm))),
		Ahead: report.Verdict(ahead, strings.Join(behind, ", "))}
}

// panels returns two grouped bar charts, cold and warm: median read
// throughput per source, one group per image.
func panels(imgs []*images.Image, rows []*row) []chart.Panel {
	var names []string
	for _, img := range imgs {
		names = append(names, img.Name)
	}
	bars := func(title string, pick func(*row) stats.Runs) chart.Panel {
		b := &chart.Bars{Title: "artifactfs: read throughput of the whole kernel, " + title + ", median",
			YLabel: "MB/s", Groups: names}
		for _, src := range sourceOrder {
			s := chart.BarSeries{Name: src}
			for _, img := range names {
				s.Values = append(s.Values, pick(find(rows, img, src)).Median())
			}
			b.Series = append(b.Series, s)
		}
		return b
	}
	return []chart.Panel{
		bars("cold (page cache dropped)", func(r *row) stats.Runs { return r.cold }),
		bars("warm (repeated reads, page cache kept)", func(r *row) stats.Runs { return r.warm }),
	}
}
