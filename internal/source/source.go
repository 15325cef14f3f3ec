package source

import (
	"errors"
	"io"
	iofs "io/fs"
	"time"
)

// Info describes one file of an image, after symlinks were followed.
type Info struct {
	// Path is the in-image path the request resolved to (symlinks followed).
	Path string
	// Mode holds the file type and permission bits as stored in the image.
	Mode iofs.FileMode
	// Size is the length in bytes of a regular file.
	Size int64
	// ModTime is the modification time stored in the image.
	ModTime time.Time
	// Nlink is the hard link count stored in the image.
	Nlink uint32
	// Ino is the inode number within the image (or the host filesystem).
	Ino uint64
}

// File reads one regular file of an image. ReadAt is safe for concurrent use.
type File interface {
	io.ReaderAt
	io.Closer
}

// FdFile is a File backed by a host file descriptor, which lets the FUSE
// layer hand reads to the kernel (passthrough). It is an optional capability,
// found by type assertion.
type FdFile interface {
	File
	// Fd returns the open read-only descriptor of the whole file.
	Fd() uintptr
}

// Source reads files out of an image root.
type Source interface {
	// Stat returns the attributes of the file at in-image path p, following
	// symlinks inside the image.
	Stat(p string) (Info, error)
	// Open opens the regular file at in-image path p for reading; it fails
	// with ErrNotRegular for anything else (and never blocks on a FIFO).
	Open(p string) (File, error)
	// String names the source for logs and errors, e.g. "image /x.ext4".
	String() string
	// Close releases the source; files opened from it must be closed first.
	Close() error
}

// ErrNotRegular is returned when a regular file was required and the path
// names something else (a directory, FIFO, device or socket).
var ErrNotRegular = errors.New("not a regular file")

// ErrLoop is returned when resolving a path meets a symlink loop or more
// symlinks than imagepath.MaxHops.
var ErrLoop = errors.New("symlink loop or too many symlinks")

// TypeName names the file type of mode for error messages, e.g. "directory"
// or "FIFO".
func TypeName(mode iofs.FileMode) string {
	switch t := mode.Type(); {
	case t == 0:
		return "regular file"
	case t&iofs.ModeDir != 0:
		return "directory"
	case t&iofs.ModeSymlink != 0:
		return "symlink"
	case t&iofs.ModeNamedPipe != 0:
		return "FIFO"
	case t&iofs.ModeSocket != 0:
		return "socket"
	case t&iofs.ModeCharDevice != 0:
		return "character device"
	case t&iofs.ModeDevice != 0:
		return "block device"
	default:
		return "irregular file"
	}
}
