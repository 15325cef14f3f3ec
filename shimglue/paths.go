package shimglue

import (
	"os"
	"path/filepath"

	"github.com/artifactfs/artifactfs/artifactbind"
)

const (
	// DefaultRoot is where per-container paths live unless RootEnv or
	// WithRoot says otherwise.
	DefaultRoot = "/run/artifactfs"
	// RootEnv names the environment variable that overrides DefaultRoot
	// (tests, hosts with another runtime directory).
	RootEnv = "ARTIFACTFS_ROOT"
	// viewsDir is the directory under the root where views are mounted
	// (artifactbind.ViewsDir).
	viewsDir = artifactbind.ViewsDir
)

// ErrInvalidName is artifactbind.ErrInvalidName, wrapped by every error
// about a namespace or container id that cannot be a path component.
var ErrInvalidName = artifactbind.ErrInvalidName

// RootFromEnv returns the root of the per-container paths: $ARTIFACTFS_ROOT
// when set (made absolute and clean), else DefaultRoot.
func RootFromEnv() string {
	if v := os.Getenv(RootEnv); v != "" {
		if abs, err := filepath.Abs(v); err == nil {
			return abs
		}
	}
	return DefaultRoot
}

// ContainerPath returns the per-container path <root>/<ns>/<id>
// (artifactbind.ContainerPath).
func ContainerPath(root, ns, id string) (string, error) {
	return artifactbind.ContainerPath(root, ns, id)
}

// ValidName checks that a namespace or container id can be used as one
// path component (artifactbind.ValidName).
func ValidName(s string) error { return artifactbind.ValidName(s) }

// viewMountpoint returns where the view of container ns/id is mounted.
func viewMountpoint(root, ns, id string) string {
	return artifactbind.ViewMountpoint(root, ns, id)
}
