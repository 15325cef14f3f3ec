package cri

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/pkg/namespaces"

	"github.com/artifactfs/artifactfs/artifactbind"
	"github.com/artifactfs/artifactfs/internal/ctrtest"
	"github.com/artifactfs/artifactfs/tests/harness"
	"github.com/artifactfs/artifactfs/view"
)

// testPod is a pod of a test and the containers it ran in it.
type testPod struct {
	*ctrtest.Pod
	e       *criEnv
	ids     []string
	removed bool
}

// runPod runs a pod with handler h and annotations ann; at cleanup it is
// removed (stopp + rmp) and nothing may be left.
func (e *criEnv) runPod(t *testing.T, name, h string, ann map[string]string) *testPod {
	t.Helper()
	ctx := e.ctx(t)
	pod, err := e.CRI.RunPod(ctx, ctrtest.PodOptions{Name: name, Handler: h, Annotations: ann})
	if err != nil {
		t.Fatal(err)
	}
	p := &testPod{Pod: pod, e: e}
	t.Cleanup(func() { p.remove(t) })
	return p
}

// remove stops and removes the pod (idempotent) and checks that nothing
// of it is left.
func (p *testPod) remove(t *testing.T) {
	t.Helper()
	if p.removed {
		return
	}
	p.removed = true
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := p.e.CRI.RemovePod(ctx, p.Pod); err != nil {
		t.Errorf("remove pod: %v", err)
	}
	p.requireNothingLeft(t)
}

// runApp runs an app container of image in the pod and returns its id.
func (p *testPod) runApp(t *testing.T, name, image string) string {
	t.Helper()
	id, err := p.e.CRI.RunContainer(p.e.ctx(t), p.Pod, ctrtest.ContainerOptions{Name: name, Image: image})
	if id != "" {
		p.ids = append(p.ids, id)
	}
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// requireServed checks that container id's per-container path holds the
// app image's artifacts, byte for byte, and its bundle a state file.
func (e *criEnv) requireServed(t *testing.T, id string) {
	t.Helper()
	for p, want := range map[string][]byte{
		ctrtest.SampleKernelPath: e.Kernel, ctrtest.SampleInitrdPath: e.Initrd, ctrtest.SampleConfigPath: e.Config,
	} {
		got, err := os.ReadFile(filepath.Join(e.Path(id), p))
		if err != nil {
			t.Errorf("container %s: %v", id, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("container %s: %s differs from the image's (%d bytes, want %d)", id, p, len(got), len(want))
		}
	}
	if _, err := os.Stat(artifactbind.StatePath(e.Bundle(id))); err != nil {
		t.Errorf("container %s: no state file: %v", id, err)
	}
}

// requireUntouched checks that artifactfs did nothing for container id:
// no per-container path, no state file, no view or lease.
func (e *criEnv) requireUntouched(t *testing.T, id, what string) {
	t.Helper()
	if _, err := os.Lstat(e.Path(id)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s %s: per-container path %s exists (err %v)", what, id, e.Path(id), err)
	}
	if _, err := os.Stat(artifactbind.StatePath(e.Bundle(id))); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s %s: state file in its bundle (err %v)", what, id, err)
	}
	for _, f := range e.views(t) {
		if f.ContainerID == id {
			t.Errorf("%s %s: view %s, lease %s", what, id, f.Key, f.LeaseID)
		}
	}
}

// views lists artifactfs's views and leases in k8s.io.
func (e *criEnv) views(t *testing.T) []view.Found {
	t.Helper()
	ctx := namespaces.WithNamespace(e.ctx(t), ctrtest.CRINamespace)
	found, err := view.List(ctx, e.D.Client(), ctrtest.CRINamespace)
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// shims returns the pids of the pod's shim processes (run with -id the
// sandbox id), and of every other shim process of the daemon.
func (p *testPod) shims() (pod, other []ctrtest.ShimProcess) {
	for _, sp := range p.e.ShimProcesses() {
		if sp.ID == p.ID {
			pod = append(pod, sp)
		} else {
			other = append(other, sp)
		}
	}
	return pod, other
}

// requireOneShim checks that one shim process serves the whole pod.
func (p *testPod) requireOneShim(t *testing.T) ctrtest.ShimProcess {
	t.Helper()
	pod, other := p.shims()
	if len(pod) != 1 || len(other) != 0 {
		t.Fatalf("shim processes: %v for the pod %s, %v others; want one for the pod", pod, p.ID, other)
	}
	return pod[0]
}

// requireNothingLeft checks, waiting up to 10s for containerd's shim
// delete to run, that nothing of the pod is left: per Leftovers (views,
// leases, mounts, loop devices, per-container paths, bundles) in k8s.io,
// shim processes and sockets, the pod's cgroup directories, runc state.
func (p *testPod) requireNothingLeft(t *testing.T) {
	t.Helper()
	for _, pr := range harness.Settle(10*time.Second, p.leftovers) {
		t.Errorf("left behind: %s", pr)
	}
}

func (p *testPod) leftovers() []string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := p.e.Leftovers(ctx)
	for _, sp := range p.e.ShimProcesses() {
		out = append(out, "shim process "+sp.ID)
	}
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

// shimLines returns the messages artifactfs's shim logged about container
// id (its JSON lines in the daemon's log).
func (e *criEnv) shimLines(t *testing.T, id string) []string {
	t.Helper()
	f, err := os.Open(e.D.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var l struct{ Component, Container, Message string }
		line := sc.Bytes()
		if len(line) > 0 && line[0] == '{' && json.Unmarshal(line, &l) == nil &&
			l.Component == "artifactfs" && l.Container == id {
			out = append(out, l.Message)
		}
	}
	return out
}

// requireNoProbe checks that the shim did no work for the pause
// container id: at most its debug line saying it skipped it.
func (e *criEnv) requireNoProbe(t *testing.T, id string) {
	t.Helper()
	for _, m := range e.shimLines(t, id) {
		if !strings.HasPrefix(m, "sandbox container") {
			t.Errorf("the shim logged %q about the pause container %s", m, id)
		}
	}
}
