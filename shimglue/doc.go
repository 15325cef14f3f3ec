// Package shimglue is the shim side of artifactfs: it connects artifactfs
// to a containerd v2 shim.
//
// NewTaskService wraps a task service (runc's, built with
// task.NewTaskService) so that, for a container whose annotations or
// urunc.json ask for it (com.urunc.unikernel.snapshotView and
// .mountRootfs; Gate), Create first prepares a leased read-only snapshot
// view of the image, serves exactly its kernel, initrd and urunc.json
// read-only at the per-container path <root>/<namespace>/<container-id>,
// and records all of it in <bundle>/artifactfs.json (Preparer). Delete
// undoes it after the inner Delete; the shim's `delete` command path
// (WrapManager) does the same from the bundle state, the only cleanup that
// runs after the shim was killed. A failed step rolls back every earlier
// one and the container starts without a view, unless the strict option
// is set. The shim starts preparing as soon as its process starts
// (PrepareEarly), reads CRI's and ctr's runtime options as runc's
// (RuncOptions), thaws a cgroup runc left frozen, and cleans up and exits
// when containerd forgot it (WatchBundle).
//
// Logging: the edges (the task service's methods, the manager's Stop, the
// early start) put a logger carrying container and namespace into the
// context (WithContainer); everything below takes it from there.
//
// It imports the state file's one definition and the bind rules from
// artifactbind, the host layout (internal/layout), the mount table
// (internal/mounttable), view, fs, blockreader, internal/source,
// internal/artifact and internal/extract, and containerd's shim runtime
// and task API. Host administration (status, gc) is package admin, which
// does not import this one; the registration of the wrapped task service
// as the shim's "task" plugin is shimglue/plugin, imported for effect.
// Fault injection exists only for tests (faults.go, the artifactfs_faults
// build tag).
package shimglue
