package blockreader

import (
	"errors"
	"fmt"
	iofs "io/fs"
	"strings"
	"syscall"
	"testing"

	"github.com/artifactfs/artifactfs/internal/imagepath"
	"github.com/artifactfs/artifactfs/internal/source"
	"github.com/artifactfs/artifactfs/internal/testimage"
)

func symlinkImage(t *testing.T, args ...string) string {
	return buildImage(t, 8, func(src string) {
		testimage.WriteTree(t, src, map[string][]byte{
			".boot/vmlinuz": []byte("kernel bytes"),
			"etc/passwd":    []byte("in-image passwd"),
		})
		links := [][2]string{
			{"vmlinuz", ".boot/kernel"},
			{"/.boot/kernel", "abs"},
			{"chain2", "chain1"},
			{"chain3", "chain2"},
			{".boot/vmlinuz", "chain3"},
			{".boot", "dirlink"},
			{"/dirlink", "dirlink2"},
			{"../../.boot/vmlinuz", "nested/deeper/up"},
			{"../../../../etc/passwd", "escape"},
			{"/../../../etc/passwd", "escapeabs"},
			{"../../../../nonexistent", "escape2"},
			{"/etc/hostname", "hostname"},
			{"loop-b", "loop-a"},
			{"loop-a", "loop-b"},
			{"self", "self"},
			{"loopdir/x", "loopdir"},
			{"." + strings.Repeat("/.", 150) + "/.boot/vmlinuz", "longlink"},
			{".boot/vmlinuz/x", "notdir"},
		}
		for _, l := range links {
			mustSymlink(t, src, l[0], l[1])
		}
		// hops/hN -> hN+1 ... -> file: resolving h0 takes n hops.
		for _, n := range []int{imagepath.MaxHops, imagepath.MaxHops + 1} {
			dir := fmt.Sprintf("hops%d", n)
			for i := range n {
				next := fmt.Sprintf("h%d", i+1)
				if i == n-1 {
					next = "/.boot/vmlinuz"
				}
				mustSymlink(t, src, next, fmt.Sprintf("%s/h%d", dir, i))
			}
		}
	}, args...)
}

func TestSymlinks(t *testing.T) {
	for _, bs := range []string{"1024", "4096"} {
		t.Run("blocksize="+bs, func(t *testing.T) {
			im := openImage(t, symlinkImage(t, "-b", bs))
			resolves := map[string]string{
				"/.boot/kernel":         "/.boot/vmlinuz",
				"/abs":                  "/.boot/vmlinuz",
				"/chain1":               "/.boot/vmlinuz",
				"/dirlink/kernel":       "/.boot/vmlinuz",
				"/dirlink2/kernel":      "/.boot/vmlinuz",
				"/dirlink2/../abs":      "/.boot/vmlinuz", // cleaned lexically first
				"/nested/deeper/up":     "/.boot/vmlinuz",
				"/longlink":             "/.boot/vmlinuz",
				"/escape":               "/etc/passwd",
				"/escapeabs":            "/etc/passwd",
				"/hops40/h0":            "/.boot/vmlinuz",
				"/dirlink":              "/.boot",
				"/hops40/h39":           "/.boot/vmlinuz",
				"/dirlink2/../dirlink2": "/.boot",
			}
			for p, want := range resolves {
				info, err := im.Stat(p)
				if err != nil || info.Path != want {
					t.Errorf("Stat(%s) = %q, %v; want %q", p, info.Path, err, want)
				}
			}
			for _, p := range []string{"/.boot/kernel", "/abs", "/dirlink/kernel", "/longlink", "/hops40/h0"} {
				f, err := im.Open(p)
				if err != nil {
					t.Fatal(err)
				}
				buf := make([]byte, 64)
				n, _ := f.ReadAt(buf, 0)
				if got := string(buf[:n]); got != "kernel bytes" {
					t.Errorf("Open(%s) reads %q", p, got)
				}
				f.Close()
			}
			if f, err := im.Open("/escape"); err != nil {
				t.Error(err)
			} else {
				buf := make([]byte, 64)
				n, _ := f.ReadAt(buf, 0)
				if string(buf[:n]) != "in-image passwd" {
					t.Errorf("escape read %q, not the image's /etc/passwd", buf[:n])
				}
				f.Close()
			}

			for p, want := range map[string]error{
				"/escape2":         iofs.ErrNotExist,
				"/hostname":        iofs.ErrNotExist,
				"/dirlink/nope":    iofs.ErrNotExist,
				"/loop-a":          ErrLoop,
				"/self":            ErrLoop,
				"/self/below":      ErrLoop,
				"/loopdir":         ErrLoop,
				"/hops41/h0":       ErrLoop,
				"/notdir":          syscall.ENOTDIR,
				"/chain1/x":        syscall.ENOTDIR,
				"/dirlink/kernel/": nil, // cleaned to /dirlink/kernel
			} {
				_, err := im.Stat(p)
				if want == nil {
					if err != nil {
						t.Errorf("Stat(%s): %v", p, err)
					}
					continue
				}
				wantErr(t, "Stat("+p+")", err, want)
				_, err = im.Open(p)
				wantErr(t, "Open("+p+")", err, want)
			}
		})
	}
}

func TestLstatReadlink(t *testing.T) {
	im := openImage(t, symlinkImage(t))
	tests := []struct {
		p, path, target string
	}{
		{"/.boot/kernel", "/.boot/kernel", "vmlinuz"},
		{"/dirlink/kernel", "/.boot/kernel", "vmlinuz"},
		{"/abs", "/abs", "/.boot/kernel"},
		{"/self", "/self", "self"},
		{"/loop-a", "/loop-a", "loop-b"},
		{"/escape", "/escape", "../../../../etc/passwd"},
		{"/longlink", "/longlink", "." + strings.Repeat("/.", 150) + "/.boot/vmlinuz"},
	}
	for _, tt := range tests {
		info, err := im.Lstat(tt.p)
		if err != nil || info.Path != tt.path || info.Mode.Type() != iofs.ModeSymlink || info.Size != int64(len(tt.target)) {
			t.Errorf("Lstat(%s) = %+v, %v; want symlink at %s", tt.p, info, err, tt.path)
		}
		if got, err := im.Readlink(tt.p); err != nil || got != tt.target {
			t.Errorf("Readlink(%s) = %q, %v; want %q", tt.p, got, err, tt.target)
		}
	}
	if info, err := im.Lstat("/dirlink"); err != nil || info.Mode.Type() != iofs.ModeSymlink {
		t.Errorf("Lstat(/dirlink) = %+v, %v", info, err)
	}
	if info, err := im.Stat("/dirlink"); err != nil || !info.Mode.IsDir() {
		t.Errorf("Stat(/dirlink) = %+v, %v", info, err)
	}
	_, err := im.Readlink("/.boot/vmlinuz")
	wantErr(t, "Readlink of a regular file", err, syscall.EINVAL)
	_, err = im.Open("/dirlink")
	wantErr(t, "Open of a symlink to a directory", err, source.ErrNotRegular)
	if _, err := im.Readlink("/nope"); !errors.Is(err, iofs.ErrNotExist) {
		t.Errorf("Readlink(/nope) = %v", err)
	}
}
