package fs

import (
	"context"
	"syscall"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// The kernel refuses every change on the read-only mount before asking us.
// These methods refuse again, for a mount remounted read-write: go-fuse's
// defaults would answer ENOTSUP to setattr, and let unlink and rmdir
// "succeed" by dropping the node from the tree.

// Setattr refuses chmod, chown, truncate and utimes with EROFS.
func (d *dirNode) Setattr(ctx context.Context, f fusefs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	return syscall.EROFS
}

// Unlink refuses with EROFS.
func (d *dirNode) Unlink(ctx context.Context, name string) syscall.Errno { return syscall.EROFS }

// Rmdir refuses with EROFS.
func (d *dirNode) Rmdir(ctx context.Context, name string) syscall.Errno { return syscall.EROFS }

// Setattr refuses chmod, chown, truncate and utimes with EROFS.
func (n *fileNode) Setattr(ctx context.Context, f fusefs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	return syscall.EROFS
}
