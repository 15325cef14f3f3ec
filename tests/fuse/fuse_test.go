package fuse

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"

	"github.com/artifactfs/artifactfs/fs"
	"github.com/artifactfs/artifactfs/internal/source"
	"github.com/artifactfs/artifactfs/tests/harness"
)

func TestFuseDirSource(t *testing.T) {
	harness.RequireFUSE(t)
	for _, tt := range []struct {
		name        string
		passthrough bool
		wantMode    string
	}{
		{"passthrough", true, fs.ModePassthrough},
		{"server", false, fs.ModeServer},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := fuseImageRoot(t)
			served := dir
			if tt.passthrough {
				// Passthrough only serves files that cannot grow.
				served = fuseReadOnlyBind(t, dir)
			}
			m, mnt := fuseMount(t, fuseDirSource(t, served), fs.Options{Passthrough: tt.passthrough})
			if m.Mode() != tt.wantMode {
				t.Errorf("mode %s (%v); want %s", m.Mode(), m.PassthroughErr(), tt.wantMode)
			}
			fuseCheckContent(t, mnt)
			fuseCheckTree(t, mnt, dir, false)
			fuseCheckReadOnly(t, mnt)
			fuseConcurrentReads(t, mnt, 16, 50)
		})
	}
}

// fuseCheckTree checks what find sees, the attributes against the
// original files, and the mount options. mkfs.ext4 -d keeps whole seconds
// of mtime only; wholeSeconds compares those.
func fuseCheckTree(t *testing.T, mnt, orig string, wholeSeconds bool) {
	t.Helper()
	if got := fuseFind(t, mnt); strings.Join(got, " ") != strings.Join(fuseWantFind, " ") {
		t.Errorf("find %s = %q; want %q", mnt, got, fuseWantFind)
	}
	for _, name := range []string{"etc", ".boot/other", "usr", "fifo", ".boot/.go-fuse-epoll-hack"} {
		if _, err := os.Lstat(filepath.Join(mnt, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("lstat %s = %v; want ENOENT", name, err)
		}
	}
	// go-fuse answers lookups of this one name at the root itself (its
	// poll hack); it is unlisted, empty and unreadable, never image content.
	if fi, err := os.Lstat(filepath.Join(mnt, ".go-fuse-epoll-hack")); err == nil && fi.Size() != 0 {
		t.Errorf(".go-fuse-epoll-hack has size %d", fi.Size())
	}
	for _, name := range []string{".boot/kernel", "urunc.json", ".boot", "."} {
		var got, want syscall.Stat_t
		if err := syscall.Lstat(filepath.Join(mnt, name), &got); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Lstat(filepath.Join(orig, name), &want); err != nil {
			t.Fatal(err)
		}
		if wholeSeconds {
			want.Mtim.Nsec = 0
		}
		if got.Mode != want.Mode&^0o7222 || got.Mtim != want.Mtim {
			t.Errorf("%s: mode %o mtime %v; want %o %v", name, got.Mode, got.Mtim, want.Mode&^0o7222, want.Mtim)
		}
		if want.Mode&syscall.S_IFREG != 0 && (got.Size != want.Size || got.Nlink != want.Nlink) {
			t.Errorf("%s: size %d nlink %d; want %d %d", name, got.Size, got.Nlink, want.Size, want.Nlink)
		}
	}
	var st syscall.Stat_t
	for name, want := range map[string]uint64{".": 3, ".boot": 2} {
		if err := syscall.Stat(filepath.Join(mnt, name), &st); err != nil || st.Nlink != want {
			t.Errorf("%s: nlink %d (%v); want %d", name, st.Nlink, err, want)
		}
	}
	opts := fuseMountOptions(t, mnt)
	for _, want := range []string{"ro", "nosuid", "nodev"} {
		if !strings.Contains(","+strings.Fields(opts)[0]+",", ","+want+",") {
			t.Errorf("mount options %q lack %s", opts, want)
		}
	}
	if !strings.HasSuffix(opts, " fuse.artifactfs") {
		t.Errorf("mount type in %q; want fuse.artifactfs", opts)
	}
}

// fuseCheckReadOnly tries every kind of change and wants EROFS.
func fuseCheckReadOnly(t *testing.T, mnt string) {
	t.Helper()
	kernel := filepath.Join(mnt, ".boot/kernel")
	for name, op := range map[string]func() error{
		"open for write": func() error {
			f, err := os.OpenFile(kernel, os.O_WRONLY, 0)
			if err == nil {
				f.Close()
			}
			return err
		},
		"open read-write": func() error {
			f, err := os.OpenFile(kernel, os.O_RDWR, 0)
			if err == nil {
				f.Close()
			}
			return err
		},
		"write file": func() error { return os.WriteFile(kernel, []byte("x"), 0o644) },
		"create":     func() error { return os.WriteFile(filepath.Join(mnt, "new"), []byte("x"), 0o644) },
		"mkdir":      func() error { return os.Mkdir(filepath.Join(mnt, ".boot/dir"), 0o755) },
		"chmod":      func() error { return os.Chmod(kernel, 0o777) },
		"chown":      func() error { return os.Chown(kernel, 1, 1) },
		"truncate":   func() error { return os.Truncate(kernel, 0) },
		"utimes":     func() error { return unix.UtimesNano(kernel, []unix.Timespec{{}, {}}) },
		"setxattr":   func() error { return unix.Setxattr(kernel, "user.x", []byte("y"), 0) },
		"unlink":     func() error { return os.Remove(kernel) },
		"rmdir":      func() error { return os.Remove(filepath.Join(mnt, ".boot")) },
		"rename":     func() error { return os.Rename(kernel, filepath.Join(mnt, "k")) },
		"symlink":    func() error { return os.Symlink("/etc/passwd", filepath.Join(mnt, "l")) },
		"link":       func() error { return os.Link(kernel, filepath.Join(mnt, "l")) },
		"mknod":      func() error { return unix.Mkfifo(filepath.Join(mnt, "p"), 0o644) },
	} {
		if err := op(); !errors.Is(err, syscall.EROFS) {
			t.Errorf("%s: %v; want EROFS", name, err)
		}
	}
}

// panickySource panics in ReadAt of one file past an offset, as a
// malformed image might make a reader do.
type panickySource struct{ source.Source }

type panickyFile struct{ source.File }

func (s panickySource) Open(p string) (source.File, error) {
	f, err := s.Source.Open(p)
	if err != nil || p != "/.boot/initrd" {
		return f, err
	}
	return panickyFile{f}, nil
}

func (f panickyFile) ReadAt(b []byte, off int64) (int, error) {
	if off >= 1<<20 {
		panic("hostile image")
	}
	return f.File.ReadAt(b, off)
}

func TestFusePanicIsEIO(t *testing.T) {
	harness.RequireFUSE(t)
	src := panickySource{fuseDirSource(t, fuseImageRoot(t))}
	m, mnt := fuseMount(t, src, fs.Options{Passthrough: true})
	if m.Mode() != fs.ModeServer {
		t.Errorf("mode %s; want server (the wrapped source has no descriptors)", m.Mode())
	}
	f, err := os.Open(filepath.Join(mnt, ".boot/initrd"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	if _, err := f.ReadAt(buf, 0); err != nil {
		t.Errorf("read before the bad range: %v", err)
	}
	if _, err := f.ReadAt(buf, 1<<20+4096); !errors.Is(err, syscall.EIO) {
		t.Errorf("read in the bad range = %v; want EIO", err)
	}
	// The server survives.
	if got, err := os.ReadFile(filepath.Join(mnt, "urunc.json")); err != nil || string(got) != string(fuseArtifacts["urunc.json"]) {
		t.Errorf("read after the panic: %q, %v", got, err)
	}
}

func TestFuseDebugLogAndFSName(t *testing.T) {
	harness.RequireFUSE(t)
	var logs fuseLogBuffer
	ctx := zerolog.New(&logs).Level(zerolog.DebugLevel).WithContext(t.Context())
	root, err := fs.New(fuseDirSource(t, fuseImageRoot(t)), fuseArtifactPaths)
	if err != nil {
		t.Fatal(err)
	}
	mnt := t.TempDir()
	m, err := fs.Mount(ctx, mnt, root, fs.Options{Debug: true, FSName: "artifactfs-test"})
	if err != nil {
		t.Fatal(err)
	}
	defer fuseRequireUnmounted(t, mnt)
	if got := fuseMountSource(t, mnt); got != "artifactfs-test" {
		t.Errorf("mount source %q; want artifactfs-test", got)
	}
	if _, err := os.ReadFile(filepath.Join(mnt, "urunc.json")); err != nil {
		t.Fatal(err)
	}
	if err := m.Unmount(); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	for _, want := range []string{`"component":"go-fuse"`, `LOOKUP`, `"level":"debug"`, `"mode":"server"`, `"message":"mounted"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%.2000s", want, out)
		}
	}
}
