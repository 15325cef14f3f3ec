package fs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"syscall"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/artifactfs/artifactfs/internal/source"
)

// fileNode is one artifact. Its source file is opened on the first Open
// and shared by every later open until the server stops.
type fileNode struct {
	fusefs.Inode

	root *Root
	path string
	info source.Info

	mu   sync.Mutex // serializes opening and closing the source file
	open atomic.Pointer[openFile]
}

// openFile is the shared source file of a node.
type openFile struct {
	f source.File
	// fd is the host descriptor of an FdFile, or -1.
	fd int
	// spans is f when it can tell where its bytes lie in a host file.
	spans hostSpanner
}

// passthroughHandle lets go-fuse register the source file's descriptor
// with the kernel, which then serves reads without asking this process.
type passthroughHandle struct {
	fd int
}

// PassthroughFd returns the descriptor of the whole source file.
func (h *passthroughHandle) PassthroughFd() (int, bool) { return h.fd, true }

// Getattr reports the artifact's size, mode (write bits dropped), mtime and
// link count as the source has them.
func (n *fileNode) Getattr(ctx context.Context, f fusefs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	fillAttr(&out.Attr, n.info, n.info.Nlink)
	return 0
}

// Open refuses write access with EROFS and opens the source file once.
// The content never changes, so the kernel may keep its page cache across
// opens (FOPEN_KEEP_CACHE), and there is nothing to flush on close
// (FOPEN_NOFLUSH spares close(2) a round trip). With passthrough the
// kernel reads the source file directly. An open by a thread of this
// process first runs pollHack.
func (n *fileNode) Open(ctx context.Context, flags uint32) (fusefs.FileHandle, uint32, syscall.Errno) {
	if flags&syscall.O_ACCMODE != syscall.O_RDONLY || flags&syscall.O_TRUNC != 0 {
		return nil, 0, syscall.EROFS
	}
	n.root.modeMu.RLock()
	passthrough := n.root.passthrough.Load()
	n.root.modeMu.RUnlock()
	if !n.root.polled.Load() && calledFromThisProcess(ctx) {
		n.root.pollHack()
	}

	of, err := n.file()
	if err != nil {
		n.root.log.Error().Err(err).Str("path", n.path).Msg("open artifact")
		return nil, 0, syscall.EIO
	}
	const openFlags = fuse.FOPEN_KEEP_CACHE | fuse.FOPEN_NOFLUSH
	// Checked again at each open: a read-only mount can be remounted
	// read-write, and then the file could grow past the recorded size.
	if passthrough && of.fd >= 0 && isImmutable(of.fd) {
		return &passthroughHandle{fd: of.fd}, openFlags, 0
	}
	return nil, openFlags, 0
}

// Read answers a read of len(dest) bytes at off, never past the size
// recorded when the tree was built (a source file that grew since is cut
// there, and Getattr keeps reporting that size): where it can, with the
// bytes spliced from the page cache of the host file holding them (see
// spliceRead), otherwise by filling dest from the source file. A source
// error is logged and reported as EIO.
func (n *fileNode) Read(ctx context.Context, f fusefs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	of, err := n.file()
	if err != nil {
		n.root.log.Error().Err(err).Str("path", n.path).Msg("open artifact")
		return nil, syscall.EIO
	}
	if off >= n.info.Size {
		return fuse.ReadResultData(nil), 0
	}
	if rest := n.info.Size - off; int64(len(dest)) > rest {
		dest = dest[:rest]
	}
	if res := of.spliceRead(off, len(dest)); res != nil {
		return res, 0
	}
	got, err := of.f.ReadAt(dest, off)
	if err != nil && !errors.Is(err, io.EOF) {
		n.root.log.Error().Err(err).Str("path", n.path).Int64("offset", off).Int("length", len(dest)).
			Msg("read artifact")
		return nil, syscall.EIO
	}
	return fuse.ReadResultData(dest[:got]), 0
}

// file returns the node's shared source file, opening it on first use.
func (n *fileNode) file() (*openFile, error) {
	if of := n.open.Load(); of != nil {
		return of, nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if of := n.open.Load(); of != nil {
		return of, nil
	}
	f, err := n.root.src.Open(n.path)
	if err != nil {
		return nil, fmt.Errorf("open %s in %s: %w", n.path, n.root.src, err)
	}
	of := &openFile{f: f, fd: -1}
	if fdf, ok := f.(source.FdFile); ok {
		of.fd = int(fdf.Fd())
	} else if hs, ok := f.(hostSpanner); ok {
		of.spans = hs
	}
	n.open.Store(of)
	return of, nil
}

// close closes the shared source file, if it was opened.
func (n *fileNode) close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	of := n.open.Swap(nil)
	if of == nil {
		return nil
	}
	if err := of.f.Close(); err != nil {
		return fmt.Errorf("close %s in %s: %w", n.path, n.root.src, err)
	}
	return nil
}

// calledFromThisProcess reports whether a request comes from a thread of
// this process.
func calledFromThisProcess(ctx context.Context) bool {
	c, ok := fuse.FromContext(ctx)
	return ok && c.Pid != 0 && unix.Tgkill(unix.Getpid(), int(c.Pid), 0) == nil
}

// pollHack makes the kernel learn that this server does not implement
// poll(2), once, as go-fuse's WaitMount does: it opens, polls and closes a
// file that go-fuse answers for itself. Open runs it before it lets a
// thread of this process open a file of the mount. Without it such an open
// could deadlock: the Go runtime adds every file it opens to its epoll set,
// for which FUSE sends a POLL request while the runtime holds on to its
// processor, and once every processor waits so, no goroutine is left to
// answer (golang/go#21014).
//
// Mount does not run it for every mount, as go-fuse would: a process that
// is killed while it waits for an answer from its own mount cannot exit
// (the wait is uninterruptible, and the answer would have to come from the
// dying process), and its mount then hangs for good instead of going
// stale. A server that only serves other processes, like the shim's, never
// sends requests to its own mount.
func (r *Root) pollHack() {
	r.pollOnce.Do(func() {
		defer r.polled.Store(true)
		if r.server == nil {
			return
		}
		if err := r.server.WaitMount(); err != nil {
			r.log.Warn().Err(err).Msg("telling the kernel that poll is not implemented failed")
		}
	})
}
