package cri

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/pkg/namespaces"

	"github.com/artifactfs/artifactfs/internal/artifact"
	"github.com/artifactfs/artifactfs/internal/ctrtest"
	"github.com/artifactfs/artifactfs/internal/shimtest"
	"github.com/artifactfs/artifactfs/internal/testimage"
	"github.com/artifactfs/artifactfs/shimglue"
)

// The handlers every env has, and the images it imports.
const (
	// handler runs artifactfs's shim with the urunc annotations allowed.
	handler = "artifactfs"
	// optsHandler is handler plus an options table whose BinaryName is a
	// wrapper script around runc that logs its arguments (criEnv.RuncLog).
	optsHandler = "artifactfs-opts"

	appImage     = "docker.io/library/artifactfs-cri-app:test"
	sidecarImage = "docker.io/library/artifactfs-cri-sidecar:test"
)

// unikernelAnnotations is the allow-list of the handlers.
var unikernelAnnotations = []string{artifact.AnnotationPrefix + "*"}

// envOptions configure an env beyond the default handlers.
type envOptions struct {
	// Handlers are added to handler and optsHandler, e.g. one whose
	// Options set BinaryName to another runtime.
	Handlers []ctrtest.CRIHandler
}

// criEnv is a private containerd with CRI on, its CRI client, and the
// images of the suite imported into k8s.io.
type criEnv struct {
	D    *ctrtest.Daemon
	C    *ctrtest.CRIClient
	Root string // ARTIFACTFS_ROOT of the daemon's shims
	// Kernel, Initrd and Config are the app image's artifacts.
	Kernel, Initrd, Config []byte
	// RuncLog is where optsHandler's runc wrapper appends its arguments.
	RuncLog string
	work    string
}

var (
	sharedOnce sync.Once
	shared     *criEnv
	sharedErr  error
	entryOnce  sync.Once
	entry      []byte
	entryErr   error
)

// requireCapabilities skips, saying why, when the host cannot run the suite.
func requireCapabilities(t *testing.T) {
	t.Helper()
	testimage.RequireRoot(t, "containerd with CRI, runc, FUSE and loop mounts")
	testimage.RequireTools(t, "mkfs.ext4", "runc")
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skipf("no /dev/fuse: %v", err)
	}
}

// sharedEnv returns the env of the tests that need only the default
// handlers, starting it on first use; TestMain stops it.
func sharedEnv(t *testing.T) *criEnv {
	t.Helper()
	requireCapabilities(t)
	sharedOnce.Do(func() { shared, sharedErr = startEnv(envOptions{}) })
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("containerd log tail:\n%s", shared.D.LogTail(8192))
		}
	})
	return shared
}

func stopShared() error {
	if shared == nil {
		return nil
	}
	return shared.stop()
}

// newEnv starts an env of the test's own, stopped at cleanup.
func newEnv(t *testing.T, o envOptions) *criEnv {
	t.Helper()
	requireCapabilities(t)
	e, err := startEnv(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("containerd log tail:\n%s", e.D.LogTail(8192))
		}
		if err := e.stop(); err != nil {
			t.Errorf("stop the env: %v", err)
		}
	})
	return e
}

// startEnv builds the test shim, starts the daemon with the handlers and
// imports the pause, app and sidecar images into k8s.io (blockfile).
func startEnv(o envOptions) (_ *criEnv, err error) {
	shimDir, err := shimtest.ShimDir("../..")
	if err != nil {
		return nil, err
	}
	entryOnce.Do(func() {
		dir, err := os.MkdirTemp("", "cri-entry-")
		if err != nil {
			entryErr = err
			return
		}
		defer os.RemoveAll(dir)
		entry, entryErr = ctrtest.Entrypoint(dir)
	})
	if entryErr != nil {
		return nil, entryErr
	}
	e := &criEnv{}
	if e.work, err = os.MkdirTemp("", "cri-env-"); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = e.stop()
		}
	}()
	e.Root = filepath.Join(e.work, "run-artifactfs")
	if err := os.Mkdir(filepath.Join(e.work, "d"), 0o711); err != nil {
		return nil, err
	}
	e.RuncLog = filepath.Join(e.work, "runc-wrapper.log")
	wrapper, err := e.writeRuncWrapper()
	if err != nil {
		return nil, err
	}
	handlers := append([]ctrtest.CRIHandler{
		{Name: handler, PodAnnotations: unikernelAnnotations, ContainerAnnotations: unikernelAnnotations},
		{Name: optsHandler, PodAnnotations: unikernelAnnotations, ContainerAnnotations: unikernelAnnotations,
			Options: map[string]any{"BinaryName": wrapper}},
	}, o.Handlers...)

	e.D, err = ctrtest.Start(context.Background(), ctrtest.Options{
		Dir:       filepath.Join(e.work, "d"),
		ExtraPath: []string{shimDir},
		Env:       []string{shimglue.RootEnv + "=" + e.Root},
		CRI:       &ctrtest.CRIOptions{PauseImage: ctrtest.PauseImageName, Handlers: handlers},
	})
	if err != nil {
		return nil, err
	}
	if e.C, err = e.D.NewCRIClient(); err != nil {
		return nil, err
	}
	return e, e.importImages()
}

// writeRuncWrapper writes the script optsHandler's BinaryName names.
func (e *criEnv) writeRuncWrapper() (string, error) {
	runc, err := exec.LookPath("runc")
	if err != nil {
		return "", fmt.Errorf("runc wrapper: %w", err)
	}
	p := filepath.Join(e.work, "runc-wrapper")
	script := fmt.Sprintf("#!/bin/sh\necho \"$*\" >> %q\nexec %q \"$@\"\n", e.RuncLog, runc)
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		return "", fmt.Errorf("runc wrapper: %w", err)
	}
	return p, nil
}

// importImages builds and imports the pause, app and sidecar images.
func (e *criEnv) importImages() error {
	ctx, cancel := context.WithTimeout(namespaces.WithNamespace(context.Background(), ctrtest.CRINamespace), 2*time.Minute)
	defer cancel()
	e.Kernel = testimage.Payload(41, 3<<20+321)
	e.Initrd = testimage.Payload(42, 500<<10+7)
	app, err := ctrtest.SampleImage(appImage, e.Kernel, e.Initrd, entry, nil)
	if err != nil {
		return err
	}
	e.Config = app.Files[ctrtest.SampleConfigPath].Data
	sidecar := ctrtest.ImageSpec{Name: sidecarImage, Entrypoint: []string{ctrtest.SampleEntryPath},
		Files: map[string]ctrtest.File{ctrtest.SampleEntryPath: {Data: entry, Mode: 0o755}}}
	for i, spec := range []ctrtest.ImageSpec{ctrtest.PauseImage(entry), app, sidecar} {
		dir := filepath.Join(e.work, fmt.Sprintf("image-%d", i))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		tarPath, err := ctrtest.BuildImage(dir, spec)
		if err != nil {
			return err
		}
		if _, err := ctrtest.Import(ctx, e.D.Client(), tarPath, "blockfile"); err != nil {
			return err
		}
		if err := e.C.WaitImage(ctx, spec.Name); err != nil {
			return err
		}
	}
	return nil
}

// stop closes the client and stops the daemon, and removes the work dir.
func (e *criEnv) stop() error {
	var errs []error
	if e.C != nil {
		_ = e.C.Close()
	}
	if e.D != nil {
		errs = append(errs, e.D.Stop())
	}
	errs = append(errs, os.RemoveAll(e.work))
	return errors.Join(errs...)
}

// ctx is a context bounded for one test.
func (e *criEnv) ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// path is container id's per-container path.
func (e *criEnv) path(id string) string { return filepath.Join(e.Root, ctrtest.CRINamespace, id) }

// bundle is container id's bundle.
func (e *criEnv) bundle(id string) string {
	return filepath.Join(e.D.State, "io.containerd.runtime.v2.task", ctrtest.CRINamespace, id)
}
