//go:build compat

package compat

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// result is one case's outcome on one version.
type result struct {
	state string // "pass", "FAIL" or "skip"
	took  time.Duration
}

// results is the table: cases in the order they first ran, versions in
// the order given.
type results struct {
	mu       sync.Mutex
	versions []string
	cases    []string
	cells    map[[2]string]result // by version, case
}

func newResults() *results { return &results{cells: map[[2]string]result{}} }

// version adds a column.
func (r *results) version(v string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !slices.Contains(r.versions, v) {
		r.versions = append(r.versions, v)
	}
}

// set records the outcome of case name on version v; a later FAIL
// replaces a pass (a daemon's stop fails its row), never the reverse.
func (r *results) set(v, name string, res result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !slices.Contains(r.cases, name) {
		r.cases = append(r.cases, name)
	}
	k := [2]string{v, name}
	if old, ok := r.cells[k]; ok {
		if old.state == "FAIL" {
			return
		}
		res.took = old.took
	}
	r.cells[k] = res
}

// run runs fn as subtest name of t and records its outcome, failures of
// its cleanups (leak checks) included, and how long it took.
func (r *results) run(t *testing.T, v, name string, fn func(t *testing.T)) {
	begin := time.Now()
	t.Run(name, func(t *testing.T) {
		// Registered first, so it runs after every other cleanup.
		t.Cleanup(func() { r.set(v, name, result{state: outcome(t), took: time.Since(begin)}) })
		fn(t)
	})
}

// outcome is t's state for the table.
func outcome(t *testing.T) string {
	switch {
	case t.Failed():
		return "FAIL"
	case t.Skipped():
		return "skip"
	default:
		return "pass"
	}
}

// markdown renders the table, cases down and versions across, with the
// date and the suite's wall time.
func (r *results) markdown(total time.Duration) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "\ncontainerd compatibility (make test-compat), %s, %s wall\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), total.Round(time.Second))
	b.WriteString("| case |")
	for _, v := range r.versions {
		fmt.Fprintf(&b, " %s |", v)
	}
	b.WriteString("\n|---|")
	b.WriteString(strings.Repeat("---|", len(r.versions)))
	b.WriteString("\n")
	failed := 0
	for _, c := range r.cases {
		fmt.Fprintf(&b, "| %s |", c)
		for _, v := range r.versions {
			res, ok := r.cells[[2]string{v, c}]
			switch {
			case !ok:
				b.WriteString(" — |")
			default:
				if res.state != "pass" {
					failed++
				}
				fmt.Fprintf(&b, " %s %.1fs |", res.state, res.took.Seconds())
			}
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "\n%d of %d cells not passed\n", failed, len(r.cells))
	return b.String()
}
