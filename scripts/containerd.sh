#!/usr/bin/env bash
# Builds containerd and ctr of one release from the Go module proxy into
# $ARTIFACTFS_CACHE/containerd/<version>/bin, once (a few minutes cold).
#
#   scripts/containerd.sh v1.7.35 [v2.0.14 ...]
#
# 1.7 is module github.com/containerd/containerd, 2.x .../containerd/v2.
# Releases whose go.mod carries `exclude` directives (1.7, 2.0, 2.1) are
# refused by `go install pkg@version`; they are built from a throwaway
# wrapper module that requires the release and repeats its exclude block.
set -euo pipefail
export PATH=/usr/local/go/bin:$PATH
cache=${ARTIFACTFS_CACHE:-/var/cache/artifactfs-ci}/containerd

build() {
	local version=$1 module bin work gomod
	case $version in
	v1.*) module=github.com/containerd/containerd ;;
	v2.*) module=github.com/containerd/containerd/v2 ;;
	*) echo "containerd.sh: unknown version $version (want v1.x.y or v2.x.y)" >&2; return 2 ;;
	esac
	bin=$cache/$version/bin
	if [ -x "$bin/containerd" ] && [ -x "$bin/ctr" ]; then
		return 0
	fi
	echo "building containerd $version into $bin (once; a few minutes)"
	mkdir -p "$bin"
	work=$(mktemp -d)
	trap 'rm -rf "$work"' RETURN
	gomod=$(cd "$work" && go mod download -json "$module@$version" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')
	[ -n "$gomod" ] || { echo "containerd.sh: cannot download $module@$version" >&2; return 1; }
	{
		echo "module artifactfs.local/containerd-build"
		echo "go 1.26"
		echo "require $module $version"
		# The release's own exclude block(s), as they stand in its go.mod.
		awk '/^exclude \($/ {on=1} on {print} on && /^\)$/ {on=0} /^exclude [^(]/ {print}' "$gomod"
	} >"$work/go.mod"
	(
		cd "$work"
		go get "$module@$version" >/dev/null 2>&1 || go get "$module@$version"
		GOBIN=$bin GOFLAGS=-mod=mod go install "$module/cmd/containerd" "$module/cmd/ctr"
	)
	"$bin/containerd" --version
}

[ $# -gt 0 ] || { echo "usage: $0 VERSION..." >&2; exit 2; }
for v in "$@"; do
	build "$v"
done
