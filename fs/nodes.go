package fs

import (
	fusefs "github.com/hanwen/go-fuse/v2/fs"
)

// The node types and the go-fuse interfaces they implement. Everything else
// falls to go-fuse's defaults.
//
// The mount is read-only (MS_RDONLY on the mount and the superblock), so
// the kernel answers EROFS to every change before a request reaches us.
// Write interfaces deliberately not implemented: NodeSetxattrer,
// NodeRemovexattrer (xattrs are disabled for the mount), NodeWriter,
// NodeWritever, NodeCreater, NodeTmpfiler, NodeMkdirer, NodeMknoder,
// NodeLinker, NodeSymlinker, NodeRenamer, NodeAllocater, NodeCopyFileRanger,
// NodeFsyncer and the lock interfaces: go-fuse answers those ENOTSUP.
// Implemented only to refuse with EROFS (readonly.go), for a mount someone
// remounts read-write: NodeSetattrer, NodeUnlinker, NodeRmdirer, whose
// go-fuse defaults would misbehave; and Open refuses write access.
var (
	_ fusefs.InodeEmbedder = (*Root)(nil)
	_ fusefs.NodeOnAdder   = (*Root)(nil)
	_ fusefs.NodeStatfser  = (*Root)(nil)
	_ fusefs.NodeGetattrer = (*Root)(nil) // from dirNode
	_ fusefs.NodeLookuper  = (*Root)(nil) // from dirNode
	_ fusefs.NodeReaddirer = (*Root)(nil) // from dirNode
	_ fusefs.NodeSetattrer = (*Root)(nil) // from dirNode
	_ fusefs.NodeUnlinker  = (*Root)(nil) // from dirNode
	_ fusefs.NodeRmdirer   = (*Root)(nil) // from dirNode

	_ fusefs.InodeEmbedder = (*dirNode)(nil)
	_ fusefs.NodeGetattrer = (*dirNode)(nil)
	_ fusefs.NodeLookuper  = (*dirNode)(nil)
	_ fusefs.NodeReaddirer = (*dirNode)(nil)
	_ fusefs.NodeSetattrer = (*dirNode)(nil)
	_ fusefs.NodeUnlinker  = (*dirNode)(nil)
	_ fusefs.NodeRmdirer   = (*dirNode)(nil)
	_ fusefs.InodeEmbedder = (*fileNode)(nil)
	_ fusefs.NodeGetattrer = (*fileNode)(nil)
	_ fusefs.NodeOpener    = (*fileNode)(nil)
	_ fusefs.NodeReader    = (*fileNode)(nil)
	_ fusefs.NodeSetattrer = (*fileNode)(nil)

	_ fusefs.FilePassthroughFder = (*passthroughHandle)(nil)
)
