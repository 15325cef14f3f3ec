package harness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/artifactfs/artifactfs/internal/ctrtest"
	"github.com/artifactfs/artifactfs/internal/testimage"
)

// One private containerd per test binary, for tests that need containerd
// but not the shim: started by the first test that asks for it, stopped
// by the package's TestMain after the run (RunStoppingSharedDaemon).
var (
	sharedOnce  sync.Once
	sharedD     *ctrtest.Daemon
	sharedErr   error
	sharedStart time.Duration
)

// SharedDaemon returns the test binary's shared private containerd,
// starting it on first use; it skips, saying why, without root or
// mkfs.ext4. Its PATH also holds repo's bin/ (where `make build` puts
// containerd-shim-artifactfs-v2).
func SharedDaemon(tb testing.TB, repo string) *ctrtest.Daemon {
	tb.Helper()
	testimage.RequireRoot(tb, "containerd, snapshotters and loop mounts")
	testimage.RequireTools(tb, "mkfs.ext4")
	sharedOnce.Do(func() {
		bin, _ := filepath.Abs(filepath.Join(repo, "bin"))
		start := time.Now()
		sharedD, sharedErr = ctrtest.Start(context.Background(), ctrtest.Options{ExtraPath: []string{bin}})
		sharedStart = time.Since(start)
	})
	if sharedErr != nil {
		tb.Fatalf("start containerd: %v", sharedErr)
	}
	return sharedD
}

// SharedDaemonStart is how long starting the shared daemon took.
func SharedDaemonStart() time.Duration { return sharedStart }

// RunStoppingSharedDaemon is a TestMain's body for packages that use
// SharedDaemon: it runs the tests, then stops the shared containerd if a
// test started one, and returns the exit code (1 when the tests passed
// but the stop failed: a mount leaked under the daemon's directory).
func RunStoppingSharedDaemon(m *testing.M) int {
	code := m.Run()
	if sharedD != nil {
		if err := sharedD.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stop containerd: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}

// DaemonContext returns a context in d's namespace, bounded in time so
// that a hung call fails the test.
func DaemonContext(tb testing.TB, d *ctrtest.Daemon) context.Context {
	ctx, cancel := context.WithTimeout(d.Context(context.Background()), 2*time.Minute)
	tb.Cleanup(cancel)
	return ctx
}

// RequireNoMounts fails when a mount or a loop device refers to a path
// under one of dirs. Loop devices set up with autoclear go a moment after
// their unmount: it waits for them a little.
func RequireNoMounts(tb testing.TB, dirs ...string) {
	tb.Helper()
	for _, dir := range dirs {
		if m, err := ctrtest.MountsUnder(dir); err != nil || len(m) > 0 {
			tb.Errorf("mounts left under %s: %v %v", dir, m, err)
		}
		var lerr error
		loops := Settle(5*time.Second, func() []string {
			var l []string
			l, lerr = ctrtest.LoopDevicesUnder(dir)
			return l
		})
		if lerr != nil {
			tb.Fatal(lerr)
		}
		if len(loops) > 0 {
			tb.Errorf("loop devices left over files under %s: %v", dir, loops)
		}
	}
}
