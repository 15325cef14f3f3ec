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

// extractSource returns a directory source with a kernel at /.boot/kernel,
// its resolved artifact set and the directory.
func extractSource(t *testing.T) (*source.Dir, artifact.Set, string) {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, ".boot"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, ".boot/kernel"), []byte("kernel"), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := source.OpenDir(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	set, err := artifact.Resolve(src, artifact.Request{Kernel: "/.boot/kernel"})
	if err != nil {
		t.Fatal(err)
	}
	return src, set, root
}

// TestExtractRefusesSymlinkInDir plants symlinks in DIR, as a user who
// owns DIR could, and checks that nothing is written through them.
func TestExtractRefusesSymlinkInDir(t *testing.T) {
	src, set, _ := extractSource(t)
	t.Run("directory", func(t *testing.T) {
		out, victim := t.TempDir(), t.TempDir()
		if err := os.Symlink(victim, filepath.Join(out, ".boot")); err != nil {
			t.Fatal(err)
		}
		err := Extract(src, set, out, true, nil)
		if err == nil || !strings.Contains(err.Error(), "symlink") {
			t.Fatalf("extract through a symlinked directory = %v; want a symlink error", err)
		}
		if entries, _ := os.ReadDir(victim); len(entries) != 0 {
			t.Fatalf("extract wrote %d entries into the symlink's target", len(entries))
		}
	})
	t.Run("file", func(t *testing.T) {
		out, victim := t.TempDir(), t.TempDir()
		target := filepath.Join(victim, "kept")
		if err := os.WriteFile(target, []byte("victim"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(filepath.Join(out, ".boot"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, filepath.Join(out, ".boot/kernel")); err != nil {
			t.Fatal(err)
		}
		if err := Extract(src, set, out, false, nil); err == nil {
			t.Fatal("extract over an existing symlink without overwrite succeeded")
		}
		if err := Extract(src, set, out, true, nil); err != nil {
			t.Fatalf("extract with overwrite replacing a symlink: %v", err)
		}
		if got, _ := os.ReadFile(target); string(got) != "victim" {
			t.Fatalf("the symlink's target now holds %q", got)
		}
		if fi, err := os.Lstat(filepath.Join(out, ".boot/kernel")); err != nil || !fi.Mode().IsRegular() {
			t.Fatalf("extracted kernel: %v, %v; want a regular file replacing the link", fi, err)
		}
	})
}

// TestExtractRemovesTheDirItMade: a failure after Extract made DIR (the
// artifact vanished from the source) removes DIR and what is in it; a
// DIR that existed stays.
func TestExtractRemovesTheDirItMade(t *testing.T) {
	src, set, root := extractSource(t)
	if err := os.Remove(filepath.Join(root, ".boot/kernel")); err != nil {
		t.Fatal(err)
	}
	parent := t.TempDir()
	out := filepath.Join(parent, "out")
	if err := Extract(src, set, out, false, nil); err == nil {
		t.Fatal("extract of a vanished kernel succeeded")
	}
	if entries, _ := os.ReadDir(parent); len(entries) != 0 {
		t.Fatalf("a failed extract left %v beside it", entries)
	}
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Extract(src, set, out, false, nil); err == nil {
		t.Fatal("extract of a vanished kernel succeeded")
	}
	if _, err := os.Stat(out); err != nil {
		t.Fatalf("the existing DIR is gone after a failed extract: %v", err)
	}
}
