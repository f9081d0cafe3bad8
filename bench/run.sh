#!/usr/bin/env bash
# Builds the release preset and runs every benchmark. Each prints its own baseline
# measured in the same run and the ratio against it (these machines are shared and
# noisy; compare ratios, not absolute numbers, across runs).
set -euo pipefail
cd "$(dirname "$0")/.."
packaging/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target barrier_bench storage_bench \
  storage_batch_bench leasefs
echo
build/release/bench/barrier_bench "$@"
echo
build/release/bench/storage_bench
echo
bench/http_bench.sh 5 build/release/cli/leasefs
