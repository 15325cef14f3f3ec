package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/artifactfs/artifactfs/internal/artifact"
	"github.com/artifactfs/artifactfs/internal/ctrtest"
	"github.com/artifactfs/artifactfs/internal/testimage"
)

// ArtifactsDir is where Container.Bind binds the per-container path in
// the container, as urunc binds it into the monitor's rootfs.
const ArtifactsDir = "/artifacts"

// Gated returns the annotations that ask artifactfs for the view (the
// snapshot view and mountRootfs on), with extra added.
func Gated(extra map[string]string) map[string]string {
	ann := map[string]string{
		artifact.AnnotationSnapshotView: "true",
		artifact.AnnotationMountRootfs:  "true",
	}
	maps.Copy(ann, extra)
	return ann
}

// Container says what container NewContainer creates: from the env's
// sample image, with runtime io.containerd.artifactfs.v2.
type Container struct {
	// ID is the container id. Required.
	ID string
	// Snapshotter is its snapshotter. Default blockfile.
	Snapshotter string
	// Annotations are its spec's annotations (see Gated).
	Annotations map[string]string
	// Bind binds its per-container path read-only at ArtifactsDir.
	Bind bool
	// Args are the arguments of the image's entrypoint. Nil: print the
	// sha256 of the three artifacts under ArtifactsDir (see WantSums);
	// empty: wait for SIGTERM.
	Args []string
	// Process, when set, is the whole command line instead (for an image
	// without the entrypoint).
	Process []string
	// RuntimeOptions are its runtime options (runc's, or
	// runtimeoptions.v1's as CRI and ctr send them). Default none.
	RuntimeOptions any
	// NullIO discards the task's output (cio.NullIO) instead of keeping
	// it in Task.Stdout and Task.Stderr.
	NullIO bool
}

// Task is a created container and, after Create, its task.
type Task struct {
	// ID is the container's id.
	ID string
	// Container is the container; Task its task, once created.
	Container client.Container
	Task      client.Task
	// Stdout and Stderr hold the task's output (unless NullIO).
	Stdout, Stderr *bytes.Buffer
	// Created is how long creating the task (the shim's Create) took.
	Created time.Duration

	nullIO bool
}

// NewContainer creates the container c with a new snapshot of the
// sample image (ImportSample); its task comes with Create.
func (e *Env) NewContainer(ctx context.Context, c Container) (*Task, error) {
	if c.Snapshotter == "" {
		c.Snapshotter = "blockfile"
	}
	args := c.Process
	if args == nil {
		if c.Args == nil {
			c.Args = SumArgs()
		}
		args = append([]string{ctrtest.SampleEntryPath}, c.Args...)
	}
	opts := []oci.SpecOpts{oci.WithImageConfig(e.Image), oci.WithProcessArgs(args...)}
	if len(c.Annotations) > 0 {
		opts = append(opts, oci.WithAnnotations(c.Annotations))
	}
	if c.Bind {
		opts = append(opts, oci.WithMounts([]specs.Mount{{
			Destination: ArtifactsDir, Type: "bind", Source: e.Path(c.ID), Options: []string{"rbind", "ro"},
		}}))
	}
	ctr, err := e.D.Client().NewContainer(e.ctx(ctx), c.ID,
		client.WithSnapshotter(c.Snapshotter),
		client.WithNewSnapshot(c.ID+"-rootfs", e.Image),
		client.WithRuntime(ctrtest.ArtifactfsRuntime, c.RuntimeOptions),
		client.WithNewSpec(opts...))
	if err != nil {
		return nil, fmt.Errorf("new container %s: %w", c.ID, err)
	}
	return &Task{ID: c.ID, Container: ctr, Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}, nullIO: c.NullIO}, nil
}

// Create creates the container's task, not started: the shim's Create.
// It records how long that took in k.Created.
func (k *Task) Create(ctx context.Context) error {
	ioc := cio.NewCreator(cio.WithStreams(nil, k.Stdout, k.Stderr))
	if k.nullIO {
		ioc = cio.NullIO
	}
	begin := time.Now()
	task, err := k.Container.NewTask(ctx, ioc)
	k.Created = time.Since(begin)
	if err != nil {
		return fmt.Errorf("new task %s: %w", k.ID, err)
	}
	k.Task = task
	return nil
}

// Run starts the created task, waits for it to exit and for its output,
// and returns its exit code.
func (k *Task) Run(ctx context.Context) (uint32, error) {
	statusC, err := k.Task.Wait(ctx)
	if err != nil {
		return 0, err
	}
	if err := k.Task.Start(ctx); err != nil {
		return 0, fmt.Errorf("start task: %w", err)
	}
	select {
	case s := <-statusC:
		k.WaitIO()
		return s.ExitCode(), nil
	case <-ctx.Done():
		return 0, fmt.Errorf("task did not exit: %w", ctx.Err())
	}
}

// WaitIO waits until the task's output is copied into Stdout and Stderr:
// the exit status can arrive first.
func (k *Task) WaitIO() {
	if k.Task != nil {
		if io := k.Task.IO(); io != nil {
			io.Wait()
		}
	}
}

// Delete kills and deletes the task (the shim's Delete), when there is
// one, and the container with its snapshot; either already gone is fine.
func (k *Task) Delete(ctx context.Context) error {
	var errs []error
	if k.Task != nil {
		if _, err := k.Task.Delete(ctx, client.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete task: %w", err))
		}
	}
	if err := k.Container.Delete(ctx, client.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
		errs = append(errs, fmt.Errorf("delete container: %w", err))
	}
	return errors.Join(errs...)
}

// Remove deletes container id with its task, whichever of them still
// exist: the cleanup after a test or a fault, when the task may be gone.
func (e *Env) Remove(ctx context.Context, id string) error {
	ctx = e.ctx(ctx)
	ctr, err := e.D.Client().LoadContainer(ctx, id)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	k := &Task{ID: id, Container: ctr}
	if k.Task, err = ctr.Task(ctx, nil); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("load task: %w", err)
	}
	return k.Delete(ctx)
}

// SumArgs are the entrypoint's arguments that print the sha256 of the
// kernel, the initrd and urunc.json under ArtifactsDir.
func SumArgs() []string {
	args := []string{"sha256"}
	for _, p := range []string{ctrtest.SampleKernelPath, ctrtest.SampleInitrdPath, ctrtest.SampleConfigPath} {
		args = append(args, ArtifactsDir+p)
	}
	return args
}

// WantSums is what a container running SumArgs prints when it reads the
// sample image's artifacts.
func (e *Env) WantSums() string {
	var b strings.Builder
	for _, f := range []struct {
		p    string
		data []byte
	}{{ctrtest.SampleKernelPath, e.Kernel}, {ctrtest.SampleInitrdPath, e.Initrd}, {ctrtest.SampleConfigPath, e.Config}} {
		fmt.Fprintf(&b, "%s  %s\n", testimage.SHA256(f.data), ArtifactsDir+f.p)
	}
	return b.String()
}
