package blockreader

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"time"
)

const rootIno = 2

// Inode flags, from the kernel's fs/ext4/ext4.h.
const (
	inodeFlagEncrypt    = 0x800
	inodeFlagIndex      = 0x1000
	inodeFlagHugeFile   = 0x40000
	inodeFlagExtents    = 0x80000
	inodeFlagInlineData = 0x10000000
)

// File types of i_mode.
const (
	modeTypeMask = 0xF000
	modeFIFO     = 0x1000
	modeChar     = 0x2000
	modeDir      = 0x4000
	modeBlock    = 0x6000
	modeRegular  = 0x8000
	modeSymlink  = 0xA000
	modeSocket   = 0xC000
)

// direntTypes maps a directory entry's file type byte to the i_mode type it
// must agree with.
var direntTypes = [8]uint16{0, modeRegular, modeDir, modeChar, modeBlock, modeFIFO, modeSocket, modeSymlink}

// inode is the part of an on-disk inode this package uses.
type inode struct {
	num    uint32
	mode   uint16
	flags  uint32
	nlink  uint16
	size   uint64
	blocks uint64 // allocated filesystem blocks (i_blocks converted)
	mtime  time.Time
	seed   uint32 // checksum seed of metadata owned by this inode
	iblock [60]byte
}

func (in *inode) typ() uint16     { return in.mode & modeTypeMask }
func (in *inode) isDir() bool     { return in.typ() == modeDir }
func (in *inode) isRegular() bool { return in.typ() == modeRegular }
func (in *inode) isSymlink() bool { return in.typ() == modeSymlink }

// fileMode converts i_mode to an io/fs mode.
func (in *inode) fileMode() iofs.FileMode {
	m := iofs.FileMode(in.mode & 0o777)
	if in.mode&0o4000 != 0 {
		m |= iofs.ModeSetuid
	}
	if in.mode&0o2000 != 0 {
		m |= iofs.ModeSetgid
	}
	if in.mode&0o1000 != 0 {
		m |= iofs.ModeSticky
	}
	switch in.typ() {
	case modeFIFO:
		m |= iofs.ModeNamedPipe
	case modeChar:
		m |= iofs.ModeDevice | iofs.ModeCharDevice
	case modeDir:
		m |= iofs.ModeDir
	case modeBlock:
		m |= iofs.ModeDevice
	case modeSymlink:
		m |= iofs.ModeSymlink
	case modeSocket:
		m |= iofs.ModeSocket
	}
	return m
}

// readInode reads, checks and parses inode num.
func (im *Image) readInode(num uint32) (*inode, error) {
	sb := im.sb
	if num == 0 || num > sb.inodesCount {
		return nil, corruptf("inode number %d out of range 1-%d", num, sb.inodesCount)
	}
	group, index := (num-1)/sb.inodesPerGroup, (num-1)%sb.inodesPerGroup
	table, err := im.inodeTable(group)
	if err != nil {
		return nil, err
	}
	b := make([]byte, sb.inodeSize)
	if err := im.readFull(b, int64(table*sb.blockSize+uint64(index)*sb.inodeSize)); err != nil {
		return nil, fmt.Errorf("inode %d: %w", num, err)
	}
	in, err := im.parseInode(num, b)
	if err != nil {
		return nil, fmt.Errorf("inode %d: %w", num, err)
	}
	return in, nil
}

// inodeTable returns the first block of the inode table of group g, from
// its checked group descriptor.
func (im *Image) inodeTable(g uint32) (uint64, error) {
	sb := im.sb
	var buf [64]byte
	d := buf[:sb.descSize]
	if err := im.readFull(d, sb.gdtOffset+int64(uint64(g)*sb.descSize)); err != nil {
		return 0, fmt.Errorf("group descriptor %d: %w", g, err)
	}
	le := binary.LittleEndian
	if im.opts.verify {
		if got, want := sb.groupDescChecksum(g, d), le.Uint16(d[0x1e:]); got != want {
			return 0, corruptf("group descriptor %d checksum %#04x, want %#04x", g, got, want)
		}
	}
	if le.Uint16(d[0x12:])&1 != 0 { // EXT4_BG_INODE_UNINIT
		return 0, corruptf("group %d holds no initialized inodes", g)
	}
	table := uint64(le.Uint32(d[0x8:]))
	if sb.descSize >= 64 {
		table |= uint64(le.Uint32(d[0x28:])) << 32
	}
	if table <= sb.firstDataBlock || table >= sb.blocksCount || sb.itableBlocks > sb.blocksCount-table {
		return 0, corruptf("group %d inode table at block %d outside the image", g, table)
	}
	return table, nil
}

// parseInode checks the checksum and the fields later code relies on. It
// overwrites the checksum fields of b.
func (im *Image) parseInode(num uint32, b []byte) (*inode, error) {
	sb, le := im.sb, binary.LittleEndian
	in := &inode{
		num:   num,
		mode:  le.Uint16(b[0x0:]),
		nlink: le.Uint16(b[0x1a:]),
		flags: le.Uint32(b[0x20:]),
		size:  uint64(le.Uint32(b[0x4:])) | uint64(le.Uint32(b[0x6c:]))<<32,
	}
	var n [8]byte
	le.PutUint32(n[:4], num)
	le.PutUint32(n[4:], le.Uint32(b[0x64:])) // i_generation
	in.seed = crc32c(sb.csumSeed, n[:])

	extra := uint64(le.Uint16(b[0x80:]))
	if 128+extra > sb.inodeSize || extra%4 != 0 {
		return nil, corruptf("extra inode size %d", extra)
	}
	if im.opts.verify {
		want, mask := uint32(le.Uint16(b[0x7c:])), uint32(0xffff)
		b[0x7c], b[0x7d] = 0, 0
		if extra >= 4 {
			want |= uint32(le.Uint16(b[0x82:])) << 16
			mask = ^uint32(0)
			b[0x82], b[0x83] = 0, 0
		}
		if got := crc32c(in.seed, b) & mask; got != want {
			return nil, corruptf("checksum %#08x, want %#08x", got, want)
		}
	}
	if in.nlink == 0 {
		return nil, corruptf("deleted inode in use")
	}
	if t := in.typ(); t == 0 || direntTypeOf(t) == 0 {
		return nil, corruptf("bad file type %#o", t)
	}
	if in.size > sb.blockSize<<32 {
		return nil, corruptf("size %d beyond the ext4 limit", in.size)
	}

	blocks := uint64(le.Uint32(b[0x1c:]))
	if sb.hugeFile {
		blocks |= uint64(le.Uint16(b[0x74:])) << 32
	}
	if sb.hugeFile && in.flags&inodeFlagHugeFile != 0 {
		in.blocks = blocks
	} else {
		in.blocks = (blocks*512 + sb.blockSize - 1) / sb.blockSize
	}

	sec, nsec := int64(int32(le.Uint32(b[0x10:]))), int64(0)
	if extra >= 12 { // i_mtime_extra present
		x := le.Uint32(b[0x88:])
		sec += int64(x&3) << 32
		nsec = int64(x >> 2)
	}
	in.mtime = time.Unix(sec, nsec)
	copy(in.iblock[:], b[0x28:0x64])
	return in, nil
}

// direntTypeOf returns the directory entry file type byte for i_mode type
// t, or 0 if t is not a file type.
func direntTypeOf(t uint16) uint8 {
	for i, dt := range direntTypes {
		if i > 0 && dt == t {
			return uint8(i)
		}
	}
	return 0
}

// readFull reads len(b) bytes of the image at off; a short read means the
// image shrank or lies about its size.
func (im *Image) readFull(b []byte, off int64) error {
	n, err := im.r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return corruptf("short read of %d bytes at offset %d: image ends early", len(b), off)
	}
	return fmt.Errorf("read image at offset %d: %w", off, err)
}
