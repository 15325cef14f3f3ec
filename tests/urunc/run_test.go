package urunc

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/moby/sys/mountinfo"

	"github.com/artifactfs/artifactfs/internal/artifact"
	"github.com/artifactfs/artifactfs/internal/guest"
	"github.com/artifactfs/artifactfs/tests/harness"
)

// Annotations of the runs.
var (
	// viewOn turns artifactfs's view on (the image's urunc.json says so too).
	viewOn = harness.Gated(nil)
	// viewOff skips the view: no state file, the runtime copies.
	viewOff = map[string]string{artifact.AnnotationSnapshotView: "false", artifact.AnnotationMountRootfs: "true"}
)

// bindAtAnnotation moves the runtime's bind to runc's createRuntime hook,
// in the runtime's (the daemon's) namespace, before the rslave: the
// negative control.
const bindAtAnnotation = "org.artifactfs.test.urunc-shaped.bind-at"

// boot is one container run to its exit, task not yet deleted.
type boot struct {
	c        *harness.Task // the container and its task
	id       string
	exit     uint32
	run      time.Duration // Start to exit: the guest's boot to power-off
	record   *guest.Record
	leaked   []string // mounts of the runtime seen in the daemon's namespace while it ran
	sawQemu  bool
	bundle   string
	recordOK error
}

// runBoot creates a container of the boot image with the shim and
// runtime options opts (BinaryName = the urunc-shaped runtime), runs it
// to its exit while watching the daemon's mount table, and reads the
// hook's record. c.Created is how long NewTask took: the shim's
// preparation and the runtime's create. The container is removed at
// cleanup if the test did not.
func (e *bootEnv) runBoot(t *testing.T, ctx context.Context, id string, annotations map[string]string, opts any) *boot {
	t.Helper()
	b := &boot{id: id, bundle: e.Bundle(id)}
	var err error
	b.c, err = e.NewContainer(ctx, harness.Container{ID: id, Annotations: annotations, RuntimeOptions: opts, Process: []string{"/unikernel"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Remove(context.WithoutCancel(ctx), id); err != nil {
			t.Errorf("delete container %s: %v", id, err)
		}
	})
	before := e.runtimeMounts(t, b.bundle, nil)
	if err := b.c.Create(ctx); err != nil {
		t.Fatal(err)
	}
	statusC, err := b.c.Task.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	if err := b.c.Task.Start(ctx); err != nil {
		t.Fatalf("start task %s: %v", id, err)
	}
	w := e.watch(t, id, b.bundle, before)
	select {
	case s := <-statusC:
		b.run = time.Since(begin)
		b.exit = s.ExitCode()
	case <-ctx.Done():
		w.stop()
		t.Fatalf("task %s did not exit: %v\nconsole:\n%s", id, ctx.Err(), tail(b.c.Stdout.String()))
	}
	b.c.WaitIO()
	b.leaked, b.sawQemu = w.stop()
	b.record, b.recordOK = guest.ReadRecord(e.Records, id)
	return b
}

// watcher samples the daemon's mount table and the process list while a
// container runs.
type watcher struct {
	done    chan struct{}
	wg      sync.WaitGroup
	leaked  []string
	sawQemu bool
	final   func() map[string]bool
}

// watch starts sampling, every 100 ms, the mounts the runtime of
// container id added to the daemon's namespace (runtimeMounts against
// before) and whether its qemu runs.
func (e *bootEnv) watch(t *testing.T, id, bundle string, before map[string]bool) *watcher {
	w := &watcher{done: make(chan struct{}), final: func() map[string]bool { return e.runtimeMounts(t, bundle, before) }}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		for {
			w.leaked = appendNew(w.leaked, w.final())
			w.sawQemu = w.sawQemu || len(guest.QemuPids(id)) > 0
			select {
			case <-w.done:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return w
}

// stop ends the sampling, takes a last sample, and returns the mounts seen
// and whether qemu was.
func (w *watcher) stop() ([]string, bool) {
	close(w.done)
	w.wg.Wait()
	return appendNew(w.leaked, w.final()), w.sawQemu
}

// runtimeMounts lists the mount points under the daemon's directory in
// its mount namespace that are not in before and not the shim's own
// (the container's rootfs in its bundle): what the runtime added there.
func (e *bootEnv) runtimeMounts(t *testing.T, bundle string, before map[string]bool) map[string]bool {
	t.Helper()
	var infos []*mountinfo.Info
	var err error
	e.NS.Do(func() { infos, err = mountinfo.GetMounts(mountinfo.PrefixFilter(e.D.Dir)) })
	if err != nil {
		t.Errorf("daemon mount table: %v", err)
	}
	out := map[string]bool{}
	for _, m := range infos {
		if m.Mountpoint == filepath.Join(bundle, "rootfs") || before[m.Mountpoint] {
			continue
		}
		out[m.Mountpoint] = true
	}
	return out
}

func appendNew(list []string, found map[string]bool) []string {
	for m := range found {
		seen := false
		for _, l := range list {
			seen = seen || l == m
		}
		if !seen {
			list = append(list, m)
		}
	}
	return list
}

// tail returns the end of console output, for failure messages.
func tail(s string) string {
	if len(s) > 3000 {
		s = "..." + s[len(s)-3000:]
	}
	return strings.TrimSpace(s)
}

// remove deletes the task, then checks that no qemu is left, that the
// monitor rootfs is gone and that the daemon's mount table holds nothing
// of the runtime, and deletes the container.
func (e *bootEnv) remove(t *testing.T, ctx context.Context, b *boot) {
	t.Helper()
	if _, err := b.c.Task.Delete(ctx); err != nil {
		t.Fatalf("task delete %s: %v", b.id, err)
	}
	if pids := guest.QemuPids(b.id); len(pids) > 0 {
		t.Errorf("qemu of %s still running after task delete: pids %v", b.id, pids)
	}
	if _, err := os.Lstat(filepath.Join(b.bundle, "monRootfs")); !os.IsNotExist(err) {
		t.Errorf("monitor rootfs of %s still there after task delete: %v", b.id, err)
	}
	if left := e.runtimeMounts(t, b.bundle, nil); len(left) > 0 {
		t.Errorf("daemon mount table after task delete holds %v", left)
	}
	if err := b.c.Container.Delete(ctx, client.WithSnapshotCleanup); err != nil {
		t.Errorf("delete container %s: %v", b.id, err)
	}
}
