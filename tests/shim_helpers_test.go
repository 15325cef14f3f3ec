package tests

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/artifactfs/artifactfs/internal/artifact"
	"github.com/artifactfs/artifactfs/internal/ctrtest"
	"github.com/artifactfs/artifactfs/internal/shimtest"
	"github.com/artifactfs/artifactfs/internal/testimage"
	"github.com/artifactfs/artifactfs/shimglue"
)

// shimRuntime is the runtime type the e2e tests run containers with; the
// daemon finds its binary, containerd-shim-artifactfs-v2, on its PATH.
const shimRuntime = "io.containerd.artifactfs.v2"

// shimArtifactsDir is where the test containers' specs bind the
// per-container path, as urunc's monitor rootfs would.
const shimArtifactsDir = "/artifacts"

// Annotations that turn the view on, and one that fails steps on purpose
// (read by the fault-injection build of the shim only: shimOptions.faults).
var (
	shimGated = map[string]string{
		artifact.AnnotationSnapshotView: "true",
		artifact.AnnotationMountRootfs:  "true",
	}
	shimFailAt = "org.artifactfs.test.fail-at"
)

// shimBinary builds containerd-shim-artifactfs-v2 once per run and returns
// its directory: the shipped build (shimtest.ShimDir), or with faults the
// build with the artifactfs_faults tag, which fails the steps shimFailAt
// names (shimtest.FaultShimDir).
func shimBinary(t testing.TB, faults bool) string {
	t.Helper()
	build := shimtest.ShimDir
	if faults {
		build = shimtest.FaultShimDir
	}
	dir, err := build("..")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// shimEnv is a private containerd whose shims serve per-container paths
// under Root, with an image holding the artifacts and a static entrypoint.
type shimEnv struct {
	D      *ctrtest.Daemon
	Root   string
	Kernel []byte
	Initrd []byte
	Config []byte
	Image  client.Image
	// ns runs the checks that must see the daemon's mount namespace, when
	// it has a private one.
	ns *shimtest.MountNS
}

var (
	shimEntryOnce sync.Once
	shimEntry     []byte
	shimEntryErr  error
)

// shimOptions configure newShimEnv.
type shimOptions struct {
	kernelSize   int
	scratchMiB   int // blockfile's scratch file, copied by every layer; default 64
	snapshotters []string
	env          map[string]string // set in the daemon's (and so the shims') environment
	hideFUSE     bool              // run the daemon in a mount namespace where /dev/fuse is /dev/null
	faults       bool              // run the fault-injection build of the shim, not the shipped one
}

// newShimEnv starts a private containerd for one test and imports the
// sample image into the snapshotters; everything is stopped and checked
// for leaks at cleanup.
func newShimEnv(t testing.TB, o shimOptions) *shimEnv {
	t.Helper()
	testimage.RequireRoot(t, "containerd, runc, FUSE and loop mounts")
	testimage.RequireTools(t, "mkfs.ext4", "runc")
	if o.kernelSize == 0 {
		o.kernelSize = 3<<20 + 123
	}
	if len(o.snapshotters) == 0 {
		o.snapshotters = []string{"blockfile"}
	}
	bin := shimBinary(t, o.faults)
	shimEntryOnce.Do(func() {
		dir, err := os.MkdirTemp("", "shim-entry-")
		if err != nil {
			shimEntryErr = err
			return
		}
		defer os.RemoveAll(dir)
		shimEntry, shimEntryErr = ctrtest.Entrypoint(dir)
	})
	if shimEntryErr != nil {
		t.Fatal(shimEntryErr)
	}

	e := &shimEnv{Root: t.TempDir()}
	// The daemon passes its environment on to the shims.
	t.Setenv(shimglue.RootEnv, e.Root)
	for k, v := range o.env {
		t.Setenv(k, v)
	}
	start := func() {
		var err error
		e.D, err = ctrtest.Start(context.Background(), ctrtest.Options{ExtraPath: []string{bin}, ScratchMiB: o.scratchMiB})
		if err != nil {
			t.Errorf("start containerd: %v", err)
		}
	}
	if o.hideFUSE {
		e.ns = newMountNS(t, hideFUSE)
		e.ns.Do(start)
	} else {
		start()
	}
	if e.D == nil {
		t.FailNow()
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("containerd log tail:\n%s", e.D.LogTail(8192))
		}
		e.checkNoLeaks(t, "at the end")
		e.inNS(func() {
			if err := e.D.Stop(); err != nil {
				t.Errorf("stop containerd: %v", err)
			}
		})
	})

	e.Kernel = testimage.Payload(31, o.kernelSize)
	e.Initrd = testimage.Payload(32, 700<<10+3)
	spec, err := ctrtest.SampleImage("docker.io/library/artifactfs-shim:latest", e.Kernel, e.Initrd, shimEntry, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.Config = spec.Files[ctrtest.SampleConfigPath].Data
	dir := t.TempDir()
	tarPath, err := ctrtest.BuildImage(dir, spec)
	if err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	if e.Image, err = ctrtest.Import(e.ctx(t), e.D.Client(), tarPath, o.snapshotters...); err != nil {
		t.Fatal(err)
	}
	t.Logf("containerd up, image imported into %v in %s", o.snapshotters, time.Since(begin).Round(time.Millisecond))
	return e
}

func (e *shimEnv) ctx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(e.D.Context(context.Background()), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// inNS runs fn in the daemon's mount namespace.
func (e *shimEnv) inNS(fn func()) {
	if e.ns != nil {
		e.ns.Do(fn)
		return
	}
	fn()
}

// path returns the per-container path of container id.
func (e *shimEnv) path(id string) string { return filepath.Join(e.Root, e.D.Namespace, id) }

// bundle returns the bundle directory of container id.
func (e *shimEnv) bundle(id string) string {
	return filepath.Join(e.D.State, "io.containerd.runtime.v2.task", e.D.Namespace, id)
}

// wantSums are the sha256 lines the check container prints.
func (e *shimEnv) wantSums() string {
	var b strings.Builder
	for _, f := range []struct {
		p    string
		data []byte
	}{{ctrtest.SampleKernelPath, e.Kernel}, {ctrtest.SampleInitrdPath, e.Initrd}, {ctrtest.SampleConfigPath, e.Config}} {
		fmt.Fprintf(&b, "%s  %s\n", testimage.SHA256(f.data), shimArtifactsDir+f.p)
	}
	return b.String()
}

// ctrSpec says what container to run.
type ctrSpec struct {
	id          string
	snapshotter string
	annotations map[string]string
	bind        bool     // bind the per-container path at shimArtifactsDir
	args        []string // entrypoint arguments; default: sha256 of the three artifacts
	// runtimeOptions are the container's runtime options (runc's, or
	// runtimeoptions.v1's as CRI sends them); default none.
	runtimeOptions any
}

// shimTask is a created container and task.
type shimTask struct {
	ctr    client.Container
	task   client.Task
	stdout *bytes.Buffer
	stderr *bytes.Buffer
	create time.Duration // how long NewTask (the shim's Create) took
}

// create creates the container and its task (the shim's Create), not
// started. The container is deleted at cleanup if the test did not.
func (e *shimEnv) create(t testing.TB, ctx context.Context, s ctrSpec) (*shimTask, error) {
	t.Helper()
	if s.snapshotter == "" {
		s.snapshotter = "blockfile"
	}
	if s.args == nil {
		s.args = []string{"sha256"}
		for _, p := range []string{ctrtest.SampleKernelPath, ctrtest.SampleInitrdPath, ctrtest.SampleConfigPath} {
			s.args = append(s.args, shimArtifactsDir+p)
		}
	}
	opts := []oci.SpecOpts{oci.WithImageConfig(e.Image), oci.WithProcessArgs(append([]string{ctrtest.SampleEntryPath}, s.args...)...)}
	if len(s.annotations) > 0 {
		opts = append(opts, oci.WithAnnotations(s.annotations))
	}
	if s.bind {
		opts = append(opts, oci.WithMounts([]specs.Mount{{
			Destination: shimArtifactsDir, Type: "bind", Source: e.path(s.id), Options: []string{"rbind", "ro"},
		}}))
	}
	ctr, err := e.D.Client().NewContainer(ctx, s.id,
		client.WithSnapshotter(s.snapshotter),
		client.WithNewSnapshot(s.id+"-rootfs", e.Image),
		client.WithRuntime(shimRuntime, s.runtimeOptions),
		client.WithNewSpec(opts...))
	if err != nil {
		return nil, fmt.Errorf("new container %s: %w", s.id, err)
	}
	t.Cleanup(func() {
		ctx := context.WithoutCancel(ctx)
		if task, err := ctr.Task(ctx, nil); err == nil {
			_, _ = task.Delete(ctx, client.WithProcessKill)
		}
		if err := ctr.Delete(ctx, client.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
			t.Errorf("delete container %s: %v", s.id, err)
		}
	})
	st := &shimTask{ctr: ctr, stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}
	begin := time.Now()
	st.task, err = ctr.NewTask(ctx, cio.NewCreator(cio.WithStreams(nil, st.stdout, st.stderr)))
	st.create = time.Since(begin)
	if err != nil {
		return st, fmt.Errorf("new task %s: %w", s.id, err)
	}
	return st, nil
}

// run starts the task and waits for it to exit; it returns the exit code.
func (st *shimTask) run(t testing.TB, ctx context.Context) uint32 {
	t.Helper()
	statusC, err := st.task.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.task.Start(ctx); err != nil {
		t.Fatalf("start task: %v", err)
	}
	select {
	case s := <-statusC:
		st.waitIO()
		return s.ExitCode()
	case <-ctx.Done():
		t.Fatalf("task did not exit: %v", ctx.Err())
	}
	return 0
}

// waitIO waits until the task's output is copied into stdout and stderr:
// the exit status can arrive first.
func (st *shimTask) waitIO() {
	if io := st.task.IO(); io != nil {
		io.Wait()
	}
}

// remove deletes the task and the container with its snapshot.
func (st *shimTask) remove(t testing.TB, ctx context.Context) {
	t.Helper()
	if st.task != nil {
		if _, err := st.task.Delete(ctx, client.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
			t.Errorf("delete task: %v", err)
		}
	}
	if err := st.ctr.Delete(ctx, client.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
		t.Errorf("delete container: %v", err)
	}
}

// checkNoLeaks fails when anything of artifactfs is left: a view or lease
// in containerd, a mount under the root or the daemon's directory, a loop
// device over a file of the daemon, a per-container or view directory.
// containerd runs the shim's delete command after the shim exits, so
// this waits a little for things to settle.
func (e *shimEnv) checkNoLeaks(t testing.TB, when string) {
	t.Helper()
	var problems []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		problems = e.leaks(t)
		if os.Getenv("SHIM_DEBUG_LEAKS") != "" && len(problems) > 0 {
			t.Logf("%s: waiting for %v", when, problems)
		}
		if len(problems) == 0 || time.Now().After(deadline) {
			break
		}
	}
	for _, p := range problems {
		t.Errorf("%s: left behind: %s", when, p)
	}
}

func (e *shimEnv) leaks(t testing.TB) []string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return e.D.Leftovers(ctx, e.Root, e.inNS)
}

// shimPid returns the pid of the shim process serving container id.
func shimPid(t testing.TB, id string) int {
	t.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if !strings.HasSuffix(args[0], "containerd-shim-artifactfs-v2") {
			continue
		}
		for i := 0; i+1 < len(args); i++ {
			if args[i] == "-id" && args[i+1] == id {
				pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
				return pid
			}
		}
	}
	t.Fatalf("no shim process for %s", id)
	return 0
}

// newMountNS runs setup in a private mount namespace of its own (see
// shimtest.MountNS), which ends at test cleanup, registered now so that it
// runs after the cleanups registered later (the daemon's stop, whose
// process must not outlive the thread: Pdeathsig).
func newMountNS(t testing.TB, setup func() error) *shimtest.MountNS {
	t.Helper()
	n, err := shimtest.NewMountNS(shimtest.Private, setup)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	return n
}

// hideFUSE binds /dev/null over /dev/fuse: FUSE mounts fail as on a host
// without FUSE.
func hideFUSE() error {
	if err := unix.Mount("/dev/null", "/dev/fuse", "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("hide /dev/fuse: %w", err)
	}
	return nil
}

// statfsErr returns the error statfs(2) gives for p.
func statfsErr(p string) error {
	var st syscall.Statfs_t
	err := syscall.Statfs(p, &st)
	if errors.Is(err, syscall.ENOTCONN) {
		return syscall.ENOTCONN
	}
	return err
}
