package artifactbind

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
)

const (
	// StateFile is the name of the state file in a container bundle.
	StateFile = "artifactfs.json"
	// StateVersion is the version of the state file format this package
	// writes; LoadState refuses any other.
	StateVersion = 1
	// MaxStateSize bounds how much of a state file LoadState reads.
	MaxStateSize = 1 << 20
)

// ErrStateVersion is wrapped by LoadState's error for a state file of
// another format version.
var ErrStateVersion = errors.New("unsupported state file version")

// ErrNotOwnedPath is wrapped by every error about a path recorded in a
// state file that is not exactly where artifactfs puts it: CheckRoot's
// when a path is not the one the root, the namespace and the container id
// give.
var ErrNotOwnedPath = errors.New("not a path artifactfs made")

// Mode says how the per-container path serves the artifacts.
type Mode string

// The modes of a per-container path.
const (
	// ModePending marks a state written while Create is still in progress:
	// it lists what may have to be cleaned up, and serves nothing yet.
	ModePending Mode = "pending"
	// ModeFUSE: a FUSE mount served by the shim from the mounted view.
	ModeFUSE Mode = "fuse"
	// ModeDirect: a FUSE mount served by the shim from the view's block
	// file or device, read with blockreader; the view is not mounted.
	ModeDirect Mode = "direct"
	// ModeBind: read-only bind mounts of the artifacts of the mounted view
	// (no FUSE on this host).
	ModeBind Mode = "bind"
	// ModeCopy: read-only copies of the artifacts (nothing could be
	// mounted); their size is capped.
	ModeCopy Mode = "copy"
)

// Mount is one mount of a view, as containerd returned it.
type Mount struct {
	Type    string   `json:"type"`
	Source  string   `json:"source"`
	Target  string   `json:"target,omitempty"`
	Options []string `json:"options,omitempty"`
}

// ArtifactState is one artifact served at the per-container path.
type ArtifactState struct {
	// Kind is "kernel", "initrd" or "config".
	Kind string `json:"kind"`
	// Path is the in-image path, which is also the path under the
	// per-container path and in the monitor rootfs.
	Path string `json:"path"`
	// Size is the file's size in bytes.
	Size int64 `json:"size"`
}

// State is the content of <bundle>/artifactfs.json: everything the shim
// took for one container, so that any process can release it, and what
// urunc needs to bind the artifacts.
type State struct {
	// Version is StateVersion.
	Version int `json:"version"`
	// ContainerID and Namespace name the container.
	ContainerID string `json:"container_id"`
	Namespace   string `json:"namespace"`
	// Snapshotter, ViewKey, LeaseID and Parent name the view in containerd:
	// the view snapshot, the lease holding it, and its committed parent.
	Snapshotter string `json:"snapshotter"`
	ViewKey     string `json:"view_key"`
	LeaseID     string `json:"lease_id"`
	Parent      string `json:"parent"`
	// ViewMounts are the view's mounts as containerd returned them.
	ViewMounts []Mount `json:"view_mounts"`
	// ViewMountpoint is where the view is mounted read-only: the
	// container's own mount, or the host's one mount of a view the
	// containers of its image share (SharedView); empty when it is not
	// mounted (mode direct, or copy from the block file).
	ViewMountpoint string `json:"view_mountpoint,omitempty"`
	// Path is the per-container path, <root>/<namespace>/<container-id>.
	Path string `json:"path"`
	// Mode says how Path serves the artifacts; ModePending while Create is
	// still preparing them.
	Mode Mode `json:"mode"`
	// Artifacts lists the artifacts served at Path.
	Artifacts []ArtifactState `json:"artifacts,omitempty"`
}

// Ready reports whether the state describes a per-container path that
// serves the artifacts. It is false for a nil state (no state file: no
// view, urunc keeps its copy path) and for a pending one.
func (s *State) Ready() bool {
	if s == nil {
		return false
	}
	switch s.Mode {
	case ModeFUSE, ModeDirect, ModeBind, ModeCopy:
		return len(s.Artifacts) > 0
	}
	return false
}

// StatePath returns the path of the state file of bundle.
func StatePath(bundle string) string { return filepath.Join(bundle, StateFile) }

// LoadState reads the state file of bundle. A bundle without one gives
// (nil, nil): no view was prepared, and urunc keeps its copy path. A state
// file of another version, or one whose names or paths are not what the
// shim writes, is an error.
func LoadState(bundle string) (*State, error) {
	p := StatePath(bundle)
	f, err := os.Open(p)
	if errors.Is(err, iofs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load state: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxStateSize+1))
	if err != nil {
		return nil, fmt.Errorf("load state %s: %w", p, err)
	}
	if len(data) > MaxStateSize {
		return nil, fmt.Errorf("load state %s: larger than %d bytes", p, MaxStateSize)
	}
	var s State
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("load state %s: %w", p, err)
	}
	if s.Version != StateVersion {
		return nil, fmt.Errorf("load state %s: %w %d (want %d)", p, ErrStateVersion, s.Version, StateVersion)
	}
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("load state %s: %w", p, err)
	}
	return &s, nil
}

// check validates the names and paths of a state.
func (s *State) check() error {
	if err := checkNames(s.Namespace, s.ContainerID); err != nil {
		return err
	}
	if err := checkOwnedPath(s.Path, s.Namespace, s.ContainerID, false); err != nil {
		return fmt.Errorf("per-container path: %w", err)
	}
	if err := checkOwnedPath(s.ViewMountpoint, s.Namespace, s.ContainerID, true); err != nil {
		return fmt.Errorf("view mountpoint: %w", err)
	}
	for i, m := range s.ViewMounts {
		if err := m.check(); err != nil {
			return fmt.Errorf("view mount %d: %w", i, err)
		}
	}
	return nil
}

// SharedView returns the name of the shared view whose mount
// ViewMountpoint is (<root>/.images/<ns>/<name>), "" when the view is the
// container's own or not mounted.
func (s *State) SharedView() string {
	if s.ViewMountpoint == "" || filepath.Base(filepath.Dir(filepath.Dir(s.ViewMountpoint))) != ImagesDir {
		return ""
	}
	if name := filepath.Base(s.ViewMountpoint); SharedName(name) {
		return name
	}
	return ""
}

// CheckRoot checks that the paths s records are exactly those root gives
// its namespace and container id: Path is <root>/<ns>/<id>, and
// ViewMountpoint, when set, <root>/.views/<ns>/<id>, or for a shared view
// <root>/.images/<ns>/<name>. Whoever unmounts,
// removes or reads these paths calls it first, with the root it is
// configured with, and then uses the paths it derives itself.
func (s *State) CheckRoot(root string) error {
	root = filepath.Clean(root)
	want, err := ContainerPath(root, s.Namespace, s.ContainerID)
	if err != nil {
		return err
	}
	if s.Path != "" && s.Path != want {
		return fmt.Errorf("per-container path %q: %w under root %s (want %s)", s.Path, ErrNotOwnedPath, root, want)
	}
	vm := ViewMountpoint(root, s.Namespace, s.ContainerID)
	if name := s.SharedView(); name != "" {
		vm = SharedViewMountpoint(root, s.Namespace, name)
	}
	if s.ViewMountpoint != "" && s.ViewMountpoint != vm {
		return fmt.Errorf("view mountpoint %q: %w under root %s (want %s)", s.ViewMountpoint, ErrNotOwnedPath, root, vm)
	}
	return nil
}

// WriteState writes s to the state file of bundle atomically: a temp file
// in the bundle is written and synced, renamed over the state file, and
// the bundle directory is synced. A reader sees the old file or the new
// one, never a part. The shim writes it; urunc only reads it.
func WriteState(bundle string, s *State) (err error) {
	s.Version = StateVersion
	if err := s.check(); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	tmp, err := os.CreateTemp(bundle, "."+StateFile+".tmp-*")
	if err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			err = fmt.Errorf("write state %s: %w", StatePath(bundle), err)
		}
	}()
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), StatePath(bundle)); err != nil {
		return err
	}
	return syncDir(bundle)
}

// RemoveState removes the state file of bundle; a missing one is not an
// error.
func RemoveState(bundle string) error {
	err := os.Remove(StatePath(bundle))
	if errors.Is(err, iofs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remove state: %w", err)
	}
	if err := syncDir(bundle); err != nil {
		return fmt.Errorf("remove state: %w", err)
	}
	return nil
}

// syncDir fsyncs a directory, so that a rename or removal in it is
// durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
