package layout

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/artifactfs/artifactfs/internal/testimage"
)

// TestClearUnmarkedEntry: an unmarked, empty per-container directory (a
// Create killed between its mkdir and its marker) is removed; an unmarked
// one that holds something is refused and kept.
func TestClearUnmarkedEntry(t *testing.T) {
	testimage.RequireRoot(t, "the markers are trusted.* extended attributes (CAP_SYS_ADMIN)")
	root := t.TempDir()
	if _, err := (Entry{Root: root, Namespace: "ns", ID: "marked"}).Make(); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"ns/empty", "ns/full/sub"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	found, err := Entry{Root: root, Namespace: "ns", ID: "empty"}.Clear(false)
	if err != nil || !found {
		t.Fatalf("Clear of an empty unmarked entry = %v, %v; want it removed", found, err)
	}
	if _, err := os.Stat(filepath.Join(root, "ns/empty")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ns/empty still there: %v", err)
	}
	if _, err := (Entry{Root: root, Namespace: "ns", ID: "full"}).Clear(false); !errors.Is(err, ErrNotOwned) {
		t.Errorf("Clear of an unmarked entry holding files = %v; want ErrNotOwned", err)
	}
	if _, err := os.Stat(filepath.Join(root, "ns/full/sub")); err != nil {
		t.Errorf("ns/full/sub: %v; want it kept", err)
	}
}
