#!/bin/bash
# Builds MetalLB's controller (go.universe.tf/metallb/controller) from its Go
# module, fetched through the Go module proxy, for the side-by-side of
# tests/bench/bench-lbipam.sh.  The binary lands outside the repository, in
# $BERTH_METALLB_DIR (default ~/.cache/berth/metallb/<version>/), is built
# once per machine, and its directory is printed on the last line.
#
#   tests/bench/build-metallb.sh
#
# Environment: BERTH_METALLB_VERSION (v0.15.2), BERTH_METALLB_DIR, GOPROXY.
set -euo pipefail

VERSION=${BERTH_METALLB_VERSION:-v0.15.2}
OUT=${BERTH_METALLB_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/berth/metallb/$VERSION}

command -v go >/dev/null || { echo "build-metallb: go is required" >&2; exit 1; }
mkdir -p "$OUT"
if [ ! -x "$OUT/controller" ]; then
	echo "build-metallb: building MetalLB's controller $VERSION (once per machine)" >&2
	work=$OUT/.src
	mkdir -p "$work"
	# A consumer module: MetalLB's own go.mod has no replace directives, so
	# its requirements are taken as they are (minimal version selection).
	(
		cd "$work"
		export GOFLAGS=-mod=mod CGO_ENABLED=0 GOTOOLCHAIN=${GOTOOLCHAIN:-local}
		printf 'module berth.local/metallb\n\ngo 1.24.0\n\nrequire go.universe.tf/metallb %s\n' "$VERSION" > go.mod
		printf '//go:build tools\n\npackage tools\n\nimport _ "go.universe.tf/metallb/controller"\n' > tools.go
		go mod tidy >/dev/null 2>&1 || true
		go build -trimpath -ldflags "-s -w" \
			-o "$OUT/controller.tmp" go.universe.tf/metallb/controller
	)
	mv "$OUT/controller.tmp" "$OUT/controller"
fi
echo "$OUT"
