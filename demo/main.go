// Command demo is `make demo`: the whole artifactfs flow on one machine. It
// starts a private containerd, imports a sample unikernel image into the
// blockfile snapshotter, runs a container through the artifactfs shim
// (io.containerd.artifactfs.v2) with the snapshot-view annotations, shows
// the per-container path with the artifactfs CLI, deletes the container and
// shows that nothing is left.
//
// Usage: go run ./demo BIN_DIR (holding artifactfs and
// containerd-shim-artifactfs-v2).
package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/artifactfs/artifactfs/demo/say"
	"github.com/artifactfs/artifactfs/internal/ctrtest"
	"github.com/artifactfs/artifactfs/internal/testimage"
	"github.com/artifactfs/artifactfs/tests/harness"
)

const containerID = "unikernel-demo"

func main() { say.Main("demo", run) }

func run(binDir, work string) error {
	say.Step("Start a private containerd v2.4.2 (blockfile, overlayfs; runtime io.containerd.artifactfs.v2 on PATH)")
	e, stop, err := say.Start(binDir, work, ctrtest.Options{})
	if err != nil {
		return err
	}
	defer stop()
	root := e.Root
	cli := func(args ...string) error { return say.Show(filepath.Join(binDir, "artifactfs"), args...) }
	ctx, cancel := context.WithTimeout(e.D.Context(context.Background()), 5*time.Minute)
	defer cancel()
	fmt.Printf("containerd at %s, namespace %s\n", e.D.Address, e.Namespace)

	say.Step("Build a sample unikernel image (static entrypoint, 16 MiB kernel, initrd, urunc.json) and import it into blockfile")
	kernel := testimage.Payload(1, 16<<20)
	if err := e.ImportSample(ctx, harness.Sample{Name: "docker.io/library/unikernel-demo:latest", Kernel: kernel, Initrd: testimage.Payload(2, 4<<20)}); err != nil {
		return err
	}
	fmt.Printf("imported %s\n", e.Image.Name())

	say.Step("Create the container with runtime io.containerd.artifactfs.v2 and the snapshot-view annotations")
	perContainer := e.Path(containerID)
	k, err := e.NewContainer(ctx, harness.Container{ID: containerID, Annotations: harness.Gated(nil), Bind: true})
	if err != nil {
		return err
	}
	if err := k.Create(ctx); err != nil {
		_ = k.Delete(ctx)
		return err
	}
	fmt.Printf("Create (view + mount + state + runc create) took %s\n", k.Created.Round(time.Millisecond))

	say.Step("What the shim serves: artifactfs status, then ls and cat on the per-container path")
	_ = cli("status", "--root", root)
	_ = cli("ls", "--dir", perContainer)
	_ = cli("cat", "--dir", perContainer, "config")
	fmt.Println()
	_ = say.Show("find", perContainer)
	_ = say.Show("grep", root, "/proc/self/mounts")

	say.Step("Run it: the container reads the artifacts through its bind of the per-container path (" + harness.ArtifactsDir + ")")
	code, err := k.Run(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("exit %d; sha256 from inside the container:\n%s%s", code, k.Stdout, k.Stderr)
	if want := testimage.SHA256(kernel); !strings.Contains(k.Stdout.String(), want+"  "+harness.ArtifactsDir+ctrtest.SampleKernelPath) {
		return fmt.Errorf("the container did not read the image's kernel (sha256 %s)", want)
	}
	fmt.Println("the kernel the container read is the image's kernel, byte for byte")

	say.Step("Delete the container; the shim releases mount, view and lease")
	if err := k.Delete(ctx); err != nil {
		return err
	}
	left := e.SettledLeftovers(ctx, 10*time.Second) // containerd runs the shim's delete command after it exits
	_ = cli("status", "--root", root)
	if len(left) > 0 {
		return fmt.Errorf("left behind: %s", strings.Join(left, "; "))
	}
	fmt.Println("nothing left: no view, lease, mount, loop device, per-container path or bundle")
	return nil
}
