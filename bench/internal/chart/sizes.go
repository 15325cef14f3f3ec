package chart

import (
	"fmt"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// Sizes draws series against kernel size, both axes logarithmic.
type Sizes struct {
	Title  string // the whole title
	Unit   string // the y axis
	Sizes  []int  // kernel sizes in MiB, ascending
	Series []SizeSeries
}

// SizeSeries is one line of Sizes: medians per kernel size.
type SizeSeries struct {
	Name   string
	Values []float64 // one per size; values ≤ 0 are left out
	Color  int       // plotutil.Color index
	Dashed bool
}

func (z *Sizes) plot() (*plot.Plot, error) {
	p := newPlot(z.Title, "kernel size, MiB", z.Unit)
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	var ticks plot.ConstantTicks
	for _, s := range z.Sizes {
		ticks = append(ticks, plot.Tick{Value: float64(s), Label: fmt.Sprint(s)})
	}
	p.X.Tick.Marker = ticks
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	lo, hi := math.Inf(1), 0.0
	for _, s := range z.Series {
		var xys plotter.XYs
		for i, v := range s.Values {
			if v > 0 && i < len(z.Sizes) {
				xys = append(xys, plotter.XY{X: float64(z.Sizes[i]), Y: v})
				lo, hi = min(lo, v), max(hi, v)
			}
		}
		if len(xys) == 0 {
			continue
		}
		l, pts, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, err
		}
		l.Color, pts.Color = plotutil.Color(s.Color), plotutil.Color(s.Color)
		l.Width = vg.Points(2)
		if s.Dashed {
			l.Dashes = []vg.Length{vg.Points(6), vg.Points(4)}
		}
		p.Add(l, pts)
		p.Legend.Add(s.Name, l, pts)
	}
	if hi > 0 {
		// From the power of ten below the lowest (two labelled ticks at
		// least), with room for the legend above the lines.
		p.Y.Min, p.Y.Max = math.Pow(10, math.Floor(math.Log10(lo/1.2))), hi*8
	}
	if len(z.Sizes) > 0 {
		p.X.Min, p.X.Max = float64(z.Sizes[0])/1.5, float64(z.Sizes[len(z.Sizes)-1])*1.5
	}
	return p, nil
}
