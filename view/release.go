package view

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/leases"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"
)

// Release removes the view of container id in namespace ns from
// snapshotter and deletes its lease synchronously (containerd's collector
// has run when it returns). What is already gone is not an error. When
// snapshotter is empty it is taken from the lease's resources.
func Release(ctx context.Context, c *client.Client, ns, snapshotter, id string) error {
	if ns == "" || id == "" {
		return fmt.Errorf("release view: namespace and container id are required: %w", errdefs.ErrInvalidArgument)
	}
	ctx = namespaces.WithNamespace(ctx, ns)
	key, lid := Key(ns, id), LeaseID(ns, id)
	if snapshotter == "" {
		var err error
		if snapshotter, err = leaseSnapshotter(ctx, c.LeasesService(), lid, key); err != nil {
			return fmt.Errorf("release view %s: %w", key, err)
		}
	}
	if err := release(ctx, c, snapshotter, key, lid); err != nil {
		return fmt.Errorf("release view of container %s: %w", id, err)
	}
	return nil
}

// release removes view key from snapshotter sn and deletes lease lid; an
// empty name skips that part. Both are attempted even when one fails. A
// shared view (IsShared) is not removed: deleting the lease drops this
// container's reference, and the collector removes the view when it was
// the last.
func release(ctx context.Context, c *client.Client, sn, key, lid string) error {
	var errs []error
	if sn != "" && key != "" && !IsShared(key) {
		if err := c.SnapshotService(sn).Remove(ctx, key); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove view %s from %s: %w", key, sn, err))
		}
	}
	if lid != "" {
		err := c.LeasesService().Delete(ctx, leases.Lease{ID: lid}, leases.SynchronousDelete)
		if err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete lease %s: %w", lid, err))
		}
	}
	return errors.Join(errs...)
}

// leaseSnapshotter returns the snapshotter of view key among the resources
// of lease lid; "" when the lease or the resource is gone.
func leaseSnapshotter(ctx context.Context, ls leases.Manager, lid, key string) (string, error) {
	res, err := ls.ListResources(ctx, leases.Lease{ID: lid})
	if errdefs.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("resources of lease %s: %w", lid, err)
	}
	for _, r := range res {
		if sn, ok := strings.CutPrefix(r.Type, "snapshots/"); ok && r.ID == key {
			return sn, nil
		}
	}
	return "", nil
}
