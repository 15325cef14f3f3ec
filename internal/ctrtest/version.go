package ctrtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// CompatVersions are the newest patch releases of every containerd line
// the hosts urunc runs on have, oldest first, as the Go module proxy
// serves them: the versions tests/compat runs on by default.
var CompatVersions = []string{"v1.7.35", "v2.0.14", "v2.1.9", "v2.2.10", "v2.3.7", ContainerdVersion}

// layout is how a containerd release line spells the parts of its config
// that Start writes. Everything else (plugin types, snapshotter and
// transfer sections, socket keys) reads the same from 1.7 to 2.4.
type layout struct {
	// configVersion is the config's version: 1.7 reads 2 at most; 2.0 to
	// 2.3 read 3, 2.4 reads 3 (migrated) and 4.
	configVersion int
	// legacyCRI is 1.7's CRI: one plugin io.containerd.grpc.v1.cri holding
	// server, image and runtime settings (sandbox_image,
	// containerd.runtimes.<handler>), where 2.x splits it into
	// io.containerd.cri.v1.images and io.containerd.cri.v1.runtime.
	legacyCRI bool
	// blockfileLoop: blockfile mounts its files without the loop option
	// unless mount_options asks for it (1.7); 2.x adds it itself.
	blockfileLoop bool
	// recreateScratch: blockfile knows recreate_scratch (2.0 and later).
	recreateScratch bool
	// cniBinDirs: CRI's cni table takes bin_dirs (2.1 and later) rather
	// than bin_dir (1.7, 2.0; 2.1 to 2.3 read both).
	cniBinDirs bool
}

// layoutFor returns the config layout of containerd version ("v1.7.35").
func layoutFor(version string) (layout, error) {
	major, minor, err := parseVersion(version)
	if err != nil {
		return layout{}, err
	}
	switch {
	case major == 1 && minor == 7:
		return layout{configVersion: 2, legacyCRI: true, blockfileLoop: true}, nil
	case major == 2:
		return layout{configVersion: 3, recreateScratch: true, cniBinDirs: minor >= 1}, nil
	default:
		return layout{}, fmt.Errorf("containerd %s: unsupported release line (want 1.7 or 2.x)", version)
	}
}

// parseVersion returns the major and minor numbers of "vX.Y.Z".
func parseVersion(version string) (major, minor int, err error) {
	parts := strings.SplitN(strings.TrimPrefix(version, "v"), ".", 3)
	if !strings.HasPrefix(version, "v") || len(parts) != 3 {
		return 0, 0, fmt.Errorf("containerd version %q: want vX.Y.Z", version)
	}
	if major, err = strconv.Atoi(parts[0]); err == nil {
		minor, err = strconv.Atoi(parts[1])
	}
	if err != nil {
		return 0, 0, fmt.Errorf("containerd version %q: want vX.Y.Z", version)
	}
	return major, minor, nil
}

// VersionBinDir is where scripts/containerd.sh builds containerd and ctr
// of version: CacheDir()/containerd/<version>/bin.
func VersionBinDir(version string) string {
	return filepath.Join(CacheDir(), "containerd", version, "bin")
}

// VersionBinaries returns a directory holding containerd and ctr of
// version: Binaries() for ContainerdVersion, else VersionBinDir(version),
// which scripts/containerd.sh fills (VersionBinaries does not build
// there: minutes per release, done once by make test-compat). The runc
// shim of ContainerdVersion serves every line; Start puts it on the
// daemon's PATH.
func VersionBinaries(version string) (string, error) {
	if version == ContainerdVersion {
		return Binaries()
	}
	dir := VersionBinDir(version)
	for _, name := range []string{"containerd", "ctr"} {
		if st, err := os.Stat(filepath.Join(dir, name)); err != nil || st.Mode()&0o111 == 0 {
			return "", fmt.Errorf("containerd %s: no %s in %s (build it: scripts/containerd.sh %s)", version, name, dir, version)
		}
	}
	if got, err := binaryVersion(filepath.Join(dir, "containerd")); err != nil || got != version {
		return "", fmt.Errorf("containerd %s: %s/containerd is %s (%v)", version, dir, got, err)
	}
	return dir, nil
}

// binaryVersion returns the release of the containerd binary at path, as
// "vX.Y.Z", from its --version line ("containerd <module> 1.7.35+unknown <commit>").
func binaryVersion(path string) (string, error) {
	out, err := exec.Command(path, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("%s --version: %w", path, err)
	}
	f := strings.Fields(string(out))
	if len(f) < 3 {
		return "", fmt.Errorf("%s --version: unexpected output %q", path, strings.TrimSpace(string(out)))
	}
	v, _, _ := strings.Cut(strings.TrimPrefix(f[2], "v"), "+")
	return "v" + v, nil
}
