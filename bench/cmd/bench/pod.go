package main

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

	"github.com/artifactfs/artifactfs/internal/artifact"
	"github.com/artifactfs/artifactfs/internal/ctrtest"
	"github.com/artifactfs/artifactfs/internal/testimage"
	"github.com/artifactfs/artifactfs/shimglue"
)

// podRuns is how many containers of each kind the pod section creates:
// the figures are medians of this many.
const podRuns = 10

// podHandler is the CRI runtime handler of the pod section.
const podHandler = "artifactfs"

// podRow is Create's wait for one kind of container, in ms per container.
type podRow struct {
	kind, how string
	waited    stats
	took      stats
}

// podSection measures what Create waits for the shim (issue 8): for an app
// container joining a running pod (CRI: one shim per pod, started on the
// pause container; the app container's Create arrives at it) and for a
// container created through containerd's API as ctr does (a shim per
// container, which starts preparing when its process starts), in one
// daemon, with one image.
func podSection(ctx context.Context, e *env) (*sectionResult, error) {
	tools, err := buildCtrdTools(ctx, e.work)
	if err != nil {
		return nil, err
	}
	root := filepath.Join(e.work, "artifactfs")
	allow := []string{artifact.AnnotationPrefix + "*"}
	d, err := ctrtest.Start(ctx, ctrtest.Options{ExtraPath: []string{tools.binDir}, Env: []string{shimglue.RootEnv + "=" + root},
		CRI: &ctrtest.CRIOptions{
			PauseImage: ctrtest.PauseImageName,
			Handlers:   []ctrtest.CRIHandler{{Name: podHandler, PodAnnotations: allow, ContainerAnnotations: allow}},
		}})
	if err != nil {
		return nil, fmt.Errorf("start containerd with CRI: %w", err)
	}
	c, err := d.NewCRIClient()
	if err != nil {
		return nil, errors.Join(err, d.Stop())
	}
	rows, err := podMeasure(ctx, e, d, c, tools)
	if lo := d.Leftovers(namespaces.WithNamespace(context.Background(), ctrtest.CRINamespace), root, nil); len(lo) > 0 && err == nil {
		err = fmt.Errorf("left behind: %s", strings.Join(lo, "; "))
	}
	err = errors.Join(err, c.Close(), d.Stop())
	if err != nil {
		return nil, err
	}
	return &sectionResult{markdown: podReport(rows)}, nil
}

// podImageName is the image of the pod section.
const podImageName = "docker.io/library/artifactfs-bench-pod:latest"

// podMeasure imports the pause image and the sample image, then measures
// both kinds of container.
func podMeasure(ctx context.Context, e *env, d *ctrtest.Daemon, c *ctrtest.CRIClient, tools *ctrdTools) ([]*podRow, error) {
	app, err := ctrtest.SampleImage(podImageName, testimage.Payload(801, 1<<20), testimage.Payload(802, 1<<20), tools.entry, nil)
	if err != nil {
		return nil, err
	}
	k8s := namespaces.WithNamespace(ctx, ctrtest.CRINamespace)
	var img client.Image
	for i, spec := range []ctrtest.ImageSpec{ctrtest.PauseImage(tools.entry), app} {
		dir := filepath.Join(e.work, fmt.Sprintf("image-%d", i))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		tarPath, err := ctrtest.BuildImage(dir, spec)
		if err != nil {
			return nil, err
		}
		if _, err := ctrtest.Import(k8s, d.Client(), tarPath, ctrdSnapshotter); err != nil {
			return nil, err
		}
		if err := c.WaitImage(ctx, spec.Name); err != nil {
			return nil, err
		}
		if spec.Name == podImageName {
			if img, err = ctrtest.Import(d.Context(ctx), d.Client(), tarPath, ctrdSnapshotter); err != nil {
				return nil, err
			}
		}
	}

	pod, err := c.RunPod(ctx, ctrtest.PodOptions{Name: "bench", Handler: podHandler, Annotations: ctrdGated})
	if err != nil {
		return nil, err
	}
	inPod := &podRow{kind: "app container joining a running pod", how: "CRI StartContainer; Create arrives at the pod's shim"}
	err = podRepeat(ctx, d, inPod, "app", func(name string) (string, func() error, error) {
		id, err := c.RunContainer(ctx, pod, ctrtest.ContainerOptions{Name: name, Image: podImageName})
		return id, func() error { return c.RemoveContainer(ctx, id) }, err
	})
	err = errors.Join(err, c.RemovePod(ctx, pod))
	if err != nil {
		return nil, err
	}

	own := &podRow{kind: "container with a shim of its own", how: "containerd's task API, as `ctr run` (a shim per container)"}
	octx := d.Context(ctx)
	err = podRepeat(ctx, d, own, "ctr", func(id string) (string, func() error, error) {
		ctr, err := d.Client().NewContainer(octx, id, client.WithSnapshotter(ctrdSnapshotter),
			client.WithNewSnapshot(id+"-rootfs", img), client.WithRuntime(ctrdRuntime, nil),
			client.WithNewSpec(oci.WithImageConfig(img), oci.WithAnnotations(ctrdGated)))
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
	return []*podRow{inPod, own}, nil
}

// podRepeat runs start for an untimed warm-up container and then podRuns
// more, one at a time, and records in row what the shim logged for each.
// start creates the container named name and its task, and returns its id
// and how to remove it.
func podRepeat(ctx context.Context, d *ctrtest.Daemon, row *podRow, prefix string, start func(name string) (string, func() error, error)) error {
	for i := 0; i <= podRuns; i++ {
		off, err := d.LogSize()
		if err != nil {
			return err
		}
		id, remove, err := start(fmt.Sprintf("%s-%d", prefix, i))
		if err == nil {
			var s *ctrtest.Served
			if s, err = d.WaitServed(ctx, off, id); err == nil && i > 0 {
				ctrdAddMs(&row.waited, s.Waited)
				ctrdAddMs(&row.took, s.Took)
			}
		}
		if remove != nil {
			err = errors.Join(err, remove())
		}
		if err != nil {
			return fmt.Errorf("%s container %d: %w", prefix, i, err)
		}
		if i > 0 {
			progress("pod: %s %d/%d: Create waited %s ms", prefix, i, podRuns, ctrdFmtMs(row.waited.runs[len(row.waited.runs)-1]))
		}
	}
	return nil
}

// podReport writes the section's Markdown.
func podReport(rows []*podRow) string {
	var b strings.Builder
	w := func(f string, a ...any) { fmt.Fprintf(&b, f, a...) }
	w("## Create's wait: app container in a running pod vs a container of its own shim\n\n")
	w("Method: one private containerd v2.4.2 with CRI on (`internal/ctrtest`), the real shim (no build tags) as handler `%s` "+
		"(`runtime_type = \"io.containerd.artifactfs.v2\"`, snapshotter blockfile, pod and container annotations `com.urunc.unikernel.*` allowed), "+
		"one image (1 MiB kernel, 1 MiB initrd, urunc.json) imported into namespaces `k8s.io` (CRI) and the daemon's own. "+
		"**Create waited** is what the shim's Create waited for the view, mounts and state (`\"artifacts ready for Create\"` field `waited` "+
		"when the shim started preparing before Create, else `\"artifacts served\"` field `took`); **took** is the shim's whole work. "+
		"%d containers of each kind, one at a time, each removed before the next; one untimed warm-up container of each kind first. "+
		"Figures are milliseconds, median (min–max). Reproduce: `go run ./bench/cmd/bench -only pod`.\n\n", podHandler, podRuns)
	w("| container | how it reaches the shim | Create waited, ms | took, ms |\n|---|---|---:|---:|\n")
	for _, r := range rows {
		w("| %s | %s | %s | %s |\n", r.kind, r.how, ctrdMsCell(r.waited), ctrdMsCell(r.took))
	}
	w("\nAn app container's Create arrives at the pod's running shim, so nothing of its preparation can start earlier: " +
		"it waits for all of it, on a containerd connection the shim dialled when it started. " +
		"A container with a shim of its own (ctr, or the pod's first container) has its preparation started when the shim process starts, " +
		"before containerd sends Create.\n")
	return b.String()
}
