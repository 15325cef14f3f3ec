// Package tests holds the integration suites that need root, FUSE, loop
// devices or (later) containerd: they drive the real artifactfs binary and
// the real kernel, on images made by mkfs.ext4. Run them with `make test`.
package tests
