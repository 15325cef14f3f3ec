package artifactbind

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// ErrNotReady is returned by BindArtifacts for a state that serves nothing:
// none at all (no state file), or one written while Create was still in
// progress.
var ErrNotReady = errors.New("no artifacts are served for this container")

// Resolve says how BindPaths treats symlinks under its source directory.
// Under the target directory a symlink is never followed.
type Resolve int

const (
	// NoSymlinks refuses a symlink anywhere under the source directory
	// (openat2 RESOLVE_NO_SYMLINKS|RESOLVE_BENEATH). BindArtifacts binds
	// from the per-container path this way: it holds only directories and
	// the artifacts.
	NoSymlinks Resolve = iota
	// InRoot resolves symlinks under the source directory as if it were
	// "/" (openat2 RESOLVE_IN_ROOT): the shim binds from a mounted image
	// view this way, whose symlinks are the image's own.
	InRoot
)

// BindArtifacts binds the kernel, the initrd and urunc.json of a container,
// as recorded in st, from its per-container path into monitorRootfs at the
// same relative paths: read-only, nosuid, nodev. Missing parent
// directories and empty target files are created; no symlink is followed,
// neither under the per-container path nor under monitorRootfs. On error,
// the binds made so far are removed. A state that is not Ready gives
// ErrNotReady.
//
// urunc calls it after it has cut mount propagation on its monitor rootfs
// (prepareRoot) and before it pivots into it, instead of copying the
// artifacts; see the package documentation.
func BindArtifacts(st *State, monitorRootfs string) error {
	if !st.Ready() {
		return ErrNotReady
	}
	paths := make([]string, 0, len(st.Artifacts))
	for _, a := range st.Artifacts {
		paths = append(paths, a.Path)
	}
	if err := BindPaths(st.Path, monitorRootfs, paths, NoSymlinks); err != nil {
		return fmt.Errorf("bind artifacts: %w", err)
	}
	return nil
}

// BindPaths binds each in-image path in paths from srcDir onto the same
// path under dstDir, read-only, nosuid and nodev, creating missing parent
// directories and empty target files under dstDir without following any
// symlink there; src says how symlinks under srcDir are treated. Each path
// must be clean and absolute (CheckFilePath); one named twice is bound
// once. Both directories are opened once, and every file is then reached
// from those descriptors. On error, the binds already made are undone.
func BindPaths(srcDir, dstDir string, paths []string, src Resolve) (err error) {
	srcRoot, err := unix.Open(srcDir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", srcDir, err)
	}
	defer unix.Close(srcRoot)
	dstRoot, err := unix.Open(dstDir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", dstDir, err)
	}
	defer unix.Close(dstRoot)

	var bound []int // the root of each bind made, open with O_PATH
	defer func() {
		for i := len(bound) - 1; i >= 0; i-- {
			if err != nil {
				// Detach: the path is free at once even if busy.
				_ = unix.Unmount(fdPath(bound[i]), unix.MNT_DETACH)
			}
			unix.Close(bound[i])
		}
	}()
	seen := map[string]bool{}
	for _, p := range paths {
		if seen[p] {
			continue
		}
		seen[p] = true
		mnt, err := bindFile(srcRoot, dstRoot, p, src)
		if err != nil {
			return fmt.Errorf("bind %s into %s: %w", p, dstDir, err)
		}
		bound = append(bound, mnt)
	}
	return nil
}

// bindFile binds in-image path p from the directory open as srcRoot onto
// the same path under the directory open as dstRoot, and returns the root
// of the new mount open with O_PATH.
func bindFile(srcRoot, dstRoot int, p string, resolve Resolve) (int, error) {
	if err := CheckFilePath(p); err != nil {
		return -1, err
	}
	src, err := openSource(srcRoot, p, resolve)
	if err != nil {
		return -1, err
	}
	defer unix.Close(src)
	dir, name, err := createTarget(dstRoot, p)
	if err != nil {
		return -1, err
	}
	defer unix.Close(dir)
	return bindReadOnly(src, dir, name)
}
