package fs

import (
	"context"
	"errors"
	iofs "io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/artifactfs/artifactfs/internal/imagepath"
	"github.com/artifactfs/artifactfs/internal/source"
	"github.com/artifactfs/artifactfs/internal/testimage"
)

var (
	kernelData = testimage.Payload(1, 300_000)
	initrdData = testimage.Payload(2, 4097)
	configData = []byte(`{"com.urunc.unikernel.hypervisor":"cWVtdQ=="}`)
	mtime      = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
)

var artifactPaths = []string{"/.boot/kernel", "/.boot/initrd", "/urunc.json"}

// imageDir writes an image root with the artifacts and files that must
// stay hidden, and returns a Dir source over it.
func imageDir(t *testing.T) (*source.Dir, string) {
	t.Helper()
	dir := t.TempDir()
	testimage.WriteTree(t, dir, map[string][]byte{
		".boot/kernel":   kernelData,
		".boot/initrd":   initrdData,
		".boot/secret":   []byte("hidden"),
		"urunc.json":     configData,
		"etc/passwd":     []byte("root:x:0:0"),
		"deep/a/b/c.bin": []byte("c"),
	})
	if err := os.Chmod(filepath.Join(dir, ".boot/kernel"), 0o775); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, ".boot"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{".boot/kernel", ".boot", "."} {
		if err := os.Chtimes(filepath.Join(dir, p), mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	src, err := source.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src, dir
}

// attach builds the go-fuse bridge over root without a kernel mount, which
// runs OnAdd, and closes the opened files at the end of the test.
func attach(t *testing.T, root *Root) {
	t.Helper()
	fusefs.NewNodeFS(root, &fusefs.Options{})
	t.Cleanup(func() {
		if err := root.closeFiles(); err != nil {
			t.Error(err)
		}
	})
}

func newTree(t *testing.T, src source.Source) *Root {
	t.Helper()
	root, err := New(src, artifactPaths)
	if err != nil {
		t.Fatal(err)
	}
	attach(t, root)
	return root
}

func readdir(t *testing.T, d *dirNode) []string {
	t.Helper()
	ds, errno := d.Readdir(context.Background())
	if errno != 0 {
		t.Fatalf("Readdir: %v", errno)
	}
	var names []string
	for ds.HasNext() {
		e, errno := ds.Next()
		if errno != 0 {
			t.Fatalf("Readdir next: %v", errno)
		}
		names = append(names, e.Name)
	}
	return names
}

func lookup(t *testing.T, d *dirNode, name string) (*fusefs.Inode, fuse.EntryOut, syscall.Errno) {
	t.Helper()
	var out fuse.EntryOut
	ch, errno := d.Lookup(context.Background(), name, &out)
	return ch, out, errno
}

func TestTreeShowsOnlyArtifacts(t *testing.T) {
	src, _ := imageDir(t)
	root := newTree(t, src)

	if got, want := readdir(t, &root.dirNode), []string{".boot", "urunc.json"}; !equal(got, want) {
		t.Errorf("readdir / = %v; want %v", got, want)
	}
	boot, _, errno := lookup(t, &root.dirNode, ".boot")
	if errno != 0 {
		t.Fatalf("lookup .boot: %v", errno)
	}
	bootDir := boot.Operations().(*dirNode)
	if got, want := readdir(t, bootDir), []string{"initrd", "kernel"}; !equal(got, want) {
		t.Errorf("readdir /.boot = %v; want %v", got, want)
	}
	for _, tt := range []struct {
		dir  *dirNode
		name string
	}{
		{&root.dirNode, "etc"}, {&root.dirNode, "deep"}, {&root.dirNode, "fifo"},
		{bootDir, "secret"}, {&root.dirNode, ".go-fuse-epoll-hack"}, {bootDir, ".."},
	} {
		if _, _, errno := lookup(t, tt.dir, tt.name); errno != syscall.ENOENT {
			t.Errorf("lookup %s = %v; want ENOENT", tt.name, errno)
		}
	}
	if got, want := root.Paths(), []string{"/.boot/initrd", "/.boot/kernel", "/urunc.json"}; !equal(got, want) {
		t.Errorf("Paths = %v; want %v", got, want)
	}
}

func TestTreeAttributes(t *testing.T) {
	src, _ := imageDir(t)
	root := newTree(t, src)
	boot, bootEntry, _ := lookup(t, &root.dirNode, ".boot")
	kernel, kernelEntry, errno := lookup(t, boot.Operations().(*dirNode), "kernel")
	if errno != 0 {
		t.Fatalf("lookup kernel: %v", errno)
	}

	var rootAttr fuse.AttrOut
	root.Getattr(context.Background(), nil, &rootAttr)
	tests := []struct {
		name      string
		got       fuse.Attr
		wantMode  uint32
		wantSize  uint64
		wantNlink uint32
	}{
		{"kernel", kernelEntry.Attr, 0o555, uint64(len(kernelData)), 1},
		{".boot", bootEntry.Attr, 0o550, 0, 2},
		{"/", rootAttr.Attr, 0o555, 0, 3},
	}
	for _, tt := range tests {
		if tt.got.Mode&0o7777 != tt.wantMode {
			t.Errorf("%s mode = %o; want %o", tt.name, tt.got.Mode&0o7777, tt.wantMode)
		}
		if tt.wantSize != 0 && tt.got.Size != tt.wantSize {
			t.Errorf("%s size = %d; want %d", tt.name, tt.got.Size, tt.wantSize)
		}
		if tt.got.Nlink != tt.wantNlink {
			t.Errorf("%s nlink = %d; want %d", tt.name, tt.got.Nlink, tt.wantNlink)
		}
	}
	for name, a := range map[string]fuse.Attr{"kernel": kernelEntry.Attr, ".boot": bootEntry.Attr, "/": rootAttr.Attr} {
		if got := time.Unix(int64(a.Mtime), int64(a.Mtimensec)); !got.Equal(mtime) {
			t.Errorf("%s mtime = %v; want %v", name, got, mtime)
		}
	}
	if kernel.StableAttr().Mode != syscall.S_IFREG || boot.StableAttr().Mode != syscall.S_IFDIR {
		t.Errorf("types: kernel %o, .boot %o", kernel.StableAttr().Mode, boot.StableAttr().Mode)
	}
	var st fuse.StatfsOut
	root.Statfs(context.Background(), &st)
	if want := uint64(len(kernelData)+len(initrdData)+len(configData)+4095) / 4096; st.Blocks > want+2 || st.Blocks < want-2 {
		t.Errorf("statfs blocks = %d; want about %d", st.Blocks, want)
	}
}

func TestNewRefuses(t *testing.T) {
	src, _ := imageDir(t)
	tests := []struct {
		paths []string
		want  error // nil: any error
	}{
		{[]string{"/.boot"}, source.ErrNotRegular},
		{[]string{"/"}, source.ErrNotRegular},
		{[]string{"/fifo"}, source.ErrNotRegular},
		{[]string{"/missing"}, iofs.ErrNotExist},
		{[]string{"relative"}, imagepath.ErrInvalid},
		{[]string{"/urunc.json/x"}, nil},
		{[]string{"/urunc.json", "/urunc.json/x"}, nil},
		{nil, nil},
	}
	for _, tt := range tests {
		_, err := New(src, tt.paths)
		if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
			t.Errorf("New(%q) = %v; want %v", tt.paths, err, tt.want)
		}
	}
	if _, err := New(src, []string{"/urunc.json", "//urunc.json", "/.boot/../urunc.json"}); err != nil {
		t.Errorf("New with one file named thrice: %v", err)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
