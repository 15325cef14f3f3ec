package chart

import (
	"fmt"
	"os"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Panel is one chart of results.png.
type Panel interface {
	plot() (*plot.Plot, error)
}

var (
	_ Panel = (*Bars)(nil)
	_ Panel = (*Lines)(nil)
	_ Panel = (*Sizes)(nil)
)

// newPlot returns a plot with a title and axis labels, its legend at the
// top left.
func newPlot(title, xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	p.Legend.Top, p.Legend.Left = true, true
	return p
}

// Write draws panels one above the other into a PNG at path; without
// panels it writes nothing.
func Write(path string, panels []Panel) error {
	var grid [][]*plot.Plot
	for _, pn := range panels {
		p, err := pn.plot()
		if err != nil {
			return err
		}
		grid = append(grid, []*plot.Plot{p})
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
