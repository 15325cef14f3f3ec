package shimglue

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	taskAPI "github.com/containerd/containerd/api/runtime/task/v3"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"
	"github.com/containerd/errdefs/pkg/errgrpc"

	"github.com/artifactfs/artifactfs/artifactbind"
)

// fakeTasks is the inner task service: it records calls and can fail.
type fakeTasks struct {
	taskAPI.TTRPCTaskService
	createErr, deleteErr error
	creates, deletes     int
	sawState             *artifactbind.State // the state file when the inner Create ran
	bundle               string
}

func (f *fakeTasks) Create(_ context.Context, r *taskAPI.CreateTaskRequest) (*taskAPI.CreateTaskResponse, error) {
	f.creates++
	f.sawState, _ = artifactbind.LoadState(r.Bundle)
	return &taskAPI.CreateTaskResponse{Pid: 42}, f.createErr
}

func (f *fakeTasks) Delete(context.Context, *taskAPI.DeleteRequest) (*taskAPI.DeleteResponse, error) {
	f.deletes++
	return &taskAPI.DeleteResponse{}, f.deleteErr
}

func writeSpec(t *testing.T, bundle string, annotations string) {
	t.Helper()
	config := `{"ociVersion":"1.2.0","annotations":` + annotations + `}`
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestTaskServiceUngated(t *testing.T) {
	v := newFakeViewer()
	inner := &fakeTasks{}
	s := NewTaskService(inner, NewPreparer(v, WithRoot(t.TempDir())))
	ctx := namespaces.WithNamespace(context.Background(), "ns")
	bundle := t.TempDir()
	writeSpec(t, bundle, `{"com.urunc.unikernel.snapshotView":"false"}`)
	resp, err := s.Create(ctx, &taskAPI.CreateTaskRequest{ID: "c1", Bundle: bundle})
	if err != nil || resp.Pid != 42 || inner.creates != 1 || v.prepares != 0 {
		t.Errorf("Create = %v, %v; %d inner creates, %d views", resp, err, inner.creates, v.prepares)
	}
	// No readable config.json: runc's business; no view.
	if _, err := s.Create(ctx, &taskAPI.CreateTaskRequest{ID: "c2", Bundle: t.TempDir()}); err != nil || inner.creates != 2 {
		t.Errorf("Create without config.json = %v", err)
	}
	if _, err := s.Create(context.Background(), &taskAPI.CreateTaskRequest{ID: "c3", Bundle: bundle}); err == nil {
		t.Error("Create without a namespace succeeded")
	}
}

func TestTaskServiceLifecycle(t *testing.T) {
	e := newTestEnv(t)
	img := testImage(t, nil)
	ctx := namespaces.WithNamespace(context.Background(), "ns")
	writeSpec(t, e.bundle, `{"com.urunc.unikernel.snapshotView":"true","com.urunc.unikernel.mountRootfs":"true"}`)

	t.Run("create and delete", func(t *testing.T) {
		v := newFakeViewer(blockfileMount(img))
		inner := &fakeTasks{}
		s := NewTaskService(inner, e.preparer(v))
		if _, err := s.Create(ctx, &taskAPI.CreateTaskRequest{ID: "c1", Bundle: e.bundle}); err != nil {
			t.Fatal(err)
		}
		if !inner.sawState.Ready() || inner.sawState.Mode != artifactbind.ModeFUSE {
			t.Fatalf("the inner Create ran before the state was ready: %+v", inner.sawState)
		}
		if _, err := os.Stat(filepath.Join(e.root, "ns", "c1", ".boot/kernel")); err != nil {
			t.Errorf("per-container path not served: %v", err)
		}
		// An exec's Delete leaves the view alone.
		if _, err := s.Delete(ctx, &taskAPI.DeleteRequest{ID: "c1", ExecID: "e1"}); err != nil {
			t.Fatal(err)
		}
		if st, _ := artifactbind.LoadState(e.bundle); !st.Ready() {
			t.Fatal("an exec's Delete released the view")
		}
		if _, err := s.Delete(ctx, &taskAPI.DeleteRequest{ID: "c1"}); err != nil {
			t.Fatal(err)
		}
		e.requireClean(t, v, img)
	})

	t.Run("inner create fails", func(t *testing.T) {
		v := newFakeViewer(blockfileMount(img))
		inner := &fakeTasks{createErr: errors.New("runc create: boom")}
		s := NewTaskService(inner, e.preparer(v))
		if _, err := s.Create(ctx, &taskAPI.CreateTaskRequest{ID: "c1", Bundle: e.bundle}); err == nil {
			t.Fatal("Create succeeded")
		}
		e.requireClean(t, v, img)
	})

	t.Run("inner delete fails", func(t *testing.T) {
		v := newFakeViewer(blockfileMount(img))
		inner := &fakeTasks{}
		s := NewTaskService(inner, e.preparer(v))
		if _, err := s.Create(ctx, &taskAPI.CreateTaskRequest{ID: "c1", Bundle: e.bundle}); err != nil {
			t.Fatal(err)
		}
		inner.deleteErr = errgrpc.ToGRPC(errdefs.ErrFailedPrecondition)
		if _, err := s.Delete(ctx, &taskAPI.DeleteRequest{ID: "c1"}); err == nil {
			t.Fatal("Delete succeeded")
		}
		if st, _ := artifactbind.LoadState(e.bundle); !st.Ready() {
			t.Fatal("a failed Delete released the view of a container that still exists")
		}
		// Already gone: released.
		inner.deleteErr = errgrpc.ToGRPC(errdefs.ErrNotFound)
		s.Delete(ctx, &taskAPI.DeleteRequest{ID: "c1"})
		e.requireClean(t, v, img)
	})

	t.Run("strict", func(t *testing.T) {
		v := newFakeViewer(blockfileMount(img))
		inner := &fakeTasks{}
		s := NewTaskService(inner, e.preparer(v, WithStrict(true), withFault(failAt(StepResolve))))
		_, err := s.Create(ctx, &taskAPI.CreateTaskRequest{ID: "c1", Bundle: e.bundle})
		if !errdefs.IsFailedPrecondition(errgrpc.ToNative(err)) || inner.creates != 0 {
			t.Errorf("strict Create = %v after %d inner creates; want FailedPrecondition, none", err, inner.creates)
		}
		e.requireClean(t, v, img)
	})

	t.Run("close releases all", func(t *testing.T) {
		v := newFakeViewer(blockfileMount(img))
		s := NewTaskService(&fakeTasks{}, e.preparer(v))
		if _, err := s.Create(ctx, &taskAPI.CreateTaskRequest{ID: "c1", Bundle: e.bundle}); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(ctx); err != nil {
			t.Fatal(err)
		}
		e.requireClean(t, v, img)
	})
}

func TestRootPermissions(t *testing.T) {
	e := newTestEnv(t)
	img := testImage(t, nil)
	v := newFakeViewer(blockfileMount(img))
	root := filepath.Join(e.root, "fresh")
	p := NewPreparer(v, WithRoot(root))
	if _, err := p.Prepare(context.Background(), "ns", "c1", e.bundle, gated); err != nil {
		t.Fatal(err)
	}
	defer p.Release(context.Background(), "ns", "c1")
	for dir, want := range map[string]os.FileMode{root: 0o700, filepath.Join(root, "ns"): 0o700, filepath.Join(root, artifactbind.ImagesDir): 0o700, filepath.Join(root, artifactbind.ImagesDir, "ns"): 0o700} {
		if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v, %v; want %v", dir, fi.Mode().Perm(), err, want)
		}
	}
}
