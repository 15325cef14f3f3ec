package fuse

import (
	"os"
	"testing"
)

// TestMain runs the tests, or, when a test has re-executed the binary with
// fuseServerEnv set, the mount server that test asked for (fuseServerMain).
func TestMain(m *testing.M) {
	if os.Getenv(fuseServerEnv) != "" {
		os.Exit(fuseServerMain())
	}
	os.Exit(m.Run())
}
