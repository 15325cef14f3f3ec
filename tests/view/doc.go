// Package view tests the view package against a real containerd without
// the shim (harness.SharedDaemon, one per test binary, stopped by
// TestMain): a container's leased read-only view on blockfile, overlayfs
// and native, mounted and read; reuse, release, garbage collection of
// views whose container is gone, convergence from half-made states,
// errors, and concurrent preparation.
//
// It needs root, mkfs.ext4 and the containerd binaries (make deps); it
// skips, saying why, only when one of them is missing.
package view
