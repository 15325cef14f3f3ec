// Command artifactfs mounts, inspects and extracts a unikernel container's
// boot artifacts (kernel, initrd, urunc.json) from an ext4 image, a block
// device or a mounted snapshot view, read-only, and administers the
// per-container paths the shim serves (status, gc). See docs/cli.md.
//
// It only parses flags, calls one function and maps errors to the
// documented exit codes. It imports admin, fs, blockreader, artifactbind,
// internal/{source, artifact, extract, imagepath, layout, mounttable} and
// containerd's client (gc dials it); never the shim (shimglue),
// containerd's shim runtime or the task API.
package main
