package shimglue

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/artifactfs/artifactfs/artifactbind"
	"github.com/artifactfs/artifactfs/internal/mounttable"
)

// inPrivateMountNS runs fn on a thread of its own in a new, private mount
// namespace: its mounts vanish with the thread, whatever fn leaves. fn must
// not start goroutines that touch the file system, and reports with
// t.Error, not t.Fatal.
func inPrivateMountNS(t *testing.T, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Never unlocked: the thread exits with this goroutine, and its
		// mount namespace with it.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			t.Errorf("unshare mount namespace: %v", err)
			return
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			t.Errorf("make / private: %v", err)
			return
		}
		fn()
	}()
	<-done
}

// threadMountOptions returns the per-mount options of the topmost mount at
// mp in this thread's mount namespace.
func threadMountOptions(t *testing.T, mp string) (string, bool) {
	data, err := os.ReadFile("/proc/thread-self/mountinfo")
	if err != nil {
		t.Error(err)
		return "", false
	}
	opts, found := "", false
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 5 && f[4] == mp {
			opts, found = f[5], true
		}
	}
	return opts, found
}

// TestBindArtifacts binds from what Prepare serves in each mode (FUSE,
// binds of the view, copies); artifactbind's own tests cover the refusals.
func TestBindArtifacts(t *testing.T) {
	for _, mode := range []artifactbind.Mode{artifactbind.ModeFUSE, artifactbind.ModeBind, artifactbind.ModeCopy} {
		t.Run(string(mode), func(t *testing.T) {
			e := newTestEnv(t)
			img := testImage(t, nil)
			v := newFakeViewer(blockfileMount(img))
			var fail []Step
			switch mode {
			case artifactbind.ModeBind:
				fail = []Step{StepFUSE}
			case artifactbind.ModeCopy:
				fail = []Step{StepFUSE, StepBind}
			}
			p := e.preparer(v, withFault(faults(fail...)))
			st, err := p.Prepare(context.Background(), "ns", "c1", e.bundle, gated)
			if err != nil || st == nil || st.Mode != mode {
				t.Fatalf("Prepare = %+v, %v", st, err)
			}
			defer p.Release(context.Background(), "ns", "c1")
			loaded, err := artifactbind.LoadState(e.bundle)
			if err != nil {
				t.Fatal(err)
			}
			want := wantFiles(t, img)
			monitor := t.TempDir()
			// urunc's monitor rootfs may already hold directories.
			os.MkdirAll(filepath.Join(monitor, ".boot"), 0o755)

			inPrivateMountNS(t, func() {
				if err := artifactbind.BindArtifacts(loaded, monitor); err != nil {
					t.Errorf("BindArtifacts: %v", err)
					return
				}
				for rel, data := range want {
					target := filepath.Join(monitor, rel)
					got, err := os.ReadFile(target)
					if err != nil || !bytes.Equal(got, data) {
						t.Errorf("%s: %d bytes, %v; want the image's %d", rel, len(got), err, len(data))
					}
					opts, ok := threadMountOptions(t, target)
					if !ok {
						t.Errorf("%s is not a mount point", rel)
						continue
					}
					for _, o := range []string{"ro", "nosuid", "nodev"} {
						if !strings.Contains(","+opts+",", ","+o+",") {
							t.Errorf("%s mounted %s, lacks %s", rel, opts, o)
						}
					}
					if err := os.WriteFile(target, []byte("x"), 0); !errors.Is(err, syscall.EROFS) {
						t.Errorf("write %s: %v, want EROFS", rel, err)
					}
				}
				// Nothing else of the image appears in the monitor rootfs.
				for rel := range testHidden {
					if _, err := os.Lstat(filepath.Join(monitor, rel)); !errors.Is(err, os.ErrNotExist) {
						t.Errorf("%s appeared in the monitor rootfs (%v)", rel, err)
					}
				}
			})
			// The binds lived in the private namespace only.
			if mps, _ := mounttable.Mountpoints(monitor); len(mps) > 0 {
				t.Errorf("binds leaked into the host namespace: %v", mps)
			}
		})
	}
}
