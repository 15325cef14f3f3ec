package shim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/artifactfs/artifactfs/artifactbind"
	"github.com/artifactfs/artifactfs/internal/ctrtest"
	"github.com/artifactfs/artifactfs/shimglue"
	"github.com/artifactfs/artifactfs/tests/harness"
)

// TestShimWithoutFUSE runs containerd, its shims and runc in a mount
// namespace where /dev/fuse is /dev/null: the per-container path is served
// with read-only binds from the mounted view, or, when block views are
// read directly (ARTIFACTFS_DIRECT), with copies; either way it is a
// read-only mount point where root can create nothing, the container sees
// the same bytes, and nothing is left — after the namespace's last
// container, neither <root>/<ns> nor <root>/.views/<ns>.
func TestShimWithoutFUSE(t *testing.T) {
	for _, tt := range []struct {
		direct bool
		want   artifactbind.Mode
	}{{false, artifactbind.ModeBind}, {true, artifactbind.ModeCopy}} {
		t.Run(string(tt.want), func(t *testing.T) {
			env := map[string]string{}
			if tt.direct {
				env[shimglue.DirectEnv] = "1"
			}
			e := newShimEnv(t, shimOptions{hideFUSE: true, env: env})
			ctx := testCtx(t, e)
			id := "nofuse-" + string(tt.want)
			st, err := create(t, ctx, e, harness.Container{ID: id, Annotations: shimGated, Bind: true})
			if err != nil {
				t.Fatal(err)
			}
			state, err := artifactbind.LoadState(e.Bundle(id))
			if err != nil || state == nil || state.Mode != tt.want {
				t.Fatalf("state %+v, %v; want mode %s", state, err, tt.want)
			}
			e.Do(func() {
				for p, want := range map[string][]byte{ctrtest.SampleKernelPath: e.Kernel, ctrtest.SampleInitrdPath: e.Initrd, ctrtest.SampleConfigPath: e.Config} {
					if got, err := os.ReadFile(filepath.Join(state.Path, p)); err != nil || !bytes.Equal(got, want) {
						t.Errorf("%s at the per-container path: %d bytes, %v", p, len(got), err)
					}
				}
				requireROMountPoint(t, state.Path)
			})
			if code := run(t, ctx, st); code != 0 || st.Stdout.String() != e.WantSums() {
				t.Fatalf("exit %d, container saw:\n%s%s", code, st.Stdout, st.Stderr)
			}
			remove(t, ctx, st)
			e.CheckNoLeaks(t, "after delete")
			for _, d := range []string{filepath.Join(e.Root, e.D.Namespace), filepath.Join(e.Root, ".views", e.D.Namespace)} {
				if _, err := os.Lstat(d); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s left after the namespace's last container: %v", d, err)
				}
			}
		})
	}
}

// TestShimConcurrent creates, runs and deletes 20 containers at once.
func TestShimConcurrent(t *testing.T) {
	const n = 20
	e := newShimEnv(t, shimOptions{})
	ctx := testCtx(t, e)
	begin := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("many-%02d", i)
			st, err := create(t, ctx, e, harness.Container{ID: id, Annotations: shimGated, Bind: true})
			if err != nil {
				errs <- err
				return
			}
			statusC, err := st.Task.Wait(ctx)
			if err == nil {
				err = st.Task.Start(ctx)
			}
			if err != nil {
				errs <- fmt.Errorf("%s: %w", id, err)
				return
			}
			s := <-statusC
			st.WaitIO()
			if s.ExitCode() != 0 || st.Stdout.String() != e.WantSums() {
				errs <- fmt.Errorf("%s: exit %d, saw:\n%s%s", id, s.ExitCode(), st.Stdout, st.Stderr)
			}
			if _, err := st.Task.Delete(ctx); err != nil {
				errs <- fmt.Errorf("%s: delete task: %w", id, err)
			}
			st.Task = nil
			remove(t, context.WithoutCancel(ctx), st)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d containers created, run and deleted concurrently in %s", n, time.Since(begin).Round(time.Millisecond))
	e.CheckNoLeaks(t, "after deleting them all")
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
