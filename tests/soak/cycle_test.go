package soak

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/artifactfs/artifactfs/internal/artifact"
	"github.com/artifactfs/artifactfs/internal/ctrtest"
)

// runtimeType is the artifactfs shim's runtime.
const runtimeType = "io.containerd.artifactfs.v2"

// run is one container of the soak.
type run struct {
	id   string
	ctr  client.Container
	task client.Task
	pid  uint32 // the task's init process, once created
}

// path is the container's per-container path.
func (s *soak) path(id string) string { return filepath.Join(s.root, s.d.Namespace, id) }

// create creates the container: the view annotations, its per-container
// path bound at /artifacts as urunc's monitor rootfs would, a long sleep.
func (s *soak) create(ctx context.Context, r *run) error {
	ann := map[string]string{artifact.AnnotationSnapshotView: "true", artifact.AnnotationMountRootfs: "true"}
	ctr, err := s.d.Client().NewContainer(ctx, r.id,
		client.WithSnapshotter("blockfile"),
		client.WithNewSnapshot(r.id+"-rootfs", s.image),
		client.WithRuntime(runtimeType, nil),
		client.WithNewSpec(oci.WithImageConfig(s.image),
			oci.WithProcessArgs(ctrtest.SampleEntryPath, "sleep", "3600"),
			oci.WithAnnotations(ann),
			oci.WithMounts([]specs.Mount{{Destination: "/artifacts", Type: "bind", Source: s.path(r.id), Options: []string{"rbind", "ro"}}})))
	if err != nil {
		return fmt.Errorf("new container: %w", err)
	}
	r.ctr = ctr
	return nil
}

// newTask is the shim's Create.
func (s *soak) newTask(ctx context.Context, r *run) error {
	task, err := r.ctr.NewTask(ctx, cio.NullIO)
	if err != nil {
		return fmt.Errorf("new task: %w", err)
	}
	r.task, r.pid = task, task.Pid()
	return nil
}

// deleteTask kills and deletes the task.
func (s *soak) deleteTask(ctx context.Context, r *run) error {
	if _, err := r.task.Delete(ctx, client.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("delete task: %w", err)
	}
	return nil
}

// cycle runs one container through create, start and delete, with a fault
// at a random point or none, then cleans up and checks what is left.
func (s *soak) cycle(i int) {
	f := s.pick()
	s.t.Logf("cycle %d: %s", i, f)
	r := &run{id: fmt.Sprintf("soak-%d", i)}
	s.ids = append(s.ids, r.id)
	var errs []error
	step := func(p point, do func(context.Context) error) bool {
		ctx, cancel := s.ctx()
		defer cancel()
		if f.point != p {
			if err := do(ctx); err != nil {
				errs = append(errs, err)
				return false
			}
			return true
		}
		err := s.inject(ctx, f, r, do)
		if err != nil {
			errs = append(errs, err)
		}
		return err == nil
	}
	_ = step(pointNone, func(ctx context.Context) error { return s.create(ctx, r) }) &&
		step(inCreate, func(ctx context.Context) error { return s.newTask(ctx, r) }) &&
		step(created, func(ctx context.Context) error { return r.task.Start(ctx) }) &&
		step(running, func(ctx context.Context) error { return s.checkServed(r.id) }) &&
		step(inDelete, func(ctx context.Context) error { return s.deleteTask(ctx, r) }) &&
		step(pointNone, func(ctx context.Context) error { return r.ctr.Delete(ctx, client.WithSnapshotCleanup) })
	if f.kind != kindNone {
		s.faulty++
		s.opErrs[string(f.kind)] += len(errs)
	} else {
		for _, err := range errs {
			s.t.Errorf("cycle %d without a fault: %v\nthe shim's warnings:\n%s", i, err, s.shimWarnings(r.id))
		}
	}
	s.recover(r, f)
	s.check(i, f)
}

// checkServed reads the kernel through the per-container path of id.
func (s *soak) checkServed(id string) error {
	got, err := os.ReadFile(filepath.Join(s.path(id), ctrtest.SampleKernelPath))
	if err != nil {
		return fmt.Errorf("read the kernel of %s: %w", id, err)
	}
	if string(got) != string(s.kernel) {
		return fmt.Errorf("the kernel of %s: %d bytes differ from the image's", id, len(got))
	}
	return nil
}

// recover is what an operator's tooling does after the cycle: containerd
// up, space freed, the task and the container deleted (retried while
// containerd settles).
func (s *soak) recover(r *run, f fault) {
	if !s.d.Running() {
		s.restart(syscall.SIGKILL)
	}
	s.unfill()
	ctx, cancel := s.ctx()
	defer cancel()
	var last error
	for attempt := 0; attempt < 20; attempt++ {
		if last = s.remove(ctx, r.id); last == nil {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	s.t.Errorf("after %s: cannot remove container %s: %v", f, r.id, last)
}

// remove deletes container id and its task, when they exist.
func (s *soak) remove(ctx context.Context, id string) error {
	ctr, err := s.d.Client().LoadContainer(ctx, id)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if task, err := ctr.Task(ctx, nil); err == nil {
		if _, err := task.Delete(ctx, client.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("delete task: %w", err)
		}
	} else if !errdefs.IsNotFound(err) {
		return fmt.Errorf("load task: %w", err)
	}
	if err := ctr.Delete(ctx, client.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("delete container: %w", err)
	}
	return nil
}

// restart starts containerd again after sig, failing the soak when it
// does not come back.
func (s *soak) restart(sig syscall.Signal) {
	ctx, cancel := s.ctx()
	defer cancel()
	if err := s.d.Restart(ctx, sig, time.Minute); err != nil {
		s.t.Fatalf("restart containerd: %v", err)
	}
}

// shimWarnings returns the lines of the daemon's log (where the shim's
// log goes) about container id at level warn or error.
func (s *soak) shimWarnings(id string) string {
	var out []string
	for _, l := range strings.Split(s.d.LogTail(4<<20), "\n") {
		if strings.Contains(l, `"container":"`+id+`"`) && (strings.Contains(l, `"level":"warn"`) || strings.Contains(l, `"level":"error"`)) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
