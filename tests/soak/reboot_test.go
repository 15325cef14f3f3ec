package soak

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/artifactfs/artifactfs/internal/ctrtest"
)

// reboot does to the daemon's world what a reboot does: containerd, the
// shims and the containers' processes die (SIGKILL), mounts under the
// artifactfs root and the state directory go, and with them the loop
// devices; the root (a tmpfs on a real host) and /run (the state
// directory, runc's state, shim sockets) come back empty, cgroups too.
// containerd's root (images, snapshots, containers, views, leases) stays,
// as on disk. containerd starts again; the witness has to be made again.
func (s *soak) reboot() {
	if err := s.d.Kill(syscall.SIGKILL); err != nil {
		s.t.Errorf("reboot: %v", err)
	}
	for _, sp := range s.e.ShimProcesses() {
		_ = syscall.Kill(sp.Pid, syscall.SIGKILL)
	}
	s.killCgroups()
	for _, dir := range []string{s.root, s.d.State} {
		mps, err := ctrtest.MountsUnder(dir)
		if err != nil {
			s.t.Errorf("reboot: %v", err)
		}
		for _, m := range mps { // deepest first
			if m != s.d.State {
				_ = unix.Unmount(m, unix.MNT_DETACH)
			}
		}
	}
	s.detachLoops()
	for _, dir := range []string{s.root, s.d.State} {
		wipe(s.t, dir)
	}
	ns := s.d.Namespace
	_ = os.RemoveAll(filepath.Join("/run/containerd/runc", ns))
	for _, id := range s.ids {
		for _, p := range ctrtest.ShimSockets(s.d.Address, ns, id) {
			_ = os.Remove(p)
		}
	}
	for _, ctl := range cgroupDirs(ns) {
		ctrtest.RmdirTree(ctl)
	}
	s.restart(syscall.SIGKILL)
	s.witnessLost = true
}

// killCgroups kills every process in the cgroups of the daemon's
// namespace and waits, at most 5s, until they are gone.
func (s *soak) killCgroups() {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		pids := cgroupProcs(s.d.Namespace)
		if len(pids) == 0 {
			return
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	s.t.Errorf("reboot: processes survive SIGKILL: %v", cgroupProcs(s.d.Namespace))
}

// detachLoops detaches the loop devices over the daemon's files that the
// unmounts did not free, after a moment for autoclear.
func (s *soak) detachLoops() {
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		loops, _ := ctrtest.LoopDevicesUnder(s.d.Dir)
		if len(loops) == 0 {
			return
		}
		if time.Now().Before(deadline) {
			continue
		}
		for _, l := range loops {
			dev, _, _ := strings.Cut(l, " ")
			if out, err := exec.Command("losetup", "-d", dev).CombinedOutput(); err != nil {
				s.t.Errorf("reboot: losetup -d %s: %v %s", dev, err, out)
			}
		}
		return
	}
}

// wipe empties dir.
func wipe(t interface{ Errorf(string, ...any) }, dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Errorf("reboot: %v", err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			t.Errorf("reboot: %v", err)
		}
	}
}

// cgroupDirs returns the cgroup v1 directories of namespace ns, one per
// controller: /sys/fs/cgroup/<controller>/<ns>, as runc makes them for
// containerd's default cgroups path /<ns>/<id>.
func cgroupDirs(ns string) []string {
	dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup/*", ns))
	return dirs
}

// cgroupProcs lists the processes in the cgroups of namespace ns.
func cgroupProcs(ns string) []int {
	var pids []int
	for _, dir := range cgroupDirs(ns) {
		_ = filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.Name() != "cgroup.procs" {
				return nil
			}
			b, _ := os.ReadFile(p)
			for _, f := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(f); err == nil && !slices.Contains(pids, pid) {
					pids = append(pids, pid)
				}
			}
			return nil
		})
	}
	return pids
}
