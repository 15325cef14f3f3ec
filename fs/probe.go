package fs

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultTimeout bounds each look at a path that may be a FUSE mount whose
// server no longer answers (stopped with SIGSTOP, deadlocked): statfs,
// stat and lstat there would block for as long as the server does.
const DefaultTimeout = 5 * time.Second

var (
	// ErrHung is wrapped by the errors of Mount, Unmount and Probe when a
	// FUSE mount's server did not answer within the timeout.
	ErrHung = errors.New("the FUSE server does not answer (hung or stopped)")
	// ErrSymlinkMountpoint is wrapped by the errors of Mount and Unmount
	// when the mountpoint itself is a symlink: the mount would land on the
	// link's target, where nobody would look for it.
	ErrSymlinkMountpoint = errors.New("the mountpoint is a symlink (give the directory itself)")
)

// Within runs f, which looks at what may be a FUSE mount (what names it
// in the error), in a goroutine and waits for it at most timeout
// (DefaultTimeout when timeout is not positive). When time runs out, the
// goroutine is left blocked in the kernel (it returns when the server
// answers or its connection is aborted) and the error wraps ErrHung.
func Within(timeout time.Duration, what string, f func() error) error {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	done := make(chan error, 1)
	go func() { done <- f() }()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-timer.C:
		return fmt.Errorf("%s: %w (no answer within %s)", what, ErrHung, timeout)
	}
}

// Probe asks the filesystem at path for its statfs, which FUSE always
// sends to the server, and waits at most timeout. It returns nil for an
// answering filesystem, an error wrapping ErrHung for a server that does
// not answer, and the statfs error otherwise (ENOTCONN: the server is gone).
func Probe(path string, timeout time.Duration) error {
	_, err := statfsWithin(path, timeout)
	return err
}

// statfsWithin is statfs(2) bounded by timeout.
func statfsWithin(path string, timeout time.Duration) (unix.Statfs_t, error) {
	var st unix.Statfs_t
	res := make(chan unix.Statfs_t, 1)
	err := Within(timeout, "statfs "+path, func() error {
		var s unix.Statfs_t
		err := unix.Statfs(path, &s)
		res <- s
		return err
	})
	if err == nil {
		st = <-res
	}
	return st, err
}

// checkNotSymlink refuses a mountpoint that is a symlink, looking at it
// with lstat bounded by timeout.
func checkNotSymlink(mp string, timeout time.Duration) error {
	var fi os.FileInfo
	err := Within(timeout, "lstat "+mp, func() error {
		var err error
		fi, err = os.Lstat(mp)
		return err
	})
	switch {
	case err == nil && fi.Mode()&os.ModeSymlink != 0:
		target, _ := os.Readlink(mp)
		return fmt.Errorf("mountpoint %s: %w (it points to %q)", mp, ErrSymlinkMountpoint, target)
	case errors.Is(err, ErrHung):
		return err // names the lstat of mp
	}
	// Other errors (ENOENT, ENOTCONN of a stale mount) are for the
	// callers' own checks to report.
	return nil
}
