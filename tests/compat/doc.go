// Package compat is the containerd compatibility suite, run by `make
// test-compat` (build tag compat, so that make test leaves it out): for
// each release line in $ARTIFACTFS_COMPAT_VERSIONS (default
// ctrtest.CompatVersions, 1.7.35 to 2.4.2), a real private daemon of that
// version (built once into the cache by scripts/containerd.sh) runs the
// artifactfs shim through runc, and the suite checks on it:
//
//   - gated containers on blockfile and overlayfs: the artifacts served at
//     the per-container path, read from inside the container;
//   - ungated containers on both: no view, no path, the rootfs as with runc;
//   - kill -9 of a shim: containerd's run of the shim's delete command, the
//     container's delete and `artifactfs gc` leave nothing;
//   - two containers sharing a view: one view and one host mount, held by
//     both leases (containerd's rule that a View of an existing key inside a
//     lease adds it to the lease, also checked on its own), surviving the
//     first container's delete and a containerd GC;
//   - `artifactfs status` and `artifactfs gc` on a live container;
//   - with CRI on (1.7's config layout or 2.x's): a pod with a unikernel
//     container and a sidecar, a pod through a handler whose options
//     table sets BinaryName, and a kill -9 of a pod's shim.
//
// It prints a table (case × version: pass or FAIL, and the time), also
// written to $ARTIFACTFS_COMPAT_TABLE when set. Nothing is skipped as root:
// a version whose daemon is missing or whose shim does not start fails
// its cases.
package compat
