package cri

import (
	"fmt"
	"os"
	"testing"
)

// TestMain runs the tests, then stops the shared daemon if a test started
// it.
func TestMain(m *testing.M) {
	code := m.Run()
	if err := stopShared(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}
