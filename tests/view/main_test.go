package view

import (
	"os"
	"testing"

	"github.com/artifactfs/artifactfs/tests/harness"
)

// repo is the repository's root, seen from this package's directory.
const repo = "../.."

// TestMain runs the tests, then stops the shared containerd if a test
// started one (harness.SharedDaemon).
func TestMain(m *testing.M) { os.Exit(harness.RunStoppingSharedDaemon(m)) }
