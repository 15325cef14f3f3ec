package ctrtest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"golang.org/x/sys/unix"

	"github.com/artifactfs/artifactfs/internal/mounttable"
)

// seen is a container the daemon held when Stop swept it.
type seen struct{ ns, id string }

// Stop kills the tasks still running, stops the daemon by its PID (SIGTERM,
// then SIGKILL after 10s), and removes what this daemon's containers left
// on the host: shim sockets in /run/containerd/s, runc state under
// /run/containerd/runc/<ns>, cgroup v1 directories /sys/fs/cgroup/*/<ns>/<id>
// (the whole <ns> for the daemon's own namespace), then the shared
// /run/containerd directories Start found missing, when empty. Mounts left
// under Dir are detached and reported as an error, a tmpfs Start mounted on
// State (StateOnTmpfs) is unmounted, and Dir is removed when Start created
// it. Stop is idempotent.
func (d *Daemon) Stop() error {
	d.stopOnce.Do(func() { d.stopErr = d.stop() })
	return d.stopErr
}

func (d *Daemon) stop() error {
	var errs []error
	var containers []seen
	if d.client != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		containers = d.sweepTasks(ctx)
		cancel()
		_ = d.client.Close()
	}
	if d.cmd != nil && d.cmd.Process != nil {
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.exited:
		case <-time.After(10 * time.Second):
			_ = d.cmd.Process.Kill()
			<-d.exited
		}
	}
	d.cleanRun(containers)
	if leaked, err := MountsUnder(d.Dir); err == nil {
		if d.tmpfs { // ours, not a leak: unmounted below
			leaked = slices.DeleteFunc(leaked, func(m string) bool { return m == d.State })
		}
		for _, m := range leaked { // deepest first
			_ = unix.Unmount(m, unix.MNT_DETACH)
		}
		if len(leaked) > 0 {
			errs = append(errs, fmt.Errorf("mounts left under %s (detached): %s", d.Dir, strings.Join(leaked, ", ")))
		}
	}
	if d.tmpfs {
		if err := unix.Unmount(d.State, 0); err != nil {
			_ = unix.Unmount(d.State, unix.MNT_DETACH)
			errs = append(errs, fmt.Errorf("unmount the state tmpfs %s (detached): %w", d.State, err))
		}
		d.tmpfs = false
	}
	if d.ownsDir && d.Dir != "" {
		if err := os.RemoveAll(d.Dir); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", d.Dir, err))
		}
	}
	for _, dir := range slices.Backward(d.madeRun) {
		_ = syscall.Rmdir(dir) // only when empty: another daemon may use it
	}
	return errors.Join(errs...)
}

// sweepTasks kills and deletes every task the daemon still runs, in every
// namespace, and returns the containers it saw.
func (d *Daemon) sweepTasks(ctx context.Context) []seen {
	var out []seen
	nss, err := d.client.NamespaceService().List(ctx)
	if err != nil {
		return nil
	}
	for _, ns := range nss {
		nctx := namespaces.WithNamespace(ctx, ns)
		cs, err := d.client.Containers(nctx)
		if err != nil {
			continue
		}
		for _, c := range cs {
			out = append(out, seen{ns, c.ID()})
			t, err := c.Task(nctx, nil)
			if err != nil {
				continue
			}
			_, _ = t.Delete(nctx, client.WithProcessKill)
		}
	}
	return out
}

// cleanRun removes the shim sockets, runc state and cgroups of the
// containers seen, and everything of the daemon's own namespace.
func (d *Daemon) cleanRun(containers []seen) {
	for _, c := range containers {
		for _, p := range ShimSockets(d.Address, c.ns, c.id) {
			_ = os.Remove(p)
		}
		_ = os.RemoveAll(filepath.Join("/run/containerd/runc", c.ns, c.id))
		_ = syscall.Rmdir(filepath.Join("/run/containerd/runc", c.ns))
		for _, ctl := range cgroupControllers() {
			RmdirTree(filepath.Join(ctl, c.ns, c.id))
			_ = syscall.Rmdir(filepath.Join(ctl, c.ns))
		}
	}
	_ = os.RemoveAll(filepath.Join("/run/containerd/runc", d.Namespace))
	for _, ctl := range cgroupControllers() {
		RmdirTree(filepath.Join(ctl, d.Namespace))
	}
}

// ShimSockets returns the paths of the unix sockets (normal and debug) a
// runc v2 shim of container id in namespace ns listens on, for a daemon at
// grpcAddress: /run/containerd/s/<sha256(address/ns/id)>.
func ShimSockets(grpcAddress, ns, id string) []string {
	base := filepath.Join(grpcAddress, ns, id)
	var out []string
	for _, p := range []string{base, filepath.Join(base, "debug")} {
		out = append(out, fmt.Sprintf("/run/containerd/s/%x", sha256.Sum256([]byte(p))))
	}
	return out
}

// cgroupControllers lists the cgroup hierarchies mounted under /sys/fs/cgroup.
func cgroupControllers() []string {
	ents, err := os.ReadDir("/sys/fs/cgroup")
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, filepath.Join("/sys/fs/cgroup", e.Name()))
		}
	}
	return out
}

// RmdirTree removes the cgroup directory root and its children, deepest
// first (cgroupfs removes a group with rmdir, its files go with it).
func RmdirTree(root string) {
	var dirs []string
	_ = filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err == nil && e.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	for _, dir := range slices.Backward(dirs) {
		_ = syscall.Rmdir(dir)
	}
}

// MountsUnder returns the mount points at or below dir, deepest first
// (mounttable.Mountpoints).
func MountsUnder(dir string) ([]string, error) {
	return mounttable.Mountpoints(dir)
}

// LoopDevicesUnder returns the loop devices (e.g. /dev/loop3) whose backing
// file lies at or below dir, as /sys/block/loop*/loop/backing_file reports.
func LoopDevicesUnder(dir string) ([]string, error) {
	paths, err := filepath.Glob("/sys/block/loop*/loop/backing_file")
	if err != nil {
		return nil, err
	}
	prefix := strings.TrimSuffix(dir, "/") + "/"
	var out []string
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // detached meanwhile
		}
		backing := strings.TrimSuffix(strings.TrimSpace(string(b)), " (deleted)")
		if backing == dir || strings.HasPrefix(backing, prefix) {
			out = append(out, "/dev/"+filepath.Base(filepath.Dir(filepath.Dir(p)))+" -> "+backing)
		}
	}
	return out, nil
}
