package ctrtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// CRIClient talks CRI (k8s.io/cri-api v1) to a daemon started with
// Options.CRI, over its gRPC socket, as the kubelet would.
type CRIClient struct {
	// Runtime and Images are the raw CRI services.
	Runtime runtimeapi.RuntimeServiceClient
	Images  runtimeapi.ImageServiceClient

	d    *Daemon
	conn *grpc.ClientConn
}

// NewCRIClient connects to d's CRI services. Close it when done.
func (d *Daemon) NewCRIClient() (*CRIClient, error) {
	conn, err := grpc.NewClient("unix://"+d.Address, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("cri client: %w", err)
	}
	return &CRIClient{
		Runtime: runtimeapi.NewRuntimeServiceClient(conn),
		Images:  runtimeapi.NewImageServiceClient(conn),
		d:       d, conn: conn,
	}, nil
}

// Close closes the connection.
func (c *CRIClient) Close() error { return c.conn.Close() }

// WaitImage waits until CRI's image store knows ref: it learns of an
// image imported through containerd's API from an event, a moment later,
// and a pod whose sandbox image it does not know yet would try to pull it.
func (c *CRIClient) WaitImage(ctx context.Context, ref string) error {
	for deadline := time.Now().Add(10 * time.Second); ; {
		resp, err := c.Images.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: ref}})
		if err == nil && resp.GetImage() != nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cri image status %s: not known after 10s (last error: %v)", ref, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// PodOptions describe a pod for RunPod.
type PodOptions struct {
	// Name is the pod's name (namespace "default"). Required.
	Name string
	// Handler is the runtime handler (a RuntimeClass's handler). Empty:
	// CRI's default runtime.
	Handler string
	// Annotations are the pod's annotations.
	Annotations map[string]string
}

// Pod is a running pod sandbox.
type Pod struct {
	// ID is the sandbox id: the pause container's id, and the id the
	// pod's shim runs under.
	ID string
	// Config is the sandbox config RunPod sent; containers need it.
	Config *runtimeapi.PodSandboxConfig
	// Handler is the runtime handler it runs with.
	Handler string
	// CgroupParent is the pod's own cgroup parent, relative to each
	// hierarchy's root; RemovePod removes it.
	CgroupParent string
	// LogDir holds its containers' logs; RemovePod removes it.
	LogDir string
}

// RunPod runs a host-network pod (no CNI needed) with a cgroup parent of
// its own and a log directory under the daemon's work directory.
func (c *CRIClient) RunPod(ctx context.Context, o PodOptions) (*Pod, error) {
	uid := randomHex(8)
	p := &Pod{
		Handler:      o.Handler,
		CgroupParent: "/ctrtest-pod-" + uid,
		LogDir:       filepath.Join(c.d.Dir, "pods", o.Name+"-"+uid),
	}
	if err := os.MkdirAll(p.LogDir, 0o755); err != nil {
		return nil, fmt.Errorf("run pod %s: %w", o.Name, err)
	}
	p.Config = &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: o.Name, Uid: uid, Namespace: "default"},
		LogDirectory: p.LogDir,
		Annotations:  o.Annotations,
		Labels:       map[string]string{"ctrtest": "cri"},
		Linux: &runtimeapi.LinuxPodSandboxConfig{
			CgroupParent: p.CgroupParent,
			SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
				NamespaceOptions: &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE},
			},
		},
	}
	resp, err := c.Runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: p.Config, RuntimeHandler: o.Handler})
	if err != nil {
		c.removePodDirs(p)
		return nil, fmt.Errorf("run pod %s: %w", o.Name, err)
	}
	p.ID = resp.GetPodSandboxId()
	return p, nil
}

// ContainerOptions describe an app container for CreateContainer.
type ContainerOptions struct {
	// Name is the container's name in the pod. Required.
	Name string
	// Image is the image reference, known to CRI. Required.
	Image string
	// Command and Args override the image's entrypoint and command.
	Command, Args []string
	// Annotations are the container's annotations.
	Annotations map[string]string
}

// CreateContainer creates an app container in pod and returns its id. Its
// task (the shim's Create) only comes with StartContainer.
func (c *CRIClient) CreateContainer(ctx context.Context, pod *Pod, o ContainerOptions) (string, error) {
	resp, err := c.Runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{
		PodSandboxId:  pod.ID,
		SandboxConfig: pod.Config,
		Config: &runtimeapi.ContainerConfig{
			Metadata:    &runtimeapi.ContainerMetadata{Name: o.Name},
			Image:       &runtimeapi.ImageSpec{Image: o.Image},
			Command:     o.Command,
			Args:        o.Args,
			Annotations: o.Annotations,
			LogPath:     o.Name + ".log",
			Linux:       &runtimeapi.LinuxContainerConfig{},
		},
	})
	if err != nil {
		return "", fmt.Errorf("create container %s in pod %s: %w", o.Name, pod.Config.GetMetadata().GetName(), err)
	}
	return resp.GetContainerId(), nil
}

// StartContainer starts container id: containerd creates its task (the
// shim's Create) and starts it.
func (c *CRIClient) StartContainer(ctx context.Context, id string) error {
	if _, err := c.Runtime.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: id}); err != nil {
		return fmt.Errorf("start container %s: %w", id, err)
	}
	return nil
}

// RunContainer creates and starts an app container in pod.
func (c *CRIClient) RunContainer(ctx context.Context, pod *Pod, o ContainerOptions) (string, error) {
	id, err := c.CreateContainer(ctx, pod, o)
	if err != nil {
		return "", err
	}
	if err := c.StartContainer(ctx, id); err != nil {
		return id, err
	}
	return id, nil
}

// RemoveContainer stops container id (SIGTERM, SIGKILL after 5s) and
// removes it, as `crictl stop` and `crictl rm` do.
func (c *CRIClient) RemoveContainer(ctx context.Context, id string) error {
	if _, err := c.Runtime.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: id, Timeout: 5}); err != nil {
		return fmt.Errorf("stop container %s: %w", id, err)
	}
	if _, err := c.Runtime.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: id}); err != nil {
		return fmt.Errorf("remove container %s: %w", id, err)
	}
	return nil
}

// ContainerState returns the CRI state of container id.
func (c *CRIClient) ContainerState(ctx context.Context, id string) (runtimeapi.ContainerState, error) {
	resp, err := c.Runtime.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id})
	if err != nil {
		return 0, fmt.Errorf("container status %s: %w", id, err)
	}
	return resp.GetStatus().GetState(), nil
}

// Containers lists the ids of pod's containers (not its sandbox).
func (c *CRIClient) Containers(ctx context.Context, pod *Pod) ([]string, error) {
	resp, err := c.Runtime.ListContainers(ctx, &runtimeapi.ListContainersRequest{
		Filter: &runtimeapi.ContainerFilter{PodSandboxId: pod.ID},
	})
	if err != nil {
		return nil, fmt.Errorf("list containers of pod %s: %w", pod.ID, err)
	}
	var ids []string
	for _, ct := range resp.GetContainers() {
		ids = append(ids, ct.GetId())
	}
	return ids, nil
}

// RemovePod stops and removes the pod with whatever containers it still
// has, as `crictl stopp` and `crictl rmp` do, then removes its cgroup
// parent from every hierarchy and its log directory. It is idempotent.
func (c *CRIClient) RemovePod(ctx context.Context, pod *Pod) error {
	var errs []error
	if pod.ID != "" {
		if _, err := c.Runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: pod.ID}); err != nil {
			errs = append(errs, fmt.Errorf("stop pod %s: %w", pod.ID, err))
		}
		if _, err := c.Runtime.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: pod.ID}); err != nil {
			errs = append(errs, fmt.Errorf("remove pod %s: %w", pod.ID, err))
		}
	}
	c.removePodDirs(pod)
	return errors.Join(errs...)
}

// removePodDirs removes pod's cgroup parent (empty once its containers
// are gone), its log directory, and runc's state directory of CRI's
// namespace when it is empty (no pod of any daemon left in it).
func (c *CRIClient) removePodDirs(pod *Pod) {
	for _, ctl := range cgroupControllers() {
		RmdirTree(filepath.Join(ctl, pod.CgroupParent))
	}
	_ = os.RemoveAll(pod.LogDir)
	_ = syscall.Rmdir(filepath.Join("/run/containerd/runc", CRINamespace))
}

// CgroupDirs lists the directories of pod's cgroup parent that exist,
// in every hierarchy: nothing once RemovePod ran.
func CgroupDirs(pod *Pod) []string {
	var out []string
	for _, ctl := range cgroupControllers() {
		p := filepath.Join(ctl, pod.CgroupParent)
		if _, err := os.Stat(p); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// criDirs makes the directories criConfig names: an empty CNI
// configuration directory and an empty CNI plugin directory.
func criDirs(w string) error {
	for _, dir := range []string{filepath.Join(w, "cni", "net.d"), filepath.Join(w, "cni", "bin")} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("cri dirs: %w", err)
		}
	}
	return nil
}
