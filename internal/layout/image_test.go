package layout

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/artifactfs/artifactfs/artifactbind"
	"github.com/artifactfs/artifactfs/internal/mounttable"
	"github.com/artifactfs/artifactfs/internal/testimage"
)

const testName = "0123456789abcdef0123456789abcdef"

// TestImageRefcount: the first holder mounts the shared view, the others
// only add a reference, the last one's Release unmounts it and removes
// its mount point and the namespace directory.
func TestImageRefcount(t *testing.T) {
	testimage.RequireRoot(t, "mounts a tmpfs as the shared view")
	root := filepath.Join(t.TempDir(), "root")
	t.Cleanup(func() { _, _ = mounttable.UnmountTree(root) })
	im := Image{Root: root, Namespace: "ns", Name: testName}
	mounts := 0
	mountTmpfs := func(mp string) error {
		mounts++
		return unix.Mount("tmpfs", mp, "tmpfs", unix.MS_RDONLY, "")
	}
	for _, id := range []string{"a", "b", "c"} {
		mp, err := im.Acquire(id, mountTmpfs)
		if err != nil || mp != im.Mountpoint() {
			t.Fatalf("Acquire(%s) = %q, %v", id, mp, err)
		}
	}
	if mounts != 1 {
		t.Errorf("mounted %d times for three holders, want once", mounts)
	}
	if holders, err := im.Holders(); err != nil || !slices.Equal(holders, []string{"a", "b", "c"}) {
		t.Errorf("Holders = %v, %v", holders, err)
	}
	for _, id := range []string{"b", "a"} {
		if last, err := im.Release(id); err != nil || last {
			t.Fatalf("Release(%s) = %v, %v; want not last", id, last, err)
		}
		if ms, _ := mounttable.Mountpoints(im.Mountpoint()); len(ms) != 1 {
			t.Fatalf("after Release(%s): mounts %v, want the view still mounted", id, ms)
		}
	}
	if last, err := im.Release("c"); err != nil || !last {
		t.Fatalf("Release(c) = %v, %v; want last", last, err)
	}
	if _, err := os.Lstat(filepath.Dir(im.Mountpoint())); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("namespace directory after the last holder: %v", err)
	}
	if last, err := im.Release("c"); err != nil || last {
		t.Errorf("Release of a holder already gone = %v, %v", last, err)
	}
}

// TestImageFailedMountAndUnheld: a failed mount takes its reference back;
// a mount point nobody holds (a crash before the reference) is cleared by
// ClearUnheld; ReleaseContainer drops a container's references.
func TestImageFailedMountAndUnheld(t *testing.T) {
	testimage.RequireRoot(t, "mounts a tmpfs as the shared view")
	root := filepath.Join(t.TempDir(), "root")
	t.Cleanup(func() { _, _ = mounttable.UnmountTree(root) })
	im := Image{Root: root, Namespace: "ns", Name: testName}
	if _, err := im.Acquire("a", func(string) error { return unix.EIO }); !errors.Is(err, unix.EIO) {
		t.Fatalf("Acquire with a failing mount = %v", err)
	}
	if holders, _ := im.Holders(); len(holders) != 0 {
		t.Errorf("holders after a failed mount: %v", holders)
	}
	if _, err := (Entry{Root: root, Image: true, Namespace: "ns", ID: testName}).Make(); err != nil {
		t.Fatal(err)
	}
	if found, err := im.ClearUnheld(false); err != nil || !found {
		t.Errorf("ClearUnheld = %v, %v; want the bare mount point cleared", found, err)
	}
	if _, err := im.Acquire("a", func(mp string) error { return unix.Mount("tmpfs", mp, "tmpfs", 0, "") }); err != nil {
		t.Fatal(err)
	}
	if found, err := im.ClearUnheld(false); err != nil || found {
		t.Errorf("ClearUnheld of a held view = %v, %v; want it left", found, err)
	}
	if err := ReleaseContainer(root, "ns", "a"); err != nil {
		t.Fatal(err)
	}
	if images, err := Images(root, "ns"); err != nil || len(images) != 0 {
		t.Errorf("Images after ReleaseContainer = %v, %v", images, err)
	}
	if _, err := (Image{Root: root, Namespace: "ns", Name: "../x"}).Acquire("a", nil); !errors.Is(err, artifactbind.ErrInvalidName) {
		t.Errorf("Acquire of a bad name = %v", err)
	}
}
