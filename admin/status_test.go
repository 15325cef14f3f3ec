package admin

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/artifactfs/artifactfs/artifactbind"
	"github.com/artifactfs/artifactfs/internal/layout"
	"github.com/artifactfs/artifactfs/internal/testimage"
)

// TestStatusWithoutMounts: a root that does not exist has no entries; an
// unmarked directory is not a root; under a marked root a per-container
// directory with nothing mounted serves nothing, one holding files (a
// copy left without its stage) is listed as copy, the view directory is
// not a namespace, and entries artifactfs did not mark are unknown, never
// containers.
func TestStatusWithoutMounts(t *testing.T) {
	testimage.RequireRoot(t, "the markers are trusted.* extended attributes (CAP_SYS_ADMIN)")
	root := t.TempDir()
	if entries, err := Status(filepath.Join(root, "missing"), 0); err != nil || entries != nil {
		t.Errorf("Status of a missing root = %v, %v; want none", entries, err)
	}
	if err := os.MkdirAll(filepath.Join(root, "ns/stray"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := Status(root, 0); !errors.Is(err, layout.ErrNotRoot) {
		t.Fatalf("Status of an unmarked directory = %v; want ErrNotRoot", err)
	}
	for _, id := range []string{"copy", "empty"} {
		if _, _, err := layout.MakeContainerDirs(root, "ns", id); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"ns/copy/.boot", "other/x"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "ns/copy/.boot/kernel"), []byte("kernel"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "ns/file"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	entries, err := Status(root, 0)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		kind, ns, id string
		mode         artifactbind.Mode
	}
	var got []row
	for _, e := range entries {
		got = append(got, row{e.Kind, e.Namespace, e.ContainerID, e.Mode})
	}
	want := []row{
		{KindContainer, "ns", "copy", artifactbind.ModeCopy},
		{KindContainer, "ns", "empty", ModeNone},
		{KindUnknown, "ns", "file", ModeUnknown},
		{KindUnknown, "ns", "stray", ModeUnknown},
		{KindUnknown, "other", "", ModeUnknown},
	}
	if len(got) != len(want) {
		t.Fatalf("Status = %+v\nwant %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	cp, empty := entries[0], entries[1]
	if !cp.Healthy || len(cp.Artifacts) != 1 || cp.Artifacts[0].Path != "/.boot/kernel" || cp.Artifacts[0].Size != 6 {
		t.Errorf("copy entry = %+v", cp)
	}
	if empty.Healthy || empty.Problem != "serves no artifact" {
		t.Errorf("empty entry = %+v", empty)
	}
	for _, e := range entries[2:] {
		if e.Healthy || e.Problem == "" || len(e.Artifacts) != 0 {
			t.Errorf("unknown entry %s = %+v; want no health, no artifacts, a problem saying what it is", e.Path, e)
		}
	}
}
