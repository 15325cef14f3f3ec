// Package plugin registers the shim's "task" plugin: runc's task service
// wrapped by shimglue. Import it for effect instead of runc's task/plugin
// (both register TTRPCPlugin "task"; importing both panics).
package plugin

import (
	"context"

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
			opts := append(shimglue.OptionsFromEnv(), shimglue.WithLogger(shimglue.ShimLogger(log.G(ic.Context).Logger.Out)))
			viewer := shimglue.NewContainerdViewer(ic.Properties[plugins.PropertyGRPCAddress])
			svc := shimglue.NewTaskService(inner, shimglue.NewPreparer(viewer, opts...))
			sd.RegisterCallback(svc.Close)
			sd.RegisterCallback(func(context.Context) error { return viewer.Close() })
			return svc, nil
		},
	})
}
