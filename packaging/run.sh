#!/usr/bin/env bash
# The README's two commands. Each sets everything up on a fresh Debian bookworm machine
# (packages, configure, build) and then runs one job:
#   packaging/run.sh demo   the main job: a server, secrets, a mount, and what reading its
#                           files does (packaging/demo.sh); stays up until Ctrl-C
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
    # LEASEFS_PREBUILT=BINARY skips the build (tests/demo runs this command from a fresh
    # clone with the binary its build already made); LEASEFS_DEMO_DIR names the demo's
    # directory instead of a new temp dir.
    binary=${LEASEFS_PREBUILT:-}
    if [ -z "$binary" ]; then
      build release leasefs
      binary=build/release/cli/leasefs
    fi
    exec packaging/demo.sh "$binary" ${LEASEFS_DEMO_DIR:+--dir "$LEASEFS_DEMO_DIR"}
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
