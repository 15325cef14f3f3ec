package layout

import (
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"path/filepath"
	"sort"

	"golang.org/x/sys/unix"

	"github.com/artifactfs/artifactfs/artifactbind"
	"github.com/artifactfs/artifactfs/internal/mounttable"
)

// ErrNotRoot is wrapped by the error Scan returns for a directory that
// does not carry the root marker: not a root the shim made, most likely a
// wrong --root.
var ErrNotRoot = errors.New("not an artifactfs root")

// mountedWhy says what a namespace directory with something mounted on it
// is: artifactfs mounts nothing there.
const mountedWhy = "a mount point artifactfs did not make"

// Found is one entry under the root as Scan finds it: a per-container path
// when Owned, else something artifactfs did not make.
type Found struct {
	// Namespace is the namespace directory's name; ID the entry's name in
	// it, empty when the namespace directory itself is not artifactfs's.
	Namespace, ID string
	// Path is the entry's path under the root as given.
	Path string
	// Owned is true for a per-container path: the namespace directory and
	// the entry carry artifactfs's markers.
	Owned bool
	// Why says, when not Owned, what the entry is not.
	Why string
}

// Scan lists the namespace directories of root and the entries in them,
// sorted, skipping .views and .images. root must carry the root marker
// (else an error wrapping ErrNotRoot); a root that does not exist gives an
// error wrapping fs.ErrNotExist. Nothing is followed below the root, and
// an entry's marker is read beneath whatever is mounted on it (through a
// clone of its namespace directory's mount without submounts), so a FUSE
// mount there, live or hung, is never asked.
func Scan(root string) ([]Found, error) {
	dir, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open root", Path: root, Err: err}
	}
	defer unix.Close(dir)
	got, err := marker(dir)
	if err != nil {
		return nil, fmt.Errorf("root %s: %w", root, err)
	}
	if got != markRoot {
		return nil, fmt.Errorf("%s is %w: it has no %s=%q marker, which the shim sets on the root it makes (is --root right?)", root, ErrNotRoot, markerXattr, markRoot)
	}
	names, err := readEntries(dir)
	if err != nil {
		return nil, fmt.Errorf("read root %s: %w", root, err)
	}
	var out []Found
	for _, ns := range names {
		if ns.Name() == artifactbind.ViewsDir || ns.Name() == artifactbind.ImagesDir {
			continue
		}
		if why := notADir(ns.Type()); why != "" {
			out = append(out, Found{Namespace: ns.Name(), Path: filepath.Join(root, ns.Name()), Why: why})
			continue
		}
		found, err := scanNamespace(dir, root, ns.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, found...)
	}
	return out, nil
}

// scanNamespace lists the entries of the namespace directory ns, open
// beneath the root dir.
func scanNamespace(dir int, root, ns string) ([]Found, error) {
	path := filepath.Join(root, ns)
	fd, err := openDir(dir, ns)
	if errors.Is(err, mounttable.ErrMounted) {
		return []Found{{Namespace: ns, Path: path, Why: mountedWhy}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	defer unix.Close(fd)
	if got, err := marker(fd); err != nil || got != markDir {
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return []Found{{Namespace: ns, Path: path, Why: unmarked(got)}}, nil
	}
	// Below the mounts on the entries: their own directories' markers.
	tree, err := unix.OpenTree(fd, "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH)
	if err != nil {
		return nil, fmt.Errorf("%s: clone its mount: %w", path, err)
	}
	defer unix.Close(tree)
	ids, err := readEntries(tree)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	out := make([]Found, 0, len(ids))
	for _, id := range ids {
		f := Found{Namespace: ns, ID: id.Name(), Path: filepath.Join(path, id.Name()), Why: notADir(id.Type())}
		if f.Why == "" {
			if f.Owned, f.Why, err = entryMarked(tree, id.Name()); err != nil {
				return nil, fmt.Errorf("%s: %w", f.Path, err)
			}
		}
		out = append(out, f)
	}
	return out, nil
}

// entryMarked reports whether the directory id in the namespace
// directory's mount clone dir (no submounts: nothing mounted on id is
// reached) carries the entry marker, and if not, what it is.
func entryMarked(dir int, id string) (bool, string, error) {
	fd, err := openDir(dir, id)
	if err != nil {
		return false, "", err
	}
	defer unix.Close(fd)
	got, err := marker(fd)
	if err != nil || got == markEntry {
		return err == nil, "", err
	}
	return false, unmarked(got), nil
}

// unmarked says what an entry carrying marker got (maybe none) is not.
func unmarked(got string) string {
	if got == "" {
		return "not marked as made by artifactfs"
	}
	return fmt.Sprintf("not a per-container path (%s=%q)", markerXattr, got)
}

// notADir says what an entry of type typ, not a directory, is; "" for a
// directory. The type comes from the directory listing, so nothing
// mounted on the entry is asked.
func notADir(typ iofs.FileMode) string {
	switch {
	case typ&iofs.ModeSymlink != 0:
		return "a symlink, not made by artifactfs"
	case !typ.IsDir():
		return "not a directory, not made by artifactfs"
	}
	return ""
}

// readEntries lists the directory open as fd, sorted by name; fd stays
// open.
func readEntries(fd int) ([]iofs.DirEntry, error) {
	d, err := unix.Openat(fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(d), ".")
	defer f.Close()
	entries, err := f.ReadDir(-1)
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	return entries, err
}
