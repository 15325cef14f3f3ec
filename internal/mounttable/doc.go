// Package mounttable is the one place artifactfs reads the kernel's mount
// table and takes mounts apart: which mount sits at a path and which sit at
// or below a directory (/proc/self/mountinfo, read without a stat that a
// hung FUSE server could block), unmounting everything below a path
// (UnmountTree), and removing a directory tree by descriptors without
// crossing a mount point (RemoveAt, OpenAt).
//
// It imports only the standard library and golang.org/x/sys: fs, the host
// layout (internal/layout), the shim and the tests build on it.
package mounttable
