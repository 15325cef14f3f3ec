package extract

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/artifactfs/artifactfs/internal/artifact"
	"github.com/artifactfs/artifactfs/internal/source"
)

func TestExtract(t *testing.T) {
	root := t.TempDir()
	kernel := bytes.Repeat([]byte("k"), 300000)
	if err := os.MkdirAll(filepath.Join(root, ".boot"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, ".boot/kernel"), kernel, 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := source.OpenDir(root)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	set, err := artifact.Resolve(src, artifact.Request{Kernel: "/.boot/kernel"})
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	var seen []string
	if err := Extract(src, set, out, false, func(a artifact.Artifact, dst string) { seen = append(seen, dst) }); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(out, ".boot/kernel")
	got, err := os.ReadFile(dst)
	if err != nil || !bytes.Equal(got, kernel) {
		t.Fatalf("extracted %d bytes, %v; want %d identical bytes", len(got), err, len(kernel))
	}
	st, _ := os.Stat(dst)
	if st.Mode().Perm() != 0o555 {
		t.Fatalf("mode %v; want r-xr-xr-x", st.Mode())
	}
	if len(seen) != 1 || seen[0] != dst {
		t.Fatalf("progress saw %v", seen)
	}
	err = Extract(src, set, out, false, nil)
	if err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("second extract without overwrite = %v; want an exists error", err)
	}
	if err := Extract(src, set, out, true, nil); err != nil {
		t.Fatalf("extract with overwrite: %v", err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(out, ".boot", ".*tmp*"))
	if len(leftovers) != 0 {
		t.Fatalf("temp files left: %v", leftovers)
	}
}
