package soak

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// kind is a kind of fault.
type kind string

// The faults the soak injects.
const (
	kindNone   kind = "none"
	killShim   kind = "kill-shim"              // kill -9 of the container's shim
	restart    kind = "containerd-restart"     // containerd stopped (TERM or KILL) and started again
	downDelete kind = "containerd-down-delete" // containerd killed during Delete, down a while
	enospc     kind = "enospc"                 // the state directory full
	reboot     kind = "reboot"                 // every process killed, mounts gone, root and /run wiped
)

// point is where in a cycle a fault strikes: during the step, or before it.
type point string

// The points of a cycle.
const (
	pointNone point = ""
	inCreate  point = "in-create" // during the shim's Create (NewTask)
	created   point = "created"   // after Create, before Start
	running   point = "running"   // while the container runs
	inDelete  point = "in-delete" // during the task's Delete
)

// faultPoints lists the kinds and where each can strike.
var faultPoints = []struct {
	kind   kind
	points []point
}{
	{killShim, []point{inCreate, created, running, inDelete}},
	{restart, []point{inCreate, created, running, inDelete}},
	{downDelete, []point{inDelete}},
	{enospc, []point{inCreate, inDelete}},
	{reboot, []point{created, running}},
}

// fault is what a cycle injects; every random choice is drawn up front,
// so that a seed replays the same plan (outcomes still depend on timing).
type fault struct {
	kind  kind
	point point
	delay time.Duration  // during a step: how long after it starts
	down  time.Duration  // downDelete: how long containerd stays down
	sig   syscall.Signal // restart: how containerd is stopped
	slack int64          // enospc: bytes left free
}

func (f fault) String() string {
	if f.kind == kindNone {
		return "no fault"
	}
	return string(f.kind) + "@" + string(f.point)
}

// pick draws the fault of the next cycle.
func (s *soak) pick() fault {
	if s.rng.Float64() >= *faultsFlag {
		return fault{kind: kindNone, point: "none"}
	}
	fp := faultPoints[s.rng.IntN(len(faultPoints))]
	f := fault{kind: fp.kind, point: fp.points[s.rng.IntN(len(fp.points))], sig: syscall.SIGTERM}
	f.delay = time.Duration(s.rng.IntN(150)) * time.Millisecond
	if f.point == inDelete {
		f.delay /= 4 // Delete is quick
	}
	f.down = time.Duration(200+s.rng.IntN(1300)) * time.Millisecond
	if s.rng.IntN(2) == 0 {
		f.sig = syscall.SIGKILL
	}
	f.slack = s.rng.Int64N(96 << 10)
	return f
}

// inject runs the step do with fault f: during it (concurrently, after
// f.delay) or, for the points between steps, before it. It returns do's
// error, or the fault's when do did not run.
func (s *soak) inject(ctx context.Context, f fault, r *run, do func(context.Context) error) error {
	switch f.kind {
	case enospc:
		if err := s.fill(f.slack); err != nil {
			s.t.Errorf("fill the state directory: %v", err)
		}
		s.injected[f.String()]++
		err := do(ctx)
		if f.point == inCreate {
			s.unfill()
		}
		return err
	case reboot:
		s.reboot()
		s.injected[f.String()]++
		return do(ctx)
	}
	if f.point == created || f.point == running {
		s.count(f, s.strike(f, r, nil))
		return do(ctx)
	}
	done := make(chan struct{})
	hit := make(chan bool, 1)
	go func() {
		select {
		case <-time.After(f.delay):
			hit <- s.strike(f, r, done)
		case <-done:
			hit <- false
		}
	}()
	err := do(ctx)
	close(done)
	s.count(f, <-hit)
	return err
}

func (s *soak) count(f fault, hit bool) {
	if hit {
		s.injected[f.String()]++
	} else {
		s.missed[f.String()]++
	}
}

// strike injects a kill or restart fault now, or, for the shim, as soon as
// it runs (until done closes); it reports whether it hit. It runs on its
// own goroutine during a step, so it reports errors with Errorf.
func (s *soak) strike(f fault, r *run, done <-chan struct{}) bool {
	switch f.kind {
	case killShim:
		for {
			for _, sp := range s.e.ShimProcesses() {
				if sp.ID == r.id && syscall.Kill(sp.Pid, syscall.SIGKILL) == nil {
					return true
				}
			}
			select {
			case <-done:
				return false
			case <-time.After(2 * time.Millisecond):
			}
		}
	case restart, downDelete:
		sig := f.sig
		if f.kind == downDelete {
			sig = syscall.SIGKILL
		}
		if err := s.d.Kill(sig); err != nil {
			s.t.Errorf("%s: %v", f, err)
			return false
		}
		if f.kind == downDelete {
			time.Sleep(f.down)
		}
		ctx, cancel := s.ctx()
		defer cancel()
		if err := s.d.Restart(ctx, sig, time.Minute); err != nil {
			s.t.Errorf("%s: restart containerd: %v", f, err)
		}
		return true
	}
	return false
}

// fillerName is the file that fills the state directory.
const fillerName = "soak-filler"

// fill takes all the state directory's free space but slack bytes.
func (s *soak) fill(slack int64) error {
	var st unix.Statfs_t
	if err := unix.Statfs(s.d.State, &st); err != nil {
		return err
	}
	size := int64(st.Bavail)*st.Bsize - slack
	if size <= 0 {
		return nil
	}
	f, err := os.OpenFile(filepath.Join(s.d.State, fillerName), os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Fallocate(int(f.Fd()), 0, 0, size); err != nil && err != unix.ENOSPC {
		return fmt.Errorf("fallocate %d bytes: %w", size, err)
	}
	return nil
}

// unfill frees the space fill took.
func (s *soak) unfill() {
	if err := os.Remove(filepath.Join(s.d.State, fillerName)); err != nil && !os.IsNotExist(err) {
		s.t.Errorf("remove the filler: %v", err)
	}
}
