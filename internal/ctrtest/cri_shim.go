package ctrtest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// PauseImageName is the reference BuildPauseImage gives its image.
const PauseImageName = "docker.io/library/artifactfs-pause:test"

// PauseImagePath is the pause image's entrypoint.
const PauseImagePath = "/pause"

// PauseImage returns the spec of a pause image: entry (see Entrypoint),
// which waits for SIGTERM when run without arguments, as its entrypoint at
// PauseImagePath and nothing else. Pin its name as CRIOptions.PauseImage.
func PauseImage(entry []byte) ImageSpec {
	return ImageSpec{
		Name:       PauseImageName,
		Files:      map[string]File{PauseImagePath: {Data: entry, Mode: 0o755}},
		Entrypoint: []string{PauseImagePath},
	}
}

// ShimProcess is a long-running shim process of a daemon.
type ShimProcess struct {
	// Pid is its process id; ID the -id it runs under (a pod's sandbox id
	// under CRI); Namespace its -namespace.
	Pid           int
	ID, Namespace string
}

// ShimProcesses lists the running processes of the shim binary named name
// (e.g. containerd-shim-artifactfs-v2) serving the daemon at grpcAddress,
// leaving out the short-lived `start` and `delete` invocations.
func ShimProcesses(name, grpcAddress string) []ShimProcess {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var out []ShimProcess
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || len(b) == 0 {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if filepath.Base(args[0]) != name || slices.Contains(args, "start") || slices.Contains(args, "delete") {
			continue
		}
		sp := ShimProcess{}
		var addr string
		for i := 1; i+1 < len(args); i++ {
			switch args[i] {
			case "-id":
				sp.ID = args[i+1]
			case "-namespace":
				sp.Namespace = args[i+1]
			case "-address":
				addr = args[i+1]
			}
		}
		if addr != grpcAddress {
			continue
		}
		sp.Pid, _ = strconv.Atoi(filepath.Base(filepath.Dir(p)))
		out = append(out, sp)
	}
	return out
}

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

// LogSize returns the size of the daemon's log: where the lines of what
// comes next start, for WaitServed.
func (d *Daemon) LogSize() (int64, error) {
	st, err := os.Stat(d.LogPath)
	if err != nil {
		return 0, fmt.Errorf("containerd log: %w", err)
	}
	return st.Size(), nil
}

// WaitServed returns the "artifacts served" line the shim logged for
// container id after offset off of the daemon's log (see LogSize),
// waiting up to 5s for it: containerd copies the shim's log as it comes.
func (d *Daemon) WaitServed(ctx context.Context, off int64, id string) (*Served, error) {
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
// the shim in pod (already running, so its shim is too): it runs a
// container o (named o.Name-<i>), reads its "artifacts served" line, and
// removes it. The pod is left as it was.
func (c *CRIClient) CreateWaits(ctx context.Context, pod *Pod, o ContainerOptions, n int) ([]time.Duration, error) {
	var out []time.Duration
	base := o.Name
	for i := range n {
		off, err := c.d.LogSize()
		if err != nil {
			return out, err
		}
		o.Name = fmt.Sprintf("%s-%d", base, i)
		id, err := c.RunContainer(ctx, pod, o)
		if err == nil {
			var s *Served
			if s, err = c.d.WaitServed(ctx, off, id); err == nil {
				out = append(out, s.Waited)
			}
		}
		if id != "" {
			if rerr := c.RemoveContainer(ctx, id); err == nil {
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
