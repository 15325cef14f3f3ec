package tests

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/artifactfs/artifactfs/shimglue"
)

// TestCleanupFallbackReadOnly hides /dev/fuse from the daemon and its
// shims: in bind and copy modes the per-container path must still be a
// read-only mount point where root can create nothing, and after the
// namespace's last container is deleted, neither <root>/<ns> nor
// <root>/.views/<ns> is left.
func TestCleanupFallbackReadOnly(t *testing.T) {
	for _, tt := range []struct {
		direct bool
		want   shimglue.Mode
	}{{false, shimglue.ModeBind}, {true, shimglue.ModeCopy}} {
		t.Run(string(tt.want), func(t *testing.T) {
			env := map[string]string{}
			if tt.direct {
				env[shimglue.DirectEnv] = "1"
			}
			e := newShimEnv(t, shimOptions{hideFUSE: true, env: env})
			ctx := e.ctx(t)
			id := "ro-" + string(tt.want)
			st, err := e.create(t, ctx, ctrSpec{id: id, annotations: shimGated, bind: true})
			if err != nil {
				t.Fatal(err)
			}
			state, err := shimglue.LoadState(e.bundle(id))
			if err != nil || state == nil || state.Mode != tt.want {
				t.Fatalf("state %+v, %v; want mode %s", state, err, tt.want)
			}
			e.inNS(func() { requireROMountPoint(t, state.Path) })
			if code := st.run(t, ctx); code != 0 || st.stdout.String() != e.wantSums() {
				t.Fatalf("exit %d, container saw:\n%s%s", code, st.stdout, st.stderr)
			}
			st.remove(t, ctx)
			e.checkNoLeaks(t, "after delete")
			for _, d := range []string{filepath.Join(e.Root, e.D.Namespace), filepath.Join(e.Root, ".views", e.D.Namespace)} {
				if _, err := os.Lstat(d); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s left after the namespace's last container: %v", d, err)
				}
			}
		})
	}
}

// requireROMountPoint fails unless path is the root of a mount (statx, so
// that it works in the calling thread's mount namespace) on a read-only
// file system where creating a file or a directory fails with EROFS.
func requireROMountPoint(t *testing.T, path string) {
	t.Helper()
	var stx unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, path, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_BASIC_STATS, &stx); err != nil {
		t.Fatal(err)
	}
	if stx.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT == 0 || stx.Attributes&unix.STATX_ATTR_MOUNT_ROOT == 0 {
		t.Errorf("%s is not a mount point", path)
	}
	var sfs unix.Statfs_t
	if err := unix.Statfs(path, &sfs); err != nil || sfs.Flags&unix.ST_RDONLY == 0 {
		t.Errorf("%s: statfs flags %#x, %v; want read-only", path, sfs.Flags, err)
	}
	if err := os.WriteFile(filepath.Join(path, "planted"), nil, 0o644); !errors.Is(err, syscall.EROFS) {
		t.Errorf("touch in %s: %v, want EROFS", path, err)
	}
	if err := os.Mkdir(filepath.Join(path, "planted-dir"), 0o755); !errors.Is(err, syscall.EROFS) {
		t.Errorf("mkdir in %s: %v, want EROFS", path, err)
	}
}
