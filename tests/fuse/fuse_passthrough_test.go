package fuse

import (
	"syscall"
	"testing"

	"github.com/artifactfs/artifactfs/fs"
	"github.com/artifactfs/artifactfs/internal/source"
	"github.com/artifactfs/artifactfs/tests/harness"
)

// fdOnlySource offers the host descriptors of a directory source but
// panics on every ReadAt: a mount over it can only read through FUSE
// passthrough, which proves that the kernel, not the server, serves reads.
type fdOnlySource struct{ source.Source }

type fdOnlyFile struct{ source.FdFile }

func (s fdOnlySource) Open(p string) (source.File, error) {
	f, err := s.Source.Open(p)
	if err != nil {
		return nil, err
	}
	return fdOnlyFile{f.(source.FdFile)}, nil
}

func (fdOnlyFile) ReadAt([]byte, int64) (int, error) { panic("read reached the server") }

func TestFusePassthroughServesInKernel(t *testing.T) {
	harness.RequireFUSE(t)
	// A read-only mount: passthrough only serves files that cannot grow.
	m, mnt := fuseMount(t, fdOnlySource{fuseDirSource(t, fuseReadOnlyBind(t, fuseImageRoot(t)))}, fs.Options{Passthrough: true})
	if m.Mode() != fs.ModePassthrough {
		t.Fatalf("mode %s (%v); want passthrough", m.Mode(), m.PassthroughErr())
	}
	fuseCheckContent(t, mnt)
	fuseConcurrentReads(t, mnt, 16, 20)
}

func TestFusePassthroughFallback(t *testing.T) {
	harness.RequireFUSE(t)
	// The files of a passthrough mount sit on a stacked filesystem, which
	// the kernel refuses as backing files of another passthrough mount.
	_, lower := fuseMount(t, fuseDirSource(t, fuseImageRoot(t)), fs.Options{Passthrough: true})
	m, mnt := fuseMount(t, fuseDirSource(t, lower), fs.Options{Passthrough: true})
	if m.Mode() != fs.ModeServer || m.PassthroughErr() == nil {
		t.Fatalf("mode %s, passthrough error %v; want server and the reason", m.Mode(), m.PassthroughErr())
	}
	t.Logf("fallback reason: %v", m.PassthroughErr())
	fuseCheckContent(t, mnt)
}

func TestFusePassthroughOverOverlay(t *testing.T) {
	harness.RequireFUSE(t)
	// A read-only overlay of two lower dirs, as a containerd overlayfs view
	// of a multi-layer image is.
	lower1, lower2, ovl := fuseImageRoot(t), t.TempDir(), t.TempDir()
	opts := "lowerdir=" + lower1 + ":" + lower2
	if err := syscall.Mount("overlay", ovl, "overlay", syscall.MS_RDONLY, opts); err != nil {
		t.Skipf("overlayfs not mountable here: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(ovl, 0); err != nil {
			t.Errorf("unmount overlay: %v", err)
		}
	})
	m, mnt := fuseMount(t, fdOnlySource{fuseDirSource(t, ovl)}, fs.Options{Passthrough: true})
	if m.Mode() != fs.ModePassthrough {
		t.Fatalf("mode %s (%v); want passthrough", m.Mode(), m.PassthroughErr())
	}
	fuseCheckContent(t, mnt)
}
