// Command k8s is `make demo-k8s`: artifactfs on Kubernetes' path, on one
// machine. It starts a private containerd with its CRI plugin and a
// runtime handler "artifactfs" (artifactfs's shim, the urunc annotations
// allowed), runs a host-network pod with the unikernel annotations and a
// unikernel app container through the CRI API — what the kubelet does —
// shows the container's per-container path with the artifactfs CLI,
// removes the pod and shows that nothing is left.
//
// Usage: go run ./internal/demo/k8s BIN_DIR (holding artifactfs and
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

	"github.com/containerd/containerd/v2/pkg/namespaces"

	"github.com/artifactfs/artifactfs/internal/artifact"
	"github.com/artifactfs/artifactfs/internal/ctrtest"
	"github.com/artifactfs/artifactfs/internal/demo/say"
	"github.com/artifactfs/artifactfs/internal/testimage"
	"github.com/artifactfs/artifactfs/shimglue"
)

const (
	handler  = "artifactfs"
	appImage = "docker.io/library/unikernel-demo:latest"
	shimName = "containerd-shim-artifactfs-v2"
)

func main() { say.Main("demo-k8s", run) }

func run(binDir string) error {
	work, err := os.MkdirTemp("", "artifactfs-k8s-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	root := filepath.Join(work, "run-artifactfs")
	dDir := filepath.Join(work, "d")
	if err := os.Mkdir(dDir, 0o711); err != nil {
		return err
	}

	say.Step("Start a private containerd v2.4.2 with CRI: handler \"artifactfs\" = io.containerd.artifactfs.v2, snapshotter blockfile, pod/container annotations com.urunc.unikernel.*")
	allow := []string{artifact.AnnotationPrefix + "*"}
	d, err := ctrtest.Start(context.Background(), ctrtest.Options{Dir: dDir, ExtraPath: []string{binDir}, Env: []string{shimglue.RootEnv + "=" + root}, CRI: &ctrtest.CRIOptions{
		PauseImage: ctrtest.PauseImageName,
		Handlers:   []ctrtest.CRIHandler{{Name: handler, PodAnnotations: allow, ContainerAnnotations: allow}},
	}})
	if err != nil {
		return err
	}
	defer func() {
		say.Step("Stop containerd")
		if err := d.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "demo-k8s: stop containerd: %v\n", err)
		}
	}()
	cfg, _ := os.ReadFile(d.ConfigPath)
	fmt.Printf("the CRI part of %s:\n%s", d.ConfigPath, cfg[strings.Index(string(cfg), "  [plugins.'io.containerd.grpc.v1.cri']"):])
	c, err := d.NewCRIClient()
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	say.Step("Build a pause image and a unikernel image (16 MiB kernel, initrd, urunc.json) and import them into k8s.io (blockfile)")
	kernel, err := importImages(namespaces.WithNamespace(ctx, ctrtest.CRINamespace), d, c, work)
	if err != nil {
		return err
	}

	say.Step("Run the pod and its unikernel container through the CRI API, as the kubelet does")
	ann := map[string]string{artifact.AnnotationSnapshotView: "true", artifact.AnnotationMountRootfs: "true"}
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
	for _, sp := range ctrtest.ShimProcesses(shimName, d.Address) {
		fmt.Printf("shim pid %d -id %.13s (the pod's sandbox id)\n", sp.Pid, sp.ID)
	}
	cli := filepath.Join(binDir, "artifactfs")
	_ = say.Show(cli, "status", "--root", root)
	perContainer := filepath.Join(root, ctrtest.CRINamespace, id)
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
	if _, err := os.Stat(filepath.Join(root, ctrtest.CRINamespace, pod.ID)); err == nil {
		return fmt.Errorf("the pause container got a per-container path")
	}
	fmt.Printf("%s: none for the pause container\n", filepath.Join(root, ctrtest.CRINamespace, pod.ID[:13]+"..."))

	say.Step("Remove the pod: crictl stopp + crictl rmp")
	if err := c.RemovePod(ctx, pod); err != nil {
		return err
	}
	_ = say.Show(cli, "status", "--root", root)
	var left []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		left = d.Leftovers(namespaces.WithNamespace(ctx, ctrtest.CRINamespace), root, nil)
		for _, sp := range ctrtest.ShimProcesses(shimName, d.Address) {
			left = append(left, fmt.Sprintf("shim process %d", sp.Pid))
		}
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(left) > 0 {
		return fmt.Errorf("left behind: %s", strings.Join(left, "; "))
	}
	fmt.Println("nothing left: no view, lease, mount, loop device, per-container path, bundle or shim process")
	return nil
}

// importImages imports the pause image and the unikernel image, and
// returns the unikernel's kernel.
func importImages(ctx context.Context, d *ctrtest.Daemon, c *ctrtest.CRIClient, work string) ([]byte, error) {
	entry, err := ctrtest.Entrypoint(work)
	if err != nil {
		return nil, err
	}
	kernel := testimage.Payload(1, 16<<20)
	app, err := ctrtest.SampleImage(appImage, kernel, testimage.Payload(2, 4<<20), entry, nil)
	if err != nil {
		return nil, err
	}
	for i, spec := range []ctrtest.ImageSpec{ctrtest.PauseImage(entry), app} {
		dir := filepath.Join(work, fmt.Sprintf("image-%d", i))
		if err := os.Mkdir(dir, 0o755); err != nil {
			return nil, err
		}
		tarPath, err := ctrtest.BuildImage(dir, spec)
		if err != nil {
			return nil, err
		}
		if _, err := ctrtest.Import(ctx, d.Client(), tarPath, "blockfile"); err != nil {
			return nil, err
		}
		if err := c.WaitImage(ctx, spec.Name); err != nil {
			return nil, err
		}
		fmt.Printf("imported %s\n", spec.Name)
	}
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
