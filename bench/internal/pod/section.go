package pod

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/oci"

	"github.com/artifactfs/artifactfs/bench/internal/ctrd"
	"github.com/artifactfs/artifactfs/bench/internal/host"
	"github.com/artifactfs/artifactfs/bench/internal/section"
	"github.com/artifactfs/artifactfs/bench/internal/stats"
	"github.com/artifactfs/artifactfs/internal/artifact"
	"github.com/artifactfs/artifactfs/internal/ctrtest"
	"github.com/artifactfs/artifactfs/internal/testimage"
	"github.com/artifactfs/artifactfs/shimglue"
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
	tools, err := ctrd.BuildTools(e.Repo, e.Work)
	if err != nil {
		return nil, err
	}
	root := filepath.Join(e.Work, "artifactfs")
	allow := []string{artifact.AnnotationPrefix + "*"}
	d, err := ctrtest.Start(ctx, ctrtest.Options{ExtraPath: []string{tools.BinDir}, Env: []string{shimglue.RootEnv + "=" + root},
		CRI: &ctrtest.CRIOptions{
			PauseImage: ctrtest.PauseImageName,
			Handlers:   []ctrtest.CRIHandler{{Name: handler, PodAnnotations: allow, ContainerAnnotations: allow}},
		}})
	if err != nil {
		return nil, fmt.Errorf("start containerd with CRI: %w", err)
	}
	c, err := d.NewCRIClient()
	if err != nil {
		return nil, errors.Join(err, d.Stop())
	}
	rows, err := measure(ctx, e, d, c, tools)
	if lo := d.Leftovers(namespaces.WithNamespace(context.Background(), ctrtest.CRINamespace), root, nil); len(lo) > 0 && err == nil {
		err = fmt.Errorf("left behind: %s", strings.Join(lo, "; "))
	}
	err = errors.Join(err, c.Close(), d.Stop())
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
func measure(ctx context.Context, e *section.Env, d *ctrtest.Daemon, c *ctrtest.CRIClient, tools *ctrd.Tools) ([]*row, error) {
	img, err := importImages(ctx, e, d, c, tools)
	if err != nil {
		return nil, err
	}
	pod, err := c.RunPod(ctx, ctrtest.PodOptions{Name: "bench", Handler: handler, Annotations: ctrd.Gated})
	if err != nil {
		return nil, err
	}
	inPod := &row{kind: "app container joining a running pod", how: "CRI StartContainer; Create arrives at the pod's shim"}
	err = repeat(ctx, d, inPod, "app", func(name string) (string, func() error, error) {
		id, err := c.RunContainer(ctx, pod, ctrtest.ContainerOptions{Name: name, Image: imageName})
		return id, func() error { return c.RemoveContainer(ctx, id) }, err
	})
	err = errors.Join(err, c.RemovePod(ctx, pod))
	if err != nil {
		return nil, err
	}

	own := &row{kind: "container with a shim of its own", how: "containerd's task API, as `ctr run` (a shim per container)"}
	octx := d.Context(ctx)
	err = repeat(ctx, d, own, "ctr", func(id string) (string, func() error, error) {
		ctr, err := d.Client().NewContainer(octx, id, client.WithSnapshotter(ctrd.Snapshotter),
			client.WithNewSnapshot(id+"-rootfs", img), client.WithRuntime(ctrd.Runtime, nil),
			client.WithNewSpec(oci.WithImageConfig(img), oci.WithAnnotations(ctrd.Gated)))
		if err != nil {
			return "", nil, err
		}
		remove := func() error {
			var errs []error
			if task, err := ctr.Task(octx, nil); err == nil {
				_, err = task.Delete(octx, client.WithProcessKill)
				errs = append(errs, err)
			}
			return errors.Join(append(errs, ctr.Delete(octx, client.WithSnapshotCleanup))...)
		}
		_, err = ctr.NewTask(octx, cio.NullIO)
		return id, remove, err
	})
	if err != nil {
		return nil, err
	}
	return []*row{inPod, own}, nil
}

// importImages imports the pause image and the sample image into CRI's
// namespace, waits for CRI to know them, and imports the sample image into
// the daemon's own namespace too, returning it there.
func importImages(ctx context.Context, e *section.Env, d *ctrtest.Daemon, c *ctrtest.CRIClient, tools *ctrd.Tools) (client.Image, error) {
	app, err := ctrtest.SampleImage(imageName, testimage.Payload(801, 1<<20), testimage.Payload(802, 1<<20), tools.Entry, nil)
	if err != nil {
		return nil, err
	}
	k8s := namespaces.WithNamespace(ctx, ctrtest.CRINamespace)
	var img client.Image
	for i, spec := range []ctrtest.ImageSpec{ctrtest.PauseImage(tools.Entry), app} {
		dir := filepath.Join(e.Work, fmt.Sprintf("image-%d", i))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		tarPath, err := ctrtest.BuildImage(dir, spec)
		if err != nil {
			return nil, err
		}
		if _, err := ctrtest.Import(k8s, d.Client(), tarPath, ctrd.Snapshotter); err != nil {
			return nil, err
		}
		if err := c.WaitImage(ctx, spec.Name); err != nil {
			return nil, err
		}
		if spec.Name == imageName {
			if img, err = ctrtest.Import(d.Context(ctx), d.Client(), tarPath, ctrd.Snapshotter); err != nil {
				return nil, err
			}
		}
	}
	return img, nil
}

// repeat runs start for an untimed warm-up container and then runs more,
// one at a time, and records in r what the shim logged for each. start
// creates the container named name and its task, and returns its id and
// how to remove it.
func repeat(ctx context.Context, d *ctrtest.Daemon, r *row, prefix string, start func(name string) (string, func() error, error)) error {
	for i := 0; i <= runs; i++ {
		off, err := d.LogSize()
		if err != nil {
			return err
		}
		id, remove, err := start(fmt.Sprintf("%s-%d", prefix, i))
		if err == nil {
			var s *ctrtest.Served
			if s, err = d.WaitServed(ctx, off, id); err == nil && i > 0 {
				r.waited.AddMs(s.Waited)
				r.took.AddMs(s.Took)
			}
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
