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
mkdir -p "$cache"
work=$(mktemp -d "$cache/.fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT
# fetch resolves the package behind $meta and downloads it into $work.
fetch() {
	pkg=$(apt-cache depends "$meta" 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}')
	[ -n "$pkg" ] || return 1
	(cd "$work" && apt-get download -q "$pkg" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2 || true)
	ls "$work"/*.deb >/dev/null 2>&1
}
# Stale or missing package lists: update them once and try again.
fetch || { apt-get update -qq && fetch; } || {
	echo "boot-kernel: could not download the linux-image package behind $meta (${pkg:-none found})" >&2
	exit 1
}
deb=$(ls "$work"/*.deb | head -1)
dpkg -x "$deb" "$work/x"
vmlinuz=$(ls "$work"/x/boot/vmlinuz-* | head -1)
mv "$vmlinuz" "$cache/"
echo "$pkg" >"$cache/PACKAGE"
ln -sfn "$(basename "$vmlinuz")" "$cache/vmlinuz"
echo "boot-kernel: $pkg -> $cache/$(basename "$vmlinuz")"
