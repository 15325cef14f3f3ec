package harness

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/artifactfs/artifactfs/internal/ctrtest"
	"github.com/artifactfs/artifactfs/internal/testimage"
)

// RuncWrapper writes, in dir, a script that appends its arguments to log
// and runs runc with them, for a CRI handler's BinaryName, and returns
// its path.
func RuncWrapper(dir, log string) (string, error) {
	runc, err := exec.LookPath("runc")
	if err != nil {
		return "", fmt.Errorf("runc wrapper: %w", err)
	}
	p := filepath.Join(dir, "runc-wrapper")
	script := fmt.Sprintf("#!/bin/sh\necho \"$*\" >> %q\nexec %q \"$@\"\n", log, runc)
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		return "", fmt.Errorf("runc wrapper: %w", err)
	}
	return p, nil
}

// ImportPodImages builds and imports into the CRI namespace the pause
// image, an app image named app (a sample unikernel image whose kernel
// and initrd are made from seed and seed+1; they and its urunc.json go to
// e.Kernel, e.Initrd and e.Config) and a plain sidecar image.
func (e *Env) ImportPodImages(ctx context.Context, app, sidecar string, seed uint64) error {
	entry, err := Entrypoint()
	if err != nil {
		return err
	}
	e.Kernel = testimage.Payload(seed, 3<<20+321)
	e.Initrd = testimage.Payload(seed+1, 500<<10+7)
	spec, err := ctrtest.SampleImage(app, e.Kernel, e.Initrd, entry, nil)
	if err != nil {
		return err
	}
	e.Config = spec.Files[ctrtest.SampleConfigPath].Data
	side := ctrtest.ImageSpec{Name: sidecar, Entrypoint: []string{ctrtest.SampleEntryPath},
		Files: map[string]ctrtest.File{ctrtest.SampleEntryPath: {Data: entry, Mode: 0o755}}}
	return e.ImportCRI(ctx, ctrtest.PauseImage(entry), spec, side)
}
