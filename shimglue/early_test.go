package shimglue

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/artifactfs/artifactfs/artifactbind"
	"github.com/artifactfs/artifactfs/view"
)

// gatedJSON is gated as config.json annotations.
const gatedJSON = `{"com.urunc.unikernel.snapshotView":"true","com.urunc.unikernel.mountRootfs":"true"}`

// slowViewer is a fakeViewer whose Prepare waits until open is closed.
type slowViewer struct {
	*fakeViewer
	open chan struct{}
}

func (s *slowViewer) Prepare(ctx context.Context, ns, id string, shared bool) (*view.View, error) {
	<-s.open
	return s.fakeViewer.Prepare(ctx, ns, id, shared)
}

func TestPrepareEarlyThenCreate(t *testing.T) {
	e := newTestEnv(t)
	img := testImage(t, nil)
	v := newFakeViewer(blockfileMount(img))
	p := e.preparer(v)
	writeSpec(t, e.bundle, gatedJSON)
	ctx := context.Background()

	p.PrepareEarly(ctx, "ns", "c1", e.bundle)
	st, err := p.Prepare(ctx, "ns", "c1", e.bundle, gated)
	if err != nil || st == nil || st.Mode != artifactbind.ModeFUSE {
		t.Fatalf("Prepare after PrepareEarly = %+v, %v; want a fuse state", st, err)
	}
	if v.prepares != 1 {
		t.Errorf("the view was prepared %d times, want once", v.prepares)
	}
	checkServed(t, st.Path, wantFiles(t, img))
	log := e.log.String()
	if !strings.Contains(log, `"early":true`) || !strings.Contains(log, "artifacts ready for Create") {
		t.Errorf("the log does not show the early preparation being used:\n%s", log)
	}
	if err := p.Release(ctx, "ns", "c1"); err != nil {
		t.Fatal(err)
	}
	e.requireClean(t, v, img)
}

func TestPrepareEarlyOtherBundle(t *testing.T) {
	e := newTestEnv(t)
	img := testImage(t, nil)
	v := newFakeViewer(blockfileMount(img))
	p := e.preparer(v)
	other := t.TempDir()
	writeSpec(t, other, gatedJSON)
	ctx := context.Background()

	p.PrepareEarly(ctx, "ns", "c1", other)
	st, err := p.Prepare(ctx, "ns", "c1", e.bundle, gated)
	if err != nil || st == nil {
		t.Fatalf("Prepare = %+v, %v", st, err)
	}
	if v.prepares != 2 {
		t.Errorf("prepared %d times, want 2 (the early one is not for this bundle)", v.prepares)
	}
	if _, err := os.Stat(artifactbind.StatePath(other)); !os.IsNotExist(err) {
		t.Errorf("the early preparation's state file is still in the other bundle (%v)", err)
	}
	checkServed(t, st.Path, wantFiles(t, img))
	if err := p.Release(ctx, "ns", "c1"); err != nil {
		t.Fatal(err)
	}
	e.requireClean(t, v, img)
}

func TestPrepareEarlyReleasedWithoutCreate(t *testing.T) {
	for _, how := range []string{"Release", "ReleaseAll"} {
		t.Run(how, func(t *testing.T) {
			e := newTestEnv(t)
			img := testImage(t, nil)
			v := &slowViewer{fakeViewer: newFakeViewer(blockfileMount(img)), open: make(chan struct{})}
			p := e.preparer(v)
			writeSpec(t, e.bundle, gatedJSON)
			ctx := context.Background()

			p.PrepareEarly(ctx, "ns", "c1", e.bundle)
			// Release while the view is still being prepared: it must wait
			// for it and then release it, not miss it.
			time.AfterFunc(50*time.Millisecond, func() { close(v.open) })
			var err error
			if how == "Release" {
				err = p.Release(ctx, "ns", "c1")
			} else {
				err = p.ReleaseAll(ctx)
			}
			if err != nil {
				t.Fatal(err)
			}
			if v.prepares != 1 {
				t.Errorf("prepared %d times, want 1", v.prepares)
			}
			e.requireClean(t, v.fakeViewer, img)
		})
	}
}

func TestPrepareEarlyCreateGivesUp(t *testing.T) {
	e := newTestEnv(t)
	img := testImage(t, nil)
	v := &slowViewer{fakeViewer: newFakeViewer(blockfileMount(img)), open: make(chan struct{})}
	p := e.preparer(v)
	writeSpec(t, e.bundle, gatedJSON)

	p.PrepareEarly(context.Background(), "ns", "c1", e.bundle)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if st, err := p.Prepare(ctx, "ns", "c1", e.bundle, gated); err == nil {
		t.Fatalf("Prepare with its context ended while the early one runs = %+v, nil; want an error", st)
	}
	close(v.open)
	if err := p.ReleaseAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.requireClean(t, v.fakeViewer, img)
}

func TestPrepareEarlyStrictFailure(t *testing.T) {
	e := newTestEnv(t)
	img := testImage(t, nil)
	v := newFakeViewer(blockfileMount(img))
	p := e.preparer(v, withFault(faults(StepMountView, StepOpen)))
	writeSpec(t, e.bundle, `{"com.urunc.unikernel.snapshotView":"true","com.urunc.unikernel.mountRootfs":"true","com.urunc.unikernel.snapshotView.strict":"true"}`)
	ctx := context.Background()

	p.PrepareEarly(ctx, "ns", "c1", e.bundle)
	ann := map[string]string{annView: "true", annRootfs: "true", "com.urunc.unikernel.snapshotView.strict": "true"}
	if st, err := p.Prepare(ctx, "ns", "c1", e.bundle, ann); err == nil {
		t.Fatalf("Prepare = %+v, nil; want the early strict failure", st)
	}
	if v.prepares != 1 {
		t.Errorf("prepared %d times, want 1", v.prepares)
	}
	e.requireClean(t, v, img)
}

func TestPrepareEarlyWithoutSpec(t *testing.T) {
	e := newTestEnv(t)
	img := testImage(t, nil)
	v := newFakeViewer(blockfileMount(img))
	p := e.preparer(v)
	ctx := context.Background()

	p.PrepareEarly(ctx, "ns", "c1", filepath.Join(e.bundle, "missing"))
	st, err := p.Prepare(ctx, "ns", "c1", e.bundle, gated)
	if err != nil || st == nil {
		t.Fatalf("Prepare = %+v, %v", st, err)
	}
	if v.prepares != 1 {
		t.Errorf("prepared %d times, want 1", v.prepares)
	}
	if err := p.Release(ctx, "ns", "c1"); err != nil {
		t.Fatal(err)
	}
	e.requireClean(t, v, img)
}
