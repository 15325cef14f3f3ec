package main

import (
	"fmt"
	"image/color"
	"os"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// sourceOrder is the order of sources in the chart's legend and groups.
var sourceOrder = []string{srcNative, srcImage, srcDevice, srcDirPT, srcDirNoPT, srcFuse2fs, srcDebugfs, srcE2cp}

// throughputPlots returns two grouped bar charts, cold and warm: median
// read throughput per source, one group per image.
func throughputPlots(images []*benchImage, rows []*result) ([]*plot.Plot, error) {
	var names []string
	for _, img := range images {
		names = append(names, img.name)
	}
	cold, err := barPlot("cold (page cache dropped)", names, sourceOrder, rows, func(r *result) stats { return r.cold })
	if err != nil {
		return nil, err
	}
	warm, err := barPlot("warm (repeated reads, page cache kept)", names, sourceOrder, rows, func(r *result) stats { return r.warm })
	if err != nil {
		return nil, err
	}
	return []*plot.Plot{cold, warm}, nil
}

// chart writes a PNG with every section's plots, one above the other.
func chart(path string, results []*sectionResult) error {
	var grid [][]*plot.Plot
	for _, r := range results {
		for _, p := range r.plots {
			grid = append(grid, []*plot.Plot{p})
		}
	}
	if len(grid) == 0 {
		return nil
	}
	c := vgimg.New(14*vg.Inch, vg.Length(len(grid))*5.5*vg.Inch)
	dc := draw.New(c)
	tiles := draw.Tiles{Rows: len(grid), Cols: 1, PadTop: vg.Millimeter * 3, PadBottom: vg.Millimeter * 3,
		PadLeft: vg.Millimeter * 3, PadRight: vg.Millimeter * 3, PadY: vg.Millimeter * 8}
	canvases := plot.Align(grid, tiles, dc)
	for i, row := range grid {
		row[0].Draw(canvases[i][0])
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

func barPlot(title string, images, sources []string, rows []*result, pick func(*result) stats) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "artifactfs: read throughput of the whole kernel, " + title + ", median"
	p.Y.Label.Text = "MB/s"
	p.Y.Min = 0
	p.Legend.Top = true
	p.Legend.Left = true
	w := vg.Points(13)
	var top float64
	for i, src := range sources {
		vals := make(plotter.Values, len(images))
		for j, img := range images {
			if r := find(rows, img, src); len(pick(r).runs) > 0 {
				vals[j] = pick(r).median()
				top = max(top, vals[j])
			}
		}
		bars, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return nil, err
		}
		bars.LineStyle.Width = 0
		bars.Color = barColor(i)
		bars.Offset = w * vg.Length(float64(i)-float64(len(sources)-1)/2)
		p.Add(bars)
		p.Legend.Add(src, bars)
	}
	p.NominalX(images...)
	p.Y.Max = top * 1.45 // room for the legend above the bars
	return p, nil
}

// barColor is plotutil's palette, then gray: the throughput chart has more
// sources than the palette has colors, and a repeated color would make two
// sources look alike.
func barColor(i int) color.Color {
	if i < len(plotutil.DefaultColors) {
		return plotutil.Color(i)
	}
	return color.Gray{Y: uint8(60 + 50*(i-len(plotutil.DefaultColors))%150)}
}
