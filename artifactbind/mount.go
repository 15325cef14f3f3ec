package artifactbind

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// roFlags are the per-mount flags every bind gets.
const roFlags = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV

// bindReadOnly mounts the file open as src onto name in the directory open
// as dir, read-only, nosuid and nodev, and returns the new mount's root
// open with O_PATH (to check it, and to undo the bind).
//
// With the new mount API (Linux 5.12: open_tree, mount_setattr,
// move_mount) the mount is read-only before it is attached anywhere.
// Without it, it falls back to a bind mount and a read-only remount: a bind
// mount ignores MS_RDONLY, so the remount is what makes it read-only. Every
// path handed to the kernel is a descriptor or a name in an open
// directory, so no symlink can redirect either end.
func bindReadOnly(src, dir int, name string) (int, error) {
	err := bindReadOnlyAtomic(src, dir, name)
	if errors.Is(err, unix.ENOSYS) {
		err = bindThenRemount(src, dir, name)
	}
	if err != nil {
		return -1, err
	}
	mnt, err := unix.Openat(dir, name, pathFlags, 0)
	if err != nil {
		return -1, fmt.Errorf("open bound %s: %w", name, err)
	}
	if err := checkReadOnly(mnt); err != nil {
		_ = unix.Unmount(fdPath(mnt), unix.MNT_DETACH)
		unix.Close(mnt)
		return -1, fmt.Errorf("bound %s: %w", name, err)
	}
	return mnt, nil
}

func bindReadOnlyAtomic(src, dir int, name string) error {
	tree, err := unix.OpenTree(src, "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH)
	if err != nil {
		return fmt.Errorf("open_tree: %w", err)
	}
	defer unix.Close(tree)
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV}
	if err := unix.MountSetattr(tree, "", unix.AT_EMPTY_PATH, &attr); err != nil {
		return fmt.Errorf("mount_setattr: %w", err)
	}
	dst, err := unix.Openat(dir, name, pathFlags, 0)
	if err != nil {
		return fmt.Errorf("open target %s: %w", name, err)
	}
	defer unix.Close(dst)
	if err := requireType(dst, unix.S_IFREG); err != nil {
		return fmt.Errorf("target %s: %w", name, err)
	}
	if err := unix.MoveMount(tree, "", dst, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		return fmt.Errorf("move_mount: %w", err)
	}
	return nil
}

// bindThenRemount is the fallback for kernels without the new mount API.
func bindThenRemount(src, dir int, name string) error {
	dst, err := unix.Openat(dir, name, pathFlags, 0)
	if err != nil {
		return fmt.Errorf("open target %s: %w", name, err)
	}
	err = requireType(dst, unix.S_IFREG)
	if err == nil {
		err = unix.Mount(fdPath(src), fdPath(dst), "", unix.MS_BIND, "")
	}
	unix.Close(dst)
	if err != nil {
		return fmt.Errorf("bind %s: %w", name, err)
	}
	// Looked up again, the name now leads to the bind's root.
	mnt, err := unix.Openat(dir, name, pathFlags, 0)
	if err != nil {
		return fmt.Errorf("open bound %s: %w", name, err)
	}
	defer unix.Close(mnt)
	if err := unix.Mount("", fdPath(mnt), "", unix.MS_REMOUNT|unix.MS_BIND|roFlags, ""); err != nil {
		_ = unix.Unmount(fdPath(mnt), unix.MNT_DETACH)
		return fmt.Errorf("remount %s read-only: %w", name, err)
	}
	return nil
}

// checkReadOnly checks that the mount of the file open as fd is read-only,
// nosuid and nodev.
func checkReadOnly(fd int) error {
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err != nil {
		return fmt.Errorf("statfs: %w", err)
	}
	const want = unix.ST_RDONLY | unix.ST_NOSUID | unix.ST_NODEV
	if st.Flags&want != want {
		return fmt.Errorf("mount flags %#x lack read-only, nosuid or nodev", st.Flags)
	}
	return nil
}
