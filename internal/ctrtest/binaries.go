package ctrtest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// ContainerdVersion is the containerd release the tests run against.
const ContainerdVersion = "v2.4.2"

// binaryNames are the programs Binaries provides, with their module paths.
var binaryNames = map[string]string{
	"containerd":              "github.com/containerd/containerd/v2/cmd/containerd",
	"ctr":                     "github.com/containerd/containerd/v2/cmd/ctr",
	"containerd-shim-runc-v2": "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2",
}

// CacheDir returns the cache directory: $ARTIFACTFS_CACHE, default
// /var/cache/artifactfs-ci.
func CacheDir() string {
	if d := os.Getenv("ARTIFACTFS_CACHE"); d != "" {
		return d
	}
	return "/var/cache/artifactfs-ci"
}

// Binaries returns a directory holding containerd, ctr and
// containerd-shim-runc-v2 of ContainerdVersion: CacheDir()/bin. Missing
// binaries are built there with `go install` (minutes on a cold Go build
// cache; progress goes to stderr). A lock file serialises concurrent callers.
func Binaries() (string, error) {
	dir := filepath.Join(CacheDir(), "bin")
	if missing := missingBinaries(dir); len(missing) == 0 {
		return dir, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("containerd binaries: %w", err)
	}
	unlock, err := LockFile(filepath.Join(dir, ".lock"))
	if err != nil {
		return "", fmt.Errorf("containerd binaries: %w", err)
	}
	defer unlock()
	goBin, err := GoTool()
	if err != nil {
		return "", fmt.Errorf("containerd binaries: %w", err)
	}
	for _, name := range missingBinaries(dir) { // again: another caller may have built them
		pkg := binaryNames[name] + "@" + ContainerdVersion
		fmt.Fprintf(os.Stderr, "ctrtest: building %s into %s (minutes on a cold Go cache)\n", pkg, dir)
		start := time.Now()
		cmd := exec.Command(goBin, "install", pkg)
		cmd.Dir = os.TempDir() // outside any module: pkg@version ignores go.mod anyway
		cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOTOOLCHAIN=local", "GOFLAGS=")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("go install %s: %w\n%s", pkg, err, out)
		}
		fmt.Fprintf(os.Stderr, "ctrtest: built %s in %s\n", name, time.Since(start).Round(time.Second))
	}
	if missing := missingBinaries(dir); len(missing) > 0 {
		return "", fmt.Errorf("containerd binaries: still missing after install: %s", strings.Join(missing, ", "))
	}
	return dir, nil
}

// missingBinaries lists the programs absent from dir, or present but not
// of ContainerdVersion (checked on containerd itself).
func missingBinaries(dir string) []string {
	var missing []string
	for name := range binaryNames {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil || st.Mode()&0o111 == 0 {
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		out, err := exec.Command(filepath.Join(dir, "containerd"), "--version").Output()
		if err != nil || !strings.Contains(string(out), strings.TrimPrefix(ContainerdVersion, "v")) {
			missing = append(missing, "containerd")
		}
	}
	return missing
}

// GoTool returns the path of the go command: the one on PATH, else
// /usr/local/go/bin/go.
func GoTool() (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	const p = "/usr/local/go/bin/go"
	if st, err := os.Stat(p); err == nil && st.Mode()&0o111 != 0 {
		return p, nil
	}
	return "", errors.New("go command not found on PATH nor at " + p)
}

// LockFile takes an exclusive flock on path (created when missing), waiting
// for it, and returns the function that releases it: builds into the
// shared cache directory serialise on it across test processes.
func LockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { _ = unix.Flock(int(f.Fd()), unix.LOCK_UN); f.Close() }, nil
}
