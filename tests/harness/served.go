package harness

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/artifactfs/artifactfs/internal/ctrtest"
)

// Served is what artifactfs's shim logged when it served a container's
// artifacts (its "artifacts served" line in the daemon's log).
type Served struct {
	// Container is the container id; Mode the serving mode; Path the
	// per-container path.
	Container, Mode, Path string
	// Took is how long preparing took; Waited how long Create waited for
	// it (Took, unless the shim prepared early, before Create arrived).
	Took, Waited time.Duration
	// Early is true when the shim prepared before Create arrived.
	Early bool
	// Steps is how long each step of the preparation took, by step name.
	Steps map[string]time.Duration
}

// WaitServed returns the "artifacts served" line the shim logged for
// container id after offset off of d's log (see ctrtest's LogSize),
// waiting up to 5s for it: containerd copies the shim's log as it comes.
func WaitServed(ctx context.Context, d *ctrtest.Daemon, off int64, id string) (*Served, error) {
	for deadline := time.Now().Add(5 * time.Second); ; {
		s, err := scanServed(d.LogPath, off, id)
		if s != nil || err != nil {
			return s, err
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the shim logged no \"artifacts served\" for %s; log tail:\n%s", id, d.LogTail(4096))
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// shimLine is the part of a shim log line scanServed reads; durations are
// zerolog's default, float milliseconds.
type shimLine struct {
	Message   string  `json:"message"`
	Container string  `json:"container"`
	Mode      string  `json:"mode"`
	Path      string  `json:"path"`
	Took      float64 `json:"took"`
	Waited    float64 `json:"waited"`
	Early     bool    `json:"early"`
	// Steps are ms per step.
	Steps map[string]float64 `json:"steps"`
}

// scanServed finds id's "artifacts served" line after off, and when the
// shim prepared early, its "artifacts ready for Create" line (how long
// Create waited); nil when they are not there yet.
func scanServed(logPath string, off int64, id string) (*Served, error) {
	f, err := os.Open(logPath)
	if err != nil {
		return nil, fmt.Errorf("containerd log: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return nil, fmt.Errorf("containerd log: %w", err)
	}
	var served *Served
	waited := -1.0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var l shimLine
		if line := sc.Bytes(); len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &l) != nil || l.Container != id {
			continue
		}
		switch {
		case l.Message == "artifacts served" && served == nil:
			served = &Served{Container: id, Mode: l.Mode, Path: l.Path, Took: ms(l.Took), Early: l.Early, Steps: map[string]time.Duration{}}
			for step, v := range l.Steps {
				served.Steps[step] = ms(v)
			}
		case l.Message == "artifacts ready for Create" && waited < 0:
			waited = l.Waited
		}
	}
	switch {
	case served == nil:
		return nil, nil
	case !served.Early:
		served.Waited = served.Took
	case waited < 0:
		return nil, nil // Create has not taken the early result yet
	default:
		served.Waited = ms(waited)
	}
	return served, nil
}

func ms(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }

// CreateWaits measures, n times, what Create of an app container waits for
// the shim in pod (through e.CRI) (already running, so its shim is too): it runs a
// container o (named o.Name-<i>), reads its "artifacts served" line, and
// removes it. The pod is left as it was.
func (e *Env) CreateWaits(ctx context.Context, pod *ctrtest.Pod, o ctrtest.ContainerOptions, n int) ([]time.Duration, error) {
	var out []time.Duration
	base := o.Name
	for i := range n {
		off, err := e.D.LogSize()
		if err != nil {
			return out, err
		}
		o.Name = fmt.Sprintf("%s-%d", base, i)
		id, err := e.CRI.RunContainer(ctx, pod, o)
		if err == nil {
			var s *Served
			if s, err = WaitServed(ctx, e.D, off, id); err == nil {
				out = append(out, s.Waited)
			}
		}
		if id != "" {
			if rerr := e.CRI.RemoveContainer(ctx, id); err == nil {
				err = rerr
			}
		}
		if err != nil {
			return out, fmt.Errorf("create wait %d: %w", i, err)
		}
	}
	return out, nil
}

// Median returns the median of ds (the lower middle one for an even
// count), 0 for none.
func Median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}
