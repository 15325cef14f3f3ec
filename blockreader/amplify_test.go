package blockreader

import (
	"bytes"
	"encoding/binary"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/artifactfs/artifactfs/internal/testimage"
)

// Issue 9: images that are small or cheap on disk but expensive to read.
// Each test here failed before the fix (see the comments).

// TestSelfReferencingPath resolves a path that names directory /d 1500
// times (an entry of /d names /d), where /d's extent tree has 21,426
// distinct blocks. Before, every component walked the tree again, and
// go-diskfs's cross-check once more: 64 million reads, minutes. Now the
// request walks it once and caches the result.
func TestSelfReferencingPath(t *testing.T) {
	img := selfRefImage(t, 24, func(c *treeCrafter) {
		kids := []uint64{c.chain(2)}
		for range 3 {
			kids = append(kids, c.wide(2, 84))
		}
		c.root(3, kids)
	})
	im, rc := openCapped(t, img, 100_000)
	start := time.Now()
	info, err := im.Stat(selfPath(1500))
	t.Logf("Stat of a 1501-component path: %v, %d reads", time.Since(start), rc.reads)
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != 5000 {
		t.Fatalf("size %d, want 5000", info.Size)
	}
}

// TestExtentTreeDAG gives /d an extent tree whose index entries all point
// to one node per level: 5 blocks on disk, 22,765 nodes to walk. Before, it
// was read as valid, at 22,765 reads per lookup; a block reached twice now
// makes the tree corrupt.
func TestExtentTreeDAG(t *testing.T) {
	img := selfRefImage(t, 1, func(c *treeCrafter) {
		c.root(4, []uint64{c.chain(3), c.dag(3, 28)})
	})
	im, rc := openCapped(t, img, 10_000_000)
	start := time.Now()
	_, err := im.Stat("/d/k")
	t.Logf("Stat(/d/k): %v, %d reads", time.Since(start), rc.reads)
	wantErr(t, "Stat through a DAG extent tree", err, ErrCorrupt)
	if !strings.Contains(err.Error(), "reached twice") {
		t.Fatalf("error %q does not say what is wrong", err)
	}
}

// TestHugeDirectoryMemory packs a 16 MiB directory with 1.4 million
// entries. Before, go-diskfs's cross-check read it whole and allocated per
// entry: hundreds of MB for one Stat, paid again by every concurrent one.
// Now the cross-check is bounded and this package reads a block at a time.
func TestHugeDirectoryMemory(t *testing.T) {
	const dirBlocks = 4096
	img := buildImage(t, 40, treeOf(t, map[string][]byte{"f": []byte("x"), "big": testimage.Payload(9, dirBlocks*4096)}), "-b", "4096")
	pt := newPatcher(t, img)
	big, f, root := pt.inode("/big"), pt.inode("/f"), pt.inode("/")
	ext, err := pt.im.extents(big)
	if err != nil {
		t.Fatal(err)
	}
	last := packDirectory(pt, big, ext, f.num)
	pt.patchInode(big.num, func(b []byte) { binary.LittleEndian.PutUint16(b, modeDir|0o755) })
	rootExt, err := pt.im.dirExtents(root)
	if err != nil {
		t.Fatal(err)
	}
	pt.patchBlock(rootExt[0].pblk, func(b []byte) {
		i := bytes.Index(b, []byte{3, 1, 'b', 'i', 'g'})
		b[i+1] = 2 // a directory now
		fixDirTail(b, root)
	})
	im := openImage(t, img)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	info, err := im.Stat("/big/" + last)
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("Stat in a %d-block directory: %v, %d bytes allocated in %d allocations, %s",
		dirBlocks, elapsed, alloc, after.Mallocs-before.Mallocs, peakRSS())
	if err != nil || info.Size != 1 {
		t.Fatalf("Stat(/big/%s) = %+v, %v", last, info, err)
	}
	if alloc > 1<<20 {
		t.Fatalf("Stat allocated %d bytes, want at most 1 MiB", alloc)
	}
}

// packDirectory fills the blocks ext of directory dir with the shortest
// entries (names of 1-4 characters), all naming inode ino, a regular file,
// and returns the name of the last one.
func packDirectory(pt *patcher, dir *inode, ext []extent, ino uint32) string {
	le, n := binary.LittleEndian, 0
	var name string
	for _, e := range ext {
		for k := range uint64(e.len) {
			pt.patchBlock(e.pblk+k, func(b []byte) {
				clear(b)
				end := len(b) - direntTailSize
				for off := 0; off < end; off += 12 {
					name = strconv.FormatInt(int64(n), 36)
					n++
					rl := 12
					if off+2*rl > end {
						rl = end - off
					}
					le.PutUint32(b[off:], ino)
					le.PutUint16(b[off+4:], uint16(rl))
					b[off+6], b[off+7] = byte(len(name)), 1
					copy(b[off+8:], name)
					off += rl - 12
				}
				t := b[end:]
				le.PutUint16(t[4:], direntTailSize)
				t[7] = 0xDE
				fixDirTail(b, dir)
			})
		}
	}
	return name
}

// peakRSS reads the process's peak resident set size, for the log.
func peakRSS() string {
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			return "peak RSS " + strings.Join(strings.Fields(line)[1:], " ")
		}
	}
	return "peak RSS unknown"
}

// TestReservedInodeEntry points /kernel's directory entry at the journal
// (inode 8). Before, the journal was served as the kernel; the kernel's
// ext4_lookup refuses an inode below s_first_ino but the root, and so does
// this package now.
func TestReservedInodeEntry(t *testing.T) {
	img := buildImage(t, 8, treeOf(t, map[string][]byte{"kernel": []byte("k")}))
	pt := newPatcher(t, img)
	root, kernel := pt.inode("/"), pt.inode("/kernel")
	ext, err := pt.im.dirExtents(root)
	if err != nil {
		t.Fatal(err)
	}
	pt.patchBlock(ext[0].pblk, func(b []byte) {
		i := bytes.Index(b, []byte("kernel"))
		if got := binary.LittleEndian.Uint32(b[i-8:]); got != kernel.num {
			t.Fatalf("entry names inode %d, want %d", got, kernel.num)
		}
		binary.LittleEndian.PutUint32(b[i-8:], 8) // EXT4_JOURNAL_INO
		fixDirTail(b, root)
	})
	im := openImage(t, img)
	_, err = im.Stat("/kernel")
	wantErr(t, "Stat of an entry naming the journal", err, ErrCorrupt)
	t.Log(err)
	_, err = im.Open("/kernel")
	wantErr(t, "Open of an entry naming the journal", err, ErrCorrupt)
}

// TestBrokenExtentTreeAtStat breaks a leaf of the kernel's extent tree.
// Before, Stat (so ls, the mount and the shim's preparation) passed and the
// first read failed with EIO; the whole tree is now checked at Stat.
func TestBrokenExtentTreeAtStat(t *testing.T) {
	islands := map[int64][]byte{}
	for i := range 50 {
		islands[int64(i)*2048] = testimage.Payload(uint64(i), 1024)
	}
	img := buildImage(t, 8, func(src string) {
		writeSparse(t, src+"/kernel", 50*2048, islands)
	}, "-b", "1024")
	pt := newPatcher(t, img)
	in := pt.inode("/kernel")
	if binary.LittleEndian.Uint16(in.iblock[6:]) == 0 {
		t.Fatal("test is moot: /kernel has no tree blocks")
	}
	leaf := uint64(binary.LittleEndian.Uint32(in.iblock[12+4:]))
	pt.patchBlock(leaf, func(b []byte) { b[12+12*3+8] ^= 0x10 }) // move an extent; the checksum no longer matches
	im := openImage(t, img)
	for _, op := range []func(string) (any, error){
		func(p string) (any, error) { return im.Stat(p) },
		func(p string) (any, error) { return im.Lstat(p) },
	} {
		_, err := op("/kernel")
		wantErr(t, "Stat of a kernel with a broken extent tree", err, ErrCorrupt)
		t.Log(err)
	}
}
