package blockreader

import (
	"bytes"
	iofs "io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/artifactfs/artifactfs/internal/source"
	"github.com/artifactfs/artifactfs/internal/testimage"
)

// TestOpenRefusesNonRegular puts a directory, a FIFO and devices where the
// kernel should be: Open fails with source.ErrNotRegular and never blocks.
func TestOpenRefusesNonRegular(t *testing.T) {
	root := os.Geteuid() == 0
	img := buildImage(t, 8, func(src string) {
		testimage.WriteTree(t, src, map[string][]byte{"dir/.boot/kernel/inside": []byte("x")})
		if err := syscall.Mkfifo(filepath.Join(src, "fifo"), 0o644); err != nil {
			t.Fatal(err)
		}
		mustSymlink(t, src, "fifo", "fifolink")
		if root {
			if err := syscall.Mknod(filepath.Join(src, "chr"), syscall.S_IFCHR|0o644, 1<<8|3); err != nil {
				t.Fatal(err)
			}
			if err := syscall.Mknod(filepath.Join(src, "blk"), syscall.S_IFBLK|0o644, 7<<8); err != nil {
				t.Fatal(err)
			}
		}
	})
	im := openImage(t, img)
	tests := map[string]iofs.FileMode{
		"/dir/.boot/kernel": iofs.ModeDir,
		"/fifo":             iofs.ModeNamedPipe,
		"/fifolink":         iofs.ModeNamedPipe,
	}
	if root {
		tests["/chr"] = iofs.ModeDevice | iofs.ModeCharDevice
		tests["/blk"] = iofs.ModeDevice
	} else {
		t.Log("not root: device nodes (mknod) not tested")
	}
	for p, typ := range tests {
		info, err := im.Stat(p)
		if err != nil || info.Mode.Type() != typ {
			t.Errorf("Stat(%s) = %v, %v; want type %v", p, info.Mode, err, typ)
		}
		_, err = im.Open(p)
		wantErr(t, "Open("+p+")", err, source.ErrNotRegular)
		t.Log(err)
	}
}

// TestReadOnlyImageFile opens an image the process could not open for
// writing: mode 0444 and, where chattr works, the immutable attribute,
// which stops even root from writing.
func TestReadOnlyImageFile(t *testing.T) {
	data := testimage.Payload(11, 300000)
	img := buildImage(t, 8, treeOf(t, map[string][]byte{"kernel": data}))
	if err := os.Chmod(img, 0o444); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("chattr", "+i", img).CombinedOutput(); err == nil {
		t.Cleanup(func() { exec.Command("chattr", "-i", img).Run() })
		if f, err := os.OpenFile(img, os.O_RDWR, 0); err == nil {
			f.Close()
			t.Fatal("test is moot: an immutable file opens for writing")
		}
	} else {
		t.Logf("chattr +i unavailable, testing mode 0444 only: %v %s", err, bytes.TrimSpace(out))
	}
	im := openImage(t, img)
	if got := checkAgainstDebugfs(t, im, img, "/kernel"); !bytes.Equal(got, data) {
		t.Fatal("content differs")
	}
}

// TestLoopDevice reads through a read-only loop device, also while that
// device is mounted (no O_EXCL), and compares with the kernel's reading.
func TestLoopDevice(t *testing.T) {
	testimage.RequireRoot(t, "losetup and mount")
	testimage.RequireTools(t, "losetup", "mount", "umount")
	data := testimage.Payload(12, 5<<20+17)
	img := buildImage(t, 32, treeOf(t, map[string][]byte{".boot/kernel": data}), "-b", "4096")
	out, err := exec.Command("losetup", "--find", "--show", "-r", img).CombinedOutput()
	if err != nil {
		t.Skipf("no loop device available: %v %s", err, out)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() { testimage.Run(t, "losetup", "-d", dev) })

	im := openImage(t, dev)
	if got := readAll(t, openFile(t, im, "/.boot/kernel"), 128<<10); !bytes.Equal(got, data) {
		t.Fatal("loop device: content differs")
	}
	if im.String() != "image "+dev {
		t.Errorf("String() = %q", im.String())
	}

	mnt := t.TempDir()
	testimage.Run(t, "mount", "-o", "ro", dev, mnt)
	t.Cleanup(func() { testimage.Run(t, "umount", mnt) })
	mounted := openImage(t, dev)
	viaKernel, err := os.ReadFile(filepath.Join(mnt, ".boot/kernel"))
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, openFile(t, mounted, "/.boot/kernel"), 128<<10); !bytes.Equal(got, viaKernel) || !bytes.Equal(got, data) {
		t.Fatal("mounted loop device: content differs from the kernel's")
	}
}
