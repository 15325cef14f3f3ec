package shimglue

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"syscall"
	"time"

	taskAPI "github.com/containerd/containerd/api/runtime/task/v3"
	tasktypes "github.com/containerd/containerd/api/types/task"
	"github.com/rs/zerolog"
)

// WatchBundle checks every interval that the shim's bundle directory is
// still there, until ctx ends. Once it has been missing at two checks in a
// row, containerd has forgotten the shim — it deletes a bundle it cannot
// load after a restart (its shim_load.go), and one whose shim it started
// when writing into the bundle then failed (binary.go, a full disk),
// without stopping the shim, which would otherwise serve on forever,
// holding a FUSE mount, a view and a lease. The shim then cleans up as if deleted (Abandon) and calls
// shutdown, which ends the shim process.
//
// A bundle without config.json when the watch starts is not a
// container's: nothing is watched.
func (s *TaskService) WatchBundle(ctx context.Context, bundle string, interval time.Duration, shutdown func()) {
	if _, err := os.Stat(filepath.Join(bundle, "config.json")); err != nil {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	missing := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := os.Stat(bundle); errors.Is(err, os.ErrNotExist) {
			missing++
		} else {
			missing = 0
		}
		if missing == 2 {
			s.p.cfg.Logger.Warn().Str("bundle", bundle).
				Msg("the shim's bundle is gone: containerd no longer knows this shim; cleaning up and exiting")
			s.Abandon(ctx)
			shutdown()
			return
		}
	}
}

// Abandon kills and deletes every container this shim created (thawing a
// cgroup runc left frozen, so that the SIGKILL lands; a bundle directory
// that is gone made again for the time runc needs it) and releases every
// per-container path: what Delete would have done had containerd called it.
func (s *TaskService) Abandon(ctx context.Context) {
	s.mu.Lock()
	containers := maps.Clone(s.created)
	s.mu.Unlock()
	for id, c := range containers {
		ctx := WithContainer(ctx, s.p.cfg.Logger, c.ns, id)
		// runc logs into the bundle: without it, every runc command fails.
		if err := os.Mkdir(c.bundle, 0o700); err == nil {
			defer os.RemoveAll(c.bundle)
		}
		_, err := s.TTRPCTaskService.Kill(ctx, &taskAPI.KillRequest{ID: id, Signal: uint32(syscall.SIGKILL), All: true})
		if err != nil && !errIsNotFound(err) {
			zerolog.Ctx(ctx).Warn().Err(err).Msg("kill the container of a forgotten shim")
		}
		s.thaw(ctx, id)
		s.deleteStopped(ctx, id)
	}
	if err := s.p.ReleaseAll(ctx); err != nil {
		s.p.cfg.Logger.Warn().Err(err).Msg("release snapshot views of a forgotten shim")
	}
}

// abandonWait bounds how long Abandon waits for a killed container to stop.
const abandonWait = 5 * time.Second

// deleteStopped waits for container id to stop, then deletes it through
// the inner service, which removes runc's state and the container's cgroup.
// It logs to the logger of ctx (WithContainer).
func (s *TaskService) deleteStopped(ctx context.Context, id string) {
	for deadline := time.Now().Add(abandonWait); ; time.Sleep(50 * time.Millisecond) {
		st, err := s.TTRPCTaskService.State(ctx, &taskAPI.StateRequest{ID: id})
		if err != nil {
			return // not found: nothing to delete
		}
		if st.Status == tasktypes.Status_STOPPED {
			break
		}
		if time.Now().After(deadline) {
			zerolog.Ctx(ctx).Warn().Msg("the container of a forgotten shim did not stop")
			return
		}
	}
	if _, err := s.TTRPCTaskService.Delete(ctx, &taskAPI.DeleteRequest{ID: id}); err != nil && !errIsNotFound(err) {
		zerolog.Ctx(ctx).Warn().Err(err).Msg("delete the container of a forgotten shim")
	}
}
