package source

import (
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/artifactfs/artifactfs/internal/imagepath"
)

// resolveFlags confine every lookup to the root: symlinks resolve as if the
// root were "/", magic links and mount crossings are refused.
const resolveFlags = unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV

// Dir is a Source over a host directory, such as a mounted snapshot view.
// Lookups use openat2(2) with RESOLVE_IN_ROOT, so the kernel itself keeps
// every symlink inside the directory.
type Dir struct {
	root string
	fd   int
}

var _ Source = (*Dir)(nil)

// OpenDir opens the directory root as an image root.
func OpenDir(root string) (*Dir, error) {
	fd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open directory", Path: root, Err: err}
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		abs = root
	}
	return &Dir{root: abs, fd: fd}, nil
}

// String names the source.
func (d *Dir) String() string { return "dir " + d.root }

// Close releases the directory.
func (d *Dir) Close() error {
	if d.fd < 0 {
		return nil
	}
	err := unix.Close(d.fd)
	d.fd = -1
	return err
}

// Stat returns the attributes of in-image path p, following symlinks within
// the directory.
func (d *Dir) Stat(p string) (Info, error) {
	clean, err := imagepath.Clean(p)
	if err != nil {
		return Info{}, err
	}
	fd, err := d.openat(clean, unix.O_PATH)
	if err != nil {
		return Info{}, err
	}
	defer unix.Close(fd)
	return d.info(fd, clean)
}

// Open opens the regular file at in-image path p. It checks the type through
// an O_PATH descriptor first, so a FIFO or device is never opened for reading.
func (d *Dir) Open(p string) (File, error) {
	clean, err := imagepath.Clean(p)
	if err != nil {
		return nil, err
	}
	pathFd, err := d.openat(clean, unix.O_PATH)
	if err != nil {
		return nil, err
	}
	defer unix.Close(pathFd)
	var st unix.Stat_t
	if err := unix.Fstat(pathFd, &st); err != nil {
		return nil, fmt.Errorf("stat %s: %w", clean, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, fmt.Errorf("%s: %w (%s)", clean, ErrNotRegular, TypeName(fileMode(st.Mode)))
	}
	fd, err := d.openat(clean, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY)
	if err != nil {
		return nil, err
	}
	var st2 unix.Stat_t
	if err := unix.Fstat(fd, &st2); err != nil || st2.Ino != st.Ino || st2.Dev != st.Dev {
		unix.Close(fd)
		return nil, fmt.Errorf("%s changed while it was opened", clean)
	}
	return &dirFile{f: os.NewFile(uintptr(fd), filepath.Join(d.root, clean))}, nil
}

func (d *Dir) openat(clean string, flags int) (int, error) {
	rel := strings.TrimPrefix(clean, "/")
	if rel == "" {
		rel = "."
	}
	how := unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC), Resolve: resolveFlags}
	for {
		fd, err := unix.Openat2(d.fd, rel, &how)
		switch {
		case err == nil:
			return fd, nil
		case errors.Is(err, unix.EINTR), errors.Is(err, unix.EAGAIN):
			continue // openat2 asks for a retry when a rename raced the walk
		case errors.Is(err, unix.ELOOP):
			return -1, fmt.Errorf("resolve %s: %w", clean, ErrLoop)
		case errors.Is(err, unix.EXDEV):
			return -1, fmt.Errorf("resolve %s: crosses a mount point", clean)
		default:
			return -1, fmt.Errorf("resolve %s: %w", clean, err)
		}
	}
}

// info turns an fstat of fd into Info; the resolved path is read back from
// the descriptor and made relative to the root.
func (d *Dir) info(fd int, requested string) (Info, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return Info{}, fmt.Errorf("stat %s: %w", requested, err)
	}
	resolved := requested
	if host, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd)); err == nil {
		if rel, err := filepath.Rel(d.root, host); err == nil && !strings.HasPrefix(rel, "..") {
			resolved = filepath.Clean("/" + rel)
		}
	}
	return Info{
		Path:    resolved,
		Mode:    fileMode(st.Mode),
		Size:    st.Size,
		ModTime: time.Unix(st.Mtim.Unix()),
		Nlink:   uint32(st.Nlink),
		Ino:     st.Ino,
	}, nil
}

// fileMode converts a stat(2) mode into an io/fs mode.
func fileMode(m uint32) iofs.FileMode {
	mode := iofs.FileMode(m & 0o777)
	switch m & unix.S_IFMT {
	case unix.S_IFDIR:
		mode |= iofs.ModeDir
	case unix.S_IFLNK:
		mode |= iofs.ModeSymlink
	case unix.S_IFIFO:
		mode |= iofs.ModeNamedPipe
	case unix.S_IFSOCK:
		mode |= iofs.ModeSocket
	case unix.S_IFCHR:
		mode |= iofs.ModeDevice | iofs.ModeCharDevice
	case unix.S_IFBLK:
		mode |= iofs.ModeDevice
	}
	if m&unix.S_ISUID != 0 {
		mode |= iofs.ModeSetuid
	}
	if m&unix.S_ISGID != 0 {
		mode |= iofs.ModeSetgid
	}
	if m&unix.S_ISVTX != 0 {
		mode |= iofs.ModeSticky
	}
	return mode
}

// dirFile is a regular file of a Dir; it offers its descriptor for passthrough.
type dirFile struct {
	f *os.File
}

var _ FdFile = (*dirFile)(nil)

func (f *dirFile) ReadAt(p []byte, off int64) (int, error) { return f.f.ReadAt(p, off) }
func (f *dirFile) Close() error                            { return f.f.Close() }
func (f *dirFile) Fd() uintptr                             { return f.f.Fd() }
