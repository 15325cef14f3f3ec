package shimglue

import (
	"context"
	"errors"
	"testing"

	"github.com/containerd/containerd/v2/pkg/namespaces"
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
	p := e.preparer(v, withFault(failAt(StepFUSE))) // binds: they outlive the preparer
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

// TestManagerStopOtherContainersState: the delete command of container c2
// finds, in c2's bundle, a state file naming c1 (copied or forged): it
// leaves c1's per-container path, view and lease alone.
func TestManagerStopOtherContainersState(t *testing.T) {
	e := newTestEnv(t)
	img := testImage(t, nil)
	v := newFakeViewer(blockfileMount(img))
	p := e.preparer(v)
	st, err := p.Prepare(context.Background(), "ns", "c1", e.bundle, gated)
	if err != nil || !st.Ready() {
		t.Fatalf("Prepare = %+v, %v", st, err)
	}
	defer p.Release(context.Background(), "ns", "c1")
	m := WrapManager(&fakeShim{}, WithRoot(e.root))
	m.newViewer = func(string) Viewer { return v }
	ctx := namespaces.WithNamespace(context.Background(), "ns")
	ctx = context.WithValue(ctx, shim.OptsKey{}, shim.Opts{BundlePath: e.bundle})
	if _, err := m.Stop(ctx, "c2"); err != nil {
		t.Fatal(err)
	}
	if v.releases != 0 {
		t.Errorf("%d views released by c2's delete command; want c1's left alone", v.releases)
	}
	checkServed(t, st.Path, wantFiles(t, img))
}
