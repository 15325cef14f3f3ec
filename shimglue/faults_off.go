//go:build !artifactfs_faults

package shimglue

// defaultFault is the fault of a production build: none.
func defaultFault() fault { return nil }
