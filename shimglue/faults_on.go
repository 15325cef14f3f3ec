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
	// failAtEnv names the steps to fail (comma-separated) for every
	// container; the tests set it in containerd's environment, which the
	// shim inherits.
	failAtEnv = "ARTIFACTFS_FAIL_AT"
	// failAtAnnotation names the steps to fail (comma-separated) for one
	// container.
	failAtAnnotation = "org.artifactfs.test.fail-at"
)

// defaultFault is the fault of a fault-injection build.
func defaultFault() fault {
	all := strings.Split(os.Getenv(failAtEnv), ",")
	return func(at Step, annotations map[string]string) error {
		if slices.Contains(all, string(at)) || slices.Contains(strings.Split(annotations[failAtAnnotation], ","), string(at)) {
			return failAt(at)(at, nil)
		}
		return nil
	}
}
