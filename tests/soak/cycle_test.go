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
	"github.com/containerd/errdefs"

	"github.com/artifactfs/artifactfs/internal/ctrtest"
	"github.com/artifactfs/artifactfs/tests/harness"
)

// run is one container of the soak.
type run struct {
	id  string
	k   *harness.Task // the container, and its task once created
	pid uint32        // the task's init process, once created
}

// create creates the container: the view annotations, its per-container
// path bound at harness.ArtifactsDir as urunc's monitor rootfs would, a
// long sleep, its output discarded.
func (s *soak) create(ctx context.Context, r *run) error {
	k, err := s.e.NewContainer(ctx, harness.Container{ID: r.id, Annotations: harness.Gated(nil), Bind: true,
		Args: []string{"sleep", "3600"}, NullIO: true})
	if err != nil {
		return err
	}
	r.k = k
	return nil
}

// newTask is the shim's Create.
func (s *soak) newTask(ctx context.Context, r *run) error {
	if err := r.k.Create(ctx); err != nil {
		return err
	}
	r.pid = r.k.Task.Pid()
	return nil
}

// deleteTask kills and deletes the task.
func (s *soak) deleteTask(ctx context.Context, r *run) error {
	if _, err := r.k.Task.Delete(ctx, client.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
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
		step(created, func(ctx context.Context) error { return r.k.Task.Start(ctx) }) &&
		step(running, func(ctx context.Context) error { return s.checkServed(r.id) }) &&
		step(inDelete, func(ctx context.Context) error { return s.deleteTask(ctx, r) }) &&
		step(pointNone, func(ctx context.Context) error { return r.k.Container.Delete(ctx, client.WithSnapshotCleanup) })
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
	got, err := os.ReadFile(filepath.Join(s.e.Path(id), ctrtest.SampleKernelPath))
	if err != nil {
		return fmt.Errorf("read the kernel of %s: %w", id, err)
	}
	if string(got) != string(s.e.Kernel) {
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
		if last = s.e.Remove(ctx, r.id); last == nil {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	s.t.Errorf("after %s: cannot remove container %s: %v", f, r.id, last)
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
