// Package density is the bench's density section (issue 11): N = 1, 10
// and 50 containers of one image, on blockfile and overlayfs, created one
// after the other with a shim each (as ctr does), kept running until all
// exist and each has read its kernel and initrd once from the host, in
// three layouts measured in the same run — one view shared by the image's
// containers (the default), a view per container (the shim run with
// ARTIFACTFS_PER_CONTAINER_VIEWS=1, on a daemon of its own) and urunc's
// copy path (copies on tmpfs, no artifactfs). Per layout, snapshotter and
// N it reports the page cache the reads add, the pages resident in the
// views' files (mincore), tmpfs use, the views' loop devices, the mounts
// under the artifactfs root, the shims' memory, what Create waited per
// container, and what is left behind once all are removed.
package density
