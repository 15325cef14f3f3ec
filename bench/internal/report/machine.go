package report

import (
	"fmt"
	"os"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/artifactfs/artifactfs/bench/internal/host"
)

// Machine lists what makes numbers comparable: kernel, CPU, memory, the
// filesystem holding the images under work, fuse2fs and Go.
func Machine(work string) []string {
	var u unix.Utsname
	_ = unix.Uname(&u)
	facts := []string{fmt.Sprintf("kernel: %s %s", unix.ByteSliceToString(u.Release[:]), unix.ByteSliceToString(u.Machine[:]))}
	cpu := "unknown"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	facts = append(facts, fmt.Sprintf("CPU: %s, %d cores", cpu, runtime.NumCPU()))
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) == nil {
		facts = append(facts, fmt.Sprintf("memory: %d MiB", uint64(si.Totalram)*uint64(si.Unit)>>20))
	}
	if out, err := host.Run("findmnt", "-n", "-o", "SOURCE,FSTYPE", "--target", work); err == nil {
		facts = append(facts, "images on: "+strings.TrimSpace(out))
	}
	if out, err := host.Run("fuse2fs", "-V"); err == nil || out != "" {
		facts = append(facts, "fuse2fs: "+strings.TrimSpace(strings.Split(out, "\n")[0]))
	}
	facts = append(facts, "Go: "+runtime.Version())
	return facts
}
