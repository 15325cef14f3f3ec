package ctrd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/client"
	"golang.org/x/sys/unix"

	"github.com/artifactfs/artifactfs/bench/internal/host"
	"github.com/artifactfs/artifactfs/internal/ctrtest"
	"github.com/artifactfs/artifactfs/internal/testimage"
	"github.com/artifactfs/artifactfs/shimglue"
)

// opTimeout bounds one containerd operation that changes state.
const opTimeout = 2 * time.Minute

// Env is a private containerd laid out as on a production host: its state
// directory (bundles, the shim's state file) and ARTIFACTFS_ROOT on tmpfs,
// its root (bolt databases, blockfile's block files) on disk. It holds one
// image, imported into blockfile.
type Env struct {
	// D is the daemon.
	D *ctrtest.Daemon
	// KernelMiB, KernelSize and InitrdSize are the image's artifacts.
	KernelMiB              int
	KernelSize, InitrdSize int64

	root      string // ARTIFACTFS_ROOT, a tmpfs we mounted
	img       client.Image
	kernelSum string // sha256 of the kernel, to check what is served
}

// Start starts a daemon for a kernel of mib MiB under work and imports
// the image. On error everything started is stopped again.
func Start(ctx context.Context, t *Tools, work string, mib int) (_ *Env, err error) {
	c := &Env{KernelMiB: mib, KernelSize: int64(mib) << 20, InitrdSize: InitrdMiB << 20}
	defer func() {
		if err != nil {
			err = errors.Join(err, c.Close())
		}
	}()
	dir := filepath.Join(work, fmt.Sprintf("k%d", mib))
	root := filepath.Join(dir, "artifactfs")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	if err := unix.Mount("tmpfs", root, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755"); err != nil {
		return nil, fmt.Errorf("tmpfs on %s: %w", root, err)
	}
	c.root = root

	c.D, err = ctrtest.Start(ctx, ctrtest.Options{ExtraPath: []string{t.BinDir}, Env: []string{shimglue.RootEnv + "=" + root},
		ScratchMiB: ScratchMiB(mib), StateOnTmpfs: true})
	if err != nil {
		return nil, fmt.Errorf("start containerd: %w", err)
	}

	host.Progress("%d MiB: building the image (kernel %d MiB, initrd %d MiB, urunc.json)", mib, mib, InitrdMiB)
	kernel := testimage.Payload(uint64(mib)+500, mib<<20)
	c.kernelSum = testimage.SHA256(kernel)
	kpath, ipath := filepath.Join(dir, "kernel"), filepath.Join(dir, "initrd")
	if err := os.WriteFile(kpath, kernel, 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(ipath, testimage.Payload(499, InitrdMiB<<20), 0o644); err != nil {
		return nil, err
	}
	spec, err := ctrtest.SampleImage(ImageName, []byte{}, []byte{}, t.Entry, nil)
	if err != nil {
		return nil, err
	}
	spec.Files[ctrtest.SampleKernelPath] = ctrtest.File{HostPath: kpath}
	spec.Files[ctrtest.SampleInitrdPath] = ctrtest.File{HostPath: ipath}
	tarPath, err := ctrtest.BuildImage(dir, spec)
	if err != nil {
		return nil, err
	}
	host.Progress("%d MiB: importing into containerd (%s)", mib, Snapshotter)
	start := time.Now()
	ictx, cancel := c.opCtx(ctx)
	c.img, err = ctrtest.Import(ictx, c.D.Client(), tarPath, Snapshotter)
	cancel()
	if err != nil {
		return nil, err
	}
	host.Progress("%d MiB: imported in %s", mib, time.Since(start).Round(time.Millisecond))
	for _, p := range []string{tarPath, kpath, ipath} {
		if err := os.Remove(p); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// ctx returns ctx in the daemon's namespace.
func (c *Env) ctx(ctx context.Context) context.Context { return c.D.Context(ctx) }

// opCtx returns the context of one containerd operation that changes
// state (import, container or task create and delete): in the daemon's
// namespace, not cancelled with ctx, bounded by a timeout of its own. A
// Ctrl-C takes effect between operations, never in the middle of one: a
// task create cancelled half-way leaves a shim, its mounts and a runc init
// process behind that nothing deletes any more.
func (c *Env) opCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.ctx(context.WithoutCancel(ctx)), opTimeout)
}

// Close stops the daemon (which kills and deletes tasks still there),
// detaches whatever is still mounted under the root and unmounts its tmpfs.
func (c *Env) Close() error {
	var errs []error
	if c.D != nil {
		if err := c.D.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("stop containerd: %w", err))
		}
	}
	if c.root != "" {
		if left, err := ctrtest.MountsUnder(c.root); err == nil {
			for _, m := range left { // deepest first; the tmpfs itself last
				if m == c.root {
					continue
				}
				_ = unix.Unmount(m, unix.MNT_DETACH)
				errs = append(errs, fmt.Errorf("mount left under %s (detached): %s", c.root, m))
			}
		}
		if err := unix.Unmount(c.root, 0); err != nil {
			_ = unix.Unmount(c.root, unix.MNT_DETACH)
			errs = append(errs, fmt.Errorf("unmount %s: %w", c.root, err))
		}
		c.root = ""
	}
	return errors.Join(errs...)
}

// Path returns the per-container path of k (urunc's bind source).
func (c *Env) Path(k *Container) string {
	return filepath.Join(c.root, c.D.Namespace, k.ID)
}

// Leaks lists what artifactfs left behind, as the e2e tests check it
// (ctrtest's Leftovers): views and leases, what `artifactfs gc` would
// still remove, mounts under the root or the daemon's directory, loop
// devices over the daemon's files, per-container and view directories,
// bundles. It waits up to 10s for things to settle (containerd runs the
// shim's delete command after the shim exits), also when ctx is done.
func (c *Env) Leaks(ctx context.Context) []string {
	for deadline := time.Now().Add(10 * time.Second); ; {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		out := c.D.Leftovers(lctx, c.root, nil)
		cancel()
		if len(out) == 0 || time.Now().After(deadline) {
			return out
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// leakError is Leaks as an error, or nil.
func (c *Env) leakError(ctx context.Context) error {
	if left := c.Leaks(ctx); len(left) > 0 {
		return fmt.Errorf("left behind after deleting every container:\n  %s", strings.Join(left, "\n  "))
	}
	return nil
}
