package shimglue

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// cgroupRoot is where the host's cgroup hierarchies are mounted; tests
// point it elsewhere.
var cgroupRoot = "/sys/fs/cgroup"

// thawLeftFrozen thaws the freezer cgroup at cgroupsPath (an OCI spec's
// linux.cgroupsPath) when it is frozen, and reports whether it was.
//
// runc freezes a container's cgroup to signal all its processes and thaws
// it afterwards; a runc killed in between — the shim's request context is
// cancelled when containerd goes away during Kill or Delete — leaves the
// cgroup frozen, and the container's processes (with a SIGKILL pending)
// never die: `runc delete` then fails forever, and they keep the
// container's rootfs and the per-container mount busy. Callers thaw only
// where a frozen cgroup cannot be the user's pause (see TaskService.thaw).
//
// cgroup v1 (freezer.state) and v2 (cgroup.freeze) are handled; a
// systemd-style path (slice:prefix:name) is expanded as runc does. A path
// that does not exist is not an error: nothing is frozen.
func thawLeftFrozen(cgroupsPath string) (bool, error) {
	rel, err := cgroupDir(cgroupsPath)
	if err != nil || rel == "" {
		return false, err
	}
	file, frozen, thawed := filepath.Join(cgroupRoot, rel, "cgroup.freeze"), "1", "0"
	if _, err := os.Stat(filepath.Join(cgroupRoot, "cgroup.controllers")); err != nil {
		file, frozen, thawed = filepath.Join(cgroupRoot, "freezer", rel, "freezer.state"), "FROZEN", "THAWED"
	}
	data, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read freezer state: %w", err)
	}
	state := strings.TrimSpace(string(data))
	if state != frozen && state != "FREEZING" {
		return false, nil
	}
	if err := os.WriteFile(file, []byte(thawed), 0); err != nil {
		return true, fmt.Errorf("thaw %s: %w", file, err)
	}
	return true, nil
}

// cgroupDir returns cgroupsPath as a path relative to a hierarchy's root,
// "" when it is empty. A cgroupfs path is cleaned so that it cannot leave
// the hierarchy; a systemd one ("system.slice:cri-containerd:id") becomes
// system.slice/cri-containerd-id.scope, nested slices expanded
// (a-b.slice is a.slice/a-b.slice).
func cgroupDir(cgroupsPath string) (string, error) {
	if cgroupsPath == "" {
		return "", nil
	}
	if strings.HasPrefix(cgroupsPath, "/") || !strings.Contains(cgroupsPath, ":") {
		return strings.TrimPrefix(filepath.Join("/", cgroupsPath), "/"), nil
	}
	parts := strings.Split(cgroupsPath, ":")
	if len(parts) != 3 || strings.ContainsAny(cgroupsPath, "/") {
		return "", fmt.Errorf("cgroups path %q: neither a path nor slice:prefix:name", cgroupsPath)
	}
	slice, prefix, name := parts[0], parts[1], parts[2]
	if slice == "" {
		slice = "system.slice"
	}
	var dirs []string
	stem := strings.TrimSuffix(slice, ".slice")
	if slice == "-.slice" { // the root slice
		stem = ""
	}
	for i, part := range strings.Split(stem, "-") {
		if stem == "" {
			break
		}
		if part == "" {
			return "", fmt.Errorf("cgroups path %q: invalid slice %q", cgroupsPath, slice)
		}
		if i > 0 {
			part = strings.TrimSuffix(dirs[i-1], ".slice") + "-" + part
		}
		dirs = append(dirs, part+".slice")
	}
	scope := name
	if !strings.HasSuffix(name, ".slice") {
		if prefix != "" {
			scope = prefix + "-" + name
		}
		scope += ".scope"
	}
	return filepath.Join(append(dirs, scope)...), nil
}
