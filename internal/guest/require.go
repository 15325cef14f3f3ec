package guest

import (
	"os"
	"os/exec"
	"sync"
	"testing"
)

// Files are a bootable guest: the kernel's bytes and path, and the initrd.
type Files struct {
	Kernel, Initrd []byte
	KernelPath     string
}

var files = struct {
	once sync.Once
	f    Files
	err  error
	skip string
}{}

// Require returns the guest's files, read and built once per process,
// for a test that boots it with qemu-system-x86_64 (TCG). It skips the
// test, saying why, when qemu or busybox-static is not installed or the
// kernel cannot be had (make deps installs and fetches them all); repo is
// the repository's root, cache the test cache (ctrtest.CacheDir).
func Require(tb testing.TB, repo, cache string) Files {
	tb.Helper()
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		tb.Skipf("qemu-system-x86_64 not installed (make deps installs qemu-system-x86): %v", err)
	}
	if _, err := os.Stat(BusyboxPath); err != nil {
		tb.Skipf("%s absent (make deps installs busybox-static): %v", BusyboxPath, err)
	}
	files.once.Do(func() {
		if files.f.KernelPath, files.err = Kernel(repo, cache); files.err != nil {
			files.skip, files.err = files.err.Error(), nil
			return
		}
		if files.f.Kernel, files.err = os.ReadFile(files.f.KernelPath); files.err != nil {
			return
		}
		files.f.Initrd, files.err = Initrd(BusyboxPath)
	})
	if files.skip != "" {
		tb.Skipf("no guest kernel (make deps fetches it): %s", files.skip)
	}
	if files.err != nil {
		tb.Fatal(files.err)
	}
	return files.f
}
