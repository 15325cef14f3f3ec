package shimglue

import (
	"context"
	"errors"
	"fmt"

	taskAPI "github.com/containerd/containerd/api/runtime/task/v3"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/shim"
	"github.com/containerd/errdefs"
	"github.com/containerd/errdefs/pkg/errgrpc"
	"github.com/containerd/ttrpc"
	"github.com/rs/zerolog"
)

// TaskService wraps a shim's task service (runc's, from
// task.NewTaskService): Create prepares the container's per-container path
// before the inner Create, Delete of an init process releases it after the
// inner Delete. Every other method is the inner service's.
type TaskService struct {
	taskAPI.TTRPCTaskService
	p *Preparer
}

var (
	_ taskAPI.TTRPCTaskService = (*TaskService)(nil)
	_ shim.TTRPCService        = (*TaskService)(nil)
)

// NewTaskService wraps inner with p.
func NewTaskService(inner taskAPI.TTRPCTaskService, p *Preparer) *TaskService {
	return &TaskService{TTRPCTaskService: inner, p: p}
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
	log := s.p.cfg.Logger.With().Str("container", r.ID).Str("namespace", ns).Logger()
	opts, err := RuncOptions(r.Options)
	if err != nil {
		// Nothing is created; what the shim prepared when it started goes.
		s.release(ctx, log, ns, r.ID)
		return nil, errgrpc.ToGRPC(err)
	}
	r.Options = opts
	spec, err := ReadSpec(r.Bundle)
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
		if err := s.p.cfg.fault(StepCreate, spec.Annotations); err != nil {
			s.release(ctx, log, ns, r.ID)
			return nil, errgrpc.ToGRPC(err)
		}
	}
	resp, err := s.TTRPCTaskService.Create(ctx, r)
	if err != nil && st != nil {
		s.release(ctx, log, ns, r.ID)
	}
	return resp, err
}

// Delete calls the inner Delete and, for a container's init process
// (ExecID ""), then releases its per-container path. A container that is
// already gone (not found) is released too; a failed release is logged,
// keeps the state file for the shim's delete command path, and does not
// fail Delete.
func (s *TaskService) Delete(ctx context.Context, r *taskAPI.DeleteRequest) (*taskAPI.DeleteResponse, error) {
	resp, err := s.TTRPCTaskService.Delete(ctx, r)
	if r.ExecID != "" || (err != nil && !errIsNotFound(err)) {
		return resp, err
	}
	ns, nerr := namespaces.NamespaceRequired(ctx)
	if nerr != nil {
		return resp, err
	}
	log := s.p.cfg.Logger.With().Str("container", r.ID).Str("namespace", ns).Logger()
	s.release(ctx, log, ns, r.ID)
	return resp, err
}

func (s *TaskService) release(ctx context.Context, log zerolog.Logger, ns, id string) {
	if err := s.p.Release(ctx, ns, id); err != nil {
		log.Warn().Err(err).Msg("release snapshot view")
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
