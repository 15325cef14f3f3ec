package shim

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/artifactfs/artifactfs/artifactbind"
	"github.com/artifactfs/artifactfs/internal/ctrtest"
	"github.com/artifactfs/artifactfs/tests/harness"
)

// TestPermShim checks the permission model on what the shim itself makes:
// its root, even one that existed open to all, ends up 0700, so uid 65534
// reads nothing of a container's artifacts, while a monitor rootfs bound
// with artifactbind, as urunc binds it, serves them to that uid.
func TestPermShim(t *testing.T) {
	e := newShimEnv(t, shimOptions{})
	// Every directory above the root open to all: only the root's own
	// mode can keep other users out.
	for d := e.Root; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ctx := testCtx(t, e)
	st, err := create(t, ctx, e, harness.Container{ID: "perm", Annotations: shimGated, Args: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{e.Root, filepath.Dir(e.Path("perm"))} {
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: mode %v, %v; want 0700", d, fi.Mode().Perm(), err)
		}
	}
	if _, err := harness.ReadAs(t, filepath.Join(e.Path("perm"), ctrtest.SampleConfigPath)); err == nil ||
		!bytes.Contains(err.(*exec.ExitError).Stderr, []byte("Permission denied")) {
		t.Errorf("uid %d reading the per-container path: %v; want EACCES", harness.Nobody, err)
	}

	state, err := artifactbind.LoadState(e.Bundle("perm"))
	if err != nil {
		t.Fatal(err)
	}
	monitor := filepath.Join(t.TempDir(), "monRootfs")
	if err := os.MkdirAll(monitor, 0o755); err != nil {
		t.Fatal(err)
	}
	for d := monitor; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := artifactbind.BindArtifacts(state, monitor); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, a := range state.Artifacts {
			if err := syscall.Unmount(monitor+a.Path, syscall.MNT_DETACH); err != nil {
				t.Errorf("unmount %s: %v", monitor+a.Path, err)
			}
		}
	})
	got, err := harness.ReadAs(t, monitor+ctrtest.SampleConfigPath)
	if err != nil {
		t.Fatalf("uid %d reading the bound urunc.json: %v: %s", harness.Nobody, err, err.(*exec.ExitError).Stderr)
	}
	if !bytes.Equal(got, e.Config) {
		t.Errorf("uid %d read %q through the bind, want the image's urunc.json", harness.Nobody, got)
	}
	remove(t, ctx, st)
}
