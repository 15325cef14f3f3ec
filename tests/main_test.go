package tests

import (
	"fmt"
	"os"
	"testing"
)

// TestMain runs the tests, or, when a test has re-executed the binary with
// fuseServerEnv set, the mount server that test asked for (fuseServerMain).
// After the run it stops the shared containerd, if a test started one.
func TestMain(m *testing.M) {
	if os.Getenv(fuseServerEnv) != "" {
		os.Exit(fuseServerMain())
	}
	code := m.Run()
	if err := stopCtrDaemon(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}
