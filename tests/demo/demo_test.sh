#!/usr/bin/env bash
# The README's main command from a fresh clone: clones this repository into a clean
# temporary directory and runs the command the README names (packaging/run.sh demo) there,
# non-interactively (stdin is not a terminal, so the demo exits after printing). The
# demo's build step is skipped with LEASEFS_PREBUILT pointing at the binary this build
# made — compiling the tree a second time would double CI's time, and CI's own run of
# the test command is a fresh-clone build. Then checks what the demo printed and that it
# left nothing behind: no mount, no server, no temporary directory.
# Usage: demo_test.sh SOURCE_DIR LEASEFS_BINARY
set -euo pipefail
src=$1
bin=$2
[ "$(id -u)" = 0 ] || { echo "SKIP: the demo mounts with allow_other and needs root"; exit 77; }
[ -e /dev/fuse ] || { echo "SKIP: no /dev/fuse"; exit 77; }

work=$(mktemp -d /tmp/leasefs-demo-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
git clone -q "$src" "$work/clone"
# Uncommitted work in the source tree is not in the clone; the test runs the committed
# scripts with the current build's binary.
cmd=$(awk '/<!-- main-command -->/{found=1; next} found && /^```$/{if (inblock) exit; inblock=1; next} inblock{print}' "$work/clone/README.md")
[ "$cmd" = "packaging/run.sh demo" ] || { echo "FAIL: the README's main command is '$cmd'"; exit 1; }

demo_dir="$work/demo"
set +e
(cd "$work/clone" && LEASEFS_PREBUILT="$bin" LEASEFS_DEMO_DIR="$demo_dir" timeout 300 $cmd </dev/null) >"$work/out.txt" 2>&1
rc=$?
set -e
fail() { echo "FAIL: $*"; echo "---- demo output ----"; cat "$work/out.txt"; exit 1; }
[ "$rc" = 0 ] || fail "the demo exited $rc"

expect() { grep -qF -- "$1" "$work/out.txt" || fail "the output lacks: $1"; }
expect "Sealed          false"
expect "demo-key-7f3a"                          # cat of the static file
expect "subject=CN = web.internal"              # the issued certificate...
expect "mnt/tls/cert.pem: OK"                   # ...verifies against the CA
expect "user.leasefs.lease_id=\"pki/issue/web/" # its lease, as an xattr
expect "id                   pki/issue/web/"    # and looked up on the server
expect "exe=/usr/bin/cat"                       # the audit entries name the reader
expect "ok: the hash chain is whole"
if ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1; then
  expect "|logged in"                           # psql with the db/dsn file
fi
# Secrets never leave the mount except where the demo cats them: no private key text.
if grep -q "BEGIN .*PRIVATE KEY" "$work/out.txt"; then fail "a private key was printed"; fi

grep -qs "$demo_dir" /proc/mounts && fail "the demo left a mount behind"
[ ! -e "$demo_dir" ] || fail "the demo left $demo_dir behind"
if pgrep -f "leasefs server -config $demo_dir" >/dev/null; then fail "the demo left its server running"; fi
echo "PASS: the README's demo ran from a fresh clone ($(wc -l <"$work/out.txt") lines of output)"
