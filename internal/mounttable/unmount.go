package mounttable

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// maxUnmountRounds bounds how often UnmountTree re-reads the mount table
// for mounts stacked on the same path.
const maxUnmountRounds = 8

// UnmountTree unmounts everything mounted at p or below it, deepest first:
// FUSE mounts (live or stale, whose server is gone), bind mounts, tmpfs
// stages, a view's mounts. It reads the mount table only, so it works on
// a stale FUSE mount whose stat fails. A busy mount is detached
// (MNT_DETACH): the path is free at once and the kernel lets go when the
// last user does. It reports whether anything had to be detached.
func UnmountTree(p string) (detached bool, err error) {
	for round := 0; round < maxUnmountRounds; round++ {
		mps, err := Mountpoints(p)
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
