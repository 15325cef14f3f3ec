package shimglue

import "github.com/artifactfs/artifactfs/artifactbind"

// The bundle state file is defined once, in artifactbind, which urunc
// imports too. These aliases keep shimglue's own code and its callers
// compiling unchanged; new code uses artifactbind directly.

// State is artifactbind.State, the content of <bundle>/artifactfs.json.
type State = artifactbind.State

// Mode is artifactbind.Mode: how the per-container path serves the
// artifacts.
type Mode = artifactbind.Mode

// Mount is artifactbind.Mount, one mount of a view.
type Mount = artifactbind.Mount

// ArtifactState is artifactbind.ArtifactState, one artifact served at the
// per-container path.
type ArtifactState = artifactbind.ArtifactState

// The modes of a per-container path, and the state file's name and
// version; see artifactbind.
const (
	ModePending  = artifactbind.ModePending
	ModeFUSE     = artifactbind.ModeFUSE
	ModeDirect   = artifactbind.ModeDirect
	ModeBind     = artifactbind.ModeBind
	ModeCopy     = artifactbind.ModeCopy
	StateFile    = artifactbind.StateFile
	StateVersion = artifactbind.StateVersion
)

// ErrStateVersion is artifactbind.ErrStateVersion.
var ErrStateVersion = artifactbind.ErrStateVersion

// StatePath returns the path of the state file of bundle
// (artifactbind.StatePath).
func StatePath(bundle string) string { return artifactbind.StatePath(bundle) }

// LoadState reads the state file of bundle (artifactbind.LoadState): a
// bundle without one gives (nil, nil).
func LoadState(bundle string) (*State, error) { return artifactbind.LoadState(bundle) }

// WriteState writes s to the state file of bundle atomically
// (artifactbind.WriteState).
func WriteState(bundle string, s *State) error { return artifactbind.WriteState(bundle, s) }

// RemoveState removes the state file of bundle; a missing one is not an
// error (artifactbind.RemoveState).
func RemoveState(bundle string) error { return artifactbind.RemoveState(bundle) }
