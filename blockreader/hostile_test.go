package blockreader

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/artifactfs/artifactfs/internal/testimage"
)

// The images here are made hostile on purpose, with valid checksums, so
// that only the structural checks stand between them and go-diskfs. Several
// would crash or hang a process that handed them to go-diskfs unchecked.

// patcher edits an image in place and fixes the checksums it breaks.
type patcher struct {
	t   *testing.T
	img string
	im  *Image // opened before patching; only its geometry is used
}

func newPatcher(t *testing.T, img string) *patcher {
	im, err := Open(img)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { im.Close() })
	return &patcher{t: t, img: img, im: im}
}

// inode returns the parsed inode at in-image path p (not following it).
func (pt *patcher) inode(p string) *inode {
	r, err := pt.im.resolve(p, false)
	if err != nil {
		pt.t.Fatal(err)
	}
	return r.in
}

func (pt *patcher) inodeOffset(num uint32) int64 {
	sb := pt.im.sb
	table, err := pt.im.inodeTable((num - 1) / sb.inodesPerGroup)
	if err != nil {
		pt.t.Fatal(err)
	}
	return int64(table*sb.blockSize + uint64((num-1)%sb.inodesPerGroup)*sb.inodeSize)
}

// patch rewrites n bytes at off through fn.
func (pt *patcher) patch(off int64, n int, fn func(b []byte)) {
	f, err := os.OpenFile(pt.img, os.O_RDWR, 0)
	if err != nil {
		pt.t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, n)
	if _, err := f.ReadAt(b, off); err != nil {
		pt.t.Fatal(err)
	}
	fn(b)
	if _, err := f.WriteAt(b, off); err != nil {
		pt.t.Fatal(err)
	}
}

// patchInode edits inode num and recomputes its checksum.
func (pt *patcher) patchInode(num uint32, fn func(b []byte)) {
	pt.patch(pt.inodeOffset(num), int(pt.im.sb.inodeSize), func(b []byte) {
		fn(b)
		fixInodeChecksum(b, num, pt.im.sb.csumSeed)
	})
}

// fixInodeChecksum recomputes the checksum of the raw inode num in b.
func fixInodeChecksum(b []byte, num, csumSeed uint32) {
	le := binary.LittleEndian
	b[0x7c], b[0x7d], b[0x82], b[0x83] = 0, 0, 0, 0
	var n [8]byte
	le.PutUint32(n[:4], num)
	le.PutUint32(n[4:], le.Uint32(b[0x64:]))
	c := crc32c(crc32c(csumSeed, n[:]), b)
	le.PutUint16(b[0x7c:], uint16(c))
	le.PutUint16(b[0x82:], uint16(c>>16))
}

// patchBlock edits image block pblk.
func (pt *patcher) patchBlock(pblk uint64, fn func(b []byte)) {
	bs := pt.im.sb.blockSize
	pt.patch(int64(pblk*bs), int(bs), fn)
}

// fixDirTail recomputes the checksum of a directory leaf block of in.
func fixDirTail(b []byte, in *inode) {
	end := len(b) - direntTailSize
	binary.LittleEndian.PutUint32(b[end+8:], crc32c(in.seed, b[:end]))
}

// fixExtentTail recomputes the checksum of an extent tree block of in.
func fixExtentTail(b []byte, in *inode) {
	tail := 12 + 12*int(binary.LittleEndian.Uint16(b[4:]))
	binary.LittleEndian.PutUint32(b[tail:], crc32c(in.seed, b[:tail]))
}

// selfLoop turns the depth-0 extent root of in into an index whose only
// child is an index node pointing to itself: go-diskfs recurses on it until
// the stack overflows, which no recover can catch.
func (pt *patcher) selfLoop(in *inode) {
	le := binary.LittleEndian
	if le.Uint16(in.iblock[6:]) != 0 {
		pt.t.Fatalf("inode %d: want a depth-0 extent root", in.num)
	}
	pblk := uint64(le.Uint32(in.iblock[12+8:])) | uint64(le.Uint16(in.iblock[12+6:]))<<32
	node := func(b []byte, maxEntries int) {
		le.PutUint16(b[0:], extentMagic)
		le.PutUint16(b[2:], 1)
		le.PutUint16(b[4:], uint16(maxEntries))
		le.PutUint16(b[6:], 1) // depth 1: an index node
		le.PutUint32(b[12:], 0)
		le.PutUint32(b[16:], uint32(pblk))
		le.PutUint16(b[20:], uint16(pblk>>32))
	}
	pt.patchInode(in.num, func(b []byte) { node(b[0x28:0x64], extentRootMax) })
	pt.patchBlock(pblk, func(b []byte) {
		clear(b)
		node(b, (len(b)-12)/12)
		fixExtentTail(b, in)
	})
}

func TestHostileExtentLoops(t *testing.T) {
	for _, p := range []string{"/dir", "/kernel", "/"} {
		t.Run(p, func(t *testing.T) {
			img := buildImage(t, 8, treeOf(t, map[string][]byte{"kernel": testimage.Payload(1, 5000), "dir/file": []byte("x")}))
			pt := newPatcher(t, img)
			pt.selfLoop(pt.inode(p))
			im, err := Open(img)
			if p == "/" {
				wantErr(t, "Open", err, ErrCorrupt)
				t.Log(err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer im.Close()
			if p == "/dir" {
				_, err = im.Stat("/dir/file")
			} else {
				_, err = im.Open(p)
			}
			wantErr(t, p, err, ErrCorrupt)
			t.Log(err)
		})
	}
}

func TestHostileSymlinkSize(t *testing.T) {
	img := buildImage(t, 8, func(src string) {
		testimage.WriteTree(t, src, map[string][]byte{"kernel": []byte("k")})
		mustSymlink(t, src, "kernel", "short")
		mustSymlink(t, src, strings.Repeat("./", 40)+"kernel", "long")
	})
	pt := newPatcher(t, img)
	for _, p := range []string{"/short", "/long"} {
		pt.patchInode(pt.inode(p).num, func(b []byte) {
			binary.LittleEndian.PutUint32(b[0x4:], 0x7fff0000)
			binary.LittleEndian.PutUint32(b[0x6c:], 0x10)
		})
	}
	im := openImage(t, img)
	for _, p := range []string{"/short", "/long"} {
		_, err := im.Stat(p)
		wantErr(t, "Stat("+p+")", err, ErrCorrupt)
		t.Log(err)
		_, err = im.Readlink(p)
		wantErr(t, "Readlink("+p+")", err, ErrCorrupt)
	}
}

func TestHostileDirectoryEntries(t *testing.T) {
	build := func(t *testing.T) (string, *patcher, *inode, uint64) {
		img := buildImage(t, 8, treeOf(t, map[string][]byte{"d/aaaaaa": []byte("a"), "d/bbbbbb": []byte("b")}))
		pt := newPatcher(t, img)
		dir := pt.inode("/d")
		ext, err := pt.im.dirExtents(dir)
		if err != nil || len(ext) != 1 || ext[0].len != 1 {
			t.Fatalf("want a one-block directory: %+v %v", ext, err)
		}
		return img, pt, dir, ext[0].pblk
	}
	for name, edit := range map[string]func(b []byte){
		"duplicate name": func(b []byte) {
			i := bytes.Index(b, []byte("bbbbbb"))
			copy(b[i:], "aaaaaa")
		},
		"zero record length": func(b []byte) {
			i := bytes.Index(b, []byte("bbbbbb"))
			binary.LittleEndian.PutUint16(b[i-4:], 0)
		},
		"record past the block": func(b []byte) {
			i := bytes.Index(b, []byte("bbbbbb"))
			binary.LittleEndian.PutUint16(b[i-4:], 0xfff0)
		},
		"wrong entry type": func(b []byte) {
			i := bytes.Index(b, []byte("aaaaaa"))
			b[i-1] = 2 // a directory, says the entry
		},
	} {
		t.Run(name, func(t *testing.T) {
			img, pt, dir, pblk := build(t)
			pt.patchBlock(pblk, func(b []byte) {
				edit(b)
				fixDirTail(b, dir)
			})
			im := openImage(t, img)
			_, err := im.Stat("/d/aaaaaa")
			wantErr(t, "Stat", err, ErrCorrupt)
			t.Log(err)
		})
	}
}

// TestHostileHtree makes an htree index point at one block twice: go-diskfs
// walks every index entry, so a tree of such nodes multiplies its work.
func TestHostileHtree(t *testing.T) {
	img := buildImage(t, 32, func(src string) {
		files := map[string][]byte{}
		for i := range 3000 {
			files[fmt.Sprintf("big/entry-%04d-%s", i, strings.Repeat("n", 30))] = nil
		}
		testimage.WriteTree(t, src, files)
	}, "-b", "1024", "-N", "4000")
	testimage.Run(t, "e2fsck", "-fyD", img)
	pt := newPatcher(t, img)
	dir := pt.inode("/big")
	if dir.flags&inodeFlagIndex == 0 {
		t.Fatal("test is moot: /big is not an htree directory")
	}
	im := openImage(t, img)
	if _, err := im.Stat("/big/entry-2999-" + strings.Repeat("n", 30)); err != nil {
		t.Fatalf("intact htree: %v", err)
	}
	ext, err := pt.im.dirExtents(dir)
	if err != nil {
		t.Fatal(err)
	}
	pt.patchBlock(ext[0].pblk, func(b []byte) {
		le := binary.LittleEndian
		if le.Uint16(b[0x22:]) < 2 {
			t.Fatal("test is moot: htree root has one entry")
		}
		le.PutUint32(b[0x2c:], le.Uint32(b[0x24:])) // entry 1 -> entry 0's block
	})
	im = openImage(t, img)
	_, err = im.Stat("/big/entry-0001-" + strings.Repeat("n", 30))
	wantErr(t, "Stat in a looping htree", err, ErrCorrupt)
	t.Log(err)
}

// TestImageShrinks truncates the image under an open Image: reads fail
// with an error, not short data or a panic.
func TestImageShrinks(t *testing.T) {
	data := testimage.Payload(13, 2<<20)
	img := buildImage(t, 16, treeOf(t, map[string][]byte{"kernel": data}), "-b", "4096")
	im := openImage(t, img)
	f := openFile(t, im, "/kernel")
	if err := os.Truncate(img, 4096*16); err != nil {
		t.Fatal(err)
	}
	_, err := f.ReadAt(make([]byte, 1<<20), 0)
	wantErr(t, "ReadAt", err, ErrCorrupt)
	t.Log(err)
}
