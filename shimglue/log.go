package shimglue

import (
	"bytes"
	"context"
	"io"
	"sync"

	"github.com/rs/zerolog"
)

// ShimLogger returns the logger a shim gives the Preparer: JSON lines with
// a timestamp to w (the shim's log, which containerd copies into its own),
// at info level and above.
func ShimLogger(w io.Writer) zerolog.Logger {
	return zerolog.New(w).Level(zerolog.InfoLevel).With().Timestamp().Str("component", "artifactfs").Logger()
}

// WithContainer returns ctx carrying log with the fields container (id)
// and namespace (ns, when not empty). The shim's edges — the task
// service's Create, Delete and Kill, the manager's Stop, the early start
// and the cleanup of a forgotten shim — call it once per request; the
// Preparer, view and fs below take the logger from the context
// (zerolog.Ctx) and add only their own fields, so no log line carries a
// key twice.
func WithContainer(ctx context.Context, log zerolog.Logger, ns, id string) context.Context {
	lc := log.With().Str("container", id)
	if ns != "" {
		lc = lc.Str("namespace", ns)
	}
	return lc.Logger().WithContext(ctx)
}

// logger returns the logger of ctx (WithContainer), or Config.Logger for a
// caller that put none there.
func (p *Preparer) logger(ctx context.Context) *zerolog.Logger {
	if l := zerolog.Ctx(ctx); l.GetLevel() != zerolog.Disabled {
		return l
	}
	return &p.cfg.Logger
}

// maxPending bounds what a PendingWriter holds before it has a
// destination; more is dropped.
const maxPending = 1 << 20

// PendingWriter holds what is written to it until Attach gives it its
// destination, then writes through. A shim's log only opens once the shim
// runtime has started, and the shim starts preparing before that.
type PendingWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
	w   io.Writer
}

// Write writes p to the destination, or holds it until there is one.
func (p *PendingWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.w != nil {
		return p.w.Write(b)
	}
	if p.buf.Len()+len(b) <= maxPending {
		p.buf.Write(b)
	}
	return len(b), nil
}

// Attach writes what was held to w and sends every later write there.
func (p *PendingWriter) Attach(w io.Writer) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.w = w
	_, err := w.Write(p.buf.Bytes())
	p.buf = bytes.Buffer{}
	return err
}
