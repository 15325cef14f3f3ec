package shim

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/artifactfs/artifactfs/artifactbind"
	"github.com/artifactfs/artifactfs/internal/ctrtest"
	"github.com/artifactfs/artifactfs/shimglue"
	"github.com/artifactfs/artifactfs/tests/harness"
)

// TestShimServesArtifacts runs a container through io.containerd.artifactfs.v2
// on each snapshotter with the view annotations set. Its own spec binds the
// per-container path (as urunc's monitor rootfs would) and it checks the
// artifacts' sha256 from inside. After delete nothing is left.
func TestShimServesArtifacts(t *testing.T) {
	sns := []string{"blockfile", "overlayfs", "native"}
	e := newShimEnv(t, shimOptions{snapshotters: sns})
	ctx := testCtx(t, e)
	for _, sn := range sns {
		t.Run(sn, func(t *testing.T) {
			id := "serve-" + sn
			st, err := create(t, ctx, e, harness.Container{ID: id, Snapshotter: sn, Annotations: shimGated, Bind: true})
			if err != nil {
				t.Fatal(err)
			}
			state, err := artifactbind.LoadState(e.Bundle(id))
			if err != nil || !state.Ready() {
				t.Fatalf("bundle state = %+v, %v", state, err)
			}
			if state.Mode != artifactbind.ModeFUSE || state.Snapshotter != sn || state.Path != e.Path(id) {
				t.Errorf("state: mode %s, snapshotter %s, path %s", state.Mode, state.Snapshotter, state.Path)
			}
			// An operator reads the same bytes on the host.
			got, err := os.ReadFile(filepath.Join(state.Path, ctrtest.SampleKernelPath))
			if err != nil || string(got) != string(e.Kernel) {
				t.Errorf("kernel on the host: %d bytes, %v", len(got), err)
			}
			if code := run(t, ctx, st); code != 0 {
				t.Fatalf("container exited %d: %s", code, st.Stderr)
			}
			if got := st.Stdout.String(); got != e.WantSums() {
				t.Errorf("container saw:\n%swant:\n%s", got, e.WantSums())
			}
			// The shim starts preparing when it starts, before Create.
			if log := e.D.LogTail(1 << 20); !strings.Contains(log, `"container":"`+id+`","namespace":"`+e.D.Namespace+`","waited"`) {
				t.Errorf("the shim did not use its early preparation for %s; log:\n%s", id, e.D.LogTail(4096))
			}
			t.Logf("%s: Create %s", sn, st.Created.Round(time.Millisecond))
			remove(t, ctx, st)
			e.CheckNoLeaks(t, "after delete")
		})
	}
}

// TestShimWithoutGate: a container without the annotations (and a
// urunc.json that does not ask, here: overridden by complete annotations)
// gets no view and starts as with runc.
func TestShimWithoutGate(t *testing.T) {
	e := newShimEnv(t, shimOptions{})
	ctx := testCtx(t, e)
	ann := map[string]string{
		"com.urunc.unikernel.unikernelType": "linux",
		"com.urunc.unikernel.hypervisor":    "qemu",
		"com.urunc.unikernel.binary":        ctrtest.SampleKernelPath,
	}
	st, err := create(t, ctx, e, harness.Container{ID: "plain", Annotations: ann, Args: []string{"sha256", ctrtest.SampleKernelPath}})
	if err != nil {
		t.Fatal(err)
	}
	if state, err := artifactbind.LoadState(e.Bundle("plain")); state != nil || err != nil {
		t.Errorf("state without the gate: %+v, %v", state, err)
	}
	if _, err := os.Stat(e.Path("plain")); !os.IsNotExist(err) {
		t.Errorf("per-container path without the gate: %v", err)
	}
	if code := run(t, ctx, st); code != 0 {
		t.Fatalf("exit %d: %s", code, st.Stderr)
	}
	remove(t, ctx, st)
	e.CheckNoLeaks(t, "after delete")
}

// TestShimProbesUruncJSON: no annotations at all, so the image's urunc.json
// decides; the sample image's asks for the view.
func TestShimProbesUruncJSON(t *testing.T) {
	e := newShimEnv(t, shimOptions{})
	ctx := testCtx(t, e)
	st, err := create(t, ctx, e, harness.Container{ID: "probe", Bind: true})
	if err != nil {
		t.Fatal(err)
	}
	if code := run(t, ctx, st); code != 0 || st.Stdout.String() != e.WantSums() {
		t.Fatalf("exit %d, saw:\n%s%s", code, st.Stdout, st.Stderr)
	}
	remove(t, ctx, st)
	e.CheckNoLeaks(t, "after delete")
}

// TestShimKilled kills the shim with SIGKILL while the container runs:
// its FUSE mount goes stale, containerd drops the task and runs the shim
// binary's delete command, which must clean up from the bundle state.
func TestShimKilled(t *testing.T) {
	e := newShimEnv(t, shimOptions{})
	ctx := testCtx(t, e)
	id := "killed"
	st, err := create(t, ctx, e, harness.Container{ID: id, Annotations: shimGated, Bind: true, Args: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if state, err := artifactbind.LoadState(e.Bundle(id)); err != nil || state.Mode != artifactbind.ModeFUSE {
		t.Fatalf("state before the kill: %+v, %v", state, err)
	}
	statusC, err := st.Task.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Task.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(shimPid(t, e, id), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-statusC:
	case <-time.After(30 * time.Second):
		t.Fatal("containerd did not notice the dead shim")
	}
	// containerd drops the task and runs the shim's delete command; the
	// container record stays until the user deletes it.
	dropTask(t, ctx, st)
	remove(t, ctx, st)
	e.CheckNoLeaks(t, "after the shim was killed and the container deleted")
	// A killed shim cannot remove its sockets; its delete command does.
	for _, p := range ctrtest.ShimSockets(e.D.Address, e.D.Namespace, id) {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("socket of the killed shim left: %s", p)
			_ = os.Remove(p)
		}
	}
}

// TestShimFailures fails each step of Create on purpose: the container
// still starts (without a view: urunc would copy), or, for the inner
// Create and in strict mode, Create fails; either way nothing is left.
func TestShimFailures(t *testing.T) {
	e := newShimEnv(t, shimOptions{faults: true})
	ctx := testCtx(t, e)
	tests := []struct {
		fail       string
		strict     bool
		wantMode   artifactbind.Mode // "" when the container gets no view
		createFail bool
	}{
		{fail: "pending"},
		{fail: "prepare"},
		{fail: "mount-view", wantMode: artifactbind.ModeDirect},
		{fail: "open"},
		{fail: "resolve"},
		{fail: "fuse", wantMode: artifactbind.ModeBind},
		{fail: "fuse,bind", wantMode: artifactbind.ModeCopy},
		{fail: "fuse,bind,copy"},
		{fail: "state"},
		{fail: "create", createFail: true},
		{fail: "resolve", strict: true, createFail: true},
	}
	for _, tt := range tests {
		name := strings.ReplaceAll(tt.fail, ",", "+")
		if tt.strict {
			name += "/strict"
		}
		t.Run(name, func(t *testing.T) {
			id := "fail-" + strings.NewReplacer("+", "-", "/", "-").Replace(name)
			ann := harness.Gated(map[string]string{shimFailAt: tt.fail})
			if tt.strict {
				ann[shimglue.AnnotationStrict] = "true"
			}
			// The spec binds the per-container path only where it is
			// served (urunc's own spec never does); without it the
			// container reads its rootfs.
			spec := harness.Container{ID: id, Annotations: ann, Bind: true}
			if tt.wantMode == "" {
				spec.Bind, spec.Args = false, []string{"sha256", ctrtest.SampleKernelPath}
			}
			st, err := create(t, ctx, e, spec)
			if tt.createFail {
				if err == nil {
					t.Fatal("Create succeeded")
				}
				st.Task = nil
				remove(t, ctx, st)
				e.CheckNoLeaks(t, "after the failed Create")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			state, err := artifactbind.LoadState(e.Bundle(id))
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantMode == "" {
				if state != nil {
					t.Errorf("state after a failed step: %+v", state)
				}
				if _, err := os.Stat(e.Path(id)); !os.IsNotExist(err) {
					t.Errorf("per-container path after a failed step: %v", err)
				}
			} else if state == nil || state.Mode != tt.wantMode {
				t.Errorf("state %+v, want mode %s", state, tt.wantMode)
			}
			if code := run(t, ctx, st); code != 0 {
				t.Fatalf("exit %d: %s", code, st.Stderr)
			}
			if tt.wantMode != "" && st.Stdout.String() != e.WantSums() {
				t.Errorf("container saw:\n%swant:\n%s", st.Stdout, e.WantSums())
			}
			remove(t, ctx, st)
			e.CheckNoLeaks(t, "after delete")
		})
	}
}
