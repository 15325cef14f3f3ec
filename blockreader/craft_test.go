package blockreader

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"slices"
	"testing"

	"github.com/artifactfs/artifactfs/internal/testimage"
)

// treeCrafter writes a hostile extent tree for directory in: index and
// leaf nodes with valid checksums in blocks taken from pool (the data
// blocks of a padding file, which nothing else reads), and a leaf holding
// the directory's own data extent so that it still reads.
type treeCrafter struct {
	pt    *patcher
	in    *inode
	pool  []uint64
	used  int
	data  extent // the directory's one data extent
	visit int    // node visits a walk of the tree makes
}

func (c *treeCrafter) alloc() uint64 {
	if c.used == len(c.pool) {
		c.pt.t.Fatalf("tree needs more than the %d pool blocks", len(c.pool))
	}
	c.used++
	return c.pool[c.used-1]
}

// node fills b with an extent node of the given depth and children (index
// entries at file blocks 0, 1, ...), or a leaf holding ext.
func (c *treeCrafter) node(b []byte, maxEntries, depth int, kids []uint64, ext []extent) {
	le := binary.LittleEndian
	le.PutUint16(b[0:], extentMagic)
	le.PutUint16(b[4:], uint16(maxEntries))
	le.PutUint16(b[6:], uint16(depth))
	if depth > 0 {
		le.PutUint16(b[2:], uint16(len(kids)))
		for i, k := range kids {
			e := b[12+12*i:]
			le.PutUint32(e, uint32(i))
			le.PutUint32(e[4:], uint32(k))
			le.PutUint16(e[8:], uint16(k>>32))
		}
		return
	}
	le.PutUint16(b[2:], uint16(len(ext)))
	for i, x := range ext {
		e := b[12+12*i:]
		le.PutUint32(e, x.lblk)
		le.PutUint16(e[4:], x.len)
		le.PutUint16(e[6:], uint16(x.pblk>>32))
		le.PutUint32(e[8:], uint32(x.pblk))
	}
}

func (c *treeCrafter) write(pblk uint64, depth int, kids []uint64, ext []extent) {
	c.visit++
	c.pt.patchBlock(pblk, func(b []byte) {
		clear(b)
		c.node(b, (len(b)-12)/12, depth, kids, ext)
		fixExtentTail(b, c.in)
	})
}

// chain writes single-entry index nodes from depth down to the leaf that
// holds the data extent.
func (c *treeCrafter) chain(depth int) uint64 {
	b := c.alloc()
	if depth == 0 {
		c.write(b, 0, nil, []extent{c.data})
		return b
	}
	c.write(b, depth, []uint64{c.chain(depth - 1)}, nil)
	return b
}

// wide writes a tree of distinct nodes, fanout entries per index node,
// with empty leaves: a well-formed tree, only large.
func (c *treeCrafter) wide(depth, fanout int) uint64 {
	b := c.alloc()
	var kids []uint64
	for range min(depth, 1) * fanout {
		kids = append(kids, c.wide(depth-1, fanout))
	}
	c.write(b, depth, kids, nil)
	return b
}

// dag writes one node per level whose fanout entries all point to the node
// below: depth+1 blocks on disk, fanout^depth leaves to walk.
func (c *treeCrafter) dag(depth, fanout int) uint64 {
	b := c.alloc()
	if depth == 0 {
		c.write(b, 0, nil, nil)
		return b
	}
	k := c.dag(depth-1, fanout)
	c.write(b, depth, slices.Repeat([]uint64{k}, fanout), nil)
	c.visit += (fanout - 1) * walkCount(depth-1, fanout)
	return b
}

// walkCount is how many nodes a walk of dag(depth, fanout) visits.
func walkCount(depth, fanout int) int {
	if depth == 0 {
		return 1
	}
	return 1 + fanout*walkCount(depth-1, fanout)
}

// root makes the inode's extent root an index of the given depth over
// kids, and makes i_blocks cover every node a walk visits.
func (c *treeCrafter) root(depth int, kids []uint64) {
	c.pt.patchInode(c.in.num, func(b []byte) {
		r := make([]byte, 60)
		c.node(r, extentRootMax, depth, kids, nil)
		copy(b[0x28:0x64], r)
		binary.LittleEndian.PutUint32(b[0x1c:], uint32(2*(c.visit+int(c.data.len))*int(c.pt.im.sb.blockSize/1024)))
	})
}

// selfRefImage builds a 1 KiB-block image with directory /d holding the
// kernel /d/k and an entry /d/d naming /d itself, and a padding file whose
// blocks craft fills with an extent tree for /d. It returns the image.
func selfRefImage(t *testing.T, padMiB int, craft func(c *treeCrafter)) string {
	t.Helper()
	img := buildImage(t, padMiB+24, treeOf(t, map[string][]byte{
		"d/k": testimage.Payload(3, 5000), "d/d": nil, "pad": testimage.Payload(9, padMiB<<20),
	}), "-b", "1024")
	pt := newPatcher(t, img)
	dir, pad := pt.inode("/d"), pt.inode("/pad")
	ext, err := pt.im.dirExtents(dir)
	if err != nil || len(ext) != 1 {
		t.Fatalf("want a one-extent /d: %+v %v", ext, err)
	}
	pt.patchBlock(ext[0].pblk, func(b []byte) { // d/d -> d's own inode
		i := bytes.Index(b, []byte{1, 1, 'd'})
		if i < 6 {
			t.Fatal("no entry d in /d")
		}
		binary.LittleEndian.PutUint32(b[i-6:], dir.num)
		b[i+1] = 2
		fixDirTail(b, dir)
	})
	padExt, err := pt.im.extents(pad)
	if err != nil {
		t.Fatal(err)
	}
	c := &treeCrafter{pt: pt, in: dir, data: ext[0]}
	for _, e := range padExt {
		for k := range uint64(e.len) {
			c.pool = append(c.pool, e.pblk+k)
		}
	}
	craft(c)
	return img
}

// readCap is an image reader that fails after max reads: an amplified
// request ends with its error instead of running for minutes.
type readCap struct {
	f     *os.File
	reads int
	max   int
}

var errReadCap = errors.New("read cap reached")

func (r *readCap) ReadAt(p []byte, off int64) (int, error) {
	if r.reads++; r.reads > r.max {
		return 0, errReadCap
	}
	return r.f.ReadAt(p, off)
}

// openCapped opens img through a readCap of max reads.
func openCapped(t *testing.T, img string, max int, opts ...Option) (*Image, *readCap) {
	t.Helper()
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	rc := &readCap{f: f, max: max}
	im, err := newImage(io.ReaderAt(rc), st.Size(), img, opts)
	if err != nil {
		t.Fatal(err)
	}
	rc.reads = 0
	return im, rc
}

// selfPath is /d/d/.../d/k with n d's.
func selfPath(n int) string {
	return string(bytes.Repeat([]byte("/d"), n)) + "/k"
}
