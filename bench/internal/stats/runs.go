package stats

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Runs is one figure over runs, one value per run; its summaries are 0
// without runs.
type Runs []float64

// Median returns the median of the runs (the mean of the middle two for
// an even count).
func (s Runs) Median() float64 {
	if len(s) == 0 {
		return 0
	}
	r := slices.Sorted(slices.Values(s))
	if n := len(r); n%2 == 1 {
		return r[n/2]
	}
	n := len(r)
	return (r[n/2-1] + r[n/2]) / 2
}

// Quantile returns the q-quantile of the runs by nearest rank (0.9: the
// smallest run not below 90% of them).
func (s Runs) Quantile(q float64) float64 {
	if len(s) == 0 {
		return 0
	}
	r := slices.Sorted(slices.Values(s))
	i := int(math.Ceil(q*float64(len(r)))) - 1
	return r[min(max(i, 0), len(r)-1)]
}

// Min returns the smallest run.
func (s Runs) Min() float64 {
	if len(s) == 0 {
		return 0
	}
	return slices.Min(s)
}

// Max returns the largest run.
func (s Runs) Max() float64 {
	if len(s) == 0 {
		return 0
	}
	return slices.Max(s)
}

// Last returns the latest run.
func (s Runs) Last() float64 {
	if len(s) == 0 {
		return 0
	}
	return s[len(s)-1]
}

// Format prints the median and min–max with the given verb, e.g. "%.1f"
// gives "12.3 (11.0–14.2)".
func (s Runs) Format(verb string) string {
	return fmt.Sprintf(verb+" ("+verb+"–"+verb+")", s.Median(), s.Min(), s.Max())
}

// AddMBps appends the throughput of reading bytes in d, in MB/s (10^6
// bytes per second).
func (s *Runs) AddMBps(bytes int64, d time.Duration) {
	*s = append(*s, float64(bytes)/d.Seconds()/1e6)
}

// AddMs appends d in milliseconds.
func (s *Runs) AddMs(d time.Duration) {
	*s = append(*s, float64(d.Microseconds())/1000)
}

// Ratio is the ratio of the medians of s and ref with two decimals, or
// "–" when ref's median is 0.
func Ratio(s, ref Runs) string {
	if ref.Median() == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", s.Median()/ref.Median())
}

// Times is the median of a over the median of b with one decimal and a
// times sign, e.g. "12.3×", or "–" without runs.
func Times(a, b Runs) string {
	if len(a) == 0 || b.Median() == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f×", a.Median()/b.Median())
}

// Ms prints a millisecond figure with about three significant digits.
func Ms(v float64) string {
	switch a := math.Abs(v); {
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// MsCell prints millisecond runs as "median (min–max)", each with Ms, or
// "–" without runs.
func MsCell(s Runs) string {
	if len(s) == 0 {
		return "–"
	}
	return fmt.Sprintf("%s (%s–%s)", Ms(s.Median()), Ms(s.Min()), Ms(s.Max()))
}
