// Command bench is `make bench`: it measures artifactfs section by
// section — time to artifacts through containerd against urunc's copy
// path (setup), read throughput of the whole kernel per source next to a
// native loop mount, fuse2fs and debugfs (throughput), resident memory of
// a server holding many mounts (memory), creating and deleting many
// mounts (scale), a VMM-like reader from Create to the last byte
// (consumer), N containers of one image in three layouts (density), and
// Create's wait in a pod (pod) — and writes results.md and
// results.png. It runs in the bench module's directory (bench/), since it
// builds the shim from the repository above it and its memory server from
// the bench module. It needs root (containerd, loop devices, FUSE,
// drop_caches).
package main
