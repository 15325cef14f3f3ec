package artifactbind

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

const (
	// MaxPathLen bounds a whole in-image path, as PATH_MAX does on Linux.
	MaxPathLen = 4096
	// MaxPathNameLen bounds one component of an in-image path, as NAME_MAX
	// does on Linux.
	MaxPathNameLen = 255
)

// ErrInvalidPath is wrapped by every error about an in-image path that
// artifactfs refuses to look up or bind.
var ErrInvalidPath = errors.New("invalid in-image path")

// CheckPath checks the rules every in-image path obeys before it is looked
// up: non-empty, absolute, free of NUL bytes, at most MaxPathLen bytes,
// each component at most MaxPathNameLen bytes. It does not require p to be
// clean; CheckFilePath does.
func CheckPath(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("%w: empty", ErrInvalidPath)
	case strings.IndexByte(p, 0) >= 0:
		return fmt.Errorf("%w %q: contains a NUL byte", ErrInvalidPath, p)
	case len(p) > MaxPathLen:
		return fmt.Errorf("%w: longer than %d bytes", ErrInvalidPath, MaxPathLen)
	case !strings.HasPrefix(p, "/"):
		return fmt.Errorf("%w %q: not absolute", ErrInvalidPath, p)
	}
	for _, name := range strings.Split(p, "/") {
		if len(name) > MaxPathNameLen {
			return fmt.Errorf("%w %q: component longer than %d bytes", ErrInvalidPath, p, MaxPathNameLen)
		}
	}
	return nil
}

// CheckFilePath checks an artifact path as BindArtifacts takes it: it
// obeys CheckPath, is already clean (no ".", "..", "//" or trailing
// slash, so it cannot climb out of a root), and names a file, not "/".
func CheckFilePath(p string) error {
	if err := CheckPath(p); err != nil {
		return err
	}
	if p == "/" || path.Clean(p) != p {
		return fmt.Errorf("%w %q: not a clean file path", ErrInvalidPath, p)
	}
	return nil
}
