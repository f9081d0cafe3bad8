#!/usr/bin/env bash
# The main job at this stage of leasefs: create an encrypted store, unseal it with a
# threshold of key shares, rotate its encryption key, and show what each step reports.
# Usage: packaging/demo.sh PATH-TO-leasefs [DIR]   (DIR defaults to a new temp dir)
set -euo pipefail
leasefs="$1"
dir="${2:-$(mktemp -d /tmp/leasefs-demo.XXXXXX)}"
store="$dir/leasefs.db"
keys="$dir/unseal-keys.json"
umask 077

step() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "$2"; }

step "Initialize a store: 5 key shares, any 3 unseal it" \
  "leasefs operator init -storage $store -key-shares=5 -key-threshold=3 -format=json > $keys"
"$leasefs" operator init -storage "$store" -key-shares=5 -key-threshold=3 -format=json >"$keys"
echo "(5 unseal key shares written to $keys, mode 0600; a real operator hands them to 5 people)"

step "The store is sealed at rest" "leasefs status -storage $store"
"$leasefs" status -storage "$store" || true   # exit code 2 means "sealed"

step "A second init is refused; nothing is overwritten" "leasefs operator init -storage $store"
"$leasefs" operator init -storage "$store" || true

share() { sed -n 's/^ *"\([0-9a-f]\{66\}\)",\{0,1\}$/\1/p' "$keys" | sed -n "${1}p"; }

step "Two shares are not enough" "leasefs operator unseal -storage $store  (shares 1 and 4 on stdin)"
printf '%s\n%s\n' "$(share 1)" "$(share 4)" | "$leasefs" operator unseal -storage "$store" || true

step "A wrong share is caught by the unseal check" "leasefs operator unseal -storage $store  (shares 1, 4 and a forged one)"
printf '%s\n%s\n%s\n' "$(share 1)" "$(share 4)" "$(printf '%066d' 7)" |
  "$leasefs" operator unseal -storage "$store" || true

step "Any three shares unseal it" "leasefs operator unseal -storage $store  (shares 1, 4 and 5)"
printf '%s\n%s\n%s\n' "$(share 1)" "$(share 4)" "$(share 5)" | "$leasefs" operator unseal -storage "$store"

step "Rotate the encryption key; data under old terms stays readable" "leasefs operator rotate -storage $store"
printf '%s\n%s\n%s\n' "$(share 2)" "$(share 3)" "$(share 5)" | "$leasefs" operator rotate -storage "$store"

step "Key status" "leasefs operator key-status -storage $store"
printf '%s\n%s\n%s\n' "$(share 1)" "$(share 2)" "$(share 3)" | "$leasefs" operator key-status -storage "$store"

cat <<MSG

The store is $store (SQLite, every value AES-256-GCM encrypted, bound to its key).
What comes next in leasefs: the Vault-compatible server, leases and audit, and the
mount where opening a file generates a leased secret (see README.md, "Status").
MSG
