package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/artifactfs/artifactfs/blockreader"
	"github.com/artifactfs/artifactfs/internal/artifact"
	"github.com/artifactfs/artifactfs/internal/source"
)

// sourceFlags are the flags every command uses to pick a source and its
// artifacts.
type sourceFlags struct {
	image, dir, bundle     string
	kernel, initrd, config string
	maxSize                int64
}

func (f *sourceFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.image, "image", "", "ext4 image file or block device, read directly (never mounted)")
	fl.StringVar(&f.dir, "dir", "", "root directory of a mounted image, e.g. a snapshot view")
	fl.StringVar(&f.bundle, "bundle", "", "container bundle: the view in its artifactfs.json, else its rootfs and config.json annotations")
	fl.StringVar(&f.kernel, "kernel", "", "in-image path of the kernel (default: from urunc.json)")
	fl.StringVar(&f.initrd, "initrd", "", "in-image path of the initrd (default: from urunc.json)")
	fl.StringVar(&f.config, "config", artifact.DefaultConfigPath, "in-image path of urunc.json")
	fl.Int64Var(&f.maxSize, "max-size", artifact.DefaultMaxSize, "refuse artifacts larger than this many bytes")
	_ = cmd.MarkFlagFilename("image")
	_ = cmd.MarkFlagDirname("dir")
	_ = cmd.MarkFlagDirname("bundle")
}

// open opens the chosen source and resolves its artifacts. The caller closes
// the source.
func (f *sourceFlags) open() (source.Source, artifact.Set, error) {
	var (
		src         source.Source
		annotations map[string]string
		err         error
	)
	switch given := countNonEmpty(f.image, f.dir, f.bundle); {
	case given == 0:
		return nil, artifact.Set{}, usageError(errors.New("no source: pass --image PATH, --dir PATH or --bundle PATH"))
	case given > 1:
		return nil, artifact.Set{}, usageError(errors.New("more than one source: pass only one of --image, --dir, --bundle"))
	case f.image != "":
		src, err = blockreader.Open(f.image)
	case f.dir != "":
		src, err = source.OpenDir(f.dir)
	default:
		src, annotations, err = openBundle(f.bundle)
	}
	if err != nil {
		return nil, artifact.Set{}, err
	}
	if f.maxSize <= 0 {
		src.Close()
		return nil, artifact.Set{}, usageError(fmt.Errorf("--max-size must be positive, not %d", f.maxSize))
	}
	set, err := artifact.Resolve(src, artifact.Request{
		Kernel: f.kernel, Initrd: f.initrd, ConfigPath: f.config, MaxSize: f.maxSize, Annotations: annotations,
	})
	if err != nil {
		src.Close()
		return nil, artifact.Set{}, fmt.Errorf("%s: %w", src, err)
	}
	return src, set, nil
}

// exactArgs checks the number of positional arguments, as a usage error.
func exactArgs(n int, names string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) == n {
			return nil
		}
		if n == 0 {
			return usageError(fmt.Errorf("unexpected argument %q", args[0]))
		}
		return usageError(fmt.Errorf("want %s, got %d arguments", names, len(args)))
	}
}

func countNonEmpty(values ...string) int {
	n := 0
	for _, v := range values {
		if v != "" {
			n++
		}
	}
	return n
}
