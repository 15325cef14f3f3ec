// Package ctrd drives containerd and the artifactfs shim for the sections
// that measure through them (setup, consumer, pod): the shim as it ships
// (built by shimtest.ShimDir) and the containers' entrypoint (Tools), a
// private containerd per kernel size laid out as on a production host
// with one image imported into blockfile (Env, on ctrtest.Start), the
// containers whose tasks are created and deleted for every measurement,
// urunc's copy path to compare against, the page cache temperature of a
// step (Cache), and the check that nothing is left behind (Leaks, on
// ctrtest's Leftovers).
package ctrd
