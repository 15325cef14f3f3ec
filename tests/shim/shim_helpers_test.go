package shim

import (
	"context"
	"testing"
	"time"

	"github.com/containerd/errdefs"

	"github.com/artifactfs/artifactfs/internal/ctrtest"
	"github.com/artifactfs/artifactfs/internal/testimage"
	"github.com/artifactfs/artifactfs/tests/harness"
)

// repo is the repository's root, seen from this package's directory.
const repo = "../.."

// shimFailAt is the annotation that fails steps on purpose, read by the
// fault-injection build of the shim only (shimOptions.faults).
const shimFailAt = "org.artifactfs.test.fail-at"

// shimGated are the annotations that turn the view on.
var shimGated = harness.Gated(nil)

// shimBinary builds containerd-shim-artifactfs-v2 once per run and returns
// its directory: the shipped build (harness.ShimDir), or with faults the
// build with the artifactfs_faults tag, which fails the steps shimFailAt
// names (harness.FaultShimDir).
func shimBinary(t testing.TB, faults bool) string {
	t.Helper()
	build := harness.ShimDir
	if faults {
		build = harness.FaultShimDir
	}
	dir, err := build(repo)
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// shimOptions configure newShimEnv.
type shimOptions struct {
	kernelSize   int
	scratchMiB   int // blockfile's scratch file, copied by every layer; default 64
	snapshotters []string
	env          map[string]string // set in the daemon's (and so the shims') environment
	hideFUSE     bool              // run the daemon in a mount namespace where /dev/fuse is /dev/null
	faults       bool              // run the fault-injection build of the shim, not the shipped one
}

// newShimEnv starts a private containerd for one test with the sample
// image imported into the snapshotters (harness.NewEnv); everything is
// stopped and checked for leaks at cleanup.
func newShimEnv(t testing.TB, o shimOptions) *harness.Env {
	t.Helper()
	testimage.RequireRoot(t, "containerd, runc, FUSE and loop mounts")
	testimage.RequireTools(t, "mkfs.ext4", "runc")
	if o.kernelSize == 0 {
		o.kernelSize = 3<<20 + 123
	}
	if len(o.snapshotters) == 0 {
		o.snapshotters = []string{"blockfile"}
	}
	opts := harness.Options{Repo: repo, Faults: o.faults, Daemon: ctrtest.Options{ScratchMiB: o.scratchMiB}}
	for k, v := range o.env {
		opts.Daemon.Env = append(opts.Daemon.Env, k+"="+v)
	}
	if o.hideFUSE {
		opts.NS = harness.MountNSFor(t, harness.Private, harness.HideFUSE)
	}
	return harness.NewEnv(t, opts, harness.Sample{
		Name:         "docker.io/library/artifactfs-shim:latest",
		Kernel:       testimage.Payload(31, o.kernelSize),
		Initrd:       testimage.Payload(32, 700<<10+3),
		Snapshotters: o.snapshotters,
	})
}

// testCtx is the context of a test's containerd calls.
func testCtx(t testing.TB, e *harness.Env) context.Context { return e.Context(t, 3*time.Minute) }

// create creates the container c and its task (the shim's Create), not
// started; it returns the task also when Create fails. The container is
// deleted at cleanup if the test did not.
func create(t testing.TB, ctx context.Context, e *harness.Env, c harness.Container) (*harness.Task, error) {
	t.Helper()
	st, err := e.NewContainer(ctx, c)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() {
		if err := e.Remove(context.WithoutCancel(ctx), c.ID); err != nil {
			t.Errorf("delete container %s: %v", c.ID, err)
		}
	})
	return st, st.Create(ctx)
}

// run starts the task and waits for it to exit; it returns the exit code.
func run(t testing.TB, ctx context.Context, st *harness.Task) uint32 {
	t.Helper()
	code, err := st.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// remove deletes the task and the container with its snapshot.
func remove(t testing.TB, ctx context.Context, st *harness.Task) {
	t.Helper()
	if err := st.Delete(ctx); err != nil {
		t.Error(err)
	}
}

// shimPid returns the pid of the shim process serving container id.
func shimPid(t testing.TB, e *harness.Env, id string) int {
	t.Helper()
	pid, err := e.ShimPid(id)
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// dropTask waits until containerd has dropped task k, whose shim died
// (containerd then runs the shim's delete command), and closes the task's
// IO, which no Delete will close now: else its fifo directory stays under
// /run/containerd.
func dropTask(t testing.TB, ctx context.Context, k *harness.Task) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := k.Container.Task(ctx, nil); errdefs.IsNotFound(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the task of %s, whose shim died, is still there", k.ID)
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
