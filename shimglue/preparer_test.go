package shimglue

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/core/mount"

	"github.com/artifactfs/artifactfs/admin"
	"github.com/artifactfs/artifactfs/artifactbind"
	"github.com/artifactfs/artifactfs/internal/testimage"
)

// faults fails every step in steps.
func faults(steps ...Step) fault {
	return func(at Step, _ map[string]string) error {
		for _, s := range steps {
			if s == at {
				return failAt(s)(at, nil)
			}
		}
		return nil
	}
}

func TestPrepareModes(t *testing.T) {
	tests := []struct {
		name     string
		opts     []Option
		fail     []Step
		want     artifactbind.Mode
		viewOpen bool // the view stays mounted
	}{
		{name: "fuse", want: artifactbind.ModeFUSE, viewOpen: true},
		{name: "fuse without passthrough", opts: []Option{WithNoPassthrough(true)}, want: artifactbind.ModeFUSE, viewOpen: true},
		{name: "direct by option", opts: []Option{WithDirect(true)}, want: artifactbind.ModeDirect},
		{name: "direct when the view mount fails", fail: []Step{StepMountView}, want: artifactbind.ModeDirect},
		{name: "bind without FUSE", fail: []Step{StepFUSE}, want: artifactbind.ModeBind, viewOpen: true},
		{name: "copy without FUSE and binds", fail: []Step{StepFUSE, StepBind}, want: artifactbind.ModeCopy},
		{name: "copy from the block file", opts: []Option{WithDirect(true)}, fail: []Step{StepFUSE}, want: artifactbind.ModeCopy},
	}
	img := testImage(t, nil)
	want := wantFiles(t, img)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnv(t)
			v := newFakeViewer(blockfileMount(img))
			p := e.preparer(v, append(tt.opts, withFault(faults(tt.fail...)))...)
			ctx := context.Background()
			st, err := p.Prepare(ctx, "ns", "c1", e.bundle, gated)
			if err != nil || st == nil {
				t.Fatalf("Prepare = %v, %v", st, err)
			}
			if st.Mode != tt.want {
				t.Errorf("mode %s, want %s", st.Mode, tt.want)
			}
			if st.Path != filepath.Join(e.root, "ns", "c1") {
				t.Errorf("path %s", st.Path)
			}
			if (st.ViewMountpoint != "") != tt.viewOpen {
				t.Errorf("view mountpoint %q, want mounted=%v", st.ViewMountpoint, tt.viewOpen)
			}
			loaded, err := artifactbind.LoadState(e.bundle)
			if err != nil || !reflect.DeepEqual(loaded, st) {
				t.Errorf("state file = %+v, %v; want %+v", loaded, err, st)
			}
			if len(st.Artifacts) != 3 || st.Artifacts[0].Size != int64(len(testKernel)) || st.Artifacts[0].Path != "/.boot/kernel" {
				t.Errorf("artifacts %+v", st.Artifacts)
			}
			checkServed(t, st.Path, want)
			if entries, err := admin.Status(e.root, 0); err != nil || len(entries) != 1 || entries[0].Mode != st.Mode || !entries[0].Healthy {
				t.Errorf("Status = %+v, %v; want one healthy %s entry", entries, err, st.Mode)
			}
			if st.Mode != artifactbind.ModeCopy {
				err := os.WriteFile(filepath.Join(st.Path, ".boot/kernel"), []byte("x"), 0)
				if !errors.Is(err, syscall.EROFS) {
					t.Errorf("writing the kernel: %v, want EROFS", err)
				}
			}
			if err := p.Release(ctx, "ns", "c1"); err != nil {
				t.Fatalf("Release: %v", err)
			}
			e.requireClean(t, v, img)
			if err := p.Release(ctx, "ns", "c1"); err != nil {
				t.Errorf("second Release: %v", err)
			}
		})
	}
}

// TestPrepareFailEachStep fails each step in turn: the container gets no
// view (or, strict, Create fails), and nothing is left.
func TestPrepareFailEachStep(t *testing.T) {
	img := testImage(t, nil)
	tests := []struct {
		step   Step
		also   []Step
		direct bool
	}{
		{step: StepPending},
		{step: StepPrepare},
		{step: StepOpen},
		{step: StepOpen, direct: true},
		{step: StepResolve},
		{step: StepCopy, also: []Step{StepFUSE, StepBind}},
		{step: StepState},
		{step: StepState, also: []Step{StepFUSE}},
		{step: StepState, also: []Step{StepFUSE, StepBind}},
	}
	for _, tt := range tests {
		for _, strictMode := range []bool{false, true} {
			name := string(tt.step)
			if len(tt.also) > 0 {
				name += "+" + string(tt.also[len(tt.also)-1])
			}
			if tt.direct {
				name += "/direct"
			}
			if strictMode {
				name += "/strict"
			}
			t.Run(name, func(t *testing.T) {
				e := newTestEnv(t)
				v := newFakeViewer(blockfileMount(img))
				p := e.preparer(v, WithDirect(tt.direct), withFault(faults(append(tt.also, tt.step)...)))
				ann := map[string]string{annView: "true", annRootfs: "true"}
				if strictMode {
					ann[AnnotationStrict] = "true"
				}
				st, err := p.Prepare(context.Background(), "ns", "c1", e.bundle, ann)
				if st != nil {
					t.Errorf("Prepare returned a state: %+v", st)
				}
				if strictMode != (err != nil) {
					t.Errorf("Prepare error %v, want one: %v", err, strictMode)
				}
				if err != nil && !errors.Is(err, errInjected) {
					t.Errorf("error %v does not wrap the injected failure", err)
				}
				if !strings.Contains(e.log.String(), "rolled back") {
					t.Errorf("no rollback warning logged")
				}
				e.requireClean(t, v, img)
			})
		}
	}
}

func TestPrepareStrictFromConfig(t *testing.T) {
	e := newTestEnv(t)
	img := testImage(t, nil)
	v := newFakeViewer(blockfileMount(img))
	p := e.preparer(v, WithStrict(true), withFault(failAt(StepResolve)))
	if _, err := p.Prepare(context.Background(), "ns", "c1", e.bundle, gated); !errors.Is(err, errInjected) {
		t.Errorf("Prepare = %v, want the injected error (Config.Strict)", err)
	}
	e.requireClean(t, v, img)
}

// TestPrepareProbe leaves the decision to the image's urunc.json.
func TestPrepareProbe(t *testing.T) {
	tests := []struct {
		name  string
		extra map[string]string
		want  bool
	}{
		{"urunc.json asks", map[string]string{annView: "true", annRootfs: "true"}, true},
		{"urunc.json does not", map[string]string{annRootfs: "true"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnv(t)
			img := testImage(t, tt.extra)
			v := newFakeViewer(blockfileMount(img))
			p := e.preparer(v)
			st, err := p.Prepare(context.Background(), "ns", "c1", e.bundle, nil)
			if err != nil {
				t.Fatal(err)
			}
			if (st != nil) != tt.want {
				t.Fatalf("Prepare = %+v, want a state: %v", st, tt.want)
			}
			if v.prepares != 1 {
				t.Errorf("%d views prepared, want 1 to look at urunc.json", v.prepares)
			}
			if st != nil {
				checkServed(t, st.Path, wantFiles(t, img))
				if err := p.Release(context.Background(), "ns", "c1"); err != nil {
					t.Fatal(err)
				}
			}
			e.requireClean(t, v, img)
		})
	}
}

func TestPrepareSkipNeedsNoView(t *testing.T) {
	e := newTestEnv(t)
	v := newFakeViewer()
	p := e.preparer(v)
	st, err := p.Prepare(context.Background(), "ns", "c1", e.bundle, complete(nil))
	if st != nil || err != nil || v.prepares != 0 {
		t.Errorf("Prepare = %v, %v after %d views; want nothing", st, err, v.prepares)
	}
}

// TestReleaseFailureKeepsState: a view that cannot be released stays
// listed in a pending state, which Cleanup later finishes.
func TestReleaseFailureKeepsState(t *testing.T) {
	e := newTestEnv(t)
	img := testImage(t, nil)
	v := newFakeViewer(blockfileMount(img))
	p := e.preparer(v)
	ctx := context.Background()
	if _, err := p.Prepare(ctx, "ns", "c1", e.bundle, gated); err != nil {
		t.Fatal(err)
	}
	v.releaseErr = errors.New("containerd unavailable")
	if err := p.Release(ctx, "ns", "c1"); err == nil {
		t.Fatal("Release succeeded while the view could not be released")
	}
	st, err := artifactbind.LoadState(e.bundle)
	if err != nil || st == nil || st.Mode != artifactbind.ModePending || st.Ready() {
		t.Fatalf("state after a failed release = %+v, %v; want pending", st, err)
	}
	v.releaseErr = nil
	if err := p.Cleanup(ctx, e.bundle); err != nil {
		t.Fatal(err)
	}
	e.requireClean(t, v, img)
}

// TestPrepareBlockDevice stands in for a devmapper view (no device-mapper
// on this kernel): a read-only loop device over the image, named as the
// view's source, read with blockreader or mounted.
func TestPrepareBlockDevice(t *testing.T) {
	testimage.RequireRoot(t, "loop devices")
	testimage.RequireTools(t, "losetup")
	img := testImage(t, nil)
	dev := strings.TrimSpace(string(testimage.Run(t, "losetup", "--find", "--show", "--read-only", img)))
	t.Cleanup(func() { testimage.Run(t, "losetup", "-d", dev) })
	for _, tt := range []struct {
		direct bool
		want   artifactbind.Mode
	}{{true, artifactbind.ModeDirect}, {false, artifactbind.ModeFUSE}} {
		t.Run(string(tt.want), func(t *testing.T) {
			e := newTestEnv(t)
			v := newFakeViewer(mount.Mount{Type: "ext4", Source: dev, Options: []string{"ro"}})
			v.snapshotter = "devmapper"
			p := e.preparer(v, WithDirect(tt.direct))
			st, err := p.Prepare(context.Background(), "ns", "c1", e.bundle, gated)
			if err != nil || st == nil {
				t.Fatalf("Prepare = %v, %v", st, err)
			}
			if st.Mode != tt.want {
				t.Errorf("mode %s, want %s", st.Mode, tt.want)
			}
			checkServed(t, st.Path, wantFiles(t, img))
			if err := p.Release(context.Background(), "ns", "c1"); err != nil {
				t.Fatal(err)
			}
			e.requireClean(t, v, "")
		})
	}
}

// TestPrepareDirView serves a directory view (overlayfs and native
// snapshotters return "ro" binds), which has no block fallback.
func TestPrepareDirView(t *testing.T) {
	e := newTestEnv(t)
	dir := t.TempDir()
	testimage.WriteTree(t, dir, map[string][]byte{".boot/kernel": testKernel, ".boot/initrd": testInitrd, "urunc.json": testConfig(t, nil)})
	testimage.WriteTree(t, dir, testHidden)
	v := newFakeViewer(mount.Mount{Type: "bind", Source: dir, Options: []string{"ro", "rbind"}})
	v.snapshotter = "overlayfs"
	p := e.preparer(v)
	st, err := p.Prepare(context.Background(), "ns", "c1", e.bundle, gated)
	if err != nil || st == nil || st.Mode != artifactbind.ModeFUSE {
		t.Fatalf("Prepare = %+v, %v", st, err)
	}
	checkServed(t, st.Path, map[string][]byte{"/.boot/kernel": testKernel, "/.boot/initrd": testInitrd})
	if err := p.Release(context.Background(), "ns", "c1"); err != nil {
		t.Fatal(err)
	}
	e.requireClean(t, v, "")

	// Without a block fallback, a failed view mount is a failed Create.
	p = e.preparer(v, withFault(failAt(StepMountView)))
	if st, err := p.Prepare(context.Background(), "ns", "c1", e.bundle, gated); st != nil || err != nil {
		t.Errorf("Prepare = %v, %v; want no view, no error", st, err)
	}
	e.requireClean(t, v, "")
}

// TestPrepareRetry: a Create retried after a crash finds the paths and
// state of the first attempt and converges.
func TestPrepareRetry(t *testing.T) {
	e := newTestEnv(t)
	img := testImage(t, nil)
	v := newFakeViewer(blockfileMount(img))
	ctx := context.Background()
	first := e.preparer(v, withFault(failAt(StepFUSE)))
	if _, err := first.Prepare(ctx, "ns", "c1", e.bundle, gated); err != nil {
		t.Fatal(err)
	}
	// The first shim "dies": its descriptors close, its binds and view
	// mount stay. A new one prepares the same container.
	for _, c := range first.live {
		c.src.Close()
	}
	second := e.preparer(v)
	st, err := second.Prepare(ctx, "ns", "c1", e.bundle, gated)
	if err != nil || st == nil || st.Mode != artifactbind.ModeFUSE {
		t.Fatalf("retry = %+v, %v", st, err)
	}
	checkServed(t, st.Path, wantFiles(t, img))
	if err := second.Release(ctx, "ns", "c1"); err != nil {
		t.Fatal(err)
	}
	e.requireClean(t, v, img)
}

// TestPrepareProbeFailsQuietly: a failure while looking into an image
// that never asked for a view is no warning.
func TestPrepareProbeFailsQuietly(t *testing.T) {
	e := newTestEnv(t)
	img := testImage(t, nil)
	v := newFakeViewer(blockfileMount(img))
	p := e.preparer(v, withFault(failAt(StepOpen)))
	if st, err := p.Prepare(context.Background(), "ns", "c1", e.bundle, nil); st != nil || err != nil {
		t.Fatalf("Prepare = %v, %v", st, err)
	}
	if strings.Contains(e.log.String(), `"level":"warn"`) {
		t.Errorf("warned about an image that never asked for a view:\n%s", e.log)
	}
	e.requireClean(t, v, img)
}

// TestPrepareBadImage: a block view that is not ext4 fails to mount and to
// open directly; the container gets no view, and nothing is left.
func TestPrepareBadImage(t *testing.T) {
	img := filepath.Join(t.TempDir(), "garbage")
	if err := os.WriteFile(img, testimage.Payload(99, 4<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, direct := range []bool{false, true} {
		e := newTestEnv(t)
		v := newFakeViewer(blockfileMount(img))
		p := e.preparer(v, WithDirect(direct))
		if st, err := p.Prepare(context.Background(), "ns", "c1", e.bundle, gated); st != nil || err != nil {
			t.Errorf("direct=%v: Prepare = %+v, %v", direct, st, err)
		}
		e.requireClean(t, v, img)
	}
}

// TestReleaseWithCopyElsewhere: a process in another mount namespace still
// holds a copy of the FUSE mount (a container process that outlived its
// container); Release must not wait for it forever.
func TestReleaseWithCopyElsewhere(t *testing.T) {
	testimage.RequireTools(t, "unshare")
	e := newTestEnv(t)
	img := testImage(t, nil)
	v := newFakeViewer(blockfileMount(img))
	p := e.preparer(v)
	ctx := context.Background()
	if _, err := p.Prepare(ctx, "ns", "c1", e.bundle, gated); err != nil {
		t.Fatal(err)
	}
	holder := exec.Command("unshare", "--mount", "--propagation", "private", "sleep", "600")
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { holder.Process.Kill(); holder.Wait() })
	time.Sleep(100 * time.Millisecond) // let it unshare
	defer func(d time.Duration) { fuseStopTimeout = d }(fuseStopTimeout)
	fuseStopTimeout = time.Second

	start := time.Now()
	if err := p.Release(ctx, "ns", "c1"); err != nil {
		t.Errorf("Release: %v", err)
	}
	if took := time.Since(start); took > fuseStopTimeout+5*time.Second {
		t.Errorf("Release took %s", took)
	}
	if !strings.Contains(e.log.String(), "still in use elsewhere") {
		t.Errorf("no warning about the copy elsewhere:\n%s", e.log)
	}
	// Once the copy goes, so do the detached view and its loop device.
	holder.Process.Kill()
	holder.Wait()
	for deadline := time.Now().Add(10 * time.Second); len(loopDevicesOf(t, img)) > 0 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	e.requireClean(t, v, img)
}

// TestPreparePodRules: a pod's pause container gets the pod's annotations
// but nothing is prepared for it, strict or not; an app container whose
// image has no urunc configuration (a sidecar) runs untouched, strict or
// not, after one look at its image.
func TestPreparePodRules(t *testing.T) {
	podAnn := func(kind string) map[string]string {
		return map[string]string{annView: "true", annRootfs: "true", AnnotationStrict: "true", AnnotationContainerType: kind}
	}
	t.Run("sandbox", func(t *testing.T) {
		e := newTestEnv(t)
		v := newFakeViewer()
		p := e.preparer(v, WithStrict(true))
		st, err := p.Prepare(context.Background(), "k8s.io", "pause1", e.bundle, podAnn(ContainerTypeSandbox))
		if st != nil || err != nil || v.prepares != 0 {
			t.Errorf("Prepare = %v, %v after %d views; want nothing, no view", st, err, v.prepares)
		}
	})
	t.Run("sidecar", func(t *testing.T) {
		e := newTestEnv(t)
		dir := t.TempDir()
		testimage.WriteTree(t, dir, map[string][]byte{"bin/sidecar": testimage.Payload(24, 4096)})
		img := testimage.Mkfs(t, dir, 16)
		v := newFakeViewer(blockfileMount(img))
		p := e.preparer(v, WithStrict(true))
		st, err := p.Prepare(context.Background(), "k8s.io", "sidecar1", e.bundle, podAnn("container"))
		if st != nil || err != nil {
			t.Fatalf("Prepare = %+v, %v; want nothing and no error (strict applies to unikernel containers only)", st, err)
		}
		if v.prepares != 1 {
			t.Errorf("%d views prepared, want 1 to look for urunc.json", v.prepares)
		}
		e.requireClean(t, v, img)
	})
	t.Run("unikernel app container", func(t *testing.T) {
		e := newTestEnv(t)
		img := testImage(t, nil)
		v := newFakeViewer(blockfileMount(img))
		p := e.preparer(v, WithStrict(true))
		st, err := p.Prepare(context.Background(), "k8s.io", "app1", e.bundle, podAnn("container"))
		if err != nil || !st.Ready() {
			t.Fatalf("Prepare = %+v, %v; want the artifacts served", st, err)
		}
		checkServed(t, st.Path, wantFiles(t, img))
		if err := p.Release(context.Background(), "k8s.io", "app1"); err != nil {
			t.Fatal(err)
		}
		e.requireClean(t, v, img)
	})
}
