package view

import (
	"context"
	"errors"
	"fmt"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/leases"
	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"
	"github.com/rs/zerolog"
)

// View is a read-only snapshot view of a container's image, held by a
// lease. It is what the shim records in the bundle state file.
type View struct {
	// Namespace and ContainerID name the container the view belongs to.
	Namespace   string `json:"namespace"`
	ContainerID string `json:"containerID"`
	// Snapshotter is the container's snapshotter, which holds the view.
	Snapshotter string `json:"snapshotter"`
	// Key is the view's snapshot key: Key(Namespace, ContainerID), or
	// for a view shared by the containers of one image, SharedKey.
	Key string `json:"key"`
	// LeaseID is the lease holding the view, LeaseID(Namespace, ContainerID).
	LeaseID string `json:"leaseID"`
	// Parent is the committed snapshot viewed: the chain id of the image's
	// top layer.
	Parent string `json:"parent"`
	// Mounts mount the view read-only (e.g. blockfile: an ext4 loop mount
	// of the parent's block file with "ro"; overlayfs, native: "ro" binds).
	Mounts []mount.Mount `json:"mounts"`
}

// Prepare returns the view of the image of container id in namespace ns,
// creating its lease and view when they do not exist yet, and reusing them
// when they do (a view of another parent, left by an earlier container of
// the same id, is replaced). On failure it removes what it created.
//
// The container must exist and have a snapshot (errdefs.ErrNotFound,
// errdefs.ErrFailedPrecondition otherwise).
func Prepare(ctx context.Context, c *client.Client, ns, id string) (*View, error) {
	return prepare(ctx, c, ns, id, false)
}

// PrepareShared is Prepare with the view shared by every container of the
// same image (same namespace, snapshotter and committed parent): its key
// is SharedKey, and each container's own lease holds it. The lease takes
// its reference before the view is looked up or created, so that
// containerd's collector, which removes a view no lease holds, can never
// remove it under a container: it goes when the last container's lease
// is deleted (Release). An existing snapshot of that key which is not a
// view of the parent is an error; it is never replaced.
func PrepareShared(ctx context.Context, c *client.Client, ns, id string) (*View, error) {
	return prepare(ctx, c, ns, id, true)
}

func prepare(ctx context.Context, c *client.Client, ns, id string, shared bool) (_ *View, retErr error) {
	if ns == "" || id == "" {
		return nil, fmt.Errorf("prepare view: namespace and container id are required: %w", errdefs.ErrInvalidArgument)
	}
	ctx = namespaces.WithNamespace(ctx, ns)
	// The caller's logger carries the container and namespace already.
	log := zerolog.Ctx(ctx)

	// The lease does not depend on the container: create it while the
	// container and its snapshot chain are looked up.
	leaseID, lbls, ls := LeaseID(ns, id), labels(ns, id), c.LeasesService()
	type leaseResult struct {
		created bool
		err     error
	}
	leaseDone := make(chan leaseResult, 1)
	go func() {
		_, err := ls.Create(ctx, leases.WithID(leaseID), leases.WithLabels(lbls))
		switch {
		case err == nil:
			leaseDone <- leaseResult{created: true}
		case errdefs.IsAlreadyExists(err):
			leaseDone <- leaseResult{}
		default:
			leaseDone <- leaseResult{err: fmt.Errorf("prepare view: create lease %s: %w", leaseID, err)}
		}
	}()
	v, sn, lookupErr := lookup(ctx, c, ns, id)
	lease := <-leaseDone
	defer func() {
		if retErr != nil && lease.created {
			// Synchronous: the collector removes a view created under it.
			rctx := context.WithoutCancel(ctx)
			if err := ls.Delete(rctx, leases.Lease{ID: leaseID}, leases.SynchronousDelete); err != nil && !errdefs.IsNotFound(err) {
				log.Warn().Err(err).Str("lease", leaseID).Msg("roll back lease")
			}
		}
	}()
	if lookupErr != nil {
		return nil, lookupErr
	}
	if lease.err != nil {
		return nil, lease.err
	}

	var err error
	if shared {
		v.Key = SharedKey(ns, v.Snapshotter, v.Parent)
		v.Mounts, err = ensureShared(ctx, sn, v)
	} else {
		v.Mounts, err = ensureView(ctx, ls, sn, v, lbls)
	}
	if err != nil {
		return nil, fmt.Errorf("prepare view: %w", err)
	}
	return v, nil
}

// lookup loads container id and finds the committed snapshot its
// snapshot was made from; it returns the view to take (without mounts) and
// the container's snapshotter.
func lookup(ctx context.Context, c *client.Client, ns, id string) (*View, snapshots.Snapshotter, error) {
	ctr, err := c.ContainerService().Get(ctx, id)
	if err != nil {
		return nil, nil, fmt.Errorf("prepare view: load container %s: %w", id, err)
	}
	if ctr.SnapshotKey == "" {
		return nil, nil, fmt.Errorf("prepare view: container %s has no snapshot: %w", id, errdefs.ErrFailedPrecondition)
	}
	if ctr.Snapshotter == "" {
		return nil, nil, fmt.Errorf("prepare view: container %s names no snapshotter: %w", id, errdefs.ErrFailedPrecondition)
	}
	sn := c.SnapshotService(ctr.Snapshotter)
	parent, err := committedParent(ctx, sn, ctr.SnapshotKey)
	if err != nil {
		return nil, nil, fmt.Errorf("prepare view: container %s: %w", id, err)
	}
	return &View{
		Namespace: ns, ContainerID: id, Snapshotter: ctr.Snapshotter,
		Key: Key(ns, id), LeaseID: LeaseID(ns, id), Parent: parent,
	}, sn, nil
}

// committedParent returns the committed snapshot that snapshot key was
// made from: key itself when it is committed, else its parent, which
// containerd only ever lets be a committed snapshot (Prepare and View take
// a committed parent) — one Stat, not a walk.
func committedParent(ctx context.Context, sn snapshots.Snapshotter, key string) (string, error) {
	info, err := sn.Stat(ctx, key)
	if err != nil {
		return "", fmt.Errorf("stat snapshot %s: %w", key, err)
	}
	switch {
	case info.Kind == snapshots.KindCommitted:
		return key, nil
	case info.Parent == "":
		return "", fmt.Errorf("snapshot %s has no committed parent: %w", key, errdefs.ErrFailedPrecondition)
	}
	return info.Parent, nil
}

// errRetry makes ensure call View again: the existing view went, or was
// removed as stale, between the two calls.
var errRetry = errors.New("the view changed")

// ensure creates v's view under v's lease, and when the key exists already
// takes it with existing, which returns its mounts (errRetry: call View
// again, a few times at most).
func ensure(ctx context.Context, sn snapshots.Snapshotter, v *View, lbls map[string]string, existing func() ([]mount.Mount, error)) ([]mount.Mount, error) {
	lctx := leases.WithLease(ctx, v.LeaseID)
	for range 3 {
		mounts, err := sn.View(lctx, v.Key, v.Parent, snapshots.WithLabels(lbls))
		if err == nil {
			return mounts, nil
		}
		if !errdefs.IsAlreadyExists(err) {
			return nil, fmt.Errorf("create view %s of %s in %s: %w", v.Key, v.Parent, v.Snapshotter, err)
		}
		if mounts, err = existing(); !errors.Is(err, errRetry) {
			return mounts, err
		}
	}
	return nil, fmt.Errorf("view %s keeps changing: %w", v.Key, errdefs.ErrAborted)
}

// ensureView creates v's view, of the container's own, under its lease, or
// reuses an existing one of the same parent and container (making sure the
// lease holds it: the lease may be new after a crash between view and
// lease, or a lease deleted by hand), and returns its mounts. A stale view
// of that key (another parent, an earlier container of the same id) is
// replaced.
func ensureView(ctx context.Context, ls leases.Manager, sn snapshots.Snapshotter, v *View, lbls map[string]string) ([]mount.Mount, error) {
	return ensure(ctx, sn, v, lbls, func() ([]mount.Mount, error) {
		info, err := sn.Stat(ctx, v.Key)
		if errdefs.IsNotFound(err) {
			return nil, errRetry
		}
		if err != nil {
			return nil, fmt.Errorf("stat view %s: %w", v.Key, err)
		}
		if info.Kind != snapshots.KindView || info.Parent != v.Parent || info.Labels[LabelContainer] != v.ContainerID {
			zerolog.Ctx(ctx).Warn().Str("key", v.Key).Str("kind", info.Kind.String()).Str("parent", info.Parent).
				Str("want_parent", v.Parent).Msg("replacing stale view")
			if err := sn.Remove(ctx, v.Key); err != nil && !errdefs.IsNotFound(err) {
				return nil, fmt.Errorf("remove stale view %s: %w", v.Key, err)
			}
			return nil, errRetry
		}
		res := leases.Resource{ID: v.Key, Type: resourceType(v.Snapshotter)}
		if err := ls.AddResource(ctx, leases.Lease{ID: v.LeaseID}, res); err != nil {
			return nil, fmt.Errorf("add view %s to lease %s: %w", v.Key, v.LeaseID, err)
		}
		mounts, err := sn.Mounts(ctx, v.Key)
		if errdefs.IsNotFound(err) {
			return nil, errRetry
		}
		if err != nil {
			return nil, fmt.Errorf("mounts of view %s: %w", v.Key, err)
		}
		return mounts, nil
	})
}

// ensureShared creates the shared view v.Key under v's lease, or takes the
// existing one, and returns its mounts. Either way the lease holds the view
// before anything looks at it: containerd's metadata store creates a view
// in the context's lease, and when the key exists already it adds the
// existing snapshot to that lease in the same transaction that finds it,
// then fails with "already exists" (core/metadata/snapshot.go,
// createSnapshot). So the collector, which removes a view no lease holds,
// can never remove it under a container, and one call both references and
// finds it: the first container of an image pays for View only, the others
// for View and then, together, Stat and Mounts. TestViewShared
// (tests/view) checks that every container's lease holds the view. A view
// removed between the two calls (by the collector: an older containerd that
// did not add it to the lease) is created again.
func ensureShared(ctx context.Context, sn snapshots.Snapshotter, v *View) ([]mount.Mount, error) {
	lbls := map[string]string{LabelShared: "true", LabelNamespace: v.Namespace}
	return ensure(ctx, sn, v, lbls, func() ([]mount.Mount, error) { return existingShared(ctx, sn, v) })
}

// existingShared returns the mounts of the shared view v.Key when it is a
// view of v.Parent (errRetry when it does not exist); an existing snapshot
// of that key that is not is an error, and is never replaced.
func existingShared(ctx context.Context, sn snapshots.Snapshotter, v *View) ([]mount.Mount, error) {
	var info snapshots.Info
	var statErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		info, statErr = sn.Stat(ctx, v.Key)
	}()
	mounts, err := sn.Mounts(ctx, v.Key)
	<-done
	switch {
	case errdefs.IsNotFound(statErr):
		return nil, errRetry
	case statErr != nil:
		return nil, fmt.Errorf("stat shared view %s: %w", v.Key, statErr)
	case info.Kind != snapshots.KindView || info.Parent != v.Parent:
		return nil, fmt.Errorf("shared view %s is a %s snapshot of %q, not a view of %s: %w",
			v.Key, info.Kind, info.Parent, v.Parent, errdefs.ErrFailedPrecondition)
	case errdefs.IsNotFound(err):
		return nil, errRetry
	case err != nil:
		return nil, fmt.Errorf("mounts of shared view %s: %w", v.Key, err)
	}
	return mounts, nil
}
