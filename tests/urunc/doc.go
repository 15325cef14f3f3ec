// Package urunc boots real guests through the artifactfs shim with a
// urunc-shaped runtime (tests/urunc-shaped) selected by runc's option
// BinaryName: the runtime binds the kernel and initrd from the
// per-container path into a monitor rootfs in the container's mount
// namespace, after runc made it rslave, and qemu boots them; the guest
// proves the boot by a marker on its serial console. Each test runs the
// daemon, its shims and runc in a mount namespace with private or shared
// root propagation and checks that the runtime leaves nothing in the
// daemon's mount table and that task delete succeeds. The tests need root,
// qemu-system-x86_64, busybox-static and a Debian kernel (make deps).
package urunc
