package chart

import (
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// Bars is a grouped bar chart: one group per entry of Groups, one bar per
// series in each.
type Bars struct {
	Title  string // the whole title
	YLabel string
	Groups []string
	Series []BarSeries
}

// BarSeries is one legend entry of Bars: a value per group, 0 for none.
type BarSeries struct {
	Name   string
	Values []float64
}

func (b *Bars) plot() (*plot.Plot, error) {
	p := newPlot(b.Title, "", b.YLabel)
	p.Y.Min = 0
	w := vg.Points(13)
	var top float64
	for i, s := range b.Series {
		vals := make(plotter.Values, len(b.Groups))
		for j := range b.Groups {
			if j < len(s.Values) {
				vals[j] = s.Values[j]
				top = max(top, vals[j])
			}
		}
		bars, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return nil, err
		}
		bars.LineStyle.Width = 0
		bars.Color = barColor(i)
		bars.Offset = w * vg.Length(float64(i)-float64(len(b.Series)-1)/2)
		p.Add(bars)
		p.Legend.Add(s.Name, bars)
	}
	p.NominalX(b.Groups...)
	p.Y.Max = top * 1.45 // room for the legend above the bars
	return p, nil
}

// barColor is plotutil's palette, then gray: a chart with more series than
// the palette has colors would otherwise show two series alike.
func barColor(i int) color.Color {
	if i < len(plotutil.DefaultColors) {
		return plotutil.Color(i)
	}
	return color.Gray{Y: uint8(60 + 50*(i-len(plotutil.DefaultColors))%150)}
}
