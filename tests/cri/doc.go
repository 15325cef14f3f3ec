// Package cri holds the Kubernetes end-to-end suite: a private containerd
// v2.4.2 with its CRI plugin on (its own root, state and socket), driven
// through the CRI API (k8s.io/cri-api) as the kubelet drives it, with
// artifactfs's shim as the runtime of a handler whose pod_annotations and
// container_annotations allow com.urunc.unikernel.*. Pods run on the host
// network with a pause image the suite builds and pins as the sandbox
// image.
//
// It covers a pod's unikernel container getting its artifacts (one shim
// for the pod, nothing for the pause container), a sidecar without urunc
// configuration, the release of one container's view while its pod lives,
// a pod removal that leaves nothing, a strict pod, a kill -9 of the pod's
// shim, concurrent Creates in one pod, a handler whose options table sets
// BinaryName, a handler whose options table runs the urunc-shaped runtime
// (tests/urunc-shaped) through BinaryName and boots the pod's unikernel
// with qemu from its binds, and logs the shim's Create wait in a running
// pod.
//
// A test that needs handlers of its own (for instance one whose options
// table runs the urunc-shaped runtime through BinaryName) starts a daemon
// for itself with newEnv(t, envOptions{Handlers: ...}) and uses the same
// helpers (runPod, runApp, requireServed, requireNothingLeft); tests that
// need only the default handlers share one daemon (sharedEnv).
//
// It needs root, runc, mkfs.ext4 and FUSE; it skips, saying why, only when
// one of them is missing.
package cri
