#!/usr/bin/env bash
# Installs the npm packages the node client test needs (node-vault, pinned in
# package-lock.json) into tests/clients/node/node_modules, from the npm registry.
# Idempotent: does nothing when the pinned node-vault is already there. Safe to run
# concurrently (packaging/install-deps.sh and the clients test both call it): runs
# hold a lock. Needs node and npm on PATH.
set -euo pipefail
cd "$(dirname "$0")"

want=0.12.0
present() {
  node -e "process.exit(require('./node_modules/node-vault/package.json').version === '$want' ? 0 : 1)" \
    2>/dev/null
}

command -v node >/dev/null || { echo "node-setup: node is not installed (packaging/install-deps.sh)" >&2; exit 1; }
command -v npm >/dev/null || { echo "node-setup: npm is not installed (packaging/install-deps.sh)" >&2; exit 1; }

exec 9>"${TMPDIR:-/tmp}/leasefs-node-setup.lock"
flock -w 600 9 || { echo "node-setup: timed out waiting for another install" >&2; exit 1; }

if present; then
  echo "node-setup: node-vault $want present"
  exit 0
fi
echo "node-setup: installing node-vault $want (npm ci)"
npm ci --no-audit --no-fund --loglevel=error
present || { echo "node-setup: node-vault $want missing after npm ci" >&2; exit 1; }
echo "node-setup: node-vault $want installed"
