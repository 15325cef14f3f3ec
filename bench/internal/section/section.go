package section

import (
	"context"
	"slices"

	"github.com/artifactfs/artifactfs/bench/internal/chart"
)

// Env is what every section gets.
type Env struct {
	Runs   int    // repetitions per measurement
	Sizes  []int  // contiguous kernel sizes, MiB
	Frag   int    // fragmented kernel size, MiB; 0: none
	Pieces int    // extents of the fragmented kernel, about
	Work   string // scratch directory of this section, removed by the bench
	Repo   string // the artifactfs repository's root, to build the shim
	Bench  string // the bench module's directory, to build its commands
}

// Kernels returns the distinct kernel sizes of Sizes, ascending.
func (e *Env) Kernels() []int {
	return slices.Compact(slices.Sorted(slices.Values(e.Sizes)))
}

// Result is what a section reports: its part of results.md (from its "## "
// heading on: method, tables with the command to reproduce each row,
// targets met or missed) and its panels for results.png.
type Result struct {
	Markdown string
	Panels   []chart.Panel
}

// Section is one measurement, selectable with -only.
type Section struct {
	Name string // -only value
	What string // one line for -help, progress and the report
	Run  func(ctx context.Context, e *Env) (*Result, error)
}
