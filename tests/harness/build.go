package harness

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/artifactfs/artifactfs/internal/ctrtest"
)

// ShimName is the shim binary containerd runs for runtime
// io.containerd.artifactfs.v2.
const ShimName = "containerd-shim-artifactfs-v2"

// The two builds of the shim, each in a directory of its own under
// ctrtest.CacheDir(), since containerd finds a shim by its name on PATH.
var (
	shipped = shimBuild{dir: "shim"}
	faulty  = shimBuild{dir: "shim-faults", tags: "artifactfs_faults"}
)

// shimBuild is one build of the shim, made once per process.
type shimBuild struct {
	dir, tags string
	once      sync.Once
	path      string
	err       error
}

// ShimDir builds the shim as it ships (no build tags: it reads no fault
// injection) into ctrtest.CacheDir()/shim-<checkout>, once per process, and returns
// that directory, to be put on the daemon's PATH. repo is the repository's
// root directory. Test packages running at the same time share the
// directory: the build goes to a temporary file under a lock and is
// renamed into place, so a shim that is running keeps its binary.
func ShimDir(repo string) (string, error) { return shipped.get(repo) }

// FaultShimDir is ShimDir for the build with the artifactfs_faults tag,
// which fails the steps named by the annotation org.artifactfs.test.fail-at
// and $ARTIFACTFS_FAIL_AT (shimglue/faults_on.go), into ctrtest.CacheDir()/shim-faults-<checkout>. Only tests that inject
// failures use it; every other test runs the shipped build.
func FaultShimDir(repo string) (string, error) { return faulty.get(repo) }

// checkout names the checkout at repo by a hash of its absolute path: two
// checkouts (a CI clone, another engineer's tree) testing at the same time
// must not replace each other's shim under a running daemon.
func checkout(repo string) string {
	abs, err := filepath.Abs(repo)
	if err != nil {
		abs = repo
	}
	sum := sha256.Sum256([]byte(abs))
	return hex.EncodeToString(sum[:6])
}

func (b *shimBuild) get(repo string) (string, error) {
	b.once.Do(func() {
		b.path = filepath.Join(ctrtest.CacheDir(), b.dir+"-"+checkout(repo))
		var flags []string
		if b.tags != "" {
			flags = []string{"-tags", b.tags}
		}
		b.err = build(repo, b.path, ShimName, "./cmd/"+ShimName, flags...)
	})
	return b.path, b.err
}

// CLIName is the artifactfs command-line tool.
const CLIName = "artifactfs"

var cli = shimBuild{dir: "cli"}

// CLI builds cmd/artifactfs as it ships into
// ctrtest.CacheDir()/cli-<checkout>, once per process, and returns the
// binary's path, for tests that run `artifactfs gc` and `status` as an
// operator does. repo is the repository's root directory; like ShimDir,
// test packages running at the same time share the binary.
func CLI(repo string) (string, error) {
	cli.once.Do(func() {
		cli.path = filepath.Join(ctrtest.CacheDir(), cli.dir+"-"+checkout(repo))
		cli.err = build(repo, cli.path, CLIName, "./cmd/"+CLIName)
	})
	return filepath.Join(cli.path, CLIName), cli.err
}

// UruncShapedName is the test runtime of tests/urunc-shaped.
const UruncShapedName = "urunc-shaped"

var (
	uruncOnce sync.Once
	uruncPath string
	uruncErr  error
)

// UruncShaped builds the urunc-shaped test runtime (tests/urunc-shaped, an
// OCI runtime that boots a container's kernel with qemu the way urunc
// does) into ctrtest.CacheDir()/urunc-shaped, once per process, and
// returns the binary's path, for runc's option BinaryName. repo is the
// repository's root directory. Like ShimDir, test packages running at the
// same time share the binary.
func UruncShaped(repo string) (string, error) {
	uruncOnce.Do(func() {
		dir := filepath.Join(ctrtest.CacheDir(), UruncShapedName)
		uruncPath = filepath.Join(dir, UruncShapedName)
		uruncErr = build(repo, dir, UruncShapedName, "./tests/"+UruncShapedName)
	})
	return uruncPath, uruncErr
}

var (
	entryOnce sync.Once
	entry     []byte
	entryErr  error
)

// Entrypoint returns the static test init of the sample images
// (ctrtest.Entrypoint), built once per process in a temporary directory.
func Entrypoint() ([]byte, error) {
	entryOnce.Do(func() {
		dir, err := os.MkdirTemp("", "harness-entry-")
		if err != nil {
			entryErr = err
			return
		}
		defer os.RemoveAll(dir)
		entry, entryErr = ctrtest.Entrypoint(dir)
	})
	return entry, entryErr
}

// build runs go build of pkg (a path in repo, with flags) into dir/name:
// to a temporary file under dir's lock, renamed into place, so that a
// process running the old binary keeps it.
func build(repo, dir, name, pkg string, flags ...string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("build %s: %w", name, err)
	}
	unlock, err := ctrtest.LockFile(filepath.Join(dir, ".lock"))
	if err != nil {
		return fmt.Errorf("build %s: %w", name, err)
	}
	defer unlock()
	goBin, err := ctrtest.GoTool()
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, fmt.Sprintf(".%s.%d", name, os.Getpid()))
	start := time.Now()
	cmd := exec.Command(goBin, append(append([]string{"build", "-buildvcs=false"}, flags...), "-o", tmp, pkg)...)
	cmd.Dir = repo
	if out, err := cmd.CombinedOutput(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("build %s: %w\n%s", name, err, out)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("build %s: %w", name, err)
	}
	fmt.Fprintf(os.Stderr, "harness: built %s in %s\n", name, time.Since(start).Round(time.Millisecond))
	return nil
}
