// Package source defines how artifactfs reads files out of an image root,
// whatever holds that root: an ext4 image or block device read with
// blockreader, or a mounted directory such as a containerd snapshot view.
//
// Every path given to a Source is an in-image path: absolute, with "/" being
// the image root. Symlinks are followed but never leave the root: an
// absolute target means the image root, and ".." stops at the root.
package source
