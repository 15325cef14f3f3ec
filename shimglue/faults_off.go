//go:build !artifactfs_faults

package shimglue

// defaultFault is the Config.Fault of a production build: none.
func defaultFault() Fault { return nil }
