package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json), with the fields
// testcount reads.
type event struct {
	Action      string
	Package     string
	ImportPath  string // build-output and build-fail events
	Test        string
	Output      string
	FailedBuild string
}

// ReportPrefix starts the lines a test prints for the reader whatever its
// outcome (e.g. the soak's figures): they are always shown.
const ReportPrefix = "report: "

// Counts are the outcomes of one package's tests.
type Counts struct {
	Passed, Failed, Skipped int
	// PackageFailed: the package failed beyond its tests' outcomes (it did
	// not build, TestMain failed, a test panicked or timed out).
	PackageFailed bool
}

// String is the counts line.
func (c Counts) String() string {
	s := fmt.Sprintf("%d passed, %d failed, %d skipped", c.Passed, c.Failed, c.Skipped)
	if c.PackageFailed {
		s += " (package failed)"
	}
	return s
}

func (c *Counts) add(o Counts) {
	c.Passed += o.Passed
	c.Failed += o.Failed
	c.Skipped += o.Skipped
	c.PackageFailed = c.PackageFailed || o.PackageFailed
}

// Tally reads the events and counts outcomes per package, writing to out
// the package lines and the output of failed and skipped tests (verbose:
// all output). Lines that are not JSON are copied as they are.
type Tally struct {
	out      io.Writer
	verbose  bool
	counts   map[string]*Counts
	order    []string            // packages, in the order they first appeared
	buffered map[string][]string // output of the tests still running, by package and test
}

// NewTally returns a Tally writing to out.
func NewTally(out io.Writer, verbose bool) *Tally {
	return &Tally{out: out, verbose: verbose, counts: map[string]*Counts{}, buffered: map[string][]string{}}
}

// Read consumes r to its end.
func (t *Tally) Read(r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		var ev event
		if !strings.HasPrefix(line, "{") || json.Unmarshal([]byte(line), &ev) != nil {
			fmt.Fprintln(t.out, line)
			continue
		}
		t.event(ev)
	}
	return sc.Err()
}

func (t *Tally) pkg(name string) *Counts {
	c, ok := t.counts[name]
	if !ok {
		c = &Counts{}
		t.counts[name] = c
		t.order = append(t.order, name)
	}
	return c
}

func (t *Tally) event(ev event) {
	switch ev.Action {
	case "build-output":
		fmt.Fprint(t.out, ev.Output)
		return
	case "build-fail":
		t.pkg(ev.ImportPath).PackageFailed = true
		return
	}
	if ev.Package == "" {
		return
	}
	c := t.pkg(ev.Package)
	key := ev.Package + "\x00" + ev.Test
	if ev.Test == "" { // the package itself
		switch ev.Action {
		case "output":
			if t.verbose || !strings.HasPrefix(ev.Output, "=== ") {
				fmt.Fprint(t.out, ev.Output)
			}
		case "fail":
			c.PackageFailed = true
			t.flushPackage(ev.Package) // the test that was running when it died
		}
		return
	}
	switch ev.Action {
	case "output":
		if t.verbose || strings.HasPrefix(ev.Output, ReportPrefix) {
			fmt.Fprint(t.out, ev.Output)
		} else {
			t.buffered[key] = append(t.buffered[key], ev.Output)
		}
	case "pass":
		c.Passed++
		delete(t.buffered, key)
	case "fail", "skip":
		if ev.Action == "fail" {
			c.Failed++
		} else {
			c.Skipped++
		}
		fmt.Fprint(t.out, strings.Join(t.buffered[key], ""))
		delete(t.buffered, key)
	}
}

// flushPackage writes what the unfinished tests of pkg printed.
func (t *Tally) flushPackage(pkg string) {
	var keys []string
	for k := range t.buffered {
		if strings.HasPrefix(k, pkg+"\x00") {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprint(t.out, strings.Join(t.buffered[k], ""))
		delete(t.buffered, k)
	}
}

// Total returns the counts of every package together.
func (t *Tally) Total() Counts {
	var all Counts
	for _, c := range t.counts {
		all.add(*c)
	}
	return all
}

// Report writes one counts line per package that has tests or failed, and
// the total.
func (t *Tally) Report(w io.Writer) {
	names := slices.Clone(t.order)
	slices.Sort(names)
	width := 0
	for _, n := range names {
		width = max(width, len(n))
	}
	fmt.Fprintln(w, "\ntest counts:")
	for _, n := range names {
		c := t.counts[n]
		if *c == (Counts{}) {
			continue // no test files
		}
		fmt.Fprintf(w, "  %-*s  %s\n", width, n, c)
	}
	fmt.Fprintf(w, "total: %s\n", t.Total())
}
