package fs

import (
	iofs "io/fs"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/artifactfs/artifactfs/internal/source"
)

// readOnlyPerm keeps the read and execute bits of a mode; write bits and
// setuid, setgid and sticky are dropped.
const readOnlyPerm = 0o555

// fillAttr sets the attributes of a node from its source info. The file
// type bits come from the node's StableAttr; go-fuse adds them.
func fillAttr(out *fuse.Attr, info source.Info, nlink uint32) {
	out.Mode = uint32(info.Mode.Perm()) & readOnlyPerm
	out.Size = uint64(info.Size)
	out.Nlink = max(nlink, 1)
	mtime := info.ModTime
	out.SetTimes(&mtime, &mtime, &mtime)
}

// typeName describes the file type of info for error messages.
func typeName(info source.Info) string {
	switch t := info.Mode.Type(); {
	case t == 0:
		return "regular file"
	case t&iofs.ModeDir != 0:
		return "directory"
	case t&iofs.ModeSymlink != 0:
		return "symlink"
	case t&iofs.ModeNamedPipe != 0:
		return "named pipe"
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
