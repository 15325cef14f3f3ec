// Command memserver is the memory section's server: it mounts -mounts
// artifact trees of one source (-source image|dir, -path) at DIR/m000,
// DIR/m001, ... in this process, as the shim does per container, prints
// "ready pid PID mode MODE" and serves until its stdin is closed or it gets
// SIGINT or SIGTERM; then it unmounts everything. Meanwhile it answers
// "stats" and "free" on stdin (see package memserver). The bench builds it
// and runs it as a process of its own, so that the bench's memory does not
// count. It needs root (FUSE).
package main
