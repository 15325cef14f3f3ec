package guest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// KernelScript fetches the kernel, relative to the repository's root.
const KernelScript = "scripts/boot-kernel.sh"

// KernelPath returns where scripts/boot-kernel.sh puts the kernel in the
// test cache (ctrtest.CacheDir): cache/boot-kernel/vmlinuz.
func KernelPath(cache string) string { return filepath.Join(cache, "boot-kernel", "vmlinuz") }

// Kernel returns the path of a Debian kernel that boots with
// console=ttyS0 under qemu. When it is not in the cache yet (make deps
// fetches it), it runs scripts/boot-kernel.sh from repo, which needs apt.
func Kernel(repo, cache string) (string, error) {
	p := KernelPath(cache)
	if _, err := os.Stat(p); err == nil {
		return p, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("guest kernel: %w", err)
	}
	cmd := exec.Command("bash", filepath.Join(repo, KernelScript))
	cmd.Env = append(os.Environ(), "ARTIFACTFS_CACHE="+cache)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("guest kernel: %s: %w\n%s", KernelScript, err, out)
	}
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("guest kernel: %s ran but: %w", KernelScript, err)
	}
	return p, nil
}
