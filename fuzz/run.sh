#!/bin/sh
# Builds the libFuzzer target for the hardware loader with clang and runs it
# for SECONDS (default 60) over a corpus seeded with every preset.
set -eu
cd "$(dirname "$0")/.."
seconds=${1:-60}
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DUSIM_FUZZ=ON \
      -DUSIM_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz --target fuzz_hw -j "$(nproc)"
mkdir -p build-fuzz/corpus
cp data/hw/*.json build-fuzz/corpus/
./build-fuzz/fuzz_hw -max_total_time="$seconds" -dict=fuzz/hw.dict \
    -max_len=16384 -timeout=10 build-fuzz/corpus
