// Package consumer is the bench's consumer-view section (issue 4, item
// 5): a reader that behaves like a VMM, timed from container Create to
// the last byte of kernel and initrd, through artifactfs's per-container
// path and through urunc's copy path, per kernel size, on the daemons of
// package ctrd.
package consumer
