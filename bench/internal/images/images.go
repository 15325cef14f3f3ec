package images

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/artifactfs/artifactfs/bench/internal/artifacttree"
	"github.com/artifactfs/artifactfs/bench/internal/host"
	"github.com/artifactfs/artifactfs/internal/testimage"
)

// uruncJSON names artifacttree.KernelPath as the unikernel binary (base64, as urunc wants).
const uruncJSON = `{"com.urunc.unikernel.binary":"Ly5ib290L2tlcm5lbA=="}`

// Image is one generated ext4 image.
type Image struct {
	Name       string // row label, e.g. "64 MiB" or "256 MiB fragmented"
	Path       string // the image file
	KernelSize int64  // bytes
	MkfsCmd    string // how it was made, for the report (ROOT and IMG placeholders)
}

// writeTree writes the kernel (deterministic pseudo-random content) and
// urunc.json under dir.
func writeTree(dir string, kernel []byte) error {
	k := filepath.Join(dir, artifacttree.KernelPath)
	if err := os.MkdirAll(filepath.Dir(k), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(k, kernel, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, artifacttree.ConfigPath), []byte(uruncJSON), 0o644)
}

// mkfs makes img of sizeMiB from the tree at src and returns the command
// line with ROOT and IMG for the paths.
func mkfs(src, img string, sizeMiB int, extra ...string) (string, error) {
	args := append([]string{"-q", "-F", "-t", "ext4", "-d", src}, extra...)
	args = append(args, img, fmt.Sprintf("%dM", sizeMiB))
	_, err := host.Run("mkfs.ext4", args...)
	cmd := strings.Join(args, " ")
	cmd = strings.ReplaceAll(strings.ReplaceAll(cmd, src, "ROOT"), img, "IMG")
	return "mkfs.ext4 " + cmd, err
}

// Contiguous makes, under work, an image whose kernel of sizeMiB is
// written by mkfs.ext4 -d, in as few extents as ext4 allows.
func Contiguous(work string, sizeMiB int) (*Image, error) {
	dir := filepath.Join(work, fmt.Sprintf("k%d", sizeMiB))
	root := filepath.Join(dir, "root")
	if err := writeTree(root, testimage.Payload(uint64(sizeMiB), sizeMiB<<20)); err != nil {
		return nil, err
	}
	img := filepath.Join(dir, "image.ext4")
	cmd, err := mkfs(root, img, 2*sizeMiB+64)
	if err != nil {
		return nil, err
	}
	// The tree is not needed any more; keep the disk small.
	if err := os.RemoveAll(root); err != nil {
		return nil, err
	}
	return &Image{Name: fmt.Sprintf("%d MiB", sizeMiB), Path: img, KernelSize: int64(sizeMiB) << 20, MkfsCmd: cmd}, nil
}

// Fragmented makes, under work, an image whose kernel of sizeMiB is spread
// over about pieces extents: the free space is filled with files of one
// piece each, every other one is deleted, and the kernel is written into
// the holes with an fsync per piece (defeating delayed allocation). It
// works through a read-write loop mount, like testimage.Fragmented.
func Fragmented(work string, sizeMiB, pieces int) (_ *Image, err error) {
	dir := filepath.Join(work, fmt.Sprintf("k%d-frag", sizeMiB))
	root := filepath.Join(dir, "root")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(root, artifacttree.ConfigPath), []byte(uruncJSON), 0o644); err != nil {
		return nil, err
	}
	img := filepath.Join(dir, "image.ext4")
	cmd, err := mkfs(root, img, 3*sizeMiB+32, "-b", "4096", "-E", "lazy_itable_init=0,lazy_journal_init=0,nodiscard")
	if err != nil {
		return nil, err
	}
	mnt := filepath.Join(dir, "mnt")
	if err := os.MkdirAll(mnt, 0o755); err != nil {
		return nil, err
	}
	if _, err := host.Run("mount", "-o", "loop", img, mnt); err != nil {
		return nil, err
	}
	defer func() {
		if _, uerr := host.Run("umount", mnt); uerr != nil && err == nil {
			err = uerr
		}
	}()
	data := testimage.Payload(uint64(sizeMiB)+1000, sizeMiB<<20)
	hole, err := testimage.FragmentInto(mnt, artifacttree.KernelPath, data, pieces)
	if err != nil {
		return nil, err
	}
	cmd += fmt.Sprintf("; then, loop-mounted, fill with %d KiB files, delete every other, write the kernel into the holes with an fsync per %d KiB", hole>>10, hole>>10)
	return &Image{Name: fmt.Sprintf("%d MiB fragmented", sizeMiB), Path: img, KernelSize: int64(sizeMiB) << 20, MkfsCmd: cmd}, nil
}

// Tree writes, under work, a host directory holding the same kernel (same
// content) and urunc.json as Contiguous(work, sizeMiB), for the directory
// source, and binds it onto itself read-only, as a snapshot view is
// mounted: FUSE passthrough serves only files that cannot change. The
// returned function unmounts it.
func Tree(work string, sizeMiB int) (string, func() error, error) {
	dir := filepath.Join(work, fmt.Sprintf("tree%d", sizeMiB))
	if err := writeTree(dir, testimage.Payload(uint64(sizeMiB), sizeMiB<<20)); err != nil {
		return "", nil, fmt.Errorf("write tree %s: %w", dir, err)
	}
	if err := unix.Mount(dir, dir, "", unix.MS_BIND, ""); err != nil {
		return "", nil, fmt.Errorf("bind %s: %w", dir, err)
	}
	unmount := func() error {
		if err := unix.Unmount(dir, 0); err != nil {
			return fmt.Errorf("unmount %s: %w", dir, err)
		}
		return nil
	}
	if err := unix.Mount("", dir, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, ""); err != nil {
		return "", nil, errors.Join(fmt.Errorf("remount %s read-only: %w", dir, err), unmount())
	}
	return dir, unmount, nil
}

// Extents returns how many extents the kernel has in the image mounted at
// mnt, as filefrag counts them, or -1.
func Extents(mnt string) int {
	out, err := host.Run("filefrag", filepath.Join(mnt, artifacttree.KernelPath))
	if err != nil {
		return -1
	}
	var n int
	if i := strings.LastIndex(out, ": "); i >= 0 {
		fmt.Sscanf(out[i+2:], "%d", &n)
	}
	return n
}
