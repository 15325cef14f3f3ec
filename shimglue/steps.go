package shimglue

import (
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/containerd/containerd/v2/core/mount"

	"github.com/artifactfs/artifactfs/artifactbind"
	"github.com/artifactfs/artifactfs/blockreader"
	"github.com/artifactfs/artifactfs/fs"
	"github.com/artifactfs/artifactfs/internal/artifact"
	"github.com/artifactfs/artifactfs/internal/extract"
	"github.com/artifactfs/artifactfs/internal/layout"
	"github.com/artifactfs/artifactfs/internal/mounttable"
	"github.com/artifactfs/artifactfs/internal/source"
	"github.com/artifactfs/artifactfs/view"
)

// steps prepares the view, opens it, finds the artifacts, serves them at
// the per-container path and writes the state. It records in c what it
// takes as it goes, for teardown.
func (p *Preparer) steps(ctx context.Context, c *container, decision Decision, ann map[string]string) error {
	st := c.st
	fault := func(s Step) error {
		c.timer.start(s)
		return p.cfg.failStep(s, ann)
	}
	defer c.timer.stop()
	var err error

	// From here on the state file lists what a crash would leave behind:
	// the paths are fixed, and the view is found by its lease. It is
	// written while containerd prepares the view, and on disk before
	// anything is mounted.
	st.ViewMountpoint = artifactbind.ViewMountpoint(p.cfg.Root, st.Namespace, st.ContainerID)
	if err := fault(StepPending); err != nil {
		return err
	}
	pending, written := *st, make(chan error, 1)
	go func() { written <- artifactbind.WriteState(c.bundle, &pending) }()

	err = fault(StepPrepare)
	var v *view.View
	if err == nil {
		v, err = p.viewer.Prepare(c.log.WithContext(ctx), st.Namespace, st.ContainerID, !p.cfg.PerContainerViews)
	}
	if err := errors.Join(<-written, err); err != nil {
		return err
	}
	if name := view.SharedName(v.Key); name != "" {
		st.ViewMountpoint = artifactbind.SharedViewMountpoint(p.cfg.Root, st.Namespace, name)
	}
	st.Snapshotter, st.ViewKey, st.LeaseID, st.Parent = v.Snapshotter, v.Key, v.LeaseID, v.Parent
	st.ViewMounts = fromMounts(v.Mounts)
	c.log = c.log.With().Str("snapshotter", v.Snapshotter).Logger()

	if c.src, err = p.open(c, v.Mounts, fault); err != nil {
		return err
	}
	if _, complete := artifact.FromAnnotations(ann); !complete {
		// urunc.json is urunc's whole configuration.
		cfg, found, err := imageConfig(c.src)
		if err != nil {
			return err
		}
		if !found {
			return errNoUruncConfig
		}
		if decision == Probe {
			if !wants(cfg) {
				return errNotWanted
			}
			c.wanted = true
			c.strict = c.strict || strict(cfg)
		}
	}
	if err := fault(StepResolve); err != nil {
		return err
	}
	set, err := artifact.Resolve(c.src, artifact.Request{Annotations: ann, MaxSize: p.cfg.MaxSize})
	if err != nil {
		return fmt.Errorf("%s: %w", c.src, err)
	}
	if st.Mode, err = p.serve(ctx, c, set, fault); err != nil {
		return err
	}
	for _, a := range set.Artifacts {
		st.Artifacts = append(st.Artifacts, artifactbind.ArtifactState{Kind: string(a.Kind), Path: a.Path, Size: a.Info.Size})
	}
	if err := fault(StepState); err != nil {
		return err
	}
	return artifactbind.WriteState(c.bundle, st)
}

// open mounts the view read-only and opens it as a directory, or, for a
// block view that is not to be mounted (Config.Direct) or whose mount
// fails, opens its block file or device with blockreader.
func (p *Preparer) open(c *container, mounts []mount.Mount, fault func(Step) error) (source.Source, error) {
	mp := c.st.ViewMountpoint
	dev, isBlock := blockSource(mounts)
	if !p.cfg.Direct || !isBlock {
		err := fault(StepMountView)
		if err == nil {
			err = p.mountView(mounts, c)
		}
		if err == nil {
			c.viewMounted = true
			if err := fault(StepOpen); err != nil {
				return nil, err
			}
			d, err := source.OpenDir(mp)
			if err != nil {
				return nil, err // not a typed nil in the interface
			}
			return d, nil
		}
		if !isBlock {
			return nil, fmt.Errorf("mount view at %s: %w", mp, err)
		}
		c.log.Warn().Err(err).Str("device", dev).Msg("cannot mount the view; reading its block image directly")
	}
	if err := p.clearView(c.st); err != nil {
		return nil, err
	}
	c.st.ViewMountpoint = ""
	if err := fault(StepOpen); err != nil {
		return nil, err
	}
	im, err := blockreader.Open(dev)
	if err != nil {
		return nil, err
	}
	return im, nil
}

// blockSource returns the block file or device of a view that is one
// ext2/3/4 mount (blockfile: a loop mount of a file; devmapper: a device),
// which blockreader can read without mounting it.
func blockSource(mounts []mount.Mount) (string, bool) {
	if len(mounts) != 1 || mounts[0].Target != "" {
		return "", false
	}
	m := mounts[0]
	switch m.Type {
	case "ext4", "ext3", "ext2":
	default:
		return "", false
	}
	fi, err := os.Stat(m.Source)
	if err != nil {
		return "", false
	}
	if fi.Mode().IsRegular() || fi.Mode()&iofs.ModeDevice != 0 && fi.Mode()&iofs.ModeCharDevice == 0 {
		return m.Source, true
	}
	return "", false
}

// mountView makes the view mount point of the container c.st names (mode
// 0700 like .views and the namespace directory above it: a mounted view
// shows the whole image) and mounts the view's mounts there, read-only,
// nosuid, nodev; for a shared view, it takes a reference to the host's
// mount of it, mounting it if this is the first (layout.Image).
func (p *Preparer) mountView(mounts []mount.Mount, c *container) error {
	if len(mounts) == 0 {
		return errors.New("the view has no mounts")
	}
	ro, err := readOnly(mounts)
	if err != nil {
		return err
	}
	mountAt := func(mp string) error {
		if err := mount.All(ro, mp); err != nil {
			_, _ = mounttable.UnmountTree(mp)
			return err
		}
		return nil
	}
	if name := c.st.SharedView(); name != "" {
		// Mounted by the first container of the image; the others add
		// their reference.
		_, err := p.image(c.st, name).Acquire(c.st.ContainerID, mountAt)
		return err
	}
	mp, err := p.entry(true, c.st).Make()
	if err != nil {
		return err
	}
	return mountAt(mp)
}

// readOnly returns the mounts with "ro", "nosuid" and "nodev" added; a
// mount that would stay writable (an overlay with an upperdir) is refused.
func readOnly(mounts []mount.Mount) ([]mount.Mount, error) {
	out := make([]mount.Mount, len(mounts))
	for i, m := range mounts {
		m.Options = slices.Clone(m.Options)
		if !m.ReadOnly() {
			if m.Type == "overlay" {
				return nil, fmt.Errorf("view mount %d is a writable overlay", i)
			}
			m.Options = append(m.Options, "ro")
		}
		for _, o := range []string{"nosuid", "nodev"} {
			if !slices.Contains(m.Options, o) {
				m.Options = append(m.Options, o)
			}
		}
		out[i] = m
	}
	return out, nil
}

// serve makes the per-container path serve the artifacts: a FUSE mount,
// else a read-only stage of read-only binds from the mounted view, else
// one of copies.
func (p *Preparer) serve(ctx context.Context, c *container, set artifact.Set, fault func(Step) error) (artifactbind.Mode, error) {
	path, err := p.entry(false, c.st).Make()
	if err != nil {
		return "", err
	}

	err = fault(StepFUSE)
	if err == nil {
		var m *fs.Mounted
		if m, err = p.mountFUSE(ctx, c, set); err == nil {
			c.fuse = m
			if c.viewMounted {
				return artifactbind.ModeFUSE, nil
			}
			return artifactbind.ModeDirect, nil
		}
	}
	c.log.Warn().Err(err).Msg("cannot serve the per-container path with FUSE; falling back")

	if c.viewMounted {
		err := fault(StepBind)
		if err == nil {
			err = mountStage(path, artifactbind.ModeBind, set, false)
		}
		if err == nil {
			err = bindAll(c.st.ViewMountpoint, path, set)
		}
		if err == nil {
			err = sealStage(path)
		}
		if err == nil {
			return artifactbind.ModeBind, nil
		}
		c.log.Warn().Err(err).Msg("cannot bind the artifacts; copying them")
		if _, uerr := mounttable.UnmountTree(path); uerr != nil {
			return "", uerr
		}
	}

	if err := fault(StepCopy); err != nil {
		return "", err
	}
	if err := mountStage(path, artifactbind.ModeCopy, set, true); err != nil {
		return "", err
	}
	if err := copyInto(c.src, set, path); err != nil {
		return "", err
	}
	if err := sealStage(path); err != nil {
		return "", err
	}
	// The copies need neither the source nor the view mount any more.
	if err := c.src.Close(); err != nil {
		return "", err
	}
	c.src = nil
	if c.viewMounted {
		if err := p.clearView(c.st); err != nil {
			return "", err
		}
		c.st.ViewMountpoint = ""
		c.viewMounted = false
	}
	return artifactbind.ModeCopy, nil
}

// mountFUSE mounts the artifact tree at the per-container path.
func (p *Preparer) mountFUSE(ctx context.Context, c *container, set artifact.Set) (*fs.Mounted, error) {
	root, err := fs.New(c.src, set.Paths())
	if err != nil {
		return nil, err
	}
	mode := artifactbind.ModeDirect
	if c.viewMounted {
		mode = artifactbind.ModeFUSE
	}
	m, err := fs.Mount(c.log.WithContext(ctx), c.st.Path, root, fs.Options{
		// The mount table then tells `artifactfs status` the mode.
		FSName:      layout.FSName(mode),
		Passthrough: !p.cfg.NoPassthrough,
		// The container, and urunc's monitor, may read as another user;
		// the image's permission bits still apply (default_permissions).
		AllowOther: true,
	})
	if err != nil {
		return nil, err
	}
	if perr := m.PassthroughErr(); perr != nil && !errors.Is(perr, fs.ErrNoHostFd) {
		c.log.Warn().Err(perr).Msg("FUSE passthrough unavailable; the shim serves reads")
	}
	return m, nil
}

// bindAll binds every artifact of set from the mounted view at viewRoot
// onto the same path under dir; the view's symlinks resolve inside it.
func bindAll(viewRoot, dir string, set artifact.Set) error {
	return artifactbind.BindPaths(viewRoot, dir, set.Paths(), artifactbind.InRoot)
}

// imageConfig reads the image's urunc.json; found is false for an image
// without one.
func imageConfig(src source.Source) (cfg artifact.Config, found bool, err error) {
	info, err := src.Stat(artifact.DefaultConfigPath)
	if errors.Is(err, iofs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("urunc.json: %w", err)
	}
	if !info.Mode.IsRegular() {
		return nil, true, fmt.Errorf("urunc.json: %w (%s)", source.ErrNotRegular, source.TypeName(info.Mode))
	}
	if info.Size > artifact.MaxConfigSize {
		return nil, true, fmt.Errorf("urunc.json: %w: %d bytes", artifact.ErrTooLarge, info.Size)
	}
	f, err := src.Open(artifact.DefaultConfigPath)
	if err != nil {
		return nil, true, fmt.Errorf("urunc.json: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.NewSectionReader(f, 0, info.Size))
	if err != nil {
		return nil, true, fmt.Errorf("read urunc.json: %w", err)
	}
	cfg, err = artifact.ParseUruncJSON(data)
	return cfg, true, err
}

func fromMounts(ms []mount.Mount) []artifactbind.Mount {
	out := make([]artifactbind.Mount, len(ms))
	for i, m := range ms {
		out[i] = artifactbind.Mount{Type: m.Type, Source: m.Source, Target: m.Target, Options: slices.Clone(m.Options)}
	}
	return out
}

// copyInto extracts set from src into the stage mounted at path (the
// shim's own per-container path, reached as the root is configured).
func copyInto(src source.Source, set artifact.Set, path string) error {
	fd, err := unix.Open(path, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	return extract.ExtractAt(src, set, fd, path, true, nil)
}
