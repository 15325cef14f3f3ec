package layout

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/artifactfs/artifactfs/artifactbind"
	"github.com/artifactfs/artifactfs/internal/mounttable"
)

// Every directory artifactfs makes under its root — the root itself, .views,
// the namespace directories, the per-container paths and the view mount
// points — carries the extended attribute markerXattr, whose value says
// what it is. Cleanup and gc touch only what carries the marker, reach it
// from the root by descriptors (openat2 RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS),
// and never cross a mount point while removing. trusted.* attributes can be
// set and read only with CAP_SYS_ADMIN, so no other user can forge one.
const markerXattr = "trusted.artifactfs"

// The values of markerXattr.
const (
	markRoot  = "root"      // the root of the per-container paths
	markDir   = "dir"       // .views, and a namespace directory
	markEntry = "container" // a per-container path or a view mount point
)

// maxMkdirRetries bounds how often Entry.Make starts over when a namespace
// directory it opened was removed under it (by the teardown of the
// namespace's last container).
const maxMkdirRetries = 8

// ErrNotOwned is wrapped by every error about a directory under the root
// that artifactfs did not mark as its own, or that is reached through a
// symlink: cleanup and gc leave it alone.
var ErrNotOwned = errors.New("not marked as made by artifactfs")

// openDir opens the directory name under dir for reading, by the beneath
// rules; ELOOP (a symlink) becomes ErrNotOwned, EXDEV ErrMounted.
func openDir(dir int, name string) (int, error) {
	fd, err := mounttable.OpenAt(dir, name, unix.O_RDONLY|unix.O_DIRECTORY, mounttable.NoCross)
	switch {
	case errors.Is(err, unix.ELOOP), errors.Is(err, unix.ENOTDIR):
		// O_NOFOLLOW|O_DIRECTORY gives ENOTDIR for a symlink.
		what := "not a directory"
		var st unix.Stat_t
		if unix.Fstatat(dir, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
			what = "a symlink"
		}
		return -1, fmt.Errorf("%s: %w: %s", name, ErrNotOwned, what)
	case errors.Is(err, unix.EXDEV):
		return -1, fmt.Errorf("%s: %w", name, mounttable.ErrMounted)
	case err != nil:
		return -1, fmt.Errorf("open %s: %w", name, err)
	}
	return fd, nil
}

// marker returns the marker of the file open as fd, "" when it has none.
func marker(fd int) (string, error) {
	buf := make([]byte, 32)
	n, err := unix.Fgetxattr(fd, markerXattr, buf)
	switch {
	case errors.Is(err, unix.ENODATA), errors.Is(err, unix.ENOTSUP):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("read marker: %w", err)
	}
	return string(bytes.TrimSpace(buf[:n])), nil
}

// requireMark checks that the directory open as fd carries marker want.
func requireMark(fd int, name, want string) error {
	got, err := marker(fd)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if got != want {
		return fmt.Errorf("%s: %w (%s=%q, want %q)", name, ErrNotOwned, markerXattr, got, want)
	}
	return nil
}

// setMark marks the directory open as fd.
func setMark(fd int, name, value string) error {
	if err := unix.Fsetxattr(fd, markerXattr, []byte(value), 0); err != nil {
		return fmt.Errorf("mark %s as artifactfs's: %w", name, err)
	}
	return nil
}

// openRoot opens the root, which must carry the root marker. A root that
// does not exist gives an error wrapping fs.ErrNotExist. The root path is
// the configured one: symlinks in it are followed.
func openRoot(root string) (int, error) {
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open root %s: %w", root, &os.PathError{Op: "open", Path: root, Err: err})
	}
	if err := requireMark(fd, "root "+root, markRoot); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// EnsureRoot makes the root (mode 0700; an existing one is tightened to
// it) and marks it, as the shim does before it looks for what an earlier
// attempt left there: cleanup touches only a marked root. An existing root
// is marked as it is: what is in it stays unowned until artifactfs makes
// it. A directory marked as something else (a namespace, a container) is
// refused, so a root can never be nested in another.
func EnsureRoot(root string) error {
	fd, err := ensureRoot(root)
	if err != nil {
		return err
	}
	return unix.Close(fd)
}

// ensureRoot is EnsureRoot, returning the root open.
func ensureRoot(root string) (int, error) {
	if err := os.MkdirAll(root, dirPerm); err != nil {
		return -1, fmt.Errorf("make root: %w", err)
	}
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open root %s: %w", root, err)
	}
	got, err := marker(fd)
	if err == nil && got == "" {
		err = setMark(fd, "root "+root, markRoot)
	} else if err == nil && got != markRoot {
		err = fmt.Errorf("root %s: %w (%s=%q)", root, ErrNotOwned, markerXattr, got)
	}
	if err == nil {
		// A root made by an older version, or by hand, may be open to all.
		err = tighten(fd, "root "+root)
	}
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// mkdirOwned makes the directory name under dir with mode perm and marks
// it, and returns it open. An existing one must carry the marker, or be
// unmarked and then is adopted: an empty one holds nothing to protect,
// and a namespace or .views directory (mark markDir) is adopted whatever
// it holds — one left by a version before the markers must not fail every
// later Create — since marking it gives nothing in it away: its unmarked
// entries stay unowned (gc reports them and never removes them).
func mkdirOwned(dir int, name string, perm uint32, mark string) (int, error) {
	err := unix.Mkdirat(dir, name, perm)
	created := err == nil
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return -1, fmt.Errorf("mkdir %s: %w", name, err)
	}
	fd, err := openDir(dir, name)
	if err != nil {
		return -1, err
	}
	if !created {
		got, err := marker(fd)
		if err == nil && got != mark && (got != "" || mark != markDir && !emptyDir(fd)) {
			err = fmt.Errorf("%s: %w (%s=%q, want %q)", name, ErrNotOwned, markerXattr, got, mark)
		}
		if err != nil || got == mark {
			return closeOnErr(fd, err)
		}
	}
	// umask narrowed the mode of a new directory.
	if err := unix.Fchmod(fd, perm); err != nil {
		return closeOnErr(fd, fmt.Errorf("chmod %s: %w", name, err))
	}
	return closeOnErr(fd, setMark(fd, name, mark))
}

func closeOnErr(fd int, err error) (int, error) {
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// emptyDir reports whether the directory open as fd holds no entry.
func emptyDir(fd int) bool {
	d, err := unix.Openat(fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	f := os.NewFile(uintptr(d), ".")
	defer f.Close()
	names, err := f.Readdirnames(1)
	return err != nil && len(names) == 0
}

// parents returns the directories between the root and an entry: the
// namespace directory, under .views for a view mount point and under
// .images for a shared view's.
func (e Entry) parents() []string {
	switch {
	case e.Image:
		return []string{artifactbind.ImagesDir, e.Namespace}
	case e.View:
		return []string{artifactbind.ViewsDir, e.Namespace}
	}
	return []string{e.Namespace}
}

// dirPerm is the mode of the root and of every directory under it: only
// root may traverse them, so no other local user reaches a container's
// artifacts (urunc.json may carry secrets in its cmdline) nor a mounted
// view (the whole image). The VMM reads the artifacts through the binds
// urunc makes of them into its monitor rootfs, whatever uid it runs as:
// a bind does not pass through these directories, and the FUSE mount
// allows other users, with each file's own mode (docs/operations.md,
// "Permissions").
const dirPerm = 0o700

// Make makes e and the directories above it (the root, .views for a view,
// the namespace directory), marking every directory it makes, and returns
// its path. An existing one must carry its marker (ErrNotOwned). When a
// namespace directory is removed under it by a concurrent teardown, it
// starts over.
func (e Entry) Make() (string, error) {
	if err := checkNames(e.Namespace, e.ID); err != nil {
		return "", err
	}
	for range maxMkdirRetries {
		err := e.makeOnce()
		if !errors.Is(err, unix.ENOENT) {
			return e.String(), err
		}
	}
	return "", fmt.Errorf("make the directories of %s/%s: namespace directory removed %d times under us", e.Namespace, e.ID, maxMkdirRetries)
}

func (e Entry) makeOnce() error {
	dir, err := ensureRoot(e.Root)
	if err != nil {
		return err
	}
	defer func() { unix.Close(dir) }()
	for _, name := range e.parents() {
		next, err := mkdirOwned(dir, name, dirPerm, markDir)
		if err != nil {
			return err
		}
		unix.Close(dir)
		dir = next
	}
	fd, err := mkdirOwned(dir, e.ID, dirPerm, markEntry)
	if err != nil {
		return err
	}
	return unix.Close(fd)
}

// checkNames checks that ns and id are plain path components.
func checkNames(ns, id string) error {
	_, err := artifactbind.ContainerPath("/", ns, id)
	return err
}

// MakeContainerDirs makes, as the shim does before it mounts anything,
// the marked per-container path and view mount point of container ns/id
// under root, and returns them. Tools and tests that recreate what a
// crashed shim left use it; the shim itself makes each when it needs it.
func MakeContainerDirs(root, ns, id string) (path, viewMountpoint string, err error) {
	if path, err = (Entry{Root: root, Namespace: ns, ID: id}).Make(); err != nil {
		return "", "", err
	}
	viewMountpoint, err = Entry{Root: root, View: true, Namespace: ns, ID: id}.Make()
	return path, viewMountpoint, err
}

// tighten sets the mode of the directory open as fd to dirPerm when it is
// more open.
func tighten(fd int, what string) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("stat %s: %w", what, err)
	}
	if st.Mode&0o777&^dirPerm == 0 {
		return nil
	}
	if err := unix.Fchmod(fd, dirPerm); err != nil {
		return fmt.Errorf("chmod %s: %w", what, err)
	}
	return nil
}
