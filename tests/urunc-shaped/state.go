package main

import "github.com/artifactfs/artifactfs/artifactbind"

// The runtime-side library, imported as urunc imports it: the state file's
// loader and the bind into the monitor rootfs.
var (
	loadState     = artifactbind.LoadState
	bindArtifacts = artifactbind.BindArtifacts
)
