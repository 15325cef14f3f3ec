package ctrd

import (
	"context"
	"fmt"

	"github.com/artifactfs/artifactfs/bench/internal/host"
	"github.com/artifactfs/artifactfs/internal/artifact"
	"github.com/artifactfs/artifactfs/internal/ctrtest"
	"github.com/artifactfs/artifactfs/tests/harness"
)

// What the containerd sections run: the artifactfs shim on blockfile, with
// an image holding a kernel of the measured size and a fixed initrd.
const (
	Runtime     = ctrtest.ArtifactfsRuntime
	Snapshotter = "blockfile"
	ImageName   = "docker.io/library/artifactfs-bench:latest"
	InitrdMiB   = 4
	ReadBuf     = 1 << 20 // a VMM-like reader's read size
	// ScratchExtraMiB is what a daemon's blockfile scratch file holds
	// beyond the kernel and its quarter (ScratchMiB).
	ScratchExtraMiB = 48 + InitrdMiB
)

// Annotations of a container that gets a view (Gated), and of one that
// never does (Plain: urunc keeps its copy path).
var (
	Gated = harness.Gated(nil)
	Plain = map[string]string{artifact.AnnotationSnapshotView: "false"}
)

// ScratchMiB is the size of blockfile's scratch file for a kernel of mib:
// every layer and every container's rootfs is a full copy of it.
func ScratchMiB(mib int) int { return mib + mib/4 + ScratchExtraMiB }

// Tools is what every containerd section needs once: the shim binary (a
// directory for the daemon's PATH) and the containers' static entrypoint.
type Tools struct {
	BinDir string // holds containerd-shim-artifactfs-v2
	Entry  []byte // the static entrypoint of the images
}

// PerKernel builds the tools (BuildTools) and runs fn for each kernel
// size of sizes in order, with its index. It stops at the first error,
// which names the size, or when ctx is done.
func PerKernel(ctx context.Context, repo string, sizes []int, fn func(t *Tools, i, mib int) error) error {
	t, err := BuildTools(repo)
	if err != nil {
		return err
	}
	for i, mib := range sizes {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(t, i, mib); err != nil {
			return fmt.Errorf("kernel %d MiB: %w", mib, err)
		}
	}
	return nil
}

// BuildTools builds the real shim (no build tags) from the repository at
// repo and the test entrypoint (harness.ShimDir, harness.Entrypoint), and
// checks that the containerd binaries are there.
func BuildTools(repo string) (*Tools, error) {
	host.Progress("building %s (harness.ShimDir)", harness.ShimName)
	bin, err := harness.ShimDir(repo)
	if err != nil {
		return nil, err
	}
	entry, err := harness.Entrypoint()
	if err != nil {
		return nil, err
	}
	if _, err := ctrtest.Binaries(); err != nil {
		return nil, fmt.Errorf("containerd binaries (make deps): %w", err)
	}
	return &Tools{BinDir: bin, Entry: entry}, nil
}
