package artifactbind

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

const (
	// ViewsDir is the directory under the root where the shim mounts
	// views: <root>/.views/<namespace>/<container-id>. It is mode 0700,
	// since a mounted view shows the whole image.
	ViewsDir = ".views"
	// ImagesDir is the directory under the root where the shim mounts a
	// view shared by the containers of one image, once per host:
	// <root>/.images/<namespace>/<name>, name being 32 lowercase hex
	// digits (SharedName). Mode 0700, as .views.
	ImagesDir = ".images"
	// maxNameLen bounds a namespace or container id, as NAME_MAX does.
	maxNameLen = 255
)

// ErrInvalidName is wrapped by every error about a namespace or container
// id that cannot be a path component.
var ErrInvalidName = errors.New("invalid name")

// ContainerPath returns the per-container path <root>/<ns>/<id>, the mount
// point urunc binds the artifacts from. It checks that ns and id are plain
// path components.
func ContainerPath(root, ns, id string) (string, error) {
	if err := checkNames(ns, id); err != nil {
		return "", err
	}
	return filepath.Join(root, ns, id), nil
}

// ViewMountpoint returns where the shim mounts the view of container
// ns/id: <root>/.views/<ns>/<id>.
func ViewMountpoint(root, ns, id string) string {
	return filepath.Join(root, ViewsDir, ns, id)
}

// SharedViewMountpoint returns where the shim mounts the view named name
// that the containers of one image in namespace ns share:
// <root>/.images/<ns>/<name>.
func SharedViewMountpoint(root, ns, name string) string {
	return filepath.Join(root, ImagesDir, ns, name)
}

// SharedName reports whether name can name a shared view's mount: 32
// lowercase hex digits.
func SharedName(name string) bool {
	return len(name) == 32 && strings.Trim(name, "0123456789abcdef") == ""
}

func checkNames(ns, id string) error {
	if err := ValidName(ns); err != nil {
		return fmt.Errorf("namespace: %w", err)
	}
	if err := ValidName(id); err != nil {
		return fmt.Errorf("container id: %w", err)
	}
	return nil
}

// ValidName checks that a namespace or container id can be used as one
// path component: non-empty, at most 255 bytes, no "/" or NUL, and not
// starting with "." (which also rules out "." and ".." and keeps clear of
// the root's .views directory). containerd's own identifier rules are
// stricter; this is the part the file system needs.
func ValidName(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%w: empty", ErrInvalidName)
	case len(s) > maxNameLen:
		return fmt.Errorf("%w: longer than %d bytes", ErrInvalidName, maxNameLen)
	case strings.ContainsAny(s, "/\x00"):
		return fmt.Errorf("%w %q: contains a slash or NUL", ErrInvalidName, s)
	case strings.HasPrefix(s, "."):
		return fmt.Errorf("%w %q: starts with a dot", ErrInvalidName, s)
	}
	return nil
}

// checkOwnedPath checks that p, read from a state file, is a path the shim
// would have made for ns/id: absolute, clean, ending in <ns>/<id>, and, for
// a view mount point, inside a .views directory — or, for a shared view,
// ending in .images/<ns>/<name> (SharedName). Cleanup unmounts and
// removes these paths, so a state file must not be able to point it
// anywhere else.
func checkOwnedPath(p, ns, id string, view bool) error {
	if p == "" {
		return nil
	}
	if !filepath.IsAbs(p) || filepath.Clean(p) != p {
		return fmt.Errorf("path %q: %w: not absolute and clean", p, ErrNotOwnedPath)
	}
	top := filepath.Base(filepath.Dir(filepath.Dir(p)))
	if view && top == ImagesDir && SharedName(filepath.Base(p)) && filepath.Base(filepath.Dir(p)) == ns {
		return nil // a shared view's mount
	}
	if filepath.Base(p) != id || filepath.Base(filepath.Dir(p)) != ns {
		return fmt.Errorf("path %q: %w: does not end in %s/%s", p, ErrNotOwnedPath, ns, id)
	}
	inViews := top == ViewsDir
	if view != inViews {
		what := "per-container path"
		if view {
			what = "view mount"
		}
		return fmt.Errorf("path %q: %w: not where artifactfs puts a %s", p, ErrNotOwnedPath, what)
	}
	return nil
}

// maxMountField bounds each string of a recorded view mount.
const maxMountField = 4096

// check validates a view mount read from a state file: a type, no NUL
// byte or oversized field anywhere, and, for a block file system (the one
// kind whose source artifactfs reads), an absolute, clean source path.
func (m Mount) check() error {
	fields := append([]string{m.Type, m.Source, m.Target}, m.Options...)
	if slices.ContainsFunc(fields, func(f string) bool { return strings.IndexByte(f, 0) >= 0 || len(f) > maxMountField }) {
		return fmt.Errorf("%w: a field has a NUL byte or is longer than %d bytes", ErrNotOwnedPath, maxMountField)
	}
	if m.Type == "" {
		return fmt.Errorf("%w: no type", ErrNotOwnedPath)
	}
	switch m.Type {
	case "ext2", "ext3", "ext4":
		if !filepath.IsAbs(m.Source) || filepath.Clean(m.Source) != m.Source {
			return fmt.Errorf("%w: %s source %q is not absolute and clean", ErrNotOwnedPath, m.Type, m.Source)
		}
	}
	return nil
}
