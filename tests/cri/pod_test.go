package cri

import (
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/artifactfs/artifactfs/internal/ctrtest"
	"github.com/artifactfs/artifactfs/shimglue"
	"github.com/artifactfs/artifactfs/tests/harness"
)

// A pod's unikernel container gets its artifacts from the pod's one shim;
// the pause container, which carries the same pod annotations, gets
// nothing and is not even probed.
func TestPodUnikernelContainer(t *testing.T) {
	e := sharedEnv(t)
	p := e.runPod(t, "unikernel", handler, harness.Gated(nil))
	app := p.runApp(t, "app", appImage)

	p.requireOneShim(t)
	e.requireServed(t, app)
	e.requireUntouched(t, p.ID, "pause container")
	e.requireNoProbe(t, p.ID)
	if st, err := e.CRI.ContainerState(e.ctx(t), app); err != nil || st != runtimeapi.ContainerState_CONTAINER_RUNNING {
		t.Errorf("app container: state %v, %v; want running", st, err)
	}
}

// A sidecar whose image has no urunc configuration runs untouched in a
// pod whose annotations ask for snapshot views.
func TestPodSidecarWithoutUruncConfig(t *testing.T) {
	e := sharedEnv(t)
	p := e.runPod(t, "sidecar", handler, harness.Gated(nil))
	app := p.runApp(t, "app", appImage)
	side := p.runApp(t, "sidecar", sidecarImage)

	e.requireServed(t, app)
	e.requireUntouched(t, side, "sidecar")
	if st, err := e.CRI.ContainerState(e.ctx(t), side); err != nil || st != runtimeapi.ContainerState_CONTAINER_RUNNING {
		t.Errorf("sidecar: state %v, %v; want running", st, err)
	}
	p.requireOneShim(t)
}

// Stopping and removing one container releases its view, lease and path
// while the pod and its other container keep running and serving.
func TestPodRemoveOneContainer(t *testing.T) {
	e := sharedEnv(t)
	p := e.runPod(t, "remove-one", handler, harness.Gated(nil))
	a := p.runApp(t, "a", appImage)
	b := p.runApp(t, "b", appImage)
	e.requireServed(t, a)
	e.requireServed(t, b)

	if err := e.CRI.RemoveContainer(e.ctx(t), a); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := os.Lstat(e.Path(a))
		if os.IsNotExist(err) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.requireUntouched(t, a, "removed container")
	if _, err := os.Stat(e.Bundle(a)); !os.IsNotExist(err) {
		t.Errorf("removed container %s: bundle still there (err %v)", a, err)
	}
	e.requireServed(t, b)
	resp, err := e.CRI.Runtime.PodSandboxStatus(e.ctx(t), &runtimeapi.PodSandboxStatusRequest{PodSandboxId: p.ID})
	if err != nil || resp.GetStatus().GetState() != runtimeapi.PodSandboxState_SANDBOX_READY {
		t.Errorf("pod: %v, %v; want ready", resp.GetStatus().GetState(), err)
	}
	p.requireOneShim(t)
}

// stopp + rmp of a pod with unikernel containers and a sidecar leaves
// nothing: no mounts, leases, views, state, shim processes, loop devices,
// cgroups or runc state.
func TestPodRemovalLeavesNothing(t *testing.T) {
	e := sharedEnv(t)
	p := e.runPod(t, "remove-all", handler, harness.Gated(nil))
	a := p.runApp(t, "a", appImage)
	b := p.runApp(t, "b", appImage)
	p.runApp(t, "sidecar", sidecarImage)
	e.requireServed(t, a)
	e.requireServed(t, b)
	if len(p.leftovers()) == 0 {
		t.Fatal("the leak check sees nothing of a running pod: it checks nothing")
	}
	p.remove(t) // checks that nothing is left
}

// A strict pod (its annotations make a failed view fail Create) starts:
// its pause container is skipped, not failed, and its app container gets
// its artifacts.
func TestPodStrict(t *testing.T) {
	e := sharedEnv(t)
	p := e.runPod(t, "strict", handler, harness.Gated(map[string]string{shimglue.AnnotationStrict: "true"}))
	app := p.runApp(t, "app", appImage)
	e.requireServed(t, app)
	e.requireUntouched(t, p.ID, "pause container")
}

// After a kill -9 of the pod's shim, removing the pod still cleans up
// everything (containerd's shim delete path, then stopp/rmp).
func TestPodShimKilled(t *testing.T) {
	e := sharedEnv(t)
	p := e.runPod(t, "shim-killed", handler, harness.Gated(nil))
	a := p.runApp(t, "a", appImage)
	b := p.runApp(t, "b", appImage)
	e.requireServed(t, a)
	e.requireServed(t, b)
	shim := p.requireOneShim(t)
	if err := syscall.Kill(shim.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if pod, _ := p.shims(); len(pod) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("shim %d still running 10s after SIGKILL", shim.Pid)
		}
	}
	// A killed shim leaves its sockets; containerd's runc shim manager does
	// not remove them (a later shim start would). Not artifactfs's: the
	// test removes what it made.
	for _, s := range ctrtest.ShimSockets(e.D.Address, ctrtest.CRINamespace, p.ID) {
		_ = os.Remove(s)
	}
	// The kubelet sees the containers exit before it removes the pod;
	// CRI handles the exits of a dead shim's containers with a backoff.
	for _, id := range []string{a, b} {
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			st, err := e.CRI.ContainerState(e.ctx(t), id)
			if err == nil && st == runtimeapi.ContainerState_CONTAINER_EXITED {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("container %s: state %v, %v 20s after its shim was killed; want exited", id, st, err)
			}
		}
	}
	// And the sandbox: until CRI has handled the pause container's exit,
	// RemovePodSandbox still talks to the dead shim ("ttrpc: closed").
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := e.CRI.Runtime.PodSandboxStatus(e.ctx(t), &runtimeapi.PodSandboxStatusRequest{PodSandboxId: p.ID})
		if err == nil && resp.GetStatus().GetState() == runtimeapi.PodSandboxState_SANDBOX_NOTREADY {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod %s: state %v, %v 20s after its shim was killed; want not ready", p.ID, resp.GetStatus().GetState(), err)
		}
	}
	// containerd ran the shim's delete for each container: artifactfs's
	// part is gone before the pod is.
	for _, id := range []string{a, b} {
		e.requireUntouched(t, id, "container of the killed shim")
	}
	p.remove(t)
}

// Two app containers of one pod started at the same time are both served.
func TestPodConcurrentCreates(t *testing.T) {
	e := sharedEnv(t)
	p := e.runPod(t, "concurrent", handler, harness.Gated(nil))
	ids := make([]string, 2)
	var errs [2]error
	var wg sync.WaitGroup
	for i := range ids {
		ctx := e.ctx(t)
		wg.Go(func() {
			ids[i], errs[i] = e.CRI.RunContainer(ctx, p.Pod, appOptions("app-"+string(rune('a'+i))))
		})
	}
	wg.Wait()
	for i, id := range ids {
		if id != "" {
			p.ids = append(p.ids, id)
		}
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
	}
	for _, id := range ids {
		e.requireServed(t, id)
	}
	p.requireOneShim(t)
}

// A handler whose options table sets BinaryName runs its pod's containers
// with that runtime: here a wrapper around runc that logs its arguments.
func TestPodHandlerOptionsBinaryName(t *testing.T) {
	e := sharedEnv(t)
	p := e.runPod(t, "binary-name", optsHandler, harness.Gated(nil))
	app := p.runApp(t, "app", appImage)
	e.requireServed(t, app)
	log, err := os.ReadFile(e.RuncLog)
	if err != nil {
		t.Fatalf("the runtime named by BinaryName never ran: %v", err)
	}
	for _, id := range []string{p.ID, app} {
		if !strings.Contains(string(log), "create") || !strings.Contains(string(log), id) {
			t.Errorf("the BinaryName wrapper did not create %s; its log:\n%s", id, log)
		}
	}
}
