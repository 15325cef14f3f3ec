package blockreader

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/artifactfs/artifactfs/internal/testimage"
)

// TestHostSpan checks HostSpan against ReadAt on files with several
// extents, holes and unwritten extents: every span it reports holds, in the
// image, exactly the bytes ReadAt returns, it never reaches past the file,
// its extent or n, and there is no span where ReadAt reads zeros that are
// not on disk.
func TestHostSpan(t *testing.T) {
	island := testimage.Payload(21, 70000)
	img := buildImage(t, 16, func(src string) {
		testimage.WriteTree(t, src, map[string][]byte{"two": testimage.Payload(22, 3<<20+555)})
		writeSparse(t, filepath.Join(src, "sparse"), 2<<20+100, map[int64][]byte{1<<20 + 4000: island})
		if err := os.WriteFile(filepath.Join(src, "pre"), []byte("abc"), 0o644); err != nil {
			t.Fatal(err)
		}
	}, "-b", "1024")
	debugfsW(t, img, "fallocate /pre 1 9")
	debugfsW(t, img, "sif /pre size 9000")
	raw, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	im := openImage(t, img)
	for _, p := range []string{"/two", "/sparse", "/pre"} {
		f := openFile(t, im, p)
		data := readAll(t, f, 64<<10)
		spans, holes := 0, 0
		for off := int64(0); off < f.Size(); {
			n := 300<<10 + 7
			fd, hostOff, length, ok := f.HostSpan(off, n)
			if !ok {
				// Not on disk: one block of zeros, then look again.
				end := min((off/f.bs+1)*f.bs, f.Size())
				if !bytes.Equal(data[off:end], make([]byte, end-off)) {
					t.Fatalf("%s: no span at %d, but ReadAt reads data there", p, off)
				}
				holes++
				off = end
				continue
			}
			if fd != im.f.Fd() || length <= 0 || length > n || off+int64(length) > f.Size() {
				t.Fatalf("%s: HostSpan(%d, %d) = fd %d, %d bytes at %d", p, off, n, fd, length, hostOff)
			}
			if !bytes.Equal(raw[hostOff:hostOff+int64(length)], data[off:off+int64(length)]) {
				t.Fatalf("%s: span of %d bytes at %d (image offset %d) differs from ReadAt", p, length, off, hostOff)
			}
			spans++
			off += int64(length)
		}
		if _, _, _, ok := f.HostSpan(f.Size(), 10); ok {
			t.Errorf("%s: span at the end of the file", p)
		}
		t.Logf("%s: %d spans, %d blocks without one", p, spans, holes)
		if spans == 0 || (p != "/two" && holes == 0) {
			t.Errorf("%s: %d spans, %d blocks without one; the fixture is not what the test needs", p, spans, holes)
		}
	}
}

// TestHostSpanMemoryImage: an image read from memory has no host file.
func TestHostSpanMemoryImage(t *testing.T) {
	img := buildImage(t, 4, treeOf(t, map[string][]byte{"f": []byte("hello")}))
	data, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	im, err := newImage(bytes.NewReader(data), int64(len(data)), "memory", nil)
	if err != nil {
		t.Fatal(err)
	}
	f := openFile(t, im, "/f")
	if _, _, _, ok := f.HostSpan(0, 5); ok {
		t.Error("span in an image read from memory")
	}
	if got := readAll(t, f, 3); string(got) != "hello" {
		t.Errorf("read %q", got)
	}
}
