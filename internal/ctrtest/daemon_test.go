package ctrtest

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/artifactfs/artifactfs/internal/testimage"
)

// cachedBinaries returns the directory of the cached containerd binaries;
// it skips the test when it does not run as root or they are missing (it
// does not build them).
func cachedBinaries(t *testing.T) string {
	testimage.RequireRoot(t, "containerd")
	dir := filepath.Join(CacheDir(), "bin")
	if len(missingBinaries(dir)) > 0 {
		t.Skip("containerd binaries not cached; run make deps")
	}
	return dir
}

// TestStateOnTmpfs starts a daemon whose state directory is a tmpfs and
// checks that Stop unmounts it without reporting it as a leak. It needs
// root and the cached binaries (it does not build them).
func TestStateOnTmpfs(t *testing.T) {
	d, err := Start(context.Background(), Options{BinDir: cachedBinaries(t), StateOnTmpfs: true})
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(d.State, &st); err != nil {
		t.Fatal(err)
	}
	if st.Type != unix.TMPFS_MAGIC {
		t.Errorf("state %s: filesystem type %#x, want tmpfs", d.State, st.Type)
	}
	if err := d.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	mps, err := MountsUnder(d.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(mps, d.State) {
		t.Errorf("state tmpfs still mounted at %s", d.State)
	}
}
