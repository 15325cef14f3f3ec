package shimglue

import (
	"bytes"
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
