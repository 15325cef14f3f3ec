// Package shimglue connects artifactfs to a containerd v2 shim and to
// urunc's runtime.
//
// Shim side: NewTaskService wraps a task service (runc's, built with
// task.NewTaskService) so that, for a container whose annotations or
// urunc.json ask for it (com.urunc.unikernel.snapshotView and
// .mountRootfs), Create first prepares a leased read-only snapshot view of
// the image, serves exactly its kernel, initrd and urunc.json read-only at
// the per-container path <root>/<namespace>/<container-id>, and records all
// of it in <bundle>/artifactfs.json. Delete undoes it after the inner
// Delete; Cleanup does the same from the bundle state on the shim's
// `delete` command path (WrapManager), which is the only cleanup that runs
// after the shim was killed. A failed step rolls back every earlier one and
// the container starts without a view, unless the strict option is set.
//
// Runtime side: the state file format, LoadState and BindArtifacts live in
// the artifactbind module, which urunc imports (see
// docs/urunc-integration.md); shimglue writes the state with it and keeps
// aliases for its older callers.
//
// The registration of the wrapped task service as the shim's "task" plugin
// lives in shimglue/plugin, imported for effect.
package shimglue
