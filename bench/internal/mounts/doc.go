// Package mounts makes per-container artifactfs mounts in the calling
// process, as the shim does: open a source (an ext4 image through
// blockreader, or a host directory), build the tree of the benchmark's
// artifacts (fs.New) and mount it (fs.Mount); and takes them down again.
// It also names the sources the memory and scale sections compare, and
// finds artifactfs mounts left below a directory.
package mounts
