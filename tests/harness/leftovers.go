package harness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/containerd/containerd/v2/pkg/namespaces"

	"github.com/artifactfs/artifactfs/admin"
	"github.com/artifactfs/artifactfs/artifactbind"
	"github.com/artifactfs/artifactfs/internal/ctrtest"
	"github.com/artifactfs/artifactfs/view"
)

// Leftovers lists what artifactfs containers of e.Namespace left behind,
// one line each; empty means nothing: views and leases (view.List), what
// `artifactfs gc` would remove (a dry run of admin.GC), mounts under
// the root and the daemon's directory (not the root itself, nor the
// state tmpfs the daemon mounted), looked for in the daemon's mount
// namespace, loop devices over the daemon's files, per-container and view
// directories, and bundles. Shim processes are not counted: a shim may
// still serve other containers (see ShimProcesses).
func (e *Env) Leftovers(ctx context.Context) []string {
	var out []string
	ns := e.Namespace
	ctx = namespaces.WithNamespace(ctx, ns)
	d := e.D
	found, err := view.List(ctx, d.Client(), ns)
	if err != nil {
		out = append(out, "list views: "+err.Error())
	}
	for _, f := range found {
		out = append(out, fmt.Sprintf("view/lease %s %s of %s", f.Key, f.LeaseID, f.ContainerID))
	}
	removed, err := admin.GC(ctx, d.Client(), e.Root, ns, true)
	if err != nil {
		out = append(out, "gc --dry-run: "+err.Error())
	}
	for _, r := range removed {
		out = append(out, fmt.Sprintf("gc would remove %s %s", r.Kind, r.Name))
	}
	e.Do(func() {
		for _, dir := range []string{e.Root, d.Dir} {
			mps, err := ctrtest.MountsUnder(dir)
			if err != nil {
				out = append(out, err.Error())
			}
			for _, m := range mps {
				if m != e.Root && !(d.StateTmpfs() && m == d.State) {
					out = append(out, "mount "+m)
				}
			}
		}
	})
	loops, err := ctrtest.LoopDevicesUnder(d.Dir)
	if err != nil {
		out = append(out, "loop devices: "+err.Error())
	}
	for _, l := range loops {
		out = append(out, "loop device "+l)
	}
	for _, dir := range []string{filepath.Join(e.Root, ns), filepath.Join(e.Root, artifactbind.ViewsDir, ns), filepath.Join(e.Root, artifactbind.ImagesDir, ns)} {
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

// SettledLeftovers is Leftovers once things settle: containerd runs the
// shim's delete command after the shim exits, so it waits up to timeout
// for the list to empty (Settle), each pass bounded by 30s and run also
// when ctx is done.
func (e *Env) SettledLeftovers(ctx context.Context, timeout time.Duration) []string {
	return Settle(timeout, func() []string {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		return e.Leftovers(lctx)
	})
}

// Settle calls list every 50ms until it returns nothing or timeout has
// passed, and returns its last answer: what is left once things settle.
func Settle(timeout time.Duration, list func() []string) []string {
	for deadline := time.Now().Add(timeout); ; time.Sleep(50 * time.Millisecond) {
		if left := list(); len(left) == 0 || time.Now().After(deadline) {
			return left
		}
	}
}
