package shimglue

import (
	"context"
	"errors"
	"fmt"
	"sync"

	taskAPI "github.com/containerd/containerd/api/runtime/task/v3"
	tasktypes "github.com/containerd/containerd/api/types/task"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/shim"
	"github.com/containerd/errdefs"
	"github.com/containerd/errdefs/pkg/errgrpc"
	"github.com/containerd/ttrpc"
	"github.com/rs/zerolog"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/artifactfs/artifactfs/internal/layout"
)

// TaskService wraps a shim's task service (runc's, from
// task.NewTaskService): Create prepares the container's per-container path
// before the inner Create, Delete of an init process releases it after the
// inner Delete. Every other method is the inner service's.
type TaskService struct {
	taskAPI.TTRPCTaskService
	p *Preparer

	mu      sync.Mutex
	created map[string]created // by container id
}

// created is what the shim keeps of a container it created.
type created struct {
	ns          string // its namespace
	bundle      string
	cgroupsPath string // the spec's linux.cgroupsPath
}

var (
	_ taskAPI.TTRPCTaskService = (*TaskService)(nil)
	_ shim.TTRPCService        = (*TaskService)(nil)
)

// NewTaskService wraps inner with p.
func NewTaskService(inner taskAPI.TTRPCTaskService, p *Preparer) *TaskService {
	return &TaskService{TTRPCTaskService: inner, p: p, created: map[string]created{}}
}

// RegisterTTRPC registers the wrapper, not the inner service, as the task
// service of server.
func (s *TaskService) RegisterTTRPC(server *ttrpc.Server) error {
	taskAPI.RegisterTTRPCTaskService(server, s)
	return nil
}

// Create converts the request's runtime options to runc's (RuncOptions;
// an error fails Create as invalid argument), reads the bundle's
// config.json, prepares the per-container path when the gate says so
// (Preparer.Prepare), then calls the inner Create.
// If the inner Create fails, what was prepared is released. Only a strict
// failure fails Create before the inner one runs.
func (s *TaskService) Create(ctx context.Context, r *taskAPI.CreateTaskRequest) (*taskAPI.CreateTaskResponse, error) {
	ns, err := namespaces.NamespaceRequired(ctx)
	if err != nil {
		return nil, errgrpc.ToGRPC(err)
	}
	ctx = WithContainer(ctx, s.p.cfg.Logger, ns, r.ID)
	log := zerolog.Ctx(ctx)
	opts, err := RuncOptions(r.Options)
	if err != nil {
		// Nothing is created; what the shim prepared when it started goes.
		s.release(ctx, ns, r.ID)
		return nil, errgrpc.ToGRPC(err)
	}
	r.Options = opts
	spec, err := layout.ReadSpec(r.Bundle)
	if err != nil {
		// runc will fail on it too; say why we did nothing.
		log.Warn().Err(err).Msg("cannot read the OCI spec; no snapshot view")
		return s.TTRPCTaskService.Create(ctx, r)
	}
	st, err := s.p.Prepare(ctx, ns, r.ID, r.Bundle, spec.Annotations)
	if err != nil {
		return nil, errgrpc.ToGRPC(fmt.Errorf("%w: %w", errdefs.ErrFailedPrecondition, err))
	}
	if st != nil {
		if err := s.p.cfg.failStep(StepCreate, spec.Annotations); err != nil {
			s.release(ctx, ns, r.ID)
			return nil, errgrpc.ToGRPC(err)
		}
	}
	resp, err := s.TTRPCTaskService.Create(ctx, r)
	if err != nil {
		if st != nil {
			s.release(ctx, ns, r.ID)
		}
		return resp, err
	}
	// Kill, Delete and Abandon need its bundle and cgroup.
	c := created{ns: ns, bundle: r.Bundle}
	if spec.Linux != nil {
		c.cgroupsPath = spec.Linux.CgroupsPath
	}
	s.mu.Lock()
	s.created[r.ID] = c
	s.mu.Unlock()
	return resp, nil
}

// Delete calls the inner Delete and, for a container's init process
// (ExecID ""), then releases its per-container path. A container that is
// already gone (not found) is released too; a failed release is logged,
// keeps the state file for the shim's delete command path, and does not
// fail Delete.
//
// A failed Delete of an init process thaws the container's cgroup when
// runc left it frozen (see thaw), so that a retry can succeed.
func (s *TaskService) Delete(ctx context.Context, r *taskAPI.DeleteRequest) (*taskAPI.DeleteResponse, error) {
	resp, err := s.TTRPCTaskService.Delete(ctx, r)
	if r.ExecID != "" {
		return resp, err
	}
	ns, nerr := namespaces.NamespaceRequired(ctx)
	ctx = WithContainer(ctx, s.p.cfg.Logger, ns, r.ID)
	if err != nil && !errIsNotFound(err) {
		s.thaw(ctx, r.ID)
		return resp, err
	}
	s.mu.Lock()
	delete(s.created, r.ID)
	s.mu.Unlock()
	if nerr != nil {
		return resp, err
	}
	s.release(ctx, ns, r.ID)
	return resp, err
}

// Kill calls the inner Kill and, for a container's init process, then
// thaws its cgroup when runc left it frozen (see thaw): the signal is
// delivered instead of pending forever.
func (s *TaskService) Kill(ctx context.Context, r *taskAPI.KillRequest) (*emptypb.Empty, error) {
	resp, err := s.TTRPCTaskService.Kill(ctx, r)
	if r.ExecID == "" {
		ns, _ := namespaces.Namespace(ctx)
		s.thaw(WithContainer(ctx, s.p.cfg.Logger, ns, r.ID), r.ID)
	}
	return resp, err
}

// thaw thaws container id's cgroup when it is frozen although the
// container is not paused: a runc cut short between freezing and thawing
// left it so (thawLeftFrozen). A container the user paused stays frozen.
// It logs to the logger of ctx (WithContainer).
func (s *TaskService) thaw(ctx context.Context, id string) {
	s.mu.Lock()
	path := s.created[id].cgroupsPath
	s.mu.Unlock()
	if path == "" {
		return
	}
	// The request's context may be cancelled: containerd went away.
	state, err := s.TTRPCTaskService.State(context.WithoutCancel(ctx), &taskAPI.StateRequest{ID: id})
	if err != nil || state.Status == tasktypes.Status_PAUSED || state.Status == tasktypes.Status_PAUSING {
		return
	}
	log := zerolog.Ctx(ctx).With().Str("cgroup", path).Logger()
	if thawed, err := thawLeftFrozen(path); err != nil {
		log.Warn().Err(err).Msg("cgroup left frozen by runc")
	} else if thawed {
		log.Warn().Msg("thawed the cgroup runc left frozen; the container's processes can die")
	}
}

// release releases container ns/id, logging a failure to the logger of
// ctx.
func (s *TaskService) release(ctx context.Context, ns, id string) {
	if err := s.p.Release(ctx, ns, id); err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Msg("release snapshot view")
	}
}

// Close releases every container still prepared; the shim registers it as
// a shutdown callback, so that no FUSE mount outlives its server.
func (s *TaskService) Close(ctx context.Context) error {
	return s.p.ReleaseAll(ctx)
}

// errIsNotFound reports whether err, possibly from gRPC, means not found.
func errIsNotFound(err error) bool {
	return err != nil && errors.Is(errgrpc.ToNative(err), errdefs.ErrNotFound)
}
