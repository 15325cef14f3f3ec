package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/artifactfs/artifactfs/blockreader"
	"github.com/artifactfs/artifactfs/internal/mountinfo"
	"github.com/artifactfs/artifactfs/internal/source"
	"github.com/artifactfs/artifactfs/shimglue"
)

// openBundle picks the source of a container bundle: the view recorded in
// its artifactfs state file when there is one, else the container's rootfs
// (its block device read directly, or the mounted directory), with the
// annotations of its config.json.
func openBundle(bundle string) (source.Source, map[string]string, error) {
	annotations, err := bundleAnnotations(bundle)
	if err != nil {
		return nil, nil, err
	}
	st, err := shimglue.LoadState(bundle)
	if err != nil {
		return nil, nil, err
	}
	if st != nil {
		src, err := stateSource(st)
		return src, annotations, err
	}
	rootfs := filepath.Join(bundle, "rootfs")
	m, mounted, err := mountinfo.Find(rootfs)
	if err != nil {
		return nil, nil, err
	}
	if mounted && strings.HasPrefix(m.Source, "/dev/") {
		src, err := blockreader.Open(m.Source)
		return src, annotations, err
	}
	src, err := source.OpenDir(rootfs)
	return src, annotations, err
}

// stateSource opens the view a state file records: its mountpoint, or its
// block file or device when the view is not mounted.
func stateSource(st *shimglue.State) (source.Source, error) {
	if st.ViewMountpoint != "" {
		return source.OpenDir(st.ViewMountpoint)
	}
	for _, m := range st.ViewMounts {
		if m.Type == "ext4" {
			return blockreader.Open(m.Source)
		}
	}
	return nil, fmt.Errorf("state of %s/%s records neither a mounted view nor a block view", st.Namespace, st.ContainerID)
}

// bundleAnnotations reads the OCI spec annotations of a bundle.
func bundleAnnotations(bundle string) (map[string]string, error) {
	spec, err := shimglue.ReadSpec(bundle)
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", bundle, err)
	}
	return spec.Annotations, nil
}
