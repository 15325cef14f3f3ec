package view

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"
	"github.com/rs/zerolog"
)

// Found is a view or lease labelled by artifactfs, as List reports it.
type Found struct {
	// Namespace and ContainerID name the container it was made for.
	Namespace   string `json:"namespace"`
	ContainerID string `json:"containerID"`
	// Snapshotter holds the view; empty for a lease that holds no view.
	Snapshotter string `json:"snapshotter,omitempty"`
	// Key is the view's snapshot key; empty when only a lease was found. A
	// shared view (IsShared) is listed once per container whose lease
	// holds it.
	Key string `json:"key,omitempty"`
	// LeaseID is the lease; empty when only a view was found (containerd
	// collects such a view on its next GC pass).
	LeaseID string `json:"leaseID,omitempty"`
	// ContainerExists tells whether the container is still in containerd.
	ContainerExists bool `json:"containerExists"`
}

// labelFilter matches objects carrying LabelContainer.
var labelFilter = fmt.Sprintf("labels.%q", LabelContainer)

// List returns the views and leases labelled by artifactfs in namespace
// ns, in every snapshotter that loaded, one entry per view (with its lease)
// or per lease without a view, sorted by container id.
func List(ctx context.Context, c *client.Client, ns string) ([]Found, error) {
	if ns == "" {
		return nil, fmt.Errorf("list views: namespace is required: %w", errdefs.ErrInvalidArgument)
	}
	ctx = namespaces.WithNamespace(ctx, ns)
	ls := c.LeasesService()
	lss, err := ls.List(ctx, labelFilter)
	if err != nil {
		return nil, fmt.Errorf("list leases: %w", err)
	}
	type ref struct{ sn, key string }
	leaseOf := map[ref]string{} // view → lease holding it
	leaseSn := map[string]ref{} // lease → its first view
	for _, l := range lss {
		res, err := ls.ListResources(ctx, l)
		if err != nil && !errdefs.IsNotFound(err) {
			return nil, fmt.Errorf("resources of lease %s: %w", l.ID, err)
		}
		for _, r := range res {
			if sn, ok := strings.CutPrefix(r.Type, "snapshots/"); ok {
				leaseOf[ref{sn, r.ID}] = l.ID
				if _, ok := leaseSn[l.ID]; !ok {
					leaseSn[l.ID] = ref{sn, r.ID}
				}
			}
		}
	}

	names, err := snapshotters(ctx, c)
	if err != nil {
		return nil, err
	}
	var out []Found
	used := map[string]bool{}
	for _, sn := range names {
		err := c.SnapshotService(sn).Walk(ctx, func(_ context.Context, info snapshots.Info) error {
			lid := leaseOf[ref{sn, info.Name}]
			used[lid] = true
			out = append(out, Found{Namespace: ns, ContainerID: info.Labels[LabelContainer], Snapshotter: sn, Key: info.Name, LeaseID: lid})
			return nil
		}, labelFilter)
		if err != nil {
			return nil, fmt.Errorf("walk snapshotter %s: %w", sn, err)
		}
	}
	for _, l := range lss {
		if !used[l.ID] {
			// A lease holding a shared view (which carries no container
			// label), or one whose view is gone.
			r := leaseSn[l.ID]
			f := Found{Namespace: ns, ContainerID: l.Labels[LabelContainer], Snapshotter: r.sn, LeaseID: l.ID}
			if IsShared(r.key) {
				f.Key = r.key
			}
			out = append(out, f)
		}
	}

	exists := map[string]bool{}
	for i, f := range out {
		e, ok := exists[f.ContainerID]
		if !ok {
			if e, err = ContainerExists(ctx, c, f.ContainerID); err != nil {
				return nil, err
			}
			exists[f.ContainerID] = e
		}
		out[i].ContainerExists = e
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].ContainerID != out[j].ContainerID {
			return out[i].ContainerID < out[j].ContainerID
		}
		return out[i].Snapshotter < out[j].Snapshotter
	})
	return out, nil
}

// GC releases, in namespace ns, the views and leases of List whose container
// no longer exists, and returns them; with dryRun it only returns them.
// It carries on past a failure and returns what it released with the
// joined errors.
func GC(ctx context.Context, c *client.Client, ns string, dryRun bool) ([]Found, error) {
	found, err := List(ctx, c, ns)
	if err != nil {
		return nil, fmt.Errorf("gc views: %w", err)
	}
	ctx = namespaces.WithNamespace(ctx, ns)
	log := zerolog.Ctx(ctx)
	var done []Found
	var errs []error
	for _, f := range found {
		if f.ContainerExists {
			continue
		}
		if dryRun {
			done = append(done, f)
			continue
		}
		// Check again: a container of that id may have been created since.
		if e, err := ContainerExists(ctx, c, f.ContainerID); err != nil || e {
			if err != nil {
				errs = append(errs, err)
			}
			continue
		}
		if err := release(ctx, c, f.Snapshotter, f.Key, f.LeaseID); err != nil {
			log.Warn().Err(err).Str("container", f.ContainerID).Msg("gc: release view")
			errs = append(errs, fmt.Errorf("gc container %s: %w", f.ContainerID, err))
			continue
		}
		done = append(done, f)
	}
	return done, errors.Join(errs...)
}

// ContainerExists tells whether container id exists in ctx's namespace
// (an empty id never does). It is the one test of "is this container
// still there" that gc uses before releasing anything of it.
func ContainerExists(ctx context.Context, c *client.Client, id string) (bool, error) {
	if id == "" {
		return false, nil
	}
	_, err := c.ContainerService().Get(ctx, id)
	switch {
	case err == nil:
		return true, nil
	case errdefs.IsNotFound(err):
		return false, nil
	default:
		return false, fmt.Errorf("load container %s: %w", id, err)
	}
}

// snapshotters returns the names of the snapshotter plugins that loaded.
func snapshotters(ctx context.Context, c *client.Client) ([]string, error) {
	resp, err := c.IntrospectionService().Plugins(ctx, `type=="io.containerd.snapshotter.v1"`)
	if err != nil {
		return nil, fmt.Errorf("list snapshotters: %w", err)
	}
	var names []string
	for _, p := range resp.Plugins {
		if p.InitErr == nil {
			names = append(names, p.ID)
		}
	}
	sort.Strings(names)
	return names, nil
}
