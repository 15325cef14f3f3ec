package shimglue

import (
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"

	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/shim"
	"github.com/rs/zerolog"

	"github.com/artifactfs/artifactfs/internal/layout"
)

// grpcAddressEnv is set by containerd for every shim command.
const grpcAddressEnv = "GRPC_ADDRESS"

// Manager wraps a shim manager (runc's, from manager.NewShimManager) so
// that Stop — the shim binary's `delete` command, which containerd runs
// after every shim disconnect, and which is the only cleanup that runs
// after the shim was killed — also releases what the bundle state lists,
// and so that Start and Info read CRI's and ctr's runtime options as
// runc's (runtimeopts_manager.go).
type Manager struct {
	shim.Shim
	opts      []Option
	newViewer func(address string) Viewer // NewContainerdViewer; tests replace it
}

var _ shim.Shim = (*Manager)(nil)

// WrapManager wraps inner; opts configure the Preparer Stop uses (its
// logger, root).
func WrapManager(inner shim.Shim, opts ...Option) *Manager {
	return &Manager{Shim: inner, opts: opts, newViewer: func(a string) Viewer { return NewContainerdViewer(a) }}
}

// Stop thaws the container's cgroup if runc left it frozen
// (thawStopped), runs the inner Stop — for runc, `runc delete --force`: the
// container's processes, which may still hold the per-container mount,
// are gone afterwards — removes the dead shim's sockets
// (removeDeadSockets), and then runs Cleanup of the bundle, whatever the
// inner Stop returned. A failed cleanup is logged, not returned: it must
// not keep containerd from deleting the task, and `artifactfs gc` finds
// what is left.
func (m *Manager) Stop(ctx context.Context, id string) (shim.StopStatus, error) {
	bundle := bundlePath(ctx, id)
	ns, _ := namespaces.Namespace(ctx)
	ctx = WithContainer(ctx, newConfig(m.opts).Logger, ns, id)
	log := zerolog.Ctx(ctx)
	thawStopped(bundle, log)
	status, err := m.Shim.Stop(ctx, id)
	removeDeadSockets(ctx, containerdAddress(), id, log)
	viewer := m.newViewer(containerdAddress())
	if c, ok := viewer.(io.Closer); ok {
		defer c.Close()
	}
	p := NewPreparer(viewer, m.opts...)
	if cerr := p.CleanupContainer(ctx, bundle, ns, id); cerr != nil {
		log.Warn().Err(cerr).Str("bundle", bundle).
			Msg("clean up snapshot view; `artifactfs gc` releases what is left")
	}
	return status, err
}

// bundlePath returns the bundle of the shim's delete command: the -bundle
// flag, else, as runc's manager does, <dir of the working dir>/<id>.
func bundlePath(ctx context.Context, id string) string {
	if o, ok := ctx.Value(shim.OptsKey{}).(shim.Opts); ok && o.BundlePath != "" {
		return o.BundlePath
	}
	cwd, err := os.Getwd()
	if err != nil {
		return ""
	}
	return filepath.Join(filepath.Dir(cwd), id)
}

// containerdAddress returns containerd's gRPC address on the shim's command
// line (-address), else in $GRPC_ADDRESS.
func containerdAddress() string {
	if f := flag.Lookup("address"); f != nil && f.Value.String() != "" {
		return f.Value.String()
	}
	return os.Getenv(grpcAddressEnv)
}

// thawStopped thaws the cgroup of the container in bundle if runc left it
// frozen (thawLeftFrozen): after the shim died, nothing else would, and
// its processes, SIGKILL pending, would hold the rootfs and the
// per-container mount forever. The container is being destroyed, so a
// frozen cgroup cannot be a pause the user wants kept.
func thawStopped(bundle string, log *zerolog.Logger) {
	spec, err := layout.ReadSpec(bundle)
	if err != nil || spec.Linux == nil {
		return
	}
	if thawed, err := thawLeftFrozen(spec.Linux.CgroupsPath); err != nil {
		log.Warn().Err(err).Str("bundle", bundle).Msg("cgroup left frozen by runc")
	} else if thawed {
		log.Warn().Str("bundle", bundle).Msg("thawed the cgroup runc left frozen")
	}
}
