package harness

import (
	"context"
	"fmt"
	"os"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"

	"github.com/artifactfs/artifactfs/internal/ctrtest"
)

// Sample describes the sample unikernel image ImportSample imports
// (ctrtest.SampleImage): kernel, initrd and a urunc.json asking for the
// view.
type Sample struct {
	// Name is the image reference. Default ctrtest.DefaultImageName.
	Name string
	// Kernel and Initrd are the artifacts' content; a nil Initrd leaves
	// the initrd out.
	Kernel, Initrd []byte
	// NoEntrypoint leaves out the static entrypoint (Entrypoint), for an
	// image that only boots. Default false: containers of the image can
	// run Container.Args.
	NoEntrypoint bool
	// Snapshotters are the snapshotters it is unpacked into. Default
	// blockfile.
	Snapshotters []string
}

// ImportSample builds the sample image s and imports it (into ctx's
// namespace, else e.Namespace); it sets e.Image, e.Kernel, e.Initrd and
// e.Config.
func (e *Env) ImportSample(ctx context.Context, s Sample) error {
	var entry []byte
	if !s.NoEntrypoint {
		var err error
		if entry, err = Entrypoint(); err != nil {
			return err
		}
	}
	spec, err := ctrtest.SampleImage(s.Name, s.Kernel, s.Initrd, entry, nil)
	if err != nil {
		return err
	}
	if len(s.Snapshotters) == 0 {
		s.Snapshotters = []string{"blockfile"}
	}
	img, err := e.Import(ctx, spec, s.Snapshotters...)
	if err != nil {
		return err
	}
	e.Image, e.Kernel, e.Initrd = img, s.Kernel, s.Initrd
	e.Config = spec.Files[ctrtest.SampleConfigPath].Data
	return nil
}

// Import writes spec as an image tar in a temporary directory and imports
// it (into ctx's namespace, else e.Namespace), unpacked into snapshotters.
func (e *Env) Import(ctx context.Context, spec ctrtest.ImageSpec, snapshotters ...string) (client.Image, error) {
	dir, err := os.MkdirTemp("", "harness-image-")
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", spec.Name, err)
	}
	defer os.RemoveAll(dir)
	tarPath, err := ctrtest.BuildImage(dir, spec)
	if err != nil {
		return nil, err
	}
	return ctrtest.Import(e.ctx(ctx), e.D.Client(), tarPath, snapshotters...)
}

// ImportCRI imports each image into CRI's namespace, unpacked into
// blockfile, and waits until CRI knows it (a pod whose image CRI does not
// know yet would try to pull it). It needs CRI on.
func (e *Env) ImportCRI(ctx context.Context, specs ...ctrtest.ImageSpec) error {
	if e.CRI == nil {
		return fmt.Errorf("import for CRI: CRI is off")
	}
	ctx = namespaces.WithNamespace(ctx, ctrtest.CRINamespace)
	for _, spec := range specs {
		if _, err := e.Import(ctx, spec, "blockfile"); err != nil {
			return err
		}
		if err := e.CRI.WaitImage(ctx, spec.Name); err != nil {
			return err
		}
	}
	return nil
}
