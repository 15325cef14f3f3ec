// Package shimtest is test support for suites that run containers through
// the artifactfs shim: it builds the shim binary once per process, as it
// ships (ShimDir) or with fault injection compiled in (FaultShimDir), and
// runs code in a mount namespace of its own with a chosen
// root propagation (MountNS), as a host's containerd would see it.
//
// Importing it locks the main goroutine to the main thread (see MountNS).
// It is imported by test suites, the bench and the demo, never by the
// artifactfs binaries.
package shimtest
