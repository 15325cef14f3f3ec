package mounttable

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// ErrMounted is wrapped when a removal meets a mount point it must not
// cross.
var ErrMounted = errors.New("a file system is mounted there")

// NoCross is how a path below a directory descriptor is resolved when
// nothing may escape: no symlink, no magic link, no step out of the
// directory, no mount point crossed (EXDEV).
const NoCross = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV

// maxRemoveDepth bounds how deep RemoveAt descends: a per-container path
// holds the artifacts' directories only.
const maxRemoveDepth = 64

// OpenAt opens name in the directory open as dir with openat2(2): flags
// plus O_CLOEXEC|O_NOFOLLOW, resolved with resolve (NoCross, or NoCross
// without RESOLVE_NO_XDEV to enter a mount at name), retried on EAGAIN and
// EINTR. A symlink gives ELOOP, a mount point crossed EXDEV.
func OpenAt(dir int, name string, flags, resolve uint64) (int, error) {
	how := unix.OpenHow{Flags: flags | unix.O_CLOEXEC | unix.O_NOFOLLOW, Resolve: resolve}
	for {
		fd, err := unix.Openat2(dir, name, &how)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		return fd, err
	}
}

// RemoveAt removes name in the directory open as dir and everything below
// it, reaching each file from its parent's descriptor: a symlink is
// removed, never followed, and a mount point met on the way (EXDEV, or
// EBUSY from the kernel) stops the removal with an error wrapping
// ErrMounted instead of being crossed. What does not exist is no error.
func RemoveAt(dir int, name string) error {
	return removeAt(dir, name, 0)
}

func removeAt(dir int, name string, depth int) error {
	if depth > maxRemoveDepth {
		return fmt.Errorf("%s: deeper than %d directories", name, maxRemoveDepth)
	}
	var st unix.Stat_t
	err := unix.Fstatat(dir, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	switch {
	case errors.Is(err, unix.ENOENT):
		return nil
	case err != nil:
		return fmt.Errorf("stat %s: %w", name, err)
	case st.Mode&unix.S_IFMT == unix.S_IFLNK:
		return unlinkAt(dir, name, 0)
	}
	// O_PATH with RESOLVE_NO_XDEV: EXDEV when a file system (a bind of a
	// file, too) is mounted on name.
	fd, err := OpenAt(dir, name, unix.O_PATH, NoCross)
	if errors.Is(err, unix.EXDEV) {
		return fmt.Errorf("%s: %w", name, ErrMounted)
	}
	if err != nil {
		return fmt.Errorf("open %s: %w", name, err)
	}
	defer unix.Close(fd)
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return unlinkAt(dir, name, 0)
	}
	sub, err := OpenAt(fd, ".", unix.O_RDONLY|unix.O_DIRECTORY, NoCross)
	if err != nil {
		return fmt.Errorf("open %s: %w", name, err)
	}
	f := os.NewFile(uintptr(sub), name)
	defer f.Close()
	children, err := f.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	for _, c := range children {
		if err := removeAt(sub, c, depth+1); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return unlinkAt(dir, name, unix.AT_REMOVEDIR)
}

func unlinkAt(dir int, name string, flags int) error {
	err := unix.Unlinkat(dir, name, flags)
	switch {
	case err == nil, errors.Is(err, unix.ENOENT):
		return nil
	case errors.Is(err, unix.EBUSY):
		return fmt.Errorf("remove %s: %w", name, ErrMounted)
	}
	return fmt.Errorf("remove %s: %w", name, err)
}
