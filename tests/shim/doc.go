// Package shim runs containers through the artifactfs shim
// (io.containerd.artifactfs.v2) under a private containerd with runc, one
// daemon per test (harness.NewEnv): artifacts served on each snapshotter
// and read from inside the container; the gate; the shim killed, left
// frozen, or forgotten by containerd; every Create step failed on purpose
// with the fault-injection build, and the shipped build ignoring faults;
// no FUSE (bind and copy modes); 20 containers at once; runtime options
// (BinaryName, ctr's runtime config, the shim's cgroup, RuntimeInfo); and
// the permission model of what the shim makes. After each test nothing
// may be left (harness's Leftovers).
//
// It needs root, runc, mkfs.ext4, FUSE and the containerd binaries (make
// deps); it skips, saying why, only when one of them is missing.
package shim
