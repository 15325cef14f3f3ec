package testimage

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// RequireTools skips the test when one of the named programs is missing,
// saying which; the Makefile installs them, so CI never skips here.
func RequireTools(tb testing.TB, tools ...string) {
	tb.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			tb.Skipf("%s not installed (apt-get install e2fsprogs): %v", tool, err)
		}
	}
}

// RequireRoot skips the test, saying why, when it does not run as root,
// or when -short asks for the tests that need no root (make test-unit).
func RequireRoot(tb testing.TB, why string) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skipf("needs root: %s", why)
	}
	if testing.Short() {
		tb.Skipf("needs root: %s (-short runs only the tests that need none)", why)
	}
}

// Run runs a command and fails the test with its output when it fails.
func Run(tb testing.TB, name string, args ...string) []byte {
	tb.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		tb.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// Payload returns n deterministic pseudo-random bytes derived from seed.
func Payload(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

// SHA256 returns the hex sha256 of b.
func SHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// WriteTree creates files under dir: each key is a relative path, each value
// the content. Parent directories are created as needed.
func WriteTree(tb testing.TB, dir string, files map[string][]byte) {
	tb.Helper()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

// Mkfs makes an ext4 image of sizeMiB at a new path in a temp dir, filled
// from the directory tree src (mkfs.ext4 -d). extra is passed to mkfs before
// the image path, e.g. "-O", "inline_data" or "-b", "1024".
func Mkfs(tb testing.TB, src string, sizeMiB int, extra ...string) string {
	tb.Helper()
	RequireTools(tb, "mkfs.ext4")
	img := filepath.Join(tb.TempDir(), "image.ext4")
	args := append([]string{"-q", "-F", "-t", "ext4", "-d", src}, extra...)
	args = append(args, img, fmt.Sprintf("%dM", sizeMiB))
	Run(tb, "mkfs.ext4", args...)
	return img
}

// MkfsType is Mkfs for another mkfs flavour, e.g. "ext2" or "ext3".
func MkfsType(tb testing.TB, fstype, src string, sizeMiB int, extra ...string) string {
	tb.Helper()
	tool := "mkfs." + fstype
	RequireTools(tb, tool)
	img := filepath.Join(tb.TempDir(), "image."+fstype)
	args := append([]string{"-q", "-F", "-d", src}, extra...)
	args = append(args, img, fmt.Sprintf("%dM", sizeMiB))
	Run(tb, tool, args...)
	return img
}

// DebugfsCat returns the content of in-image path p as debugfs reads it:
// the independent reference for every byte comparison.
func DebugfsCat(tb testing.TB, img, p string) []byte {
	tb.Helper()
	RequireTools(tb, "debugfs")
	var stdout, stderr bytes.Buffer
	cmd := exec.Command("debugfs", "-R", "cat "+p, img)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		tb.Fatalf("debugfs cat %s: %v\n%s", p, err, stderr.String())
	}
	return stdout.Bytes()
}

// Extents returns how many leaf extents debugfs reports for in-image path p.
func Extents(tb testing.TB, img, p string) int {
	tb.Helper()
	out := Run(tb, "debugfs", "-R", "ex "+p, img)
	n := 0
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		// Rows start with "level/ max": a leaf row has level == max.
		if len(f) > 1 && strings.HasSuffix(f[0], "/") && strings.TrimSuffix(f[0], "/") == f[1] {
			n++
		}
	}
	return n
}
