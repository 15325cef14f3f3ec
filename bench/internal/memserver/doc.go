// Package memserver is the memory section's server: Serve, run by the
// command bench/cmd/memserver, mounts N artifact trees, each from its own
// source as the shim does per container, prints "ready pid PID mode MODE"
// and serves until its stdin is closed, answering one command a line
// meanwhile: CmdStats with its Go allocation counters as JSON (GoMem),
// CmdFree with Freed once it has collected its garbage and returned free
// memory to the kernel. Config is what it mounts, as command line flags
// (Args). It imports only what mounting needs, so that the server's
// memory is that of the mounts; the memory section runs it as a process of
// its own.
package memserver
