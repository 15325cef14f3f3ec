package extract

import (
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/artifactfs/artifactfs/internal/artifact"
	"github.com/artifactfs/artifactfs/internal/imagepath"
	"github.com/artifactfs/artifactfs/internal/mounttable"
	"github.com/artifactfs/artifactfs/internal/source"
)

// ErrSymlink is wrapped by the error Extract returns when a component of
// DIR's path, DIR itself, or a directory on the way to an artifact inside
// DIR is a symlink: DIR may belong to another user, who must not redirect
// root's writes elsewhere.
var ErrSymlink = errors.New("symlink (refused: extract never follows a symlink in DIR or on the way to it)")

// beneath confines every lookup to the directory descriptor it starts from
// and refuses every symlink on the way.
const beneath = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS

// noSymlinks refuses every symlink on the way, from wherever the path
// starts (the working directory, or /).
const noSymlinks = unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS

// DirPerm is the mode of a DIR that Extract makes: urunc.json may carry
// secrets in its command line.
const DirPerm = 0o700

// Progress is called after each artifact is written.
type Progress func(a artifact.Artifact, dst string)

// Extract writes every artifact of set, read from src, under dir at its
// in-image path. Files get the image's permission bits without write and
// set-id bits. An existing file is replaced only when overwrite is true.
//
// dir is made (mode DirPerm) when it does not exist; its parent must.
// No symlink is followed anywhere: dir's path is resolved with symlinks
// refused (RESOLVE_NO_SYMLINKS: a symlink in it is an error wrapping
// ErrSymlink), dir is made with mkdirat beneath its parent's descriptor
// and opened beneath it, and below dir see ExtractAt. On error, files
// already written into an existing dir stay, the one being written is
// removed; a dir that Extract made is removed with everything in it.
func Extract(src source.Source, set artifact.Set, dir string, overwrite bool, progress Progress) (err error) {
	fd, made, err := openOrMake(dir)
	if err != nil {
		return fmt.Errorf("extract: %w", err)
	}
	defer unix.Close(fd)
	if made != nil {
		defer func() {
			if err != nil {
				made()
			}
		}()
	}
	return ExtractAt(src, set, fd, dir, overwrite, progress)
}

// ExtractAt is Extract into the directory open as root, which exists and
// is named dir in messages and progress. Below it nothing is followed:
// every directory is created and opened relative to its parent's
// descriptor without following symlinks (a symlink on the way is an error
// wrapping ErrSymlink), and the temp file, its fsync, the rename and the
// directory fsync all act on descriptors, so a symlink planted or swapped
// in by whoever owns dir cannot make the writes land outside it. A symlink
// at an artifact's own name is replaced, never written through.
func ExtractAt(src source.Source, set artifact.Set, root int, dir string, overwrite bool, progress Progress) error {
	for _, a := range set.Artifacts {
		dst := filepath.Join(dir, filepath.FromSlash(a.Path))
		if err := extractOne(src, a, root, dir, overwrite); err != nil {
			return fmt.Errorf("extract %s %s: %w", a.Kind, a.Path, err)
		}
		if progress != nil {
			progress(a, dst)
		}
	}
	return nil
}

// openOrMake opens dir, making it (mode DirPerm) beneath its parent when
// it does not exist, with no symlink followed on the whole path. For a dir
// it made, remove removes it and everything in it (not across a mount).
func openOrMake(dir string) (fd int, remove func(), err error) {
	clean := filepath.Clean(dir)
	parent, base := filepath.Dir(clean), filepath.Base(clean)
	if base == "/" || base == "." || base == ".." {
		// Nothing to make: the working directory, /, or above.
		fd, err := openat2(unix.AT_FDCWD, clean, unix.O_DIRECTORY|unix.O_RDONLY, noSymlinks)
		return fd, nil, pathErr(dir, err)
	}
	pfd, err := openat2(unix.AT_FDCWD, parent, unix.O_DIRECTORY|unix.O_RDONLY, noSymlinks)
	if errors.Is(err, unix.ENOENT) {
		return -1, nil, missingParent{dir: dir, parent: parent}
	}
	if err != nil {
		return -1, nil, pathErr(parent, err)
	}
	defer unix.Close(pfd)
	made := false
	if err := unix.Mkdirat(pfd, base, DirPerm); err == nil {
		made = true
	} else if !errors.Is(err, unix.EEXIST) {
		return -1, nil, fmt.Errorf("mkdir %s: %w", dir, err)
	}
	fd, err = openat2(pfd, base, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_NOFOLLOW, beneath)
	if errors.Is(err, unix.ENOTDIR) && isSymlinkAt(pfd, base) {
		err = unix.ELOOP // O_NOFOLLOW|O_DIRECTORY on a symlink
	}
	if err != nil {
		return -1, nil, pathErr(dir, err)
	}
	if !made {
		return fd, nil, nil
	}
	keep, err := unix.Dup(pfd)
	if err != nil {
		unix.Close(fd)
		_ = unix.Unlinkat(pfd, base, unix.AT_REMOVEDIR)
		return -1, nil, fmt.Errorf("mkdir %s: %w", dir, err)
	}
	return fd, func() {
		_ = mounttable.RemoveAt(keep, base)
		unix.Close(keep)
	}, nil
}

// missingParent is the error for a dir whose parent does not exist; it
// is an fs.ErrNotExist.
type missingParent struct{ dir, parent string }

func (e missingParent) Error() string {
	return fmt.Sprintf("make %s: its parent %s does not exist (extract makes DIR, not its parents)", e.dir, e.parent)
}

func (e missingParent) Is(target error) bool { return target == iofs.ErrNotExist }

// pathErr names path once in an error from opening it.
func pathErr(path string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.ELOOP), errors.Is(err, unix.EXDEV):
		return fmt.Errorf("%s: it or a directory on its path is a %w; give its real path (realpath)", path, ErrSymlink)
	}
	return &os.PathError{Op: "open", Path: path, Err: err}
}

// extractOne writes one artifact beneath the directory descriptor root.
func extractOne(src source.Source, a artifact.Artifact, root int, dir string, overwrite bool) error {
	clean, err := imagepath.Clean(a.Path)
	if err != nil {
		return err
	}
	names := imagepath.Split(clean)
	parent, err := mkdirBeneath(root, dir, names[:len(names)-1])
	if err != nil {
		return err
	}
	defer unix.Close(parent)
	base := names[len(names)-1]
	if !overwrite {
		var st unix.Stat_t
		if err := unix.Fstatat(parent, base, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil {
			return fmt.Errorf("%s exists (use --force to replace it)", filepath.Join(dir, filepath.FromSlash(clean)))
		}
	}
	return copyFile(src, a, parent, base)
}

// mkdirBeneath creates (mode 0755) and opens the directories names below
// root, one component at a time, never following a symlink, and returns a
// descriptor of the last one (of root itself for none).
func mkdirBeneath(root int, dir string, names []string) (int, error) {
	fd, err := unix.Dup(root)
	if err != nil {
		return -1, err
	}
	where := dir
	for _, name := range names {
		where = filepath.Join(where, name)
		if err := unix.Mkdirat(fd, name, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
			unix.Close(fd)
			return -1, fmt.Errorf("mkdir %s: %w", where, err)
		}
		next, err := openat2(fd, name, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_NOFOLLOW, beneath)
		if errors.Is(err, unix.ENOTDIR) && isSymlinkAt(fd, name) {
			err = unix.ELOOP
		}
		unix.Close(fd)
		switch {
		case errors.Is(err, unix.ELOOP), errors.Is(err, unix.EXDEV):
			return -1, fmt.Errorf("%s is a %w", where, ErrSymlink)
		case err != nil:
			return -1, fmt.Errorf("open %s: %w", where, err)
		}
		fd = next
	}
	return fd, nil
}

// isSymlinkAt reports whether name in the directory dirfd is a symlink.
func isSymlinkAt(dirfd int, name string) bool {
	var st unix.Stat_t
	return unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK
}

// openat2 opens name under dirfd, resolved by resolve (beneath, or
// noSymlinks), retrying when a concurrent rename makes the kernel ask for
// it.
func openat2(dirfd int, name string, flags int, resolve uint64) (int, error) {
	how := unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC), Resolve: resolve}
	for {
		fd, err := unix.Openat2(dirfd, name, &how)
		if errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) {
			continue
		}
		return fd, err
	}
}

// copyFile writes the artifact to a new temp file in the directory parent,
// fsyncs it, renames it over base and fsyncs the directory.
func copyFile(src source.Source, a artifact.Artifact, parent int, base string) (err error) {
	in, err := src.Open(a.Path)
	if err != nil {
		return err
	}
	defer in.Close()
	tmpName, tmp, err := createTemp(parent, base)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			_ = unix.Unlinkat(parent, tmpName, 0)
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
	mtime := unix.NsecToTimespec(a.Info.ModTime.UnixNano())
	if err := unix.UtimesNanoAt(int(tmp.Fd()), "", []unix.Timespec{mtime, mtime}, unix.AT_EMPTY_PATH); err != nil {
		return fmt.Errorf("set mtime: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := unix.Renameat(parent, tmpName, parent, base); err != nil {
		return fmt.Errorf("rename %s to %s: %w", tmpName, base, err)
	}
	if err := unix.Fsync(parent); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("sync directory: %w", err)
	}
	return nil
}

// createTemp creates a new file named after base in the directory parent,
// exclusively and without following a symlink.
func createTemp(parent int, base string) (string, *os.File, error) {
	prefix := "." + strings.TrimPrefix(base, ".") + ".tmp-"
	for try := 0; ; try++ {
		name := fmt.Sprintf("%s%d-%d", prefix, os.Getpid(), time.Now().UnixNano()+int64(try))
		fd, err := openat2(parent, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW, beneath)
		if errors.Is(err, unix.EEXIST) && try < 100 {
			continue
		}
		if err != nil {
			return "", nil, fmt.Errorf("create temp file for %s: %w", base, err)
		}
		return name, os.NewFile(uintptr(fd), name), nil
	}
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
