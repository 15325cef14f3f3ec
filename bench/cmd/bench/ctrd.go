package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

	"github.com/artifactfs/artifactfs/internal/artifact"
	"github.com/artifactfs/artifactfs/internal/ctrtest"
	"github.com/artifactfs/artifactfs/internal/testimage"
	"github.com/artifactfs/artifactfs/shimglue"
)

// What the containerd sections run: the artifactfs shim on blockfile, with
// an image holding a kernel of the measured size and a fixed initrd.
const (
	ctrdRuntime     = "io.containerd.artifactfs.v2"
	ctrdSnapshotter = "blockfile"
	ctrdImageName   = "docker.io/library/artifactfs-bench:latest"
	ctrdInitrdMiB   = 4
	ctrdReadBuf     = 1 << 20 // a VMM-like reader's read size
)

// Annotations of a container that gets a view, and of one that never does
// (urunc keeps its copy path).
var (
	ctrdGated = map[string]string{artifact.AnnotationSnapshotView: "true", artifact.AnnotationMountRootfs: "true"}
	ctrdPlain = map[string]string{artifact.AnnotationSnapshotView: "false"}
)

// ctrdTools is what every containerd section needs once: the shim binary
// (a directory for the daemon's PATH) and the containers' static entrypoint.
type ctrdTools struct {
	binDir string
	entry  []byte
}

// buildCtrdTools builds the real shim (no build tags) from the repository
// in the working directory into work/bin, and the test entrypoint.
func buildCtrdTools(ctx context.Context, work string) (*ctrdTools, error) {
	bin := filepath.Join(work, "bin")
	progress("building containerd-shim-artifactfs-v2 into %s", bin)
	goBin, err := ctrtest.GoTool()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", filepath.Join(bin, "containerd-shim-artifactfs-v2"), "./cmd/containerd-shim-artifactfs-v2")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build the shim (run from the repository root): %w\n%s", err, out)
	}
	entry, err := ctrtest.Entrypoint(work)
	if err != nil {
		return nil, err
	}
	if _, err := ctrtest.Binaries(); err != nil {
		return nil, fmt.Errorf("containerd binaries (make deps): %w", err)
	}
	return &ctrdTools{binDir: bin, entry: entry}, nil
}

// ctrdEnv is a private containerd laid out as on a production host: its
// state directory (bundles, the shim's state file) and ARTIFACTFS_ROOT on
// tmpfs, its root (bolt databases, blockfile's block files) on disk. It
// holds one image, imported into blockfile.
type ctrdEnv struct {
	d          *ctrtest.Daemon
	root       string // ARTIFACTFS_ROOT, a tmpfs we mounted
	img        client.Image
	kernelMiB  int
	kernelSize int64
	initrdSize int64
	kernelSum  string // sha256 of the kernel, to check what is served
}

// ctrdScratchMiB is the size of blockfile's scratch file for a kernel of
// mib: every layer and every container's rootfs is a full copy of it.
func ctrdScratchMiB(mib int) int { return mib + mib/4 + 48 + ctrdInitrdMiB }

// startCtrd starts a daemon for a kernel of mib MiB under work and imports
// the image. On error everything started is stopped again.
func startCtrd(ctx context.Context, t *ctrdTools, work string, mib int) (_ *ctrdEnv, err error) {
	c := &ctrdEnv{kernelMiB: mib, kernelSize: int64(mib) << 20, initrdSize: ctrdInitrdMiB << 20}
	defer func() {
		if err != nil {
			err = errors.Join(err, c.close())
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

	c.d, err = ctrtest.Start(ctx, ctrtest.Options{ExtraPath: []string{t.binDir}, Env: []string{shimglue.RootEnv + "=" + root},
		ScratchMiB: ctrdScratchMiB(mib), StateOnTmpfs: true})
	if err != nil {
		return nil, fmt.Errorf("start containerd: %w", err)
	}

	progress("%d MiB: building the image (kernel %d MiB, initrd %d MiB, urunc.json)", mib, mib, ctrdInitrdMiB)
	kernel := testimage.Payload(uint64(mib)+500, mib<<20)
	c.kernelSum = testimage.SHA256(kernel)
	kpath, ipath := filepath.Join(dir, "kernel"), filepath.Join(dir, "initrd")
	if err := os.WriteFile(kpath, kernel, 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(ipath, testimage.Payload(499, ctrdInitrdMiB<<20), 0o644); err != nil {
		return nil, err
	}
	spec, err := ctrtest.SampleImage(ctrdImageName, []byte{}, []byte{}, t.entry, nil)
	if err != nil {
		return nil, err
	}
	spec.Files[ctrtest.SampleKernelPath] = ctrtest.File{HostPath: kpath}
	spec.Files[ctrtest.SampleInitrdPath] = ctrtest.File{HostPath: ipath}
	tarPath, err := ctrtest.BuildImage(dir, spec)
	if err != nil {
		return nil, err
	}
	progress("%d MiB: importing into containerd (%s)", mib, ctrdSnapshotter)
	start := time.Now()
	ictx, cancel := c.opCtx(ctx)
	c.img, err = ctrtest.Import(ictx, c.d.Client(), tarPath, ctrdSnapshotter)
	cancel()
	if err != nil {
		return nil, err
	}
	progress("%d MiB: imported in %s", mib, time.Since(start).Round(time.Millisecond))
	for _, p := range []string{tarPath, kpath, ipath} {
		if err := os.Remove(p); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// ctx returns ctx in the daemon's namespace.
func (c *ctrdEnv) ctx(ctx context.Context) context.Context { return c.d.Context(ctx) }

// opCtx returns the context of one containerd operation that changes
// state (import, container or task create and delete): in the daemon's
// namespace, not cancelled with ctx, bounded by a timeout of its own. A
// Ctrl-C takes effect between operations, never in the middle of one: a
// task create cancelled half-way leaves a shim, its mounts and a runc init
// process behind that nothing deletes any more.
func (c *ctrdEnv) opCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.ctx(context.WithoutCancel(ctx)), 2*time.Minute)
}

// close stops the daemon (which kills and deletes tasks still there),
// detaches whatever is still mounted under the root and unmounts its tmpfs.
func (c *ctrdEnv) close() error {
	var errs []error
	if c.d != nil {
		if err := c.d.Stop(); err != nil {
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

// ctrdContainer is one container whose task is created and deleted again
// for every measurement (the shim prepares and releases the view each time).
type ctrdContainer struct {
	id  string
	ctr client.Container
}

// newContainer creates container id on blockfile with the artifactfs
// runtime, the image's entrypoint and the given annotations (untimed: the
// rootfs snapshot copies a block file).
func (c *ctrdEnv) newContainer(ctx context.Context, id string, ann map[string]string) (*ctrdContainer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ctx, cancel := c.opCtx(ctx)
	defer cancel()
	ctr, err := c.d.Client().NewContainer(ctx, id,
		client.WithSnapshotter(ctrdSnapshotter),
		client.WithNewSnapshot(id+"-rootfs", c.img),
		client.WithRuntime(ctrdRuntime, nil),
		client.WithNewSpec(oci.WithImageConfig(c.img), oci.WithAnnotations(ann)))
	if err != nil {
		return nil, fmt.Errorf("new container %s: %w", id, err)
	}
	return &ctrdContainer{id: id, ctr: ctr}, nil
}

// createTask creates the container's task (the shim's Create), not
// started, and returns how long NewTask took. It does not start when ctx
// is done, but once started it runs to the end (opCtx).
func (c *ctrdEnv) createTask(ctx context.Context, k *ctrdContainer) (time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	ctx, cancel := c.opCtx(ctx)
	defer cancel()
	start := time.Now()
	_, err := k.ctr.NewTask(ctx, cio.NullIO)
	d := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("create task %s: %w", k.id, err)
	}
	return d, nil
}

// deleteTask kills and deletes the container's task (the shim's Delete)
// and returns how long that took; it runs also when ctx is done, since
// deleting is what a Ctrl-C needs.
func (c *ctrdEnv) deleteTask(ctx context.Context, k *ctrdContainer) (time.Duration, error) {
	ctx, cancel := c.opCtx(ctx)
	defer cancel()
	t, err := k.ctr.Task(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("task of %s: %w", k.id, err)
	}
	start := time.Now()
	if _, err := t.Delete(ctx, client.WithProcessKill); err != nil {
		return 0, fmt.Errorf("delete task %s: %w", k.id, err)
	}
	return time.Since(start), nil
}

// removeContainers deletes the containers with their tasks and snapshots,
// also after ctx was cancelled.
func (c *ctrdEnv) removeContainers(ctx context.Context, ks []*ctrdContainer) error {
	ctx, cancel := context.WithTimeout(c.ctx(context.WithoutCancel(ctx)), 2*time.Minute)
	defer cancel()
	var errs []error
	for _, k := range ks {
		if t, err := k.ctr.Task(ctx, nil); err == nil {
			if _, err := t.Delete(ctx, client.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("delete task %s: %w", k.id, err))
			}
		}
		if err := k.ctr.Delete(ctx, client.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete container %s: %w", k.id, err))
		}
	}
	return errors.Join(errs...)
}

// withDaemon starts a daemon for a kernel of mib MiB holding a gated
// container (prefix-view) and a plain one (prefix-plain), runs body on
// them, then removes every container — the two and those body returns —
// checks that nothing is left behind, and stops the daemon; the removal
// and the stop also happen when body fails.
func withDaemon(ctx context.Context, t *ctrdTools, work string, mib int, prefix string,
	body func(c *ctrdEnv, gated, plain *ctrdContainer) ([]*ctrdContainer, error)) (err error) {
	c, err := startCtrd(ctx, t, work, mib)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, c.close()) }()
	var ks []*ctrdContainer
	defer func() {
		if ks != nil { // not removed yet: an error on the way
			err = errors.Join(err, c.removeContainers(ctx, ks))
		}
	}()
	gated, err := c.newContainer(ctx, prefix+"-view", ctrdGated)
	if err != nil {
		return err
	}
	ks = append(ks, gated)
	plain, err := c.newContainer(ctx, prefix+"-plain", ctrdPlain)
	if err != nil {
		return err
	}
	ks = append(ks, plain)
	more, err := body(c, gated, plain)
	ks = append(ks, more...)
	if err != nil {
		return err
	}
	rerr := c.removeContainers(ctx, ks)
	ks = nil
	if rerr != nil {
		return rerr
	}
	if left := c.leaks(ctx); len(left) > 0 {
		return fmt.Errorf("left behind after deleting every container:\n  %s", strings.Join(left, "\n  "))
	}
	return nil
}

// path returns the per-container path of k (urunc's bind source).
func (c *ctrdEnv) path(k *ctrdContainer) string {
	return filepath.Join(c.root, c.d.Namespace, k.id)
}

// rootfsMounts returns how to mount k's rootfs block file for the copy
// path: blockfile's mounts made read-only and without loading the journal
// (the shim holds the same file mounted read-write meanwhile, through
// another loop device).
func (c *ctrdEnv) rootfsMounts(ctx context.Context, k *ctrdContainer) ([]mount.Mount, error) {
	ms, err := c.d.Client().SnapshotService(ctrdSnapshotter).Mounts(c.ctx(ctx), k.id+"-rootfs")
	if err != nil {
		return nil, fmt.Errorf("rootfs mounts of %s: %w", k.id, err)
	}
	for i := range ms {
		ms[i].Options = append(slices.DeleteFunc(slices.Clone(ms[i].Options), func(o string) bool { return o == "rw" }), "ro", "noload")
	}
	return ms, nil
}

// ctrdCopyArtifacts is urunc's copy path for container k, whose rootfs mounts
// (rootfsMounts) are ms: mount them at mnt (a new loop device), copy
// kernel, initrd and urunc.json to dst (on tmpfs), unmount. It returns the
// time from mount to unmount; the caller removes dst.
func ctrdCopyArtifacts(k *ctrdContainer, ms []mount.Mount, mnt, dst string) (time.Duration, error) {
	if err := os.MkdirAll(mnt, 0o755); err != nil {
		return 0, err
	}
	start := time.Now()
	if err := mount.All(ms, mnt); err != nil {
		return 0, fmt.Errorf("mount the rootfs of %s: %w", k.id, err)
	}
	var cerr error
	for _, p := range []string{ctrtest.SampleKernelPath, ctrtest.SampleInitrdPath, ctrtest.SampleConfigPath} {
		if cerr = ctrdCopyFile(filepath.Join(mnt, p), filepath.Join(dst, p)); cerr != nil {
			break
		}
	}
	uerr := mount.UnmountAll(mnt, 0)
	d := time.Since(start)
	if err := errors.Join(cerr, uerr); err != nil {
		return 0, fmt.Errorf("copy path of %s: %w", k.id, err)
	}
	return d, nil
}

// ctrdCopyFile copies the file src to dst, making dst's parents.
func ctrdCopyFile(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// readArtifacts reads kernel and initrd under dir (the per-container path
// or the copies) and checks their sizes.
func (c *ctrdEnv) readArtifacts(dir string, buf []byte) error {
	for _, f := range []struct {
		p    string
		size int64
	}{{ctrtest.SampleKernelPath, c.kernelSize}, {ctrtest.SampleInitrdPath, c.initrdSize}} {
		n, err := readWhole(filepath.Join(dir, f.p), buf)
		if err != nil {
			return err
		}
		if n != f.size {
			return fmt.Errorf("%s: read %d bytes, want %d", f.p, n, f.size)
		}
	}
	return nil
}

// checkServed checks that k's per-container path serves the image's kernel.
func (c *ctrdEnv) checkServed(k *ctrdContainer) error {
	sum, err := fileSHA256(filepath.Join(c.path(k), ctrtest.SampleKernelPath))
	if err != nil {
		return fmt.Errorf("served kernel of %s: %w", k.id, err)
	}
	if hex.EncodeToString(sum) != c.kernelSum {
		return fmt.Errorf("served kernel of %s: sha256 %x, want %s", k.id, sum, c.kernelSum)
	}
	return nil
}

// leaks lists what artifactfs left behind, as the e2e tests check it:
// views and leases (view.List), what `artifactfs gc` would still remove,
// mounts under the root or the daemon's directory, loop devices over the
// daemon's files, per-container and view directories, bundles. It waits up
// to 10s for things to settle (containerd runs the shim's delete command
// after the shim exits), also when ctx is done.
func (c *ctrdEnv) leaks(ctx context.Context) []string {
	var out []string
	for deadline := time.Now().Add(10 * time.Second); ; {
		out = c.leaksNow(ctx)
		if len(out) == 0 || time.Now().After(deadline) {
			return out
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *ctrdEnv) leaksNow(ctx context.Context) []string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	return c.d.Leftovers(ctx, c.root, nil)
}

// ctrdCache is a page cache temperature: cold (dropped before the step)
// or warm (kept, as on a busy host).
type ctrdCache int

const (
	ctrdCold ctrdCache = iota
	ctrdWarm
)

// ctrdCaches lists both, in the order they are measured and reported.
var ctrdCaches = []ctrdCache{ctrdCold, ctrdWarm}

func (t ctrdCache) String() string { return [...]string{"cold", "warm"}[t] }

// prepare drops the page cache for a cold step; a warm one keeps it.
func (t ctrdCache) prepare() error {
	if t == ctrdCold {
		if err := dropCaches(); err != nil {
			return fmt.Errorf("drop caches: %w", err)
		}
	}
	return nil
}

// ctrdAddMs appends d, in milliseconds, to s.
func ctrdAddMs(s *stats, d time.Duration) { s.runs = append(s.runs, float64(d.Microseconds())/1000) }

// ctrdMsCell renders "median (min–max)" in milliseconds.
func ctrdMsCell(s stats) string {
	if len(s.runs) == 0 {
		return "–"
	}
	return fmt.Sprintf("%s (%s–%s)", ctrdFmtMs(s.median()), ctrdFmtMs(s.min()), ctrdFmtMs(s.max()))
}

// ctrdFmtMs prints a millisecond figure with about three significant digits.
func ctrdFmtMs(v float64) string {
	switch a := math.Abs(v); {
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// ctrdTimes renders the median of a over the median of b, e.g. "12.3×".
func ctrdTimes(a, b stats) string {
	if len(a.runs) == 0 || b.median() == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f×", a.median()/b.median())
}

// ctrdSeries is one line of a ctrdSizePlot: medians per kernel size.
type ctrdSeries struct {
	name   string
	vals   []float64 // one per size; values ≤ 0 are left out
	color  int       // plotutil.Color index
	dashed bool
}

// ctrdSizePlot draws series against kernel size, both axes logarithmic.
func ctrdSizePlot(title, unit string, sizes []int, series []ctrdSeries) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "artifactfs: " + title
	p.X.Label.Text = "kernel size, MiB"
	p.Y.Label.Text = unit
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	var ticks plot.ConstantTicks
	for _, s := range sizes {
		ticks = append(ticks, plot.Tick{Value: float64(s), Label: fmt.Sprint(s)})
	}
	p.X.Tick.Marker = ticks
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Legend.Top, p.Legend.Left = true, true
	lo, hi := math.Inf(1), 0.0
	for _, s := range series {
		var xys plotter.XYs
		for i, v := range s.vals {
			if v > 0 && i < len(sizes) {
				xys = append(xys, plotter.XY{X: float64(sizes[i]), Y: v})
				lo, hi = min(lo, v), max(hi, v)
			}
		}
		if len(xys) == 0 {
			continue
		}
		l, pts, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, err
		}
		l.Color, pts.Color = plotutil.Color(s.color), plotutil.Color(s.color)
		l.Width = vg.Points(2)
		if s.dashed {
			l.Dashes = []vg.Length{vg.Points(6), vg.Points(4)}
		}
		p.Add(l, pts)
		p.Legend.Add(s.name, l, pts)
	}
	if hi > 0 {
		// From the power of ten below the lowest (two labelled ticks at
		// least), with room for the legend above the lines.
		p.Y.Min, p.Y.Max = math.Pow(10, math.Floor(math.Log10(lo/1.2))), hi*8
	}
	if len(sizes) > 0 {
		p.X.Min, p.X.Max = float64(sizes[0])/1.5, float64(sizes[len(sizes)-1])*1.5
	}
	return p, nil
}

// ctrdCopyDir is where the copy path puts its copies: a directory on
// /dev/shm (tmpfs, as urunc's /run is on a real host).
func ctrdCopyDir() string {
	return filepath.Join("/dev/shm", fmt.Sprintf("artifactfs-bench-%d", os.Getpid()))
}
