// Package memory is the bench's memory section (issue 4, item 3): it
// builds the memory server (bench/cmd/memserver, package memserver), runs
// it as a process of its own and asks it (server.go), to measure the
// resident memory of a server holding 0, 1, 10 and 100 mounts, and what a
// 1-mount server holds during and after one cold read of the whole
// kernel, per kernel size and per source.
package memory
