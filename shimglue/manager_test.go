package shimglue

import (
	"context"
	"errors"
	"testing"

	"github.com/containerd/containerd/v2/pkg/shim"
)

// fakeShim is runc's manager as Stop sees it.
type fakeShim struct {
	shim.Shim
	stopErr error
	stopped int
}

func (f *fakeShim) Stop(context.Context, string) (shim.StopStatus, error) {
	f.stopped++
	return shim.StopStatus{Pid: 7, ExitStatus: 137}, f.stopErr
}

// TestManagerStop: the delete command stops the container (runc's Stop)
// and cleans up from the bundle state, whatever Stop returned; without a
// state it is a pass-through.
func TestManagerStop(t *testing.T) {
	e := newTestEnv(t)
	img := testImage(t, nil)
	v := newFakeViewer(blockfileMount(img))
	p := e.preparer(v, WithFault(FailAt(StepFUSE))) // binds: they outlive the preparer
	if _, err := p.Prepare(context.Background(), "ns", "c1", e.bundle, gated); err != nil {
		t.Fatal(err)
	}
	for _, c := range p.live { // the shim is gone
		c.src.Close()
	}
	inner := &fakeShim{stopErr: errors.New("runc delete: boom")}
	m := WrapManager(inner, WithRoot(e.root))
	m.newViewer = func(string) Viewer { return v }
	ctx := context.WithValue(context.Background(), shim.OptsKey{}, shim.Opts{BundlePath: e.bundle})
	status, err := m.Stop(ctx, "c1")
	if status.Pid != 7 || status.ExitStatus != 137 || err == nil || inner.stopped != 1 {
		t.Errorf("Stop = %+v, %v after %d inner stops; want runc's result", status, err, inner.stopped)
	}
	e.requireClean(t, v, img)

	inner.stopErr = nil
	if _, err := m.Stop(ctx, "c1"); err != nil || inner.stopped != 2 {
		t.Errorf("second Stop = %v", err)
	}
}
