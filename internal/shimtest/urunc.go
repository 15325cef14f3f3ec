package shimtest

import (
	"path/filepath"
	"sync"

	"github.com/artifactfs/artifactfs/internal/ctrtest"
)

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
