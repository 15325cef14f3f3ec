// Package pod is the bench's pod section (issue 8): what the shim's
// Create waits for when an app container joins a running pod through CRI
// (its Create arrives at the pod's shim, already running) against a
// container with a shim of its own (whose preparation starts when the
// shim process starts), in one private containerd with CRI on.
package pod
