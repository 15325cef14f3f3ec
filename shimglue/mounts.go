package shimglue

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/artifactfs/artifactfs/internal/mountinfo"
)

// maxUnmountRounds bounds how often unmountTree re-reads the mount table
// for mounts stacked on the same path.
const maxUnmountRounds = 8

// mountsUnder returns the mount points at p or below it, deepest first.
// It reads the mount table only, so it works on a stale FUSE mount whose
// stat fails.
func mountsUnder(p string) ([]string, error) {
	infos, err := mountinfo.Under(p)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var mps []string
	for _, m := range infos {
		if !seen[m.Mountpoint] {
			seen[m.Mountpoint] = true
			mps = append(mps, m.Mountpoint)
		}
	}
	sort.Slice(mps, func(i, j int) bool { return len(mps[i]) > len(mps[j]) })
	return mps, nil
}

// unmountTree unmounts everything mounted at p or below it, deepest first:
// FUSE mounts (live or stale, whose server is gone), bind mounts, the
// view's mounts. A busy mount is detached (MNT_DETACH): the path is free at
// once and the kernel lets go when the last user does. It reports whether
// anything had to be detached.
func unmountTree(p string) (detached bool, err error) {
	for round := 0; round < maxUnmountRounds; round++ {
		mps, err := mountsUnder(p)
		if err != nil {
			return detached, err
		}
		if len(mps) == 0 {
			return detached, nil
		}
		for _, mp := range mps {
			d, err := unmountOne(mp)
			detached = detached || d
			if err != nil {
				return detached, err
			}
		}
	}
	return detached, fmt.Errorf("unmount %s: mounts remain after %d rounds", p, maxUnmountRounds)
}

// unmountOne unmounts the topmost mount at mp, detaching it when busy.
func unmountOne(mp string) (detached bool, err error) {
	err = unix.Unmount(mp, unix.UMOUNT_NOFOLLOW)
	if errors.Is(err, unix.EBUSY) {
		err = unix.Unmount(mp, unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW)
		detached = err == nil
	}
	switch {
	case err == nil, errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOENT):
		// EINVAL: not a mount point (any more).
		return detached, nil
	default:
		return detached, fmt.Errorf("unmount %s: %w", mp, err)
	}
}

// removeTree removes the directory p and what it holds, once nothing is
// mounted at or below it: a copy-mode dir holds files, a bind-mode dir the
// empty files and dirs the binds were mounted on. A missing p is fine.
func removeTree(p string) error {
	mps, err := mountsUnder(p)
	if err != nil {
		return err
	}
	if len(mps) > 0 {
		return fmt.Errorf("remove %s: still mounted at %s", p, mps[0])
	}
	if err := os.RemoveAll(p); err != nil {
		return fmt.Errorf("remove %s: %w", p, err)
	}
	return nil
}

// bindReadOnly mounts the file open as src onto the file open as dst,
// read-only, nosuid and nodev. With the new mount API (Linux 5.12) the
// mount is read-only before it is attached anywhere; without it, it falls
// back to a bind mount and a read-only remount of dstPath. Both files are
// given as descriptors, so no symlink can redirect either end.
func bindReadOnly(src, dst int, dstPath string) error {
	err := bindReadOnlyAtomic(src, dst)
	if !errors.Is(err, unix.ENOSYS) {
		return err
	}
	if err := unix.Mount(fdPath(src), fdPath(dst), "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind %s: %w", dstPath, err)
	}
	const ro = unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV
	if err := unix.Mount("", dstPath, "", ro, ""); err != nil {
		_ = unix.Unmount(dstPath, unix.MNT_DETACH)
		return fmt.Errorf("remount %s read-only: %w", dstPath, err)
	}
	return nil
}

func bindReadOnlyAtomic(src, dst int) error {
	tree, err := unix.OpenTree(src, "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH)
	if err != nil {
		return fmt.Errorf("open_tree: %w", err)
	}
	defer unix.Close(tree)
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV}
	if err := unix.MountSetattr(tree, "", unix.AT_EMPTY_PATH, &attr); err != nil {
		return fmt.Errorf("mount_setattr: %w", err)
	}
	if err := unix.MoveMount(tree, "", dst, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		return fmt.Errorf("move_mount: %w", err)
	}
	return nil
}

func fdPath(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// createTarget creates the regular file at rel (a cleaned in-image path)
// under the directory open as rootFd, with its parent directories, without
// following any symlink, and returns it open with O_PATH. An existing
// regular file (a retry) is reused; anything else is refused.
func createTarget(rootFd int, rel string) (int, error) {
	names := strings.Split(strings.Trim(rel, "/"), "/")
	dir, err := unix.Dup(rootFd)
	if err != nil {
		return -1, err
	}
	for _, name := range names[:len(names)-1] {
		if err := unix.Mkdirat(dir, name, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
			unix.Close(dir)
			return -1, fmt.Errorf("mkdir %s: %w", name, err)
		}
		next, err := unix.Openat(dir, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		unix.Close(dir)
		if err != nil {
			return -1, fmt.Errorf("open dir %s: %w", name, err)
		}
		dir = next
	}
	defer unix.Close(dir)
	last := names[len(names)-1]
	const pathFlags = unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC
	fd, err := unix.Openat(dir, last, pathFlags, 0)
	if errors.Is(err, unix.ENOENT) {
		c, cerr := unix.Openat(dir, last, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o444)
		if cerr != nil && !errors.Is(cerr, unix.EEXIST) {
			return -1, fmt.Errorf("create %s: %w", last, cerr)
		}
		if cerr == nil {
			unix.Close(c)
		}
		fd, err = unix.Openat(dir, last, pathFlags, 0)
	}
	if err != nil {
		return -1, fmt.Errorf("open %s: %w", last, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return -1, fmt.Errorf("target %s: not a regular file", last)
	}
	return fd, nil
}

// openInRoot opens the regular file at rel under the directory open as
// rootFd with O_PATH, resolving symlinks as if that directory were "/".
func openInRoot(rootFd int, rel string) (int, error) {
	how := unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	for {
		fd, err := unix.Openat2(rootFd, strings.TrimPrefix(rel, "/"), &how)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return -1, &os.PathError{Op: "open", Path: rel, Err: err}
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return -1, &os.PathError{Op: "stat", Path: rel, Err: err}
		}
		if st.Mode&unix.S_IFMT != unix.S_IFREG {
			unix.Close(fd)
			return -1, fmt.Errorf("%s: not a regular file", rel)
		}
		return fd, nil
	}
}
