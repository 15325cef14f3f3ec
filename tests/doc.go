// Package tests holds the integration suites that need root, FUSE, loop
// devices or containerd: they drive the real artifactfs binary, the real
// shim under a private containerd with runc, and the real kernel, on images
// made by mkfs.ext4. The Kubernetes suite is tests/cri, the boot suite with
// the urunc-shaped runtime tests/urunc, the chaos soak tests/soak. Run them
// all with `make test`.
package tests
