package fs

import (
	"os"

	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/hanwen/go-fuse/v2/splice"
)

// hostSpanner is a source file whose bytes lie in pieces of a host file,
// such as a blockreader.File in its image.
type hostSpanner interface {
	// HostSpan returns the descriptor of the host file holding the bytes
	// from off, their offset there, and how many of the n bytes from off
	// lie there in one piece; ok is false where there are none (a hole).
	HostSpan(off int64, n int) (fd uintptr, hostOff int64, length int, ok bool)
}

// pageSize is the unit a pipe holds spliced data in: one pipe buffer per
// page, or part of a page.
var pageSize = os.Getpagesize()

// spliceMax is the largest read answered by splicing (0: none). go-fuse
// splices a reply through a pipe that it grows to the reply plus a spare
// page, and never past fs.pipe-max-size (1 MiB by default); the reply is a
// header and the data.
var spliceMax = spliceLimit()

func spliceLimit() int {
	if !splice.Resizable() {
		return 0
	}
	return max(0, (splice.MaxPipeSize()-2*pageSize)&^(pageSize-1))
}

// readSize is the largest read request the kernel may send: maxRead, or
// spliceMax when that is smaller but still large (1016 KiB with the
// default pipe size), so that any read can be spliced.
func readSize() int {
	if spliceMax >= minSpliceRead {
		return min(maxRead, spliceMax)
	}
	return maxRead
}

// maxPieces bounds the host file pieces one read is spliced from.
const maxPieces = 8

// piece is part of a read that lies in one piece of a host file.
type piece struct {
	fd     uintptr
	off    int64
	length int
}

// spliceRead has the kernel load the n bytes at off into a pipe from the
// page cache of the host file holding them (a directory source's file, or
// the image under a blockreader file), and returns the pipe, which go-fuse
// splices on to the FUSE device. The bytes are then copied once, into the
// FUSE page cache, instead of twice through this process.
//
// It returns nil, and the caller reads with ReadAt, where that cannot be
// done exactly: where part of the range has no bytes on disk (a hole), where
// the pieces would need more pipe buffers than go-fuse's pipe is sure to
// hold, and where the host file yields fewer bytes than asked (a short file
// or an I/O error, which ReadAt then reports). go-fuse itself would pass a
// short splice on as a short read, which the kernel takes for the end of
// the file.
func (of *openFile) spliceRead(off int64, n int) fuse.ReadResult {
	if n > spliceMax || n <= 0 || (of.fd < 0 && of.spans == nil) {
		return nil
	}
	var pieces [maxPieces]piece
	count, bufs := 0, 0
	for done := 0; done < n; count++ {
		if count == maxPieces {
			return nil
		}
		p := piece{fd: uintptr(of.fd), off: off + int64(done), length: n - done}
		if of.fd < 0 {
			var ok bool
			if p.fd, p.off, p.length, ok = of.spans.HostSpan(p.off, p.length); !ok || p.length <= 0 {
				return nil
			}
		}
		pieces[count] = p
		done += p.length
		bufs += (int(p.off%int64(pageSize)) + p.length + pageSize - 1) / pageSize
	}
	// go-fuse's pipe holds at least the header buffer and n/pageSize+1
	// data buffers: it asks for header + n + a page, rounded up to whole
	// pages, and the kernel rounds up to a power of two pages.
	if bufs > n/pageSize+1 {
		return nil
	}
	pair, err := splice.Get()
	if err != nil {
		return nil
	}
	if pair.Grow(n+pageSize) != nil || !loadPieces(pair, pieces[:count]) {
		splice.Done(pair)
		return nil
	}
	return fuse.ReadResultPipe(pair, n)
}

// loadPieces splices the pieces into the pipe, in order, and reports
// whether all of their bytes went in.
func loadPieces(pair *splice.Pair, pieces []piece) bool {
	for _, p := range pieces {
		for p.length > 0 {
			got, err := pair.LoadFromAt(p.fd, p.length, p.off)
			if err != nil || got <= 0 {
				return false
			}
			p.off += int64(got)
			p.length -= got
		}
	}
	return true
}
