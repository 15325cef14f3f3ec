package ctrtest

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/oci"

	"github.com/artifactfs/artifactfs/internal/testimage"
)

// TestCtrDaemonTaskAndStop runs a runc container from a SampleImage on a
// private daemon of its own (so that it can check Stop): one task that
// prints the kernel's sha256 and exits, one left running; then Stop must
// kill it and leave no shim socket, runc state, cgroup or work directory.
func TestCtrDaemonTaskAndStop(t *testing.T) {
	testimage.RequireRoot(t, "containerd and runc")
	testimage.RequireTools(t, "mkfs.ext4", "runc")
	start := time.Now()
	d, err := Start(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = d.Stop()
		}
	})
	t.Logf("containerd start %s", time.Since(start).Round(time.Millisecond))

	entry, err := Entrypoint(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	kernel := testimage.Payload(11, 1<<20+5)
	spec, err := SampleImage("", kernel, nil, entry, nil)
	if err != nil {
		t.Fatal(err)
	}
	tarPath, err := BuildImage(t.TempDir(), spec)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(d.Context(context.Background()), 2*time.Minute)
	defer cancel()
	c := d.Client()
	img, err := Import(ctx, c, tarPath, "overlayfs")
	if err != nil {
		t.Fatal(err)
	}
	fifos := filepath.Join(d.Dir, "fifo")
	// run starts a task; stdout and stderr go to separate buffers (cio
	// copies each in its own goroutine), read only after task.Delete.
	run := func(id string, args ...string) (client.Task, *bytes.Buffer, *bytes.Buffer) {
		ctr, err := c.NewContainer(ctx, id, client.WithSnapshotter("overlayfs"),
			client.WithNewSnapshot(id+"-rootfs", img),
			client.WithNewSpec(oci.WithImageConfig(img), oci.WithProcessArgs(append([]string{SampleEntryPath}, args...)...)))
		if err != nil {
			t.Fatal(err)
		}
		var out, errb bytes.Buffer
		task, err := ctr.NewTask(ctx, cio.NewCreator(cio.WithStreams(nil, &out, &errb), cio.WithFIFODir(fifos)))
		if err != nil {
			t.Fatalf("new task %s: %v\n%s", id, err, d.LogTail(2048))
		}
		if err := task.Start(ctx); err != nil {
			t.Fatal(err)
		}
		return task, &out, &errb
	}

	task, out, errb := run("hash", "sha256", SampleKernelPath)
	exit, err := task.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st := <-exit
	if _, err := task.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	if st.ExitCode() != 0 {
		t.Errorf("entry sha256 exited %d: %s", st.ExitCode(), errb)
	}
	if want := testimage.SHA256(kernel) + "  " + SampleKernelPath; strings.TrimSpace(out.String()) != want {
		t.Errorf("in the container: %q, want %q", out, want)
	}

	run("left-running") // Stop must deal with it
	stopped = true
	start = time.Now()
	if err := d.Stop(); err != nil {
		t.Error(err)
	}
	t.Logf("stop with a running task %s", time.Since(start).Round(time.Millisecond))
	var left []string
	for _, id := range []string{"hash", "left-running"} {
		left = append(left, ShimSockets(d.Address, d.Namespace, id)...)
	}
	left = append(left, filepath.Join("/run/containerd/runc", d.Namespace), d.Dir)
	cg, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup/*", d.Namespace))
	left = append(left, cg...)
	for _, p := range left {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("left after Stop: %s", p)
		}
	}
}
