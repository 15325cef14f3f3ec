package fs

import (
	"context"
	"sort"
	"syscall"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/artifactfs/artifactfs/internal/source"
)

// dirNode is a directory on the way to an artifact. Its children were all
// added by Root.OnAdd; nothing else is ever found in it.
type dirNode struct {
	fusefs.Inode

	root *Root
	info source.Info
	// subdirs counts the child directories, for the link count.
	subdirs uint32
}

// Getattr reports the directory's mode (write bits dropped) and mtime as
// the source has them, and a link count of 2 plus its visible subdirectories.
func (d *dirNode) Getattr(ctx context.Context, f fusefs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	fillAttr(&out.Attr, d.info, 2+d.subdirs)
	return 0
}

// Lookup finds a child of the tree; any other name is ENOENT.
func (d *dirNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	child := d.GetChild(name)
	if child == nil {
		return nil, syscall.ENOENT
	}
	var attr fuse.AttrOut
	if errno := child.Operations().(fusefs.NodeGetattrer).Getattr(ctx, nil, &attr); errno != 0 {
		return nil, errno
	}
	out.Attr = attr.Attr
	return child, 0
}

// Readdir lists the children of the tree, sorted by name.
func (d *dirNode) Readdir(ctx context.Context) (fusefs.DirStream, syscall.Errno) {
	children := d.Children()
	names := make([]string, 0, len(children))
	for name := range children {
		names = append(names, name)
	}
	sort.Strings(names)
	entries := make([]fuse.DirEntry, 0, len(names))
	for _, name := range names {
		child := children[name]
		entries = append(entries, fuse.DirEntry{
			Name: name,
			Mode: child.Mode(),
			Ino:  child.StableAttr().Ino,
		})
	}
	return fusefs.NewListDirStream(entries), 0
}

// Statfs reports the served tree: its total size in 4 KiB blocks, none
// free, and its number of files and directories.
func (r *Root) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	const bsize = 4096
	var size uint64
	for _, info := range r.fileInfo {
		size += uint64(info.Size)
	}
	out.Bsize = bsize
	out.Frsize = bsize
	out.Blocks = (size + bsize - 1) / bsize
	out.Files = uint64(len(r.fileInfo) + len(r.dirInfo))
	out.NameLen = 255
	return 0
}
