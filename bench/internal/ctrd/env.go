package ctrd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/artifactfs/artifactfs/bench/internal/host"
	"github.com/artifactfs/artifactfs/internal/ctrtest"
	"github.com/artifactfs/artifactfs/internal/testimage"
	"github.com/artifactfs/artifactfs/tests/harness"
)

// opTimeout bounds one containerd operation that changes state.
const opTimeout = 2 * time.Minute

// Env is a harness env (a private containerd with the shim on its PATH)
// laid out as on a production host: its state directory (bundles, the
// shim's state file) and ARTIFACTFS_ROOT on tmpfs, its root (bolt
// databases, blockfile's block files) on disk. It holds one image,
// imported into blockfile (H.Image).
type Env struct {
	// H is the harness env; H.D the daemon.
	H *harness.Env
	// KernelMiB, KernelSize and InitrdSize are the image's artifacts.
	KernelMiB              int
	KernelSize, InitrdSize int64

	root      string // ARTIFACTFS_ROOT, a tmpfs we mounted
	kernelSum string // sha256 of the kernel, to check what is served
}

// Options vary a daemon from Start's defaults.
type Options struct {
	// Name tells the daemon's directory under work apart from another
	// daemon's for the same kernel size. Default none.
	Name string
	// Env is added to the daemon's environment, which its shims inherit
	// (e.g. shimglue.PerContainerViewsEnv). Default none.
	Env []string
	// Snapshotters the image is unpacked into. Default Snapshotter.
	Snapshotters []string
}

// Start starts a daemon for a kernel of mib MiB under work and imports
// the image into blockfile. On error everything started is stopped again.
func Start(ctx context.Context, t *Tools, work string, mib int) (*Env, error) {
	return StartWith(ctx, t, work, mib, Options{})
}

// StartWith is Start as o says.
func StartWith(ctx context.Context, t *Tools, work string, mib int, o Options) (_ *Env, err error) {
	if len(o.Snapshotters) == 0 {
		o.Snapshotters = []string{Snapshotter}
	}
	c := &Env{KernelMiB: mib, KernelSize: int64(mib) << 20, InitrdSize: InitrdMiB << 20}
	defer func() {
		if err != nil {
			err = errors.Join(err, c.Close())
		}
	}()
	dir := filepath.Join(work, fmt.Sprintf("k%d%s", mib, o.Name))
	root := filepath.Join(dir, "artifactfs")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	if err := unix.Mount("tmpfs", root, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755"); err != nil {
		return nil, fmt.Errorf("tmpfs on %s: %w", root, err)
	}
	c.root = root

	c.H, err = harness.Start(ctx, harness.Options{ShimDir: t.BinDir, Root: root,
		Daemon: ctrtest.Options{ScratchMiB: ScratchMiB(mib), StateOnTmpfs: true, Env: o.Env}})
	if err != nil {
		return nil, err
	}
	if err := c.importImage(ctx, t, dir, o.Snapshotters); err != nil {
		return nil, err
	}
	return c, nil
}

// importImage builds the image of c's kernel size under dir, from files
// written there (the artifacts are large: they are not kept in memory as
// harness.Sample would), and imports it into snapshotters as c.H.Image.
func (c *Env) importImage(ctx context.Context, t *Tools, dir string, snapshotters []string) error {
	mib := c.KernelMiB
	host.Progress("%d MiB: building the image (kernel %d MiB, initrd %d MiB, urunc.json)", mib, mib, InitrdMiB)
	kernel := testimage.Payload(uint64(mib)+500, mib<<20)
	c.kernelSum = testimage.SHA256(kernel)
	kpath, ipath := filepath.Join(dir, "kernel"), filepath.Join(dir, "initrd")
	if err := os.WriteFile(kpath, kernel, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(ipath, testimage.Payload(499, InitrdMiB<<20), 0o644); err != nil {
		return err
	}
	spec, err := ctrtest.SampleImage(ImageName, []byte{}, []byte{}, t.Entry, nil)
	if err != nil {
		return err
	}
	spec.Files[ctrtest.SampleKernelPath] = ctrtest.File{HostPath: kpath}
	spec.Files[ctrtest.SampleInitrdPath] = ctrtest.File{HostPath: ipath}
	tarPath, err := ctrtest.BuildImage(dir, spec)
	if err != nil {
		return err
	}
	host.Progress("%d MiB: importing into containerd (%s)", mib, strings.Join(snapshotters, ", "))
	start := time.Now()
	ictx, cancel := c.opCtx(ctx)
	c.H.Image, err = ctrtest.Import(ictx, c.H.D.Client(), tarPath, snapshotters...)
	cancel()
	if err != nil {
		return err
	}
	host.Progress("%d MiB: imported in %s", mib, time.Since(start).Round(time.Millisecond))
	for _, p := range []string{tarPath, kpath, ipath} {
		if err := os.Remove(p); err != nil {
			return err
		}
	}
	return nil
}

// opCtx returns the context of one containerd operation that changes
// state (import, container or task create and delete): in the daemon's
// namespace, not cancelled with ctx, bounded by a timeout of its own. A
// Ctrl-C takes effect between operations, never in the middle of one: a
// task create cancelled half-way leaves a shim, its mounts and a runc init
// process behind that nothing deletes any more.
func (c *Env) opCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.H.D.Context(context.WithoutCancel(ctx)), opTimeout)
}

// Close stops the env (harness: the daemon, which kills and deletes tasks
// still there), detaches whatever is still mounted under the root and
// unmounts its tmpfs.
func (c *Env) Close() error {
	var errs []error
	if c.H != nil {
		errs = append(errs, c.H.Stop())
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

// leakError is what artifactfs left behind once things settle (harness's
// SettledLeftovers, up to 10s, also when ctx is done) as an error, or nil.
func (c *Env) leakError(ctx context.Context) error {
	if left := c.H.SettledLeftovers(ctx, 10*time.Second); len(left) > 0 {
		return fmt.Errorf("left behind after deleting every container:\n  %s", strings.Join(left, "\n  "))
	}
	return nil
}
