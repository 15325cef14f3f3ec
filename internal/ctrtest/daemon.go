package ctrtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/leases"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"golang.org/x/sys/unix"
)

// Options configure Start. The zero value is a daemon in a fresh temp dir,
// with the cached binaries and a namespace of its own.
type Options struct {
	// Dir is the work directory holding config, socket, root, state, log and
	// the blockfile scratch file. Default: a new directory under os.TempDir,
	// removed by Stop (kept short: unix socket paths are limited to 108 bytes).
	Dir string
	// Version is the containerd release the daemon is ("v1.7.35"): it
	// picks the config's layout (1.7 and 2.x spell it differently) and,
	// when BinDir is empty, the binaries (VersionBinaries). Default
	// ContainerdVersion.
	Version string
	// BinDir holds containerd and ctr of Version, and
	// containerd-shim-runc-v2 unless the daemon should take ContainerdVersion's
	// (Binaries()), which serves every release line. Default:
	// VersionBinaries(Version).
	BinDir string
	// ExtraPath lists directories put on the daemon's PATH before BinDir, so
	// that it finds more shims (e.g. containerd-shim-artifactfs-v2). Default none.
	ExtraPath []string
	// Env lists "KEY=value" entries added to the daemon's environment, which
	// it passes on to its shims (e.g. ARTIFACTFS_ROOT). Default none: the
	// caller's environment.
	Env []string
	// Namespace is the client's default namespace. Default: "ctrtest-<pid>-<rand>",
	// unique on the host so that runc state and cgroups under it are ours.
	Namespace string
	// ScratchMiB is the size of blockfile's scratch ext4 file, which every
	// blockfile layer copies in full. Default 64.
	ScratchMiB int
	// LogLevel is the daemon's --log-level. Default "info".
	LogLevel string
	// ReadyTimeout bounds the wait for the daemon to answer. Default 30s.
	ReadyTimeout time.Duration
	// StateOnTmpfs mounts a tmpfs on the state directory (bundles, shim
	// state), as on hosts where it lives under /run; the root stays on
	// Dir's filesystem. Stop unmounts it. Default false.
	StateOnTmpfs bool
	// StateTmpfsMiB is the size of that tmpfs in MiB, small enough for a
	// test to fill it (ENOSPC). Default 0: tmpfs's default, half of RAM.
	StateTmpfsMiB int
	// CRI, when not nil, turns containerd's CRI plugin on (see CRIOptions);
	// the client's namespace stays Namespace, CRI's is CRINamespace.
	// Default nil: CRI off.
	CRI *CRIOptions
}

// Daemon is a running private containerd.
type Daemon struct {
	// Dir is the work directory; Root and State are containerd's root and
	// state directories inside it.
	Dir, Root, State string
	// Address is the gRPC socket; ConfigPath and LogPath the config and the
	// daemon's combined output.
	Address, ConfigPath, LogPath string
	// Namespace is the client's default namespace.
	Namespace string
	// BinDir holds the daemon's binaries (ctr among them).
	BinDir string
	// Version is the daemon's containerd release (Options.Version).
	Version string

	client   *client.Client
	cmd      *exec.Cmd
	env      []string // the daemon's environment, kept for Restart
	logLevel string
	exited   chan struct{}
	waitErr  error
	ownsDir  bool
	tmpfs    bool     // State is a tmpfs mounted by Start
	madeRun  []string // directories under /run/containerd that Start found missing
	stopOnce sync.Once
	stopErr  error
}

// runDirs are the shared directories containerd, shims and ctr create; Stop
// removes those that did not exist before Start, when empty.
var runDirs = []string{"/run/containerd", "/run/containerd/s", "/run/containerd/runc", "/run/containerd/fifo"}

// Start runs a private containerd configured as ENVIRONMENT.md describes
// (config version 3, or 2 for 1.7; CRI and NRI off, blockfile on a small
// ext4 scratch file, unpack platforms for overlayfs and blockfile) and
// returns once it answers. It needs root. Call Stop when done, also when Start's caller fails.
func Start(ctx context.Context, opts Options) (_ *Daemon, err error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("start containerd: needs root")
	}
	if opts.Version == "" {
		opts.Version = ContainerdVersion
	}
	lay, err := layoutFor(opts.Version)
	if err != nil {
		return nil, fmt.Errorf("start containerd: %w", err)
	}
	if opts.BinDir == "" {
		if opts.BinDir, err = VersionBinaries(opts.Version); err != nil {
			return nil, err
		}
	}
	pathDirs := append(append([]string{}, opts.ExtraPath...), opts.BinDir)
	if _, err := os.Stat(filepath.Join(opts.BinDir, "containerd-shim-runc-v2")); err != nil {
		runcShim, err := Binaries()
		if err != nil {
			return nil, err
		}
		pathDirs = append(pathDirs, runcShim)
	}
	if opts.Namespace == "" {
		opts.Namespace = fmt.Sprintf("ctrtest-%d-%s", os.Getpid(), randomHex(3))
	}
	if opts.ScratchMiB == 0 {
		opts.ScratchMiB = 64
	}
	if opts.LogLevel == "" {
		opts.LogLevel = "info"
	}
	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = 30 * time.Second
	}
	d := &Daemon{Dir: opts.Dir, Namespace: opts.Namespace, BinDir: opts.BinDir, Version: opts.Version, exited: make(chan struct{}), logLevel: opts.LogLevel}
	if d.Dir == "" {
		if d.Dir, err = os.MkdirTemp("", "ctrd-"); err != nil {
			return nil, fmt.Errorf("start containerd: %w", err)
		}
		d.ownsDir = true
	}
	defer func() {
		if err != nil {
			_ = d.Stop()
		}
	}()
	d.Root, d.State = filepath.Join(d.Dir, "root"), filepath.Join(d.Dir, "state")
	d.Address = filepath.Join(d.Dir, "containerd.sock")
	d.ConfigPath, d.LogPath = filepath.Join(d.Dir, "config.toml"), filepath.Join(d.Dir, "containerd.log")
	for _, dir := range runDirs {
		if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
			d.madeRun = append(d.madeRun, dir)
		}
	}

	if opts.StateOnTmpfs {
		if err := os.MkdirAll(d.State, 0o711); err != nil {
			return nil, fmt.Errorf("start containerd: %w", err)
		}
		data := "mode=0711"
		if opts.StateTmpfsMiB > 0 {
			data += fmt.Sprintf(",size=%dm", opts.StateTmpfsMiB)
		}
		if err := unix.Mount("tmpfs", d.State, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, data); err != nil {
			return nil, fmt.Errorf("start containerd: tmpfs on %s: %w", d.State, err)
		}
		d.tmpfs = true
	}

	scratch := filepath.Join(d.Dir, "scratch.ext4")
	if err := makeScratch(scratch, opts.ScratchMiB); err != nil {
		return nil, err
	}
	cfg := config(lay, d.Dir, lay.criOff())
	if opts.CRI != nil {
		if cfg, err = criConfig(lay, d.Dir, *opts.CRI); err != nil {
			return nil, err
		}
		if err := criDirs(d.Dir); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(d.ConfigPath, []byte(cfg), 0o644); err != nil {
		return nil, fmt.Errorf("start containerd: %w", err)
	}
	path := strings.Join(append(pathDirs, os.Getenv("PATH")), ":")
	d.env = append(append(os.Environ(), opts.Env...), "PATH="+path)
	if err := d.launch(); err != nil {
		return nil, err
	}
	if err := d.waitReady(ctx, opts.ReadyTimeout); err != nil {
		return nil, err
	}
	return d, nil
}

// waitReady polls the socket until the version service answers.
func (d *Daemon) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-d.exited:
			return fmt.Errorf("containerd exited while starting: %v\n%s", d.waitErr, d.LogTail(4096))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if _, err := os.Stat(d.Address); err != nil {
			last = err
			continue
		}
		if d.client == nil {
			c, err := client.New(d.Address, client.WithDefaultNamespace(d.Namespace), client.WithTimeout(5*time.Second))
			if err != nil {
				return fmt.Errorf("containerd client: %w", err)
			}
			d.client = c
		}
		vctx, cancel := context.WithTimeout(ctx, time.Second)
		_, last = d.client.Version(vctx)
		cancel()
		if last == nil {
			return nil
		}
	}
	return fmt.Errorf("containerd not ready after %s: %v\n%s", timeout, last, d.LogTail(4096))
}

// Client returns the daemon's client, whose default namespace is
// d.Namespace. Stop closes it.
func (d *Daemon) Client() *client.Client { return d.client }

// StateTmpfs reports whether State is a tmpfs Start mounted
// (Options.StateOnTmpfs) that Stop has not unmounted yet: the daemon's
// own mount, not a leak.
func (d *Daemon) StateTmpfs() bool { return d.tmpfs }

// Context returns ctx carrying d.Namespace.
func (d *Daemon) Context(ctx context.Context) context.Context {
	return namespaces.WithNamespace(ctx, d.Namespace)
}

// Ctr returns a ctr command talking to this daemon in its namespace.
func (d *Daemon) Ctr(args ...string) *exec.Cmd {
	return exec.Command(filepath.Join(d.BinDir, "ctr"),
		append([]string{"--address", d.Address, "--namespace", d.Namespace}, args...)...)
}

// GC runs one garbage collection pass of the metadata store and waits for
// it: it creates a throwaway lease and deletes it synchronously.
func (d *Daemon) GC(ctx context.Context) error {
	ctx = namespaces.WithNamespace(ctx, namespaceOr(ctx, d.Namespace))
	ls := d.client.LeasesService()
	l, err := ls.Create(ctx, leases.WithID("ctrtest-gc-"+randomHex(6)))
	if err != nil {
		return fmt.Errorf("gc: create lease: %w", err)
	}
	if err := ls.Delete(ctx, l, leases.SynchronousDelete); err != nil {
		return fmt.Errorf("gc: %w", err)
	}
	return nil
}

// LogTail returns up to n bytes of the end of the daemon's log.
func (d *Daemon) LogTail(n int64) string {
	f, err := os.Open(d.LogPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > n {
		_, _ = f.Seek(st.Size()-n, 0)
	}
	b := make([]byte, n)
	k, _ := f.Read(b)
	return string(b[:k])
}

// criOff are the plugins a daemon of layout l disables to run without
// CRI; NRI stays off in every daemon.
func (l layout) criOff() []string {
	if l.legacyCRI {
		return []string{"io.containerd.grpc.v1.cri", "io.containerd.nri.v1.nri"}
	}
	return []string{"io.containerd.grpc.v1.cri", "io.containerd.cri.v1.images",
		"io.containerd.cri.v1.runtime", "io.containerd.podsandbox.controller.v1.podsandbox",
		"io.containerd.nri.v1.nri"}
}

// config is ENVIRONMENT.md's verified configuration in work directory w,
// spelled for layout l, with the plugins disabled; native and overlayfs
// need no section.
func config(l layout, w string, disabled []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "version = %d\nroot = %q\nstate = %q\n", l.configVersion, filepath.Join(w, "root"), filepath.Join(w, "state"))
	fmt.Fprintf(&b, "disabled_plugins = %s\n", tomlStrings(disabled))
	fmt.Fprintf(&b, "[grpc]\n  address = %q\n[ttrpc]\n  address = %q\n",
		filepath.Join(w, "containerd.sock"), filepath.Join(w, "containerd.sock.ttrpc"))
	fmt.Fprintf(&b, "[plugins]\n  [plugins.'io.containerd.internal.v1.opt']\n    path = %q\n", filepath.Join(w, "opt"))
	fmt.Fprintf(&b, "  [plugins.'io.containerd.snapshotter.v1.blockfile']\n    scratch_file = %q\n    fs_type = 'ext4'\n",
		filepath.Join(w, "scratch.ext4"))
	if l.blockfileLoop {
		b.WriteString("    mount_options = ['loop']\n")
	} else {
		b.WriteString("    mount_options = []\n")
	}
	if l.recreateScratch {
		b.WriteString("    recreate_scratch = true\n")
	}
	b.WriteString("  [plugins.'io.containerd.transfer.v1.local']\n")
	for _, sn := range []string{"overlayfs", "blockfile"} {
		fmt.Fprintf(&b, "    [[plugins.'io.containerd.transfer.v1.local'.unpack_config]]\n      platform = \"linux/amd64\"\n      snapshotter = %q\n", sn)
	}
	return b.String()
}

// makeScratch writes blockfile's empty ext4 scratch file.
func makeScratch(path string, mib int) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("scratch file: %w", err)
	}
	err = f.Truncate(int64(mib) << 20)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("scratch file: %w", err)
	}
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", path).CombinedOutput(); err != nil {
		return fmt.Errorf("mkfs.ext4 scratch file: %w\n%s", err, out)
	}
	return nil
}

func namespaceOr(ctx context.Context, def string) string {
	if ns, ok := namespaces.Namespace(ctx); ok {
		return ns
	}
	return def
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
