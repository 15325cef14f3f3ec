package blockreader

import (
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"sync/atomic"

	"github.com/artifactfs/artifactfs/internal/source"
)

// File reads one regular file of an image. Its data is mapped from the
// extent tree once, at Open; ReadAt then preads the image straight into the
// caller's buffer. Holes and unwritten extents read as zeros.
type File struct {
	r      io.ReaderAt
	img    *os.File // the image r reads, nil when reading from memory
	name   string
	size   int64
	bs     int64
	ext    []extent
	closed atomic.Bool
}

var _ source.File = (*File)(nil) // io.ReaderAt and io.Closer

func (im *Image) newFile(in *inode, ext []extent, name string) *File {
	return &File{r: im.r, img: im.f, name: name, size: int64(in.size), bs: int64(im.sb.blockSize), ext: ext}
}

// Size returns the length of the file in bytes.
func (f *File) Size() int64 { return f.size }

// Close releases the file; it does not close the image.
func (f *File) Close() error {
	if f.closed.Swap(true) {
		return &iofs.PathError{Op: "close", Path: f.name, Err: iofs.ErrClosed}
	}
	return nil
}

// ReadAt reads len(p) bytes at offset off with io.ReaderAt semantics: a
// short count comes with an error, io.EOF at the end of the file. It is safe
// for concurrent use and allocates nothing.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	switch {
	case f.closed.Load():
		return 0, &iofs.PathError{Op: "read", Path: f.name, Err: iofs.ErrClosed}
	case off < 0:
		return 0, &iofs.PathError{Op: "read", Path: f.name, Err: errors.New("negative offset")}
	case len(p) == 0:
		return 0, nil
	case off >= f.size:
		return 0, io.EOF
	}
	want := int(min(int64(len(p)), f.size-off))
	n := 0
	for n < want {
		pos := off + int64(n)
		lb := uint64(pos / f.bs)
		at, next := findExtent(f.ext, lb)
		var span int64
		if at >= 0 {
			e := f.ext[at]
			span = (int64(e.lblk)+int64(e.len))*f.bs - pos
		} else if next < len(f.ext) {
			span = int64(f.ext[next].lblk)*f.bs - pos
		} else {
			span = f.size - pos
		}
		span = min(span, int64(want-n))
		dst := p[n : n+int(span)]
		if at < 0 || f.ext[at].uninit {
			clear(dst)
		} else {
			e := f.ext[at]
			phys := int64(e.pblk+lb-uint64(e.lblk))*f.bs + pos%f.bs
			m, err := f.r.ReadAt(dst, phys)
			if m < len(dst) {
				if err == nil || errors.Is(err, io.EOF) {
					err = corruptf("image ends before block %d", e.pblk+lb-uint64(e.lblk))
				}
				return n + m, &iofs.PathError{Op: "read", Path: f.name, Err: fmt.Errorf("offset %d: %w", pos+int64(m), err)}
			}
		}
		n += int(span)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// HostSpan tells where the file's bytes from off lie in the image, so that
// a caller can have the kernel copy them straight from the image (splice)
// instead of reading them through ReadAt: the image's descriptor, the
// offset there, and how many of the n bytes from off lie there in one
// piece. ok is false where the file has no bytes on disk (a hole, an
// unwritten extent, off at or past the end) and for an image read from
// memory. The descriptor stays valid until the image is closed.
func (f *File) HostSpan(off int64, n int) (fd uintptr, hostOff int64, length int, ok bool) {
	if f.img == nil || f.closed.Load() || off < 0 || off >= f.size || n <= 0 {
		return 0, 0, 0, false
	}
	lb := uint64(off / f.bs)
	at, _ := findExtent(f.ext, lb)
	if at < 0 || f.ext[at].uninit {
		return 0, 0, 0, false
	}
	e := f.ext[at]
	end := min((int64(e.lblk)+int64(e.len))*f.bs, f.size)
	hostOff = int64(e.pblk+lb-uint64(e.lblk))*f.bs + off%f.bs
	return f.img.Fd(), hostOff, int(min(end-off, int64(n))), true
}
