// Package artifacttree names the in-image paths of the benchmark's artifacts:
// every generated image and directory holds them, every in-process mount
// serves them. It imports nothing, so that the memory server links only
// what mounting needs.
package artifacttree
