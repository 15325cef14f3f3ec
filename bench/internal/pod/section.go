package pod

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/artifactfs/artifactfs/bench/internal/ctrd"
	"github.com/artifactfs/artifactfs/bench/internal/host"
	"github.com/artifactfs/artifactfs/bench/internal/section"
	"github.com/artifactfs/artifactfs/bench/internal/stats"
	"github.com/artifactfs/artifactfs/internal/artifact"
	"github.com/artifactfs/artifactfs/internal/ctrtest"
	"github.com/artifactfs/artifactfs/internal/testimage"
	"github.com/artifactfs/artifactfs/tests/harness"
)

// runs is how many containers of each kind the section creates: the
// figures are medians of this many.
const runs = 10

// handler is the CRI runtime handler of the section.
const handler = "artifactfs"

// imageName is the image of the section.
const imageName = "docker.io/library/artifactfs-bench-pod:latest"

// row is Create's wait for one kind of container, in ms per container.
type row struct {
	kind, how    string
	waited, took stats.Runs
}

// Run measures what Create waits for the shim for an app container
// joining a running pod (CRI: one shim per pod, started on the pause
// container; the app container's Create arrives at it) and for a container
// created through containerd's API as ctr does (a shim per container,
// which starts preparing when its process starts), in one daemon, with
// one image.
func Run(ctx context.Context, e *section.Env) (*section.Result, error) {
	tools, err := ctrd.BuildTools(e.Repo)
	if err != nil {
		return nil, err
	}
	allow := []string{artifact.AnnotationPrefix + "*"}
	env, err := harness.Start(ctx, harness.Options{ShimDir: tools.BinDir, Root: filepath.Join(e.Work, "artifactfs"),
		// The state directory on tmpfs, as containerd's /run is on a host.
		Daemon: ctrtest.Options{StateOnTmpfs: true, CRI: &ctrtest.CRIOptions{
			PauseImage: ctrtest.PauseImageName,
			Handlers:   []ctrtest.CRIHandler{{Name: handler, PodAnnotations: allow, ContainerAnnotations: allow}},
		}}})
	if err != nil {
		return nil, fmt.Errorf("start containerd with CRI: %w", err)
	}
	rows, err := measure(ctx, env, tools)
	if lo := env.Leftovers(context.Background()); len(lo) > 0 && err == nil {
		err = fmt.Errorf("left behind: %s", strings.Join(lo, "; "))
	}
	err = errors.Join(err, env.Stop())
	if err != nil {
		return nil, err
	}
	md, err := markdown(rows)
	if err != nil {
		return nil, err
	}
	return &section.Result{Markdown: md}, nil
}

// measure imports the pause image and the sample image, then measures
// both kinds of container.
func measure(ctx context.Context, env *harness.Env, tools *ctrd.Tools) ([]*row, error) {
	if err := importImages(ctx, env, tools); err != nil {
		return nil, err
	}
	c := env.CRI
	pod, err := c.RunPod(ctx, ctrtest.PodOptions{Name: "bench", Handler: handler, Annotations: ctrd.Gated})
	if err != nil {
		return nil, err
	}
	inPod := &row{kind: "app container joining a running pod", how: "CRI StartContainer; Create arrives at the pod's shim"}
	err = repeat(ctx, env.D, inPod, "app", func(name string) (string, func() error, error) {
		id, err := c.RunContainer(ctx, pod, ctrtest.ContainerOptions{Name: name, Image: imageName})
		return id, func() error { return c.RemoveContainer(ctx, id) }, err
	})
	err = errors.Join(err, c.RemovePod(ctx, pod))
	if err != nil {
		return nil, err
	}

	own := &row{kind: "container with a shim of its own", how: "containerd's task API, as `ctr run` (a shim per container)"}
	octx := env.D.Context(ctx) // the daemon's own namespace, not CRI's
	err = repeat(ctx, env.D, own, "ctr", func(id string) (string, func() error, error) {
		k, err := env.NewContainer(octx, harness.Container{ID: id, Snapshotter: ctrd.Snapshotter,
			Annotations: ctrd.Gated, Args: []string{}, NullIO: true})
		if err != nil {
			return "", nil, err
		}
		return id, func() error { return env.Remove(octx, id) }, k.Create(octx)
	})
	if err != nil {
		return nil, err
	}
	return []*row{inPod, own}, nil
}

// importImages imports the pause image and the sample image into CRI's
// namespace (waiting for CRI to know them), and the sample image into the
// daemon's own namespace too, as env.Image.
func importImages(ctx context.Context, env *harness.Env, tools *ctrd.Tools) error {
	app, err := ctrtest.SampleImage(imageName, testimage.Payload(801, 1<<20), testimage.Payload(802, 1<<20), tools.Entry, nil)
	if err != nil {
		return err
	}
	if err := env.ImportCRI(ctx, ctrtest.PauseImage(tools.Entry), app); err != nil {
		return err
	}
	env.Image, err = env.Import(env.D.Context(ctx), app, ctrd.Snapshotter)
	return err
}

// repeat runs start for an untimed first container, which stays until the
// end, and then runs more, one at a time, each removed before the next,
// and records in r what the shim logged for each: containers of an image
// another container already uses, which take its shared view. start
// creates the container named name and its task, and returns its id and
// how to remove it.
func repeat(ctx context.Context, d *ctrtest.Daemon, r *row, prefix string, start func(name string) (string, func() error, error)) (err error) {
	var removeFirst func() error
	defer func() {
		if removeFirst != nil {
			err = errors.Join(err, removeFirst())
		}
	}()
	for i := 0; i <= runs; i++ {
		off, err := d.LogSize()
		if err != nil {
			return err
		}
		id, remove, err := start(fmt.Sprintf("%s-%d", prefix, i))
		if err == nil {
			var s *harness.Served
			if s, err = harness.WaitServed(ctx, d, off, id); err == nil && i > 0 {
				r.waited.AddMs(s.Waited)
				r.took.AddMs(s.Took)
			}
		}
		if i == 0 {
			removeFirst, remove = remove, nil
		}
		if remove != nil {
			err = errors.Join(err, remove())
		}
		if err != nil {
			return fmt.Errorf("%s container %d: %w", prefix, i, err)
		}
		if i > 0 {
			host.Progress("pod: %s %d/%d: Create waited %s ms", prefix, i, runs, stats.Ms(r.waited.Last()))
		}
	}
	return nil
}
