package ctrd

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/containerd/containerd/v2/core/mount"

	"github.com/artifactfs/artifactfs/bench/internal/host"
	"github.com/artifactfs/artifactfs/internal/ctrtest"
	"github.com/artifactfs/artifactfs/tests/harness"
)

// RootfsMounts returns how to mount k's rootfs block file for the copy
// path: blockfile's mounts made read-only and without loading the journal
// (the shim holds the same file mounted read-write meanwhile, through
// another loop device).
func (c *Env) RootfsMounts(ctx context.Context, k *harness.Task) ([]mount.Mount, error) {
	ms, err := c.H.D.Client().SnapshotService(Snapshotter).Mounts(c.H.D.Context(ctx), k.ID+"-rootfs")
	if err != nil {
		return nil, fmt.Errorf("rootfs mounts of %s: %w", k.ID, err)
	}
	for i := range ms {
		ms[i].Options = append(slices.DeleteFunc(slices.Clone(ms[i].Options), func(o string) bool { return o == "rw" }), "ro", "noload")
	}
	return ms, nil
}

// CopyArtifacts is urunc's copy path for container k, whose rootfs mounts
// (RootfsMounts) are ms: mount them at mnt (a new loop device), copy
// kernel, initrd and urunc.json to dst (on tmpfs), unmount. It returns the
// time from mount to unmount; the caller removes dst.
func CopyArtifacts(k *harness.Task, ms []mount.Mount, mnt, dst string) (time.Duration, error) {
	if err := os.MkdirAll(mnt, 0o755); err != nil {
		return 0, err
	}
	start := time.Now()
	if err := mount.All(ms, mnt); err != nil {
		return 0, fmt.Errorf("mount the rootfs of %s: %w", k.ID, err)
	}
	cerr := CopyFiles(mnt, dst)
	uerr := mount.UnmountAll(mnt, 0)
	d := time.Since(start)
	if err := errors.Join(cerr, uerr); err != nil {
		return 0, fmt.Errorf("copy path of %s: %w", k.ID, err)
	}
	return d, nil
}

// CopyFiles copies kernel, initrd and urunc.json from the image root src
// to dst: the copy itself, from a rootfs already mounted.
func CopyFiles(src, dst string) error {
	for _, p := range []string{ctrtest.SampleKernelPath, ctrtest.SampleInitrdPath, ctrtest.SampleConfigPath} {
		if err := copyFile(filepath.Join(src, p), filepath.Join(dst, p)); err != nil {
			return err
		}
	}
	return nil
}

// copyFile copies the file src to dst, making dst's parents.
func copyFile(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// CopyDir is where the copy path puts its copies: a directory on /dev/shm
// (tmpfs, as urunc's /run is on a real host).
func CopyDir() string {
	return filepath.Join("/dev/shm", fmt.Sprintf("artifactfs-bench-%d", os.Getpid()))
}

// ReadArtifacts reads kernel and initrd under dir (the per-container path
// or the copies) with buf-sized reads and checks their sizes.
func (c *Env) ReadArtifacts(dir string, buf []byte) error {
	if err := host.ReadSize(filepath.Join(dir, ctrtest.SampleKernelPath), buf, c.KernelSize); err != nil {
		return err
	}
	return host.ReadSize(filepath.Join(dir, ctrtest.SampleInitrdPath), buf, c.InitrdSize)
}

// CheckServed creates gated's task, checks that its per-container path
// serves the image's kernel, and deletes the task.
func (c *Env) CheckServed(ctx context.Context, gated *harness.Task) error {
	off, err := c.H.D.LogSize()
	if err != nil {
		return err
	}
	if _, err := c.CreateTask(ctx, gated); err != nil {
		return err
	}
	if _, err := harness.WaitServed(ctx, c.H.D, off, gated.ID); err != nil {
		return err
	}
	sum, err := host.FileSHA256(filepath.Join(c.H.Path(gated.ID), ctrtest.SampleKernelPath))
	if err != nil {
		return fmt.Errorf("served kernel of %s: %w", gated.ID, err)
	}
	if hex.EncodeToString(sum) != c.kernelSum {
		return fmt.Errorf("served kernel of %s: sha256 %x, want %s", gated.ID, sum, c.kernelSum)
	}
	_, err = c.DeleteTask(ctx, gated)
	return err
}
