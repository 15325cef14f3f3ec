// Package ctrtest runs a private containerd for tests and demos, v2.4.2
// unless asked for another release line (Options.Version: 1.7 to 2.4, each
// with its config layout; VersionBinaries finds what scripts/containerd.sh
// built): it finds or builds the daemon, ctr and runc shim binaries
// (Binaries), starts a daemon whose every file lives in one work directory
// (Start), writes OCI
// image layout tars from files given in memory (BuildImage, SampleImage),
// imports and unpacks them into chosen snapshotters (Import), and cleans up
// what containerd and its shims leave under /run/containerd and the cgroup
// tree (Daemon.Stop). It also reports leaked mounts and loop devices
// (MountsUnder, LoopDevicesUnder).
//
// It knows containerd and runc only, not artifactfs: the shim, its
// per-container paths and what it leaves behind are tests/harness's. It
// is test support, imported by tests/harness, the integration suites, the
// bench and the demos, never by the artifactfs binaries.
package ctrtest
