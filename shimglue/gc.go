package shimglue

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"

	"github.com/artifactfs/artifactfs/view"
)

// Removed is one thing GC removed, or would remove in a dry run.
type Removed struct {
	// Kind is "path" (a per-container path), "view-mount" (a mounted view)
	// or "view" (a view snapshot and its lease in containerd).
	Kind string `json:"kind"`
	// Namespace and ContainerID name the container that is gone.
	Namespace   string `json:"namespace"`
	ContainerID string `json:"container_id"`
	// Name is the path, or the view key and lease id.
	Name string `json:"name"`
}

// GC releases what crashed or vanished containers of namespace ns left
// behind: per-container paths under root and view mounts (unmounted, live
// or stale, which also frees their loop devices), then views and leases in
// containerd. It acts only on containers that no longer exist, and with
// dryRun it only reports. Under root it touches only what artifactfs
// marked as its own (a marked root, marked namespace directories, marked
// entries), reached without following a symlink, and never removes across
// a mount point; anything else is reported as an error wrapping
// ErrNotOwned or mounttable.ErrMounted and left alone. Errors on one item do not
// stop the others; they are joined in the returned error.
func GC(ctx context.Context, c *client.Client, root, ns string, dryRun bool) ([]Removed, error) {
	if err := ValidName(ns); err != nil {
		return nil, fmt.Errorf("namespace: %w", err)
	}
	ctx = namespaces.WithNamespace(ctx, ns)
	var removed []Removed
	var errs []error
	for _, dir := range []struct {
		kind string
		view bool
	}{{"path", false}, {"view-mount", true}} {
		ids, err := listEntries(root, dir.view, ns)
		if err != nil {
			errs = append(errs, fmt.Errorf("gc: %w", err))
			continue
		}
		for _, id := range ids {
			e := entry{root: root, view: dir.view, ns: ns, id: id}
			if err := ValidName(id); err != nil {
				errs = append(errs, fmt.Errorf("gc %s: %w", e, err))
				continue
			}
			gone, err := containerGone(ctx, c, id)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if !gone {
				continue
			}
			found, err := e.clear(dryRun)
			if err != nil {
				errs = append(errs, fmt.Errorf("gc: %w", err))
				continue
			}
			if found {
				removed = append(removed, Removed{Kind: dir.kind, Namespace: ns, ContainerID: id, Name: e.String()})
			}
		}
	}
	found, err := view.GC(ctx, c, ns, dryRun)
	if err != nil {
		errs = append(errs, err)
	}
	for _, f := range found {
		removed = append(removed, Removed{Kind: "view", Namespace: ns, ContainerID: f.ContainerID, Name: f.Key + " (lease " + f.LeaseID + ")"})
	}
	return removed, errors.Join(errs...)
}

// listEntries returns the names in the namespace directory ns (under
// .views when view is true) of root, reached from the marked root without
// following a symlink; the directory must be marked. A root or namespace
// directory that does not exist holds nothing.
func listEntries(root string, view bool, ns string) ([]string, error) {
	parent, exists, err := entry{root: root, view: view, ns: ns, id: "x"}.openParent()
	if err != nil || !exists {
		return nil, err
	}
	f := os.NewFile(uintptr(parent), filepath.Join(append([]string{root}, parents(view, ns)...)...))
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", f.Name(), err)
	}
	return names, nil
}

// containerGone reports whether containerd no longer knows container id.
func containerGone(ctx context.Context, c *client.Client, id string) (bool, error) {
	_, err := c.ContainerService().Get(ctx, id)
	switch {
	case err == nil:
		return false, nil
	case errdefs.IsNotFound(err):
		return true, nil
	default:
		return false, fmt.Errorf("gc: look up container %s: %w", id, err)
	}
}
