package blockreader

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/artifactfs/artifactfs/internal/imagepath"
	"github.com/artifactfs/artifactfs/internal/testimage"
)

func TestReadFiles(t *testing.T) {
	for _, bs := range []string{"1024", "4096"} {
		t.Run("blocksize="+bs, func(t *testing.T) {
			files := map[string][]byte{
				".boot/kernel":   testimage.Payload(1, 12<<20+123), // spans block groups at 1 KiB blocks
				"urunc.json":     []byte(`{"com.urunc.unikernel.binary":"L2Jvb3Qva2VybmVs"}`),
				"a/b/c/d/deep":   testimage.Payload(2, 4097),
				"empty":          nil,
				"one":            {'x'},
				"block":          testimage.Payload(3, 4096),
				"unikernel/x.hv": testimage.Payload(4, 1<<20-1),
			}
			img := buildImage(t, 64, treeOf(t, files), "-b", bs)
			im := openImage(t, img)
			for name, data := range files {
				p := "/" + name
				got := checkAgainstDebugfs(t, im, img, p)
				if !bytes.Equal(got, data) {
					t.Fatalf("%s: content differs from what was written", p)
				}
				info, err := im.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				if info.Path != p || info.Size != int64(len(data)) || info.Mode != 0o644 || info.Nlink != 1 || info.Ino == 0 || info.ModTime.IsZero() {
					t.Errorf("Stat(%s) = %+v", p, info)
				}
			}
			for _, dir := range []string{"/", "/a", "/a/b/c/d", "/.boot"} {
				info, err := im.Stat(dir)
				if err != nil || !info.Mode.IsDir() || info.Path != dir {
					t.Errorf("Stat(%s) = %+v, %v; want a directory", dir, info, err)
				}
			}
			if info, _ := im.Stat("/"); info.Ino != rootIno {
				t.Errorf("root inode %d", info.Ino)
			}
		})
	}
}

func TestStatErrors(t *testing.T) {
	img := buildImage(t, 8, treeOf(t, map[string][]byte{"dir/file": []byte("x")}))
	im := openImage(t, img)
	tests := []struct {
		p    string
		want error
	}{
		{"/nope", iofs.ErrNotExist},
		{"/dir/nope", iofs.ErrNotExist},
		{"/nope/deeper", iofs.ErrNotExist},
		{"/dir/file/below", syscall.ENOTDIR},
		{"relative", imagepath.ErrInvalid},
		{"/a\x00b", imagepath.ErrInvalid},
		{"/" + strings.Repeat("n", 256), imagepath.ErrInvalid},
	}
	for _, tt := range tests {
		_, err := im.Stat(tt.p)
		wantErr(t, fmt.Sprintf("Stat(%.20q)", tt.p), err, tt.want)
		if _, err := im.Open(tt.p); !errors.Is(err, tt.want) {
			t.Errorf("Open(%.20q) = %v; want %v", tt.p, err, tt.want)
		}
	}
	if got := im.String(); got != "image "+img {
		t.Errorf("String() = %q", got)
	}
}

// TestDepthTwoExtentTree reads sparse files whose data islands need more
// extents than one level of index nodes holds.
func TestDepthTwoExtentTree(t *testing.T) {
	for _, tt := range []struct {
		bs, islands int
	}{{1024, 400}, {4096, 1400}} {
		t.Run(fmt.Sprintf("blocksize=%d", tt.bs), func(t *testing.T) {
			islands := map[int64][]byte{}
			for i := range tt.islands {
				islands[int64(2*i*tt.bs)] = testimage.Payload(uint64(i+10), tt.bs)
			}
			size := int64(2*tt.islands*tt.bs) + 12345
			img := buildImage(t, 64, func(src string) {
				writeSparse(t, filepath.Join(src, "kernel"), size, islands)
			}, "-b", fmt.Sprint(tt.bs))
			ex := string(testimage.Run(t, "debugfs", "-R", "ex /kernel", img))
			if !strings.Contains(ex, " 0/ 2 ") {
				t.Fatalf("want a depth-2 extent tree, debugfs shows:\n%.500s", ex)
			}
			im := openImage(t, img)
			got := checkAgainstDebugfs(t, im, img, "/kernel")
			for off, data := range islands {
				if !bytes.Equal(got[off:off+int64(len(data))], data) {
					t.Fatalf("island at %d differs", off)
				}
			}
		})
	}
}

func TestSparseHolesReadAsZeros(t *testing.T) {
	island := testimage.Payload(5, 10000)
	img := buildImage(t, 16, func(src string) {
		writeSparse(t, filepath.Join(src, "sparse"), 3<<20, map[int64][]byte{1<<20 + 77: island})
		writeSparse(t, filepath.Join(src, "allhole"), 1<<20, nil)
	}, "-b", "4096")
	im := openImage(t, img)
	got := checkAgainstDebugfs(t, im, img, "/sparse")
	want := make([]byte, 3<<20)
	copy(want[1<<20+77:], island)
	if !bytes.Equal(got, want) {
		t.Fatal("sparse file: holes do not read as zeros")
	}
	if got := checkAgainstDebugfs(t, im, img, "/allhole"); !bytes.Equal(got, make([]byte, 1<<20)) {
		t.Fatal("file of one hole does not read as zeros")
	}
	if n := len(openFile(t, im, "/allhole").ext); n != 0 {
		t.Fatalf("file of one hole has %d extents", n)
	}
}

// TestUnwrittenExtentsReadAsZeros preallocates (debugfs fallocate) over
// blocks that still hold a deleted file's data: unwritten extents must read
// as zeros, not as those bytes.
func TestUnwrittenExtentsReadAsZeros(t *testing.T) {
	img := buildImage(t, 4, func(src string) {
		testimage.WriteTree(t, src, map[string][]byte{"filler": bytes.Repeat([]byte{0xAB}, 40<<10), "mixed": []byte("abc")})
		if err := os.WriteFile(filepath.Join(src, "pre"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}, "-b", "1024")
	debugfsW(t, img, "rm /filler")
	debugfsW(t, img, "fallocate /pre 0 39")
	debugfsW(t, img, "sif /pre size 40960")
	debugfsW(t, img, "fallocate /mixed 1 9")
	debugfsW(t, img, "sif /mixed size 9000")

	im := openImage(t, img)
	pre := openFile(t, im, "/pre")
	if len(pre.ext) == 0 || !pre.ext[0].uninit {
		t.Fatalf("/pre extents %+v; want unwritten ones", pre.ext)
	}
	raw := make([]byte, 1024)
	if _, err := im.r.ReadAt(raw, int64(pre.ext[0].pblk)*1024); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, []byte{0xAB, 0xAB, 0xAB, 0xAB}) {
		t.Fatal("test is moot: the preallocated blocks do not hold the deleted file's bytes")
	}
	if got := checkAgainstDebugfs(t, im, img, "/pre"); !bytes.Equal(got, make([]byte, 40960)) {
		t.Fatal("unwritten extent does not read as zeros")
	}
	want := append([]byte("abc"), make([]byte, 9000-3)...)
	if got := checkAgainstDebugfs(t, im, img, "/mixed"); !bytes.Equal(got, want) {
		t.Fatal("written then unwritten extents read wrong")
	}
}

// TestFallocateLoopMount preallocates through the kernel: fallocate(1) in
// a loop mount, with and without --keep-size (extents past the end).
func TestFallocateLoopMount(t *testing.T) {
	testimage.RequireRoot(t, "fallocate runs in a loop mount")
	testimage.RequireTools(t, "mount", "umount", "fallocate")
	img := buildImage(t, 16, treeOf(t, map[string][]byte{"keep": testimage.Payload(6, 5000)}), "-b", "4096")
	mnt := t.TempDir()
	testimage.Run(t, "mount", "-o", "loop", img, mnt)
	testimage.Run(t, "fallocate", "-l", "3M", filepath.Join(mnt, "prealloc"))
	testimage.Run(t, "fallocate", "--keep-size", "-o", "0", "-l", "2M", filepath.Join(mnt, "keep"))
	testimage.Run(t, "umount", mnt)

	im := openImage(t, img)
	if got := checkAgainstDebugfs(t, im, img, "/prealloc"); !bytes.Equal(got, make([]byte, 3<<20)) {
		t.Fatal("fallocated file does not read as zeros")
	}
	if got := checkAgainstDebugfs(t, im, img, "/keep"); !bytes.Equal(got, testimage.Payload(6, 5000)) {
		t.Fatal("file with preallocation past its end reads wrong")
	}
}

func TestFragmented(t *testing.T) {
	testimage.RequireTools(t, "mkfs.ext4", "debugfs", "mount")
	data := testimage.Payload(7, 8<<20+123)
	img := testimage.Fragmented(t, map[string][]byte{"urunc.json": []byte("{}")}, "/.boot/kernel", data, 300)
	if n := testimage.Extents(t, img, "/.boot/kernel"); n < 200 {
		t.Fatalf("kernel has %d extents; want hundreds", n)
	}
	im := openImage(t, img)
	if got := checkAgainstDebugfs(t, im, img, "/.boot/kernel"); !bytes.Equal(got, data) {
		t.Fatal("differs from what was written")
	}
	f := openFile(t, im, "/.boot/kernel")

	t.Run("unaligned", func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		buf := make([]byte, 300<<10)
		for range 3000 {
			off := r.Int64N(f.Size() + 10)
			n := 1 + r.IntN(len(buf))
			checkRead(t, f, data, buf[:n], off)
		}
	})
	t.Run("extent boundaries", func(t *testing.T) {
		buf := make([]byte, 16)
		for _, e := range f.ext {
			b := int64(e.lblk) * f.bs
			for _, off := range []int64{b - 9, b - 1, b, b + 1} {
				if off >= 0 {
					checkRead(t, f, data, buf, off)
				}
			}
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		var wg sync.WaitGroup
		for g := range 32 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(g), 99))
				buf := make([]byte, 64<<10)
				for range 200 {
					off := r.Int64N(f.Size())
					n := 1 + r.IntN(len(buf))
					checkRead(t, f, data, buf[:n], off)
				}
			}()
		}
		wg.Wait()
	})
}

// checkRead reads len(buf) bytes at off and compares with data.
func checkRead(t *testing.T, f *File, data, buf []byte, off int64) {
	n, err := f.ReadAt(buf, off)
	want := data[min(off, int64(len(data))):min(off+int64(len(buf)), int64(len(data)))]
	if n != len(want) || !bytes.Equal(buf[:n], want) {
		t.Errorf("ReadAt(%d bytes at %d) = %d bytes (match %v), want %d", len(buf), off, n, bytes.Equal(buf[:n], want), len(want))
		return
	}
	if wantEOF := n < len(buf); wantEOF != (err == io.EOF) || (!wantEOF && err != nil) {
		t.Errorf("ReadAt(%d bytes at %d) = %d, %v", len(buf), off, n, err)
	}
}

func TestReadAtSemantics(t *testing.T) {
	data := testimage.Payload(8, 10000)
	img := buildImage(t, 8, treeOf(t, map[string][]byte{"f": data}))
	im := openImage(t, img)
	sf, err := im.Open("/f")
	if err != nil {
		t.Fatal(err)
	}
	f := sf.(*File)
	buf := make([]byte, 100)
	for _, tt := range []struct {
		off   int64
		n     int
		isEOF bool
	}{
		{0, 100, false}, {9900, 100, false}, {9950, 50, true}, {10000, 0, true}, {1 << 40, 0, true},
	} {
		n, err := f.ReadAt(buf, tt.off)
		if n != tt.n || (err == io.EOF) != tt.isEOF || (!tt.isEOF && err != nil) {
			t.Errorf("ReadAt(100 bytes at %d) = %d, %v; want %d, EOF %v", tt.off, n, err, tt.n, tt.isEOF)
		}
	}
	if n, err := f.ReadAt(nil, 20000); n != 0 || err != nil {
		t.Errorf("empty ReadAt = %d, %v", n, err)
	}
	if _, err := f.ReadAt(buf, -1); err == nil {
		t.Error("negative offset: no error")
	}
	if allocs := testing.AllocsPerRun(100, func() { f.ReadAt(buf, 1234) }); allocs != 0 {
		t.Errorf("ReadAt allocates %v times", allocs)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ReadAt(buf, 0); !errors.Is(err, iofs.ErrClosed) {
		t.Errorf("ReadAt after Close = %v", err)
	}
	if err := f.Close(); !errors.Is(err, iofs.ErrClosed) {
		t.Errorf("second Close = %v", err)
	}
}

// TestOptionalFeatures reads images with features mkfs.ext4 does not set by
// default but this package accepts.
func TestOptionalFeatures(t *testing.T) {
	data := testimage.Payload(14, 70000)
	for _, features := range []string{"metadata_csum_seed", "large_dir", "^flex_bg", "^64bit", "^huge_file", "^dir_index", "mmp"} {
		t.Run(features, func(t *testing.T) {
			img := buildImage(t, 16, treeOf(t, map[string][]byte{"a/kernel": data}), "-O", features)
			if got := checkAgainstDebugfs(t, openImage(t, img), img, "/a/kernel"); !bytes.Equal(got, data) {
				t.Fatal("content differs")
			}
		})
	}
}

// TestConcurrentReadAt reads one file from many goroutines at once (run
// with -race); the file mixes extents and holes and needs no root.
func TestConcurrentReadAt(t *testing.T) {
	islands := map[int64][]byte{}
	for i := range 300 {
		islands[int64(i)*5000] = testimage.Payload(uint64(i), 1000+i*7)
	}
	img := buildImage(t, 8, func(src string) {
		writeSparse(t, filepath.Join(src, "kernel"), 300*5000+777, islands)
	}, "-b", "1024")
	im := openImage(t, img)
	data := checkAgainstDebugfs(t, im, img, "/kernel")
	f := openFile(t, im, "/kernel")
	if len(f.ext) < 100 {
		t.Fatalf("only %d extents", len(f.ext))
	}
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 7))
			buf := make([]byte, 20000)
			for i := range 300 {
				checkRead(t, f, data, buf[:1+r.IntN(len(buf))], r.Int64N(f.Size()+100))
				if i%50 == 0 { // lookups, go-diskfs cross-check included, concurrently too
					if _, err := im.Stat("/kernel"); err != nil {
						t.Error(err)
					}
					if g, err := im.Open("/kernel"); err != nil {
						t.Error(err)
					} else {
						g.Close()
					}
				}
			}
		}()
	}
	wg.Wait()
}
