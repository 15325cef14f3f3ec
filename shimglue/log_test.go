package shimglue

import (
	"bytes"
	"testing"
)

func TestPendingWriter(t *testing.T) {
	var p PendingWriter
	p.Write([]byte("before "))
	p.Write([]byte("attach, "))
	var out bytes.Buffer
	if err := p.Attach(&out); err != nil {
		t.Fatal(err)
	}
	p.Write([]byte("after"))
	if got := out.String(); got != "before attach, after" {
		t.Errorf("destination got %q", got)
	}
	// Held output is bounded.
	var q PendingWriter
	big := make([]byte, maxPending)
	q.Write(big)
	if n, err := q.Write([]byte("x")); n != 1 || err != nil {
		t.Errorf("Write past the bound = %d, %v; want 1, nil (dropped)", n, err)
	}
	out.Reset()
	q.Attach(&out)
	if out.Len() != maxPending {
		t.Errorf("held %d bytes, want %d", out.Len(), maxPending)
	}
}
