#!/usr/bin/env bash
# Installs every Debian bookworm package that building, testing and benchmarking
# leasefs need, then the npm packages of the clients tests. Idempotent: packages already
# present are skipped, and `apt-get update` runs at most once, only when something is
# missing. Needs root (or sudo).
set -euo pipefail

packages=(
  # toolchain
  g++ cmake ninja-build pkg-config make git ca-certificates
  # libraries (DESIGN.md, "Decisions already taken")
  libssl-dev libboost-dev nlohmann-json3-dev rapidjson-dev libsqlite3-dev libpq-dev libcli11-dev
  libfuse3-dev libsystemd-dev libgtest-dev libgmock-dev libbenchmark-dev
  # tools the tests and benchmarks run
  openssl sqlite3 fuse3 util-linux procps psmisc curl
  attr  # getfattr, for the mount's extended attributes (tests/fuse)
  # the Debian package (cmake/packaging.cmake, tests/packaging): man page from the help,
  # dependencies from the shared libraries (dpkg-shlibdeps; CPack runs file on each
  # binary), unit checks (systemd-analyze)
  help2man dpkg-dev file systemd
  # real servers the database and ssh engine tests start (initdb/postgres, sshd, ssh)
  postgresql openssh-server openssh-client
  # HTTP benchmark (bench/http_bench.sh): load generator, nginx baseline, profiler
  wrk nginx-light linux-perf
)

# Vault clients the clients tests drive: hvac for /usr/bin/python3 (Debian's), and Node.js
# with npm for node-vault: the machine's own when present (NodeSource's nodejs bundles
# npm), else Debian's.
packages+=(python3 python3-hvac)
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
else
  sudo=()
  if ((EUID != 0)); then
    command -v sudo >/dev/null || { echo "install-deps: run as root (missing: ${missing[*]})" >&2; exit 1; }
    sudo=(sudo)
  fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# npm packages of the clients tests (node-vault, pinned by its package-lock.json), into
# tests/clients/node/node_modules; skipped when already there.
"$(dirname "$0")/../tests/clients/node/setup.sh"
