package shimglue

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/artifactfs/artifactfs/internal/imagepath"
)

// ErrNotReady is returned by BindArtifacts for a state that serves nothing:
// none at all (no state file), or one written while Create was still in
// progress.
var ErrNotReady = errors.New("no artifacts are served for this container")

// BindArtifacts binds the kernel, the initrd and urunc.json of a container,
// as recorded in st, from its per-container path into monitorRootfs at the
// same relative paths: read-only, nosuid, nodev. Missing parent
// directories and empty target files are created; nothing on the way is
// followed if it is a symlink. On error, the binds made so far are
// removed. urunc calls this while it prepares the monitor rootfs, instead
// of copying the artifacts.
func BindArtifacts(st *State, monitorRootfs string) (err error) {
	if !st.Ready() {
		return ErrNotReady
	}
	srcRoot, err := unix.Open(st.Path, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("bind artifacts: open %s: %w", st.Path, err)
	}
	defer unix.Close(srcRoot)
	dstRoot, err := unix.Open(monitorRootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("bind artifacts: open %s: %w", monitorRootfs, err)
	}
	defer unix.Close(dstRoot)

	var bound []string
	defer func() {
		if err != nil {
			for i := len(bound) - 1; i >= 0; i-- {
				_ = unix.Unmount(bound[i], unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW)
			}
		}
	}()
	seen := map[string]bool{}
	for _, a := range st.Artifacts {
		if seen[a.Path] {
			continue // the same file named twice
		}
		seen[a.Path] = true
		target, err := bindFile(srcRoot, dstRoot, a.Path, monitorRootfs)
		if err != nil {
			return fmt.Errorf("bind artifacts: %s %s: %w", a.Kind, a.Path, err)
		}
		bound = append(bound, target)
	}
	return nil
}

// bindFile binds in-image path p from the directory open as srcRoot onto
// the same path under the directory open as dstRoot (named dstName) and
// returns the target's path.
func bindFile(srcRoot, dstRoot int, p, dstName string) (string, error) {
	clean, err := imagepath.Clean(p)
	if err != nil {
		return "", err
	}
	if clean != p || clean == "/" {
		return "", fmt.Errorf("%w %q: not a clean file path", imagepath.ErrInvalid, p)
	}
	src, err := openInRoot(srcRoot, clean)
	if err != nil {
		return "", err
	}
	defer unix.Close(src)
	dst, err := createTarget(dstRoot, clean)
	if err != nil {
		return "", err
	}
	defer unix.Close(dst)
	target := dstName + clean
	if err := bindReadOnly(src, dst, target); err != nil {
		return "", err
	}
	return target, nil
}
