package layout

import (
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/artifactfs/artifactfs/internal/mounttable"
)

// Entry is the per-container path (View false) or the view mount point
// (View true) of one container, named by the root and validated names
// only: never by a path read from a state file or found under the root.
type Entry struct {
	// Root is the root of the per-container paths.
	Root string
	// View selects the view mount point <root>/.views/<ns>/<id> instead
	// of the per-container path <root>/<ns>/<id>.
	View bool
	// Image selects the mount point of a view shared by the containers
	// of one image, <root>/.images/<ns>/<id>, id being the view's name
	// (artifactbind.SharedName); see Image.
	Image bool
	// Namespace and ID name the container.
	Namespace, ID string
}

// String returns the path of e.
func (e Entry) String() string {
	return filepath.Join(append(append([]string{e.Root}, e.parents()...), e.ID)...)
}

// openParent opens the namespace directory of e beneath the marked root,
// checking the marker of every directory on the way. exists is false when
// the root or a directory on the way does not exist: then nothing of e can.
func (e Entry) openParent() (fd int, exists bool, err error) {
	if err := checkNames(e.Namespace, e.ID); err != nil {
		return -1, false, err
	}
	dir, err := openRoot(e.Root)
	if errors.Is(err, iofs.ErrNotExist) || errors.Is(err, ErrNotOwned) && !e.parentExists() {
		// An unmarked root without e's namespace directory holds nothing
		// of e: a root no container was prepared in yet.
		return -1, false, nil
	}
	if err != nil {
		return -1, false, err
	}
	for _, name := range e.parents() {
		next, err := openDir(dir, name)
		unix.Close(dir)
		if errors.Is(err, unix.ENOENT) {
			return -1, false, nil
		}
		if err == nil {
			err = requireMark(next, name, markDir)
			if errors.Is(err, ErrNotOwned) && !entryExists(next, e.ID) {
				// Unmarked (a version before the markers made it, and
				// Make adopts it): nothing of e is in it.
				unix.Close(next)
				return -1, false, nil
			}
		}
		if err != nil {
			return closeErr(next, fmt.Errorf("%s: %w", e, err))
		}
		dir = next
	}
	return dir, true, nil
}

// entryExists reports whether name exists in the directory open as dir
// (not followed).
func entryExists(dir int, name string) bool {
	var st unix.Stat_t
	return !errors.Is(unix.Fstatat(dir, name, &st, unix.AT_SYMLINK_NOFOLLOW), unix.ENOENT)
}

// parentExists reports whether e's namespace directory, or something in
// its place, exists (Lstat: not followed).
func (e Entry) parentExists() bool {
	_, err := os.Lstat(filepath.Join(append([]string{e.Root}, e.parents()...)...))
	return !errors.Is(err, iofs.ErrNotExist)
}

func closeErr(fd int, err error) (int, bool, error) {
	if fd >= 0 {
		unix.Close(fd)
	}
	return -1, false, err
}

// checkOwned checks the marker of e's own directory as it is below
// whatever is mounted on it: it is read through a clone of the namespace
// directory's mount without its submounts (open_tree), so a live or stale
// mount at e does not hide it. exists is false when there is no e.
func (e Entry) checkOwned(parent int) (exists bool, err error) {
	// The usual first Create: nothing there (a stale FUSE mount at e
	// gives ENOTCONN, not ENOENT), no mount to clone.
	if !entryExists(parent, e.ID) {
		return false, nil
	}
	tree, err := unix.OpenTree(parent, "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH)
	if err != nil {
		return false, fmt.Errorf("%s: clone the mount of its parent: %w", e, err)
	}
	defer unix.Close(tree)
	fd, err := openDir(tree, e.ID)
	if errors.Is(err, unix.ENOENT) {
		return false, nil
	}
	if err == nil {
		err = requireMark(fd, e.ID, markEntry)
		if errors.Is(err, ErrNotOwned) && emptyDir(fd) && !e.mountedOn(parent) {
			// An empty directory with nothing mounted on it, as a Create
			// killed between its mkdir and its marker leaves: it holds
			// nothing to protect (Make adopts it by the same rule).
			err = nil
		}
		unix.Close(fd)
	}
	if err != nil {
		return true, fmt.Errorf("%s: %w", e, err)
	}
	return true, nil
}

// mountedOn reports whether the mount table has a mount at e in the
// namespace directory open as parent (read from the table, so a mount
// whose server hangs is never asked); when in doubt, true.
func (e Entry) mountedOn(parent int) bool {
	dirPath, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(parent))
	if err != nil {
		return true
	}
	_, found, err := mounttable.Find(filepath.Join(dirPath, e.ID))
	return err != nil || found
}

// Clear unmounts what is mounted at e or below it, removes e, and then
// its namespace directory if that is left empty. Only a marked e in
// marked directories is touched. With dryRun it only checks. found says
// whether there was an e.
func (e Entry) Clear(dryRun bool) (found bool, err error) {
	parent, exists, err := e.openParent()
	if err != nil || !exists {
		return false, err
	}
	defer unix.Close(parent)
	if found, err = e.checkOwned(parent); err != nil || !found || dryRun {
		return found, err
	}
	// The kernel's name for the namespace directory is the path the mount
	// table uses; no symlink lies between it and e.
	dirPath, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(parent))
	if err != nil {
		return true, fmt.Errorf("%s: %w", e, err)
	}
	if _, err := mounttable.UnmountTree(filepath.Join(dirPath, e.ID)); err != nil {
		return true, fmt.Errorf("%s: %w", e, err)
	}
	if err := mounttable.RemoveAt(parent, e.ID); err != nil {
		return true, fmt.Errorf("remove %s: %w", e, err)
	}
	e.removeEmptyParent()
	return true, nil
}

// removeEmptyParent removes e's namespace directory when it is empty and
// still marked. A namespace directory that another container's Create
// has just filled stays (ENOTEMPTY); Make starts over when it loses
// the race the other way.
func (e Entry) removeEmptyParent() {
	dir, err := openRoot(e.Root)
	if err != nil {
		return
	}
	defer func() { unix.Close(dir) }()
	names := e.parents()
	for _, name := range names[:len(names)-1] {
		next, err := openDir(dir, name)
		if err != nil {
			return
		}
		unix.Close(dir)
		dir = next
	}
	ns, err := openDir(dir, e.Namespace)
	if err != nil {
		return
	}
	owned := requireMark(ns, e.Namespace, markDir) == nil
	unix.Close(ns)
	if owned {
		// ENOTEMPTY, EEXIST, ENOENT, EBUSY: another container's, or gone.
		_ = unix.Unlinkat(dir, e.Namespace, unix.AT_REMOVEDIR)
	}
}

// List returns the names in the namespace directory ns (under .views when
// view is true) of root, reached from the marked root without following a
// symlink; the directory must be marked. A root or namespace directory
// that does not exist holds nothing.
func List(root string, view bool, ns string) ([]string, error) {
	return Entry{Root: root, View: view, Namespace: ns, ID: "x"}.siblings()
}

// siblings returns the names in e's namespace directory (see List).
func (e Entry) siblings() ([]string, error) {
	parent, exists, err := e.openParent()
	if err != nil || !exists {
		return nil, err
	}
	f := os.NewFile(uintptr(parent), filepath.Join(append([]string{e.Root}, e.parents()...)...))
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", f.Name(), err)
	}
	return names, nil
}
