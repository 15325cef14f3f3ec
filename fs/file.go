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
// The content never changes, so the kernel may keep its page cache; with
// passthrough the kernel reads the source file directly.
func (n *fileNode) Open(ctx context.Context, flags uint32) (fusefs.FileHandle, uint32, syscall.Errno) {
	if flags&syscall.O_ACCMODE != syscall.O_RDONLY || flags&syscall.O_TRUNC != 0 {
		return nil, 0, syscall.EROFS
	}
	n.root.modeMu.RLock()
	passthrough := n.root.passthrough.Load()
	n.root.modeMu.RUnlock()

	of, err := n.file()
	if err != nil {
		n.root.log.Error().Err(err).Str("path", n.path).Msg("open artifact")
		return nil, 0, syscall.EIO
	}
	if passthrough && of.fd >= 0 {
		return &passthroughHandle{fd: of.fd}, fuse.FOPEN_KEEP_CACHE, 0
	}
	return nil, fuse.FOPEN_KEEP_CACHE, 0
}

// Read fills dest from the source file at off. A source error is logged
// and reported as EIO.
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
