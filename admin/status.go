package admin

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/artifactfs/artifactfs/artifactbind"
	afs "github.com/artifactfs/artifactfs/fs"
	"github.com/artifactfs/artifactfs/internal/layout"
	"github.com/artifactfs/artifactfs/internal/mounttable"
)

// Entry describes one per-container path under a root, as `artifactfs
// status` shows it.
type Entry struct {
	// Kind is KindContainer for a per-container path, KindUnknown for
	// an entry under the root that artifactfs did not mark as its own
	// (Problem says what it is); status lists it and gc leaves it alone.
	Kind string `json:"kind"`
	// Namespace and ContainerID name the container, from the path; for
	// an unknown namespace directory ContainerID is empty.
	Namespace   string `json:"namespace"`
	ContainerID string `json:"container_id"`
	// Path is the per-container path.
	Path string `json:"path"`
	// Mode is how the path serves the artifacts, read from the mount
	// table: fuse, direct, bind, copy; "none" for an empty directory.
	Mode artifactbind.Mode `json:"mode"`
	// Healthy is true when every artifact can be stat'ed through the path.
	Healthy bool `json:"healthy"`
	// Hung is true when the path's FUSE server did not answer within the
	// timeout (stopped, deadlocked): every access there would block.
	Hung bool `json:"hung,omitempty"`
	// Problem says why the path is not healthy, e.g. "stale FUSE mount".
	Problem string `json:"problem,omitempty"`
	// Artifacts lists the files served, relative to Path, with sizes.
	Artifacts []artifactbind.ArtifactState `json:"artifacts,omitempty"`
	// SharedView names the view, shared by the containers of one image,
	// that the container reads from (<root>/.images/<ns>/<name>); empty
	// for a view of its own, or none.
	SharedView string `json:"shared_view,omitempty"`
	// SharedWith lists the other containers holding that view.
	SharedWith []string `json:"shared_with,omitempty"`
}

// The kinds of Entry.
const (
	KindContainer = "container"
	KindUnknown   = "unknown"
)

// ModeNone marks a per-container directory that serves nothing;
// ModeUnknown an entry that is not a per-container path.
const (
	ModeNone    artifactbind.Mode = "none"
	ModeUnknown artifactbind.Mode = "unknown"
)

// maxStatusFiles bounds how many files status lists under one path.
const maxStatusFiles = 16

// Status describes every per-container path under root
// (<root>/<namespace>/<container-id>), sorted by namespace and id, and,
// as Kind KindUnknown, every entry there that artifactfs did not mark as
// its own (never guessed to be a container). A root that does not exist
// has none; a directory that is not a root the shim made gives an error
// wrapping layout.ErrNotRoot. Each look into a per-container path is
// bounded by timeout (not positive: afs.DefaultTimeout): a FUSE mount
// whose server does not answer is reported Hung instead of blocking the
// caller.
func Status(root string, timeout time.Duration) ([]Entry, error) {
	root, err := mounttable.Canonical(root)
	if err != nil {
		return nil, err
	}
	found, err := layout.Scan(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	mounts, err := mounttable.Under(root)
	if err != nil {
		return nil, err
	}
	var entries []Entry
	shared := map[string]map[string]layout.Held{}
	for _, f := range found {
		if !f.Owned {
			entries = append(entries, Entry{Kind: KindUnknown, Namespace: f.Namespace, ContainerID: f.ID, Path: f.Path, Mode: ModeUnknown, Problem: f.Why})
			continue
		}
		if shared[f.Namespace] == nil {
			if shared[f.Namespace], err = sharedViews(root, f.Namespace); err != nil {
				return nil, err
			}
		}
		e := describe(f.Path, f.Namespace, f.ID, mounts, timeout)
		if sv, ok := shared[f.Namespace][f.ID]; ok {
			e.SharedView = sv.Name
			e.SharedWith = slices.DeleteFunc(slices.Clone(sv.Holders), func(h string) bool { return h == f.ID })
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// sharedViews returns, by container id, the shared view each container of
// namespace ns holds.
func sharedViews(root, ns string) (map[string]layout.Held, error) {
	held, err := layout.Images(root, ns)
	if err != nil {
		return nil, fmt.Errorf("shared views of %s: %w", ns, err)
	}
	out := map[string]layout.Held{}
	for _, h := range held {
		for _, id := range h.Holders {
			out[id] = h
		}
	}
	return out, nil
}

// describe inspects one per-container path, each look bounded by timeout.
func describe(path, ns, id string, mounts []mounttable.Entry, timeout time.Duration) Entry {
	e := Entry{Kind: KindContainer, Namespace: ns, ContainerID: id, Path: path, Mode: ModeNone}
	var top *mounttable.Entry
	binds := 0
	for i, m := range mounts {
		switch {
		case m.Mountpoint == path:
			top = &mounts[i]
		case strings.HasPrefix(m.Mountpoint, path+"/"):
			binds++
		}
	}
	switch {
	case top != nil && top.FSType == afs.FSType:
		e.Mode = artifactbind.ModeFUSE
		if mode, ok := layout.ModeOf(top.Source); ok {
			e.Mode = mode
		}
		switch err := afs.Probe(path, timeout); {
		case errors.Is(err, unix.ENOTCONN), errors.Is(err, unix.ECONNABORTED):
			e.Problem = "stale FUSE mount: its server is gone (artifactfs gc or umount clears it)"
			return e
		case errors.Is(err, afs.ErrHung):
			e.Hung = true
			e.Problem = "its FUSE server does not answer: stopped or hung (artifactfs umount detaches it)"
			return e
		}
	case binds > 0:
		e.Mode = artifactbind.ModeBind
	}
	var files []artifactbind.ArtifactState
	err := afs.Within(timeout, "list "+path, func() error {
		var err error
		files, err = listFiles(path)
		return err
	})
	switch {
	case errors.Is(err, afs.ErrHung):
		e.Hung = true
		e.Problem = err.Error()
	case err != nil:
		e.Problem = err.Error()
	case len(files) == 0:
		e.Problem = "serves no artifact"
	default:
		e.Artifacts, e.Healthy = files, true
		if e.Mode == ModeNone {
			e.Mode = artifactbind.ModeCopy
		}
	}
	return e
}

// listFiles returns the regular files under dir with their sizes, at most
// maxStatusFiles of them.
func listFiles(dir string) ([]artifactbind.ArtifactState, error) {
	var files []artifactbind.ArtifactState
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			files = append(files, artifactbind.ArtifactState{Path: strings.TrimPrefix(p, dir), Size: info.Size()})
			if len(files) >= maxStatusFiles {
				return filepath.SkipAll
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	return files, nil
}
