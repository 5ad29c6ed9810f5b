# Sourced by the shell tests (. "${srcdir:-.}/tests/unit/lib.sh"): a scratch
# directory $tmp removed on exit, fail() to count a failed check, and
# finish MESSAGE to print MESSAGE when all passed and exit 1 when any failed.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
finish() {
	[ $failed -eq 0 ] && echo "$1"
	exit $((failed > 0))
}
