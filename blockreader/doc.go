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
// caller's buffer, holes and unwritten extents reading as zeros. An entry
// naming a reserved inode (the journal, say) is refused, and Stat checks the
// whole extent tree of the file it finds, so that a file that cannot be read
// fails there and not at its first read.
//
// Work is bounded, not only sizes: every request (an Open of the image, a
// Stat, Lstat, Readlink or Open) has a Budget of lookups, extent tree blocks,
// directory blocks, directory entries and extents, and stops with an error
// wrapping ErrBudget (an ErrUnsupported) that names the bound it would pass.
// Inodes, directory extent maps and lookups are cached for the length of a
// request, so a path that names one directory a thousand times (an entry
// may name its own directory) reads it once; an extent tree block reached
// twice is corruption.
//
// github.com/diskfs/go-diskfs reads the superblock and group descriptors at
// Open and stats resolved paths again as an independent cross-check, but
// only ever after this package has validated everything go-diskfs will read
// (its own walk can recurse without bound, allocate by on-disk sizes and
// panic on malformed input); a disagreement or a panic in it becomes an error
// wrapping ErrCorrupt. go-diskfs reads every directory on the path whole and
// allocates per entry, so the cross-check runs only on paths whose
// directories are few and small (the artifact paths of ordinary images);
// others are served on this package's checks alone.
package blockreader
