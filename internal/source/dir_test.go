package source

import (
	"errors"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// hostTree builds a directory that looks like an image root, with links
// that try to leave it.
func hostTree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	mk := func(name, data string) {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := func(target, name string) {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	mk("opt/unikernel/app.hvt", "kernel bytes")
	mk("etc/hostname", "inside")
	if err := os.MkdirAll(filepath.Join(root, ".boot"), 0o755); err != nil {
		t.Fatal(err)
	}
	link("../opt/unikernel/app.hvt", ".boot/kernel")
	link("/opt/unikernel", "uk")
	link("../../../../etc/hostname", ".boot/escape")
	link("loop-b", "loop-a")
	link("loop-a", "loop-b")
	if err := syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestDirStatFollowsLinksInsideRoot(t *testing.T) {
	d, err := OpenDir(hostTree(t))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	tests := []struct {
		in, wantPath string
		wantSize     int64
	}{
		{"/.boot/kernel", "/opt/unikernel/app.hvt", 12},
		{"/uk/app.hvt", "/opt/unikernel/app.hvt", 12},
		{"/.boot/escape", "/etc/hostname", 6},
		{"/../../etc/hostname", "/etc/hostname", 6},
	}
	for _, tt := range tests {
		got, err := d.Stat(tt.in)
		if err != nil {
			t.Errorf("Stat(%s): %v", tt.in, err)
			continue
		}
		if got.Path != tt.wantPath || got.Size != tt.wantSize || !got.Mode.IsRegular() {
			t.Errorf("Stat(%s) = %+v; want path %s size %d regular", tt.in, got, tt.wantPath, tt.wantSize)
		}
	}
}

func TestDirRefuses(t *testing.T) {
	d, err := OpenDir(hostTree(t))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Stat("/loop-a"); !errors.Is(err, ErrLoop) {
		t.Errorf("Stat of a symlink loop = %v; want ErrLoop", err)
	}
	if _, err := d.Stat("/missing"); !errors.Is(err, iofs.ErrNotExist) {
		t.Errorf("Stat(/missing) = %v; want ErrNotExist", err)
	}
	if _, err := d.Stat("relative"); err == nil {
		t.Error("Stat of a relative path succeeded")
	}
	for _, p := range []string{"/fifo", "/opt", "/"} {
		if f, err := d.Open(p); !errors.Is(err, ErrNotRegular) {
			if f != nil {
				f.Close()
			}
			t.Errorf("Open(%s) = %v; want ErrNotRegular", p, err)
		}
	}
}

func TestDirOpenReadsAndOffersFd(t *testing.T) {
	d, err := OpenDir(hostTree(t))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	f, err := d.Open("/.boot/kernel")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := io.ReadAll(io.NewSectionReader(f, 0, 1<<20))
	if err != nil || string(got) != "kernel bytes" {
		t.Fatalf("read %q, %v; want %q", got, err, "kernel bytes")
	}
	fd, ok := f.(FdFile)
	if !ok || fd.Fd() == ^uintptr(0) {
		t.Fatal("file of a Dir does not offer its descriptor")
	}
}

func TestOpenDirMissing(t *testing.T) {
	if _, err := OpenDir(filepath.Join(t.TempDir(), "nope")); !errors.Is(err, iofs.ErrNotExist) {
		t.Fatalf("OpenDir(missing) = %v; want ErrNotExist", err)
	}
}
