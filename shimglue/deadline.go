package shimglue

import (
	"context"
	"errors"
	"fmt"

	"github.com/rs/zerolog"

	"github.com/artifactfs/artifactfs/artifactbind"
)

// ErrPrepareTimeout is wrapped by the error of a strict Create whose
// preparation did not finish within Config.PrepareTimeout.
var ErrPrepareTimeout = errors.New("artifactfs preparation did not finish in time")

// prepareWithin runs prepare under the deadline Config.PrepareTimeout.
// When the deadline passes first, it returns an error wrapping
// ErrPrepareTimeout at once; the preparation goes on in the background
// with its context cancelled, never commits (prepare checks the context
// under p.mu before it records the container), and rolls back whatever it
// took once its blocked step returns.
func (p *Preparer) prepareWithin(ctx context.Context, ns, id string, c *container, decision Decision, ann map[string]string) (*artifactbind.State, error) {
	dctx, cancel := context.WithTimeout(ctx, p.cfg.PrepareTimeout)
	type result struct {
		st  *artifactbind.State
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer cancel()
		st, err := p.prepare(dctx, ns, id, c, decision, ann)
		done <- result{st, err}
	}()
	select {
	case r := <-done:
		return r.st, r.err
	case <-dctx.Done():
	}
	// The goroutine cancels dctx once it has sent its result, and a
	// preparation may end just as the deadline passes: a result that is
	// there wins over the deadline.
	select {
	case r := <-done:
		return r.st, r.err
	default:
	}
	// Either prepare recorded the container before the deadline (its
	// result is on its way) or it never will.
	p.mu.Lock()
	committed := p.live[ns+"/"+id] == c
	p.mu.Unlock()
	if committed {
		r := <-done
		return r.st, r.err
	}
	log := p.logger(ctx)
	go func() {
		r := <-done
		log.Warn().AnErr("error", r.err).Msg("abandoned preparation finished; rolled back")
	}()
	return nil, fmt.Errorf("%w: %s passed (%s to change it); rolling back in the background",
		ErrPrepareTimeout, p.cfg.PrepareTimeout, PrepareTimeoutEnv)
}

// timedOut decides a Create whose preparation ran out of time: it fails
// in strict mode, and starts the container without a view otherwise.
func timedOut(log *zerolog.Logger, strict bool, ns, id string, err error) (*artifactbind.State, error) {
	if strict {
		log.Warn().Err(err).Msg("snapshot view timed out; failing Create (strict)")
		return nil, fmt.Errorf("artifactfs snapshot view of %s/%s: %w", ns, id, err)
	}
	log.Warn().Err(err).Msg("snapshot view timed out; the container starts without one")
	return nil, nil
}
