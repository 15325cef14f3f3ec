package urunc

import (
	"maps"
	"strings"
	"testing"

	"github.com/containerd/containerd/api/types/runc/options"
	"golang.org/x/sys/unix"

	"github.com/artifactfs/artifactfs/tests/harness"
)

// TestBindBeforeRslaveLeaks is the negative control of TestBootThroughShim:
// the same runtime binds in runc's createRuntime hook, which runs in the
// runtime's (the daemon's) mount namespace before the container's is cut
// off, as urunc's bind before prepareRoot would on a host whose / is
// shared. The daemon's mount table gains the binds (the container's
// monitor rootfs, a slave of the daemon's shared root, receives them too,
// so the guest may even boot), and task delete fails with EBUSY on the
// monitor rootfs — the failures the checks of the good runs look for.
// The binds are then removed by hand and delete converges.
func TestBindBeforeRslaveLeaks(t *testing.T) {
	e := newBootEnv(t, harness.Shared)
	ctx := e.ctx(t)
	annotations := maps.Clone(viewOn)
	annotations[bindAtAnnotation] = "createRuntime"
	b := e.runBoot(t, ctx, "bind-early", annotations, &options.Options{BinaryName: e.Runtime})
	if b.record == nil {
		t.Fatal(b.recordOK)
	}
	if daemon := e.daemonMountNS(t); b.record.Mode != "bind" || b.record.MountNS != daemon {
		t.Fatalf("hook record: mode %q in %s; want bind in the daemon's namespace %s", b.record.Mode, b.record.MountNS, daemon)
	}
	monRootfs := b.bundle + "/monRootfs/"
	leaked := 0
	for _, m := range b.leaked {
		if strings.HasPrefix(m, monRootfs) {
			leaked++
		}
	}
	if leaked == 0 {
		t.Errorf("the daemon's mount table gained no bind under %s: %v", monRootfs, b.leaked)
	}
	t.Logf("leaked into the daemon's namespace: %v; exit %d, console tail: %q", b.leaked, b.exit, lastLine(b.c.Stdout.String()))

	_, err := b.c.Task.Delete(ctx)
	if err == nil {
		t.Fatal("task delete succeeded with binds in the monitor rootfs")
	}
	if !strings.Contains(err.Error(), "busy") {
		t.Errorf("task delete: %v; want EBUSY on the monitor rootfs", err)
	}
	t.Logf("task delete failed as urunc's does: %v", err)

	e.NS.Do(func() {
		for _, m := range b.leaked {
			if err := unix.Unmount(m, unix.MNT_DETACH); err != nil {
				t.Errorf("unmount leaked %s: %v", m, err)
			}
		}
	})
	if _, err := b.c.Task.Delete(ctx); err != nil {
		t.Errorf("task delete after removing the binds: %v", err)
	}
	if left := e.runtimeMounts(t, b.bundle, nil); len(left) > 0 {
		t.Errorf("daemon mount table still holds %v", left)
	}
	if err := b.c.Container.Delete(ctx); err != nil {
		t.Errorf("delete container: %v", err)
	}
	e.CheckNoLeaks(t, "after delete")
}

// lastLine returns the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
