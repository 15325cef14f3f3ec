package tests

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/artifactfs/artifactfs/internal/ctrtest"
	"github.com/artifactfs/artifactfs/shimglue"
)

// TestShimWithoutFUSE runs containerd, its shims and runc in a mount
// namespace where /dev/fuse is /dev/null: the per-container path is served
// with read-only binds from the mounted view, or, when block views are
// read directly (ARTIFACTFS_DIRECT), with copies; the container sees the
// same bytes either way, and nothing is left.
func TestShimWithoutFUSE(t *testing.T) {
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
			id := "nofuse-" + string(tt.want)
			st, err := e.create(t, ctx, ctrSpec{id: id, annotations: shimGated, bind: true})
			if err != nil {
				t.Fatal(err)
			}
			state, err := shimglue.LoadState(e.bundle(id))
			if err != nil || state == nil || state.Mode != tt.want {
				t.Fatalf("state %+v, %v; want mode %s", state, err, tt.want)
			}
			e.inNS(func() {
				for p, want := range map[string][]byte{ctrtest.SampleKernelPath: e.Kernel, ctrtest.SampleInitrdPath: e.Initrd, ctrtest.SampleConfigPath: e.Config} {
					if got, err := os.ReadFile(filepath.Join(state.Path, p)); err != nil || !bytes.Equal(got, want) {
						t.Errorf("%s at the per-container path: %d bytes, %v", p, len(got), err)
					}
				}
			})
			if code := st.run(t, ctx); code != 0 || st.stdout.String() != e.wantSums() {
				t.Fatalf("exit %d, container saw:\n%s%s", code, st.stdout, st.stderr)
			}
			st.remove(t, ctx)
			e.checkNoLeaks(t, "after delete")
		})
	}
}

// TestShimConcurrent creates, runs and deletes 20 containers at once.
func TestShimConcurrent(t *testing.T) {
	const n = 20
	e := newShimEnv(t, shimOptions{})
	ctx := e.ctx(t)
	begin := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("many-%02d", i)
			st, err := e.create(t, ctx, ctrSpec{id: id, annotations: shimGated, bind: true})
			if err != nil {
				errs <- err
				return
			}
			statusC, err := st.task.Wait(ctx)
			if err == nil {
				err = st.task.Start(ctx)
			}
			if err != nil {
				errs <- fmt.Errorf("%s: %w", id, err)
				return
			}
			s := <-statusC
			st.waitIO()
			if s.ExitCode() != 0 || st.stdout.String() != e.wantSums() {
				errs <- fmt.Errorf("%s: exit %d, saw:\n%s%s", id, s.ExitCode(), st.stdout, st.stderr)
			}
			if _, err := st.task.Delete(ctx); err != nil {
				errs <- fmt.Errorf("%s: delete task: %w", id, err)
			}
			st.task = nil
			st.remove(t, context.WithoutCancel(ctx))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d containers created, run and deleted concurrently in %s", n, time.Since(begin).Round(time.Millisecond))
	e.checkNoLeaks(t, "after deleting them all")
}
