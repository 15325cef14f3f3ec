package fuse

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/artifactfs/artifactfs/fs"
	"github.com/artifactfs/artifactfs/tests/harness"
)

// fuseReadOnlyBind binds dir read-only onto a new temp dir and returns it,
// unmounting it in cleanup: a source the kernel guarantees harness.Nobody writes
// through this mount.
func fuseReadOnlyBind(t *testing.T, dir string) string {
	t.Helper()
	ro := t.TempDir()
	if err := syscall.Mount(dir, ro, "", syscall.MS_BIND, ""); err != nil {
		t.Fatalf("bind %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(ro, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", ro, err)
		}
	})
	flags := uintptr(syscall.MS_BIND | syscall.MS_REMOUNT | syscall.MS_RDONLY)
	if err := syscall.Mount("", ro, "", flags, ""); err != nil {
		t.Fatalf("remount %s read-only: %v", ro, err)
	}
	return ro
}

// TestFUSEGrownSourceServedAtRecordedSize grows a --dir source's kernel
// after the mount was made, asking for passthrough: the mount must keep
// serving the size it checked against the cap, never the bytes added.
func TestFUSEGrownSourceServedAtRecordedSize(t *testing.T) {
	harness.RequireFUSE(t)
	dir := fuseImageRoot(t)
	m, mnt := fuseMount(t, fuseDirSource(t, dir), fs.Options{Passthrough: true})
	if m.Mode() == fs.ModePassthrough {
		t.Errorf("mode %s over a writable directory; want server (the file could grow past the cap)", m.Mode())
	}
	kernel := fuseArtifacts[".boot/kernel"]
	f, err := os.OpenFile(filepath.Join(dir, ".boot/kernel"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(bytes.Repeat([]byte("X"), 3<<20)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	got, err := os.ReadFile(filepath.Join(mnt, ".boot/kernel"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(kernel) || !bytes.Equal(got, kernel) {
		t.Fatalf("read %d bytes through the mount after the source grew; want the %d recorded", len(got), len(kernel))
	}
	if st, err := os.Stat(filepath.Join(mnt, ".boot/kernel")); err != nil || st.Size() != int64(len(kernel)) {
		t.Fatalf("stat: %v, %v; want size %d", st, err, len(kernel))
	}
}

// TestFUSEPassthroughOnReadOnlyMount checks that a source on a read-only
// mount still gets passthrough, the files being immutable there.
func TestFUSEPassthroughOnReadOnlyMount(t *testing.T) {
	harness.RequireFUSE(t)
	m, mnt := fuseMount(t, fdOnlySource{fuseDirSource(t, fuseReadOnlyBind(t, fuseImageRoot(t)))}, fs.Options{Passthrough: true})
	if m.Mode() != fs.ModePassthrough {
		t.Skipf("mode %s (%v): passthrough unavailable here", m.Mode(), m.PassthroughErr())
	}
	fuseCheckContent(t, mnt)
}

// TestFUSESymlinkMountpointRefused plants a symlink where the mount is to
// go: mounting must refuse it rather than mount on the link's target.
func TestFUSESymlinkMountpointRefused(t *testing.T) {
	harness.RequireFUSE(t)
	target := t.TempDir()
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	root, err := fs.New(fuseDirSource(t, fuseImageRoot(t)), fuseArtifactPaths)
	if err != nil {
		t.Fatal(err)
	}
	m, err := fs.Mount(fuseLogger(t), link, root, fs.Options{})
	if err == nil {
		m.Unmount()
		t.Fatalf("mount on a symlinked mountpoint succeeded")
	}
	if !strings.Contains(err.Error(), "symlink") {
		t.Fatalf("mount on a symlink: %v; want an error naming the symlink", err)
	}
	if harness.IsMounted(t, target) {
		t.Fatalf("the symlink's target %s got mounted", target)
	}
}
