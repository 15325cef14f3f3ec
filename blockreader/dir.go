package blockreader

import (
	"encoding/binary"
	"fmt"
	iofs "io/fs"
)

const (
	direntTailSize = 12 // struct ext4_dir_entry_tail, ends every leaf block
	dxTailSize     = 8  // struct dx_tail, ends every htree index block
	direntMinLen   = 12 // EXT4_DIR_REC_LEN(1)
)

// visitFunc is called for each live entry of a directory.
type visitFunc func(name []byte, ino uint32, ftype uint8) error

// lookup returns the inode number and entry file type of name in dir,
// scanning dir once per request for each name. A name that appears twice is
// corruption: go-diskfs might pick the other one. An entry naming a
// reserved inode (below s_first_ino, the root aside) is corruption too, as
// the kernel's ext4_lookup has it: the journal is no kernel to serve.
func (rq *request) lookup(dir *inode, name string) (uint32, uint8, error) {
	if err := charge(&rq.work.lookups, 1, rq.budget.Lookups, "path lookups"); err != nil {
		return 0, 0, err
	}
	key := dirName{dir.num, name}
	if d, ok := rq.names[key]; ok {
		return d.ino, d.ftype, nil
	}
	var (
		d     dirent
		found bool
	)
	err := rq.scanDir(dir, func(n []byte, i uint32, t uint8) error {
		if string(n) != name {
			return nil
		}
		if found {
			return corruptf("directory inode %d lists %q twice", dir.num, name)
		}
		d, found = dirent{i, t}, true
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	if !found {
		return 0, 0, iofs.ErrNotExist
	}
	if d.ino < rq.im.sb.firstIno && d.ino != rootIno {
		return 0, 0, corruptf("directory inode %d: %q names reserved inode %d", dir.num, name, d.ino)
	}
	rq.names[key] = d
	return d.ino, d.ftype, nil
}

// dirExtents returns the extents of directory dir in a request of its own
// (tests).
func (im *Image) dirExtents(dir *inode) ([]extent, error) {
	return im.newRequest().dirExtents(dir)
}

// dirExtents returns the extents of directory dir, read once per request,
// checking that they cover its size exactly from block 0, without holes or
// unwritten blocks (go-diskfs reads the extents back to back), and that the
// size is under the cap (go-diskfs reads a whole directory into memory).
func (rq *request) dirExtents(dir *inode) ([]extent, error) {
	if ext, ok := rq.dirs[dir.num]; ok {
		return ext, nil
	}
	im := rq.im
	bs := im.sb.blockSize
	switch {
	case dir.size > uint64(im.opts.maxDirSize):
		return nil, unsupportedf("directory inode %d is %d bytes, over the %d-byte limit", dir.num, dir.size, im.opts.maxDirSize)
	case dir.size == 0 || dir.size%bs != 0 || dir.size/bs > im.sb.blocksCount:
		return nil, corruptf("directory inode %d has size %d", dir.num, dir.size)
	}
	ext, _, err := rq.extents(dir)
	if err != nil {
		return nil, err
	}
	var next uint64
	for _, e := range ext {
		if e.uninit || uint64(e.lblk) != next {
			return nil, corruptf("directory inode %d has a hole or unwritten block at %d", dir.num, next)
		}
		next += uint64(e.len)
	}
	if next != dir.size/bs {
		return nil, corruptf("directory inode %d maps %d of its %d blocks", dir.num, next, dir.size/bs)
	}
	rq.dirs[dir.num] = ext
	return ext, nil
}

// scanDir checks every block of directory dir (and its htree index) and
// calls visit, if not nil, for each live entry. It reads one block at a
// time, charging blocks and entries to the request.
func (rq *request) scanDir(dir *inode, visit visitFunc) error {
	ext, err := rq.dirExtents(dir)
	if err != nil {
		return err
	}
	im := rq.im
	bs := im.sb.blockSize
	buf := make([]byte, bs)
	indexed := dir.flags&inodeFlagIndex != 0
	for _, e := range ext {
		for k := range uint64(e.len) {
			lb := uint64(e.lblk) + k
			if err := charge(&rq.work.dirBlocks, 1, rq.budget.DirBlocks, "directory blocks"); err != nil {
				return err
			}
			if err := im.readFull(buf, int64((e.pblk+k)*bs)); err != nil {
				return fmt.Errorf("directory inode %d: %w", dir.num, err)
			}
			n, err := im.scanBlock(dir, buf, lb, indexed, visit)
			if err != nil {
				return err
			}
			if err := charge(&rq.work.entries, n, rq.budget.Entries, "directory entries"); err != nil {
				return err
			}
		}
	}
	if indexed {
		return rq.checkHtree(dir, ext, buf)
	}
	return nil
}

// recLen decodes a directory entry length (ext4_rec_len_from_disk).
func recLen(raw uint16, bs int) int {
	if bs < 65536 {
		return int(raw)
	}
	if raw == 65535 || raw == 0 {
		return bs
	}
	return int(raw&65532) | int(raw&3)<<16
}

// scanBlock checks block lb of directory dir, as the kernel's
// ext4_check_dir_entry and dirblock checksum would, visits its entries and
// returns how many it scanned.
func (im *Image) scanBlock(dir *inode, b []byte, lb uint64, indexed bool, visit visitFunc) (int64, error) {
	le, bs := binary.LittleEndian, len(b)
	if indexed && lb == 0 {
		return 2, im.checkDxRootDirents(dir, b)
	}
	if indexed && le.Uint32(b) == 0 && recLen(le.Uint16(b[4:]), bs) == bs {
		return 0, nil // an htree index node, checked by checkHtree
	}
	end := bs - direntTailSize
	t := b[end:]
	if le.Uint32(t) != 0 || le.Uint16(t[4:]) != direntTailSize || t[6] != 0 || t[7] != 0xDE {
		return 0, corruptf("directory inode %d block %d has no checksum tail", dir.num, lb)
	}
	if im.opts.verify {
		if got, want := crc32c(dir.seed, b[:end]), le.Uint32(t[8:]); got != want {
			return 0, corruptf("directory inode %d block %d: checksum %#08x, want %#08x", dir.num, lb, got, want)
		}
	}
	var n int64
	for off := 0; off < end; n++ {
		if off+8 > end {
			return n, corruptf("directory inode %d block %d: entry at %d crosses the block end", dir.num, lb, off)
		}
		e := b[off:]
		ino, rl, nl, ft := le.Uint32(e), recLen(le.Uint16(e[4:]), bs), int(e[6]), e[7]
		if rl < direntMinLen || rl%4 != 0 || off+rl > end || 8+nl > rl {
			return n, corruptf("directory inode %d block %d: bad entry at %d (length %d, name length %d)", dir.num, lb, off, rl, nl)
		}
		if ino != 0 {
			if nl == 0 || ino > im.sb.inodesCount || ft == 0 || int(ft) >= len(direntTypes) {
				return n, corruptf("directory inode %d block %d: bad entry at %d (inode %d, type %d)", dir.num, lb, off, ino, ft)
			}
			if visit != nil {
				if err := visit(e[8:8+nl], ino, ft); err != nil {
					return n, err
				}
			}
		}
		off += rl
	}
	return n, nil
}

// checkDxRootDirents checks the "." and ".." entries that open an htree
// root block, the way go-diskfs parses them.
func (im *Image) checkDxRootDirents(dir *inode, b []byte) error {
	le, bs := binary.LittleEndian, len(b)
	dot, dotdot := b[:12], b[12:24]
	ok := le.Uint32(dot) == dir.num && le.Uint16(dot[4:]) == 12 && dot[6] == 1 && dot[7] == 2 &&
		string(dot[8:12]) == ".\x00\x00\x00" &&
		le.Uint32(dotdot) != 0 && le.Uint32(dotdot) <= im.sb.inodesCount &&
		recLen(le.Uint16(dotdot[4:]), bs) == bs-12 && dotdot[6] == 2 && dotdot[7] == 2 &&
		string(dotdot[8:12]) == "..\x00\x00"
	if !ok {
		return corruptf("directory inode %d: bad htree root entries", dir.num)
	}
	return nil
}

// checkHtree checks the htree index of dir as the kernel's dx_probe would,
// and more: every block is referenced at most once, so that go-diskfs, which
// walks every index entry, reads each block at most once. buf is scratch.
func (rq *request) checkHtree(dir *inode, ext []extent, buf []byte) error {
	le, bs := binary.LittleEndian, len(buf)
	nblocks := dir.size / uint64(bs)
	if err := rq.readDirBlock(dir, ext, 0, buf); err != nil {
		return err
	}
	levels, maxLevels := int(buf[0x1e]), 2
	if rq.im.sb.largeDir {
		maxLevels = 3
	}
	if buf[0x1d] != 8 || levels >= maxLevels {
		return corruptf("directory inode %d: htree root info length %d, %d levels", dir.num, buf[0x1d], levels)
	}
	seen := make([]bool, nblocks)
	seen[0] = true
	level, err := dxEntries(dir, buf, 0x20, seen)
	if err != nil {
		return err
	}
	for range levels {
		var below []uint32
		for _, blk := range level {
			if err := rq.readDirBlock(dir, ext, uint64(blk), buf); err != nil {
				return err
			}
			if le.Uint32(buf) != 0 || recLen(le.Uint16(buf[4:]), bs) != bs {
				return corruptf("directory inode %d: htree block %d is not an index node", dir.num, blk)
			}
			children, err := dxEntries(dir, buf, 8, seen)
			if err != nil {
				return err
			}
			below = append(below, children...)
		}
		level = below
	}
	return nil
}

// dxEntries checks the count/limit header at off in index block b and
// returns the blocks its entries point to, marking them seen.
func dxEntries(dir *inode, b []byte, off int, seen []bool) ([]uint32, error) {
	le := binary.LittleEndian
	limit, count := int(le.Uint16(b[off:])), int(le.Uint16(b[off+2:]))
	if want := (len(b) - off - dxTailSize) / 8; limit != want || count == 0 || count > limit {
		return nil, corruptf("directory inode %d: htree node with %d of %d entries (limit should be %d)", dir.num, count, limit, want)
	}
	out := make([]uint32, count)
	for i := range count {
		blk := le.Uint32(b[off+8*i+4:])
		if uint64(blk) >= uint64(len(seen)) || seen[blk] {
			return nil, corruptf("directory inode %d: htree entry points to block %d twice or outside the directory", dir.num, blk)
		}
		seen[blk] = true
		out[i] = blk
	}
	return out, nil
}

// readDirBlock reads block lb of a directory whose extents are ext,
// charging it to the request.
func (rq *request) readDirBlock(dir *inode, ext []extent, lb uint64, buf []byte) error {
	if err := charge(&rq.work.dirBlocks, 1, rq.budget.DirBlocks, "directory blocks"); err != nil {
		return err
	}
	at, _ := findExtent(ext, lb)
	if at < 0 {
		return corruptf("directory inode %d: block %d unmapped", dir.num, lb)
	}
	e := ext[at]
	if err := rq.im.readFull(buf, int64((e.pblk+lb-uint64(e.lblk))*uint64(len(buf)))); err != nil {
		return fmt.Errorf("directory inode %d: %w", dir.num, err)
	}
	return nil
}
