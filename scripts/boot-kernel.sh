#!/usr/bin/env bash
# Fetch a Debian kernel the tests boot under qemu (tests/urunc): the
# package linux-image-cloud-amd64 depends on (its name changes with point
# releases), downloaded with apt-get download and unpacked with dpkg -x,
# not installed. Result: $ARTIFACTFS_CACHE/boot-kernel/vmlinuz (a symlink
# to the unpacked vmlinuz) and, next to it, the package's name in PACKAGE.
# Does nothing when the kernel is already there.
set -euo pipefail
cache=${ARTIFACTFS_CACHE:-/var/cache/artifactfs-ci}/boot-kernel
[ -e "$cache/vmlinuz" ] && exit 0
meta=${BOOT_KERNEL_META:-linux-image-cloud-amd64}
pkg=$(apt-cache depends "$meta" 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}')
if [ -z "$pkg" ]; then
	apt-get update -qq
	pkg=$(apt-cache depends "$meta" | awk '/Depends: linux-image-/ {print $2; exit}')
fi
[ -n "$pkg" ] || { echo "boot-kernel: no linux-image package behind $meta" >&2; exit 1; }
mkdir -p "$cache"
work=$(mktemp -d "$cache/.fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download -q "$pkg" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2 || true)
deb=$(ls "$work"/*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || { echo "boot-kernel: apt-get download $pkg gave no package" >&2; exit 1; }
dpkg -x "$deb" "$work/x"
vmlinuz=$(ls "$work"/x/boot/vmlinuz-* | head -1)
mv "$vmlinuz" "$cache/"
echo "$pkg" >"$cache/PACKAGE"
ln -sfn "$(basename "$vmlinuz")" "$cache/vmlinuz"
echo "boot-kernel: $pkg -> $cache/$(basename "$vmlinuz")"
