// Package scale is the bench's in-process scale section (issue 4, item 4):
// it creates and deletes 1, 10 and 100 per-container mounts in this
// process, as the shim does, one after the other and all at once, and
// checks after every round that nothing is left behind: no artifactfs
// mount, none of the round's FUSE connections, no extra open descriptor.
package scale
