package blockreader

import (
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"github.com/diskfs/go-diskfs/filesystem/ext4"

	"github.com/artifactfs/artifactfs/internal/imagepath"
	"github.com/artifactfs/artifactfs/internal/source"
)

const (
	// DefaultMaxDirSize is the largest directory read unless WithMaxDirSize
	// says otherwise. go-diskfs reads a whole directory into memory.
	DefaultMaxDirSize = 64 << 20
	// DefaultMaxExtents bounds the extents of one file (16 bytes each) unless
	// WithMaxExtents says otherwise.
	DefaultMaxExtents = 1 << 20
)

// Option configures Open.
type Option func(*options)

type options struct {
	maxDirSize int64      // default DefaultMaxDirSize
	maxExtents int        // default DefaultMaxExtents
	budget     Budget     // zero fields take their defaults
	verify     bool       // check metadata checksums; off only when fuzzing
	raw        bool       // leave go-diskfs out; fuzzing only
	onDone     func(work) // tests: the work of each request
}

// WithMaxDirSize sets the size in bytes above which a directory is refused
// (default DefaultMaxDirSize).
func WithMaxDirSize(n int64) Option { return func(o *options) { o.maxDirSize = n } }

// WithMaxExtents sets how many extents, extent tree blocks included, one
// file may have (default DefaultMaxExtents); an open file holds 16 bytes of
// memory per extent.
func WithMaxExtents(n int) Option { return func(o *options) { o.maxExtents = n } }

// Image is an ext4 image file or block device opened read-only. It is safe
// for concurrent use.
type Image struct {
	name string
	f    *os.File // nil when reading from memory (tests)
	r    io.ReaderAt
	size int64
	sb   *superblock
	opts options

	mu  sync.Mutex // serializes go-diskfs, which is not documented as concurrency-safe
	dfs *ext4.FileSystem
}

var _ source.Source = (*Image)(nil)

// Open opens the ext4 image file or block device at path read-only
// (O_RDONLY, no O_EXCL: a device mounted elsewhere works) and checks it
// before use: superblock, features, geometry against the real image size,
// and the root directory.
func Open(path string, opts ...Option) (_ *Image, err error) {
	var f *os.File
	defer func() { // runs after catch, so a panic closes f too
		if err != nil {
			if f != nil {
				f.Close()
			}
			err = fmt.Errorf("open image %s: %w", path, err)
		}
	}()
	defer catch(&err)
	var size int64
	if f, size, err = openReadOnly(path); err != nil {
		return nil, err
	}
	im, err := newImage(f, size, path, opts)
	if err != nil {
		return nil, err
	}
	im.f = f
	return im, nil
}

// openReadOnly opens a regular file or block device without blocking (a
// FIFO would hang a plain open) and returns it with its size.
func openReadOnly(path string) (*os.File, int64, error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, 0, err
	}
	size, err := fdSize(fd)
	if err == nil {
		err = syscall.SetNonblock(fd, false)
	}
	if err != nil {
		syscall.Close(fd)
		return nil, 0, err
	}
	return os.NewFile(uintptr(fd), path), size, nil
}

const blkGetSize64 = 0x80081272 // BLKGETSIZE64

func fdSize(fd int) (int64, error) {
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return 0, err
	}
	switch st.Mode & syscall.S_IFMT {
	case syscall.S_IFREG:
		return st.Size, nil
	case syscall.S_IFBLK:
		var size uint64
		if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), blkGetSize64, uintptr(unsafe.Pointer(&size))); errno != 0 {
			return 0, fmt.Errorf("BLKGETSIZE64: %w", errno)
		}
		return int64(size), nil
	}
	return 0, fmt.Errorf("not a regular file or block device (mode %#o)", st.Mode)
}

// newImage checks the image in r and returns it ready for lookups.
func newImage(r io.ReaderAt, size int64, name string, opts []Option) (*Image, error) {
	o := options{maxDirSize: DefaultMaxDirSize, maxExtents: DefaultMaxExtents, verify: true}
	for _, opt := range opts {
		opt(&o)
	}
	if size < superblockOffset+superblockSize {
		return nil, corruptf("image of %d bytes is too small to hold a superblock", size)
	}
	im := &Image{name: name, r: r, size: size, opts: o}
	var b [superblockSize]byte
	if err := im.readFull(b[:], superblockOffset); err != nil {
		return nil, fmt.Errorf("read superblock: %w", err)
	}
	sb, err := parseSuperblock(b[:], size, o.verify)
	if err != nil {
		return nil, err
	}
	im.sb = sb
	if !o.raw {
		if err := im.openDiskfs(); err != nil {
			return nil, err
		}
	}
	if err := im.checkRoot(); err != nil {
		return nil, fmt.Errorf("root directory: %w", err)
	}
	return im, nil
}

// checkRoot reads and checks the root directory, in a request of its own.
func (im *Image) checkRoot() error {
	rq := im.newRequest()
	defer rq.done()
	root, err := rq.inode(rootIno)
	if err != nil {
		return err
	}
	if !root.isDir() {
		return corruptf("root inode is not a directory (mode %#o)", root.mode)
	}
	if err := rq.scanDir(root, nil); err != nil {
		return err
	}
	rq.onPath = []*inode{root}
	return rq.crossCheck(resolved{path: "/", in: root})
}

// String names the image for logs and errors: "image <path>".
func (im *Image) String() string { return "image " + im.name }

// Close closes the image; files opened from it must be closed first.
func (im *Image) Close() error {
	if im.f == nil {
		return nil
	}
	return im.f.Close()
}

// Stat returns the attributes of the file at in-image path p, following
// symlinks (confined to the image); Info.Path is the path it resolved to.
func (im *Image) Stat(p string) (source.Info, error) { return im.stat("stat", p, true) }

// Lstat is Stat without following a final symlink; symlinks to directories
// earlier in p are followed.
func (im *Image) Lstat(p string) (source.Info, error) { return im.stat("lstat", p, false) }

func (im *Image) stat(op, p string, follow bool) (_ source.Info, err error) {
	defer func() { err = pathError(op, p, err) }()
	defer catch(&err)
	rq := im.newRequest()
	defer rq.done()
	r, err := rq.lookupPath(p, follow)
	if err != nil {
		return source.Info{}, err
	}
	if err := rq.checkData(r); err != nil {
		return source.Info{}, err
	}
	return source.Info{
		Path:    r.path,
		Mode:    r.in.fileMode(),
		Size:    int64(r.in.size),
		ModTime: r.in.mtime,
		Nlink:   uint32(r.in.nlink),
		Ino:     uint64(r.in.num),
	}, nil
}

// Readlink returns the target of the symlink at in-image path p, as stored.
func (im *Image) Readlink(p string) (_ string, err error) {
	defer func() { err = pathError("readlink", p, err) }()
	defer catch(&err)
	rq := im.newRequest()
	defer rq.done()
	r, err := rq.lookupPath(p, false)
	if err != nil {
		return "", err
	}
	if !r.in.isSymlink() {
		return "", syscall.EINVAL
	}
	return rq.readlink(r.in)
}

// Open opens the regular file at in-image path p, following symlinks. Any
// other file type fails with an error wrapping source.ErrNotRegular; a file
// without an extent tree fails with ErrUnsupported. It returns a *File.
func (im *Image) Open(p string) (_ source.File, err error) {
	defer func() { err = pathError("open", p, err) }()
	defer catch(&err)
	rq := im.newRequest()
	defer rq.done()
	r, err := rq.lookupPath(p, true)
	if err != nil {
		return nil, err
	}
	if !r.in.isRegular() {
		return nil, fmt.Errorf("%w: %s is a %s", source.ErrNotRegular, r.path, source.TypeName(r.in.fileMode()))
	}
	ext, _, err := rq.extents(r.in)
	if err != nil {
		return nil, err
	}
	return im.newFile(r.in, ext, r.path), nil
}

// lookupPath cleans p, resolves it and cross-checks the result with go-diskfs.
func (rq *request) lookupPath(p string, follow bool) (resolved, error) {
	clean, err := imagepath.Clean(p)
	if err != nil {
		return resolved{}, err
	}
	r, err := rq.resolve(clean, follow)
	if err != nil {
		return resolved{}, err
	}
	if err := rq.crossCheck(r); err != nil {
		return resolved{}, err
	}
	return r, nil
}

// checkData checks the whole extent tree of a regular file or directory
// that Stat or Lstat found, so that a file which cannot be read fails there,
// up front, and not at its first read, after ls, a mount or the shim's
// preparation reported it fine.
func (rq *request) checkData(r resolved) error {
	var err error
	switch {
	case r.in.isRegular():
		_, _, err = rq.extents(r.in)
	case r.in.isDir():
		_, err = rq.dirExtents(r.in)
	}
	return err
}
