// Package admin is host administration of artifactfs, what `artifactfs
// status` and `artifactfs gc` call: Status describes every per-container
// path under a root (mode, artifacts, healthy, stale or hung), each look
// bounded so that a hung FUSE server cannot block it; GC releases what
// containers that no longer exist left behind (per-container paths and
// view mounts under the root, views and leases in containerd), touching
// only what artifactfs marked as its own.
//
// It imports the host layout (internal/layout), the mount table
// (internal/mounttable), fs (probing a FUSE mount), view (views, leases,
// whether a container exists), artifactbind and containerd's client; never
// the shim (shimglue), containerd's shim runtime or the task API, so the
// CLI links none of them.
package admin
