//go:build compat

package compat

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/artifactfs/artifactfs/internal/artifact"
	"github.com/artifactfs/artifactfs/internal/ctrtest"
	"github.com/artifactfs/artifactfs/internal/testimage"
	"github.com/artifactfs/artifactfs/tests/harness"
)

// The CRI handlers of the pod daemon, and its images.
const (
	// handler runs artifactfs's shim with the urunc annotations allowed.
	handler = "artifactfs"
	// optsHandler is handler with an options table whose BinaryName is a
	// wrapper around runc that logs its arguments (podEnv.runcLog).
	optsHandler = "artifactfs-opts"

	appImage     = "docker.io/library/artifactfs-compat-app:test"
	sidecarImage = "docker.io/library/artifactfs-compat-sidecar:test"
)

// startPlain starts a daemon of version v with CRI off and the sample
// image imported into blockfile and overlayfs, and records the table's
// "daemon" row: its start and import, failed also when its stop fails or
// leaves something. It returns nil when it could not start.
func startPlain(t *testing.T, v string) *harness.Env {
	begin := time.Now()
	e, err := harness.Start(context.Background(), harness.Options{Repo: repo, Daemon: ctrtest.Options{Version: v}})
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		err = e.ImportSample(ctx, harness.Sample{
			Name:         "docker.io/library/artifactfs-compat:test",
			Kernel:       testimage.Payload(51, 3<<20+77),
			Initrd:       testimage.Payload(52, 600<<10+5),
			Snapshotters: []string{"blockfile", "overlayfs"},
		})
		cancel()
		if err != nil {
			err = errors.Join(err, e.Stop())
		}
	}
	took := time.Since(begin)
	if err != nil {
		t.Errorf("containerd %s: %v", v, err)
		table.set(v, "daemon", result{state: "FAIL", took: took})
		return nil
	}
	table.set(v, "daemon", result{state: "pass", took: took})
	t.Logf("containerd %s up, sample image imported, in %s", v, took.Round(time.Millisecond))
	t.Cleanup(func() {
		if !stopEnv(t, e, nil) {
			table.set(v, "daemon", result{state: "FAIL"})
		}
	})
	return e
}

// stopEnv checks that nothing is left (extra adds more to look for),
// stops e and reports whether all went well.
func stopEnv(t *testing.T, e *harness.Env, extra func() []string) bool {
	ok := true
	left := harness.Settle(10*time.Second, func() []string {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		l := e.Leftovers(ctx)
		if extra != nil {
			l = append(l, extra()...)
		}
		return l
	})
	for _, l := range left {
		t.Errorf("containerd %s: left behind at the end: %s", e.D.Version, l)
		ok = false
	}
	if err := e.Stop(); err != nil {
		t.Errorf("containerd %s: %v", e.D.Version, err)
		ok = false
	}
	return ok
}

// podEnv is a daemon with CRI on, the handlers handler and optsHandler,
// and the pause, app and sidecar images imported into k8s.io.
type podEnv struct {
	*harness.Env
	// runcLog is where optsHandler's runc wrapper appends its arguments.
	runcLog string
	work    string
}

// startCRI starts the pod daemon of version v and records the table's
// "cri daemon" row as startPlain does; nil when it could not start.
func startCRI(t *testing.T, v string) *podEnv {
	begin := time.Now()
	e, err := newPodEnv(v)
	took := time.Since(begin)
	if err != nil {
		t.Errorf("containerd %s with CRI: %v", v, err)
		table.set(v, "cri daemon", result{state: "FAIL", took: took})
		return nil
	}
	table.set(v, "cri daemon", result{state: "pass", took: took})
	t.Logf("containerd %s with CRI up, images imported, in %s", v, took.Round(time.Millisecond))
	t.Cleanup(func() {
		ok := stopEnv(t, e.Env, e.shimProcesses)
		if err := os.RemoveAll(e.work); err != nil {
			t.Error(err)
			ok = false
		}
		if !ok {
			table.set(v, "cri daemon", result{state: "FAIL"})
		}
	})
	return e
}

// newPodEnv starts what startCRI records.
func newPodEnv(v string) (_ *podEnv, err error) {
	e := &podEnv{}
	if e.work, err = os.MkdirTemp("", "compat-cri-"); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			if e.Env != nil {
				err = errors.Join(err, e.Env.Stop())
			}
			err = errors.Join(err, os.RemoveAll(e.work))
		}
	}()
	if err := os.Mkdir(filepath.Join(e.work, "d"), 0o711); err != nil {
		return nil, err
	}
	e.runcLog = filepath.Join(e.work, "runc-wrapper.log")
	wrapper, err := harness.RuncWrapper(e.work, e.runcLog)
	if err != nil {
		return nil, err
	}
	allow := []string{artifact.AnnotationPrefix + "*"}
	e.Env, err = harness.Start(context.Background(), harness.Options{
		Repo: repo,
		Root: filepath.Join(e.work, "root"),
		Daemon: ctrtest.Options{
			Version: v,
			Dir:     filepath.Join(e.work, "d"),
			CRI: &ctrtest.CRIOptions{PauseImage: ctrtest.PauseImageName, Handlers: []ctrtest.CRIHandler{
				{Name: handler, PodAnnotations: allow, ContainerAnnotations: allow},
				{Name: optsHandler, PodAnnotations: allow, ContainerAnnotations: allow,
					Options: map[string]any{"BinaryName": wrapper}},
			}},
		},
	})
	if err != nil {
		return nil, err
	}
	return e, e.importImages()
}

// importImages builds and imports the pause, app and sidecar images.
func (e *podEnv) importImages() error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	return e.ImportPodImages(ctx, appImage, sidecarImage, 61)
}

// shimProcesses lists the daemon's artifactfs shims still running.
func (e *podEnv) shimProcesses() []string {
	var out []string
	for _, sp := range e.ShimProcesses() {
		out = append(out, fmt.Sprintf("shim process %d (%s)", sp.Pid, sp.ID))
	}
	return out
}

// cli runs the artifactfs CLI with args, bounded in time, and returns its
// stdout; it fails the test on a non-zero exit.
func cli(t *testing.T, args ...string) []byte {
	t.Helper()
	bin, err := harness.CLI(repo)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("artifactfs %v: %v: %s", args, err, stderr.Bytes())
	}
	return stdout.Bytes()
}
