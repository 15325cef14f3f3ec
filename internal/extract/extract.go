package extract

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/artifactfs/artifactfs/internal/artifact"
	"github.com/artifactfs/artifactfs/internal/source"
)

// Progress is called after each artifact is written.
type Progress func(a artifact.Artifact, dst string)

// Extract writes every artifact of set, read from src, under dir at its
// in-image path. Files get the image's permission bits without write and
// set-id bits. An existing file is replaced only when overwrite is true.
// On error, files already written stay; the one being written is removed.
func Extract(src source.Source, set artifact.Set, dir string, overwrite bool, progress Progress) error {
	for _, a := range set.Artifacts {
		dst := filepath.Join(dir, filepath.FromSlash(a.Path))
		if !overwrite {
			if _, err := os.Lstat(dst); err == nil {
				return fmt.Errorf("extract %s: %s exists (use --force to replace it)", a.Kind, dst)
			}
		}
		if err := copyFile(src, a, dst); err != nil {
			return fmt.Errorf("extract %s %s: %w", a.Kind, a.Path, err)
		}
		if progress != nil {
			progress(a, dst)
		}
	}
	return nil
}

func copyFile(src source.Source, a artifact.Artifact, dst string) (err error) {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	in, err := src.Open(a.Path)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	// Copy exactly the size that was checked against the cap, no more.
	n, err := io.Copy(tmp, io.NewSectionReader(in, 0, a.Info.Size))
	if err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	if n != a.Info.Size {
		return fmt.Errorf("copy: read %d of %d bytes", n, a.Info.Size)
	}
	if err := tmp.Chmod(a.Info.Mode.Perm() &^ 0o222); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chtimes(tmp.Name(), a.Info.ModTime, a.Info.ModTime); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return err
	}
	return SyncDir(filepath.Dir(dst))
}

// SyncDir fsyncs a directory, so that a rename or removal in it is durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}
