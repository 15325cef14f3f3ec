// Package setup is the bench's time-to-artifacts section (issue 4, item
// 1, and the containerd half of item 4): per kernel size, on a daemon of
// its own (package ctrd), what the shim adds to Create — view, mount,
// state, as the shim logs it — against urunc's copy path, cold and warm;
// where the shim's time goes, step by step; the whole Create with and
// without the view; and 1 against 20 containers created and deleted at
// once.
package setup
