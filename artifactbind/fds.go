package artifactbind

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// pathFlags open a file or directory as a handle only, never following a
// symlink in the last component.
const pathFlags = unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC

// openSource opens the regular file at p (a clean in-image path) under the
// directory open as rootFd with O_PATH. With NoSymlinks any symlink on the
// way is refused (ELOOP) and nothing outside rootFd is reached; with
// InRoot, symlinks resolve as if rootFd were "/".
func openSource(rootFd int, p string, resolve Resolve) (int, error) {
	how := unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS,
	}
	if resolve == InRoot {
		how.Resolve = unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS
	}
	rel := strings.TrimPrefix(p, "/")
	for {
		fd, err := unix.Openat2(rootFd, rel, &how)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return -1, fmt.Errorf("open source %s: %w", p, err)
		}
		if err := requireType(fd, unix.S_IFREG); err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("source %s: %w", p, err)
		}
		return fd, nil
	}
}

// createTarget makes sure the regular file at p (a clean in-image path)
// exists under the directory open as rootFd, with its parent directories,
// without following any symlink: every component is opened with
// O_NOFOLLOW from the one before it. It returns the parent directory open
// with O_PATH and the file's name in it. An existing regular file (a
// retry, or urunc's own) is reused; anything else is refused.
func createTarget(rootFd int, p string) (dir int, name string, err error) {
	names := strings.Split(strings.TrimPrefix(p, "/"), "/")
	dir, err = unix.Dup(rootFd)
	if err != nil {
		return -1, "", fmt.Errorf("dup: %w", err)
	}
	defer func() {
		if err != nil {
			unix.Close(dir)
		}
	}()
	for _, n := range names[:len(names)-1] {
		if err := unix.Mkdirat(dir, n, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
			return -1, "", fmt.Errorf("mkdir %s in %s: %w", n, p, err)
		}
		// O_DIRECTORY with O_NOFOLLOW: a symlink gives ENOTDIR.
		next, err := unix.Openat(dir, n, pathFlags|unix.O_DIRECTORY, 0)
		if err != nil {
			return -1, "", fmt.Errorf("open dir %s in %s: %w", n, p, err)
		}
		unix.Close(dir)
		dir = next
	}
	last := names[len(names)-1]
	c, err := unix.Openat(dir, last, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o444)
	switch {
	case err == nil:
		unix.Close(c)
	case !errors.Is(err, unix.EEXIST):
		// EEXIST also for a symlink, dangling or not: O_EXCL never follows.
		return -1, "", fmt.Errorf("create %s: %w", p, err)
	}
	fd, err := unix.Openat(dir, last, pathFlags, 0)
	if err != nil {
		return -1, "", fmt.Errorf("open target %s: %w", p, err)
	}
	defer unix.Close(fd)
	if err := requireType(fd, unix.S_IFREG); err != nil {
		return -1, "", fmt.Errorf("target %s: %w", p, err)
	}
	return dir, last, nil
}

// requireType checks the type of the file open as fd.
func requireType(fd int, want uint32) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("stat: %w", err)
	}
	if got := st.Mode & unix.S_IFMT; got != want {
		return fmt.Errorf("%s, not a %s", typeName(got), typeName(want))
	}
	return nil
}

func typeName(t uint32) string {
	switch t {
	case unix.S_IFREG:
		return "regular file"
	case unix.S_IFDIR:
		return "directory"
	case unix.S_IFLNK:
		return "symlink"
	}
	return "special file"
}

// fdPath names the file open as fd through /proc, for the calls that take
// a path only.
func fdPath(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }
