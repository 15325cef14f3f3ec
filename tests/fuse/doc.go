// Package fuse tests the FUSE core on real mounts: the fs package serving
// the artifacts of a directory (source.Dir, FUSE passthrough where the
// kernel allows it) and of ext4 images (blockreader, fragmented ones
// included) read-only; unmounting while files are open and from outside,
// stale mounts after a killed server (a re-executed test binary,
// TestMain), hostile sources (a panicking reader, a grown file, a
// symlinked mount point), and the permission model of the per-container
// root as uid 65534.
//
// It needs root and /dev/fuse (mkfs.ext4 and debugfs for the image
// tests, fusermount3 for the unprivileged mount); it skips, saying why,
// only when one of them is missing. No containerd.
package fuse
