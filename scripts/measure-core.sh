#!/usr/bin/env bash
# Measures, in one run, mount setup time and cold/warm sequential read
# throughput of a large kernel through artifactfs for each source, next to a
# plain read of the same bytes from a kernel loop mount of the image.
# Usage: scripts/measure-core.sh [bin/artifactfs] [size-MiB] [runs]
set -euo pipefail
ARTIFACTFS=$(realpath "${1:-bin/artifactfs}")
SIZE=${2:-256}
RUNS=${3:-5}
work=$(mktemp -d /tmp/artifactfs-measure.XXXXXX)
loop=$work/loop; mnt=$work/mnt
cleanup() {
	for m in "$mnt" "$loop"; do mountpoint -q "$m" 2>/dev/null && umount -l "$m"; done
	rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/root/.boot" "$loop" "$mnt"
head -c "${SIZE}M" /dev/urandom >"$work/root/.boot/kernel"
printf '{"com.urunc.unikernel.binary":"%s"}' "$(printf /.boot/kernel | base64 -w0)" >"$work/root/urunc.json"
mkfs.ext4 -q -F -d "$work/root" "$work/image.ext4" $((SIZE * 2 + 64))M
mount -o loop,ro "$work/image.ext4" "$loop"

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
# mbps FILE: MB/s of one sequential read of FILE (1 MiB reads).
mbps() {
	local start end
	start=$(date +%s.%N); dd if="$1" of=/dev/null bs=1M status=none; end=$(date +%s.%N)
	awk -v s="$start" -v e="$end" -v n="$SIZE" 'BEGIN {printf "%.0f\n", n * 1.048576 / (e - s)}'
}
drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }

# row NAME FILE: median cold and warm MB/s over RUNS.
row() {
	local cold=() warm=()
	for _ in $(seq "$RUNS"); do
		drop; cold+=("$(mbps "$2")")
		warm+=("$(mbps "$2")")
	done
	printf '| %-34s | %8s | %8s |\n' "$1" "$(printf '%s\n' "${cold[@]}" | median)" "$(printf '%s\n' "${warm[@]}" | median)"
}

# setup ARGS...: median mount setup time in ms (mount --background to ready).
setup() {
	local t=()
	for _ in $(seq "$RUNS"); do
		local s e
		s=$(date +%s%N); "$ARTIFACTFS" mount --log-level warn --background "$@" "$mnt" >/dev/null; e=$(date +%s%N)
		t+=("$(((e - s) / 1000))")
		"$ARTIFACTFS" umount --log-level warn "$mnt"; sleep 0.1
	done
	printf '%s\n' "${t[@]}" | median | awk '{printf "%.1f", $1 / 1000}'
}

echo "kernel: ${SIZE} MiB, ${RUNS} runs each, medians; $(uname -r)"
echo
echo "| source | setup ms (CLI, incl. process start) |"
echo "|---|---|"
echo "| block image (--image) | $(setup --image "$work/image.ext4") |"
echo "| directory (--dir), passthrough | $(setup --dir "$loop") |"
echo "| directory (--dir), no passthrough | $(setup --dir "$loop" --no-passthrough) |"
echo
printf '| %-34s | %8s | %8s |\n' "read of ${SIZE} MiB kernel" "cold MB/s" "warm MB/s"
echo "|---|---|---|"
row "reference: loop mount, plain read" "$loop/.boot/kernel"
for src in "image:--image $work/image.ext4" "dir+passthrough:--dir $loop" "dir, no passthrough:--dir $loop --no-passthrough"; do
	name=${src%%:*}; args=${src#*:}
	# shellcheck disable=SC2086
	"$ARTIFACTFS" mount --log-level warn --background $args "$mnt" >/dev/null
	row "artifactfs $name" "$mnt/.boot/kernel"
	"$ARTIFACTFS" umount --log-level warn "$mnt"; sleep 0.1
done
