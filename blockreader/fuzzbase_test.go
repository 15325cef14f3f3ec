package blockreader

import (
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/artifactfs/artifactfs/internal/testimage"
)

// fuzzStamp is the time of every inode and superblock time field of the
// fuzz bases.
const fuzzStamp = 1700000000

// fuzzBases makes the small images (192 and 256 KiB) the fuzzer mutates:
// a regular file, nested directories, fast and slow symlinks, a symlink
// loop, a directory symlink, a sparse file with a depth-1 extent tree, a
// multi-block directory (an htree one in the 1 KiB-block base) and a FIFO.
// They are reproducible byte for byte, so that a saved corpus entry replays
// on the same structures: UUID and hash seed are fixed, mkfs.ext4 -d reads
// the source tree in sorted order (scandir + alphasort), mkfs and e2fsck
// take their clock from E2FSPROGS_FAKE_TIME and E2FSCK_TIME, and pinTimes
// overwrites the times mkfs copies from the source tree (a ctime cannot be
// set there).
func fuzzBases(tb testing.TB) [][]byte {
	testimage.RequireTools(tb, "mkfs.ext4", "e2fsck")
	env := append(os.Environ(), fmt.Sprintf("E2FSPROGS_FAKE_TIME=%d", fuzzStamp), fmt.Sprintf("E2FSCK_TIME=%d", fuzzStamp))
	var bases [][]byte
	for _, geo := range []struct{ bs, size string }{{"1024", "192K"}, {"4096", "256K"}} {
		src := tb.TempDir()
		files := map[string][]byte{"k": testimage.Payload(1, 3000), "d/s/f": []byte("hello\n"), "many/e7": []byte("seven")}
		for i := range 40 {
			files[fmt.Sprintf("many/entry-with-a-long-name-%02d", i)] = nil
		}
		testimage.WriteTree(tb, src, files)
		mustSymlink(tb, src, "d/s/f", "l")
		mustSymlink(tb, src, "lp", "lp")
		mustSymlink(tb, src, strings.Repeat("./", 40)+"k", "long")
		mustSymlink(tb, src, "d", "dl")
		islands := map[int64][]byte{}
		for i := range 6 {
			islands[int64(i)*8192] = testimage.Payload(uint64(i), 100)
		}
		writeSparse(tb, filepath.Join(src, "sp"), 60000, islands)
		if err := syscall.Mkfifo(filepath.Join(src, "fifo"), 0o644); err != nil {
			tb.Fatal(err)
		}
		img := filepath.Join(tb.TempDir(), "base.ext4")
		cmd := exec.Command("mkfs.ext4", "-q", "-F", "-b", geo.bs, "-N", "64",
			"-U", "6b8b4567-327b-23c6-643c-986966334873", "-E", "hash_seed=6b8b4567-327b-23c6-643c-986966334873",
			"-d", src, img, geo.size)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			tb.Fatalf("mkfs.ext4: %v\n%s", err, out)
		}
		if geo.bs == "1024" { // index /many: an htree root and two leaves
			cmd := exec.Command("e2fsck", "-fyD", img)
			cmd.Env = env
			if out, err := cmd.CombinedOutput(); err != nil && cmd.ProcessState.ExitCode() > 1 {
				tb.Fatalf("e2fsck -fyD: %v\n%s", err, out)
			}
		}
		b, err := os.ReadFile(img)
		if err != nil {
			tb.Fatal(err)
		}
		pinTimes(tb, b)
		bases = append(bases, b)
	}
	return bases
}

// pinTimes sets every time of every inode in use in img to fuzzStamp, and
// the superblock's write and check times too, recomputing the checksums.
func pinTimes(tb testing.TB, img []byte) {
	tb.Helper()
	le := binary.LittleEndian
	im, err := openBytes(img, []Option{func(o *options) { o.verify, o.raw = false, true }})
	if err != nil {
		tb.Fatal(err)
	}
	sb := im.sb
	for g := range uint32(sb.groups) {
		table, err := im.inodeTable(g)
		if err != nil {
			continue // no initialized inodes in this group
		}
		for i := range sb.inodesPerGroup {
			off := table*sb.blockSize + uint64(i)*sb.inodeSize
			b := img[off : off+sb.inodeSize]
			if le.Uint16(b[0x1a:]) == 0 { // links count: not in use
				continue
			}
			for _, f := range []int{0x08, 0x0c, 0x10} { // atime, ctime, mtime
				le.PutUint32(b[f:], fuzzStamp)
			}
			if extra := le.Uint16(b[0x80:]); extra >= 0x18 { // *_extra, crtime
				clear(b[0x84:0x98])
				le.PutUint32(b[0x90:], fuzzStamp)
			}
			fixInodeChecksum(b, g*sb.inodesPerGroup+i+1, sb.csumSeed)
		}
	}
	s := img[superblockOffset : superblockOffset+superblockSize]
	for _, f := range []int{0x2c, 0x30, 0x40} { // mount, write, check times
		if le.Uint32(s[f:]) != 0 {
			le.PutUint32(s[f:], fuzzStamp)
		}
	}
	le.PutUint32(s[0x3fc:], crc32c(^uint32(0), s[:0x3fc]))
}

// TestFuzzBasesReproducible builds the fuzz base images twice: they must
// be byte for byte the same, so that a saved corpus entry replays on the
// same structures.
func TestFuzzBasesReproducible(t *testing.T) {
	a := fuzzBases(t)
	time.Sleep(1100 * time.Millisecond) // a second later: no ctime may leak in
	b := fuzzBases(t)
	for i := range a {
		if len(a[i]) != len(b[i]) {
			t.Fatalf("base %d: %d bytes, then %d", i, len(a[i]), len(b[i]))
		}
		var diff []int
		for off := range a[i] {
			if a[i][off] != b[i][off] {
				diff = append(diff, off)
			}
		}
		if len(diff) > 0 {
			t.Errorf("base %d differs between two builds at %d bytes, first at %v", i, len(diff), diff[:min(len(diff), 20)])
		}
	}
}
