package mounts

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/artifactfs/artifactfs/bench/internal/artifacttree"
	"github.com/artifactfs/artifactfs/blockreader"
	"github.com/artifactfs/artifactfs/fs"
	"github.com/artifactfs/artifactfs/internal/mounttable"
	"github.com/artifactfs/artifactfs/internal/source"
)

// Source kinds: what a mount reads.
const (
	KindImage = "image" // blockreader over an ext4 image file or device
	KindDir   = "dir"   // source.OpenDir over a host directory
)

// Source is one way the shim serves artifacts: a source kind and its
// mount options.
type Source struct {
	Name        string // row label
	Kind        string // KindImage or KindDir
	Passthrough bool   // fs.Options.Passthrough
	Flags       string // the artifactfs mount flags that do the same by hand
}

// Sources are the sources the memory and scale sections measure.
var Sources = []Source{
	{Name: "artifactfs --image IMG (blockreader)", Kind: KindImage, Flags: "--image IMG"},
	{Name: "artifactfs --dir DIR, passthrough", Kind: KindDir, Passthrough: true, Flags: "--dir DIR"},
}

// Path returns what the source opens: the image file or the directory.
func (s Source) Path(img, dir string) string {
	if s.Kind == KindImage {
		return img
	}
	return dir
}

// Open opens a source of the given kind at path.
func Open(kind, path string) (source.Source, error) {
	switch kind {
	case KindImage:
		return blockreader.Open(path)
	case KindDir:
		return source.OpenDir(path)
	}
	return nil, fmt.Errorf("unknown source kind %q", kind)
}

// Mounted is one mounted tree and the source it reads.
type Mounted struct {
	// M is the mount, for its serving mode and passthrough error.
	M   *fs.Mounted
	src source.Source
}

// MountKind opens a source of kind at path and mounts its artifact tree at
// mp (created if missing): one container's mount, as the shim makes it.
func MountKind(ctx context.Context, kind, path, mp string, passthrough bool) (*Mounted, error) {
	return Mount(ctx, mp, func() (source.Source, error) { return Open(kind, path) }, fs.Options{Passthrough: passthrough})
}

// Mount opens a source with open and mounts the tree of artifacttree.Paths at
// mp (created if missing), in this process, as the shim does.
func Mount(ctx context.Context, mp string, open func() (source.Source, error), opts fs.Options) (*Mounted, error) {
	if err := os.MkdirAll(mp, 0o755); err != nil {
		return nil, err
	}
	src, err := open()
	if err != nil {
		return nil, fmt.Errorf("open source for %s: %w", mp, err)
	}
	root, err := fs.New(src, artifacttree.Paths)
	if err != nil {
		src.Close()
		return nil, fmt.Errorf("tree of %s: %w", src, err)
	}
	m, err := fs.Mount(ctx, mp, root, opts)
	if err != nil {
		src.Close()
		return nil, err
	}
	return &Mounted{M: m, src: src}, nil
}

// Close unmounts the tree, waits for its server to stop and closes the
// source.
func (b *Mounted) Close() error {
	err := b.M.Unmount()
	b.M.Wait()
	if cerr := b.src.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("close source: %w", cerr))
	}
	return err
}

// Under lists the artifactfs mounts at or below dir.
func Under(dir string) ([]string, error) {
	canon, err := mounttable.Canonical(dir)
	if err != nil {
		return nil, err
	}
	all, err := mounttable.Under(canon)
	if err != nil {
		return nil, err
	}
	var mps []string
	for _, e := range all {
		if e.FSType == fs.FSType {
			mps = append(mps, e.Mountpoint)
		}
	}
	return mps, nil
}
