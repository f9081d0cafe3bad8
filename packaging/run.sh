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
build() {  # build PRESET [TARGET...]
  local preset=$1
  shift
  cmake --preset "$preset" >/dev/null
  if (($#)); then
    cmake --build --preset "$preset" -j "$jobs" --target "$@"
  else
    cmake --build --preset "$preset" -j "$jobs"
  fi
}

case "$job" in
  demo)
    build release
    exec packaging/demo.sh build/release/cli/leasefs
    ;;
  test)
    build release
    ctest --preset release -j "$jobs"
    # Under ASan/UBSan: the unit tests and fuzz targets. The live-server, mount and
    # client tests ran above against the release build; running them again under the
    # sanitizers would double the command's time (CI allows 30 minutes on 2 cores).
    build asan-ubsan sanitizer_tests
    ctest --preset asan-ubsan -j "$jobs" -L 'unit|fuzz'
    echo "run.sh: all tests passed"
    ;;
esac
