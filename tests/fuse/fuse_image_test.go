package fuse

import (
	"errors"
	"testing"

	"github.com/artifactfs/artifactfs/blockreader"
	"github.com/artifactfs/artifactfs/fs"
	"github.com/artifactfs/artifactfs/internal/testimage"
	"github.com/artifactfs/artifactfs/tests/harness"
)

// fuseImageSource opens an ext4 image with blockreader, closed at the end
// of the test.
func fuseImageSource(t *testing.T, img string) *blockreader.Image {
	t.Helper()
	im, err := blockreader.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { im.Close() })
	return im
}

func TestFuseImageSource(t *testing.T) {
	harness.RequireFUSE(t)
	dir := fuseImageRoot(t)
	img := testimage.Mkfs(t, dir, 64)
	m, mnt := fuseMount(t, fuseImageSource(t, img), fs.Options{Passthrough: true})
	if m.Mode() != fs.ModeServer || !errors.Is(m.PassthroughErr(), fs.ErrNoHostFd) {
		t.Errorf("mode %s (%v); want server because of ErrNoHostFd", m.Mode(), m.PassthroughErr())
	}
	// The reference is debugfs's reading of the image, not our own.
	for name, want := range fuseArtifacts {
		if got := testimage.DebugfsCat(t, img, "/"+name); testimage.SHA256(got) != testimage.SHA256(want) {
			t.Fatalf("fixture: debugfs reads %s differently from what was written", name)
		}
	}
	fuseCheckContent(t, mnt)
	fuseCheckTree(t, mnt, dir, true)
	fuseCheckReadOnly(t, mnt)
	fuseConcurrentReads(t, mnt, 16, 50)
}

func TestFuseFragmentedImage(t *testing.T) {
	harness.RequireFUSE(t)
	kernel := fuseArtifacts[".boot/kernel"]
	img := testimage.Fragmented(t, map[string][]byte{
		".boot/initrd": fuseArtifacts[".boot/initrd"],
		"urunc.json":   fuseArtifacts["urunc.json"],
	}, "/.boot/kernel", kernel, 64)
	if n := testimage.Extents(t, img, "/.boot/kernel"); n < 16 {
		t.Fatalf("fixture: kernel has %d extents; want a fragmented one", n)
	}
	_, mnt := fuseMount(t, fuseImageSource(t, img), fs.Options{Passthrough: true})
	fuseCheckContent(t, mnt)
	fuseConcurrentReads(t, mnt, 16, 50)
}
