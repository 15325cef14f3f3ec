package fs

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/rs/zerolog"

	"github.com/artifactfs/artifactfs/internal/imagepath"
	"github.com/artifactfs/artifactfs/internal/source"
)

// Root is the root directory of an artifact tree and the go-fuse root node.
// Its OnAdd builds the whole tree as persistent inodes; the tree never
// changes afterwards.
type Root struct {
	dirNode

	src source.Source
	// dirInfo holds the attributes of every directory of the tree, root
	// ("/") included, keyed by cleaned in-image path.
	dirInfo map[string]source.Info
	// fileInfo holds the attributes of every artifact, keyed likewise.
	fileInfo map[string]source.Info

	// files lists the file nodes OnAdd created, in path order.
	files []*fileNode

	// modeMu is held for writing by Mount from before the mount until the
	// serving mode is decided, so no file is opened in a mode that is
	// about to change; Open holds it for reading.
	modeMu sync.RWMutex
	// passthrough tells Open to hand the kernel the file descriptor.
	passthrough atomic.Bool

	// server serves the mount; pollOnce and polled (set once it ran,
	// sparing later opens the check of who calls) belong to pollHack.
	server   *fuse.Server
	pollOnce sync.Once
	polled   atomic.Bool

	mounted atomic.Bool
	log     zerolog.Logger
}

// New checks every artifact path against src and returns the root of a
// tree that holds exactly those files and their parent directories. Each
// path must name a regular file (the error wraps source.ErrNotRegular
// otherwise) and each of its parents a directory. Attributes are taken
// now; the content is opened only when a file is first opened.
func New(src source.Source, paths []string) (*Root, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("no artifact paths")
	}
	r := &Root{
		src:      src,
		dirInfo:  map[string]source.Info{},
		fileInfo: map[string]source.Info{},
		log:      zerolog.Nop(),
	}
	r.root = r
	for _, p := range paths {
		if err := r.addFile(p); err != nil {
			return nil, err
		}
	}
	if err := r.statDir("/"); err != nil {
		return nil, err
	}
	r.dirNode.info = r.dirInfo["/"]
	return r, nil
}

// addFile validates one artifact path and the directories above it.
func (r *Root) addFile(p string) error {
	clean, err := imagepath.Clean(p)
	if err != nil {
		return err
	}
	if _, ok := r.fileInfo[clean]; ok {
		return nil // the same file named twice, e.g. kernel and initrd
	}
	if _, ok := r.dirInfo[clean]; ok || clean == "/" {
		return fmt.Errorf("artifact %s in %s: %w (directory)", clean, r.src, source.ErrNotRegular)
	}
	info, err := r.src.Stat(clean)
	if err != nil {
		return fmt.Errorf("artifact %s: %w", clean, err)
	}
	if !info.Mode.IsRegular() {
		return fmt.Errorf("artifact %s in %s: %w (%s)", clean, r.src, source.ErrNotRegular, source.TypeName(info.Mode))
	}
	names := imagepath.Split(clean)
	dir := ""
	for _, name := range names[:len(names)-1] {
		dir += "/" + name
		if _, ok := r.fileInfo[dir]; ok {
			return fmt.Errorf("artifact %s: parent %s is an artifact, not a directory", clean, dir)
		}
		if err := r.statDir(dir); err != nil {
			return fmt.Errorf("artifact %s: %w", clean, err)
		}
	}
	r.fileInfo[clean] = info
	return nil
}

// statDir records the attributes of directory dir, once.
func (r *Root) statDir(dir string) error {
	if _, ok := r.dirInfo[dir]; ok {
		return nil
	}
	info, err := r.src.Stat(dir)
	if err != nil {
		return fmt.Errorf("directory %s: %w", dir, err)
	}
	if !info.Mode.IsDir() {
		return fmt.Errorf("%s in %s is not a directory (%s)", dir, r.src, source.TypeName(info.Mode))
	}
	r.dirInfo[dir] = info
	return nil
}

// Paths returns the cleaned in-image paths of the artifacts, sorted.
func (r *Root) Paths() []string {
	out := make([]string, 0, len(r.fileInfo))
	for p := range r.fileInfo {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// Source returns the source the tree reads from.
func (r *Root) Source() source.Source { return r.src }

// OnAdd builds the tree as persistent inodes when go-fuse attaches the root.
func (r *Root) OnAdd(ctx context.Context) {
	for _, p := range r.Paths() {
		parent := &r.dirNode
		names := imagepath.Split(p)
		dir := ""
		for _, name := range names[:len(names)-1] {
			dir += "/" + name
			child := parent.GetChild(name)
			if child == nil {
				d := &dirNode{root: r, info: r.dirInfo[dir]}
				child = parent.NewPersistentInode(ctx, d, fusefs.StableAttr{Mode: syscall.S_IFDIR})
				parent.AddChild(name, child, false)
				parent.subdirs++
			}
			parent = child.Operations().(*dirNode)
		}
		f := &fileNode{root: r, path: p, info: r.fileInfo[p]}
		parent.AddChild(names[len(names)-1],
			parent.NewPersistentInode(ctx, f, fusefs.StableAttr{Mode: syscall.S_IFREG}), false)
		r.files = append(r.files, f)
	}
}

// closeFiles closes the source files the nodes opened; it runs once the
// server has stopped.
func (r *Root) closeFiles() error {
	var first error
	for _, f := range r.files {
		if err := f.close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
