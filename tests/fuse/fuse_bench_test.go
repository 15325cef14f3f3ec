package fuse

import (
	"io"
	"testing"

	"github.com/artifactfs/artifactfs/blockreader"
	"github.com/artifactfs/artifactfs/fs"
	"github.com/artifactfs/artifactfs/internal/source"
	"github.com/artifactfs/artifactfs/internal/testimage"
)

// BenchmarkMountSetup measures one fs.New + fs.Mount until ready, then the
// unmount, in process: the cost a shim pays per container, without the
// CLI's process start. Run: go test -run '^$' -bench MountSetup ./tests
func BenchmarkMountSetup(b *testing.B) {
	testimage.RequireRoot(b, "FUSE mounts")
	dir := b.TempDir()
	testimage.WriteTree(b, dir, fuseArtifacts)
	img := testimage.Mkfs(b, dir, 32)
	ctx := fuseLoggerTo(io.Discard)
	for _, tt := range []struct {
		name string
		open func() (source.Source, error)
		opts fs.Options
	}{
		{"image", func() (source.Source, error) { return blockreader.Open(img) }, fs.Options{}},
		{"dir-passthrough", func() (source.Source, error) { return source.OpenDir(dir) }, fs.Options{Passthrough: true}},
		{"dir-server", func() (source.Source, error) { return source.OpenDir(dir) }, fs.Options{}},
	} {
		b.Run(tt.name, func(b *testing.B) {
			src, err := tt.open()
			if err != nil {
				b.Fatal(err)
			}
			defer src.Close()
			mnt := b.TempDir()
			for b.Loop() {
				root, err := fs.New(src, fuseArtifactPaths)
				if err != nil {
					b.Fatal(err)
				}
				m, err := fs.Mount(ctx, mnt, root, tt.opts)
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := m.Unmount(); err != nil {
					b.Fatal(err)
				}
				m.Wait()
				b.StartTimer()
			}
		})
	}
}
