// Package fs is the per-container FUSE filesystem of artifactfs: a
// read-only go-fuse tree that shows exactly the artifact files of one image
// (kernel, initrd, urunc.json) at their in-image paths, with their parent
// directories, and nothing else.
//
// New validates the paths against a source.Source and returns the root
// node; Mount mounts it (read-only, nosuid, nodev) and reports whether the
// kernel serves reads itself through FUSE passthrough or this process
// serves them. Stopping a FUSE mount is this package's alone: Mounted.Stop
// unmounts and, when a copy of the mount elsewhere keeps the server
// serving, aborts its connection through fusectl; CleanStale and Unmount
// deal with mounts left by a server that is gone, hung, or running in
// another process. The FUSE connection of a mount is named in one place
// (connection, from the mount table).
//
// In server mode the kernel keeps what it read in its page cache across
// opens (the content never changes) and reads ahead two read requests at
// a time (FUSE's own window is 128 KiB). A read request whose bytes lie in
// pieces of a host file (a directory source's file, the extents of an image)
// is answered by splicing them from that file's page cache: one copy, in
// the kernel, instead of two through this process. Repeated reads of a FUSE
// file stay slower than of an ext4 file: FUSE's page cache holds 4 KiB
// folios where ext4's holds large ones.
//
// go-fuse's own "fs" package is imported as fusefs. fs imports
// internal/source, internal/imagepath and internal/mounttable besides
// go-fuse; nothing of containerd or the shim.
package fs
