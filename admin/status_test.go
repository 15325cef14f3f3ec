package admin

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/artifactfs/artifactfs/artifactbind"
)

// TestStatusWithoutMounts: a root that does not exist has no entries; a
// per-container directory with nothing mounted serves nothing, one holding
// files (a copy left without its stage) is listed as copy, and the view
// directory is not a namespace.
func TestStatusWithoutMounts(t *testing.T) {
	root := t.TempDir()
	if entries, err := Status(filepath.Join(root, "missing"), 0); err != nil || entries != nil {
		t.Errorf("Status of a missing root = %v, %v; want none", entries, err)
	}
	for _, d := range []string{"ns/empty", "ns/copy/.boot", artifactbind.ViewsDir + "/ns/empty"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "ns/copy/.boot/kernel"), []byte("kernel"), 0o600); err != nil {
		t.Fatal(err)
	}
	entries, err := Status(root, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Fatalf("Status = %+v, want ns/copy and ns/empty", entries)
	}
	cp, empty := entries[0], entries[1]
	if cp.ContainerID != "copy" || cp.Mode != artifactbind.ModeCopy || !cp.Healthy ||
		len(cp.Artifacts) != 1 || cp.Artifacts[0].Path != "/.boot/kernel" || cp.Artifacts[0].Size != 6 {
		t.Errorf("copy entry = %+v", cp)
	}
	if empty.ContainerID != "empty" || empty.Mode != ModeNone || empty.Healthy || empty.Problem != "serves no artifact" {
		t.Errorf("empty entry = %+v", empty)
	}
}
