#!/bin/sh
# Test driver for `make check`.  Unit-test programs run as they are (cmocka
# prints its own summary); a fuzz harness (fuzz-NAME) replays its corpus,
# tests/fuzz/corpus/NAME/.
prog=$1
shift
name=$(basename "$prog")
case $name in
fuzz-*) exec "$prog" "$@" "${srcdir:-.}/tests/fuzz/corpus/${name#fuzz-}" ;;
*) exec "$prog" "$@" ;;
esac
