package layout

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/artifactfs/artifactfs/artifactbind"
)

const (
	// DefaultRoot is where per-container paths live unless RootEnv or the
	// shim's and the CLI's --root say otherwise.
	DefaultRoot = "/run/artifactfs"
	// RootEnv names the environment variable that overrides DefaultRoot
	// (tests, hosts with another runtime directory).
	RootEnv = "ARTIFACTFS_ROOT"
)

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

// fsNamePrefix starts the source column of every mount the shim makes at a
// per-container path (FUSE, or the tmpfs stage of bind and copy); the mode
// follows it, so status can tell the modes apart.
const fsNamePrefix = "artifactfs-"

// FSName returns the source column of a mount at a per-container path
// serving in mode.
func FSName(mode artifactbind.Mode) string { return fsNamePrefix + string(mode) }

// ModeOf returns the mode a per-container mount's source column (FSName)
// names, and whether it names one.
func ModeOf(source string) (artifactbind.Mode, bool) {
	mode, ok := strings.CutPrefix(source, fsNamePrefix)
	return artifactbind.Mode(mode), ok
}
