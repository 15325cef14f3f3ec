package blockreader

import (
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/artifactfs/artifactfs/internal/source"
)

var (
	// ErrUnsupported is wrapped by errors about images that are valid but
	// use a layout or feature this package does not read; the message names
	// the feature, e.g. "unsupported ext4 image: inline_data".
	ErrUnsupported = errors.New("unsupported ext4 image")
	// ErrCorrupt is wrapped by errors about malformed, truncated or hostile
	// images, including a panic inside go-diskfs.
	ErrCorrupt = errors.New("corrupt ext4 image")
	// ErrLoop is wrapped when resolving a path meets a symlink loop or more
	// than imagepath.MaxHops symlinks. It is source.ErrLoop, so either
	// matches with errors.Is.
	ErrLoop = source.ErrLoop
)

// rebuildHint ends every ErrUnsupported message about the image as a whole.
const rebuildHint = "(rebuild the image with mkfs.ext4 defaults)"

func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
}

func unsupportedf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrUnsupported}, args...)...)
}

// panicError is what a panic inside this package becomes at an exported
// method: an error wrapping ErrCorrupt that keeps the stack, so that a
// hostile image never takes the process down while tests and the fuzzer
// still see the bug.
type panicError struct {
	val   any
	stack []byte
}

func (e *panicError) Error() string {
	return fmt.Sprintf("%v: internal error: %v", ErrCorrupt, e.val)
}

func (e *panicError) Unwrap() error { return ErrCorrupt }

// catch turns a panic into *err; every exported method that parses image
// data defers it.
func catch(err *error) {
	if v := recover(); v != nil {
		*err = &panicError{val: v, stack: debug.Stack()}
	}
}
