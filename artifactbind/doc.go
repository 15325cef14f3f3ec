// Package artifactbind is the runtime side of artifactfs: the format of
// the bundle state file the shim writes (<bundle>/artifactfs.json, State),
// LoadState to read it, and BindArtifacts to bind a container's kernel,
// initrd and urunc.json from its per-container path
// (<root>/<namespace>/<container-id>) into urunc's monitor rootfs instead
// of copying them. It is a Go module of its own that needs only the
// standard library and golang.org/x/sys, so urunc can import it; the shim
// imports it too, so the format has one definition.
//
// # Where urunc calls it
//
// After the runtime has cut mount propagation on the monitor rootfs, and
// before it pivots into it. In urunc that is Exec, between prepareRoot (the
// rslave remount of "/" and the bind of the monitor rootfs onto itself,
// reached through setupMonitorRootfs) and changeRoot (pivot_root):
//
//	// blockRootfs.preSetup: leave the artifacts in the image when served.
//	st, err := artifactbind.LoadState(bundle) // (nil, nil): no state file
//	if err != nil || !st.Ready() {
//		// copy, as today
//	}
//
//	// Exec, after setupMonitorRootfs (prepareRoot), before changeRoot:
//	if st.Ready() {
//		err = artifactbind.BindArtifacts(st, monRootfs)
//		// err != nil: copy from st.Path (the rootfs is unmounted by now)
//	}
//
// Not earlier: urunc keeps the mounts it inherits shared until
// prepareRoot, and a bind made before it (for example in
// blockRootfs.preSetup, where urunc copies the artifacts today) on a host
// whose "/" is shared propagates into the host's mount namespace; the
// monitor rootfs then stays busy and the task's delete fails with EBUSY.
// Made after prepareRoot, the binds live in the container's mount
// namespace only and go with it: urunc never unmounts them, and its
// Delete, which only removes directories, finds nothing mounted.
//
// The copy is urunc's fallback, and stays it: LoadState returns (nil, nil)
// when there is no state file (artifactfs is not in use for the
// container), State.Ready is false while the shim has not finished
// preparing the path, and a failed BindArtifacts has undone the binds it
// made. In the first two cases urunc copies out of the container rootfs as
// it does today; when only the bind fails, the rootfs is already unmounted
// and the same files are copied from the per-container path.
//
// # Guarantees
//
// BindArtifacts opens the per-container path and the monitor rootfs once
// and reaches every file from those descriptors: no symlink is followed
// under either (openat2 RESOLVE_NO_SYMLINKS|RESOLVE_BENEATH on the source,
// O_NOFOLLOW on each component of the target), missing directories and
// empty target files are created, and each bind is read-only, nosuid and
// nodev before anything can use it (open_tree + mount_setattr +
// move_mount; on kernels before 5.12 a bind and a read-only remount).
package artifactbind
