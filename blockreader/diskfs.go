package blockreader

import (
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"

	"github.com/diskfs/go-diskfs/backend"
	"github.com/diskfs/go-diskfs/filesystem/ext4"
)

// readOnlyStorage is the go-diskfs backend over the image: reads only, no
// writable handle, no *os.File for ioctls. go-diskfs's ext4.Read needs
// nothing else.
type readOnlyStorage struct {
	r    io.ReaderAt
	size int64
	name string
}

var _ backend.Storage = readOnlyStorage{}

var errNoStream = errors.New("blockreader storage is read with ReadAt only")

func (s readOnlyStorage) ReadAt(p []byte, off int64) (int, error) { return s.r.ReadAt(p, off) }
func (s readOnlyStorage) Stat() (iofs.FileInfo, error)            { return nil, errNoStream }
func (s readOnlyStorage) Read([]byte) (int, error)                { return 0, errNoStream }
func (s readOnlyStorage) Seek(int64, int) (int64, error)          { return 0, errNoStream }
func (s readOnlyStorage) Close() error                            { return nil }
func (s readOnlyStorage) Path() string                            { return s.name }
func (s readOnlyStorage) Sys() (*os.File, error)                  { return nil, backend.ErrNotSuitable }
func (s readOnlyStorage) Writable() (backend.WritableFile, error) {
	return nil, backend.ErrIncorrectOpenMode
}

// diskfs runs fn, a call into go-diskfs, turning a panic into ErrCorrupt.
func diskfs(fn func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = corruptf("go-diskfs panic: %v", v)
		}
	}()
	if err := fn(); err != nil {
		return fmt.Errorf("%w: go-diskfs: %w", ErrCorrupt, err)
	}
	return nil
}

// openDiskfs has go-diskfs read the superblock and group descriptors (it
// checks both checksums). Called only after parseSuperblock accepted them.
func (im *Image) openDiskfs() error {
	return diskfs(func() error {
		fs, err := ext4.Read(readOnlyStorage{r: im.r, size: im.size, name: im.name}, im.size, 0, 512)
		im.dfs = fs
		return err
	})
}

// Bounds of the go-diskfs cross-check. go-diskfs reads every directory on
// the path whole into memory and allocates per entry and per extent tree
// block, again for every component that names it, so its cost is charged
// up front from what resolve read: a path over any bound is served on this
// package's checks alone. Ordinary artifact paths (a few small directories)
// stay far below them and are always cross-checked.
const (
	crossCheckDirs     = 32        // directories go-diskfs reads, repeats included
	crossCheckDirBytes = 256 << 10 // their bytes, repeats included
	crossCheckNodes    = 64        // extent tree blocks of those and of a final symlink
)

// crossCheckCost returns whether go-diskfs may stat r within the bounds:
// it reads the directories resolve walked last, r's inode and, for a
// symlink, its target.
func (rq *request) crossCheckCost(r resolved) bool {
	var bytes, nodes int64
	for _, d := range rq.onPath {
		bytes += int64(d.size)
		nodes += rq.nodes[d.num]
	}
	if r.in.isSymlink() {
		nodes += rq.nodes[r.in.num]
	}
	return len(rq.onPath) <= crossCheckDirs && bytes <= crossCheckDirBytes && nodes <= crossCheckNodes
}

// crossCheck has go-diskfs stat the resolved path r and compares inode
// number, file type, size and symlink target with what this package found.
// go-diskfs reads the directories on r.path and r's inode, all of which
// resolve has already checked, so it neither loops nor allocates by a size
// that was not bounded; crossCheckCost bounds its work. Skipped in raw
// (fuzzing) mode.
func (rq *request) crossCheck(r resolved) error {
	im := rq.im
	if im.dfs == nil {
		return nil
	}
	var target string
	if r.in.isSymlink() {
		t, err := rq.readlink(r.in)
		if err != nil {
			return err
		}
		target = t
	}
	if !rq.crossCheckCost(r) {
		return nil
	}
	rq.work.crossChecked = true
	im.mu.Lock()
	defer im.mu.Unlock()
	return diskfs(func() error {
		fi, err := im.dfs.Stat(r.path)
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*ext4.StatT)
		if !ok {
			return fmt.Errorf("stat %s: no inode details", r.path)
		}
		mode := r.in.fileMode()
		if st.Ino != r.in.num || fi.Mode().Type() != mode.Type() || fi.Size() != int64(r.in.size) || st.LinkTarget != target {
			return fmt.Errorf("%s: inode %d %v size %d target %q, blockreader read inode %d %v size %d target %q",
				r.path, st.Ino, fi.Mode().Type(), fi.Size(), st.LinkTarget, r.in.num, mode.Type(), r.in.size, target)
		}
		return nil
	})
}
