package artifactbind

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// The main goroutine keeps the main thread: a test goroutine that moves
// its thread into a mount namespace of its own (inPrivateMountNS) must
// never get the main thread, which cannot exit.
func init() { runtime.LockOSThread() }

// inPrivateMountNS runs fn on a thread of its own in a new, private mount
// namespace: its mounts vanish with the thread, whatever fn leaves. fn
// reports with t.Error, not t.Fatal. Without CAP_SYS_ADMIN the test is
// skipped: bind mounts need it.
func inPrivateMountNS(t *testing.T, fn func()) {
	t.Helper()
	done := make(chan struct{})
	skip := ""
	go func() {
		defer close(done)
		// Never unlocked: the thread exits with this goroutine, and its
		// mount namespace with it.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			skip = "unshare a mount namespace (needs CAP_SYS_ADMIN): " + err.Error()
			return
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			t.Errorf("make / private: %v", err)
			return
		}
		fn()
	}()
	<-done
	if skip != "" {
		t.Skip(skip)
	}
}

// mountsUnder returns the mount points at or below dir, with their
// per-mount options, in the calling thread's mount namespace.
func mountsUnder(t *testing.T, dir string) map[string]string {
	t.Helper()
	data, err := os.ReadFile("/proc/thread-self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	mps := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 5 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			mps[f[4]] = f[5]
		}
	}
	return mps
}

// testArtifacts are the files of a per-container path in the tests.
var testArtifacts = map[string]string{
	"/.boot/kernel": "kernel bytes",
	"/.boot/initrd": "initrd bytes",
	"/urunc.json":   `{"com.urunc.unikernel.binary":"/.boot/kernel"}`,
}

// newContainerPath writes testArtifacts into a per-container path
// <root>/ns/c1 and returns a ready state for it (mode copy: plain files).
func newContainerPath(t *testing.T) *State {
	t.Helper()
	root := t.TempDir()
	st := &State{
		Version: StateVersion, ContainerID: "c1", Namespace: "ns",
		Path: filepath.Join(root, "ns", "c1"), Mode: ModeCopy,
	}
	for _, kind := range []string{"kernel", "initrd", "config"} {
		p := map[string]string{"kernel": "/.boot/kernel", "initrd": "/.boot/initrd", "config": "/urunc.json"}[kind]
		writeFile(t, filepath.Join(st.Path, p), testArtifacts[p])
		st.Artifacts = append(st.Artifacts, ArtifactState{Kind: kind, Path: p, Size: int64(len(testArtifacts[p]))})
	}
	return st
}

func writeFile(t *testing.T, p, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
