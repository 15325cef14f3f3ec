package main

import (
	"fmt"
	iofs "io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/artifactfs/artifactfs/artifactbind"
	"github.com/artifactfs/artifactfs/blockreader"
	"github.com/artifactfs/artifactfs/internal/layout"
	"github.com/artifactfs/artifactfs/internal/mounttable"
	"github.com/artifactfs/artifactfs/internal/source"
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
	st, err := artifactbind.LoadState(bundle)
	if err != nil {
		return nil, nil, err
	}
	if st != nil {
		src, err := stateSource(st)
		return src, annotations, err
	}
	rootfs := filepath.Join(bundle, "rootfs")
	m, mounted, err := mounttable.Find(rootfs)
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
// block file or device when the view is not mounted. The recorded paths
// must be exactly those the root ($ARTIFACTFS_ROOT) gives the container;
// the view is then opened by the derived path, beneath the marked root and
// without following a symlink (layout.OpenView).
func stateSource(st *artifactbind.State) (source.Source, error) {
	root := layout.RootFromEnv()
	if err := st.CheckRoot(root); err != nil {
		return nil, fmt.Errorf("state of %s/%s: %w", st.Namespace, st.ContainerID, err)
	}
	if st.ViewMountpoint != "" {
		return layout.OpenView(root, st)
	}
	for _, m := range st.ViewMounts {
		if m.Type == "ext4" {
			if err := checkBlockSource(m.Source); err != nil {
				return nil, fmt.Errorf("state of %s/%s: %w", st.Namespace, st.ContainerID, err)
			}
			return blockreader.Open(m.Source)
		}
	}
	return nil, fmt.Errorf("state of %s/%s records neither a mounted view nor a block view", st.Namespace, st.ContainerID)
}

// snapshotterDirPrefix starts the name of every containerd snapshotter's
// directory under its root (io.containerd.snapshotter.v1.blockfile).
const snapshotterDirPrefix = "io.containerd.snapshotter.v1."

// checkBlockSource checks the block view a state file records before it is
// read: a block device (devmapper), or a regular file inside a containerd
// snapshotter's directory (blockfile's scratch copies), reached without a
// symlink in its last component. Anything else on the host is refused.
func checkBlockSource(p string) error {
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	switch {
	case fi.Mode()&iofs.ModeDevice != 0 && fi.Mode()&iofs.ModeCharDevice == 0:
		return nil
	case fi.Mode().IsRegular():
		for dir := filepath.Dir(p); dir != filepath.Dir(dir); dir = filepath.Dir(dir) {
			if strings.HasPrefix(filepath.Base(dir), snapshotterDirPrefix) {
				return nil
			}
		}
	}
	return fmt.Errorf("view source %s: %w: neither a block device nor a file of a containerd snapshotter", p, artifactbind.ErrNotOwnedPath)
}

// bundleAnnotations reads the OCI spec annotations of a bundle.
func bundleAnnotations(bundle string) (map[string]string, error) {
	spec, err := layout.ReadSpec(bundle)
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", bundle, err)
	}
	return spec.Annotations, nil
}
