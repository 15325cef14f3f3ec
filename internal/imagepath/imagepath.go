package imagepath

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

const (
	// MaxLen bounds a whole in-image path, as PATH_MAX does on Linux.
	MaxLen = 4096
	// MaxNameLen bounds one path component, as NAME_MAX does on Linux.
	MaxNameLen = 255
	// MaxHops bounds the symlinks followed while resolving one path, as
	// the Linux kernel does (ELOOP after 40).
	MaxHops = 40
)

// ErrInvalid is wrapped by every error Clean returns.
var ErrInvalid = errors.New("invalid in-image path")

// Clean checks an in-image path and returns it in canonical form: absolute,
// without "." or ".." elements, without a trailing slash. ".." at the root
// stays at the root, so the result never names anything above it.
func Clean(p string) (string, error) {
	switch {
	case p == "":
		return "", fmt.Errorf("%w: empty", ErrInvalid)
	case strings.IndexByte(p, 0) >= 0:
		return "", fmt.Errorf("%w %q: contains a NUL byte", ErrInvalid, p)
	case len(p) > MaxLen:
		return "", fmt.Errorf("%w: longer than %d bytes", ErrInvalid, MaxLen)
	case !strings.HasPrefix(p, "/"):
		return "", fmt.Errorf("%w %q: not absolute", ErrInvalid, p)
	}
	clean := path.Clean(p)
	for _, name := range Split(clean) {
		if len(name) > MaxNameLen {
			return "", fmt.Errorf("%w %q: component longer than %d bytes", ErrInvalid, p, MaxNameLen)
		}
	}
	return clean, nil
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
