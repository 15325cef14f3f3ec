package scale

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/artifactfs/artifactfs/bench/internal/mounts"
)

// fusectlMagic is the statfs type of the FUSE control filesystem.
const fusectlMagic = 0x65735543

// leakCheck finds what a round left behind: artifactfs mounts, FUSE
// connections, open descriptors.
type leakCheck struct {
	conns   string       // the FUSE control directory, one entry per connection
	unmount func() error // undoes a fusectl mount of our own, or nil
	fds     int          // open descriptors of this process after the warm-up
	last    string       // the connection count before → after the last round
}

// newLeakCheck finds the FUSE control filesystem, mounting one of its own
// under work when /sys/fs/fuse/connections is not mounted.
func newLeakCheck(work string) (*leakCheck, error) {
	lc := &leakCheck{conns: "/sys/fs/fuse/connections"}
	var sfs unix.Statfs_t
	if err := unix.Statfs(lc.conns, &sfs); err == nil && sfs.Type == fusectlMagic {
		return lc, nil
	}
	lc.conns = filepath.Join(work, "fusectl")
	if err := os.MkdirAll(lc.conns, 0o755); err != nil {
		return nil, err
	}
	if err := unix.Mount("fusectl", lc.conns, "fusectl", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return nil, fmt.Errorf("mount fusectl on %s: %w", lc.conns, err)
	}
	lc.unmount = func() error {
		if err := unix.Unmount(lc.conns, 0); err != nil {
			return fmt.Errorf("unmount fusectl on %s: %w", lc.conns, err)
		}
		return nil
	}
	return lc, nil
}

// close unmounts the fusectl mount of our own, if any.
func (lc *leakCheck) close() error {
	if lc.unmount == nil {
		return nil
	}
	return lc.unmount()
}

// connection returns the fusectl name of the FUSE connection mounted at
// mp: the superblock's device number in the kernel's encoding
// (major << 20 | minor). fs computes the same for Mounted.Stop but does
// not export it; this one stats mp, which is safe here: the mount was
// just checked to serve.
func connection(mp string) (string, error) {
	var st unix.Stat_t
	if err := unix.Stat(mp, &st); err != nil {
		return "", err
	}
	return strconv.FormatUint(uint64(unix.Major(st.Dev))<<20|uint64(unix.Minor(st.Dev)), 10), nil
}

// connections lists the FUSE connections of the whole machine.
func (lc *leakCheck) connections() (map[string]bool, error) {
	ents, err := os.ReadDir(lc.conns)
	if err != nil {
		return nil, fmt.Errorf("FUSE connections: %w", err)
	}
	m := map[string]bool{}
	for _, e := range ents {
		m[e.Name()] = true
	}
	return m, nil
}

// check fails when an artifactfs mount is left under dir, when one of the
// round's FUSE connections (mine) is still there, or when this process has
// more open descriptors than after the warm-up. Other processes' FUSE
// mounts come and go on a shared machine: the connection count is
// recorded, and only the round's own connections must be gone. It waits
// up to 2 s for the kernel and the runtime to let go.
func (lc *leakCheck) check(dir string, before, mine map[string]bool) error {
	deadline := time.Now().Add(2 * time.Second)
	for {
		var problems []string
		left, err := mounts.Under(dir)
		if err != nil {
			return err
		}
		if len(left) > 0 {
			problems = append(problems, fmt.Sprintf("%d artifactfs mount(s): %s", len(left), strings.Join(left, " ")))
		}
		now, err := lc.connections()
		if err != nil {
			return err
		}
		var stay []string
		for c := range mine {
			if now[c] {
				stay = append(stay, c)
			}
		}
		if len(stay) > 0 {
			slices.Sort(stay)
			problems = append(problems, fmt.Sprintf("%d FUSE connection(s): %s", len(stay), strings.Join(stay, " ")))
		}
		if fds := countFds(); lc.fds > 0 && fds > lc.fds {
			problems = append(problems, fmt.Sprintf("%d more open descriptor(s)", fds-lc.fds))
		}
		lc.last = fmt.Sprintf("%d → %d", len(before), len(now))
		if len(problems) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("left behind: %s", strings.Join(problems, "; "))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// countFds counts this process's open descriptors, or -1.
func countFds() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}
