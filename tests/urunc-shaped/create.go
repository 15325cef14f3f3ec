package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/artifactfs/artifactfs/internal/artifact"
	"github.com/artifactfs/artifactfs/internal/guest"
)

// Names in a bundle and in the derived spec.
const (
	// monRootfsName is the monitor rootfs under the bundle, as urunc names it.
	monRootfsName = "monRootfs"
	// derivedName is the directory under the bundle holding the monitor
	// bundle (config.json), the plan and the hook's record.
	derivedName = "urunc-shaped"
	planFile    = "plan.json"
	// recordFile is what the hook did (guest.Record), in the derived
	// directory, or <id>.json in the directory named by guest.RecordsEnv,
	// where it outlives the bundle.
	recordFile = "record.json"
	// bundleAnnotation, in the derived spec, names the container's bundle.
	bundleAnnotation = "org.artifactfs.test.urunc-shaped.bundle"
	// bindAtAnnotation = createRuntime binds in runc's namespace (the
	// negative control); default createContainer.
	bindAtAnnotation = "org.artifactfs.test.urunc-shaped.bind-at"
	// hookCommand is this program's hook mode.
	hookCommand = "hook-bind"
)

// plan is what create decided, for the hook: where the artifacts come
// from and where they go.
type plan struct {
	ID        string `json:"id"`
	Bundle    string `json:"bundle"`
	Rootfs    string `json:"rootfs"` // the container's rootfs (copy path source)
	MonRootfs string `json:"mon_rootfs"`
	Kernel    string `json:"kernel"`
	Initrd    string `json:"initrd,omitempty"`
	Config    string `json:"config"` // urunc.json's in-image path
	Record    string `json:"record"`
}

// create writes the monitor bundle for a unikernel container and runs
// runc's create on it; any other container goes to runc unchanged.
func create(c cli) error {
	bundleIdx, bundle := -1, "."
	for i, a := range c.args {
		if (a == "--bundle" || a == "-b") && i+1 < len(c.args) {
			bundleIdx, bundle = i+1, c.args[i+1]
		} else if v, ok := strings.CutPrefix(a, "--bundle="); ok {
			bundleIdx, bundle = i, v
		}
	}
	if len(c.args) == 0 {
		return errors.New("create: no container id")
	}
	id := c.args[len(c.args)-1]
	bundle, err := absBundle(bundle)
	if err != nil {
		return err
	}
	spec, err := readSpec(filepath.Join(bundle, "config.json"))
	if err != nil {
		return err
	}
	rootfs := spec.Root.Path
	if !filepath.IsAbs(rootfs) {
		rootfs = filepath.Join(bundle, rootfs)
	}
	cfg, err := uruncConfig(spec.Annotations, rootfs)
	if err != nil {
		return err
	}
	if cfg == nil {
		return execRunc(c.global, c.command, c.args) // not a unikernel
	}
	p := plan{
		ID: id, Bundle: bundle, Rootfs: rootfs,
		MonRootfs: filepath.Join(bundle, monRootfsName),
		Kernel:    cfg[artifact.AnnotationBinary], Initrd: cfg[artifact.AnnotationInitrd],
		Config: "/urunc.json",
		Record: filepath.Join(bundle, derivedName, recordFile),
	}
	if dir := os.Getenv(guest.RecordsEnv); dir != "" {
		p.Record = filepath.Join(dir, id+".json")
	}
	derived := filepath.Join(bundle, derivedName)
	if err := os.MkdirAll(derived, 0o700); err != nil {
		return fmt.Errorf("create: %w", err)
	}
	if err := prepareMonRootfs(p.MonRootfs); err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(derived, planFile), p); err != nil {
		return err
	}
	if err := deriveSpec(spec, p, cfg[artifact.AnnotationCmdline]); err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(derived, "config.json"), spec); err != nil {
		return err
	}
	args := append([]string{}, c.args...)
	if bundleIdx < 0 {
		args = append([]string{"--bundle", derived}, args...)
	} else if strings.HasPrefix(args[bundleIdx], "--bundle=") {
		args[bundleIdx] = "--bundle=" + derived
	} else {
		args[bundleIdx] = derived
	}
	return execRunc(c.global, c.command, args)
}

// uruncConfig applies urunc's rule: the annotations when they carry type,
// hypervisor and binary, else the rootfs's /urunc.json; nil when neither
// names a kernel.
func uruncConfig(annotations map[string]string, rootfs string) (artifact.Config, error) {
	if cfg, complete := artifact.FromAnnotations(annotations); complete {
		return cfg, nil
	}
	data, err := os.ReadFile(filepath.Join(rootfs, "urunc.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("create: %w", err)
	}
	cfg, err := artifact.ParseUruncJSON(data)
	if err != nil {
		return nil, fmt.Errorf("create: %w", err)
	}
	if cfg[artifact.AnnotationBinary] == "" {
		return nil, nil
	}
	return cfg, nil
}

// deriveSpec turns the container's spec into the monitor's: root is the
// monitor rootfs, the host's /usr is bound read-only into it, the process
// is qemu, and the hook that fills the monitor rootfs is added.
func deriveSpec(spec *specs.Spec, p plan, cmdline string) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	qemu, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	spec.Root = &specs.Root{Path: p.MonRootfs}
	spec.Mounts = append(spec.Mounts, specs.Mount{
		Destination: "/usr", Type: "bind", Source: "/usr",
		Options: []string{"rbind", "ro", "nosuid", "nodev"},
	})
	args := []string{qemu, "-accel", "tcg", "-m", "256", "-nographic", "-no-reboot",
		"-kernel", p.Kernel, // paths after pivot_root into the monitor rootfs
		"-append", strings.TrimSpace(cmdline + " " + guest.ContainerParam + "=" + p.ID)}
	if p.Initrd != "" {
		args = append(args, "-initrd", p.Initrd)
	}
	if spec.Process == nil {
		spec.Process = &specs.Process{Cwd: "/"}
	}
	spec.Process.Args = args
	spec.Process.Terminal = false
	if spec.Annotations == nil {
		spec.Annotations = map[string]string{}
	}
	spec.Annotations[bundleAnnotation] = p.Bundle
	if spec.Hooks == nil {
		spec.Hooks = &specs.Hooks{}
	}
	timeout := 60
	hook := specs.Hook{Path: self, Args: []string{"urunc-shaped", hookCommand, filepath.Join(p.Bundle, derivedName, planFile)}, Timeout: &timeout}
	if spec.Annotations[bindAtAnnotation] == "createRuntime" {
		spec.Hooks.CreateRuntime = append(spec.Hooks.CreateRuntime, hook)
	} else {
		spec.Hooks.CreateContainer = append(spec.Hooks.CreateContainer, hook)
	}
	return nil
}

// prepareMonRootfs creates the monitor rootfs: /usr as a mount point and
// the merged-/usr links (bin, sbin, lib, lib64) as the host has them.
func prepareMonRootfs(dir string) error {
	if err := os.MkdirAll(filepath.Join(dir, "usr"), 0o755); err != nil {
		return fmt.Errorf("monitor rootfs: %w", err)
	}
	for _, name := range []string{"bin", "sbin", "lib", "lib64"} {
		target, err := os.Readlink("/" + name)
		if err != nil {
			return fmt.Errorf("monitor rootfs: the host's /%s is not a merged-/usr link: %w", name, err)
		}
		link := filepath.Join(dir, name)
		if err := os.Symlink(target, link); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("monitor rootfs: %w", err)
		}
	}
	return nil
}

// readSpec reads an OCI runtime spec.
func readSpec(path string) (*specs.Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read spec: %w", err)
	}
	var spec specs.Spec
	if err := json.Unmarshal(data, &spec); err != nil {
		return nil, fmt.Errorf("read spec %s: %w", path, err)
	}
	return &spec, nil
}

// writeJSON writes v to path through a temp file and a rename.
func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
