//go:build compat

package compat

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/artifactfs/artifactfs/artifactbind"
	"github.com/artifactfs/artifactfs/internal/ctrtest"
	"github.com/artifactfs/artifactfs/tests/harness"
)

// criCase is a case run on the daemon with CRI on.
type criCase struct {
	name string
	fn   func(t *testing.T, e *podEnv)
}

// criCases are the table's rows on the daemon with CRI on, in order.
var criCases = []criCase{
	{"pod + sidecar", podSidecar},
	{"pod BinaryName handler", podBinaryName},
	{"pod kill -9 of its shim", podShimKilled},
}

// podSidecar runs a pod asking for views with a unikernel container and a
// sidecar whose image has no urunc configuration: one shim for the pod,
// the unikernel container served, the sidecar and the pause container
// untouched, and the pod's removal leaves nothing.
func podSidecar(t *testing.T, e *podEnv) {
	p := e.runPod(t, "sidecar", handler)
	app := p.run(t, "app", appImage)
	side := p.run(t, "sidecar", sidecarImage)
	p.requireOneShim(t)
	e.requireServed(t, app)
	e.requireUntouched(t, side, "sidecar")
	e.requireUntouched(t, p.ID, "pause container")
	for _, id := range []string{app, side} {
		if st, err := e.CRI.ContainerState(p.ctx, id); err != nil || st != runtimeapi.ContainerState_CONTAINER_RUNNING {
			t.Errorf("container %s: state %v, %v; want running", id, st, err)
		}
	}
	p.remove(t)
}

// podBinaryName runs a pod through the handler whose options table sets
// BinaryName (a wrapper around runc that logs its arguments): the shim
// runs the pod's containers with it, and the unikernel container is
// served.
func podBinaryName(t *testing.T, e *podEnv) {
	p := e.runPod(t, "binary-name", optsHandler)
	app := p.run(t, "app", appImage)
	e.requireServed(t, app)
	log, err := os.ReadFile(e.runcLog)
	if err != nil {
		t.Fatalf("the runtime BinaryName names never ran: %v", err)
	}
	for _, id := range []string{p.ID, app} {
		if !strings.Contains(string(log), "create") || !strings.Contains(string(log), id) {
			t.Errorf("the BinaryName wrapper did not create %s; its log:\n%s", id, log)
		}
	}
	p.remove(t)
}

// podShimKilled kills the pod's shim with SIGKILL: containerd runs the
// shim's delete command for each container, CRI sees them exit, and the
// pod's removal (stopp, rmp) leaves nothing.
func podShimKilled(t *testing.T, e *podEnv) {
	p := e.runPod(t, "shim-killed", handler)
	app := p.run(t, "app", appImage)
	e.requireServed(t, app)
	shim := p.requireOneShim(t)
	if err := syscall.Kill(shim.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// A killed shim leaves its sockets; containerd's runc shim manager
	// does not remove them (a later shim start would): not artifactfs's.
	waitFor(t, 10*time.Second, "the killed shim to go", func() bool { return len(p.shims()) == 0 })
	for _, s := range ctrtest.ShimSockets(e.D.Address, ctrtest.CRINamespace, p.ID) {
		_ = os.Remove(s)
	}
	waitFor(t, 20*time.Second, "CRI to see the app container exit", func() bool {
		st, err := e.CRI.ContainerState(p.ctx, app)
		return err == nil && st == runtimeapi.ContainerState_CONTAINER_EXITED
	})
	waitFor(t, 20*time.Second, "CRI to see the sandbox not ready", func() bool {
		resp, err := e.CRI.Runtime.PodSandboxStatus(p.ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: p.ID})
		return err == nil && resp.GetStatus().GetState() == runtimeapi.PodSandboxState_SANDBOX_NOTREADY
	})
	p.remove(t)
}

// pod is a case's pod and the containers it ran.
type pod struct {
	*ctrtest.Pod
	e       *podEnv
	ctx     context.Context
	ids     []string
	removed bool
}

// runPod runs a pod asking for views with handler h; it is removed at
// cleanup if the case did not, and nothing of it may be left.
func (e *podEnv) runPod(t *testing.T, name, h string) *pod {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("containerd %s log tail:\n%s", e.D.Version, e.D.LogTail(6144))
		}
	})
	cp, err := e.CRI.RunPod(ctx, ctrtest.PodOptions{Name: name, Handler: h, Annotations: harness.Gated(nil)})
	if err != nil {
		t.Fatal(err)
	}
	p := &pod{Pod: cp, e: e, ctx: ctx}
	t.Cleanup(func() { p.remove(t) })
	return p
}

// run runs an app container of image in the pod and returns its id.
func (p *pod) run(t *testing.T, name, image string) string {
	t.Helper()
	id, err := p.e.CRI.RunContainer(p.ctx, p.Pod, ctrtest.ContainerOptions{Name: name, Image: image})
	if id != "" {
		p.ids = append(p.ids, id)
	}
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// remove stops and removes the pod (once) and checks, waiting up to 10s
// for containerd's run of the shim's delete command, that nothing of it
// is left: what Leftovers lists in k8s.io, shim processes and sockets,
// the pod's cgroups, runc state.
func (p *pod) remove(t *testing.T) {
	t.Helper()
	if p.removed {
		return
	}
	p.removed = true
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// As the kubelet does, retry a removal that fails (after a shim's
	// death CRI may still be handling the sandbox's exit).
	err := p.e.CRI.RemovePod(ctx, p.Pod)
	for deadline := time.Now().Add(10 * time.Second); err != nil && time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		err = p.e.CRI.RemovePod(ctx, p.Pod)
	}
	if err != nil {
		t.Errorf("remove pod (retried for 10s): %v", err)
	}
	for _, l := range harness.Settle(10*time.Second, p.leftovers) {
		t.Errorf("left behind by the pod: %s", l)
	}
}

func (p *pod) leftovers() []string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := p.e.Leftovers(ctx)
	out = append(out, p.e.shimProcesses()...)
	for _, dir := range ctrtest.CgroupDirs(p.Pod) {
		out = append(out, "cgroup "+dir)
	}
	for _, s := range ctrtest.ShimSockets(p.e.D.Address, ctrtest.CRINamespace, p.ID) {
		if _, err := os.Lstat(s); err == nil {
			out = append(out, "shim socket "+s)
		}
	}
	for _, id := range append([]string{p.ID}, p.ids...) {
		rs := filepath.Join("/run/containerd/runc", ctrtest.CRINamespace, id)
		if _, err := os.Lstat(rs); err == nil {
			out = append(out, "runc state "+rs)
		}
	}
	return out
}

// shims returns the shim processes running under the pod's sandbox id.
func (p *pod) shims() []ctrtest.ShimProcess {
	var out []ctrtest.ShimProcess
	for _, sp := range p.e.ShimProcesses() {
		if sp.ID == p.ID {
			out = append(out, sp)
		}
	}
	return out
}

// requireOneShim checks that one shim process serves the pod, and no
// other runs.
func (p *pod) requireOneShim(t *testing.T) ctrtest.ShimProcess {
	t.Helper()
	all := p.e.ShimProcesses()
	if len(all) != 1 || all[0].ID != p.ID {
		t.Fatalf("shim processes %v; want one, for the pod %s", all, p.ID)
	}
	return all[0]
}

// requireServed checks that container id's per-container path serves the
// app image's artifacts and its bundle has a state file.
func (e *podEnv) requireServed(t *testing.T, id string) {
	t.Helper()
	requireArtifacts(t, e.Env, id)
	if _, err := os.Stat(artifactbind.StatePath(e.Bundle(id))); err != nil {
		t.Errorf("container %s: no state file: %v", id, err)
	}
}

// requireUntouched checks that artifactfs did nothing for container id:
// no per-container path, no state file.
func (e *podEnv) requireUntouched(t *testing.T, id, what string) {
	t.Helper()
	if _, err := os.Lstat(e.Path(id)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s %s: per-container path %s exists (%v)", what, id, e.Path(id), err)
	}
	if _, err := os.Stat(artifactbind.StatePath(e.Bundle(id))); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s %s: state file in its bundle (%v)", what, id, err)
	}
}

// waitFor polls cond every 50ms for up to timeout, failing the test with
// what it waited for when it stays false.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", timeout, what)
		}
	}
}
