// Package fs is the per-container FUSE filesystem of artifactfs: a
// read-only go-fuse tree that shows exactly the artifact files of one image
// (kernel, initrd, urunc.json) at their in-image paths, with their parent
// directories, and nothing else.
//
// New validates the paths against a source.Source and returns the root
// node; Mount mounts it (read-only, nosuid, nodev) and reports whether the
// kernel serves reads itself through FUSE passthrough or this process
// serves them. CleanStale and Unmount deal with mounts left by a server
// that is gone or running in another process.
//
// go-fuse's own "fs" package is imported as fusefs.
package fs
