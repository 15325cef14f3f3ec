package shim

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/artifactfs/artifactfs/internal/ctrtest"
	"github.com/artifactfs/artifactfs/internal/layout"
	"github.com/artifactfs/artifactfs/tests/harness"
)

// freezerState returns the v1 freezer state file of container id's cgroup
// (the spec's linux.cgroupsPath), skipping where there is no v1 freezer.
func freezerState(t *testing.T, e *harness.Env, id string) string {
	t.Helper()
	spec, err := layout.ReadSpec(e.Bundle(id))
	if err != nil {
		t.Fatal(err)
	}
	if spec.Linux == nil || !strings.HasPrefix(spec.Linux.CgroupsPath, "/") {
		t.Fatalf("container %s has no cgroupfs path: %+v", id, spec.Linux)
	}
	p := filepath.Join("/sys/fs/cgroup/freezer", spec.Linux.CgroupsPath, "freezer.state")
	if _, err := os.Stat(p); err != nil {
		t.Skipf("no cgroup v1 freezer for the container (%v): runc freezes through cgroup v2 here", err)
	}
	return p
}

func readFreezer(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// waitCatches waits until process pid has a handler for sig: the
// container's init ignores a signal it does not catch.
func waitCatches(t *testing.T, pid int, sig syscall.Signal) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			if mask, ok := strings.CutPrefix(l, "SigCgt:\t"); ok {
				if m, err := strconv.ParseUint(mask, 16, 64); err == nil && m&(1<<(sig-1)) != 0 {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d does not catch %v", pid, sig)
		}
	}
}

// TestShimThawsLeftFrozen leaves a running container's cgroup frozen, as
// a runc killed between freezing and thawing does (containerd going away
// during Kill cancels the shim's runc): a signal to its init then pends
// forever, and the container keeps its rootfs and per-container mount.
// The shim's Kill must thaw it; a container the user paused must stay
// frozen.
func TestShimThawsLeftFrozen(t *testing.T) {
	e := newShimEnv(t, shimOptions{})
	ctx := testCtx(t, e)

	st, err := create(t, ctx, e, harness.Container{ID: "frozen", Annotations: shimGated, Bind: true, Args: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	freezer := freezerState(t, e, "frozen")
	statusC, err := st.Task.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Task.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitCatches(t, int(st.Task.Pid()), syscall.SIGTERM)
	if err := os.WriteFile(freezer, []byte("FROZEN"), 0); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); readFreezer(t, freezer) != "FROZEN"; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("cgroup not frozen: %s", readFreezer(t, freezer))
		}
	}
	// runc thaws a frozen cgroup for SIGKILL itself, not for other signals.
	if err := st.Task.Kill(ctx, syscall.SIGTERM); err != nil {
		t.Fatalf("kill: %v", err)
	}
	select {
	case <-statusC:
	case <-time.After(15 * time.Second):
		t.Fatalf("the signalled container never exited: its cgroup is %s", readFreezer(t, freezer))
	}
	remove(t, ctx, st)

	// Control: a container the user paused stays paused through a Kill.
	st, err = create(t, ctx, e, harness.Container{ID: "paused", Annotations: shimGated, Bind: true, Args: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	freezer = freezerState(t, e, "paused")
	if err := st.Task.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.Task.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.Task.Kill(ctx, syscall.SIGTERM); err != nil {
		t.Fatalf("kill: %v", err)
	}
	if got := readFreezer(t, freezer); got != "FROZEN" {
		t.Errorf("a paused container's cgroup after Kill: %s, want FROZEN", got)
	}
	if err := st.Task.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	remove(t, ctx, st)
	e.CheckNoLeaks(t, "after delete")
}

// TestShimForgottenExits removes a shim's bundle while containerd is down,
// as containerd does on restart with a shim it cannot load (a restart
// during Create): containerd no longer knows the shim, and nothing stops
// it. The shim must notice, kill its container, release its
// per-container path and exit.
func TestShimForgottenExits(t *testing.T) {
	e := newShimEnv(t, shimOptions{})
	ctx := testCtx(t, e)
	id := "forgotten"
	st, err := create(t, ctx, e, harness.Container{ID: id, Annotations: shimGated, Bind: true, Args: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Task.Start(ctx); err != nil {
		t.Fatal(err)
	}
	pid, initPid := shimPid(t, e, id), int(st.Task.Pid())
	t.Cleanup(func() { // should the shim not exit, nothing would stop them
		_ = syscall.Kill(pid, syscall.SIGKILL)
		_ = syscall.Kill(initPid, syscall.SIGKILL)
	})
	if err := e.D.Kill(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	bundle := e.Bundle(id)
	if err := unix.Unmount(filepath.Join(bundle, "rootfs"), unix.MNT_DETACH); err != nil {
		t.Fatalf("unmount the rootfs: %v", err)
	}
	if err := os.RemoveAll(bundle); err != nil {
		t.Fatal(err)
	}
	if err := e.D.Restart(ctx, syscall.SIGKILL, 0); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); syscall.Kill(pid, 0) == nil; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the forgotten shim (pid %d) still runs", pid)
		}
	}
	if syscall.Kill(initPid, 0) == nil {
		t.Errorf("the container's init (pid %d) outlived its shim", initPid)
	}
	if _, err := os.Lstat(e.Path(id)); !os.IsNotExist(err) {
		t.Errorf("per-container path after the shim exited: %v", err)
	}
	for _, p := range ctrtest.ShimSockets(e.D.Address, e.D.Namespace, id) {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("socket of the forgotten shim left: %s", p)
			_ = os.Remove(p)
		}
	}
	dropTask(t, ctx, st) // containerd never knew the task after its restart
	remove(t, ctx, st)
	e.CheckNoLeaks(t, "after the forgotten shim exited")
}
