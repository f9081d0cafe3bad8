#!/usr/bin/env bash
# Installs every Debian bookworm package that building, testing and benchmarking
# leasefs need. Idempotent: packages already present are skipped, and `apt-get update`
# runs at most once, only when something is missing. Needs root (or sudo).
set -euo pipefail

packages=(
  # toolchain
  g++ cmake ninja-build pkg-config make git ca-certificates
  # libraries (DESIGN.md, "Decisions already taken")
  libssl-dev libboost-dev nlohmann-json3-dev libsqlite3-dev libpq-dev libcli11-dev
  libfuse3-dev libsystemd-dev libgtest-dev libgmock-dev libbenchmark-dev
  # tools the tests and benchmarks run
  openssl sqlite3 fuse3 util-linux procps psmisc curl
  # HTTP benchmark (bench/http_bench.sh): load generator, nginx baseline, profiler
  wrk nginx-light linux-perf
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=()
if ((EUID != 0)); then
  command -v sudo >/dev/null || { echo "install-deps: run as root (missing: ${missing[*]})" >&2; exit 1; }
  sudo=(sudo)
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
