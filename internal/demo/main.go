// Command demo is `make demo`: the whole artifactfs flow on one machine. It
// starts a private containerd, imports a sample unikernel image into the
// blockfile snapshotter, runs a container through the artifactfs shim
// (io.containerd.artifactfs.v2) with the snapshot-view annotations, shows
// the per-container path with the artifactfs CLI, deletes the container and
// shows that nothing is left.
//
// Usage: go run ./internal/demo BIN_DIR (holding artifactfs and
// containerd-shim-artifactfs-v2).
package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/artifactfs/artifactfs/internal/artifact"
	"github.com/artifactfs/artifactfs/internal/ctrtest"
	"github.com/artifactfs/artifactfs/internal/demo/say"
	"github.com/artifactfs/artifactfs/internal/testimage"
	"github.com/artifactfs/artifactfs/shimglue"
	"github.com/artifactfs/artifactfs/view"
)

const (
	containerID = "unikernel-demo"
	// artifactsDir is where the container sees the per-container path: the
	// bind source urunc would use for its monitor rootfs.
	artifactsDir = "/artifacts"
)

func main() { say.Main("demo", run) }

func run(binDir string) error {
	work, err := os.MkdirTemp("", "artifactfs-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	root := filepath.Join(work, "run-artifactfs")
	cli := func(args ...string) error { return say.Show(filepath.Join(binDir, "artifactfs"), args...) }

	say.Step("Start a private containerd v2.4.2 (blockfile, overlayfs; runtime io.containerd.artifactfs.v2 on PATH)")
	d, err := ctrtest.Start(context.Background(), ctrtest.Options{Dir: work, ExtraPath: []string{binDir}, Env: []string{shimglue.RootEnv + "=" + root}})
	if err != nil {
		return err
	}
	defer func() {
		say.Step("Stop containerd")
		if err := d.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "demo: stop containerd: %v\n", err)
		}
	}()
	ctx, cancel := context.WithTimeout(d.Context(context.Background()), 5*time.Minute)
	defer cancel()
	fmt.Printf("containerd at %s, namespace %s\n", d.Address, d.Namespace)

	say.Step("Build a sample unikernel image (static entrypoint, 16 MiB kernel, initrd, urunc.json) and import it into blockfile")
	entry, err := ctrtest.Entrypoint(work)
	if err != nil {
		return err
	}
	kernel := testimage.Payload(1, 16<<20)
	spec, err := ctrtest.SampleImage("docker.io/library/unikernel-demo:latest", kernel, testimage.Payload(2, 4<<20), entry, nil)
	if err != nil {
		return err
	}
	tarPath, err := ctrtest.BuildImage(work, spec)
	if err != nil {
		return err
	}
	image, err := ctrtest.Import(ctx, d.Client(), tarPath, "blockfile")
	if err != nil {
		return err
	}
	fmt.Printf("imported %s\n", image.Name())

	say.Step("Create the container with runtime io.containerd.artifactfs.v2 and the snapshot-view annotations")
	perContainer := filepath.Join(root, d.Namespace, containerID)
	args := []string{ctrtest.SampleEntryPath, "sha256"}
	for _, p := range []string{ctrtest.SampleKernelPath, ctrtest.SampleInitrdPath, ctrtest.SampleConfigPath} {
		args = append(args, artifactsDir+p)
	}
	ctr, err := d.Client().NewContainer(ctx, containerID,
		client.WithSnapshotter("blockfile"),
		client.WithNewSnapshot(containerID+"-rootfs", image),
		client.WithRuntime("io.containerd.artifactfs.v2", nil),
		client.WithNewSpec(oci.WithImageConfig(image), oci.WithProcessArgs(args...),
			oci.WithAnnotations(map[string]string{
				artifact.AnnotationSnapshotView: "true",
				artifact.AnnotationMountRootfs:  "true",
			}),
			oci.WithMounts([]specs.Mount{{Destination: artifactsDir, Type: "bind", Source: perContainer, Options: []string{"rbind", "ro"}}})))
	if err != nil {
		return err
	}
	var stdout bytes.Buffer
	begin := time.Now()
	task, err := ctr.NewTask(ctx, cio.NewCreator(cio.WithStreams(nil, &stdout, os.Stderr)))
	if err != nil {
		ctr.Delete(ctx, client.WithSnapshotCleanup)
		return err
	}
	fmt.Printf("Create (view + mount + state + runc create) took %s\n", time.Since(begin).Round(time.Millisecond))

	say.Step("What the shim serves: artifactfs status, then ls and cat on the per-container path")
	_ = cli("status", "--root", root)
	_ = cli("ls", "--dir", perContainer)
	_ = cli("cat", "--dir", perContainer, "config")
	fmt.Println()
	_ = say.Show("find", perContainer)
	_ = say.Show("grep", root, "/proc/self/mounts")

	say.Step("Run it: the container reads the artifacts through its bind of the per-container path")
	statusC, err := task.Wait(ctx)
	if err != nil {
		return err
	}
	if err := task.Start(ctx); err != nil {
		return err
	}
	st := <-statusC
	if io := task.IO(); io != nil {
		io.Wait()
	}
	fmt.Printf("exit %d; sha256 from inside the container:\n%s", st.ExitCode(), stdout.String())
	if want := testimage.SHA256(kernel); !strings.Contains(stdout.String(), want+"  "+artifactsDir+ctrtest.SampleKernelPath) {
		return fmt.Errorf("the container did not read the image's kernel (sha256 %s)", want)
	}
	fmt.Println("the kernel the container read is the image's kernel, byte for byte")

	say.Step("Delete the container; the shim releases mount, view and lease")
	if _, err := task.Delete(ctx); err != nil {
		return err
	}
	if err := ctr.Delete(ctx, client.WithSnapshotCleanup); err != nil {
		return err
	}
	time.Sleep(500 * time.Millisecond) // containerd runs the shim's delete command after it exits
	_ = cli("status", "--root", root)
	found, err := view.List(ctx, d.Client(), d.Namespace)
	if err != nil {
		return err
	}
	fmt.Printf("artifactfs views and leases left in containerd: %d\n", len(found))
	mounts, _ := os.ReadFile("/proc/self/mounts")
	fmt.Printf("artifactfs mounts left: %d\n", strings.Count(string(mounts), root))
	if len(found) != 0 || strings.Contains(string(mounts), root) {
		return fmt.Errorf("something was left behind")
	}
	return nil
}
