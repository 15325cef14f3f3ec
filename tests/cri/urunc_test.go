package cri

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/moby/sys/mountinfo"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/artifactfs/artifactfs/internal/ctrtest"
	"github.com/artifactfs/artifactfs/internal/guest"
	"github.com/artifactfs/artifactfs/tests/harness"
)

// uruncHandler's options table sets BinaryName to the urunc-shaped runtime.
const (
	uruncHandler = "artifactfs-urunc"
	bootImage    = "docker.io/library/artifactfs-cri-boot:test"
)

// A handler with an options table running the urunc-shaped runtime through
// BinaryName: a pod's unikernel container boots its kernel and initrd with
// qemu from binds of its per-container path, made in the container's
// mount namespace; the pause container goes to runc untouched; the
// daemon's mount table gains nothing from the runtime, removing the
// container and the pod succeeds and nothing is left.
func TestPodUruncShapedBoots(t *testing.T) {
	requireCapabilities(t)
	g := guest.Require(t, "../..", ctrtest.CacheDir())
	runtime, err := harness.UruncShaped(repo)
	if err != nil {
		t.Fatal(err)
	}
	records := t.TempDir()
	t.Setenv(guest.RecordsEnv, records) // the daemon passes it on to shims and runtime
	e := newEnv(t, envOptions{Handlers: []ctrtest.CRIHandler{{
		Name: uruncHandler, PodAnnotations: unikernelAnnotations, ContainerAnnotations: unikernelAnnotations,
		Options: map[string]any{"BinaryName": runtime},
	}}})
	ctx := e.ctx(t)
	spec, err := ctrtest.SampleImage(bootImage, g.Kernel, g.Initrd, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	tarPath, err := ctrtest.BuildImage(t.TempDir(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ctrtest.Import(namespaces.WithNamespace(ctx, ctrtest.CRINamespace), e.D.Client(), tarPath, "blockfile"); err != nil {
		t.Fatal(err)
	}
	if err := e.CRI.WaitImage(ctx, bootImage); err != nil {
		t.Fatal(err)
	}

	p := e.runPod(t, "urunc", uruncHandler, harness.Gated(nil))
	before := daemonMounts(t, e.D.Dir, "")
	begin := time.Now()
	id, err := e.CRI.RunContainer(ctx, p.Pod, ctrtest.ContainerOptions{Name: "boot", Image: bootImage, Command: []string{"/unikernel"}})
	if id != "" {
		p.ids = append(p.ids, id)
	}
	if err != nil {
		t.Fatal(err)
	}
	leaked := map[string]bool{}
	sawQemu := false
	var status *runtimeapi.ContainerStatus
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		for m := range daemonMounts(t, e.D.Dir, e.Bundle(id)) {
			leaked[m] = leaked[m] || !before[m]
		}
		sawQemu = sawQemu || len(guest.QemuPids(id)) > 0
		resp, err := e.CRI.Runtime.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id})
		if err != nil {
			t.Fatal(err)
		}
		if status = resp.GetStatus(); status.GetState() == runtimeapi.ContainerState_CONTAINER_EXITED {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("container %s did not exit: %s", id, status.GetState())
		}
	}
	took := time.Since(begin)
	console, _ := os.ReadFile(filepath.Join(p.LogDir, "boot.log"))
	if status.GetExitCode() != 0 || !guest.Booted(string(console), id) {
		t.Fatalf("container %s: exit %d (%s), marker %v; log:\n%s", id, status.GetExitCode(), status.GetReason(),
			guest.Booted(string(console), id), lastLines(string(console), 20))
	}
	if !sawQemu {
		t.Errorf("no qemu process seen for %s", id)
	}
	for m, added := range leaked {
		if added {
			t.Errorf("the daemon's mount table gained %s while %s ran", m, id)
		}
	}
	r, err := guest.ReadRecord(records, id)
	if err != nil {
		t.Fatal(err)
	}
	if r.Mode != "bind" || r.StatePath != e.Path(id) {
		t.Errorf("hook record: mode %q from %q (state error %q); want bind from %s", r.Mode, r.StatePath, r.StateError, e.Path(id))
	}
	for _, a := range r.Artifacts {
		if a.Path != ctrtest.SampleConfigPath && !strings.HasPrefix(a.MountFSType, "fuse") {
			t.Errorf("monitor rootfs %s: mount %s %q; want a bind of the FUSE per-container path", a.Path, a.MountFSType, a.MountSource)
		}
	}
	if _, err := guest.ReadRecord(records, p.ID); err == nil {
		t.Errorf("the runtime booted the pause container %s", p.ID)
	}
	t.Logf("CRI: RunContainer to exit %s (guest boot under TCG included)", took.Round(time.Millisecond))

	if err := e.CRI.RemoveContainer(ctx, id); err != nil {
		t.Fatalf("remove container: %v", err)
	}
	if pids := guest.QemuPids(id); len(pids) > 0 {
		t.Errorf("qemu of %s still running: %v", id, pids)
	}
	for m := range daemonMounts(t, e.D.Dir, "") {
		if !before[m] {
			t.Errorf("after removing %s the daemon's mount table holds %s", id, m)
		}
	}
	p.remove(t)
}

// daemonMounts lists the mount points under dir in this (the daemon's)
// mount namespace, without bundle's rootfs (the shim's).
func daemonMounts(t *testing.T, dir, bundle string) map[string]bool {
	t.Helper()
	infos, err := mountinfo.GetMounts(mountinfo.PrefixFilter(dir))
	if err != nil {
		t.Fatalf("mount table: %v", err)
	}
	out := map[string]bool{}
	for _, m := range infos {
		if bundle == "" || m.Mountpoint != filepath.Join(bundle, "rootfs") {
			out[m.Mountpoint] = true
		}
	}
	return out
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
