package chart

import (
	"fmt"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
)

// Lines is a line chart over nominal x values (X), lines with points,
// legend at the top left.
type Lines struct {
	Title          string // the whole title
	XLabel, YLabel string
	X              []string
	Series         []Line
}

// Line is one legend entry of Lines: a y value per x.
type Line struct {
	Name string
	Y    []float64
}

func (l *Lines) plot() (*plot.Plot, error) {
	p := newPlot(l.Title, l.XLabel, l.YLabel)
	p.Y.Min = 0
	var top float64
	for i, s := range l.Series {
		var xys plotter.XYs
		for x, y := range s.Y {
			xys = append(xys, plotter.XY{X: float64(x), Y: y})
			top = max(top, y)
		}
		line, points, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, fmt.Errorf("plot %s: %w", s.Name, err)
		}
		line.Color = plotutil.Color(i)
		line.Dashes = plotutil.Dashes(i % 2)
		points.Color = plotutil.Color(i)
		points.Shape = plotutil.Shape(i)
		p.Add(line, points)
		p.Legend.Add(s.Name, line, points)
	}
	p.Y.Max = max(top, 1) * (1.1 + 0.08*float64(len(l.Series))) // room for the legend
	p.NominalX(l.X...)
	return p, nil
}
