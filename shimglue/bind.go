package shimglue

import "github.com/artifactfs/artifactfs/artifactbind"

// ErrNotReady is artifactbind.ErrNotReady.
var ErrNotReady = artifactbind.ErrNotReady

// BindArtifacts binds a container's artifacts from its per-container path
// into monitorRootfs (artifactbind.BindArtifacts). urunc imports
// artifactbind itself; this forward is for shimglue's callers.
func BindArtifacts(st *State, monitorRootfs string) error {
	return artifactbind.BindArtifacts(st, monitorRootfs)
}
