// Package plugin registers the shim's "task" plugin: runc's task service
// wrapped by shimglue. Import it for effect instead of runc's task/plugin
// (both register TTRPCPlugin "task"; importing both panics).
package plugin

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"time"

	"github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2/task"
	"github.com/containerd/containerd/v2/pkg/namespaces"
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
			out := log.G(ic.Context).Logger.Out
			viewer, preparer := takeEarly(ic.Properties[plugins.PropertyGRPCAddress], out)
			if preparer == nil { // a main that did not call StartEarly
				viewer = shimglue.NewContainerdViewer(ic.Properties[plugins.PropertyGRPCAddress])
				preparer = shimglue.NewPreparer(viewer, append(shimglue.OptionsFromEnv(), shimglue.WithLogger(shimglue.ShimLogger(out)))...)
				if ns, id, bundle, ok := shimContainer(ic.Context); ok {
					preparer.PrepareEarly(ic.Context, ns, id, bundle)
				} else {
					go warm(ic.Context, viewer)
				}
			}
			svc := shimglue.NewTaskService(inner, preparer)
			sd.RegisterCallback(svc.Close)
			sd.RegisterCallback(func(context.Context) error { return viewer.Close() })
			return svc, nil
		},
	})
}

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

// shimContainer returns the container this shim process was started for:
// its namespace, its id (the shim's -id flag) and its bundle (containerd
// starts a shim in the bundle directory, which is named after the
// container). ok is false when the shim was started for a group of
// containers (its id is not the bundle's name) or a value is missing.
func shimContainer(ctx context.Context) (ns, id, bundle string, ok bool) {
	ns, _ = namespaces.Namespace(ctx)
	if f := flag.Lookup("id"); f != nil {
		id = f.Value.String()
	}
	bundle, err := os.Getwd()
	if err != nil || ns == "" || id == "" || filepath.Base(bundle) != id {
		return "", "", "", false
	}
	return ns, id, bundle, true
}
