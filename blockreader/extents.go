package blockreader

import (
	"encoding/binary"
	"fmt"
	"sort"
)

const (
	extentMagic    = 0xF30A
	extentMaxDepth = 5     // EXT4_MAX_EXTENT_DEPTH
	extentInitMax  = 32768 // longest initialized extent; longer lengths mark unwritten ones
	extentRootMax  = 4     // entries that fit in i_block after the header
)

// extent maps file blocks [lblk, lblk+len) to image blocks [pblk, pblk+len).
// Unwritten (preallocated) extents read as zeros. 16 bytes: the memory of an
// open file grows with its extent count only.
type extent struct {
	pblk   uint64
	lblk   uint32
	len    uint16
	uninit bool
}

// extentWalker collects the leaves of one inode's extent tree, checking
// every node before it is used.
type extentWalker struct {
	rq       *request
	im       *Image
	in       *inode
	out      []extent
	nodes    int    // tree blocks read
	budget   uint64 // blocks the tree may claim: i_blocks, bounded by the image
	used     uint64 // blocks claimed so far: tree nodes plus extent lengths
	next     uint64 // first file block the next extent may start at
	maxCount int
	seen     map[uint64]bool // tree blocks read: a block met twice makes the tree a DAG
	bufs     [extentMaxDepth][]byte
}

// extents returns the checked, sorted, non-overlapping extents of in, in a
// request of its own (tests and fuzz seeds).
func (im *Image) extents(in *inode) ([]extent, error) {
	ext, _, err := im.newRequest().extents(in)
	return ext, err
}

// extents returns the checked, sorted, non-overlapping extents of in and how
// many tree blocks it read, charging both to the request. A file without an
// extent tree is refused with ErrUnsupported.
func (rq *request) extents(in *inode) ([]extent, int64, error) {
	im := rq.im
	if in.flags&inodeFlagInlineData != 0 {
		return nil, 0, unsupportedf("inode %d: inline data", in.num)
	}
	if in.flags&inodeFlagEncrypt != 0 {
		return nil, 0, unsupportedf("inode %d: encrypted", in.num)
	}
	if in.flags&inodeFlagExtents == 0 {
		return nil, 0, unsupportedf("inode %d: block-mapped (no extents flag)", in.num)
	}
	w := &extentWalker{
		rq:       rq,
		im:       im,
		in:       in,
		budget:   min(in.blocks, im.sb.blocksCount),
		maxCount: im.opts.maxExtents,
	}
	if err := w.node(in.iblock[:], -1); err != nil {
		return nil, 0, fmt.Errorf("inode %d: extent tree: %w", in.num, err)
	}
	rq.nodes[in.num] = int64(w.nodes)
	return w.out, int64(w.nodes), nil
}

// node checks the extent tree node b and collects its leaves. want is the
// depth the node must have (its parent's minus one), or -1 for the root.
func (w *extentWalker) node(b []byte, want int) error {
	le := binary.LittleEndian
	magic, entries, maxEntries, depth := le.Uint16(b), int(le.Uint16(b[2:])), int(le.Uint16(b[4:])), int(le.Uint16(b[6:]))
	limit := extentRootMax
	if want >= 0 {
		limit = (len(b) - 12) / 12
	}
	switch {
	case magic != extentMagic:
		return corruptf("bad node magic %#04x", magic)
	case want < 0 && depth > extentMaxDepth:
		return corruptf("depth %d exceeds %d", depth, extentMaxDepth)
	case want >= 0 && depth != want:
		return corruptf("node depth %d, want %d", depth, want)
	case maxEntries > limit || entries > maxEntries:
		return corruptf("node holds %d of max %d entries, room for %d", entries, maxEntries, limit)
	case depth > 0 && entries == 0:
		return corruptf("empty index node")
	}
	if depth == 0 {
		return w.leaf(b, entries)
	}
	var prev uint32
	for i := range entries {
		e := b[12+12*i:]
		lblk := le.Uint32(e)
		pblk := uint64(le.Uint32(e[4:])) | uint64(le.Uint16(e[8:]))<<32
		if i > 0 && lblk <= prev {
			return corruptf("index entries out of order")
		}
		prev = lblk
		if err := w.claim(pblk, 1); err != nil {
			return err
		}
		if w.nodes++; len(w.out)+w.nodes > w.maxCount {
			return unsupportedf("more than %d extents and tree nodes", w.maxCount)
		}
		if w.seen[pblk] {
			return corruptf("tree block %d is reached twice", pblk)
		}
		if w.seen == nil {
			w.seen = map[uint64]bool{}
		}
		w.seen[pblk] = true
		if err := charge(&w.rq.work.treeNodes, 1, w.rq.budget.TreeNodes, "extent tree blocks"); err != nil {
			return err
		}
		child, err := w.read(pblk, depth-1)
		if err != nil {
			return err
		}
		if err := w.node(child, depth-1); err != nil {
			return err
		}
	}
	return nil
}

// leaf collects the extents of a leaf node.
func (w *extentWalker) leaf(b []byte, entries int) error {
	le := binary.LittleEndian
	for i := range entries {
		e := b[12+12*i:]
		x := extent{
			lblk: le.Uint32(e),
			pblk: uint64(le.Uint32(e[8:])) | uint64(le.Uint16(e[6:]))<<32,
		}
		n := le.Uint16(e[4:])
		if n > extentInitMax {
			n -= extentInitMax
			x.uninit = true
		}
		x.len = n
		switch {
		case n == 0:
			return corruptf("zero-length extent")
		case uint64(x.lblk) < w.next:
			return corruptf("extent at file block %d overlaps or is out of order", x.lblk)
		case uint64(x.lblk)+uint64(n) > 1<<32:
			return corruptf("extent past the last file block")
		case len(w.out)+w.nodes >= w.maxCount:
			return unsupportedf("more than %d extents and tree nodes", w.maxCount)
		}
		if err := w.claim(x.pblk, uint64(n)); err != nil {
			return err
		}
		if err := charge(&w.rq.work.extents, 1, w.rq.budget.Extents, "extents"); err != nil {
			return err
		}
		w.next = uint64(x.lblk) + uint64(n)
		w.out = append(w.out, x)
	}
	return nil
}

// claim checks that blocks [pblk, pblk+n) lie inside the filesystem and
// that the tree does not claim more blocks than the inode owns.
func (w *extentWalker) claim(pblk, n uint64) error {
	sb := w.im.sb
	if pblk <= sb.firstDataBlock || pblk >= sb.blocksCount || n > sb.blocksCount-pblk {
		return corruptf("blocks %d+%d outside the image", pblk, n)
	}
	w.used += n
	if w.used > w.budget {
		return corruptf("tree claims more than the inode's %d blocks", w.budget)
	}
	return nil
}

// read reads the tree block pblk for a node of the given depth into that
// depth's buffer and checks its checksum (struct ext4_extent_tail).
func (w *extentWalker) read(pblk uint64, depth int) ([]byte, error) {
	bs := w.im.sb.blockSize
	if w.bufs[depth] == nil {
		w.bufs[depth] = make([]byte, bs)
	}
	b := w.bufs[depth]
	if err := w.im.readFull(b, int64(pblk*bs)); err != nil {
		return nil, err
	}
	if w.im.opts.verify {
		le := binary.LittleEndian
		tail := 12 + 12*int(le.Uint16(b[4:]))
		if tail+4 > len(b) {
			return nil, corruptf("node at block %d: max entries %d leave no room for a checksum", pblk, le.Uint16(b[4:]))
		}
		if got, want := crc32c(w.in.seed, b[:tail]), le.Uint32(b[tail:]); got != want {
			return nil, corruptf("node at block %d: checksum %#08x, want %#08x", pblk, got, want)
		}
	}
	return b, nil
}

// findExtent returns the index of the extent holding file block lb, or -1
// and the index of the first extent after lb (len(ext) if none).
func findExtent(ext []extent, lb uint64) (at, next int) {
	i := sort.Search(len(ext), func(i int) bool { return uint64(ext[i].lblk) > lb })
	if i > 0 && lb < uint64(ext[i-1].lblk)+uint64(ext[i-1].len) {
		return i - 1, i
	}
	return -1, i
}
