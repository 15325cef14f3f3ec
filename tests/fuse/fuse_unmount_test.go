package fuse

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/artifactfs/artifactfs/fs"
	"github.com/artifactfs/artifactfs/internal/testimage"
	"github.com/artifactfs/artifactfs/tests/harness"
)

func TestFuseUnmountWhileOpen(t *testing.T) {
	harness.RequireFUSE(t)
	for _, passthrough := range []bool{false, true} {
		t.Run(fmt.Sprintf("passthrough=%v", passthrough), func(t *testing.T) {
			m, mnt := fuseMount(t, fuseDirSource(t, fuseImageRoot(t)), fs.Options{Passthrough: passthrough})
			f, err := os.Open(filepath.Join(mnt, ".boot/kernel"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := m.Unmount(); !errors.Is(err, fs.ErrDetached) {
				t.Fatalf("Unmount with an open file = %v; want ErrDetached", err)
			}
			if harness.IsMounted(t, mnt) {
				t.Fatal("mountpoint still in the mount table after a detach")
			}
			// The open file is still served, to the last byte.
			got, err := io.ReadAll(f)
			if err != nil || !bytes.Equal(got, fuseArtifacts[".boot/kernel"]) {
				t.Fatalf("read after detach: %d bytes, %v", len(got), err)
			}
			f.Close()
			m.Wait()
			if err := m.Unmount(); err != nil {
				t.Errorf("second Unmount = %v; want nil", err)
			}
		})
	}
}

func TestFuseUnmountFromOutside(t *testing.T) {
	harness.RequireFUSE(t)
	m, mnt := fuseMount(t, fuseDirSource(t, fuseImageRoot(t)), fs.Options{Passthrough: true})
	f, err := os.Open(filepath.Join(mnt, "urunc.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := fs.Unmount(mnt, false); !errors.Is(err, syscall.EBUSY) {
		t.Errorf("Unmount(busy, not lazy) = %v; want EBUSY", err)
	}
	if err := fs.Unmount(mnt, true); err != nil {
		t.Errorf("Unmount(busy, lazy) = %v", err)
	}
	f.Close()
	m.Wait()
	if err := fs.Unmount(mnt, false); !errors.Is(err, fs.ErrNotMounted) {
		t.Errorf("Unmount(not mounted) = %v; want ErrNotMounted", err)
	}
	if err := fs.Unmount("/proc", false); !errors.Is(err, fs.ErrNotArtifactfs) {
		t.Errorf("Unmount(/proc) = %v; want ErrNotArtifactfs", err)
	}

	// A plain umount from outside ends Wait too.
	m2, mnt2 := fuseMount(t, fuseDirSource(t, fuseImageRoot(t)), fs.Options{})
	if err := fs.Unmount(mnt2, false); err != nil {
		t.Fatal(err)
	}
	m2.Wait()
}

func TestFuseRefusesLiveMountpoint(t *testing.T) {
	harness.RequireFUSE(t)
	dir := fuseImageRoot(t)
	_, mnt := fuseMount(t, fuseDirSource(t, dir), fs.Options{})
	root, err := fs.New(fuseDirSource(t, dir), fuseArtifactPaths)
	if err != nil {
		t.Fatal(err)
	}
	if m, err := fs.Mount(fuseLogger(t), mnt, root, fs.Options{}); err == nil {
		m.Unmount()
		t.Fatal("mounted on top of a live artifactfs mount")
	}
}

func TestFuseStaleMount(t *testing.T) {
	harness.RequireFUSE(t)
	dir := fuseImageRoot(t)
	mnt := t.TempDir()
	t.Cleanup(func() { fuseRequireUnmounted(t, mnt) })

	// A server killed with SIGKILL leaves a mount answering ENOTCONN.
	kill := func() {
		server := fuseStartServer(t, dir, mnt)
		server.Process.Signal(syscall.SIGKILL)
		server.Wait()
		// statfs always asks the server; a stat may be answered from the
		// kernel's attribute cache.
		var st syscall.Statfs_t
		if err := syscall.Statfs(mnt, &st); !errors.Is(err, syscall.ENOTCONN) {
			t.Fatalf("statfs after SIGKILL = %v; want ENOTCONN", err)
		}
		if _, err := os.ReadFile(filepath.Join(mnt, "urunc.json")); !errors.Is(err, syscall.ENOTCONN) {
			t.Fatalf("read after SIGKILL = %v; want ENOTCONN", err)
		}
	}

	kill()
	if cleaned, err := fs.CleanStale(mnt); err != nil || !cleaned {
		t.Fatalf("CleanStale = %v, %v; want true", cleaned, err)
	}
	if cleaned, err := fs.CleanStale(mnt); err != nil || cleaned {
		t.Fatalf("CleanStale of a clean dir = %v, %v; want false", cleaned, err)
	}

	kill()
	if err := fs.Unmount(mnt, false); err != nil {
		t.Fatalf("Unmount of a stale mount: %v", err)
	}

	// Mount cleans a stale mount by itself.
	kill()
	fuseMountAt(t, fuseDirSource(t, dir), mnt, fs.Options{Passthrough: true})
	fuseCheckContent(t, mnt)
}

func TestFuseUnprivilegedViaFusermount(t *testing.T) {
	harness.RequireFUSE(t)
	testimage.RequireTools(t, "fusermount3")
	fuseOpenDeviceToAll(t)
	// The server runs as harness.Nobody: mount(2) is refused, so Mount falls back
	// to fusermount3, and so does Unmount.
	bin := filepath.Join(fuseWorldDir(t), "tests.test")
	testimage.Run(t, "cp", os.Args[0], bin)
	dir := fuseImageRoot(t)
	mnt := fuseWorldDir(t)
	for _, p := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(mnt, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fuseRequireUnmounted(t, mnt) })

	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), fuseServerEnv+"="+mnt, fuseServerDirEnv+"="+dir, fuseSelfCheckEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	report := ""
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "fuse-server ") {
			report = line
		}
	}
	want := `fuse-server ready mode=server options="ro,nosuid,nodev`
	if err != nil || !strings.HasPrefix(report, want) || !strings.HasSuffix(report, "fuse.artifactfs\" unmount=<nil> check=<nil>") {
		t.Fatalf("unprivileged server: %v; report %q; want %s... unmount=<nil> check=<nil>\n%s", err, report, want, out)
	}
	t.Log(report)
}

// fuseOpenDeviceToAll makes /dev/fuse mode 0666 for the rest of the test
// when it is not already open to other users, as fusermount3 opens it as
// the calling user. Distributions usually ship it 0666; some hosts keep
// it 0600. As root the test can grant that itself and restores the old
// mode afterwards.
func fuseOpenDeviceToAll(t *testing.T) {
	t.Helper()
	const dev = "/dev/fuse"
	st, err := os.Stat(dev)
	if err != nil {
		t.Fatal(err)
	}
	old := st.Mode().Perm()
	if old&0o006 == 0o006 {
		return
	}
	if err := os.Chmod(dev, 0o666); err != nil {
		t.Fatalf("open %s to other users: %v", dev, err)
	}
	t.Logf("%s was mode %v; made it 0666 for this test, restoring %v afterwards", dev, old, old)
	t.Cleanup(func() {
		if err := os.Chmod(dev, old); err != nil {
			t.Errorf("restore mode %v of %s: %v", old, dev, err)
		}
	})
}

// fuseWorldDir returns a new temp dir that every user can enter.
func fuseWorldDir(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	for _, p := range []string{d, filepath.Dir(d)} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return d
}
