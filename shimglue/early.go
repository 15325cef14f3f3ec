package shimglue

import (
	"context"
	"time"

	"github.com/artifactfs/artifactfs/artifactbind"
	"github.com/artifactfs/artifactfs/internal/layout"
)

// earlyPrepare is a Prepare started when the shim started, before
// containerd sent the container's Create (Preparer.PrepareEarly).
type earlyPrepare struct {
	bundle string
	done   chan struct{} // closed when st and err are set
	st     *artifactbind.State
	err    error
}

// PrepareEarly starts preparing container ns/id of bundle in the
// background, reading the annotations from the bundle's config.json. A
// shim calls it as soon as it starts: containerd wrote the bundle and
// created the container before starting the shim, and sends Create only
// after the shim is up, so the view, the mounts and the state file are
// made while containerd connects. Prepare for the same container and bundle
// then waits for the result instead of starting over; Release and
// ReleaseAll wait for it before releasing. A crash meanwhile is cleaned up
// like one during Create: the state file lists what was taken.
//
// It logs to the logger of ctx, which the caller gives the container's
// fields (WithContainer).
func (p *Preparer) PrepareEarly(ctx context.Context, ns, id, bundle string) {
	log := p.logger(ctx)
	spec, err := layout.ReadSpec(bundle)
	if err != nil {
		log.Debug().Err(err).Msg("no early preparation; Create will try")
		return
	}
	key := ns + "/" + id
	e := &earlyPrepare{bundle: bundle, done: make(chan struct{})}
	p.mu.Lock()
	if p.early[key] != nil || p.live[key] != nil {
		p.mu.Unlock()
		return
	}
	p.early[key] = e
	p.mu.Unlock()
	go func() {
		defer close(e.done)
		e.st, e.err = p.prepareNow(context.WithoutCancel(ctx), ns, id, bundle, spec.Annotations, true)
	}()
}

// takeEarly waits for the early preparation of key, if any, and removes
// it from the pending ones. It gives up when ctx ends (the preparation is
// then still pending).
func (p *Preparer) takeEarly(ctx context.Context, key string) (*earlyPrepare, error) {
	p.mu.Lock()
	e := p.early[key]
	p.mu.Unlock()
	if e == nil {
		return nil, nil
	}
	select {
	case <-e.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	p.mu.Lock()
	if p.early[key] == e {
		delete(p.early, key)
	}
	p.mu.Unlock()
	return e, nil
}

// useEarly returns the result of the early preparation of container ns/id
// when it was for bundle; ok is false when there was none, or one for
// another bundle (whose resources Prepare then releases as an earlier
// attempt).
func (p *Preparer) useEarly(ctx context.Context, ns, id, bundle string) (st *artifactbind.State, err error, ok bool) {
	begin := time.Now()
	e, err := p.takeEarly(ctx, ns+"/"+id)
	if err != nil {
		return nil, err, true
	}
	if e == nil || e.bundle != bundle {
		return nil, nil, false
	}
	if e.st != nil {
		p.logger(ctx).Info().Dur("waited", time.Since(begin)).Msg("artifacts ready for Create")
	}
	return e.st, e.err, true
}

// waitEarly waits for every early preparation still running, so that
// ReleaseAll finds what they took.
func (p *Preparer) waitEarly() {
	p.mu.Lock()
	keys := make([]string, 0, len(p.early))
	for k := range p.early {
		keys = append(keys, k)
	}
	p.mu.Unlock()
	for _, k := range keys {
		_, _ = p.takeEarly(context.Background(), k)
	}
}
