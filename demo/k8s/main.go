// Command k8s is `make demo-k8s`: artifactfs on Kubernetes' path, on one
// machine. It starts a private containerd with its CRI plugin and a
// runtime handler "artifactfs" (artifactfs's shim, the urunc annotations
// allowed), runs a host-network pod with the unikernel annotations and a
// unikernel app container through the CRI API — what the kubelet does —
// shows the container's per-container path with the artifactfs CLI,
// removes the pod and shows that nothing is left.
//
// Usage: go run ./demo/k8s BIN_DIR (holding artifactfs and
// containerd-shim-artifactfs-v2).
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/artifactfs/artifactfs/demo/say"
	"github.com/artifactfs/artifactfs/internal/artifact"
	"github.com/artifactfs/artifactfs/internal/ctrtest"
	"github.com/artifactfs/artifactfs/internal/testimage"
	"github.com/artifactfs/artifactfs/tests/harness"
)

const (
	handler  = "artifactfs"
	appImage = "docker.io/library/unikernel-demo:latest"
)

func main() { say.Main("demo-k8s", run) }

func run(binDir, work string) error {
	say.Step("Start a private containerd v2.4.2 with CRI: handler \"artifactfs\" = io.containerd.artifactfs.v2, snapshotter blockfile, pod/container annotations com.urunc.unikernel.*")
	allow := []string{artifact.AnnotationPrefix + "*"}
	e, stop, err := say.Start(binDir, work, ctrtest.Options{CRI: &ctrtest.CRIOptions{
		PauseImage: ctrtest.PauseImageName,
		Handlers:   []ctrtest.CRIHandler{{Name: handler, PodAnnotations: allow, ContainerAnnotations: allow}},
	}})
	if err != nil {
		return err
	}
	defer stop()
	root := e.Root
	cfg, _ := os.ReadFile(e.D.ConfigPath)
	fmt.Printf("the CRI part of %s:\n%s", e.D.ConfigPath, cfg[strings.Index(string(cfg), "  [plugins.'io.containerd.grpc.v1.cri']"):])
	c := e.CRI
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	say.Step("Build a pause image and a unikernel image (16 MiB kernel, initrd, urunc.json) and import them into k8s.io (blockfile)")
	kernel, err := importImages(ctx, e)
	if err != nil {
		return err
	}

	say.Step("Run the pod and its unikernel container through the CRI API, as the kubelet does")
	ann := harness.Gated(nil)
	fmt.Printf("# crictl runp --runtime %s pod.json   (host network; annotations %v)\n", handler, ann)
	pod, err := c.RunPod(ctx, ctrtest.PodOptions{Name: "unikernel-demo", Handler: handler, Annotations: ann})
	if err != nil {
		return err
	}
	defer c.RemovePod(context.Background(), pod) // after a failure; idempotent
	fmt.Printf("pod %s\n", pod.ID)
	fmt.Printf("# crictl create %.13s container.json pod.json && crictl start <id>   (image %s)\n", pod.ID, appImage)
	begin := time.Now()
	id, err := c.RunContainer(ctx, pod, ctrtest.ContainerOptions{Name: "unikernel", Image: appImage})
	if err != nil {
		return err
	}
	fmt.Printf("container %s running after %s\n", id, time.Since(begin).Round(time.Millisecond))

	say.Step("One shim for the pod; the unikernel container has its artifacts, the pause container nothing")
	for _, sp := range e.ShimProcesses() {
		fmt.Printf("shim pid %d -id %.13s (the pod's sandbox id)\n", sp.Pid, sp.ID)
	}
	cli := filepath.Join(binDir, "artifactfs")
	_ = say.Show(cli, "status", "--root", root)
	perContainer := e.Path(id)
	_ = say.Show("find", perContainer)
	sum, err := sha256File(filepath.Join(perContainer, ctrtest.SampleKernelPath))
	if err != nil {
		return err
	}
	fmt.Printf("$ sha256sum %s\n%s\n", filepath.Join(perContainer, ctrtest.SampleKernelPath), sum)
	if sum != testimage.SHA256(kernel) {
		return fmt.Errorf("the kernel served is not the image's")
	}
	fmt.Println("the image's kernel, byte for byte")
	if _, err := os.Stat(e.Path(pod.ID)); err == nil {
		return fmt.Errorf("the pause container got a per-container path")
	}
	fmt.Printf("%s: none for the pause container\n", filepath.Join(root, ctrtest.CRINamespace, pod.ID[:13]+"..."))

	say.Step("Remove the pod: crictl stopp + crictl rmp")
	if err := c.RemovePod(ctx, pod); err != nil {
		return err
	}
	_ = say.Show(cli, "status", "--root", root)
	left := harness.Settle(10*time.Second, func() []string {
		left := e.Leftovers(ctx)
		for _, sp := range e.ShimProcesses() {
			left = append(left, fmt.Sprintf("shim process %d", sp.Pid))
		}
		return left
	})
	if len(left) > 0 {
		return fmt.Errorf("left behind: %s", strings.Join(left, "; "))
	}
	fmt.Println("nothing left: no view, lease, mount, loop device, per-container path, bundle or shim process")
	return nil
}

// importImages imports the pause image and the unikernel image for CRI,
// and returns the unikernel's kernel.
func importImages(ctx context.Context, e *harness.Env) ([]byte, error) {
	entry, err := harness.Entrypoint()
	if err != nil {
		return nil, err
	}
	kernel := testimage.Payload(1, 16<<20)
	app, err := ctrtest.SampleImage(appImage, kernel, testimage.Payload(2, 4<<20), entry, nil)
	if err != nil {
		return nil, err
	}
	if err := e.ImportCRI(ctx, ctrtest.PauseImage(entry), app); err != nil {
		return nil, err
	}
	fmt.Printf("imported %s and %s\n", ctrtest.PauseImageName, appImage)
	return kernel, nil
}

func sha256File(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
