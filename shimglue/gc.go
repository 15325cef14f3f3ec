package shimglue

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
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
// dryRun it only reports. Errors on one item do not stop the others; they
// are joined in the returned error.
func GC(ctx context.Context, c *client.Client, root, ns string, dryRun bool) ([]Removed, error) {
	if err := ValidName(ns); err != nil {
		return nil, fmt.Errorf("namespace: %w", err)
	}
	ctx = namespaces.WithNamespace(ctx, ns)
	var removed []Removed
	var errs []error
	for _, dir := range []struct{ kind, path string }{
		{"path", filepath.Join(root, ns)},
		{"view-mount", filepath.Join(root, viewsDir, ns)},
	} {
		ids, err := os.ReadDir(dir.path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("gc: %w", err))
			continue
		}
		for _, id := range ids {
			gone, err := containerGone(ctx, c, id.Name())
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if !gone {
				continue
			}
			p := filepath.Join(dir.path, id.Name())
			if !dryRun {
				if err := clearPath(p); err != nil {
					errs = append(errs, fmt.Errorf("gc %s: %w", p, err))
					continue
				}
			}
			removed = append(removed, Removed{Kind: dir.kind, Namespace: ns, ContainerID: id.Name(), Name: p})
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

// clearPath unmounts everything at or below p and removes it.
func clearPath(p string) error {
	if _, err := unmountTree(p); err != nil {
		return err
	}
	return removeTree(p)
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
