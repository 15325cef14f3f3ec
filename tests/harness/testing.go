package harness

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/artifactfs/artifactfs/internal/ctrtest"
	"github.com/artifactfs/artifactfs/internal/testimage"
)

// NewEnv starts an env for one test (Start) with the sample image s
// imported. It skips, saying why, without root, mkfs.ext4 or runc. Root
// defaults to a temp dir of the test. At cleanup it logs the daemon's log
// tail when the test failed, fails the test for anything left behind
// (CheckNoLeaks) and stops the env. A mount namespace in o.NS must close
// after that: create it before NewEnv (MountNSFor).
func NewEnv(tb testing.TB, o Options, s Sample) *Env {
	tb.Helper()
	testimage.RequireRoot(tb, "containerd, runc, FUSE and loop mounts")
	testimage.RequireTools(tb, "mkfs.ext4", "runc")
	if o.Root == "" {
		o.Root = tb.TempDir()
	}
	e, err := Start(context.Background(), o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("containerd log tail:\n%s", e.D.LogTail(8192))
		}
		e.CheckNoLeaks(tb, "at the end")
		if err := e.Stop(); err != nil {
			tb.Error(err)
		}
	})
	begin := time.Now()
	if err := e.ImportSample(e.Context(tb, 3*time.Minute), s); err != nil {
		tb.Fatal(err)
	}
	tb.Logf("containerd up, image %s imported in %s", e.Image.Name(), time.Since(begin).Round(time.Millisecond))
	return e
}

// Context returns a context in e.Namespace, bounded by timeout so that a
// hung call fails the test, cancelled at the test's end.
func (e *Env) Context(tb testing.TB, timeout time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(e.ctx(context.Background()), timeout)
	tb.Cleanup(cancel)
	return ctx
}

// CheckNoLeaks fails the test for each thing Leftovers lists once things
// settle (up to 10s). With SHIM_DEBUG_LEAKS set it logs what it waits for.
func (e *Env) CheckNoLeaks(tb testing.TB, when string) {
	tb.Helper()
	debug := os.Getenv("SHIM_DEBUG_LEAKS") != ""
	left := Settle(10*time.Second, func() []string {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		l := e.Leftovers(ctx)
		if debug && len(l) > 0 {
			tb.Logf("%s: waiting for %v", when, l)
		}
		return l
	})
	for _, l := range left {
		tb.Errorf("%s: left behind: %s", when, l)
	}
}

// MountNSFor creates a mount namespace (NewMountNS) that closes at the
// test's cleanup, registered now so that it runs after the cleanups
// registered later (a daemon's stop, whose process must not outlive the
// namespace's thread: Pdeathsig).
func MountNSFor(tb testing.TB, p Propagation, setup func() error) *MountNS {
	tb.Helper()
	n, err := NewMountNS(p, setup)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(n.Close)
	return n
}

// RequireFUSE skips the test when this machine cannot mount FUSE, saying
// why.
func RequireFUSE(tb testing.TB) {
	tb.Helper()
	testimage.RequireRoot(tb, "FUSE mounts need CAP_SYS_ADMIN")
	if _, err := os.Stat("/dev/fuse"); err != nil {
		tb.Skipf("no FUSE device: %v", err)
	}
}

// IsMounted reports whether mountpoint is in the mount table.
func IsMounted(tb testing.TB, mountpoint string) bool {
	tb.Helper()
	mps, err := ctrtest.MountsUnder(mountpoint)
	if err != nil {
		tb.Fatal(err)
	}
	return slices.Contains(mps, mountpoint)
}

// Nobody is the uid (and gid) the permission tests read as: not root, and
// not the owner of anything there.
const Nobody = 65534

// ReadAs runs cat on path as uid Nobody and returns what it printed, or
// an *exec.ExitError carrying its stderr.
func ReadAs(tb testing.TB, path string) ([]byte, error) {
	tb.Helper()
	cmd := exec.Command("cat", path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: Nobody, Gid: Nobody}}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, &exec.ExitError{ProcessState: cmd.ProcessState, Stderr: stderr.Bytes()}
	}
	return stdout.Bytes(), nil
}
