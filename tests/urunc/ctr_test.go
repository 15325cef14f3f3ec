package urunc

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/artifactfs/artifactfs/internal/ctrtest"
	"github.com/artifactfs/artifactfs/internal/guest"
	"github.com/artifactfs/artifactfs/tests/harness"
)

// TestBootCtrRuntimeConfigPath selects the runtime the way an operator
// does with ctr: `ctr run --runtime io.containerd.artifactfs.v2
// --runtime-config-path FILE`, FILE a TOML with BinaryName (ctr sends it
// as runtimeoptions.v1.Options). ctr runs, waits, deletes the task and
// the container (--rm); the guest boots from the binds and nothing is
// left.
func TestBootCtrRuntimeConfigPath(t *testing.T) {
	e := newBootEnv(t, harness.Shared)
	id := "boot-ctr"
	cfg := filepath.Join(t.TempDir(), "runtime.toml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, "BinaryName = %q\n", e.Runtime), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"run", "--rm", "--snapshotter", "blockfile", "--runtime", ctrtest.ArtifactfsRuntime, "--runtime-config-path", cfg}
	for k, v := range viewOn {
		args = append(args, "--annotation", k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	var cmd *exec.Cmd
	var err error
	before := e.runtimeMounts(t, e.Bundle(id), nil)
	begin := time.Now()
	e.NS.Do(func() { // ctr's FIFOs in the daemon's namespace
		cmd = e.D.Ctr(append(args, bootImage, id)...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err = cmd.Start()
	})
	if err != nil {
		t.Fatalf("ctr run: %v", err)
	}
	w := e.watch(t, id, e.Bundle(id), before)
	waitErr := make(chan error, 1)
	go func() { waitErr <- cmd.Wait() }()
	select {
	case err = <-waitErr:
	case <-time.After(3 * time.Minute):
		_ = cmd.Process.Kill()
		err = <-waitErr
	}
	took := time.Since(begin)
	leaked, sawQemu := w.stop()
	if err != nil || !guest.Booted(stdout.String(), id) {
		t.Fatalf("ctr run: %v, marker %v\nconsole:\n%s\nstderr:\n%s", err, guest.Booted(stdout.String(), id), tail(stdout.String()), tail(stderr.String()))
	}
	if !sawQemu {
		t.Errorf("no qemu process seen for %s", id)
	}
	if len(leaked) > 0 {
		t.Errorf("the daemon's mount table gained %v while %s ran", leaked, id)
	}
	r, err := guest.ReadRecord(e.Records, id)
	if err != nil {
		t.Fatal(err)
	}
	if r.Mode != "bind" || r.StatePath != e.Path(id) {
		t.Errorf("hook record: mode %q from %q (state error %q); want bind from %s", r.Mode, r.StatePath, r.StateError, e.Path(id))
	}
	if pids := guest.QemuPids(id); len(pids) > 0 {
		t.Errorf("qemu of %s still running after ctr run --rm: %v", id, pids)
	}
	t.Logf("ctr run --rm (create, boot, delete) took %s: %q", took.Round(time.Millisecond), lastMarker(stdout.String()))
	e.CheckNoLeaks(t, "after ctr run --rm")
}
