package mounttable

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/artifactfs/artifactfs/internal/testimage"
)

// TestRemoveAtStopsAtMounts: a tree with a tmpfs mounted inside it is not
// removed across the mount; once UnmountTree took everything below it
// (a mount stacked on another included), RemoveAt removes it, a symlink
// without following it.
func TestRemoveAtStopsAtMounts(t *testing.T) {
	testimage.RequireRoot(t, "mounts tmpfs")
	dir := t.TempDir()
	outside := filepath.Join(t.TempDir(), "keep")
	if err := os.WriteFile(outside, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	mnt := filepath.Join(dir, "tree", "a", "mnt")
	if err := os.MkdirAll(mnt, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "tree", "link")); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=1m"); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { UnmountTree(dir) })
	if err := os.WriteFile(filepath.Join(mnt, "inside"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)

	if err := RemoveAt(fd, "tree"); !errors.Is(err, ErrMounted) {
		t.Fatalf("RemoveAt across a mount = %v, want ErrMounted", err)
	}
	if _, err := os.Stat(filepath.Join(mnt, "inside")); err != nil {
		t.Errorf("the mount's content went: %v", err)
	}
	mps, err := Mountpoints(dir)
	if err != nil || len(mps) != 2 || mps[0] != mnt || mps[1] != mnt {
		t.Fatalf("Mountpoints = %q, %v; want %s twice", mps, err, mnt)
	}
	if detached, err := UnmountTree(dir); err != nil || detached {
		t.Fatalf("UnmountTree = %v, %v", detached, err)
	}
	if mps, err := Mountpoints(dir); err != nil || len(mps) != 0 {
		t.Fatalf("after UnmountTree: %q, %v", mps, err)
	}
	if err := RemoveAt(fd, "tree"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "tree")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("tree left: %v", err)
	}
	if _, err := os.Stat(outside); err != nil {
		t.Errorf("the symlink's target went: %v", err)
	}
	if err := RemoveAt(fd, "tree"); err != nil {
		t.Errorf("RemoveAt of what is gone = %v", err)
	}
}
