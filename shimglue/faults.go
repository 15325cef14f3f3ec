package shimglue

import (
	"errors"
	"fmt"
)

// Fault injection is for tests only: the in-package tests set a fault with
// withFault, and the shim the e2e tests build with the artifactfs_faults
// tag (faults_on.go) reads one from its environment and the container's
// annotations. The shipped shim has none (faults_off.go).

// errInjected is wrapped by the error of a step failed on purpose.
var errInjected = errors.New("failure injected")

// fault decides whether a step of a container's Create fails on purpose.
type fault func(s Step, annotations map[string]string) error

// failAt returns a fault that fails step s of every container.
func failAt(s Step) fault {
	return func(at Step, _ map[string]string) error {
		if at == s {
			return fmt.Errorf("step %s: %w", at, errInjected)
		}
		return nil
	}
}

// withFault sets the fault of a Preparer (tests).
func withFault(f fault) Option { return func(c *Config) { c.fault = f } }

// failStep fails step s of the container whose annotations are given when
// the configured fault says so.
func (c *Config) failStep(s Step, annotations map[string]string) error {
	if c.fault == nil {
		return nil
	}
	return c.fault(s, annotations)
}
