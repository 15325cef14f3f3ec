package blockreader

import (
	"encoding/binary"
	"hash/crc32"
	"strings"
)

const (
	superblockOffset = 1024
	superblockSize   = 1024
	superblockMagic  = 0xEF53
	goodOldFirstIno  = 11 // EXT4_GOOD_OLD_FIRST_INO, the least s_first_ino the kernel mounts

	// maxGDTBytes bounds the group descriptor table go-diskfs allocates at
	// Open from superblock numbers (8 MiB describes 1 TiB of 1 KiB blocks).
	maxGDTBytes = 64 << 20
)

// Feature bits, from the kernel's fs/ext4/ext4.h.
const (
	incompatCompression = 0x1
	incompatFiletype    = 0x2
	incompatRecover     = 0x4
	incompatJournalDev  = 0x8
	incompatMetaBG      = 0x10
	incompatExtents     = 0x40
	incompat64bit       = 0x80
	incompatMMP         = 0x100
	incompatFlexBG      = 0x200
	incompatEAInode     = 0x400
	incompatDirData     = 0x1000
	incompatCsumSeed    = 0x2000
	incompatLargeDir    = 0x4000
	incompatInlineData  = 0x8000
	incompatEncrypt     = 0x10000
	incompatCasefold    = 0x20000

	// incompatKnown is what this package reads: needs_recovery is accepted
	// because a device mounted elsewhere carries it (the journal is not
	// replayed); mmp and ea_inode do not change how file data is found.
	incompatKnown = incompatFiletype | incompatRecover | incompatExtents | incompat64bit |
		incompatMMP | incompatFlexBG | incompatEAInode | incompatCsumSeed | incompatLargeDir

	roCompatHugeFile     = 0x8
	roCompatBigalloc     = 0x200
	roCompatMetadataCsum = 0x400
)

// incompatNames names the incompatible features refused, as mkfs.ext4 -O
// spells them.
var incompatNames = []struct {
	bit  uint32
	name string
}{
	{incompatInlineData, "inline_data"},
	{incompatEncrypt, "encrypt"},
	{incompatCasefold, "casefold"},
	{incompatCompression, "compression"},
	{incompatJournalDev, "journal_dev (an external journal, not a filesystem)"},
	{incompatMetaBG, "meta_bg"},
	{incompatDirData, "dirdata"},
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// crc32c is the kernel's crc32c_le: no inversion on entry or exit, so the
// result of one call seeds the next as ext4 chains its checksums.
func crc32c(seed uint32, b []byte) uint32 {
	return ^crc32.Update(^seed, castagnoli, b)
}

// superblock holds the validated geometry of an image.
type superblock struct {
	blockSize      uint64
	blocksCount    uint64
	firstDataBlock uint64
	blocksPerGroup uint64
	inodesPerGroup uint32
	inodesCount    uint32
	firstIno       uint32 // s_first_ino: inodes below it, but the root, are reserved
	inodeSize      uint64
	descSize       uint64
	groups         uint64
	gdtOffset      int64  // byte offset of the group descriptor table
	itableBlocks   uint64 // inode table blocks per group
	csumSeed       uint32 // s_csum_seed: checksum seed of all metadata
	hugeFile       bool
	largeDir       bool
}

// parseSuperblock checks the raw superblock b of an image of imageSize
// bytes as the kernel's ext4_fill_super would, refusing what this package
// cannot read before go-diskfs sees it. verify=false skips the checksum
// (fuzzing only).
func parseSuperblock(b []byte, imageSize int64, verify bool) (*superblock, error) {
	le := binary.LittleEndian
	if magic := le.Uint16(b[0x38:]); magic != superblockMagic {
		return nil, corruptf("no ext4 superblock (magic %#04x, want %#04x)", magic, superblockMagic)
	}
	logBlock := le.Uint32(b[0x18:])
	if logBlock > 6 {
		return nil, corruptf("block size 2^(10+%d) out of range 1 KiB-64 KiB", logBlock)
	}
	if rev := le.Uint32(b[0x4c:]); rev != 1 {
		return nil, unsupportedf("revision %d superblock %s", rev, rebuildHint)
	}
	incompat, roCompat := le.Uint32(b[0x60:]), le.Uint32(b[0x64:])
	if err := checkFeatures(incompat, roCompat); err != nil {
		return nil, err
	}
	if verify {
		if got, want := crc32c(^uint32(0), b[:0x3fc]), le.Uint32(b[0x3fc:]); got != want {
			return nil, corruptf("superblock checksum %#08x, want %#08x", got, want)
		}
	}
	if t := b[0x175]; t != 1 {
		return nil, unsupportedf("checksum type %d (only crc32c) %s", t, rebuildHint)
	}

	sb := &superblock{
		blockSize:      1024 << logBlock,
		blocksCount:    uint64(le.Uint32(b[0x4:])),
		firstDataBlock: uint64(le.Uint32(b[0x14:])),
		blocksPerGroup: uint64(le.Uint32(b[0x20:])),
		inodesPerGroup: le.Uint32(b[0x28:]),
		inodesCount:    le.Uint32(b[0x0:]),
		firstIno:       le.Uint32(b[0x54:]),
		inodeSize:      uint64(le.Uint16(b[0x58:])),
		descSize:       32,
		hugeFile:       roCompat&roCompatHugeFile != 0,
		largeDir:       incompat&incompatLargeDir != 0,
	}
	if incompat&incompat64bit != 0 {
		sb.blocksCount |= uint64(le.Uint32(b[0x150:])) << 32
		sb.descSize = uint64(le.Uint16(b[0xfe:]))
		switch {
		case sb.descSize < 64 || sb.descSize > 1024 || sb.descSize&(sb.descSize-1) != 0:
			return nil, corruptf("%d-byte group descriptors", sb.descSize)
		case sb.descSize != 64:
			// go-diskfs parses exactly 32- and 64-byte descriptors.
			return nil, unsupportedf("%d-byte group descriptors %s", sb.descSize, rebuildHint)
		}
	}
	if incompat&incompatCsumSeed != 0 {
		sb.csumSeed = le.Uint32(b[0x270:])
	} else {
		sb.csumSeed = crc32c(^uint32(0), b[0x68:0x78]) // the volume UUID
	}
	if err := sb.checkGeometry(b, imageSize); err != nil {
		return nil, err
	}
	return sb, nil
}

// checkFeatures refuses, naming the feature, every layout not read here.
func checkFeatures(incompat, roCompat uint32) error {
	if incompat&incompatExtents == 0 {
		return unsupportedf("ext2/ext3 block maps, no extents feature %s", rebuildHint)
	}
	var names []string
	for _, f := range incompatNames {
		if incompat&f.bit != 0 {
			names = append(names, f.name)
		}
	}
	if len(names) > 0 {
		return unsupportedf("%s %s", strings.Join(names, ", "), rebuildHint)
	}
	if unknown := incompat &^ incompatKnown; unknown != 0 {
		return unsupportedf("unknown incompatible features %#x %s", unknown, rebuildHint)
	}
	if incompat&incompatFiletype == 0 {
		return unsupportedf("no filetype feature %s", rebuildHint)
	}
	if roCompat&roCompatMetadataCsum == 0 {
		return unsupportedf("no metadata_csum feature %s", rebuildHint)
	}
	if roCompat&roCompatBigalloc != 0 {
		return unsupportedf("bigalloc %s", rebuildHint)
	}
	return nil
}

// checkGeometry bounds every number later code multiplies or allocates by.
func (sb *superblock) checkGeometry(b []byte, imageSize int64) error {
	le := binary.LittleEndian
	bs := sb.blockSize
	if sb.inodeSize < 256 {
		return unsupportedf("%d-byte inodes, 256 needed %s", sb.inodeSize, rebuildHint)
	}
	if sb.inodeSize > bs || sb.inodeSize&(sb.inodeSize-1) != 0 {
		return corruptf("inode size %d", sb.inodeSize)
	}
	if le.Uint32(b[0x1c:]) != le.Uint32(b[0x18:]) {
		return corruptf("cluster size differs from block size without bigalloc")
	}
	if sb.blocksCount == 0 || sb.blocksCount > uint64(imageSize)/bs {
		return corruptf("truncated image: superblock says %d blocks of %d bytes, image has %d bytes",
			sb.blocksCount, bs, imageSize)
	}
	want := uint64(0)
	if bs == 1024 {
		want = 1
	}
	if sb.firstDataBlock != want {
		return corruptf("first data block %d with %d-byte blocks", sb.firstDataBlock, bs)
	}
	if sb.blocksPerGroup < 8 || sb.blocksPerGroup > 8*bs || sb.blocksPerGroup%8 != 0 {
		return corruptf("%d blocks per group", sb.blocksPerGroup)
	}
	inodesPerBlock := uint32(bs / sb.inodeSize)
	if ipg := sb.inodesPerGroup; ipg < inodesPerBlock || uint64(ipg) > 8*bs || ipg%inodesPerBlock != 0 {
		return corruptf("%d inodes per group", ipg)
	}
	sb.itableBlocks = uint64(sb.inodesPerGroup / inodesPerBlock)
	sb.groups = (sb.blocksCount - sb.firstDataBlock + sb.blocksPerGroup - 1) / sb.blocksPerGroup
	if uint64(sb.inodesCount) != sb.groups*uint64(sb.inodesPerGroup) {
		return corruptf("%d inodes, want %d groups of %d", sb.inodesCount, sb.groups, sb.inodesPerGroup)
	}
	if sb.firstIno < goodOldFirstIno || sb.firstIno > sb.inodesCount {
		return corruptf("first non-reserved inode %d out of range %d-%d", sb.firstIno, goodOldFirstIno, sb.inodesCount)
	}
	gdtBytes := sb.groups * sb.descSize
	sb.gdtOffset = int64((sb.firstDataBlock + 1) * bs)
	if gdtBytes > maxGDTBytes || uint64(sb.gdtOffset)+gdtBytes > sb.blocksCount*bs {
		return corruptf("group descriptor table of %d groups does not fit", sb.groups)
	}
	return nil
}

// groupDescChecksum is the metadata_csum checksum of group descriptor d of
// group g (ext4_group_desc_csum).
func (sb *superblock) groupDescChecksum(g uint32, d []byte) uint16 {
	var n [4]byte
	binary.LittleEndian.PutUint32(n[:], g)
	c := crc32c(sb.csumSeed, n[:])
	c = crc32c(c, d[:0x1e])
	c = crc32c(c, []byte{0, 0})
	c = crc32c(c, d[0x20:])
	return uint16(c)
}
