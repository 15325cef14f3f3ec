package shimglue

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

// entry is a per-container path or a view mount point of one container,
// named by the root and validated names only: never by a path read from a
// state file or found under the root.
type entry struct {
	root   string
	view   bool
	ns, id string
}

func (e entry) String() string {
	return filepath.Join(append(append([]string{e.root}, parents(e.view, e.ns)...), e.id)...)
}

// openParent opens the namespace directory of e beneath the marked root,
// checking the marker of every directory on the way. exists is false when
// the root or a directory on the way does not exist: then nothing of e can.
func (e entry) openParent() (fd int, exists bool, err error) {
	if err := checkNames(e.ns, e.id); err != nil {
		return -1, false, err
	}
	dir, err := openRoot(e.root)
	if errors.Is(err, iofs.ErrNotExist) || errors.Is(err, ErrNotOwned) && !e.parentExists() {
		// An unmarked root without e's namespace directory holds nothing
		// of e: a root no container was prepared in yet.
		return -1, false, nil
	}
	if err != nil {
		return -1, false, err
	}
	for _, name := range parents(e.view, e.ns) {
		next, err := openDir(dir, name)
		unix.Close(dir)
		if errors.Is(err, unix.ENOENT) {
			return -1, false, nil
		}
		if err == nil {
			err = requireMark(next, name, markDir)
			if errors.Is(err, ErrNotOwned) && !entryExists(next, e.id) {
				// Unmarked (a version before the markers made it, and
				// Prepare adopts it): nothing of e is in it.
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
func (e entry) parentExists() bool {
	_, err := os.Lstat(filepath.Join(append([]string{e.root}, parents(e.view, e.ns)...)...))
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
func (e entry) checkOwned(parent int) (exists bool, err error) {
	// The usual first Create: nothing there (a stale FUSE mount at e
	// gives ENOTCONN, not ENOENT), no mount to clone.
	if !entryExists(parent, e.id) {
		return false, nil
	}
	tree, err := unix.OpenTree(parent, "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH)
	if err != nil {
		return false, fmt.Errorf("%s: clone the mount of its parent: %w", e, err)
	}
	defer unix.Close(tree)
	fd, err := openDir(tree, e.id)
	if errors.Is(err, unix.ENOENT) {
		return false, nil
	}
	if err == nil {
		err = requireMark(fd, e.id, markEntry)
		unix.Close(fd)
	}
	if err != nil {
		return true, fmt.Errorf("%s: %w", e, err)
	}
	return true, nil
}

// clear unmounts what is mounted at e or below it, removes e, and then
// its namespace directory if that is left empty. Only a marked e in
// marked directories is touched. With dryRun it only checks. found says
// whether there was an e.
func (e entry) clear(dryRun bool) (found bool, err error) {
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
	if _, err := mounttable.UnmountTree(filepath.Join(dirPath, e.id)); err != nil {
		return true, fmt.Errorf("%s: %w", e, err)
	}
	if err := mounttable.RemoveAt(parent, e.id); err != nil {
		return true, fmt.Errorf("remove %s: %w", e, err)
	}
	e.removeEmptyParent()
	return true, nil
}

// removeEmptyParent removes e's namespace directory when it is empty and
// still marked. A namespace directory that another container's Create
// has just filled stays (ENOTEMPTY); makeEntry starts over when it loses
// the race the other way.
func (e entry) removeEmptyParent() {
	dir, err := openRoot(e.root)
	if err != nil {
		return
	}
	defer func() { unix.Close(dir) }()
	names := parents(e.view, e.ns)
	for _, name := range names[:len(names)-1] {
		next, err := openDir(dir, name)
		if err != nil {
			return
		}
		unix.Close(dir)
		dir = next
	}
	ns, err := openDir(dir, e.ns)
	if err != nil {
		return
	}
	owned := requireMark(ns, e.ns, markDir) == nil
	unix.Close(ns)
	if owned {
		// ENOTEMPTY, EEXIST, ENOENT, EBUSY: another container's, or gone.
		_ = unix.Unlinkat(dir, e.ns, unix.AT_REMOVEDIR)
	}
}
