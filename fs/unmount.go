package fs

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/artifactfs/artifactfs/internal/mounttable"
)

var (
	// ErrNotMounted is returned by Unmount when nothing is mounted at the
	// path.
	ErrNotMounted = errors.New("not a mount point")
	// ErrNotArtifactfs is returned by Unmount when the mount at the path
	// is not an artifactfs mount.
	ErrNotArtifactfs = errors.New("not an artifactfs mount")
	// ErrDetached is returned by Mounted.Unmount when a file on the mount was
	// still open: the mount was detached lazily (MNT_DETACH), so the path
	// is free, and the open files are served until they are closed.
	ErrDetached = errors.New("mount busy, detached lazily")
)

// maxStacked bounds how many stale mounts stacked on one path CleanStale
// removes.
const maxStacked = 8

// CleanStale detaches a stale FUSE mount at mountpoint: one whose server is
// gone, so that every access fails with ENOTCONN. It reports whether it
// detached anything. A healthy mount or a plain directory is left alone.
func CleanStale(mountpoint string) (bool, error) {
	mp, err := mounttable.Canonical(mountpoint)
	if err != nil {
		return false, err
	}
	return cleanStale(mp, DefaultTimeout)
}

// cleanStale is CleanStale for a canonical mountpoint, each statfs bounded
// by timeout.
func cleanStale(mp string, timeout time.Duration) (bool, error) {
	cleaned := false
	for i := 0; i < maxStacked; i++ {
		stale, err := isStale(mp, timeout)
		if err != nil || !stale {
			return cleaned, err
		}
		e, ok, err := mounttable.Find(mp)
		if err != nil {
			return cleaned, err
		}
		if !ok || !strings.HasPrefix(e.FSType, "fuse") {
			return cleaned, fmt.Errorf("%s: not connected, but no FUSE mount is there", mp)
		}
		if err := unmountPath(mp, true); err != nil {
			return cleaned, fmt.Errorf("detach stale mount %s: %w", mp, err)
		}
		cleaned = true
	}
	return cleaned, fmt.Errorf("%s: more than %d stale mounts stacked", mp, maxStacked)
}

// isStale reports whether path is the root of a FUSE mount whose server is
// gone. It asks statfs, which FUSE always sends to the server: a stat can
// be answered from the kernel's attribute cache long after the server
// died. A missing path is not stale. A server that does not answer within
// timeout is an error wrapping ErrHung.
func isStale(path string, timeout time.Duration) (bool, error) {
	_, err := statfsWithin(path, timeout)
	switch {
	case err == nil, errors.Is(err, unix.ENOENT):
		return false, nil
	case errors.Is(err, unix.ENOTCONN), errors.Is(err, unix.ECONNABORTED):
		return true, nil
	case errors.Is(err, ErrHung):
		return false, fmt.Errorf("%w; `artifactfs umount %s` detaches it", err, path)
	default:
		return false, fmt.Errorf("statfs %s: %w", path, err)
	}
}

// Unmount is UnmountWithin with DefaultTimeout.
func Unmount(mountpoint string, lazy bool) error {
	return UnmountWithin(mountpoint, lazy, DefaultTimeout)
}

// UnmountWithin unmounts the artifactfs mount at mountpoint, served by this
// or another process. A stale mount (server gone) is detached. A mount
// whose server does not answer a statfs within timeout (stopped, hung) has
// its connection aborted through fusectl (mounted for the purpose when it is not), and is
// detached. When a file on the mount is open, it fails with an error
// wrapping syscall.EBUSY, unless lazy is set: then the mount is detached
// (MNT_DETACH) and its server exits once the last file is closed. A
// mountpoint that is a symlink is refused (ErrSymlinkMountpoint).
func UnmountWithin(mountpoint string, lazy bool, timeout time.Duration) error {
	mp, err := mounttable.Canonical(mountpoint)
	if err != nil {
		return err
	}
	e, ok, err := mounttable.Find(mp)
	if err != nil {
		return err
	}
	if !ok {
		// Only now: a mount point is never a symlink, and its lstat
		// could hang.
		if err := checkNotSymlink(mp, timeout); err != nil {
			return err
		}
		return fmt.Errorf("unmount %s: %w", mp, ErrNotMounted)
	}
	if e.FSType != FSType {
		return fmt.Errorf("unmount %s: %w (it is %s from %s)", mp, ErrNotArtifactfs, e.FSType, e.Source)
	}
	stale, err := isStale(mp, timeout)
	if errors.Is(err, ErrHung) {
		return detachHung(mp)
	}
	if err == nil && stale {
		if err := unmountPath(mp, true); err != nil {
			return fmt.Errorf("detach stale mount %s: %w", mp, err)
		}
		return nil
	}
	err = unmountPath(mp, false)
	if err != nil && lazy {
		// Busy, or refused by fusermount3 for a reason it only prints.
		err = unmountPath(mp, true)
	}
	if errors.Is(err, unix.EBUSY) {
		return fmt.Errorf("unmount %s: %w (a file on it is open; detach lazily to free the path now)", mp, err)
	}
	if err != nil {
		return fmt.Errorf("unmount %s: %w", mp, err)
	}
	return nil
}

// detachHung frees mp from a mount whose server does not answer: it aborts
// the connection (best effort: fusectl is mounted when missing, which needs root), which wakes
// every process waiting on the server, and detaches the mount.
func detachHung(mp string) error {
	abortErr := abortMount(mp)
	if err := unmountPath(mp, true); err != nil {
		return fmt.Errorf("detach hung mount %s: %w (abort: %v)", mp, err, abortErr)
	}
	return nil
}

// unmountPath unmounts mp with umount2, lazily if detach is set. Without
// the privilege for that (EPERM), it asks fusermount3, which lets a user
// unmount their own FUSE mounts.
func unmountPath(mp string, detach bool) error {
	flags := 0
	if detach {
		flags = unix.MNT_DETACH
	}
	err := unix.Unmount(mp, flags)
	if !errors.Is(err, unix.EPERM) {
		return err
	}
	bin, lookErr := exec.LookPath("fusermount3")
	if lookErr != nil {
		return err
	}
	args := []string{"-u", "-q"}
	if detach {
		args = append(args, "-z")
	}
	var stderr bytes.Buffer
	cmd := exec.Command(bin, append(args, "--", mp)...)
	cmd.Stderr = &stderr
	if runErr := cmd.Run(); runErr != nil {
		return fmt.Errorf("fusermount3 %s: %w: %s", strings.Join(args, " "), runErr, strings.TrimSpace(stderr.String()))
	}
	return nil
}
