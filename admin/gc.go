package admin

import (
	"context"
	"errors"
	"fmt"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"

	"github.com/artifactfs/artifactfs/artifactbind"
	"github.com/artifactfs/artifactfs/internal/layout"
	"github.com/artifactfs/artifactfs/view"
)

// Removed is one thing GC removed, or would remove in a dry run.
type Removed struct {
	// Kind is "path" (a per-container path), "view-mount" (a mounted view,
	// or the host mount of a shared view that no container holds any
	// more), "view-ref" (a gone container's reference to a shared view's
	// mount) or "view" (a view snapshot and its lease in containerd).
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
// layout.ErrNotOwned or mounttable.ErrMounted and left alone. Errors on one item do not
// stop the others; they are joined in the returned error.
func GC(ctx context.Context, c *client.Client, root, ns string, dryRun bool) ([]Removed, error) {
	if err := artifactbind.ValidName(ns); err != nil {
		return nil, fmt.Errorf("namespace: %w", err)
	}
	ctx = namespaces.WithNamespace(ctx, ns)
	var removed []Removed
	var errs []error
	// gone reports whether containerd no longer knows container id; a
	// failed look-up is recorded and counts as not gone.
	gone := func(id string) bool {
		exists, err := view.ContainerExists(ctx, c, id)
		if err != nil {
			errs = append(errs, fmt.Errorf("gc: %w", err))
		}
		return err == nil && !exists
	}
	for _, dir := range []struct {
		kind string
		view bool
	}{{"path", false}, {"view-mount", true}} {
		ids, err := layout.List(root, dir.view, ns)
		if err != nil {
			errs = append(errs, fmt.Errorf("gc: %w", err))
			continue
		}
		for _, id := range ids {
			e := layout.Entry{Root: root, View: dir.view, Namespace: ns, ID: id}
			if err := artifactbind.ValidName(id); err != nil {
				errs = append(errs, fmt.Errorf("gc %s: %w", e, err))
				continue
			}
			if !gone(id) {
				continue
			}
			found, err := e.Clear(dryRun)
			if err != nil {
				errs = append(errs, fmt.Errorf("gc: %w", err))
				continue
			}
			if found {
				removed = append(removed, Removed{Kind: dir.kind, Namespace: ns, ContainerID: id, Name: e.String()})
			}
		}
	}
	r, err := gcShared(root, ns, dryRun, gone)
	removed = append(removed, r...)
	if err != nil {
		errs = append(errs, err)
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

// gcShared drops the references gone containers (gone) of namespace ns hold to
// shared views' mounts; a mount left without any is unmounted and removed
// (layout.Image.Release), as is one that never got a reference (a crash
// between making and referencing it).
func gcShared(root, ns string, dryRun bool, gone func(id string) bool) ([]Removed, error) {
	held, err := layout.Images(root, ns)
	if err != nil {
		return nil, fmt.Errorf("gc: %w", err)
	}
	var removed []Removed
	var errs []error
	for _, h := range held {
		im, holders := h.Image, h.Holders
		left := len(holders)
		for _, id := range holders {
			if !gone(id) {
				continue
			}
			left--
			removed = append(removed, Removed{Kind: "view-ref", Namespace: ns, ContainerID: id, Name: im.Mountpoint()})
			if dryRun {
				continue
			}
			last, err := im.Release(id)
			if err != nil {
				errs = append(errs, fmt.Errorf("gc: %w", err))
			}
			if last {
				removed = append(removed, Removed{Kind: "view-mount", Namespace: ns, ContainerID: id, Name: im.Mountpoint()})
			}
		}
		if len(holders) == 0 || dryRun && left == 0 {
			found, err := im.ClearUnheld(dryRun)
			if err != nil {
				errs = append(errs, fmt.Errorf("gc: %w", err))
			}
			if found {
				removed = append(removed, Removed{Kind: "view-mount", Namespace: ns, Name: im.Mountpoint()})
			}
		}
	}
	return removed, errors.Join(errs...)
}
