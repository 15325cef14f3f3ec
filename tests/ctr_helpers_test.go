package tests

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/artifactfs/artifactfs/internal/ctrtest"
	"github.com/artifactfs/artifactfs/internal/testimage"
)

// One private containerd per test binary: started by the first test that
// asks for it, stopped by TestMain after the run (stopCtrDaemon).
var (
	ctrOnce  sync.Once
	ctrD     *ctrtest.Daemon
	ctrErr   error
	ctrStart time.Duration
)

// ctrDaemon returns the shared private containerd v2.4.2, starting it on
// first use. Its PATH also holds the repository's bin/ (where `make build`
// puts containerd-shim-artifactfs-v2).
func ctrDaemon(t *testing.T) *ctrtest.Daemon {
	t.Helper()
	testimage.RequireRoot(t, "containerd, snapshotters and loop mounts")
	testimage.RequireTools(t, "mkfs.ext4")
	ctrOnce.Do(func() {
		bin, _ := filepath.Abs("../bin")
		start := time.Now()
		ctrD, ctrErr = ctrtest.Start(context.Background(), ctrtest.Options{ExtraPath: []string{bin}})
		ctrStart = time.Since(start)
	})
	if ctrErr != nil {
		t.Fatalf("start containerd: %v", ctrErr)
	}
	return ctrD
}

// stopCtrDaemon stops the shared containerd if a test started it; TestMain
// calls it after the run. A leaked mount under its directory is an error.
func stopCtrDaemon() error {
	if ctrD == nil {
		return nil
	}
	if err := ctrD.Stop(); err != nil {
		return fmt.Errorf("stop containerd: %w", err)
	}
	return nil
}

// ctrContext returns a context in the shared daemon's namespace, bounded in
// time so that a hung call fails the test.
func ctrContext(t *testing.T, d *ctrtest.Daemon) context.Context {
	ctx, cancel := context.WithTimeout(d.Context(context.Background()), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// requireNoLeaks fails when a mount or a loop device refers to a path under
// one of dirs. Loop devices set up with autoclear go a moment after their
// unmount: wait for them a little.
func requireNoLeaks(t *testing.T, dirs ...string) {
	t.Helper()
	for _, dir := range dirs {
		if m, err := ctrtest.MountsUnder(dir); err != nil || len(m) > 0 {
			t.Errorf("mounts left under %s: %v %v", dir, m, err)
		}
		var loops []string
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			var err error
			if loops, err = ctrtest.LoopDevicesUnder(dir); err != nil {
				t.Fatal(err)
			}
			if len(loops) == 0 || time.Now().After(deadline) {
				break
			}
		}
		if len(loops) > 0 {
			t.Errorf("loop devices left over files under %s: %v", dir, loops)
		}
	}
}
