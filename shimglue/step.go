package shimglue

import (
	"time"

	"github.com/rs/zerolog"
)

// Step names one step of Create, in order; a fault-injection build (the
// artifactfs_faults tag, faults.go) can fail any of them. A failed step rolls back every earlier one, except where a
// fallback exists: mount-view falls back to reading a block view directly,
// fuse to bind, bind to copy.
type Step string

// The steps of Create.
const (
	StepPending   Step = "pending"    // write the pending state file
	StepPrepare   Step = "prepare"    // prepare the leased view in containerd
	StepMountView Step = "mount-view" // mount the view read-only
	StepOpen      Step = "open"       // open the view as a source
	StepResolve   Step = "resolve"    // find and check the artifacts
	StepFUSE      Step = "fuse"       // mount the per-container path with FUSE
	StepBind      Step = "bind"       // or bind the artifacts there
	StepCopy      Step = "copy"       // or copy them there
	StepState     Step = "state"      // write the final state file
	StepCreate    Step = "create"     // the inner task service's Create
)

// Steps lists every step in order.
var Steps = []Step{StepPending, StepPrepare, StepMountView, StepOpen, StepResolve, StepFUSE, StepBind, StepCopy, StepState, StepCreate}

// stepTimer records how long each step of one Create took, for the log.
type stepTimer struct {
	cur   Step
	since time.Time
	steps []Step
	took  []time.Duration
}

// start ends the running step, if any, and starts s.
func (t *stepTimer) start(s Step) {
	t.stop()
	t.cur, t.since = s, time.Now()
}

// stop ends the running step.
func (t *stepTimer) stop() {
	if t.cur != "" {
		t.steps = append(t.steps, t.cur)
		t.took = append(t.took, time.Since(t.since))
		t.cur = ""
	}
}

// dict returns the durations, in milliseconds, keyed by step.
func (t *stepTimer) dict() *zerolog.Event {
	d := zerolog.Dict()
	for i, s := range t.steps {
		d = d.Dur(string(s), t.took[i])
	}
	return d
}
