#!/bin/sh
# Runs every benchmark built under BUILD_DIR/bench (default: build) from the
# repository root, so that benchmarks find tests/data and data/.
set -e
BUILD_DIR=${1:-build}
cd "$(dirname "$0")/.."
found=0
for b in "$BUILD_DIR"/bench/bench_*; do
    [ -x "$b" ] || continue
    found=1
    echo "== $b"
    "$b"
done
if [ "$found" = 0 ]; then
    echo "bench/run.sh: no benchmarks in $BUILD_DIR/bench (run 'make bench')" >&2
    exit 1
fi
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(date -u +%Y-%m-%d)"
