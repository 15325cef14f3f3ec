package shimglue

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/artifactfs/artifactfs/artifactbind"
	"github.com/artifactfs/artifactfs/internal/artifact"
	"github.com/artifactfs/artifactfs/internal/layout"
)

// In bind and copy modes the per-container path is, as in the FUSE modes,
// a read-only mount point showing exactly the artifacts: a small tmpfs
// (the stage) is mounted on it, the artifacts are bound or copied into it,
// and it is then remounted read-only. Nothing can be created beside them,
// and teardown unmounts it with the rest.
const (
	// stageSlack is what a stage holds beyond the artifacts' bytes: its
	// directories, the rounding of each file to pages.
	stageSlack = 1 << 20
	// stageInodes bounds the files and directories of a stage.
	stageInodes = 256
)

// stageFlags are the flags of a stage, before and after it is sealed.
const stageFlags = unix.MS_NOSUID | unix.MS_NODEV

// mountStage mounts a writable stage at path for mode, big enough for set's
// artifacts when copy is true (binds take no room).
func mountStage(path string, mode artifactbind.Mode, set artifact.Set, copy bool) error {
	size := int64(stageSlack)
	if copy {
		for _, a := range set.Artifacts {
			size += a.Info.Size
		}
	}
	opts := fmt.Sprintf("mode=0755,size=%d,nr_inodes=%d", size, stageInodes)
	if err := unix.Mount(layout.FSName(mode), path, "tmpfs", stageFlags, opts); err != nil {
		return fmt.Errorf("mount the stage at %s: %w", path, err)
	}
	return nil
}

// sealStage remounts the stage at path read-only (its superblock, so every
// copy of the mount is read-only too) and checks that it is.
func sealStage(path string) error {
	if err := unix.Mount("", path, "", unix.MS_REMOUNT|unix.MS_RDONLY|stageFlags, ""); err != nil {
		return fmt.Errorf("remount the stage at %s read-only: %w", path, err)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return fmt.Errorf("stage at %s: %w", path, err)
	}
	if st.Flags&unix.ST_RDONLY == 0 || st.Type != unix.TMPFS_MAGIC {
		return fmt.Errorf("stage at %s: not a read-only tmpfs after the remount (flags %#x)", path, st.Flags)
	}
	return nil
}
