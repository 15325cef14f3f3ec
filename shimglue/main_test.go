package shimglue

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/artifactfs/artifactfs/artifactbind"
)

// The main goroutine keeps the main thread: a test that locks a goroutine
// to a thread and moves it into a mount namespace of its own
// (inPrivateMountNS) must never get the main thread, which cannot exit and
// whose namespace is what /proc/self shows.
func init() { runtime.LockOSThread() }

// helperEnv makes the test binary a shim stand-in (helperMain) instead of
// running the tests.
const helperEnv = "SHIMGLUE_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(helperMain())
	}
	os.Exit(m.Run())
}

// helperMain prepares container ns/c1 from the image in $SHIMGLUE_IMAGE
// like a shim would, reports "ready MODE" on stdout, and serves until it
// is killed.
func helperMain() int {
	v := newFakeViewer(blockfileMount(os.Getenv("SHIMGLUE_IMAGE")))
	var fail []Step
	if s := os.Getenv("SHIMGLUE_FAIL"); s != "" {
		for _, f := range strings.Split(s, ",") {
			fail = append(fail, Step(f))
		}
	}
	p := NewPreparer(v, WithRoot(os.Getenv("SHIMGLUE_ROOT")), withFault(faults(fail...)))
	st, err := p.Prepare(context.Background(), "ns", "c1", os.Getenv("SHIMGLUE_BUNDLE"), gated)
	if err != nil || st == nil {
		fmt.Printf("error %v\n", err)
		return 1
	}
	fmt.Printf("ready %s\n", st.Mode)
	select {}
}

// TestCleanupAfterKill: the shim dies by SIGKILL with the per-container
// path mounted (its FUSE mount goes stale: ENOTCONN); Cleanup from the
// bundle state alone, as the shim's delete command runs it, leaves
// nothing behind and is idempotent.
func TestCleanupAfterKill(t *testing.T) {
	for _, tt := range []struct {
		mode artifactbind.Mode
		fail string
	}{{artifactbind.ModeFUSE, ""}, {artifactbind.ModeBind, "fuse"}, {artifactbind.ModeCopy, "fuse,bind"}, {artifactbind.ModeDirect, "mount-view"}} {
		t.Run(string(tt.mode), func(t *testing.T) {
			e := newTestEnv(t)
			img := testImage(t, nil)
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), helperEnv+"=1", "SHIMGLUE_IMAGE="+img, "SHIMGLUE_ROOT="+e.root,
				"SHIMGLUE_BUNDLE="+e.bundle, "SHIMGLUE_FAIL="+tt.fail)
			cmd.Stderr = os.Stderr
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			line := make(chan string, 1)
			go func() { l, _ := bufio.NewReader(out).ReadString('\n'); line <- strings.TrimSpace(l) }()
			select {
			case l := <-line:
				if l != "ready "+string(tt.mode) {
					t.Fatalf("helper: %q", l)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("helper not ready after 30s")
			}
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			cmd.Wait()

			st, err := artifactbind.LoadState(e.bundle)
			if err != nil || !st.Ready() {
				t.Fatalf("state after the kill = %+v, %v", st, err)
			}
			if tt.mode == artifactbind.ModeFUSE || tt.mode == artifactbind.ModeDirect {
				var sfs syscall.Statfs_t
				if err := syscall.Statfs(st.Path, &sfs); err != syscall.ENOTCONN {
					t.Errorf("statfs of the dead mount: %v, want ENOTCONN", err)
				}
			}
			v := newFakeViewer()
			v.live["ns/c1"] = true // held by the dead shim
			p := e.preparer(v)
			if err := p.Cleanup(context.Background(), e.bundle); err != nil {
				t.Fatalf("Cleanup: %v", err)
			}
			e.requireClean(t, v, img)
			if err := p.Cleanup(context.Background(), e.bundle); err != nil {
				t.Errorf("second Cleanup: %v", err)
			}
		})
	}
}
