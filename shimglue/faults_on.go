//go:build artifactfs_faults

package shimglue

import (
	"os"
	"slices"
	"strings"
)

// Fault injection in binaries built with the artifactfs_faults tag (the
// shim the e2e tests build); production builds read neither.
const (
	// FailAtEnv names the steps to fail (comma-separated) for every
	// container; the tests set it in containerd's environment, which the
	// shim inherits.
	FailAtEnv = "ARTIFACTFS_FAIL_AT"
	// FailAtAnnotation names the steps to fail (comma-separated) for one
	// container.
	FailAtAnnotation = "org.artifactfs.test.fail-at"
)

// defaultFault is the Config.Fault of a fault-injection build.
func defaultFault() Fault {
	all := strings.Split(os.Getenv(FailAtEnv), ",")
	return func(at Step, annotations map[string]string) error {
		if slices.Contains(all, string(at)) || slices.Contains(strings.Split(annotations[FailAtAnnotation], ","), string(at)) {
			return FailAt(at)(at, nil)
		}
		return nil
	}
}
