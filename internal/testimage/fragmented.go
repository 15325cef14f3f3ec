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
	hole := int64(len(data)/pieces) &^ 4095
	if hole < 4096 {
		hole = 4096
	}
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

	filler := filepath.Join(mnt, "filler")
	if err := os.Mkdir(filler, 0o755); err != nil {
		tb.Fatal(err)
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
			tb.Fatal(err)
		}
		names = append(names, name)
	}
	syscall.Sync()
	for i := 0; i < len(names); i += 2 {
		if err := os.Remove(names[i]); err != nil {
			tb.Fatal(err)
		}
	}
	syscall.Sync()
	target := filepath.Join(mnt, frag)
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		tb.Fatal(err)
	}
	f, err := os.Create(target)
	if err != nil {
		tb.Fatal(err)
	}
	// Small writes with fsync defeat delayed allocation's contiguous
	// placement and spread the file over the holes.
	for off := int64(0); off < int64(len(data)); off += hole {
		end := min(off+hole, int64(len(data)))
		if _, err := f.Write(data[off:end]); err != nil {
			tb.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			tb.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	unmount()
	return img
}
