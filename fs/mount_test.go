package fs

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"github.com/artifactfs/artifactfs/internal/source"
	"github.com/artifactfs/artifactfs/internal/testimage"
)

// requireFUSE skips unless this process can mount FUSE.
func requireFUSE(t *testing.T) {
	t.Helper()
	testimage.RequireRoot(t, "FUSE mounts need CAP_SYS_ADMIN")
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skipf("no FUSE device: %v", err)
	}
}

// logBuffer collects log output from concurrent writers.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// mountTree mounts root on a new directory, with go-fuse's request log in
// logs, and unmounts it at the end of the test.
func mountTree(t *testing.T, root *Root, opts Options, logs *logBuffer) (*Mounted, string) {
	t.Helper()
	ctx := zerolog.New(logs).Level(zerolog.DebugLevel).WithContext(t.Context())
	mnt := t.TempDir()
	m, err := Mount(ctx, mnt, root, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Unmount(); err != nil {
			t.Errorf("unmount: %v", err)
		}
		m.Wait()
	})
	return m, mnt
}

// TestMountServerMode serves files laid out in pieces of a host file, with
// a hole and a bad piece, and checks the server mode's read path through
// the kernel: the bytes, which reads were spliced, EIO for a piece the host
// file lacks (not a short read), the readahead window, no FLUSH on close,
// and no request from this process to its own mount until it opens a file.
func TestMountServerMode(t *testing.T) {
	requireFUSE(t)
	if spliceMax < minSpliceRead {
		t.Skipf("pipes cannot grow here (splice limit %d)", spliceMax)
	}
	src, _ := imageDir(t)
	kernel := newSpanFile(t, testimage.Payload(4, 24*chunkSize+777), nil, map[int]int64{9: holeChunk})
	initrd := newSpanFile(t, testimage.Payload(5, 8*chunkSize), nil, map[int]int64{5: badChunk})
	root, err := New(spanSource{src, map[string]*spanFile{"/.boot/kernel": kernel, "/.boot/initrd": initrd}}, artifactPaths)
	if err != nil {
		t.Fatal(err)
	}
	var logs logBuffer
	m, mnt := mountTree(t, root, Options{Debug: true, Passthrough: true}, &logs)
	if m.Mode() != ModeServer || !errors.Is(m.PassthroughErr(), ErrNoHostFd) {
		t.Fatalf("mode %s (%v); want server for lack of host descriptors", m.Mode(), m.PassthroughErr())
	}

	var st unix.Stat_t
	if err := unix.Stat(mnt, &st); err != nil {
		t.Fatal(err)
	}
	ra, err := os.ReadFile(fmt.Sprintf("/sys/class/bdi/%d:%d/read_ahead_kb", unix.Major(st.Dev), unix.Minor(st.Dev)))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(ra)); got != strconv.Itoa(readAheadKB()) {
		t.Errorf("read_ahead_kb %s; want %d", got, readAheadKB())
	}

	// Another process reads the kernel.
	out, err := exec.Command("cat", filepath.Join(mnt, ".boot/kernel")).Output()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, kernel.data) {
		t.Fatalf("cat read %d bytes, differ from the %d served", len(out), len(kernel.data))
	}
	reads := kernel.readAtRanges()
	for _, r := range reads {
		if r[0] >= 10*chunkSize || r[0]+r[1] <= 9*chunkSize {
			t.Errorf("ReadAt(%d bytes at %d), away from the hole: that read was not spliced", r[1], r[0])
		}
	}
	if len(reads) == 0 {
		t.Error("no ReadAt for the hole")
	}
	log := logs.String()
	if !strings.Contains(log, ": READ ") || strings.Contains(log, ": FLUSH ") {
		t.Errorf("request log: want READs and no FLUSH:\n%s", log)
	}
	if strings.Contains(log, pollHackName) {
		t.Errorf("the server sent requests to its own mount before this process opened a file:\n%.3000s", log)
	}

	// This process reads the initrd: the piece the host file lacks is EIO,
	// the rest reads.
	f, err := os.Open(filepath.Join(mnt, ".boot/initrd"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !strings.Contains(logs.String(), pollHackName) {
		t.Error("this process opened a file before the kernel knew that poll is not implemented")
	}
	buf := make([]byte, chunkSize)
	if n, err := f.ReadAt(buf, 5*chunkSize); !errors.Is(err, syscall.EIO) {
		t.Errorf("read of the bad piece = %d bytes, %v; want EIO", n, err)
	}
	if _, err := f.ReadAt(buf, 2*chunkSize); err != nil || !bytes.Equal(buf, initrd.data[2*chunkSize:3*chunkSize]) {
		t.Errorf("read of a good piece: %v", err)
	}
}

// pollHackName is the file go-fuse's WaitMount opens (go-fuse's poll.go).
const pollHackName = ".go-fuse-epoll-hack"

// TestMountInProcessOpenSingleProcessor opens and reads a file of the
// mount in the serving process with GOMAXPROCS=1, in a child process: the
// Go runtime's epoll registration of the file deadlocks such a process
// unless the kernel knew beforehand that poll is not implemented
// (golang/go#21014, Root.pollHack). A child that hangs cannot be killed (its
// thread waits for its own server uninterruptibly), so the test aborts the
// child's FUSE connection first.
func TestMountInProcessOpenSingleProcessor(t *testing.T) {
	requireFUSE(t)
	if mnt := os.Getenv("ARTIFACTFS_FS_TEST_MOUNTPOINT"); mnt != "" {
		runtime.GOMAXPROCS(1)
		src, _ := imageDir(t)
		root, err := New(src, artifactPaths)
		if err != nil {
			t.Fatal(err)
		}
		m, err := Mount(t.Context(), mnt, root, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Unmount()
		got, err := os.ReadFile(filepath.Join(mnt, "urunc.json"))
		if err != nil || !bytes.Equal(got, configData) {
			t.Fatalf("read %q, %v", got, err)
		}
		t.Log("read through the mount")
		return
	}
	mnt := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestMountInProcessOpenSingleProcessor$", "-test.v")
	cmd.Env = append(os.Environ(), "ARTIFACTFS_FS_TEST_MOUNTPOINT="+mnt)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil || !strings.Contains(out.String(), "read through the mount") {
			t.Fatalf("child: %v\n%s", err, out.String())
		}
	case <-time.After(30 * time.Second):
		abortFUSE(t, mnt)
		cmd.Process.Kill()
		<-done
		unix.Unmount(mnt, unix.MNT_DETACH)
		t.Fatalf("child hung opening a file of its own mount:\n%s", out.String())
	}
}

// abortFUSE aborts the FUSE connection of the mount at mnt (fusectl), which
// fails every request waiting on it.
func abortFUSE(t *testing.T, mnt string) {
	if err := abortMount(mnt); err != nil {
		t.Logf("abort the FUSE connection: %v", err)
	}
}

// TestMountPassthroughKeepsProbedFiles: the passthrough probe opens the
// source files for the opens to come, and a mount reports passthrough only
// when the kernel accepted them.
func TestMountPassthroughKeepsProbedFiles(t *testing.T) {
	requireFUSE(t)
	// The test's source is a writable directory; treat it as immutable,
	// as a read-only view is, so that passthrough is offered at all.
	isImmutable = func(int) bool { return true }
	t.Cleanup(func() { isImmutable = immutable })
	src, _ := imageDir(t)
	root, err := New(src, artifactPaths)
	if err != nil {
		t.Fatal(err)
	}
	m, mnt := mountTree(t, root, Options{Passthrough: true}, &logBuffer{})
	if m.Mode() != ModePassthrough {
		t.Skipf("no passthrough here: %v", m.PassthroughErr())
	}
	opened := map[string]*openFile{}
	for _, f := range root.files {
		if opened[f.path] = f.open.Load(); opened[f.path] == nil || opened[f.path].fd < 0 {
			t.Fatalf("%s: not open after the probe", f.path)
		}
	}
	if got, err := exec.Command("cat", filepath.Join(mnt, ".boot/kernel")).Output(); err != nil || !bytes.Equal(got, kernelData) {
		t.Fatalf("cat: %d bytes, %v", len(got), err)
	}
	if of := fileNodeAt(t, root, "/.boot/kernel").open.Load(); of != opened["/.boot/kernel"] {
		t.Error("the open after the probe opened the source file again")
	}
}

var _ source.File = (*spanFile)(nil)
