package imagepath

import (
	"path"
	"strings"

	"github.com/artifactfs/artifactfs/artifactbind"
)

const (
	// MaxLen bounds a whole in-image path, as PATH_MAX does on Linux.
	MaxLen = artifactbind.MaxPathLen
	// MaxNameLen bounds one path component, as NAME_MAX does on Linux.
	MaxNameLen = artifactbind.MaxPathNameLen
	// MaxHops bounds the symlinks followed while resolving one path, as
	// the Linux kernel does (ELOOP after 40).
	MaxHops = 40
)

// ErrInvalid is wrapped by every error Clean returns. It is
// artifactbind.ErrInvalidPath: the rule is written once, in the module
// urunc imports.
var ErrInvalid = artifactbind.ErrInvalidPath

// Clean checks an in-image path (artifactbind.CheckPath: non-empty,
// absolute, NUL-free, bounded) and returns it in canonical form: without
// "." or ".." elements, without a trailing slash. ".." at the root stays at
// the root, so the result never names anything above it.
func Clean(p string) (string, error) {
	if err := artifactbind.CheckPath(p); err != nil {
		return "", err
	}
	return path.Clean(p), nil
}

// Split returns the components of a cleaned in-image path; "/" has none.
func Split(clean string) []string {
	trimmed := strings.Trim(clean, "/")
	if trimmed == "" {
		return nil
	}
	return strings.Split(trimmed, "/")
}

// JoinTarget returns where a symlink found at in-image path link points,
// confined to the image root: an absolute target starts at the root, a
// relative one at the link's directory, and ".." never climbs above the root.
func JoinTarget(link, target string) string {
	if strings.HasPrefix(target, "/") {
		return path.Clean(target)
	}
	return path.Clean(path.Join(path.Dir(link), target))
}
