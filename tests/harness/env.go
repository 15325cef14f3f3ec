package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"

	"github.com/artifactfs/artifactfs/internal/ctrtest"
	"github.com/artifactfs/artifactfs/shimglue"
)

// Options configure Start.
type Options struct {
	// Repo is the repository's root directory, from which Start builds
	// the shim when ShimDir is empty.
	Repo string
	// Faults selects the fault-injection build of the shim (FaultShimDir)
	// when Start builds it. Default false: the shipped build (ShimDir).
	Faults bool
	// ShimDir is a directory holding containerd-shim-artifactfs-v2, such
	// as bin/ after make build. Default: the build from Repo.
	ShimDir string
	// Root is ARTIFACTFS_ROOT, where the shims make the per-container
	// paths. Default: a new temporary directory, removed by Stop.
	Root string
	// Daemon configures containerd: work directory, scratch size, state on
	// tmpfs, CRI, more environment. Start puts ShimDir first on its
	// ExtraPath and adds ARTIFACTFS_ROOT=Root to its Env, which the daemon
	// passes on to its shims.
	Daemon ctrtest.Options
	// NS, when not nil, is the mount namespace the daemon, and so its
	// shims and runc, run in; Stop and the mount check of Leftovers run
	// there too. The caller closes it after Stop.
	NS *MountNS
}

// Env is a private containerd whose artifactfs shims serve per-container
// paths under Root.
type Env struct {
	// D is the daemon.
	D *ctrtest.Daemon
	// Root is the shims' ARTIFACTFS_ROOT.
	Root string
	// Namespace is the containerd namespace of the env's containers:
	// D.Namespace, or ctrtest.CRINamespace with CRI on.
	Namespace string
	// CRI is the daemon's CRI client when Options.Daemon.CRI turned CRI
	// on; Stop closes it.
	CRI *ctrtest.CRIClient
	// NS is the daemon's mount namespace, nil for the caller's.
	NS *MountNS
	// Image is the sample image ImportSample imported; Kernel, Initrd and
	// Config are its artifacts (Config: urunc.json as stored).
	Image                  client.Image
	Kernel, Initrd, Config []byte

	ownsRoot bool
}

// Start builds the shim unless o.ShimDir names one, starts the daemon (in
// o.NS when set) and, with CRI on, connects a CRI client. Call Stop when
// done; on error Start stops what it started.
func Start(ctx context.Context, o Options) (_ *Env, err error) {
	if o.ShimDir == "" {
		build := ShimDir
		if o.Faults {
			build = FaultShimDir
		}
		if o.ShimDir, err = build(o.Repo); err != nil {
			return nil, err
		}
	}
	e := &Env{Root: o.Root, NS: o.NS}
	if e.Root == "" {
		if e.Root, err = os.MkdirTemp("", "artifactfs-root-"); err != nil {
			return nil, fmt.Errorf("artifactfs root: %w", err)
		}
		e.ownsRoot = true
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, e.Stop())
		}
	}()
	d := o.Daemon
	d.ExtraPath = append([]string{o.ShimDir}, d.ExtraPath...)
	d.Env = append(slices.Clone(d.Env), shimglue.RootEnv+"="+e.Root)
	e.Do(func() { e.D, err = ctrtest.Start(ctx, d) })
	if err != nil {
		return nil, fmt.Errorf("start containerd: %w", err)
	}
	e.Namespace = e.D.Namespace
	if d.CRI != nil {
		e.Namespace = ctrtest.CRINamespace
		if e.CRI, err = e.D.NewCRIClient(); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// Stop closes the CRI client, stops the daemon (which kills and deletes
// the tasks still there, see ctrtest's Stop) in its namespace, and removes
// the root when Start made it and nothing is mounted under it. It is
// idempotent.
func (e *Env) Stop() error {
	var errs []error
	if e.CRI != nil {
		_ = e.CRI.Close()
		e.CRI = nil
	}
	if e.D != nil {
		e.Do(func() {
			if err := e.D.Stop(); err != nil {
				errs = append(errs, fmt.Errorf("stop containerd: %w", err))
			}
		})
	}
	if e.ownsRoot {
		if left, err := ctrtest.MountsUnder(e.Root); err != nil || len(left) > 0 {
			errs = append(errs, fmt.Errorf("keep %s: mounts under it: %s %v", e.Root, strings.Join(left, ", "), err))
		} else if err := os.RemoveAll(e.Root); err != nil {
			errs = append(errs, err)
		}
		e.ownsRoot = false
	}
	return errors.Join(errs...)
}

// Do runs fn in the daemon's mount namespace.
func (e *Env) Do(fn func()) {
	if e.NS != nil {
		e.NS.Do(fn)
		return
	}
	fn()
}

// Path returns the per-container path of container id: the mount point
// urunc binds the artifacts from.
func (e *Env) Path(id string) string { return filepath.Join(e.Root, e.Namespace, id) }

// Bundle returns the bundle directory of container id.
func (e *Env) Bundle(id string) string {
	return filepath.Join(e.D.State, "io.containerd.runtime.v2.task", e.Namespace, id)
}

// ShimProcesses lists the long-running artifactfs shims of the daemon.
func (e *Env) ShimProcesses() []ctrtest.ShimProcess {
	return ctrtest.ShimProcesses(ShimName, e.D.Address)
}

// ShimPid returns the pid of the shim process running under id: a
// container's id, or under CRI its pod's sandbox id.
func (e *Env) ShimPid(id string) (int, error) {
	for _, sp := range e.ShimProcesses() {
		if sp.ID == id {
			return sp.Pid, nil
		}
	}
	return 0, fmt.Errorf("no shim process for %s", id)
}

// ctx returns ctx in e.Namespace unless it carries a namespace.
func (e *Env) ctx(ctx context.Context) context.Context {
	if _, ok := namespaces.Namespace(ctx); ok {
		return ctx
	}
	return namespaces.WithNamespace(ctx, e.Namespace)
}
