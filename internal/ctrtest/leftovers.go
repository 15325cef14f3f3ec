package ctrtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/containerd/containerd/v2/pkg/namespaces"

	"github.com/artifactfs/artifactfs/admin"
	"github.com/artifactfs/artifactfs/view"
)

// Leftovers lists what artifactfs containers of d's namespace (ctx's,
// when it carries one, e.g. CRINamespace) left
// behind, one line each; empty means nothing: views and leases
// (view.List), what `artifactfs gc` would remove (dry run), mounts under
// the per-container root and d.Dir (not root itself, nor the tmpfs Start
// put on State), loop devices over d's files, per-container and view
// directories, and bundles. inMountNS, when not nil, runs the mount-table
// check (e.g. in the daemon's own mount namespace).
func (d *Daemon) Leftovers(ctx context.Context, root string, inMountNS func(func())) []string {
	var out []string
	ns := namespaceOr(ctx, d.Namespace)
	ctx = namespaces.WithNamespace(ctx, ns)
	found, err := view.List(ctx, d.Client(), ns)
	if err != nil {
		out = append(out, "list views: "+err.Error())
	}
	for _, f := range found {
		out = append(out, fmt.Sprintf("view/lease %s %s of %s", f.Key, f.LeaseID, f.ContainerID))
	}
	removed, err := admin.GC(ctx, d.Client(), root, ns, true)
	if err != nil {
		out = append(out, "gc --dry-run: "+err.Error())
	}
	for _, r := range removed {
		out = append(out, fmt.Sprintf("gc would remove %s %s", r.Kind, r.Name))
	}
	checkMounts := func() {
		for _, dir := range []string{root, d.Dir} {
			mps, err := MountsUnder(dir)
			if err != nil {
				out = append(out, err.Error())
			}
			for _, m := range mps {
				if m != root && !(d.tmpfs && m == d.State) {
					out = append(out, "mount "+m)
				}
			}
		}
	}
	if inMountNS != nil {
		inMountNS(checkMounts)
	} else {
		checkMounts()
	}
	loops, err := LoopDevicesUnder(d.Dir)
	if err != nil {
		out = append(out, "loop devices: "+err.Error())
	}
	for _, l := range loops {
		out = append(out, "loop device "+l)
	}
	for _, dir := range []string{filepath.Join(root, ns), filepath.Join(root, ".views", ns)} {
		entries, _ := os.ReadDir(dir)
		for _, en := range entries {
			out = append(out, "directory "+filepath.Join(dir, en.Name()))
		}
	}
	// Bundles of deleted containers, with their state files, are gone.
	bundles, _ := os.ReadDir(filepath.Join(d.State, "io.containerd.runtime.v2.task", ns))
	for _, b := range bundles {
		out = append(out, "bundle "+b.Name())
	}
	return out
}
