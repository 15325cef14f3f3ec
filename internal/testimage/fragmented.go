package testimage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// Fragmented makes an ext4 image holding files (written first, each
// contiguous) and then the file at in-image path frag with content data,
// written into the holes left by deleting every other filler file, so that
// it ends up in about `pieces` extents. It loop-mounts the image to do so and
// therefore needs root.
func Fragmented(tb testing.TB, files map[string][]byte, frag string, data []byte, pieces int) string {
	tb.Helper()
	RequireRoot(tb, "a fragmented image is written through a loop mount")
	src := tb.TempDir()
	WriteTree(tb, src, files)
	sizeMiB := 3*len(data)/(1<<20) + 32
	img := Mkfs(tb, src, sizeMiB, "-b", "4096", "-E", "lazy_itable_init=0,lazy_journal_init=0,nodiscard")

	mnt := tb.TempDir()
	Run(tb, "mount", "-o", "loop", img, mnt)
	unmounted := false
	unmount := func() {
		if !unmounted {
			Run(tb, "umount", mnt)
			unmounted = true
		}
	}
	defer unmount()

	if _, err := FragmentInto(mnt, frag, data, pieces); err != nil {
		tb.Fatal(err)
	}
	unmount()
	return img
}

// FragmentInto writes data to path frag of the ext4 filesystem mounted at
// mnt so that it lands in about `pieces` extents: it fills the filesystem
// with files of one hole's size, deletes every other one, and writes data
// into the holes with an fsync per hole (which defeats delayed allocation's
// contiguous placement). It returns the hole size. The filler files stay.
func FragmentInto(mnt, frag string, data []byte, pieces int) (int64, error) {
	hole := max(int64(len(data)/pieces)&^4095, 4096)
	filler := filepath.Join(mnt, "filler")
	if err := os.Mkdir(filler, 0o755); err != nil {
		return 0, err
	}
	chunk := make([]byte, hole)
	var names []string
	for i := 0; ; i++ {
		name := filepath.Join(filler, fmt.Sprintf("f%06d", i))
		err := os.WriteFile(name, chunk, 0o644)
		if errors.Is(err, syscall.ENOSPC) {
			os.Remove(name)
			break
		}
		if err != nil {
			return 0, fmt.Errorf("fill %s: %w", mnt, err)
		}
		names = append(names, name)
	}
	syscall.Sync()
	for i := 0; i < len(names); i += 2 {
		if err := os.Remove(names[i]); err != nil {
			return 0, err
		}
	}
	syscall.Sync()
	target := filepath.Join(mnt, frag)
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return 0, err
	}
	f, err := os.Create(target)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	for off := int64(0); off < int64(len(data)); off += hole {
		if _, err := f.Write(data[off:min(off+hole, int64(len(data)))]); err != nil {
			return 0, fmt.Errorf("write %s: %w", frag, err)
		}
		if err := f.Sync(); err != nil {
			return 0, err
		}
	}
	return hole, f.Close()
}
