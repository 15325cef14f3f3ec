package blockreader

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/artifactfs/artifactfs/internal/testimage"
)

// buildImage makes an ext4 image of sizeMiB with mkfs.ext4 -d from a source
// tree that fill creates; args go to mkfs (e.g. "-b", "4096").
func buildImage(tb testing.TB, sizeMiB int, fill func(src string), args ...string) string {
	tb.Helper()
	testimage.RequireTools(tb, "mkfs.ext4", "debugfs")
	src := tb.TempDir()
	fill(src)
	return testimage.Mkfs(tb, src, sizeMiB, args...)
}

// treeOf returns a fill function writing the given files.
func treeOf(tb testing.TB, files map[string][]byte) func(string) {
	return func(src string) { testimage.WriteTree(tb, src, files) }
}

// openImage opens img and closes it when the test ends.
func openImage(tb testing.TB, img string, opts ...Option) *Image {
	tb.Helper()
	im, err := Open(img, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { im.Close() })
	return im
}

// openFile opens in-image path p and closes it when the test ends.
func openFile(tb testing.TB, im *Image, p string) *File {
	tb.Helper()
	sf, err := im.Open(p)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { sf.Close() })
	return sf.(*File)
}

// readAll reads f with ReadAt in chunks of n bytes, checking that only the
// last read is short and that it reports io.EOF.
func readAll(tb testing.TB, f *File, n int) []byte {
	tb.Helper()
	var out []byte
	buf := make([]byte, n)
	for off := int64(0); ; off += int64(n) {
		m, err := f.ReadAt(buf, off)
		out = append(out, buf[:m]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			tb.Fatalf("ReadAt(%d bytes at %d): %v", n, off, err)
		}
		if m != n {
			tb.Fatalf("ReadAt(%d bytes at %d) = %d, nil", n, off, m)
		}
	}
	if int64(len(out)) != f.Size() {
		tb.Fatalf("read %d bytes, Size() = %d", len(out), f.Size())
	}
	return out
}

// checkAgainstDebugfs reads in-image path p through blockreader and
// compares it with what debugfs reads.
func checkAgainstDebugfs(tb testing.TB, im *Image, img, p string) []byte {
	tb.Helper()
	want := testimage.DebugfsCat(tb, img, p)
	got := readAll(tb, openFile(tb, im, p), 128<<10)
	if !bytes.Equal(got, want) {
		tb.Fatalf("%s: blockreader read %d bytes (sha256 %s), debugfs %d (sha256 %s)",
			p, len(got), testimage.SHA256(got), len(want), testimage.SHA256(want))
	}
	return got
}

// debugfsW runs debugfs -w with one request on img.
func debugfsW(tb testing.TB, img, request string) {
	tb.Helper()
	out := testimage.Run(tb, "debugfs", "-w", "-R", request, img)
	if bytes.Contains(out, []byte("debugfs:")) && !bytes.HasPrefix(bytes.TrimSpace(out), []byte("debugfs 1.")) {
		tb.Fatalf("debugfs -w -R %q %s: %s", request, img, out)
	}
}

// writeSparse writes a file of size bytes at p holding data at each offset
// of islands and holes elsewhere.
func writeSparse(tb testing.TB, p string, size int64, islands map[int64][]byte) {
	tb.Helper()
	f, err := os.Create(p)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	for off, data := range islands {
		if _, err := f.WriteAt(data, off); err != nil {
			tb.Fatal(err)
		}
	}
	if err := f.Truncate(size); err != nil {
		tb.Fatal(err)
	}
}

// mustSymlink creates symlink name -> target under dir.
func mustSymlink(tb testing.TB, dir, target, name string) {
	tb.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		tb.Fatal(err)
	}
}

// wantErr fails unless err wraps each of targets.
func wantErr(tb testing.TB, what string, err error, targets ...error) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("%s: no error, want %v", what, targets)
	}
	var pe *panicError
	if errors.As(err, &pe) {
		tb.Fatalf("%s: panic inside blockreader: %v\n%s", what, pe.val, pe.stack)
	}
	for _, target := range targets {
		if !errors.Is(err, target) {
			tb.Fatalf("%s: error %q does not wrap %v", what, err, target)
		}
	}
	if strings.Contains(err.Error(), "\n") {
		tb.Fatalf("%s: error spans lines: %q", what, err)
	}
}
