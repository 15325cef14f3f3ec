package blockreader

import (
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/artifactfs/artifactfs/internal/testimage"
)

func TestRefuseUnsupportedImages(t *testing.T) {
	files := map[string][]byte{".boot/kernel": []byte("tiny kernel"), "urunc.json": []byte("{}")}
	tests := []struct {
		name    string
		mkfs    func(src string) string
		feature string
	}{
		{"ext2", func(src string) string { return testimage.MkfsType(t, "ext2", src, 8) }, "ext2/ext3 block maps, no extents feature"},
		{"ext3", func(src string) string { return testimage.MkfsType(t, "ext3", src, 8) }, "ext2/ext3 block maps, no extents feature"},
		{"inline_data", func(src string) string { return testimage.Mkfs(t, src, 8, "-O", "inline_data") }, "inline_data"},
		{"128-byte inodes", func(src string) string { return testimage.Mkfs(t, src, 8, "-I", "128") }, "128-byte inodes"},
		{"no metadata_csum", func(src string) string { return testimage.Mkfs(t, src, 8, "-O", "^metadata_csum") }, "no metadata_csum"},
		{"meta_bg", func(src string) string { return testimage.Mkfs(t, src, 8, "-O", "meta_bg,^resize_inode") }, "meta_bg"},
		{"encrypt", func(src string) string { return testimage.Mkfs(t, src, 8, "-O", "encrypt") }, "encrypt"},
		{"casefold", func(src string) string { return testimage.Mkfs(t, src, 8, "-O", "casefold") }, "casefold"},
		{"bigalloc", func(src string) string {
			return testimage.Mkfs(t, src, 16, "-b", "1024", "-O", "bigalloc", "-C", "4096")
		}, "bigalloc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := t.TempDir()
			testimage.WriteTree(t, src, files)
			img := tt.mkfs(src)
			if tt.name == "inline_data" {
				out := testimage.Run(t, "debugfs", "-R", "stat /.boot/kernel", img)
				if !strings.Contains(string(out), "Size of inline data") {
					t.Fatalf("test is moot: /.boot/kernel is not inline:\n%s", out)
				}
			}
			_, err := Open(img)
			wantErr(t, "Open", err, ErrUnsupported)
			t.Log(err)
			want := "open image " + img + ": unsupported ext4 image: " + tt.feature
			if !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "mkfs.ext4 defaults") {
				t.Fatalf("error %q; want it to start %q and say how to rebuild", err, want)
			}
		})
	}
}

func TestRefuseBrokenImages(t *testing.T) {
	img := buildImage(t, 16, treeOf(t, map[string][]byte{"kernel": testimage.Payload(1, 1<<20)}))
	whole, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, path, want string
		is               error
	}{
		{"truncated", write("truncated", whole[:len(whole)/2]), "truncated image", ErrCorrupt},
		{"empty", write("empty", nil), "too small", ErrCorrupt},
		{"one block", write("short", whole[:1500]), "too small", ErrCorrupt},
		{"garbage", write("garbage", testimage.Payload(9, 1<<20)), "no ext4 superblock", ErrCorrupt},
		{"zeros", write("zeros", make([]byte, 1<<20)), "no ext4 superblock", ErrCorrupt},
		{"missing", filepath.Join(dir, "nope"), "no such file", iofs.ErrNotExist},
		{"directory", dir, "not a regular file or block device", nil},
	}
	fds := openFDs(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Open(tt.path)
			t.Log(err)
			if tt.is != nil {
				wantErr(t, "Open", err, tt.is)
			} else if err == nil {
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), "open image "+tt.path+": ") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q; want it to name the image and say %q", err, tt.want)
			}
		})
	}
	if n := openFDs(t); n != fds {
		t.Errorf("%d open descriptors after failed opens, %d before", n, fds)
	}
}

// openFDs counts the process's open file descriptors.
func openFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count descriptors: %v", err)
	}
	return len(ents)
}

// TestRefuseFIFOAsImage checks that a FIFO passed as the image fails fast
// instead of blocking in open(2) for a writer.
func TestRefuseFIFOAsImage(t *testing.T) {
	p := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(p, 0o644); err != nil {
		t.Skipf("mkfifo not permitted here: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := Open(p)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "not a regular file or block device") {
			t.Fatalf("Open(fifo) = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Open(fifo) hangs")
	}
}

func TestDirectorySizeCap(t *testing.T) {
	img := buildImage(t, 16, func(src string) {
		files := map[string][]byte{"small/kernel": []byte("k")}
		for i := range 300 {
			files[fmt.Sprintf("big/entry-with-a-long-name-%s-%d", strings.Repeat("x", 40), i)] = nil
		}
		testimage.WriteTree(t, src, files)
	}, "-b", "1024")
	im := openImage(t, img, WithMaxDirSize(8<<10))
	if _, err := im.Stat("/small/kernel"); err != nil {
		t.Fatal(err)
	}
	_, err := im.Stat("/big/x")
	wantErr(t, "Stat in a directory over the cap", err, ErrUnsupported)
	if !strings.Contains(err.Error(), "over the 8192-byte limit") {
		t.Fatalf("error %q does not name the limit", err)
	}
	_, err = Open(img, WithMaxDirSize(512))
	wantErr(t, "Open with a root directory over the cap", err, ErrUnsupported)
	if errors.Is(err, ErrCorrupt) {
		t.Fatal("a large directory is not corruption")
	}
}

// TestDirectoryScanBudget bounds the directory bytes one resolution reads:
// directories may share blocks, so a deep path of large directories costs
// a small hostile image nothing and its reader a lot.
func TestDirectoryScanBudget(t *testing.T) {
	deep := strings.Repeat("d/", 20) + "kernel"
	img := buildImage(t, 8, treeOf(t, map[string][]byte{deep: []byte("k")}), "-b", "1024")
	if _, err := openImage(t, img).Stat("/" + deep); err != nil {
		t.Fatal(err)
	}
	im := openImage(t, img, WithMaxDirSize(4096)) // budget 16 blocks: 16 levels of 1 KiB directories
	if _, err := im.Stat("/" + strings.Repeat("d/", 10) + "d"); err != nil {
		t.Fatal(err)
	}
	_, err := im.Stat("/" + deep)
	wantErr(t, "Stat of a deep path", err, ErrUnsupported)
	t.Log(err)
}

func TestExtentCap(t *testing.T) {
	islands := map[int64][]byte{}
	for i := range 200 {
		islands[int64(i)*2048] = testimage.Payload(uint64(i), 1024)
	}
	img := buildImage(t, 8, func(src string) {
		writeSparse(t, filepath.Join(src, "kernel"), 200*2048, islands)
	}, "-b", "1024")
	if f := openFile(t, openImage(t, img), "/kernel"); len(f.ext) != 200 {
		t.Fatalf("%d extents, want 200", len(f.ext))
	}
	_, err := openImage(t, img, WithMaxExtents(100)).Open("/kernel")
	wantErr(t, "Open of a file over the extent cap", err, ErrUnsupported)
	t.Log(err)
}
