package fs

import (
	"github.com/artifactfs/artifactfs/internal/mounttable"

	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

// FSType is the filesystem type of every artifactfs FUSE mount in the
// mount table ("fuse." plus the subtype), whatever its FSName.
const FSType = "fuse.artifactfs"

// Options configures a mount. Each field's comment states its default.
type Options struct {
	// Passthrough lets the kernel read the source files directly when the
	// source offers host file descriptors (a directory source) of files
	// that cannot change (on a read-only mount, or immutable: the kernel
	// would read a growing file past the recorded size); Mount checks that
	// the kernel accepts them and falls back to serving reads itself,
	// clamped to the recorded sizes, otherwise, reported by Mounted.Mode
	// and PassthroughErr. Default false.
	Passthrough bool
	// AllowOther lets users other than the mounting one access the mount.
	// Default false.
	AllowOther bool
	// Debug logs every FUSE request and reply (go-fuse's debug output) at
	// zerolog debug level. Default false.
	Debug bool
	// FSName is the mount's source column in /proc/mounts. Default
	// "artifactfs".
	FSName string
	// Timeout bounds each look at the mountpoint before mounting (lstat,
	// statfs): a FUSE mount already there whose server hangs makes Mount
	// fail with an error wrapping ErrHung instead of blocking. Default
	// DefaultTimeout.
	Timeout time.Duration
}

// Tuning of every mount.
const (
	// cacheTimeout is how long the kernel may cache entries, attributes
	// and failed lookups: the tree and its content never change.
	cacheTimeout = 24 * time.Hour
	// maxRead is the largest read request; readSize lowers it to what a
	// splice pipe holds, and the kernel caps it further
	// (fs.fuse.max_pages_limit).
	maxRead = 1 << 20
	// minSpliceRead is the smallest read request worth lowering maxRead
	// to so that every read can be spliced.
	minSpliceRead = 256 << 10
	// readAheadRequests is how many read requests of readSize the
	// kernel's readahead window spans in server mode (readAheadKB).
	readAheadRequests = 2
	// maxStackDepth lets passthrough accept source files on a stacked
	// filesystem such as overlayfs (a containerd overlay view); the price
	// is that the mount itself cannot be an overlayfs layer, which nothing
	// needs.
	maxStackDepth = 2
	// mountFlags make every mount read-only, nosuid and nodev.
	mountFlags = syscall.MS_RDONLY | syscall.MS_NOSUID | syscall.MS_NODEV
)

// Mounted is a mounted artifact tree, returned by Mount.
type Mounted struct {
	mountpoint string
	root       *Root
	server     *fuse.Server
	mode       string
	ptErr      error
	log        zerolog.Logger

	done      chan struct{} // closed once the server stopped and files are closed
	closeErr  error
	unmountMu sync.Mutex
}

// Mount mounts root at mountpoint, read-only, nosuid and nodev, and returns
// once the mount serves requests. A stale mount left at mountpoint by a
// server that is gone is detached first; a live FUSE mount there is an
// error, and so is one whose server does not answer within opts.Timeout
// (ErrHung) and a mountpoint that is a symlink (ErrSymlinkMountpoint). Mount uses mount(2) directly and falls back to fusermount3 when
// that is not permitted. A Root is mounted at most once. Mount sends no
// request to the mount itself (see Root.pollHack).
func Mount(ctx context.Context, mountpoint string, root *Root, opts Options) (*Mounted, error) {
	mp, err := mounttable.Canonical(mountpoint)
	if err != nil {
		return nil, err
	}
	if opts.FSName == "" {
		opts.FSName = "artifactfs"
	}
	log := zerolog.Ctx(ctx).With().Str("mountpoint", mp).Str("source", root.src.String()).Logger()
	if root.mounted.Load() {
		return nil, fmt.Errorf("mount %s: the tree was mounted before", mp)
	}
	if err := checkNotSymlink(mp, opts.Timeout); err != nil {
		return nil, err
	}
	if cleaned, err := cleanStale(mp, opts.Timeout); err != nil {
		return nil, err
	} else if cleaned {
		log.Warn().Msg("detached a stale FUSE mount whose server was gone")
	}
	if err := checkNotMounted(mp, opts.Timeout); err != nil {
		return nil, err
	}
	// go-fuse attaches the tree to one server for good.
	if !root.mounted.CompareAndSwap(false, true) {
		return nil, fmt.Errorf("mount %s: the tree was mounted before", mp)
	}
	root.log = log

	// Hold opens back until the serving mode is known.
	root.modeMu.Lock()
	defer root.modeMu.Unlock()
	start := time.Now()
	server, how, err := newServer(mp, root, opts, log)
	if err != nil {
		return nil, err
	}
	m := &Mounted{mountpoint: mp, root: root, server: server, mode: ModeServer, log: log, done: make(chan struct{})}
	root.server = server
	// Not server.WaitMount: see Root.pollHack.
	go m.serve()
	if opts.Passthrough {
		if m.ptErr = root.probePassthrough(server); m.ptErr == nil {
			m.mode = ModePassthrough
		}
	}
	root.passthrough.Store(m.mode == ModePassthrough)
	if m.mode == ModeServer {
		// Before any open: a file keeps the window it was opened with.
		if err := setReadAhead(mp, readAheadKB()); err != nil {
			log.Debug().Err(err).Msg("readahead stays at the FUSE default")
		}
	}
	ev := log.Info()
	if m.ptErr != nil && !errors.Is(m.ptErr, ErrNoHostFd) && !errors.Is(m.ptErr, ErrMutable) {
		ev = log.Warn()
	}
	ev.Str("mode", m.mode).AnErr("passthrough_error", m.ptErr).Str("via", how).
		Dur("setup", time.Since(start)).Msg("mounted")
	return m, nil
}

// newServer mounts the tree and performs the FUSE handshake, with
// mount(2) and then, if that is not permitted, with fusermount3.
func newServer(mp string, root *Root, opts Options, log zerolog.Logger) (*fuse.Server, string, error) {
	timeout := cacheTimeout
	raw := fusefs.NewNodeFS(root, &fusefs.Options{
		EntryTimeout:    &timeout,
		AttrTimeout:     &timeout,
		NegativeTimeout: &timeout,
		NullPermissions: true, // mode 0 stays 0
		Logger:          goFuseLogger(log),
	})
	mo := fuse.MountOptions{
		AllowOther:        opts.AllowOther,
		Options:           []string{"ro", "nosuid", "nodev", "default_permissions"},
		DirectMountStrict: true,
		DirectMountFlags:  mountFlags,
		FsName:            opts.FSName,
		Name:              "artifactfs",
		MaxWrite:          readSize(),
		MaxStackDepth:     maxStackDepth,
		DisableXAttrs:     true,
		Debug:             opts.Debug,
		Logger:            goFuseLogger(log),
		PanicHandler:      panicHandler(log),
	}
	server, err := fuse.NewServer(raw, mp, &mo)
	how := "mount(2)"
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		log.Debug().Err(err).Msg("direct mount not permitted, trying fusermount3")
		mo.DirectMountStrict = false
		server, err = fuse.NewServer(raw, mp, &mo)
		how = "fusermount3"
	}
	if err != nil {
		// A failed handshake leaves a dead mount behind.
		_, _ = CleanStale(mp)
		return nil, "", fmt.Errorf("mount %s via %s: %w", mp, how, err)
	}
	return server, how, nil
}

// checkNotMounted refuses a mountpoint where a live FUSE filesystem is
// already mounted: mounting on top would hide it. Only statfs (bounded by
// timeout) is needed in the common case, not the mount table.
func checkNotMounted(mp string, timeout time.Duration) error {
	sfs, err := statfsWithin(mp, timeout)
	if errors.Is(err, ErrHung) {
		return err // names the statfs of mp
	}
	if err != nil {
		return fmt.Errorf("mountpoint %s: %w", mp, err)
	}
	if sfs.Type != unix.FUSE_SUPER_MAGIC {
		return nil
	}
	if e, ok, err := mounttable.Find(mp); err != nil {
		return err
	} else if ok {
		return fmt.Errorf("mountpoint %s: a %s filesystem from %s is already mounted there", mp, e.FSType, e.Source)
	}
	return nil
}

// serve runs the FUSE server until the mount goes away, then closes the
// source files the tree opened.
func (m *Mounted) serve() {
	m.server.Serve()
	m.closeErr = m.root.closeFiles()
	if m.closeErr != nil {
		m.log.Warn().Err(m.closeErr).Msg("close artifact files")
	}
	m.log.Info().Msg("unmounted")
	close(m.done)
}

// Mode reports who serves reads: ModePassthrough (the kernel reads the
// source files directly) or ModeServer (this process).
func (m *Mounted) Mode() string { return m.mode }

// PassthroughErr tells why a mount asked for passthrough serves in
// ModeServer (wrapping ErrNoHostFd for a source without host files); nil
// when passthrough is used or was not asked for.
func (m *Mounted) PassthroughErr() error { return m.ptErr }

// Mountpoint returns the absolute path the tree is mounted at.
func (m *Mounted) Mountpoint() string { return m.mountpoint }

// Unmount unmounts the tree and waits for the server to stop. When a file
// on the mount is still open, it detaches the mount instead (MNT_DETACH):
// the path is free at once, the open files are served until closed, and
// the returned error wraps ErrDetached. Unmounting an unmounted tree is a
// no-op.
func (m *Mounted) Unmount() error {
	m.unmountMu.Lock()
	defer m.unmountMu.Unlock()
	select {
	case <-m.done:
		return nil
	default:
	}
	err := unmountPath(m.mountpoint, false)
	switch {
	case err == nil:
		<-m.done
		return nil
	case errors.Is(err, unix.EBUSY):
		if err := unmountPath(m.mountpoint, true); err != nil {
			return fmt.Errorf("unmount %s: busy, and detaching failed: %w", m.mountpoint, err)
		}
		m.log.Warn().Msg("mount busy: detached lazily; open files are served until closed")
		return fmt.Errorf("unmount %s: %w", m.mountpoint, ErrDetached)
	case errors.Is(err, unix.EINVAL):
		// Not mounted any more: unmounted from outside, or already
		// detached. The server stops once the kernel lets go.
		return nil
	default:
		return fmt.Errorf("unmount %s: %w", m.mountpoint, err)
	}
}

// Wait blocks until the tree is unmounted, by Unmount or from outside
// (umount), and the server has stopped.
func (m *Mounted) Wait() { <-m.done }

// readAheadKB is the readahead window of a mount in server mode, in KiB:
// readAheadRequests requests of readSize, which a sequential read keeps in
// flight. FUSE's own window is 128 KiB, a round trip per 128 KiB; larger
// windows than this measured no faster.
func readAheadKB() int { return readAheadRequests * readSize() >> 10 }

// setReadAhead sets the kernel's readahead window for the files of the
// FUSE mount at mp to kb KiB. FUSE takes the window from the INIT reply
// but never above the 128 KiB it starts with, so the only way up is the
// mount's backing device info in sysfs, which only root may write. It must
// run before a file is opened: an open file keeps the window it was opened
// with.
func setReadAhead(mp string, kb int) error {
	// AT_STATX_DONT_SYNC: the device number needs no GETATTR round trip.
	var stx unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, mp, unix.AT_STATX_DONT_SYNC, 0, &stx); err != nil {
		return fmt.Errorf("statx %s: %w", mp, err)
	}
	p := fmt.Sprintf("/sys/class/bdi/%d:%d/read_ahead_kb", stx.Dev_major, stx.Dev_minor)
	if err := os.WriteFile(p, []byte(strconv.Itoa(kb)), 0); err != nil {
		return fmt.Errorf("set readahead of %s: %w", mp, err)
	}
	return nil
}
