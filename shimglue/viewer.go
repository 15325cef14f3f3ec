package shimglue

import (
	"context"

	"github.com/artifactfs/artifactfs/view"
)

// Viewer prepares and releases the read-only snapshot view of a
// container's image. NewContainerdViewer is the implementation backed by
// containerd; tests inject their own.
type Viewer interface {
	// Prepare creates, or reuses, the leased read-only view of the
	// committed parent of container id's snapshot and returns it with its
	// mounts: with shared, the view the containers of the same image
	// share (view.PrepareShared), else one of the container's own.
	Prepare(ctx context.Context, ns, id string, shared bool) (*view.View, error)
	// Release removes the view and deletes its lease; releasing what is
	// already gone is not an error.
	Release(ctx context.Context, ns, snapshotter, id string) error
}
