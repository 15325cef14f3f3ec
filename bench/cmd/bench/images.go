package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/artifactfs/artifactfs/internal/testimage"
)

// kernelPath is the in-image path of the kernel every image holds.
const kernelPath = "/.boot/kernel"

// uruncJSON names kernelPath as the unikernel binary (base64, as urunc wants).
const uruncJSON = `{"com.urunc.unikernel.binary":"Ly5ib290L2tlcm5lbA=="}`

// benchImage is one generated ext4 image.
type benchImage struct {
	name       string // row label, e.g. "64 MiB" or "256 MiB fragmented"
	path       string
	kernelSize int64
	mkfsCmd    string // how it was made, for the report
}

// run runs a command and returns its combined output, wrapping any error
// with the command line and output.
func run(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// writeTree writes the kernel (deterministic pseudo-random content) and
// urunc.json under dir.
func writeTree(dir string, kernel []byte) error {
	if err := os.MkdirAll(filepath.Join(dir, ".boot"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, ".boot", "kernel"), kernel, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "urunc.json"), []byte(uruncJSON), 0o644)
}

// mkfs makes img of sizeMiB from the tree at src.
func mkfs(src, img string, sizeMiB int, extra ...string) (string, error) {
	args := append([]string{"-q", "-F", "-t", "ext4", "-d", src}, extra...)
	args = append(args, img, fmt.Sprintf("%dM", sizeMiB))
	_, err := run("mkfs.ext4", args...)
	cmd := strings.Join(args, " ")
	cmd = strings.ReplaceAll(strings.ReplaceAll(cmd, src, "ROOT"), img, "IMG")
	return "mkfs.ext4 " + cmd, err
}

// contiguousImage makes an image whose kernel of sizeMiB is written by
// mkfs.ext4 -d, in as few extents as ext4 allows.
func contiguousImage(work string, sizeMiB int) (*benchImage, error) {
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
	return &benchImage{name: fmt.Sprintf("%d MiB", sizeMiB), path: img, kernelSize: int64(sizeMiB) << 20, mkfsCmd: cmd}, nil
}

// fragmentedImage makes an image whose kernel of sizeMiB is spread over
// about `pieces` extents: the free space is filled with files of one piece
// each, every other one is deleted, and the kernel is written into the
// holes with an fsync per piece (defeating delayed allocation). It works
// through a read-write loop mount, like internal/testimage.Fragmented.
func fragmentedImage(work string, sizeMiB, pieces int) (_ *benchImage, err error) {
	dir := filepath.Join(work, fmt.Sprintf("k%d-frag", sizeMiB))
	root := filepath.Join(dir, "root")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(root, "urunc.json"), []byte(uruncJSON), 0o644); err != nil {
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
	if _, err := run("mount", "-o", "loop", img, mnt); err != nil {
		return nil, err
	}
	defer func() {
		if _, uerr := run("umount", mnt); uerr != nil && err == nil {
			err = uerr
		}
	}()
	data := testimage.Payload(uint64(sizeMiB)+1000, sizeMiB<<20)
	hole, err := testimage.FragmentInto(mnt, kernelPath, data, pieces)
	if err != nil {
		return nil, err
	}
	cmd += fmt.Sprintf("; then, loop-mounted, fill with %d KiB files, delete every other, write the kernel into the holes with an fsync per %d KiB", hole>>10, hole>>10)
	return &benchImage{name: fmt.Sprintf("%d MiB fragmented", sizeMiB), path: img, kernelSize: int64(sizeMiB) << 20, mkfsCmd: cmd}, nil
}

// extents returns how many extents the kernel has in the image mounted at
// mnt, as filefrag counts them, or -1.
func extents(mnt string) int {
	out, err := run("filefrag", filepath.Join(mnt, kernelPath))
	if err != nil {
		return -1
	}
	var n int
	if i := strings.LastIndex(out, ": "); i >= 0 {
		fmt.Sscanf(out[i+2:], "%d", &n)
	}
	return n
}
