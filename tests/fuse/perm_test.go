package fuse

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/artifactfs/artifactfs/fs"
	"github.com/artifactfs/artifactfs/tests/harness"
)

// permLayout makes <base>/root/ns/c1 with the root and namespace
// directories at dirMode, under a base every user may traverse, mounts
// the artifacts there as the shim does (allow_other), and binds the
// per-container path into <base>/vmm/boot, as urunc binds it into the
// monitor's rootfs. It returns the per-container path and the bind.
func permLayout(t *testing.T, dirMode os.FileMode) (string, string) {
	t.Helper()
	base, err := os.MkdirTemp("", "artifactfs-perm-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	root := filepath.Join(base, "root")
	path := filepath.Join(root, "ns", "c1")
	bind := filepath.Join(base, "vmm", "boot")
	for _, d := range []string{path, bind} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{base, filepath.Join(base, "vmm"), root, filepath.Join(root, "ns")} {
		mode := os.FileMode(0o755)
		if d == root || d == filepath.Join(root, "ns") {
			mode = dirMode
		}
		if err := os.Chmod(d, mode); err != nil {
			t.Fatal(err)
		}
	}
	fuseMountAt(t, fuseDirSource(t, fuseImageRoot(t)), path, fs.Options{AllowOther: true})
	if err := syscall.Mount(path, bind, "", syscall.MS_BIND, ""); err != nil {
		t.Fatalf("bind %s: %v", path, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(bind, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", bind, err)
		}
	})
	return path, bind
}

// TestPermOnlyRootAndBinds checks the permission model of
// docs/operations.md as uid 65534: with the root and the namespace
// directory 0700, another user reaches nothing under the root (neither
// list nor read), while the VMM reads the artifacts through a bind into
// its rootfs, whatever uid it runs as (allow_other, the file's own mode).
func TestPermOnlyRootAndBinds(t *testing.T) {
	harness.RequireFUSE(t)
	path, bind := permLayout(t, 0o700)
	for _, p := range []string{filepath.Join(path, "urunc.json"), filepath.Join(path, ".boot/kernel"), filepath.Dir(path)} {
		if _, err := harness.ReadAs(t, p); err == nil || !bytes.Contains(err.(*exec.ExitError).Stderr, []byte("Permission denied")) {
			t.Errorf("uid %d reading %s: %v; want EACCES", harness.Nobody, p, err)
		}
	}
	got, err := harness.ReadAs(t, filepath.Join(bind, "urunc.json"))
	if err != nil {
		t.Fatalf("uid %d reading the bind: %v: %s", harness.Nobody, err, err.(*exec.ExitError).Stderr)
	}
	if !bytes.Equal(got, fuseArtifacts["urunc.json"]) {
		t.Fatalf("uid %d read %q through the bind", harness.Nobody, got)
	}
}

// TestPermExposedWith0755 shows why the modes matter: with the root and
// namespace directory 0755, as the shim made them before, any user reads
// a container's urunc.json (which may carry secrets in its cmdline).
func TestPermExposedWith0755(t *testing.T) {
	harness.RequireFUSE(t)
	path, _ := permLayout(t, 0o755)
	if _, err := harness.ReadAs(t, filepath.Join(path, "urunc.json")); err != nil {
		t.Fatalf("uid %d reading through 0755 dirs: %v; the test's premise fails", harness.Nobody, err)
	}
}
