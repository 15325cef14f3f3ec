package blockreader

import (
	"bytes"
	"errors"
	"fmt"
	iofs "io/fs"
	"path"
	"strings"
	"syscall"

	"github.com/artifactfs/artifactfs/internal/imagepath"
)

// resolved is where a path led: the in-image path with every symlink
// replaced by its target, and the inode found there.
type resolved struct {
	path string
	in   *inode
}

// resolve resolves p in a request of its own (tests and fuzz seeds).
func (im *Image) resolve(p string, follow bool) (resolved, error) {
	return im.newRequest().resolve(p, follow)
}

// resolve walks the cleaned in-image path p from the root, one component
// at a time, following every symlink met on the way and, if follow is set,
// a final one. Targets are confined to the image root (imagepath.JoinTarget)
// and at most imagepath.MaxHops symlinks are followed. Every lookup is
// charged to the request, and what it reads is cached there: a path that
// names one directory a thousand times reads it once.
func (rq *request) resolve(p string, follow bool) (resolved, error) {
walk:
	for {
		comps := imagepath.Split(p)
		// Read the root afresh (once per request): a device mounted
		// elsewhere may change.
		cur, err := rq.inode(rootIno)
		if err != nil {
			return resolved{}, err
		}
		curPath := "/"
		rq.onPath = append(rq.onPath[:0], cur)
		for i, name := range comps {
			if !cur.isDir() {
				return resolved{}, syscall.ENOTDIR
			}
			ino, ftype, err := rq.lookup(cur, name)
			if err != nil {
				return resolved{}, err
			}
			in, err := rq.inode(ino)
			if err != nil {
				return resolved{}, err
			}
			childPath := path.Join(curPath, name)
			if direntTypes[ftype] != in.typ() {
				return resolved{}, corruptf("%s: directory entry type %d disagrees with inode %d mode %#o", childPath, ftype, ino, in.mode)
			}
			last := i == len(comps)-1
			if !in.isSymlink() || (last && !follow) {
				if !last {
					rq.onPath = append(rq.onPath, in)
				}
				cur, curPath = in, childPath
				continue
			}
			rq.work.hops++
			if rq.work.hops > imagepath.MaxHops {
				return resolved{}, fmt.Errorf("%w (more than %d)", ErrLoop, imagepath.MaxHops)
			}
			target, err := rq.readlink(in)
			if err != nil {
				return resolved{}, err
			}
			next := imagepath.JoinTarget(childPath, target)
			if !last {
				next += "/" + strings.Join(comps[i+1:], "/")
			}
			if p, err = imagepath.Clean(next); err != nil {
				return resolved{}, fmt.Errorf("%s -> %q: %w", childPath, target, err)
			}
			continue walk
		}
		return resolved{path: curPath, in: cur}, nil
	}
}

// readlink returns the target of symlink in, bounded by imagepath.MaxLen.
// Like go-diskfs, a target shorter than 60 bytes is read from i_block (a
// fast symlink), a longer one from its extents.
func (rq *request) readlink(in *inode) (string, error) {
	switch {
	case in.size == 0:
		return "", corruptf("inode %d: empty symlink", in.num)
	case in.size >= imagepath.MaxLen:
		return "", corruptf("inode %d: symlink target of %d bytes, over %d", in.num, in.size, imagepath.MaxLen-1)
	case in.size < uint64(len(in.iblock)):
		if in.flags&(inodeFlagExtents|inodeFlagInlineData) != 0 {
			return "", corruptf("inode %d: short symlink with a block map", in.num)
		}
		return checkTarget(in, in.iblock[:in.size])
	}
	ext, _, err := rq.extents(in)
	if err != nil {
		return "", err
	}
	b := make([]byte, in.size)
	f := rq.im.newFile(in, ext, "")
	if _, err := f.ReadAt(b, 0); err != nil {
		return "", fmt.Errorf("inode %d: read symlink target: %w", in.num, err)
	}
	return checkTarget(in, b)
}

func checkTarget(in *inode, b []byte) (string, error) {
	if bytes.IndexByte(b, 0) >= 0 {
		return "", corruptf("inode %d: symlink target contains a NUL byte", in.num)
	}
	return string(b), nil
}

// pathError wraps err for operation op on path p, marking lookups that
// found nothing with io/fs.ErrNotExist.
func pathError(op, p string, err error) error {
	if err == nil {
		return nil
	}
	var pe *iofs.PathError
	if errors.As(err, &pe) {
		return err
	}
	return &iofs.PathError{Op: op, Path: p, Err: err}
}
