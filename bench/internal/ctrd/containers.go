package ctrd

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/containerd/containerd/v2/client"

	"github.com/artifactfs/artifactfs/tests/harness"
)

// Containers of the sections are harness tasks: one container whose task
// is created and deleted again for every measurement (the shim prepares
// and releases the view each time).

// NewContainer creates container id on blockfile with the artifactfs
// runtime, the image's entrypoint (waiting, never started) and the given
// annotations (untimed: the rootfs snapshot copies a block file).
func (c *Env) NewContainer(ctx context.Context, id string, ann map[string]string) (*harness.Task, error) {
	return c.NewContainerOn(ctx, id, Snapshotter, ann)
}

// NewContainerOn is NewContainer on snapshotter sn (the image must be
// unpacked there: Options.Snapshotters).
func (c *Env) NewContainerOn(ctx context.Context, id, sn string, ann map[string]string) (*harness.Task, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ctx, cancel := c.opCtx(ctx)
	defer cancel()
	return c.H.NewContainer(ctx, harness.Container{ID: id, Snapshotter: sn, Annotations: ann,
		Args: []string{}, NullIO: true})
}

// CreateTask creates k's task (the shim's Create), not started, and
// returns how long that took (k.Created). It does not start when ctx is
// done, but once started it runs to the end.
func (c *Env) CreateTask(ctx context.Context, k *harness.Task) (time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	ctx, cancel := c.opCtx(ctx)
	defer cancel()
	if err := k.Create(ctx); err != nil {
		return 0, err
	}
	return k.Created, nil
}

// StartTask starts k's created task (the entrypoint runs, as a VMM
// would), not cancelled with ctx once begun.
func (c *Env) StartTask(ctx context.Context, k *harness.Task) error {
	if k.Task == nil {
		return fmt.Errorf("start task %s: none created", k.ID)
	}
	ctx, cancel := c.opCtx(ctx)
	defer cancel()
	if err := k.Task.Start(ctx); err != nil {
		return fmt.Errorf("start task %s: %w", k.ID, err)
	}
	return nil
}

// DeleteTask kills and deletes k's task (the shim's Delete), keeping the
// container for the next CreateTask, and returns how long that took; it
// runs also when ctx is done, since deleting is what a Ctrl-C needs.
func (c *Env) DeleteTask(ctx context.Context, k *harness.Task) (time.Duration, error) {
	if k.Task == nil {
		return 0, fmt.Errorf("delete task %s: none created", k.ID)
	}
	ctx, cancel := c.opCtx(ctx)
	defer cancel()
	start := time.Now()
	if _, err := k.Task.Delete(ctx, client.WithProcessKill); err != nil {
		return 0, fmt.Errorf("delete task %s: %w", k.ID, err)
	}
	d := time.Since(start)
	k.Task = nil
	return d, nil
}

// RemoveContainers deletes the containers with their tasks and snapshots
// (harness's Remove: whichever of them containerd still has), also after
// ctx was cancelled.
func (c *Env) RemoveContainers(ctx context.Context, ks []*harness.Task) error {
	ctx, cancel := c.opCtx(ctx)
	defer cancel()
	var errs []error
	for _, k := range ks {
		if err := c.H.Remove(ctx, k.ID); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", k.ID, err))
		}
	}
	return errors.Join(errs...)
}

// WithDaemon starts a daemon for a kernel of mib MiB holding a gated
// container (prefix-view) and a plain one (prefix-plain), runs body on
// them, then removes every container — the two and those body returns —
// checks that nothing is left behind, and stops the daemon; the removal
// and the stop also happen when body fails.
func WithDaemon(ctx context.Context, t *Tools, work string, mib int, prefix string,
	body func(c *Env, gated, plain *harness.Task) ([]*harness.Task, error)) (err error) {
	c, err := Start(ctx, t, work, mib)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, c.Close()) }()
	var ks []*harness.Task
	defer func() {
		if ks != nil { // not removed yet: an error on the way
			err = errors.Join(err, c.RemoveContainers(ctx, ks))
		}
	}()
	gated, err := c.NewContainer(ctx, prefix+"-view", Gated)
	if err != nil {
		return err
	}
	ks = append(ks, gated)
	plain, err := c.NewContainer(ctx, prefix+"-plain", Plain)
	if err != nil {
		return err
	}
	ks = append(ks, plain)
	more, err := body(c, gated, plain)
	ks = append(ks, more...)
	if err != nil {
		return err
	}
	rerr := c.RemoveContainers(ctx, ks)
	ks = nil
	if rerr != nil {
		return rerr
	}
	return c.leakError(ctx)
}

// Parallel runs fn on every container at once and returns the wall time
// and each call's own duration; after a Ctrl-C just ctx's error.
func Parallel(ctx context.Context, ks []*harness.Task, fn func(*harness.Task) (time.Duration, error)) (time.Duration, []time.Duration, error) {
	each := make([]time.Duration, len(ks))
	errs := make([]error, len(ks))
	var wg sync.WaitGroup
	start := time.Now()
	for i, k := range ks {
		wg.Go(func() { each[i], errs[i] = fn(k) })
	}
	wg.Wait()
	wall := time.Since(start)
	if err := errors.Join(errs...); err != nil && ctx.Err() != nil {
		return 0, nil, ctx.Err()
	}
	return wall, each, errors.Join(errs...)
}
