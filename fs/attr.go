package fs

import (
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
