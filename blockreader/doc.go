// Package blockreader reads files out of an ext4 image file or block device
// without mounting it, for the hosts and modes where artifactfs has no
// mounted snapshot view to serve from.
//
// The image is treated as hostile. Before anything else touches it, Open
// checks the raw superblock as the kernel would (magic, geometry, a block
// count that fits the real image size) and refuses, with an error wrapping
// ErrUnsupported that names the feature, every layout it does not read:
// ext2/ext3 block maps, inline_data, 128-byte inodes, images without
// metadata_csum, and incompatible features such as encrypt or meta_bg.
//
// Lookups, symlinks and file data are handled by this package's own bounded
// parsers: every inode, extent tree, directory block and htree index is
// checked (checksums, ranges, depth, counts) before it is used, symlinks are
// resolved component by component and confined to the image root, and file
// data is mapped from the extent tree and read with pread straight into the
// caller's buffer, holes and unwritten extents reading as zeros.
// github.com/diskfs/go-diskfs reads the superblock and group descriptors at
// Open and stats every resolved path again as an independent cross-check,
// but only ever after this package has validated everything go-diskfs will
// read (its own walk can recurse without bound, allocate by on-disk sizes and
// panic on malformed input); a disagreement or a panic in it becomes an error
// wrapping ErrCorrupt.
package blockreader
