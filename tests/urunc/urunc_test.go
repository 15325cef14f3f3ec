package urunc

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd/api/types/runc/options"

	"github.com/artifactfs/artifactfs/internal/guest"
	"github.com/artifactfs/artifactfs/tests/harness"
)

// TestGuestBootsUnderQemu boots the guest's kernel and initrd with qemu
// directly, as the runtime will: the reference boot time, and proof that
// the marker comes from the guest.
func TestGuestBootsUnderQemu(t *testing.T) {
	g := requireGuest(t)
	initrd := t.TempDir() + "/initrd"
	if err := os.WriteFile(initrd, g.Initrd, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	begin := time.Now()
	out, err := exec.CommandContext(ctx, "qemu-system-x86_64", "-accel", "tcg", "-m", "256", "-nographic", "-no-reboot",
		"-kernel", g.KernelPath, "-initrd", initrd,
		"-append", "console=ttyS0 panic=-1 "+guest.ContainerParam+"=direct").CombinedOutput()
	took := time.Since(begin)
	if err != nil {
		t.Fatalf("qemu: %v\n%s", err, tail(string(out)))
	}
	if !guest.Booted(string(out), "direct") {
		t.Fatalf("no marker on the console:\n%s", tail(string(out)))
	}
	t.Logf("guest booted and powered off under TCG in %s", took.Round(time.Millisecond))
}

// TestBootThroughShim runs the boot image through the artifactfs shim with
// BinaryName = the urunc-shaped runtime, with the daemon's root
// propagation private and shared: the runtime binds kernel and initrd from
// the per-container path (FUSE) in the container's namespace after runc's
// rslave, qemu boots them, the daemon's mount table gains nothing, task
// delete succeeds and nothing is left.
func TestBootThroughShim(t *testing.T) {
	for _, prop := range []harness.Propagation{harness.Private, harness.Shared} {
		t.Run(prop.String(), func(t *testing.T) {
			e := newBootEnv(t, prop)
			ctx := e.ctx(t)
			id := "boot-" + prop.String()
			b := e.runBoot(t, ctx, id, viewOn, &options.Options{BinaryName: e.Runtime})
			e.checkBooted(t, b)
			e.checkBound(t, b)
			e.remove(t, ctx, b)
			e.CheckNoLeaks(t, "after delete")
		})
	}
}

// TestBootCopyFallback turns the view off: no state file, so the runtime
// copies kernel and initrd from the container's rootfs (urunc's copy
// path), and the guest boots the same.
func TestBootCopyFallback(t *testing.T) {
	e := newBootEnv(t, harness.Shared)
	ctx := e.ctx(t)
	b := e.runBoot(t, ctx, "boot-copy", viewOff, &options.Options{BinaryName: e.Runtime})
	e.checkBooted(t, b)
	if b.record == nil {
		t.Fatal(b.recordOK)
	}
	if b.record.Mode != "copy" || b.record.StateMode != "" || b.record.StateError != "" {
		t.Errorf("hook record: mode %q, state mode %q, state error %q; want a copy without a state",
			b.record.Mode, b.record.StateMode, b.record.StateError)
	}
	e.checkSizes(t, b)
	e.remove(t, ctx, b)
	e.CheckNoLeaks(t, "after delete")
}

// checkBooted asserts exit 0 and the guest's marker on the console, and
// reports the times.
func (e *bootEnv) checkBooted(t *testing.T, b *boot) {
	t.Helper()
	if b.exit != 0 || !guest.Booted(b.c.Stdout.String(), b.id) {
		t.Fatalf("container %s: exit %d, marker %v\nconsole:\n%s\nstderr:\n%s",
			b.id, b.exit, guest.Booted(b.c.Stdout.String(), b.id), tail(b.c.Stdout.String()), tail(b.c.Stderr.String()))
	}
	if !b.sawQemu {
		t.Errorf("no qemu process seen for %s while it ran", b.id)
	}
	if len(b.leaked) > 0 {
		t.Errorf("the daemon's (%s) mount table gained %v while %s ran", e.Prop, b.leaked, b.id)
	}
	t.Logf("%s: create %s, start to guest power-off %s: %q",
		b.id, b.c.Created.Round(time.Millisecond), b.run.Round(time.Millisecond), lastMarker(b.c.Stdout.String()))
}

// lastMarker returns the console's marker line.
func lastMarker(console string) string {
	line := ""
	for _, l := range strings.Split(console, "\n") {
		if strings.Contains(l, guest.Marker) {
			line = strings.TrimSpace(l)
		}
	}
	return line
}

// checkBound asserts that the hook ran in the container's namespace, with
// the root no longer shared, and that the monitor rootfs's kernel and
// initrd were binds of the per-container FUSE path.
func (e *bootEnv) checkBound(t *testing.T, b *boot) {
	t.Helper()
	r := b.record
	if r == nil {
		t.Fatal(b.recordOK)
	}
	if r.Mode != "bind" || r.StatePath != e.Path(b.id) {
		t.Fatalf("hook record: mode %q from %q (state mode %q, error %q); want bind from %s",
			r.Mode, r.StatePath, r.StateMode, r.StateError, e.Path(b.id))
	}
	if daemon := e.daemonMountNS(t); r.MountNS == daemon {
		t.Errorf("hook ran in the daemon's mount namespace %s, not the container's", daemon)
	}
	if strings.Contains(r.RootPropagation, "shared:") {
		t.Errorf("hook's / is still shared (%q): binds would propagate", r.RootPropagation)
	}
	if e.Prop == harness.Shared && !strings.Contains(r.RootPropagation, "master:") {
		t.Errorf("hook's / is %q; want a slave (master:N) of the daemon's shared root", r.RootPropagation)
	}
	for _, a := range r.Artifacts {
		if a.Path == "/urunc.json" {
			continue
		}
		if !strings.HasPrefix(a.MountFSType, "fuse") || !strings.Contains(a.MountOptions, "ro") {
			t.Errorf("monitor rootfs %s: mount %s %q (%s); want a read-only bind of the FUSE per-container path",
				a.Path, a.MountFSType, a.MountSource, a.MountOptions)
		}
	}
	t.Logf("hook: %s mode %s, / %q, kernel mount %s %q", r.Mode, r.StateMode, r.RootPropagation,
		r.Artifacts[0].MountFSType, r.Artifacts[0].MountSource)
	e.checkSizes(t, b)
}

// checkSizes asserts the monitor rootfs got the whole kernel and initrd.
func (e *bootEnv) checkSizes(t *testing.T, b *boot) {
	t.Helper()
	want := map[string]int64{"/.boot/kernel": int64(len(e.Kernel)), "/.boot/initrd": int64(len(e.Initrd))}
	for _, a := range b.record.Artifacts {
		if w, ok := want[a.Path]; ok {
			if a.Size != w {
				t.Errorf("monitor rootfs %s: %d bytes, want %d", a.Path, a.Size, w)
			}
			delete(want, a.Path)
		}
	}
	for p := range want {
		t.Errorf("monitor rootfs lacks %s", p)
	}
}
