package shimglue

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/artifactfs/artifactfs/artifactbind"
	"github.com/artifactfs/artifactfs/view"
)

// stuckViewer is a fakeViewer whose Prepare blocks until release is
// closed, as a snapshotter or a mount stuck in the kernel would.
type stuckViewer struct {
	*fakeViewer
	release chan struct{}
}

func (s *stuckViewer) Prepare(ctx context.Context, ns, id string, shared bool) (*view.View, error) {
	<-s.release
	return s.fakeViewer.Prepare(ctx, ns, id, shared)
}

// TestPrepareDeadline blocks the view's preparation past the deadline:
// Create must go on within it (without a view, or failing when strict),
// and the abandoned preparation must roll back once it unblocks.
func TestPrepareDeadline(t *testing.T) {
	img := testImage(t, nil)
	for _, strict := range []bool{false, true} {
		e := newTestEnv(t)
		v := &stuckViewer{newFakeViewer(blockfileMount(img)), make(chan struct{})}
		p := e.preparer(v, WithPrepareTimeout(300*time.Millisecond), WithStrict(strict))
		start := time.Now()
		st, err := p.Prepare(context.Background(), "ns", "c1", e.bundle, gated)
		took := time.Since(start)
		if took > 3*time.Second {
			t.Fatalf("strict=%v: Prepare took %s with a 300ms deadline", strict, took)
		}
		switch {
		case st != nil:
			t.Fatalf("strict=%v: Prepare = %+v; want no view", strict, st)
		case strict && !errors.Is(err, ErrPrepareTimeout):
			t.Fatalf("strict: Prepare error %v; want ErrPrepareTimeout", err)
		case !strict && err != nil:
			t.Fatalf("Prepare error %v; want none (start without a view)", err)
		}
		close(v.release)
		deadline := time.Now().Add(10 * time.Second)
		for {
			got, err := artifactbind.LoadState(e.bundle)
			if err == nil && got == nil && len(v.held()) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("strict=%v: abandoned preparation not rolled back: state %+v, %v; views %v", strict, got, err, v.held())
			}
			time.Sleep(20 * time.Millisecond)
		}
		e.requireClean(t, v.fakeViewer, img)
	}
}
