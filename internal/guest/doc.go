// Package guest provides what the tests boot in a real VMM: a Debian kernel
// fetched by scripts/boot-kernel.sh into the test cache (Kernel), and a
// small initrd written in Go (Initrd) — busybox-static and an /init that
// prints a marker naming the container on the serial console and powers
// the machine off. It is imported only by tests.
package guest
