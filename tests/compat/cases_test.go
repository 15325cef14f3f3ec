//go:build compat

package compat

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/core/leases"
	"github.com/containerd/errdefs"

	"github.com/artifactfs/artifactfs/admin"
	"github.com/artifactfs/artifactfs/artifactbind"
	"github.com/artifactfs/artifactfs/internal/artifact"
	"github.com/artifactfs/artifactfs/internal/ctrtest"
	"github.com/artifactfs/artifactfs/internal/mounttable"
	"github.com/artifactfs/artifactfs/internal/testimage"
	"github.com/artifactfs/artifactfs/tests/harness"
	"github.com/artifactfs/artifactfs/view"
)

// plainCase is a case run on the daemon with CRI off.
type plainCase struct {
	name string
	fn   func(t *testing.T, e *harness.Env)
}

// plainCases are the table's rows on the daemon with CRI off, in order.
var plainCases = []plainCase{
	{"gated blockfile", gated("blockfile")},
	{"gated overlayfs", gated("overlayfs")},
	{"ungated blockfile", ungated("blockfile")},
	{"ungated overlayfs", ungated("overlayfs")},
	{"kill -9 + delete + gc", killed},
	{"shared view", shared},
	{"status + gc", statusGC},
}

// gated runs a container asking for the view on snapshotter sn, its
// spec binding the per-container path as urunc binds it: the artifacts
// are served there (FUSE), the container reads them, and its delete
// leaves nothing.
func gated(sn string) func(*testing.T, *harness.Env) {
	return func(t *testing.T, e *harness.Env) {
		ctx := caseContext(t, e)
		id := "gated-" + sn
		k := newTask(t, ctx, e, harness.Container{ID: id, Snapshotter: sn, Annotations: harness.Gated(nil), Bind: true})
		state, err := artifactbind.LoadState(e.Bundle(id))
		if err != nil || state == nil || !state.Ready() {
			t.Fatalf("bundle state = %+v, %v; want a ready state", state, err)
		}
		if state.Mode != artifactbind.ModeFUSE || state.Snapshotter != sn || state.Path != e.Path(id) {
			t.Errorf("state: mode %s, snapshotter %s, path %s; want fuse, %s, %s", state.Mode, state.Snapshotter, state.Path, sn, e.Path(id))
		}
		requireArtifacts(t, e, id)
		if code, err := k.Run(ctx); err != nil || code != 0 {
			t.Fatalf("container: exit %d, %v: %s", code, err, k.Stderr)
		}
		if got := k.Stdout.String(); got != e.WantSums() {
			t.Errorf("the container read:\n%swant:\n%s", got, e.WantSums())
		}
		if err := k.Delete(ctx); err != nil {
			t.Error(err)
		}
		e.CheckNoLeaks(t, "after delete")
	}
}

// ungated runs a container whose annotations carry urunc's whole
// configuration but do not ask for the view, on snapshotter sn: no
// state, no per-container path, and it reads its kernel from its rootfs.
func ungated(sn string) func(*testing.T, *harness.Env) {
	return func(t *testing.T, e *harness.Env) {
		ctx := caseContext(t, e)
		id := "ungated-" + sn
		ann := map[string]string{
			artifact.AnnotationType:       "linux",
			artifact.AnnotationHypervisor: "qemu",
			artifact.AnnotationBinary:     ctrtest.SampleKernelPath,
		}
		k := newTask(t, ctx, e, harness.Container{ID: id, Snapshotter: sn, Annotations: ann,
			Args: []string{"sha256", ctrtest.SampleKernelPath}})
		if state, err := artifactbind.LoadState(e.Bundle(id)); state != nil || err != nil {
			t.Errorf("state without the gate: %+v, %v", state, err)
		}
		if _, err := os.Lstat(e.Path(id)); !os.IsNotExist(err) {
			t.Errorf("per-container path without the gate: %v", err)
		}
		if code, err := k.Run(ctx); err != nil || code != 0 {
			t.Fatalf("container: exit %d, %v: %s", code, err, k.Stderr)
		}
		want := fmt.Sprintf("%s  %s\n", testimage.SHA256(e.Kernel), ctrtest.SampleKernelPath)
		if got := k.Stdout.String(); got != want {
			t.Errorf("the container read %q from its rootfs, want %q", got, want)
		}
		if err := k.Delete(ctx); err != nil {
			t.Error(err)
		}
		e.CheckNoLeaks(t, "after delete")
	}
}

// killed kills the shim of a running gated container with SIGKILL:
// containerd drops the task and runs the shim binary's delete command,
// which must clean up; then the container is deleted and `artifactfs gc`
// runs, and nothing is left, the dead shim's sockets included.
func killed(t *testing.T, e *harness.Env) {
	ctx := caseContext(t, e)
	id := "killed"
	k := newTask(t, ctx, e, harness.Container{ID: id, Annotations: harness.Gated(nil), Bind: true, Args: []string{}})
	statusC, err := k.Task.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Task.Start(ctx); err != nil {
		t.Fatal(err)
	}
	requireArtifacts(t, e, id)
	pid, err := e.ShimPid(id)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-statusC:
	case <-time.After(30 * time.Second):
		t.Fatal("containerd did not notice the dead shim in 30s")
	}
	dropTask(t, ctx, k)
	if err := k.Delete(ctx); err != nil {
		t.Error(err)
	}
	e.CheckNoLeaks(t, "after the kill, the delete command and the container's delete")
	removed := gcCLI(t, e)
	for _, r := range removed {
		if r.Namespace == e.Namespace {
			t.Logf("gc removed %s %s of %s", r.Kind, r.Name, r.ContainerID)
		}
	}
	e.CheckNoLeaks(t, "after gc")
	for _, p := range ctrtest.ShimSockets(e.D.Address, e.Namespace, id) {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("socket of the killed shim left: %s", p)
			_ = os.Remove(p)
		}
	}
}

// shared runs two containers of one image: one view, mounted once on the
// host, held by both containers' leases (the second container's View of
// the existing key inside its lease added it there: checked also on its
// own); the second keeps reading through the first one's delete and a
// containerd GC, and the view stays until it goes too.
func shared(t *testing.T, e *harness.Env) {
	ctx := caseContext(t, e)
	const sn = "blockfile"
	a, b := "shared-a", "shared-b"
	ka := startWaiting(t, ctx, e, a)
	kb := startWaiting(t, ctx, e, b)
	if m := imageMounts(t, e); len(m) != 1 {
		t.Fatalf("host mounts of shared views: %v; want one", m)
	}
	key := sharedKey(t, ctx, e, a)
	if kb := sharedKey(t, ctx, e, b); kb != key {
		t.Fatalf("views: %s for %s, %s for %s; want one", key, a, kb, b)
	}
	for _, id := range []string{a, b} {
		requireLeaseHolds(t, ctx, e, view.LeaseID(e.Namespace, id), sn, key)
		requireArtifacts(t, e, id)
	}
	requireViewJoinsLease(t, ctx, e, sn, key)

	if err := ka.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.D.GC(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.D.Client().SnapshotService(sn).Stat(ctx, key); err != nil {
		t.Errorf("the shared view after %s's delete and a GC: %v", a, err)
	}
	requireLeaseHolds(t, ctx, e, view.LeaseID(e.Namespace, b), sn, key)
	requireArtifacts(t, e, b)
	if m := imageMounts(t, e); len(m) != 1 {
		t.Errorf("host mounts of shared views with %s left: %v; want its one", b, m)
	}
	if err := kb.Delete(ctx); err != nil {
		t.Error(err)
	}
	e.CheckNoLeaks(t, "after both containers went")
}

// statusGC runs `artifactfs status` and `artifactfs gc` by their CLI on a
// running gated container: status lists it, healthy, served by FUSE; gc
// removes nothing of it and it keeps serving; after its delete both find
// nothing.
func statusGC(t *testing.T, e *harness.Env) {
	ctx := caseContext(t, e)
	id := "status"
	k := startWaiting(t, ctx, e, id)
	st := status(t, e)
	if len(st) != 1 || st[0].ContainerID != id || st[0].Namespace != e.Namespace || st[0].Mode != artifactbind.ModeFUSE || !st[0].Healthy {
		t.Errorf("status = %+v; want %s/%s, fuse, healthy", st, e.Namespace, id)
	}
	for _, r := range gcCLI(t, e) {
		if r.Namespace == e.Namespace {
			t.Errorf("gc removed %s %s of the running container %s", r.Kind, r.Name, r.ContainerID)
		}
	}
	requireArtifacts(t, e, id)
	if err := k.Delete(ctx); err != nil {
		t.Error(err)
	}
	e.CheckNoLeaks(t, "after delete")
	if st := status(t, e); len(st) != 0 {
		t.Errorf("status after delete = %+v; want nothing", st)
	}
}

// caseContext is a case's context for containerd calls, in e's namespace.
func caseContext(t *testing.T, e *harness.Env) context.Context {
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("containerd %s log tail:\n%s", e.D.Version, e.D.LogTail(6144))
		}
	})
	return e.Context(t, 2*time.Minute)
}

// newTask creates container c and its task (the shim's Create), not
// started; the container is removed at cleanup if the case did not.
func newTask(t *testing.T, ctx context.Context, e *harness.Env, c harness.Container) *harness.Task {
	t.Helper()
	k, err := e.NewContainer(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Remove(context.WithoutCancel(ctx), c.ID); err != nil {
			t.Errorf("remove container %s: %v", c.ID, err)
		}
	})
	if err := k.Create(ctx); err != nil {
		t.Fatal(err)
	}
	return k
}

// startWaiting creates and starts gated container id, its path bound,
// waiting for SIGTERM.
func startWaiting(t *testing.T, ctx context.Context, e *harness.Env, id string) *harness.Task {
	t.Helper()
	k := newTask(t, ctx, e, harness.Container{ID: id, Annotations: harness.Gated(nil), Bind: true, Args: []string{}})
	if err := k.Task.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return k
}

// dropTask waits until containerd has dropped task k, whose shim died,
// and closes the task's IO, which no Delete will close now.
func dropTask(t *testing.T, ctx context.Context, k *harness.Task) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := k.Container.Task(ctx, nil); errdefs.IsNotFound(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the task of %s, whose shim died, is still there after 30s", k.ID)
		}
	}
	if tio := k.Task.IO(); tio != nil {
		tio.Cancel()
		if err := tio.Close(); err != nil {
			t.Errorf("close the IO of %s: %v", k.ID, err)
		}
	}
	k.Task = nil
}

// requireArtifacts reads container id's kernel, initrd and urunc.json
// through its per-container path, as an operator or urunc would, and
// compares them with the image's.
func requireArtifacts(t *testing.T, e *harness.Env, id string) {
	t.Helper()
	for _, f := range []struct {
		p    string
		want []byte
	}{{ctrtest.SampleKernelPath, e.Kernel}, {ctrtest.SampleInitrdPath, e.Initrd}, {ctrtest.SampleConfigPath, e.Config}} {
		got, err := os.ReadFile(filepath.Join(e.Path(id), f.p))
		if err != nil {
			t.Errorf("container %s: %v", id, err)
		} else if !bytes.Equal(got, f.want) {
			t.Errorf("container %s: %s is %d bytes unlike the image's %d", id, f.p, len(got), len(f.want))
		}
	}
}

// imageMounts lists the host mounts of shared views under e's root.
func imageMounts(t *testing.T, e *harness.Env) []string {
	t.Helper()
	m, err := mounttable.Mountpoints(filepath.Join(e.Root, artifactbind.ImagesDir))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// sharedKey returns the key of the shared view container id's lease holds.
func sharedKey(t *testing.T, ctx context.Context, e *harness.Env, id string) string {
	t.Helper()
	found, err := view.List(ctx, e.D.Client(), e.Namespace)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range found {
		if f.ContainerID == id && view.IsShared(f.Key) && f.LeaseID != "" {
			return f.Key
		}
	}
	t.Fatalf("no shared view held by %s's lease: %+v", id, found)
	return ""
}

// requireLeaseHolds checks that lease lid references snapshot key of sn.
func requireLeaseHolds(t *testing.T, ctx context.Context, e *harness.Env, lid, sn, key string) {
	t.Helper()
	res, err := e.D.Client().LeasesService().ListResources(ctx, leases.Lease{ID: lid})
	if err != nil {
		t.Fatalf("resources of lease %s: %v", lid, err)
	}
	if !slices.Contains(res, leases.Resource{ID: key, Type: "snapshots/" + sn}) {
		t.Errorf("lease %s holds %v; want snapshot %s of %s", lid, res, key, sn)
	}
}

// requireViewJoinsLease checks containerd's rule shared views rest on: a
// View of an existing key inside a lease's context fails with
// AlreadyExists and adds that snapshot to the lease.
func requireViewJoinsLease(t *testing.T, ctx context.Context, e *harness.Env, sn, key string) {
	t.Helper()
	ls := e.D.Client().LeasesService()
	l, err := ls.Create(ctx, leases.WithRandomID(), leases.WithExpiration(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := ls.Delete(context.WithoutCancel(ctx), l); err != nil {
			t.Errorf("delete lease %s: %v", l.ID, err)
		}
	}()
	s := e.D.Client().SnapshotService(sn)
	info, err := s.Stat(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.View(leases.WithLease(ctx, l.ID), key, info.Parent); !errdefs.IsAlreadyExists(err) {
		t.Errorf("View of the existing key %s: %v; want already exists", key, err)
	}
	requireLeaseHolds(t, ctx, e, l.ID, sn, key)
}

// status runs `artifactfs status --json` on e's root.
func status(t *testing.T, e *harness.Env) []admin.Entry {
	t.Helper()
	var st []admin.Entry
	if err := json.Unmarshal(cli(t, "status", "--root", e.Root, "--json"), &st); err != nil {
		t.Fatalf("status --json: %v", err)
	}
	return st
}

// gcCLI runs `artifactfs gc --json` on e's daemon, namespace and root.
func gcCLI(t *testing.T, e *harness.Env) []admin.Removed {
	t.Helper()
	var removed []admin.Removed
	out := cli(t, "gc", "--address", e.D.Address, "--namespace", e.Namespace, "--root", e.Root, "--json")
	if err := json.Unmarshal(out, &removed); err != nil {
		t.Fatalf("gc --json: %v: %s", err, out)
	}
	return removed
}
