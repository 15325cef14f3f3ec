package cri

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/artifactfs/artifactfs/internal/artifact"
	"github.com/artifactfs/artifactfs/internal/ctrtest"
	"github.com/artifactfs/artifactfs/internal/testimage"
	"github.com/artifactfs/artifactfs/tests/harness"
)

// repo is the repository's root, seen from this package's directory.
const repo = "../.."

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

// criEnv is a private containerd with CRI on (harness.Env: its CRI
// client, Root, and in Kernel, Initrd and Config the app image's
// artifacts), and the images of the suite imported into k8s.io.
type criEnv struct {
	*harness.Env
	// RuncLog is where optsHandler's runc wrapper appends its arguments.
	RuncLog string
	work    string
}

var (
	sharedOnce sync.Once
	shared     *criEnv
	sharedErr  error
)

// requireCapabilities skips, saying why, when the host cannot run the suite.
func requireCapabilities(t *testing.T) {
	t.Helper()
	testimage.RequireRoot(t, "containerd with CRI, runc, FUSE and loop mounts")
	testimage.RequireTools(t, "mkfs.ext4", "runc")
	harness.RequireFUSE(t)
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
	e := &criEnv{}
	if e.work, err = os.MkdirTemp("", "cri-env-"); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = e.stop()
		}
	}()
	if err := os.Mkdir(filepath.Join(e.work, "d"), 0o711); err != nil {
		return nil, err
	}
	e.RuncLog = filepath.Join(e.work, "runc-wrapper.log")
	wrapper, err := harness.RuncWrapper(e.work, e.RuncLog)
	if err != nil {
		return nil, err
	}
	handlers := append([]ctrtest.CRIHandler{
		{Name: handler, PodAnnotations: unikernelAnnotations, ContainerAnnotations: unikernelAnnotations},
		{Name: optsHandler, PodAnnotations: unikernelAnnotations, ContainerAnnotations: unikernelAnnotations,
			Options: map[string]any{"BinaryName": wrapper}},
	}, o.Handlers...)
	e.Env, err = harness.Start(context.Background(), harness.Options{
		Repo: repo,
		Root: filepath.Join(e.work, "run-artifactfs"),
		Daemon: ctrtest.Options{
			Dir: filepath.Join(e.work, "d"),
			CRI: &ctrtest.CRIOptions{PauseImage: ctrtest.PauseImageName, Handlers: handlers},
		},
	})
	if err != nil {
		return nil, err
	}
	return e, e.importImages()
}

// importImages builds and imports the pause, app and sidecar images.
func (e *criEnv) importImages() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return e.ImportPodImages(ctx, appImage, sidecarImage, 41)
}

// stop stops the env (harness.Env.Stop) and removes the work dir.
func (e *criEnv) stop() error {
	var errs []error
	if e.Env != nil {
		errs = append(errs, e.Env.Stop())
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
