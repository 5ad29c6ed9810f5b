#!/bin/bash
# Build the real control plane berth is tested against, from Go modules
# fetched through the Go module proxy, and cache it outside the repository.
#
#   tests/envtest/build.sh [component ...]
#
# Components: kube-apiserver etcd (default), kube-controller-manager,
# kube-proxy.  Binaries land in $BERTH_ENVTEST_DIR (default
# ~/.cache/berth/envtest/<kubernetes version>/) and are built once per
# machine; the script prints that directory on its last line.
set -euo pipefail

KUBE_VERSION=${BERTH_KUBE_VERSION:-v1.33.13}
ETCD_VERSION=${BERTH_ETCD_VERSION:-v3.5.21}
OUT=${BERTH_ENVTEST_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/berth/envtest/$KUBE_VERSION}

components=("$@")
[ ${#components[@]} -gt 0 ] || components=(kube-apiserver etcd)

command -v go >/dev/null || { echo "build.sh: go is required (Debian: golang, or /usr/local/go)" >&2; exit 1; }
mkdir -p "$OUT"
export GOFLAGS=-mod=mod CGO_ENABLED=0 GOTOOLCHAIN=${GOTOOLCHAIN:-local}

# k8s.io/kubernetes replaces its staging modules with ./staging/...; a
# consumer module must pin each of them to the matching v0.x release.
kube_module() {
	local dir=$1 staging=v0.${KUBE_VERSION#v1.}
	mkdir -p "$dir"
	cd "$dir"
	[ -f go.mod ] || go mod init berth.local/envtest >/dev/null 2>&1
	go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" >/dev/null
	local gomod
	gomod=$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
	{
		echo "module berth.local/envtest"
		echo "go 1.24.0"
		echo "require k8s.io/kubernetes $KUBE_VERSION"
		sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#replace \1 => \1 '"$staging"'#p' "$gomod"
	} > go.mod
}

build_kube() {
	local name=$1 work="$OUT/.src/kubernetes"
	[ -x "$OUT/$name" ] && return 0
	echo "build.sh: building $name $KUBE_VERSION (once per machine)" >&2
	( kube_module "$work"
	  cat > tools.go <<-EOF
	//go:build tools
	package tools
	import _ "k8s.io/kubernetes/cmd/$name"
	EOF
	  go mod tidy >/dev/null 2>&1 || true
	  go build -trimpath -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/client-go/pkg/version.gitVersion=$KUBE_VERSION" \
		-o "$OUT/$name.tmp" "k8s.io/kubernetes/cmd/$name" )
	mv "$OUT/$name.tmp" "$OUT/$name"
}

build_etcd() {
	local work="$OUT/.src/etcd"
	[ -x "$OUT/etcd" ] && return 0
	echo "build.sh: building etcd $ETCD_VERSION (once per machine)" >&2
	( mkdir -p "$work" && cd "$work"
	  cat > go.mod <<-EOF
	module berth.local/etcd
	go 1.24.0
	require go.etcd.io/etcd/server/v3 $ETCD_VERSION
	EOF
	  go mod download "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
	  cat > tools.go <<-EOF
	//go:build tools
	package tools
	import _ "go.etcd.io/etcd/server/v3/etcdmain"
	EOF
	  go mod tidy >/dev/null 2>&1 || true
	  mkdir -p cmd/etcd
	  cat > cmd/etcd/main.go <<-EOF
	package main

	import (
		"os"

		"go.etcd.io/etcd/server/v3/etcdmain"
	)

	func main() { etcdmain.Main(os.Args) }
	EOF
	  go mod tidy >/dev/null
	  go build -trimpath -ldflags "-s -w" -o "$OUT/etcd.tmp" ./cmd/etcd )
	mv "$OUT/etcd.tmp" "$OUT/etcd"
}

for c in "${components[@]}"; do
	case $c in
	etcd) build_etcd ;;
	kube-apiserver|kube-controller-manager|kube-proxy) build_kube "$c" ;;
	*) echo "build.sh: unknown component '$c'" >&2; exit 2 ;;
	esac
done
echo "$OUT"
