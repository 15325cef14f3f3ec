// Package view manages the read-only containerd snapshot views artifactfs
// reads a container's boot artifacts from.
//
// Prepare finds a container's snapshotter and snapshot key, walks the
// snapshot's parents to the first committed one (the image's top layer),
// and creates, under a lease of its own, a View of it; the lease keeps
// containerd's garbage collector away until Release removes the view and
// deletes the lease. Key and lease id derive from namespace and container
// id (Key, LeaseID), and both carry LabelContainer, so that List and GC can
// find the views and leases whose container no longer exists (left by a
// crash) and release them.
//
// Every function is idempotent: Prepare reuses the view and lease a
// previous call made for the same container, Release of what is gone is
// not an error. Errors wrap containerd's errdefs kinds (errdefs.IsNotFound,
// errdefs.IsFailedPrecondition, ...). The package never prints; warnings go
// to the zerolog logger of the context, which the caller (the shim's task
// service, the CLI) gives the container and namespace fields; view adds only
// its own (lease, key, and the container of each item gc releases).
package view
