// Package artifact decides which files of an image are a unikernel's boot
// artifacts — the kernel, the optional initrd and urunc.json — following
// urunc's own rule, and checks them against the host-protection rules
// before anything serves them.
//
// The rule: explicit paths win. Otherwise the OCI spec annotations give the
// configuration when com.urunc.unikernel.unikernelType, .hypervisor and
// .binary are all present (plain strings); else the whole configuration
// comes from /urunc.json in the image (a flat JSON object of base64 values).
// The two are never merged.
package artifact
