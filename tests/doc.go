// Package tests is the index of the integration suites, one package each,
// cut by what they need; `make test` runs them all, as root, and fails on
// a skipped test. As another user they skip, saying why (`make test-unit`).
//
//	tests/fuse    root, /dev/fuse: the fs package's read-only mounts of
//	              directories and ext4 images (passthrough, unmount, stale
//	              mounts, hostile sources, the permission model)
//	tests/cli     root, FUSE, loop devices, the artifactfs binary (built by
//	              the suite); status and gc also a private containerd
//	              without the shim
//	tests/view    root, a private containerd without the shim: the view
//	              package on blockfile, overlayfs and native
//	tests/shim    root, containerd, runc, FUSE: the shim (built by the suite,
//	              shipped and fault-injection builds) running containers
//	tests/cri     the same with containerd's CRI plugin: Kubernetes pods
//	              through the CRI API
//	tests/urunc   the same plus qemu, busybox-static and a Debian kernel:
//	              real guests booted by the urunc-shaped runtime
//	              (tests/urunc-shaped, a test command)
//	tests/soak    the chaos soak: create/delete cycles under faults
//
// What the suites share — building the shim, a private containerd with the
// shim and the sample image, containers through the artifactfs runtime,
// the leak check — is tests/harness, which the bench and the demos use too.
package tests
