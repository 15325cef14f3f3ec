package throughput

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/artifactfs/artifactfs/bench/internal/artifacttree"
	"github.com/artifactfs/artifactfs/bench/internal/host"
	"github.com/artifactfs/artifactfs/bench/internal/images"
	"github.com/artifactfs/artifactfs/bench/internal/mounts"
	"github.com/artifactfs/artifactfs/blockreader"
	"github.com/artifactfs/artifactfs/fs"
	"github.com/artifactfs/artifactfs/internal/source"
)

// A reader is one way of getting the whole kernel: a mounted file to read,
// or a command that extracts it.
type reader struct {
	name  string
	cmd   string   // how to reproduce it by hand (IMG, DEV, LOOPMNT, MNT placeholders)
	file  string   // the file to read, or "" when argv is set
	argv  []string // an extraction command to time instead
	note  string   // e.g. the serving mode actually used
	close func() error
}

// Row names, in report order.
const (
	srcNative   = "native: kernel loop mount (reference)"
	srcImage    = "artifactfs --image IMG (blockreader)"
	srcDevice   = "artifactfs --image DEV (blockreader on loop device)"
	srcDirPT    = "artifactfs --dir, passthrough"
	srcDirNoPT  = "artifactfs --dir, no passthrough"
	srcFuse2fs  = "fuse2fs -o ro"
	srcDebugfs  = "debugfs -R dump"
	srcE2cp     = "e2cp (e2tools)"
	readCommand = " && dd if=MNT/.boot/kernel of=/dev/null bs=1M"
)

// sourceOrder is the order of sources in the chart's legend and groups.
var sourceOrder = []string{srcNative, srcImage, srcDevice, srcDirPT, srcDirNoPT, srcFuse2fs, srcDebugfs, srcE2cp}

// setup is the mounts of one image: a read-only loop device, its native
// mount, and one reader per source. Close undoes it all, in reverse.
type setup struct {
	dev, loopMnt string
	readers      []*reader
	undo         []func() error
}

// Close undoes the setup in reverse and returns the first error.
func (s *setup) Close() error {
	var first error
	for i := len(s.undo) - 1; i >= 0; i-- {
		if err := s.undo[i](); err != nil && first == nil {
			first = err
		}
	}
	s.undo = nil
	return first
}

// mountAll attaches img to a loop device, mounts it and mounts every
// artifactfs source and fuse2fs under dir.
func mountAll(ctx context.Context, img *images.Image, dir string) (_ *setup, err error) {
	s := &setup{}
	defer func() {
		if err != nil {
			_ = s.Close()
		}
	}()
	out, err := host.Run("losetup", "--find", "--show", "--read-only", img.Path)
	if err != nil {
		return nil, err
	}
	s.dev = strings.TrimSpace(out)
	s.undo = append(s.undo, func() error { _, err := host.Run("losetup", "-d", s.dev); return err })
	s.loopMnt = filepath.Join(dir, "loop")
	if err := os.MkdirAll(s.loopMnt, 0o755); err != nil {
		return nil, err
	}
	if _, err := host.Run("mount", "-o", "ro", s.dev, s.loopMnt); err != nil {
		return nil, err
	}
	s.undo = append(s.undo, func() error { _, err := host.Run("umount", s.loopMnt); return err })
	s.readers = append(s.readers, &reader{name: srcNative, file: filepath.Join(s.loopMnt, artifacttree.KernelPath),
		cmd: "mount -o loop,ro IMG LOOPMNT && dd if=LOOPMNT/.boot/kernel of=/dev/null bs=1M"})

	for _, a := range []struct {
		name, cmd string
		open      func() (source.Source, error)
		opts      fs.Options
	}{
		{srcImage, "artifactfs mount --background --image IMG MNT", func() (source.Source, error) { return blockreader.Open(img.Path) }, fs.Options{}},
		{srcDevice, "artifactfs mount --background --image DEV MNT", func() (source.Source, error) { return blockreader.Open(s.dev) }, fs.Options{}},
		{srcDirPT, "artifactfs mount --background --dir LOOPMNT MNT", func() (source.Source, error) { return source.OpenDir(s.loopMnt) }, fs.Options{Passthrough: true}},
		{srcDirNoPT, "artifactfs mount --background --no-passthrough --dir LOOPMNT MNT", func() (source.Source, error) { return source.OpenDir(s.loopMnt) }, fs.Options{}},
	} {
		r, err := mountArtifactfs(ctx, filepath.Join(dir, fmt.Sprintf("mnt%d", len(s.readers))), a.open, a.opts)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", a.name, err)
		}
		r.name, r.cmd = a.name, a.cmd+readCommand
		s.undo = append(s.undo, r.close)
		s.readers = append(s.readers, r)
	}

	mnt := filepath.Join(dir, "fuse2fs")
	if err := os.MkdirAll(mnt, 0o755); err != nil {
		return nil, err
	}
	if _, err := host.Run("fuse2fs", "-o", "ro", img.Path, mnt); err != nil {
		return nil, err
	}
	s.undo = append(s.undo, func() error { _, err := host.Run("umount", mnt); return err })
	if err := waitFile(filepath.Join(mnt, artifacttree.KernelPath)); err != nil {
		return nil, fmt.Errorf("fuse2fs: %w", err)
	}
	s.readers = append(s.readers, &reader{name: srcFuse2fs, file: filepath.Join(mnt, artifacttree.KernelPath), cmd: "fuse2fs -o ro IMG MNT" + readCommand})

	s.readers = append(s.readers, &reader{name: srcDebugfs,
		argv: []string{"debugfs", "-R", "dump " + artifacttree.KernelPath + " /dev/null", img.Path},
		cmd:  `debugfs -R "dump /.boot/kernel /dev/null" IMG`})
	s.readers = append(s.readers, &reader{name: srcE2cp,
		argv: []string{"e2cp", img.Path + ":" + artifacttree.KernelPath, "/dev/null"},
		cmd:  "e2cp IMG:/.boot/kernel /dev/null"})
	return s, nil
}

// mountArtifactfs mounts the kernel of the source open returns at mnt, in
// this process, as the shim does.
func mountArtifactfs(ctx context.Context, mnt string, open func() (source.Source, error), opts fs.Options) (*reader, error) {
	b, err := mounts.Mount(ctx, mnt, open, opts)
	if err != nil {
		return nil, err
	}
	r := &reader{file: filepath.Join(mnt, artifacttree.KernelPath), note: "mode " + b.M.Mode(), close: b.Close}
	if perr := b.M.PassthroughErr(); opts.Passthrough && perr != nil {
		r.note += " (passthrough refused: " + perr.Error() + ")"
	}
	return r, nil
}

// waitFile waits up to 5 s for p to exist (a daemonized FUSE server).
func waitFile(p string) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := os.Stat(p)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// readOnce reads the whole kernel (want bytes) once and returns how long
// it took.
func (r *reader) readOnce(buf []byte, want int64) (time.Duration, error) {
	start := time.Now()
	if r.argv != nil {
		if out, err := exec.Command(r.argv[0], r.argv[1:]...).CombinedOutput(); err != nil {
			return 0, fmt.Errorf("%s: %w: %s", strings.Join(r.argv, " "), err, out)
		}
		return time.Since(start), nil
	}
	err := host.ReadSize(r.file, buf, want)
	return time.Since(start), err
}

// verify checks that every mounted reader returns the same bytes as the
// native loop mount, so that no row times a wrong answer.
func (s *setup) verify() error {
	var want []byte
	for _, r := range s.readers {
		if r.file == "" {
			continue
		}
		got, err := host.FileSHA256(r.file)
		if err != nil {
			return fmt.Errorf("verify %s: %w", r.name, err)
		}
		if want == nil {
			want = got
		} else if string(got) != string(want) {
			return fmt.Errorf("verify %s: content differs from the native loop mount", r.name)
		}
	}
	return nil
}
