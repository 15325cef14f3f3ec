package fs

import (
	"bytes"
	"context"
	"errors"
	"syscall"
	"testing"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/artifactfs/artifactfs/internal/source"
)

func fileNodeAt(t *testing.T, root *Root, p string) *fileNode {
	t.Helper()
	for _, f := range root.files {
		if f.path == p {
			return f
		}
	}
	t.Fatalf("no file node %s", p)
	return nil
}

func readAll(t *testing.T, n *fileNode, chunk int) []byte {
	t.Helper()
	var out []byte
	buf := make([]byte, chunk)
	for off := int64(0); ; {
		res, errno := n.Read(context.Background(), nil, buf, off)
		if errno != 0 {
			t.Fatalf("read %s at %d: %v", n.path, off, errno)
		}
		data, status := res.Bytes(make([]byte, chunk))
		res.Done()
		if !status.Ok() {
			t.Fatalf("result bytes: %v", status)
		}
		if len(data) == 0 {
			return out
		}
		out = append(out, data...)
		off += int64(len(data))
	}
}

func TestOpenRead(t *testing.T) {
	src, _ := imageDir(t)
	root := newTree(t, src)
	kernel := fileNodeAt(t, root, "/.boot/kernel")

	for _, flags := range []uint32{syscall.O_WRONLY, syscall.O_RDWR, syscall.O_RDONLY | syscall.O_TRUNC} {
		if _, _, errno := kernel.Open(context.Background(), flags); errno != syscall.EROFS {
			t.Errorf("open flags %#x = %v; want EROFS", flags, errno)
		}
	}
	if kernel.open.Load() != nil {
		t.Fatal("source file opened before a successful open")
	}
	fh, flags, errno := kernel.Open(context.Background(), syscall.O_RDONLY)
	if errno != 0 || fh != nil || flags&fuse.FOPEN_KEEP_CACHE == 0 {
		t.Fatalf("open = %v, %#x, %v; want no handle, KEEP_CACHE", fh, flags, errno)
	}
	first := kernel.open.Load()
	if _, _, errno := kernel.Open(context.Background(), syscall.O_RDONLY); errno != 0 || kernel.open.Load() != first {
		t.Fatal("second open did not share the source file")
	}
	for _, chunk := range []int{4096, 128 << 10, 1000} {
		if got := readAll(t, kernel, chunk); !bytes.Equal(got, kernelData) {
			t.Errorf("chunk %d: read %d bytes, differ from the original", chunk, len(got))
		}
	}
	res, errno := kernel.Read(context.Background(), nil, make([]byte, 10), int64(len(kernelData))+100)
	if errno != 0 || res.Size() != 0 {
		t.Errorf("read past the end = %d bytes, %v; want 0, OK", res.Size(), errno)
	}
}

func TestOpenPassthroughHandle(t *testing.T) {
	src, _ := imageDir(t)
	root := newTree(t, src)
	root.passthrough.Store(true)
	// A file on a writable mount could grow past its recorded size:
	// never handed to the kernel.
	fh, _, errno := fileNodeAt(t, root, "/urunc.json").Open(context.Background(), syscall.O_RDONLY)
	if errno != 0 || fh != nil {
		t.Fatalf("open of a mutable file = %T, %v; want no passthrough handle", fh, errno)
	}
	isImmutable = func(int) bool { return true }
	t.Cleanup(func() { isImmutable = immutable })
	fh, _, errno = fileNodeAt(t, root, "/urunc.json").Open(context.Background(), syscall.O_RDONLY)
	if errno != 0 {
		t.Fatal(errno)
	}
	h, ok := fh.(*passthroughHandle)
	if !ok {
		t.Fatalf("handle %T; want a passthrough handle", fh)
	}
	if fd, ok := h.PassthroughFd(); !ok || fd < 0 {
		t.Errorf("PassthroughFd = %d, %v", fd, ok)
	}
}

// failingSource wraps a Source so that every file read fails.
type failingSource struct{ source.Source }

type failingFile struct{ source.File }

var errBroken = errors.New("broken medium")

func (s failingSource) Open(p string) (source.File, error) {
	f, err := s.Source.Open(p)
	return failingFile{f}, err
}

func (failingFile) ReadAt([]byte, int64) (int, error) { return 0, errBroken }

func TestReadErrorIsEIO(t *testing.T) {
	src, _ := imageDir(t)
	root := newTree(t, failingSource{src})
	n := fileNodeAt(t, root, "/.boot/initrd")
	if _, _, errno := n.Open(context.Background(), syscall.O_RDONLY); errno != 0 {
		t.Fatal(errno)
	}
	if _, errno := n.Read(context.Background(), nil, make([]byte, 100), 0); errno != syscall.EIO {
		t.Errorf("read = %v; want EIO", errno)
	}
}

// TestBridgeRefusesChanges drives go-fuse's request layer without a
// kernel mount: changes that reached the server (a mount remounted
// read-write) are refused, and the tree stays as it was.
func TestBridgeRefusesChanges(t *testing.T) {
	src, _ := imageDir(t)
	root, err := New(src, artifactPaths)
	if err != nil {
		t.Fatal(err)
	}
	raw := fusefs.NewNodeFS(root, &fusefs.Options{})
	t.Cleanup(func() { root.closeFiles() })
	var entry fuse.EntryOut
	if st := raw.Lookup(nil, &fuse.InHeader{NodeId: 1}, "urunc.json", &entry); !st.Ok() {
		t.Fatalf("lookup urunc.json: %v", st)
	}
	in := &fuse.InHeader{NodeId: 1}
	for name, st := range map[string]fuse.Status{
		"unlink":  raw.Unlink(nil, in, "urunc.json"),
		"rmdir":   raw.Rmdir(nil, in, ".boot"),
		"setattr": raw.SetAttr(nil, &fuse.SetAttrIn{SetAttrInCommon: fuse.SetAttrInCommon{InHeader: fuse.InHeader{NodeId: entry.NodeId}, Valid: fuse.FATTR_SIZE}}, &fuse.AttrOut{}),
		"open":    raw.Open(nil, &fuse.OpenIn{InHeader: fuse.InHeader{NodeId: entry.NodeId}, Flags: syscall.O_WRONLY}, &fuse.OpenOut{}),
	} {
		if st != fuse.Status(syscall.EROFS) {
			t.Errorf("%s = %v; want EROFS", name, st)
		}
	}
	for name, st := range map[string]fuse.Status{
		"mkdir":  raw.Mkdir(nil, &fuse.MkdirIn{InHeader: *in}, "d", &fuse.EntryOut{}),
		"create": raw.Create(nil, &fuse.CreateIn{InHeader: *in}, "f", &fuse.CreateOut{}),
		"rename": raw.Rename(nil, &fuse.RenameIn{InHeader: *in, Newdir: 1}, "urunc.json", "x"),
	} {
		if st.Ok() {
			t.Errorf("%s succeeded", name)
		}
	}
	if got := readdir(t, &root.dirNode); !equal(got, []string{".boot", "urunc.json"}) {
		t.Errorf("tree changed: %v", got)
	}
}
