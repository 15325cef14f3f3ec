package layout

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/artifactfs/artifactfs/artifactbind"
)

// Image is the host's one mount of a view that the containers of one
// image share (view.PrepareShared): <root>/.images/<ns>/<name>. Every
// container that reads from it holds a reference, an empty file
// <name>@<container-id> beside it. The first Acquire mounts it; the
// Release of the last reference unmounts and removes it. Both run under
// the host's lock on the .images directory, so that the shims of one host
// agree; the references of a container whose shim was killed are dropped
// by the shim's delete command (ReleaseContainer) or by gc.
type Image struct {
	// Root is the root of the per-container paths.
	Root string
	// Namespace is the containerd namespace of the containers sharing it.
	Namespace string
	// Name names the view (artifactbind.SharedName).
	Name string
}

// refSep separates the view's name from the container id in the name of a
// reference; a name (hex) never holds it.
const refSep = "@"

func (im Image) entry() Entry {
	return Entry{Root: im.Root, Image: true, Namespace: im.Namespace, ID: im.Name}
}

// Mountpoint returns where the view is mounted.
func (im Image) Mountpoint() string { return im.entry().String() }

func (im Image) check(id string) error {
	if !artifactbind.SharedName(im.Name) {
		return fmt.Errorf("shared view %q: %w: not 32 hex digits", im.Name, artifactbind.ErrInvalidName)
	}
	return checkNames(im.Namespace, id)
}

// Acquire records container id as a holder of im and, when the view is
// not mounted yet, calls mount on its mount point; it returns the mount
// point. When mount fails, id's reference goes again (and the mount point,
// if no other container holds it).
func (im Image) Acquire(id string, mount func(mountpoint string) error) (string, error) {
	if err := im.check(id); err != nil {
		return "", err
	}
	unlock, err := lockImages(im.Root)
	if err != nil {
		return "", err
	}
	defer unlock()
	mp := im.Mountpoint()
	parent, exists, err := im.entry().openParent()
	if err == nil && exists {
		var mounted bool
		if mounted, err = mountedAt(parent, im.Name); err == nil && !mounted {
			unix.Close(parent)
			exists = false
		}
	}
	if err != nil {
		return "", err
	}
	if !exists { // not mounted yet: make the mount point
		if _, err := im.entry().Make(); err != nil {
			return "", err
		}
		if parent, _, err = im.entry().openParent(); err != nil {
			return "", err
		}
	}
	defer unix.Close(parent)
	ref, err := unix.Openat(parent, im.Name+refSep+id, unix.O_CREAT|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return "", fmt.Errorf("reference %s to %s: %w", id, mp, err)
	}
	unix.Close(ref)
	mounted, err := mountedAt(parent, im.Name)
	if err == nil && !mounted {
		err = mount(mp)
	}
	if err != nil {
		_, derr := im.drop(parent, id)
		return "", errors.Join(err, derr)
	}
	return mp, nil
}

// Release drops container id's reference to im and, when it was the last,
// unmounts the view and removes its mount point; last reports that. What
// is gone already is no error.
func (im Image) Release(id string) (last bool, err error) {
	if err := im.check(id); err != nil {
		return false, err
	}
	unlock, err := lockImages(im.Root)
	if err != nil {
		return false, err
	}
	defer unlock()
	parent, exists, err := im.entry().openParent()
	if err != nil || !exists {
		return false, err
	}
	defer unix.Close(parent)
	return im.drop(parent, id)
}

// ClearUnheld unmounts and removes im's mount point when no container
// holds it (with dryRun, only checks); found says whether there was one
// to clear.
func (im Image) ClearUnheld(dryRun bool) (found bool, err error) {
	if !artifactbind.SharedName(im.Name) {
		return false, fmt.Errorf("shared view %q: %w: not 32 hex digits", im.Name, artifactbind.ErrInvalidName)
	}
	unlock, err := lockImages(im.Root)
	if err != nil {
		return false, err
	}
	defer unlock()
	if holders, err := im.Holders(); err != nil || len(holders) > 0 && !dryRun {
		return false, err
	}
	return im.entry().Clear(dryRun)
}

// drop removes id's reference from the namespace directory open as parent
// and, when none is left, clears the mount point. The caller holds the
// lock.
func (im Image) drop(parent int, id string) (last bool, err error) {
	if err := unix.Unlinkat(parent, im.Name+refSep+id, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return false, fmt.Errorf("drop the reference of %s to %s: %w", id, im.Mountpoint(), err)
	}
	holders, err := im.Holders()
	if err != nil || len(holders) > 0 {
		return false, err
	}
	if _, err := im.entry().Clear(false); err != nil {
		return false, fmt.Errorf("shared view: %w", err)
	}
	return true, nil
}

// Holders returns the ids of the containers holding a reference to im,
// sorted.
func (im Image) Holders() ([]string, error) {
	held, err := Images(im.Root, im.Namespace)
	for _, h := range held {
		if h.Name == im.Name {
			return h.Holders, err
		}
	}
	return nil, err
}

// Held is a shared view's host mount and the containers holding it.
type Held struct {
	Image
	// Holders are the ids of the containers holding a reference, sorted.
	Holders []string
}

// Images returns the shared views mounted, or with references, in
// namespace ns under root, with their holders, from one listing of the
// namespace directory.
func Images(root, ns string) ([]Held, error) {
	names, err := Entry{Root: root, Image: true, Namespace: ns, ID: "x"}.siblings()
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	var out []Held
	for _, n := range names {
		name, id, isRef := strings.Cut(n, refSep)
		if !artifactbind.SharedName(name) {
			continue
		}
		if len(out) == 0 || out[len(out)-1].Name != name {
			out = append(out, Held{Image: Image{Root: root, Namespace: ns, Name: name}})
		}
		if isRef {
			h := &out[len(out)-1]
			h.Holders = append(h.Holders, id)
		}
	}
	return out, nil
}

// ReleaseContainer drops every reference container id holds to a shared
// view of namespace ns (Release), whatever its state file says: the
// shim's delete command and gc use it after a crash.
func ReleaseContainer(root, ns, id string) error {
	held, err := Images(root, ns)
	if err != nil {
		return err
	}
	var errs []error
	for _, h := range held {
		if slices.Contains(h.Holders, id) {
			_, err := h.Release(id)
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// mountedAt reports whether something is mounted on name in the directory
// open as dir: a device other than dir's.
func mountedAt(dir int, name string) (bool, error) {
	var d, st unix.Stat_t
	if err := unix.Fstat(dir, &d); err != nil {
		return false, err
	}
	err := unix.Fstatat(dir, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	if errors.Is(err, unix.ENOENT) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("stat %s: %w", name, err)
	}
	return st.Dev != d.Dev, nil
}

// lockImages takes the host's lock on <root>/.images (made and marked if
// need be) and returns its release.
func lockImages(root string) (func(), error) {
	dir, err := ensureRoot(root)
	if err != nil {
		return nil, err
	}
	fd, err := mkdirOwned(dir, artifactbind.ImagesDir, dirPerm, markDir)
	unix.Close(dir)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(fd, unix.LOCK_EX); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("lock %s: %w", artifactbind.ImagesDir, err)
	}
	return func() { unix.Close(fd) }, nil
}
