package shim

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/artifactfs/artifactfs/admin"
	"github.com/artifactfs/artifactfs/artifactbind"
	"github.com/artifactfs/artifactfs/internal/ctrtest"
	"github.com/artifactfs/artifactfs/internal/mounttable"
	"github.com/artifactfs/artifactfs/tests/harness"
)

// startShared creates and starts containers ids of the sample image, each
// waiting for SIGTERM with its per-container path bound.
func startShared(t *testing.T, ctx context.Context, e *harness.Env, ids ...string) map[string]*harness.Task {
	t.Helper()
	tasks := map[string]*harness.Task{}
	for _, id := range ids {
		k, err := create(t, ctx, e, harness.Container{ID: id, Annotations: shimGated, Bind: true, Args: []string{}})
		if err != nil {
			t.Fatal(err)
		}
		if err := k.Task.Start(ctx); err != nil {
			t.Fatal(err)
		}
		tasks[id] = k
	}
	return tasks
}

// readArtifacts reads container id's kernel and initrd through its
// per-container path and compares them with the image's.
func readArtifacts(e *harness.Env, id string) error {
	for p, want := range map[string][]byte{ctrtest.SampleKernelPath: e.Kernel, ctrtest.SampleInitrdPath: e.Initrd} {
		got, err := os.ReadFile(filepath.Join(e.Path(id), p))
		if err != nil {
			return err
		}
		if !bytes.Equal(got, want) {
			return fmt.Errorf("%s of %s: %d bytes differ from the image's %d", p, id, len(got), len(want))
		}
	}
	return nil
}

// whileReading runs fn while another goroutine keeps reading container
// id's artifacts, and fails t on any read that fails.
func whileReading(t *testing.T, e *harness.Env, id string, fn func()) {
	t.Helper()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var reads int
	var readErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := readArtifacts(e, id); err != nil {
				readErr = err
				return
			}
			reads++
		}
	}()
	fn()
	close(stop)
	wg.Wait()
	if readErr != nil {
		t.Errorf("reading %s while the other container went: %v", id, readErr)
	}
	if err := readArtifacts(e, id); err != nil {
		t.Errorf("reading %s after the other container went: %v", id, err)
	}
	t.Logf("%d reads of %s's artifacts while the other container went", reads, id)
}

// sharedMounts returns what is mounted under the shared views' and the
// per-container views' directories of the env's namespace.
func sharedMounts(t *testing.T, e *harness.Env) (images, views []string) {
	t.Helper()
	var err error
	if images, err = mounttable.Mountpoints(filepath.Join(e.Root, artifactbind.ImagesDir)); err != nil {
		t.Fatal(err)
	}
	if views, err = mounttable.Mountpoints(filepath.Join(e.Root, artifactbind.ViewsDir)); err != nil {
		t.Fatal(err)
	}
	return images, views
}

// TestSharedViewOneMount: two containers of one image read from one view,
// mounted once on the host on one loop device, and status says so.
func TestSharedViewOneMount(t *testing.T) {
	e := newShimEnv(t, shimOptions{})
	ctx := testCtx(t, e)
	tasks := startShared(t, ctx, e, "a", "b")
	images, views := sharedMounts(t, e)
	if len(images) != 1 || len(views) != 0 {
		t.Fatalf("view mounts: shared %v, own %v; want one shared mount", images, views)
	}
	loops, err := ctrtest.LoopDevicesUnder(filepath.Join(e.D.Dir))
	if err != nil {
		t.Fatal(err)
	}
	// One loop device for the shared view, one per container's rootfs.
	if len(loops) != 1+len(tasks) {
		t.Errorf("loop devices over the daemon's files: %v; want %d (one view, two rootfs)", loops, 1+len(tasks))
	}
	for id := range tasks {
		if err := readArtifacts(e, id); err != nil {
			t.Error(err)
		}
	}
	st, err := admin.Status(e.Root, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 2 || st[0].SharedView == "" || st[0].SharedView != st[1].SharedView ||
		len(st[0].SharedWith) != 1 || st[0].SharedWith[0] != "b" || len(st[1].SharedWith) != 1 || st[1].SharedWith[0] != "a" {
		t.Errorf("status = %+v; want a and b sharing one view", st)
	}
	for _, k := range tasks {
		remove(t, ctx, k)
	}
	e.CheckNoLeaks(t, "after both containers were deleted")
}

// TestSharedViewTeardown deletes, or kills the shim of, one of two
// containers sharing a view and then the other, in each order: the other
// container's artifacts stay readable throughout, gc after each step
// removes only what the gone container left, and nothing is left at the
// end.
func TestSharedViewTeardown(t *testing.T) {
	for _, tt := range []struct {
		name  string
		kill  bool // kill -9 the shim instead of deleting the task
		order []string
	}{
		{"delete a then b", false, []string{"a", "b"}},
		{"delete b then a", false, []string{"b", "a"}},
		{"kill a then b", true, []string{"a", "b"}},
		{"kill b then a", true, []string{"b", "a"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newShimEnv(t, shimOptions{})
			ctx := testCtx(t, e)
			tasks := startShared(t, ctx, e, "a", "b")
			first, second := tt.order[0], tt.order[1]
			whileReading(t, e, second, func() {
				if tt.kill {
					killShim(t, ctx, e, tasks[first])
				}
				remove(t, ctx, tasks[first])
				gcNamespace(t, ctx, e)
			})
			if images, _ := sharedMounts(t, e); len(images) != 1 {
				t.Errorf("shared view mounts with %s left: %v; want its one", second, images)
			}
			if tt.kill {
				killShim(t, ctx, e, tasks[second])
			}
			remove(t, ctx, tasks[second])
			gcNamespace(t, ctx, e)
			e.CheckNoLeaks(t, "after both containers went")
		})
	}
}

// TestSharedViewBothKilled kills both shims of two containers sharing a
// view, deletes the containers and runs gc: nothing is left.
func TestSharedViewBothKilled(t *testing.T) {
	e := newShimEnv(t, shimOptions{})
	ctx := testCtx(t, e)
	tasks := startShared(t, ctx, e, "a", "b")
	for _, id := range []string{"a", "b"} {
		killShim(t, ctx, e, tasks[id])
	}
	for _, id := range []string{"a", "b"} {
		remove(t, ctx, tasks[id])
	}
	gcNamespace(t, ctx, e)
	e.CheckNoLeaks(t, "after both shims were killed and gc ran")
}

// killShim kills the shim of task k with SIGKILL and waits until
// containerd has dropped the task (and run the shim's delete command).
func killShim(t *testing.T, ctx context.Context, e *harness.Env, k *harness.Task) {
	t.Helper()
	if err := syscall.Kill(shimPid(t, e, k.ID), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	dropTask(t, ctx, k)
}

// gcNamespace runs gc on the env's namespace, as `artifactfs gc` does.
func gcNamespace(t *testing.T, ctx context.Context, e *harness.Env) {
	t.Helper()
	if _, err := admin.GC(ctx, e.D.Client(), e.Root, e.Namespace, false); err != nil {
		t.Errorf("gc: %v", err)
	}
}
