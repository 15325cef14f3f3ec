package cri

import (
	"testing"

	"github.com/artifactfs/artifactfs/internal/ctrtest"
	"github.com/artifactfs/artifactfs/tests/harness"
)

// appOptions is an app container of the unikernel image.
func appOptions(name string) ctrtest.ContainerOptions {
	return ctrtest.ContainerOptions{Name: name, Image: appImage}
}

// The shim's Create wait for an app container in a running pod (its shim
// already up, so nothing was prepared early), as the shim logs it
// ("artifacts served", took): logged, not asserted.
func TestPodCreateWait(t *testing.T) {
	e := sharedEnv(t)
	p := e.runPod(t, "create-wait", handler, harness.Gated(nil))
	waits, err := e.CreateWaits(e.ctx(t), p.Pod, appOptions("timed"), 10)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Create wait of an app container in a running pod: median %s of %d (%v)", harness.Median(waits), len(waits), waits)
}
