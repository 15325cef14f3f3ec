// Package cli tests the artifactfs command, built once by the suite from
// cmd/artifactfs: mount in the background and in the foreground,
// umount, ls, cat, stat, extract on images, directories and bundles;
// its error contract (one line on stderr, documented exit codes) on bad
// input, hostile image names and hung mounts; and `artifactfs status`
// and `artifactfs gc` against a private containerd without the shim
// (harness.SharedDaemon, stopped by TestMain): what a crash leaves is
// reported and removed, roots gc must not trust are refused.
//
// It needs root, FUSE, loop devices and mkfs.ext4, and for status and gc
// the containerd binaries (make deps); it skips, saying why, only when
// one of them is missing.
package cli
