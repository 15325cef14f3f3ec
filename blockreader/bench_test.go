package blockreader

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/artifactfs/artifactfs/internal/testimage"
)

// BenchmarkReadAt reads a 256 MiB file sequentially with 128 KiB ReadAt
// calls (warm page cache after the first pass). Compare with the kernel:
//
//	mount -o loop,ro IMG /mnt && cat /mnt/kernel > /dev/null
func BenchmarkReadAt(b *testing.B) {
	testimage.RequireTools(b, "mkfs.ext4")
	src := b.TempDir()
	f, err := os.Create(filepath.Join(src, "kernel"))
	if err != nil {
		b.Fatal(err)
	}
	chunk := testimage.Payload(1, 1<<20)
	for range 256 {
		if _, err := f.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
	f.Close()
	img := testimage.Mkfs(b, src, 320, "-b", "4096")
	im := openImage(b, img)
	kf := openFile(b, im, "/kernel")
	buf := make([]byte, 128<<10)
	b.SetBytes(kf.Size())
	b.ResetTimer()
	for b.Loop() {
		for off := int64(0); ; off += int64(len(buf)) {
			_, err := kf.ReadAt(buf, off)
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}
