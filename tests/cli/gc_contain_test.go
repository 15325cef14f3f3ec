package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/artifactfs/artifactfs/internal/layout"
	"github.com/artifactfs/artifactfs/tests/harness"
)

// TestGCContainment hands `artifactfs gc` roots it must not trust: a
// namespace directory that is a symlink to a tree elsewhere (with a tmpfs
// mounted inside), and a wrong --root holding unrelated content. gc must
// refuse, exit non-zero and leave every file in place.
func TestGCContainment(t *testing.T) {
	d := harness.SharedDaemon(t, repo)
	ns := d.Namespace
	gc := func(root string) result {
		return cli(t, "gc", "--address", d.Address, "--namespace", ns, "--root", root)
	}

	t.Run("symlinked namespace directory", func(t *testing.T) {
		root := t.TempDir()
		// The root as the shim leaves it: marked, with another namespace.
		if _, _, err := layout.MakeContainerDirs(root, "otherns", "x"); err != nil {
			t.Fatal(err)
		}
		target := t.TempDir()
		mnt := filepath.Join(target, "ghost", "mnt")
		if err := os.MkdirAll(mnt, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=1m"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Unmount(mnt, unix.MNT_DETACH) })
		keep := []string{filepath.Join(target, "ghost", "keep"), filepath.Join(mnt, "data")}
		for _, f := range keep {
			if err := os.WriteFile(f, []byte("host data"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Symlink(target, filepath.Join(root, ns)); err != nil {
			t.Fatal(err)
		}
		r := gc(root)
		for _, f := range keep {
			if _, err := os.Stat(f); err != nil {
				t.Errorf("gc removed %s through the symlinked namespace directory: %v", f, err)
			}
		}
		if r.code == 0 || !strings.Contains(r.stderr, "symlink") {
			t.Errorf("gc: exit %d, want a refusal naming the symlink\n%s%s", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("wrong root", func(t *testing.T) {
		root := t.TempDir()
		keep := filepath.Join(root, ns, "ghost", "important")
		if err := os.MkdirAll(filepath.Dir(keep), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(keep, []byte("user data"), 0o644); err != nil {
			t.Fatal(err)
		}
		r := gc(root)
		if _, err := os.Stat(keep); err != nil {
			t.Errorf("gc removed %s under a root artifactfs never marked: %v", keep, err)
		}
		if r.code == 0 || !strings.Contains(r.stderr, "not marked") {
			t.Errorf("gc: exit %d, want a refusal (root not marked)\n%s%s", r.code, r.stdout, r.stderr)
		}
	})
}

// TestGCNamespaceUsage checks that a namespace that cannot be a path
// component is a usage error (exit 2), found before containerd is asked.
func TestGCNamespaceUsage(t *testing.T) {
	for _, ns := range []string{"../x", ".views", "a/b"} {
		r := cli(t, "gc", "--address", "/nonexistent.sock", "--namespace", ns, "--root", t.TempDir())
		requireOneLineError(t, r, 2, "--namespace")
	}
}
