package blockreader

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"testing"
	"time"
)

// fuzzPaths are looked up in every fuzzed image; the base images hold them.
var fuzzPaths = []string{"/", "/k", "/d/s/f", "/l", "/lp", "/long", "/dl/s/f", "/sp", "/many/e7", "/fifo", "/nope", "/k/x"}

// applyPatches returns a copy of base changed by patches, a list of
// records: a 3-byte little-endian offset, a length byte n, then n bytes
// XORed into the image at the offset. n == 0 truncates the image there.
func applyPatches(base, patches []byte) []byte {
	img := bytes.Clone(base)
	for len(patches) >= 4 {
		off := int(patches[0]) | int(patches[1])<<8 | int(patches[2])<<16
		n := int(patches[3])
		patches = patches[4:]
		if n == 0 {
			if off < len(img) {
				img = img[:off]
			}
			continue
		}
		n = min(n, len(patches))
		for i := range n {
			if off+i < len(img) {
				img[off+i] ^= patches[i]
			}
		}
		patches = patches[n:]
	}
	return img
}

// patch encodes one applyPatches record.
func patch(off int, x ...byte) []byte {
	return append([]byte{byte(off), byte(off >> 8), byte(off >> 16), byte(len(x))}, x...)
}

// fuzzSeeds returns, for base image b, records that hit the structures
// lookups go through: superblock fields, the inodes and first blocks of the
// files in fuzzPaths, and a truncation.
func fuzzSeeds(tb testing.TB, b []byte) [][]byte {
	im, err := openBytes(b, nil)
	if err != nil {
		tb.Fatal(err)
	}
	bs := int(im.sb.blockSize)
	seeds := [][]byte{nil, patch(1024+0x18, 1), patch(1024+0x4, 0, 4), patch(1024+0x28, 0xff), patch(1024+0x60, 0x80), patch(len(b) / 2)}
	for _, p := range []string{"/", "/long", "/sp", "/many", "/d/s/f", "/l", "/dl"} {
		r, err := im.resolve(p, false)
		if err != nil {
			tb.Fatal(err)
		}
		table, err := im.inodeTable((r.in.num - 1) / im.sb.inodesPerGroup)
		if err != nil {
			tb.Fatal(err)
		}
		ino := int(table)*bs + int((r.in.num-1)%im.sb.inodesPerGroup)*int(im.sb.inodeSize)
		seeds = append(seeds, patch(ino+0x4, 0x10), patch(ino+0x28+2, 3), patch(ino+0x28+6, 1), patch(ino+0x28+12+4, 0x80), patch(ino+1, 0x20))
		if ext, err := im.extents(r.in); err == nil && len(ext) > 0 {
			blk := int(ext[0].pblk) * bs
			seeds = append(seeds, patch(blk+4, 0x30), patch(blk, 1, 0, 0, 0), patch(blk+6, 0x40))
			if r.in.flags&inodeFlagIndex != 0 { // htree root: levels, limit, count, a block
				seeds = append(seeds, patch(blk+0x1e, 1), patch(blk+0x20, 1), patch(blk+0x22, 3), patch(blk+0x2c, 1))
			}
		}
		if d := binary.LittleEndian.Uint16(r.in.iblock[6:]); d > 0 {
			leaf := int(binary.LittleEndian.Uint32(r.in.iblock[12+4:])) * bs
			seeds = append(seeds, patch(leaf+2, 0x7f), patch(leaf+12+4, 0x80), patch(leaf+6, 1))
		}
	}
	return seeds
}

// FuzzImage opens mutated images and looks up, stats and reads paths in
// them: every outcome must be a value or an error, never a panic or a hang.
// Each input runs twice: as Open runs it, and in raw mode (no checksums, no
// go-diskfs) so that mutations reach this package's parsers past the
// checksums that would otherwise catch them.
//
//	go test -run '^$' -fuzz '^FuzzImage$' -fuzztime 5m ./blockreader
func FuzzImage(f *testing.F) {
	bases := fuzzBases(f)
	for i, b := range bases {
		for _, s := range fuzzSeeds(f, b) {
			f.Add(uint8(i), s)
		}
	}
	f.Fuzz(func(t *testing.T, base uint8, patches []byte) {
		img := applyPatches(bases[int(base)%len(bases)], patches)
		// A hang is a failure too: crash the worker with every stack, and
		// the fuzzer saves the input.
		watchdog := time.AfterFunc(10*time.Second, func() {
			buf := make([]byte, 1<<20)
			panic(fmt.Sprintf("input runs over 10s:\n%s", buf[:runtime.Stack(buf, true)]))
		})
		defer watchdog.Stop()
		exerciseImage(t, img, false)
		exerciseImage(t, img, true)
	})
}

// TestFuzzBases runs the fuzz body over the unpatched bases, which must
// open and resolve cleanly in both modes.
func TestFuzzBases(t *testing.T) {
	bases := fuzzBases(t)
	im, err := openBytes(bases[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := im.resolve("/many", false); err != nil || r.in.flags&inodeFlagIndex == 0 {
		t.Errorf("/many in the 1 KiB-block base is not an htree directory (%v)", err)
	}
	for _, b := range bases {
		for _, raw := range []bool{false, true} {
			if n := exerciseImage(t, b, raw); n < 7 {
				t.Errorf("raw=%v: only %d files opened in a base image", raw, n)
			}
		}
	}
}

// exerciseImage runs every operation on img and returns how many files it
// opened; it fails the test on a panic inside blockreader and on an
// operation that does more work than fuzzBudget allows (see meter).
func exerciseImage(t *testing.T, img []byte, raw bool) int {
	m := &meter{t: t, r: bytes.NewReader(img), b: fuzzBudget}
	opts := []Option{WithMaxDirSize(1 << 20), WithBudget(fuzzBudget), func(o *options) { o.onDone = m.onDone }}
	if raw {
		opts = append(opts, func(o *options) { o.verify, o.raw = false, true })
	}
	im, err := openReaderAt(m, int64(len(img)), opts)
	noPanic(t, "open", err)
	bs := int64(1024)
	if err == nil {
		bs = int64(im.sb.blockSize)
	}
	m.check("open", bs)
	if err != nil {
		return 0
	}
	opened := 0
	buf := make([]byte, 64<<10)
	for _, p := range fuzzPaths {
		m.start()
		_, err := im.Stat(p)
		noPanic(t, "stat "+p, err)
		m.check("stat "+p, bs)
		m.start()
		_, err = im.Lstat(p)
		noPanic(t, "lstat "+p, err)
		m.check("lstat "+p, bs)
		m.start()
		_, err = im.Readlink(p)
		noPanic(t, "readlink "+p, err)
		m.check("readlink "+p, bs)
		m.start()
		sf, err := im.Open(p)
		noPanic(t, "open "+p, err)
		m.check("open "+p, bs)
		if err != nil {
			continue
		}
		opened++
		f := sf.(*File)
		for _, off := range []int64{0, f.Size() - 100, f.Size() / 3, 1<<20 + 3} {
			if off >= 0 {
				_, err := readAtCaught(f, buf, off)
				noPanic(t, "read "+p, err)
			}
		}
		f.Close()
	}
	return opened
}

func openBytes(data []byte, opts []Option) (*Image, error) {
	return openReaderAt(bytes.NewReader(data), int64(len(data)), opts)
}

func openReaderAt(r io.ReaderAt, size int64, opts []Option) (_ *Image, err error) {
	defer catch(&err)
	return newImage(r, size, "fuzz", opts)
}

// readAtCaught is ReadAt with panics caught: ReadAt itself does not recover,
// it parses nothing.
func readAtCaught(f *File, b []byte, off int64) (_ int, err error) {
	defer catch(&err)
	return f.ReadAt(b, off)
}

func noPanic(t *testing.T, what string, err error) {
	t.Helper()
	var pe *panicError
	if errors.As(err, &pe) {
		t.Fatalf("%s: panic inside blockreader: %v\n%s", what, pe.val, pe.stack)
	}
}
