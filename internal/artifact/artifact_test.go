package artifact

import (
	"errors"
	iofs "io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/artifactfs/artifactfs/internal/source"
)

func uruncJSON(t *testing.T, cfg Config) []byte {
	t.Helper()
	b, err := EncodeUruncJSON(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// imageDir writes files into a temp dir and opens it as a source.
func imageDir(t *testing.T, files map[string][]byte) *source.Dir {
	t.Helper()
	root := t.TempDir()
	for name, data := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	d, err := source.OpenDir(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func kinds(s Set) map[Kind]string {
	m := map[Kind]string{}
	for _, a := range s.Artifacts {
		m[a.Kind] = a.Path
	}
	return m
}

func TestResolveFromUruncJSON(t *testing.T) {
	src := imageDir(t, map[string][]byte{
		"urunc.json":     uruncJSON(t, Config{AnnotationBinary: "/.boot/kernel", AnnotationInitrd: "/.boot/initrd", AnnotationType: "linux"}),
		".boot/kernel":   []byte("kernel"),
		".boot/initrd":   []byte("initrd"),
		"etc/not-served": []byte("x"),
	})
	set, err := Resolve(src, Request{})
	if err != nil {
		t.Fatal(err)
	}
	got := kinds(set)
	want := map[Kind]string{KindKernel: "/.boot/kernel", KindInitrd: "/.boot/initrd", KindConfig: "/urunc.json"}
	if len(got) != len(want) || got[KindKernel] != want[KindKernel] || got[KindInitrd] != want[KindInitrd] || got[KindConfig] != want[KindConfig] {
		t.Fatalf("artifacts = %v; want %v", got, want)
	}
	if set.Origin != "urunc.json" || set.Config[AnnotationType] != "linux" {
		t.Fatalf("origin %q config %v", set.Origin, set.Config)
	}
	if k, _ := set.Get(KindKernel); k.Info.Size != 6 {
		t.Fatalf("kernel size %d; want 6", k.Info.Size)
	}
}

func TestResolveAnnotationsWinOverUruncJSON(t *testing.T) {
	src := imageDir(t, map[string][]byte{
		"urunc.json":        uruncJSON(t, Config{AnnotationBinary: "/.boot/kernel", AnnotationInitrd: "/.boot/initrd"}),
		".boot/kernel":      []byte("kernel"),
		".boot/initrd":      []byte("initrd"),
		"unikernel/app.hvt": []byte("app"),
	})
	set, err := Resolve(src, Request{Annotations: map[string]string{
		AnnotationType: "solo5", AnnotationHypervisor: "hvt", AnnotationBinary: "/unikernel/app.hvt",
	}})
	if err != nil {
		t.Fatal(err)
	}
	got := kinds(set)
	// Not merged: the initrd of urunc.json is not taken.
	if got[KindKernel] != "/unikernel/app.hvt" || got[KindInitrd] != "" || got[KindConfig] != "/urunc.json" || set.Origin != "annotations" {
		t.Fatalf("artifacts = %v origin %q", got, set.Origin)
	}

	// Incomplete annotations are ignored in favour of urunc.json.
	set, err = Resolve(src, Request{Annotations: map[string]string{AnnotationBinary: "/unikernel/app.hvt"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := kinds(set); got[KindKernel] != "/.boot/kernel" || set.Origin != "urunc.json" {
		t.Fatalf("incomplete annotations: artifacts = %v origin %q", got, set.Origin)
	}
}

func TestResolveExplicitPathsWin(t *testing.T) {
	src := imageDir(t, map[string][]byte{
		"urunc.json":   uruncJSON(t, Config{AnnotationBinary: "/.boot/kernel", AnnotationInitrd: "/.boot/initrd"}),
		".boot/kernel": []byte("kernel"),
		".boot/initrd": []byte("initrd"),
		"other/k":      []byte("other"),
	})
	set, err := Resolve(src, Request{Kernel: "/other/k"})
	if err != nil {
		t.Fatal(err)
	}
	if got := kinds(set); got[KindKernel] != "/other/k" || got[KindInitrd] != "/.boot/initrd" {
		t.Fatalf("artifacts = %v", got)
	}

	bare := imageDir(t, map[string][]byte{"k": []byte("kernel")})
	set, err = Resolve(bare, Request{Kernel: "/k"})
	if err != nil {
		t.Fatal(err)
	}
	if got := kinds(set); len(got) != 1 || got[KindKernel] != "/k" || set.Origin != "flags" {
		t.Fatalf("artifacts = %v origin %q", got, set.Origin)
	}
}

func TestResolveErrors(t *testing.T) {
	huge := t.TempDir()
	sparse := filepath.Join(huge, "kernel")
	if err := os.WriteFile(sparse, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(sparse, 3<<30); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(huge, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	hugeSrc, err := source.OpenDir(huge)
	if err != nil {
		t.Fatal(err)
	}
	defer hugeSrc.Close()

	good := map[string][]byte{"k": []byte("kernel"), "d/x": []byte("x")}
	tests := []struct {
		name string
		src  source.Source
		req  Request
		want error
	}{
		{"no config no flag", imageDir(t, good), Request{}, ErrNoKernel},
		{"config without binary", imageDir(t, map[string][]byte{"urunc.json": uruncJSON(t, Config{AnnotationType: "x"})}), Request{}, ErrNoKernel},
		{"bad json", imageDir(t, map[string][]byte{"urunc.json": []byte("{not json")}), Request{}, ErrBadConfig},
		{"bad base64", imageDir(t, map[string][]byte{"urunc.json": []byte(`{"com.urunc.unikernel.binary":"%%%"}`)}), Request{}, ErrBadConfig},
		{"not a string", imageDir(t, map[string][]byte{"urunc.json": []byte(`{"com.urunc.unikernel.binary":1}`)}), Request{}, ErrBadConfig},
		{"json array", imageDir(t, map[string][]byte{"urunc.json": []byte(`[]`)}), Request{}, ErrBadConfig},
		{"kernel missing", imageDir(t, good), Request{Kernel: "/nope"}, iofs.ErrNotExist},
		{"escape stays inside", imageDir(t, good), Request{Kernel: "/../../../../etc/passwd"}, iofs.ErrNotExist},
		{"kernel is a dir", imageDir(t, good), Request{Kernel: "/d"}, source.ErrNotRegular},
		{"kernel is a fifo", hugeSrc, Request{Kernel: "/fifo"}, source.ErrNotRegular},
		{"kernel over cap", hugeSrc, Request{Kernel: "/kernel"}, ErrTooLarge},
		{"initrd missing", imageDir(t, good), Request{Kernel: "/k", Initrd: "/i"}, iofs.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Resolve(tt.src, tt.req)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Resolve = %v; want %v", err, tt.want)
			}
		})
	}
	if _, err := Resolve(imageDir(t, good), Request{Kernel: "relative"}); err == nil {
		t.Fatal("relative kernel path accepted")
	}
}

func TestParseUruncJSONRoundTrip(t *testing.T) {
	in := Config{AnnotationBinary: "/k", AnnotationCmdline: "console=ttyS0 quiet"}
	got, err := ParseUruncJSON(uruncJSON(t, in))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[AnnotationCmdline] != in[AnnotationCmdline] {
		t.Fatalf("round trip = %v; want %v", got, in)
	}
}
