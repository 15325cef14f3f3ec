package shimglue

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/artifactfs/artifactfs/artifactbind"
	"github.com/artifactfs/artifactfs/fs"
	"github.com/artifactfs/artifactfs/internal/artifact"
	"github.com/artifactfs/artifactfs/internal/layout"
	"github.com/artifactfs/artifactfs/internal/source"
)

// Preparer prepares and releases the per-container paths of the containers
// of one shim. It is safe for concurrent use.
type Preparer struct {
	cfg    Config
	viewer Viewer

	mu    sync.Mutex
	live  map[string]*container    // by namespace/id
	early map[string]*earlyPrepare // by namespace/id, until Create takes it
}

// container is what Prepare took for one container. st lists the
// resources that may exist (it is what the state file says); src and fuse
// are the handles only the preparing process holds.
type container struct {
	bundle      string
	st          *artifactbind.State
	log         zerolog.Logger
	strict      bool
	wanted      bool          // the annotations or urunc.json ask for a view
	src         source.Source // open while a FUSE mount serves from it
	fuse        *fs.Mounted
	viewMounted bool
	timer       stepTimer
}

// NewPreparer returns a Preparer that takes views from viewer.
func NewPreparer(viewer Viewer, opts ...Option) *Preparer {
	return &Preparer{cfg: newConfig(opts), viewer: viewer, live: map[string]*container{}, early: map[string]*earlyPrepare{}}
}

// Prepare gives container ns/id, whose bundle and OCI annotations are
// given, its per-container path when the gate says so (Gate, and the
// image's urunc.json when the annotations leave it to that), and writes
// the bundle state. It returns the state, or nil when the container gets
// no view: not asked for, or a step failed (logged at warn level, with
// every earlier step rolled back). It returns an error only when the
// failure is strict (Config.Strict, AnnotationStrict). When PrepareEarly
// started on the same container and bundle, it returns that result.
//
// Prepare, like every method of a Preparer, logs to the logger of ctx,
// which the caller gives the container's fields (WithContainer), and adds
// only its own (mode, path, steps; snapshotter once the view is there);
// Config.Logger serves a caller that put no logger there.
func (p *Preparer) Prepare(ctx context.Context, ns, id, bundle string, annotations map[string]string) (*artifactbind.State, error) {
	if st, err, ok := p.useEarly(ctx, ns, id, bundle); ok {
		return st, err
	}
	return p.prepareNow(ctx, ns, id, bundle, annotations, false)
}

// prepareNow is Prepare without looking for an early preparation; early
// marks one in the log.
func (p *Preparer) prepareNow(ctx context.Context, ns, id, bundle string, annotations map[string]string, early bool) (*artifactbind.State, error) {
	log := p.logger(ctx)
	decision := Gate(annotations)
	switch {
	case IsSandbox(annotations):
		log.Debug().Msg("sandbox container: no snapshot view")
		return nil, nil
	case decision == Skip:
		log.Debug().Msg("no snapshot view asked for")
		return nil, nil
	}
	annCfg, _ := artifact.FromAnnotations(annotations)
	c := &container{bundle: bundle, log: *log, strict: p.cfg.Strict || strict(annCfg), wanted: decision == Act}
	start := time.Now()
	strictNow := c.strict
	st, err := p.prepareWithin(ctx, ns, id, c, decision, annotations)
	if errors.Is(err, ErrPrepareTimeout) {
		// c belongs to the preparation still running: log with log.
		return timedOut(log, strictNow, ns, id, err)
	}
	switch {
	case err == nil:
		c.log.Info().Str("mode", string(st.Mode)).Str("path", st.Path).Bool("early", early).
			Dur("took", time.Since(start)).Dict("steps", c.timer.dict()).Msg("artifacts served")
		return st, nil
	case errors.Is(err, errNotWanted), errors.Is(err, errNoUruncConfig):
		c.log.Debug().Err(err).Msg("no snapshot view: released it")
		return nil, nil
	case c.strict:
		c.log.Warn().Err(err).Msg("snapshot view failed, rolled back; failing Create (strict)")
		return nil, fmt.Errorf("artifactfs snapshot view of %s/%s: %w", ns, id, err)
	case !c.wanted:
		// Probing an image that may not be a unikernel's at all.
		c.log.Debug().Err(err).Msg("could not look into the image for urunc.json; no snapshot view")
		return nil, nil
	default:
		c.log.Warn().Err(err).Msg("snapshot view failed, rolled back; the container starts without one")
		return nil, nil
	}
}

// prepare runs the steps, rolling all back on error.
func (p *Preparer) prepare(ctx context.Context, ns, id string, c *container, decision Decision, ann map[string]string) (_ *artifactbind.State, err error) {
	path, err := artifactbind.ContainerPath(p.cfg.Root, ns, id)
	if err != nil {
		return nil, err
	}
	key := ns + "/" + id
	if err := p.releaseLive(ctx, key); err != nil {
		return nil, fmt.Errorf("release an earlier attempt: %w", err)
	}
	if err := p.Cleanup(ctx, c.bundle); err != nil {
		return nil, fmt.Errorf("clean up an earlier attempt: %w", err)
	}
	c.st = &artifactbind.State{
		Version:     artifactbind.StateVersion,
		ContainerID: id,
		Namespace:   ns,
		Path:        path,
		Mode:        artifactbind.ModePending,
	}
	// The shim marks its root before it looks for what an earlier attempt
	// left there: cleanup touches only a marked root.
	if err := layout.EnsureRoot(p.cfg.Root); err != nil {
		return nil, err
	}
	// A crashed earlier shim may have left mounts at these paths.
	if err := p.clear(false, c.st); err != nil {
		return nil, err
	}
	if err := p.clear(true, c.st); err != nil {
		return nil, err
	}
	if err := layout.ReleaseContainer(p.cfg.Root, ns, id); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			if terr := p.teardown(ctx, c); terr != nil {
				c.log.Warn().Err(terr).Msg("rollback incomplete; the shim's delete or `artifactfs gc` finishes it")
			}
		}
	}()
	if err := p.steps(ctx, c, decision, ann); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := ctx.Err(); err != nil {
		// Past the deadline, Create went on without this view.
		return nil, fmt.Errorf("preparation abandoned: %w", err)
	}
	p.live[key] = c
	return c.st, nil
}

// clear unmounts and removes what is at the per-container path (view
// false) or the view mount point (view true) of the container st names.
// The path is derived from the root and the names, never taken from st,
// and only what artifactfs marked as its own is touched (layout.Entry.Clear).
func (p *Preparer) clear(view bool, st *artifactbind.State) error {
	_, err := p.entry(view, st).Clear(false)
	return err
}

// clearView undoes the view mount of the container st names: its
// reference to a shared view's mount (unmounted with the last one), or
// its own view mount point.
func (p *Preparer) clearView(st *artifactbind.State) error {
	if name := st.SharedView(); name != "" {
		_, err := p.image(st, name).Release(st.ContainerID)
		return err
	}
	return p.clear(true, st)
}

// image returns the host mount of the shared view name of the container
// st names.
func (p *Preparer) image(st *artifactbind.State, name string) layout.Image {
	return layout.Image{Root: p.cfg.Root, Namespace: st.Namespace, Name: name}
}

// entry returns the per-container path (view false) or the view mount
// point (view true) of the container st names.
func (p *Preparer) entry(view bool, st *artifactbind.State) layout.Entry {
	return layout.Entry{Root: p.cfg.Root, View: view, Namespace: st.Namespace, ID: st.ContainerID}
}

// Release undoes Prepare for container ns/id: it unmounts the
// per-container path and the view, releases the view and its lease, and
// removes the state file and the directories. A container this Preparer
// did not prepare, or released already, is no error. When the view cannot
// be released, the state file stays, so that Cleanup can try again.
func (p *Preparer) Release(ctx context.Context, ns, id string) error {
	key := ns + "/" + id
	if _, err := p.takeEarly(ctx, key); err != nil {
		return fmt.Errorf("wait for the early preparation of %s: %w", key, err)
	}
	return p.releaseLive(ctx, key)
}

// ReleaseAll releases every container this Preparer holds, returning the
// failures joined.
func (p *Preparer) ReleaseAll(ctx context.Context) error {
	p.waitEarly()
	p.mu.Lock()
	keys := make([]string, 0, len(p.live))
	for k := range p.live {
		keys = append(keys, k)
	}
	p.mu.Unlock()
	var errs []error
	for _, k := range keys {
		errs = append(errs, p.releaseLive(ctx, k))
	}
	return errors.Join(errs...)
}

func (p *Preparer) releaseLive(ctx context.Context, key string) error {
	p.mu.Lock()
	c := p.live[key]
	delete(p.live, key)
	p.mu.Unlock()
	if c == nil {
		return nil
	}
	return p.teardown(ctx, c)
}

// Cleanup releases what the state file of bundle lists: the same as
// Release, for a process that holds no handles (the shim's delete command
// path, after the shim died). It is idempotent: without a state file it
// does nothing. A state file whose paths are not exactly those the root
// gives its namespace and container id is refused (an error wrapping
// artifactbind.ErrNotOwnedPath) and nothing is touched.
func (p *Preparer) Cleanup(ctx context.Context, bundle string) error {
	return p.cleanup(ctx, bundle, "", "")
}

// CleanupContainer is Cleanup for the bundle of container ns/id: a state
// file naming another container is refused (an error wrapping
// artifactbind.ErrNotOwnedPath) and nothing is touched, so that a state
// file written into one bundle cannot release another container's
// artifacts. The shim's delete command, which is handed a container id
// and finds its bundle, uses it.
func (p *Preparer) CleanupContainer(ctx context.Context, bundle, ns, id string) error {
	return p.cleanup(ctx, bundle, ns, id)
}

// cleanup is Cleanup, checking the container the state names when id is
// set (and its namespace, when ns is).
func (p *Preparer) cleanup(ctx context.Context, bundle, ns, id string) error {
	st, err := artifactbind.LoadState(bundle)
	if err != nil || st == nil {
		return err
	}
	if id != "" && (st.ContainerID != id || ns != "" && st.Namespace != ns) {
		return fmt.Errorf("state of bundle %s names container %s/%s, not %s/%s: %w",
			bundle, st.Namespace, st.ContainerID, ns, id, artifactbind.ErrNotOwnedPath)
	}
	if err := st.CheckRoot(p.cfg.Root); err != nil {
		return fmt.Errorf("state of bundle %s: %w", bundle, err)
	}
	return p.teardown(ctx, &container{bundle: bundle, st: st, log: *p.logger(ctx)})
}

// Cleanup is Preparer.Cleanup with a Preparer made for the purpose.
func Cleanup(ctx context.Context, bundle string, viewer Viewer, opts ...Option) error {
	return NewPreparer(viewer, opts...).Cleanup(ctx, bundle)
}

// fuseStopTimeout bounds the wait for a per-container FUSE server to stop
// after its mount was unmounted (fs.Mounted.Stop; a variable for tests).
var fuseStopTimeout = 5 * time.Second

// teardown releases what c lists, in the reverse order of the steps:
// the per-container path, the source, the view mount, the view and its
// lease, the state file. It carries on past failures and returns them
// joined. If the view could not be released, the state file is rewritten
// to list only that, so that a later Cleanup retries it.
func (p *Preparer) teardown(ctx context.Context, c *container) error {
	st := c.st
	if st == nil {
		return nil
	}
	var errs []error
	if c.fuse != nil {
		if err := c.fuse.Stop(fuseStopTimeout); err != nil {
			errs = append(errs, err)
		}
		c.fuse = nil
	}
	if st.Path != "" {
		if err := p.clear(false, st); err != nil {
			errs = append(errs, fmt.Errorf("per-container path: %w", err))
		}
	}
	if c.src != nil {
		if err := c.src.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close %s: %w", c.src, err))
		}
		c.src = nil
	}
	if st.ViewMountpoint != "" {
		if err := p.clearView(st); err != nil {
			errs = append(errs, fmt.Errorf("view mount: %w", err))
		}
	}
	// A shared view's reference taken before the state recorded it.
	if err := layout.ReleaseContainer(p.cfg.Root, st.Namespace, st.ContainerID); err != nil {
		errs = append(errs, fmt.Errorf("shared view mount: %w", err))
	}
	// Always, even without a snapshotter: a crash right after the view was
	// made leaves a pending state that does not name it, and Release then
	// finds it through the lease. What is gone is no error.
	released := true
	if err := p.viewer.Release(context.WithoutCancel(ctx), st.Namespace, st.Snapshotter, st.ContainerID); err != nil {
		errs = append(errs, fmt.Errorf("release view: %w", err))
		released = false
	}
	if c.bundle != "" {
		var err error
		if released {
			err = artifactbind.RemoveState(c.bundle)
		} else {
			err = artifactbind.WriteState(c.bundle, &artifactbind.State{
				ContainerID: st.ContainerID, Namespace: st.Namespace, Snapshotter: st.Snapshotter,
				ViewKey: st.ViewKey, LeaseID: st.LeaseID, Parent: st.Parent, Mode: artifactbind.ModePending,
			})
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
