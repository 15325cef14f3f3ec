package report

import (
	_ "embed"
	"strings"
	"time"
)

//go:embed results.md.tmpl
var resultsText string

var resultsTmpl = Template("results.md.tmpl", resultsText)

// Entry names one section in the list at the top of results.md.
type Entry struct {
	Name, What string
}

// Results is the whole of results.md.
type Results struct {
	Runs     int           // -runs
	Started  time.Time     // when the bench started
	Took     time.Duration // how long it ran, rounded
	Machine  []string      // Machine's facts
	Sections []Entry       // the sections run, in order
	Parts    []string      // each section's Markdown, from its "## " heading on
}

// Markdown renders results.md.
func (r *Results) Markdown() (string, error) {
	parts := make([]string, len(r.Parts))
	for i, p := range r.Parts {
		parts[i] = strings.TrimSpace(p)
	}
	v := *r
	v.Parts = parts
	return Execute(resultsTmpl, &v)
}
