#!/usr/bin/env bash
# make demo: build a sample unikernel image, serve its boot artifacts with
# artifactfs, read them through the mount, unmount, and show nothing is left.
set -euo pipefail
ARTIFACTFS=$(realpath "${1:-bin/artifactfs}")
work=$(mktemp -d /tmp/artifactfs-demo.XXXXXX)
mnt=$work/mnt
cleanup() {
	if mountpoint -q "$mnt" 2>/dev/null; then "$ARTIFACTFS" umount --lazy "$mnt" || true; fi
	rm -rf "$work"
}
trap cleanup EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

step "A sample unikernel image: kernel, initrd and urunc.json in ext4 (mkfs.ext4 -d)"
root=$work/rootfs
mkdir -p "$root/.boot" "$root/etc" "$mnt"
head -c 16M /dev/urandom >"$root/.boot/kernel"
head -c 4M /dev/urandom >"$root/.boot/initrd"
echo "not an artifact: never served" >"$root/etc/secret"
b64() { printf '%s' "$1" | base64 -w0; }
cat >"$root/urunc.json" <<JSON
{
  "com.urunc.unikernel.unikernelType": "$(b64 linux)",
  "com.urunc.unikernel.hypervisor": "$(b64 qemu)",
  "com.urunc.unikernel.binary": "$(b64 /.boot/kernel)",
  "com.urunc.unikernel.initrd": "$(b64 /.boot/initrd)",
  "com.urunc.unikernel.cmdline": "$(b64 'console=ttyS0 panic=-1')",
  "com.urunc.unikernel.mountRootfs": "$(b64 true)"
}
JSON
show mkfs.ext4 -q -F -d "$root" "$work/sample.ext4" 64M

step "What artifactfs finds in it, read directly (no kernel mount)"
show "$ARTIFACTFS" ls --image "$work/sample.ext4"
show "$ARTIFACTFS" stat --image "$work/sample.ext4"

step "Mount it: exactly the artifacts, read-only"
show "$ARTIFACTFS" mount --image "$work/sample.ext4" --background --log-file "$work/server.log" "$mnt"
show grep " $mnt " /proc/mounts
show find "$mnt"
show cat "$mnt/urunc.json"
echo
show sha256sum "$root/.boot/kernel" "$mnt/.boot/kernel"
[ "$(sha256sum <"$root/.boot/kernel")" = "$(sha256sum <"$mnt/.boot/kernel")" ] && echo "kernel bytes identical"
printf '$ touch %s/x\n' "$mnt"
if touch "$mnt/x" 2>&1; then echo "UNEXPECTED: write succeeded"; exit 1; fi

step "Unmount; nothing is left"
show "$ARTIFACTFS" umount "$mnt"
sleep 0.2
if grep -q " $mnt " /proc/mounts; then echo "UNEXPECTED: still mounted"; exit 1; fi
echo "no artifactfs mount left at $mnt"
