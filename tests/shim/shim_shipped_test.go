package shim

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/artifactfs/artifactfs/artifactbind"
	"github.com/artifactfs/artifactfs/internal/ctrtest"
	"github.com/artifactfs/artifactfs/internal/testimage"
	"github.com/artifactfs/artifactfs/shimglue"
	"github.com/artifactfs/artifactfs/tests/harness"
)

// shimEveryStep names every step a fault-injection build can fail.
var shimEveryStep = []shimglue.Step{
	shimglue.StepPending, shimglue.StepPrepare, shimglue.StepMountView, shimglue.StepOpen,
	shimglue.StepResolve, shimglue.StepFUSE, shimglue.StepBind, shimglue.StepCopy,
	shimglue.StepState, shimglue.StepCreate,
}

// TestShimShippedIgnoresFaults runs the shipped shim (no build tags) with
// the fault annotation naming every step, and the fault variable set in
// the daemon's environment: nothing fails, the container gets its view
// over FUSE as with no annotation. TestShimFailures shows the
// fault-injection build failing each of these steps.
func TestShimShippedIgnoresFaults(t *testing.T) {
	var steps []string
	for _, s := range shimEveryStep {
		steps = append(steps, string(s))
	}
	all := strings.Join(steps, ",")
	e := newShimEnv(t, shimOptions{env: map[string]string{"ARTIFACTFS_FAIL_AT": all}})
	ctx := testCtx(t, e)
	ann := harness.Gated(map[string]string{shimFailAt: all})
	st, err := create(t, ctx, e, harness.Container{ID: "shipped", Annotations: ann, Bind: true})
	if err != nil {
		t.Fatalf("the shipped shim read the fault annotation: %v", err)
	}
	state, err := artifactbind.LoadState(e.Bundle("shipped"))
	if err != nil || state == nil || !state.Ready() || state.Mode != artifactbind.ModeFUSE {
		t.Fatalf("bundle state = %+v, %v; want a ready %s view", state, err, artifactbind.ModeFUSE)
	}
	if code := run(t, ctx, st); code != 0 || st.Stdout.String() != e.WantSums() {
		t.Fatalf("exit %d, saw:\n%s%s", code, st.Stdout, st.Stderr)
	}
	remove(t, ctx, st)
	e.CheckNoLeaks(t, "after delete")
}

// TestShimShippedHasNoFaults: the fault annotation and variable names are
// compiled into the fault-injection build only.
func TestShimShippedHasNoFaults(t *testing.T) {
	testimage.RequireRoot(t, "the shim builds go to the shared cache, "+ctrtest.CacheDir())
	for _, tt := range []struct {
		faults bool
		want   bool
	}{{false, false}, {true, true}} {
		bin, err := os.ReadFile(filepath.Join(shimBinary(t, tt.faults), harness.ShimName))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{shimFailAt, "ARTIFACTFS_FAIL_AT"} {
			if got := bytes.Contains(bin, []byte(name)); got != tt.want {
				t.Errorf("build with faults=%t holds %q: %t; want %t", tt.faults, name, got, tt.want)
			}
		}
	}
}
