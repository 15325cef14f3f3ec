package artifactbind

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

const (
	// ViewsDir is the directory under the root where the shim mounts
	// views: <root>/.views/<namespace>/<container-id>. It is mode 0700,
	// since a mounted view shows the whole image.
	ViewsDir = ".views"
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
// a view mount point, inside a .views directory. Cleanup unmounts and
// removes these paths, so a state file must not be able to point it
// anywhere else.
func checkOwnedPath(p, ns, id string, view bool) error {
	if p == "" {
		return nil
	}
	if !filepath.IsAbs(p) || filepath.Clean(p) != p {
		return fmt.Errorf("path %q: not absolute and clean", p)
	}
	if filepath.Base(p) != id || filepath.Base(filepath.Dir(p)) != ns {
		return fmt.Errorf("path %q: does not end in %s/%s", p, ns, id)
	}
	inViews := filepath.Base(filepath.Dir(filepath.Dir(p))) == ViewsDir
	if view != inViews {
		what := "per-container path"
		if view {
			what = "view mount"
		}
		return fmt.Errorf("path %q: not where artifactfs puts a %s", p, what)
	}
	return nil
}
