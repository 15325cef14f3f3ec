//go:build linux

// Command containerd-shim-artifactfs-v2 is runc's v2 shim with its task
// service wrapped by shimglue: runtime type io.containerd.artifactfs.v2.
// For a container whose annotations (or urunc.json) ask for a snapshot view
// it serves the kernel, initrd and urunc.json read-only at
// /run/artifactfs/<namespace>/<container-id> before the container is
// created, and releases everything when it is deleted.
//
// Environment (inherited from containerd): ARTIFACTFS_ROOT moves the
// per-container paths, ARTIFACTFS_STRICT=1 fails Create when the view
// cannot be served, ARTIFACTFS_DIRECT=1 reads block views without mounting
// them.
package main

import (
	"context"
	"os"

	"github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2/manager"
	"github.com/containerd/containerd/v2/pkg/shim"

	"github.com/artifactfs/artifactfs/shimglue"
	"github.com/artifactfs/artifactfs/shimglue/plugin" // the wrapped "task" plugin
)

func main() {
	// A serving shim starts on its container at once (see plugin.StartEarly).
	plugin.StartEarly(os.Args[1:])
	// The delete command's stderr ends up in containerd's log as warnings.
	stopLog := shimglue.ShimLogger(os.Stderr)
	m := manager.NewShimManager("io.containerd.artifactfs.v2")
	shim.RunShim(context.Background(), shimglue.WrapManager(m, append(shimglue.OptionsFromEnv(), shimglue.WithLogger(stopLog))...))
}
