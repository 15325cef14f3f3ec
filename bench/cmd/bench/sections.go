package main

import (
	"fmt"
	"strings"

	"github.com/artifactfs/artifactfs/bench/internal/consumer"
	"github.com/artifactfs/artifactfs/bench/internal/density"
	"github.com/artifactfs/artifactfs/bench/internal/memory"
	"github.com/artifactfs/artifactfs/bench/internal/pod"
	"github.com/artifactfs/artifactfs/bench/internal/scale"
	"github.com/artifactfs/artifactfs/bench/internal/section"
	"github.com/artifactfs/artifactfs/bench/internal/setup"
	"github.com/artifactfs/artifactfs/bench/internal/throughput"
)

// sections lists every section in report order.
var sections = []section.Section{
	{Name: "setup", What: "time to artifacts: the shim's view + mount + state vs the copy path, per kernel size (containerd)", Run: setup.Run},
	{Name: "throughput", What: "read throughput of the whole kernel per source vs a native loop mount, cold and warm", Run: throughput.Run},
	{Name: "memory", What: "resident memory of one process serving 1, 10, 100 mounts; reading a 256 MiB kernel", Run: memory.Run},
	{Name: "scale", What: "create and delete 1, 10, 100 mounts; 20 containers through containerd", Run: scale.Run},
	{Name: "consumer", What: "a VMM-like reader: container Create to the last byte of kernel and initrd, vs the copy path", Run: consumer.Run},
	{Name: "density", What: "N = 1, 10, 50 containers of one image: page cache, loop devices, mounts, shims' memory, Create's wait; shared views vs per-container views vs the copy path", Run: density.Run},
	{Name: "pod", What: "Create's wait: an app container joining a running pod (CRI) vs a container with a shim of its own", Run: pod.Run},
}

// pickSections returns the sections named in a comma-separated list
// ("" or "all": every one).
func pickSections(list string) ([]section.Section, error) {
	if list == "" || list == "all" {
		return sections, nil
	}
	var out []section.Section
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		found := false
		for _, s := range sections {
			if s.Name == name {
				out, found = append(out, s), true
			}
		}
		if !found {
			return nil, fmt.Errorf("-only: no section %q (have %s)", name, sectionNames())
		}
	}
	return out, nil
}

// sectionNames lists the sections' names, comma-separated.
func sectionNames() string {
	var names []string
	for _, s := range sections {
		names = append(names, s.Name)
	}
	return strings.Join(names, ",")
}
