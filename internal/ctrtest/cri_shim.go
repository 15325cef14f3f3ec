package ctrtest

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
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

// LogSize returns the size of the daemon's log: where the lines of what
// comes next start.
func (d *Daemon) LogSize() (int64, error) {
	st, err := os.Stat(d.LogPath)
	if err != nil {
		return 0, fmt.Errorf("containerd log: %w", err)
	}
	return st.Size(), nil
}
