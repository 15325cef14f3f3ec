package main

import (
	"context"
	"fmt"
	"strings"

	"gonum.org/v1/plot"
)

// env is what every section gets: the flags, and a work directory of its
// own for images and mount points.
type env struct {
	runs   int    // repetitions per measurement
	sizes  []int  // contiguous kernel sizes, MiB
	frag   int    // fragmented kernel size, MiB; 0: none
	pieces int    // extents of the fragmented kernel, about
	work   string // scratch directory of this section, removed by main
}

// sectionResult is what a section reports: its part of results.md (from
// its "## " heading on: method, table with the command to reproduce each
// row, targets met or missed) and its panels for results.png.
type sectionResult struct {
	markdown string
	plots    []*plot.Plot
}

// A section is one measurement of issue 4, selectable with -only.
type section struct {
	name string // -only value
	what string // one line for -help and progress
	run  func(ctx context.Context, e *env) (*sectionResult, error)
}

// sections lists every section in report order.
var sections = []section{
	{"setup", "time to artifacts: the shim's view + mount + state vs the copy path, per kernel size (containerd)", setupSection},
	{"throughput", "read throughput of the whole kernel per source vs a native loop mount, cold and warm", throughputSection},
	{"memory", "resident memory of one process serving 1, 10, 100 mounts; reading a 256 MiB kernel", memorySection},
	{"scale", "create and delete 1, 10, 100 mounts; 20 containers through containerd", scaleSection},
	{"consumer", "a VMM-like reader: container Create to the last byte of kernel and initrd, vs the copy path", consumerSection},
	{"pod", "Create's wait: an app container joining a running pod (CRI) vs a container with a shim of its own", podSection},
}

// pickSections returns the sections named in a comma-separated list
// ("" or "all": every one).
func pickSections(list string) ([]section, error) {
	if list == "" || list == "all" {
		return sections, nil
	}
	var out []section
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		found := false
		for _, s := range sections {
			if s.name == name {
				out, found = append(out, s), true
			}
		}
		if !found {
			return nil, fmt.Errorf("-only: no section %q (have %s)", name, sectionNames())
		}
	}
	return out, nil
}

func sectionNames() string {
	var names []string
	for _, s := range sections {
		names = append(names, s.name)
	}
	return strings.Join(names, ",")
}
