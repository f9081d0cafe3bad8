#!/usr/bin/env bash
# The README's two commands. Each sets everything up on a fresh Debian bookworm machine
# (packages, configure, build) and then runs one job:
#   packaging/run.sh demo   the main job: a walk through leasefs as it stands today
#   packaging/run.sh test   the whole test suite (release build, then the unit and
#                           integration tests again under ASan+UBSan); exits non-zero
#                           when any test fails
set -euo pipefail
cd "$(dirname "$0")/.."

job="${1:-}"
case "$job" in
  demo | test) ;;
  *)
    echo "usage: packaging/run.sh demo|test" >&2
    exit 2
    ;;
esac

packaging/install-deps.sh

jobs=$(nproc)
build() {
  cmake --preset "$1" >/dev/null
  cmake --build --preset "$1" -j "$jobs"
}

case "$job" in
  demo)
    build release
    exec packaging/demo.sh build/release/cli/leasefs
    ;;
  test)
    build release
    ctest --preset release -j "$jobs"
    build asan-ubsan
    ctest --preset asan-ubsan -j "$jobs" -L 'unit|integration|fuzz'
    echo "run.sh: all tests passed"
    ;;
esac
