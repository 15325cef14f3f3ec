package plugin

import (
	"context"
	"os"
	"time"

	"github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2/task"
	"github.com/containerd/containerd/v2/pkg/shim"
	"github.com/containerd/containerd/v2/pkg/shutdown"
	"github.com/containerd/containerd/v2/plugins"
	"github.com/containerd/log"
	"github.com/containerd/plugin"
	"github.com/containerd/plugin/registry"

	"github.com/artifactfs/artifactfs/shimglue"
)

func init() {
	registry.Register(&plugin.Registration{
		Type:     plugins.TTRPCPlugin,
		ID:       "task",
		Requires: []plugin.Type{plugins.EventPlugin, plugins.InternalPlugin},
		InitFn: func(ic *plugin.InitContext) (any, error) {
			pp, err := ic.GetByID(plugins.EventPlugin, "publisher")
			if err != nil {
				return nil, err
			}
			ss, err := ic.GetByID(plugins.InternalPlugin, "shutdown")
			if err != nil {
				return nil, err
			}
			sd := ss.(shutdown.Service)
			inner, err := task.NewTaskService(ic.Context, pp.(shim.Publisher), sd)
			if err != nil {
				return nil, err
			}
			out, address := log.G(ic.Context).Logger.Out, ic.Properties[plugins.PropertyGRPCAddress]
			viewer, preparer := takeEarly(address, out)
			if preparer == nil { // a main that did not call StartEarly
				StartEarly(os.Args[1:])
				viewer, preparer = takeEarly(address, out)
			}
			if preparer == nil { // not a container's own shim: dial ahead
				viewer = shimglue.NewContainerdViewer(address)
				preparer = shimglue.NewPreparer(viewer, append(shimglue.OptionsFromEnv(), shimglue.WithLogger(shimglue.ShimLogger(out)))...)
				go warm(ic.Context, viewer)
			}
			svc := shimglue.NewTaskService(inner, preparer)
			sd.RegisterCallback(svc.Close)
			sd.RegisterCallback(func(context.Context) error { return viewer.Close() })
			if bundle, err := os.Getwd(); err == nil { // a serving shim runs in its bundle
				ns, id, address, ok := serveArgs(os.Args[1:])
				go svc.WatchBundle(ic.Context, bundle, bundleCheckInterval, func() {
					if ok {
						shimglue.RemoveSockets(ic.Context, address, ns, id)
					}
					sd.Shutdown()
				})
			}
			return svc, nil
		},
	})
}

// bundleCheckInterval is how often a shim checks that containerd still
// knows it (TaskService.WatchBundle).
const bundleCheckInterval = 2 * time.Second

// warmTimeout bounds the background warm-up of the containerd connection.
const warmTimeout = 5 * time.Second

// warm dials containerd while the shim waits for Create, so that Create
// does not pay for it.
func warm(ctx context.Context, viewer *shimglue.ContainerdViewer) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), warmTimeout)
	defer cancel()
	if err := viewer.Warm(ctx); err != nil {
		log.G(ctx).WithError(err).Debug("artifactfs: containerd connection not warmed")
	}
}
