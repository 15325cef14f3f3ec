// Package ctrd drives containerd and the artifactfs shim for the sections
// that measure through them (setup, consumer, pod, density), on the shim
// harness (tests/harness): the shim as it ships (harness.ShimDir) and the
// containers' entrypoint (Tools), a private containerd per kernel size
// laid out as on a production host with one image imported into blockfile
// or the snapshotters asked for, its environment as asked (Env, on
// harness.Start), the containers whose tasks are created and
// deleted for every measurement (harness tasks), urunc's copy path to
// compare against, the page cache temperature of a step (Cache), and the
// check that nothing is left behind (harness's SettledLeftovers).
package ctrd
