package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/artifactfs/artifactfs/internal/mounttable"
)

// deleteContainer runs runc's delete, then removes the container's monitor
// rootfs, as urunc's Delete does. Like urunc's os.RemoveAll, it fails with
// EBUSY while something is mounted in the monitor rootfs in this mount
// namespace (a bind that leaked out of the container's); unlike it, it
// never descends into such a mount.
func deleteContainer(c cli) error {
	id := ""
	if len(c.args) > 0 {
		id = c.args[len(c.args)-1]
	}
	bundle := bundleOf(c.global, id)
	if err := runRunc(c.global, c.command, c.args...); err != nil {
		return err
	}
	if bundle == "" {
		return nil
	}
	return removeMonRootfs(filepath.Join(bundle, monRootfsName))
}

// bundleOf returns the container's bundle as create recorded it in the
// monitor spec's annotations; empty when runc does not know the container
// or it was not created by this runtime.
func bundleOf(global []string, id string) string {
	runc, argv, err := runcArgv(global, "state", []string{id})
	if err != nil || id == "" {
		return ""
	}
	out, err := exec.Command(runc, argv[1:]...).Output()
	if err != nil {
		return ""
	}
	var st struct {
		Annotations map[string]string `json:"annotations"`
	}
	if json.Unmarshal(out, &st) != nil {
		return ""
	}
	return st.Annotations[bundleAnnotation]
}

// removeMonRootfs removes dir unless something is mounted at or below it.
func removeMonRootfs(dir string) error {
	if _, err := os.Lstat(dir); os.IsNotExist(err) {
		return nil
	}
	mounts, err := mounttable.Under(dir)
	if err != nil {
		return fmt.Errorf("remove monitor rootfs: %w", err)
	}
	if len(mounts) > 0 {
		var points []string
		for _, m := range mounts {
			points = append(points, m.Mountpoint)
		}
		return fmt.Errorf("remove monitor rootfs %s: mounted at %s: %w", dir, strings.Join(points, ", "), unix.EBUSY)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove monitor rootfs: %w", err)
	}
	return nil
}
