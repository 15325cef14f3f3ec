// Package soak is the chaos soak of the artifactfs shim (`make soak`; a
// short run is part of `make test`): hundreds of create/start/delete cycles
// of a container with the snapshot view, through the shipped shim on a
// private containerd, with faults injected at random points — kill -9 of
// the shim, a containerd restart, containerd down during Delete, a full
// state directory (ENOSPC), and a reboot (every process killed, mounts and
// loop devices gone, the artifactfs root and /run wiped). After each cycle
// the containerd-level cleanup runs (task and container delete, retried),
// then `artifactfs gc` (admin.GC) until it converges, and nothing may be
// left: views, leases, mounts, loop devices, per-container and view
// directories, bundles, runc state, shim sockets, cgroups, processes.
//
// A witness container runs across the cycles: gc and the other
// containers' faults must leave its per-container path serving its kernel.
//
// Flags (or environment): -soak.cycles ($SOAK_CYCLES, default 20),
// -soak.seed ($SOAK_SEED, default the clock; printed for replay),
// -soak.faults (share of cycles with a fault, default 0.6). The report —
// cycles, faults injected by kind and point, what gc had to remove,
// leaks — is printed on lines starting "report: ".
package soak
