// Package harness runs the artifactfs shim the way the test suites, the
// bench and the demos need it. It builds the shim once per process, as it
// ships (ShimDir) or with fault injection compiled in (FaultShimDir), and
// the urunc-shaped test runtime (UruncShaped); starts a private containerd
// (internal/ctrtest) with the shim on its PATH and ARTIFACTFS_ROOT in its
// environment, optionally in a mount namespace of its own (Start, Env,
// MountNS), with CRI on when asked; imports the sample unikernel image
// (ImportSample); creates, runs and deletes containers through the
// artifactfs runtime (Container, Task); and lists what artifactfs left
// behind — views, leases, what `artifactfs gc` would remove, mounts, loop
// devices, directories, bundles (Env.Leftovers, Settle).
//
// For test suites it adds testing.TB forms (NewEnv, Env.CheckNoLeaks), a
// containerd shared by the tests of one binary (SharedDaemon), images and
// containers for the view tests (ImportImage, PlainContainer,
// ArtifactfsObjects) and the small checks several suites make
// (RequireFUSE, IsMounted, ReadAs).
//
// It lives outside internal/ because it imports product packages
// (shimglue for gc, view for the views) that internal packages must not.
// Importing it locks the main goroutine to the main thread (see MountNS).
// It is imported by tests, the bench and the demos, never by the
// artifactfs binaries.
package harness
