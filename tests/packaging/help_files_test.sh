#!/usr/bin/env bash
# The bash completion and the man page generated at build time from `leasefs --help`
# (packaging/completion/from_help.py, help2man): the completion registers itself for
# leasefs and completes subcommands, nested subcommands, flags, Vault-style -flags and
# flag values; the man page has every subcommand and renders without warnings.
#   help_files_test.sh GENERATED_DIR LEASEFS_BINARY
set -euo pipefail
dir=$1 leasefs=$2
# shellcheck source=SCRIPTDIR/common.sh
source "$(dirname "$0")/common.sh"

# --- completion, in a clean shell without bash-completion's helpers
out=$(bash --norc --noprofile -c '
  source "$1" || exit 1
  complete -p leasefs
  t() {  # the words on the line; the last one is where the cursor is
    COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
    _leasefs
    echo "$*|${COMPREPLY[*]}"
  }
  t leasefs ""
  t leasefs op
  t leasefs kv ""
  t leasefs kv metadata p
  t leasefs kv put --f
  t leasefs kv put -format = ""
  t leasefs kv put --format ""
  t leasefs kv put --format json --m
  t leasefs mount --config x --fo
  t leasefs operator init -n 3 --key-t
' _ "$dir/leasefs.bash")
expect() {  # LINE EXPECTED-COMPLETIONS
  local got
  got=$(grep -F -x -m1 "$1|$2" <<<"$out" || true)
  [[ -n $got ]] || fail "completing '$1': want '$2', got '$(grep -F "$1|" <<<"$out" | head -1 | cut -d'|' -f2)'"
}
grep -qx 'complete -o default -F _leasefs leasefs' <<<"$out" || fail "complete -p leasefs: $(head -1 <<<"$out")"
top=$(grep '^leasefs |' <<<"$out" | cut -d'|' -f2)
for c in server status operator kv token policy secrets auth lease audit mount version; do
  [[ " $top " == *" $c "* ]] || fail "'leasefs <TAB>' does not offer $c: $top"
done
expect "leasefs op" "operator"
expect "leasefs kv metadata p" "put patch"
expect "leasefs kv put --f" "--format --field"
expect "leasefs kv put -format = " "table json"
expect "leasefs kv put --format " "table json"
expect "leasefs kv put --format json --m" "--mount"
expect "leasefs mount --config x --fo" "--foreground"
expect "leasefs operator init -n 3 --key-t" "--key-threshold"
grep -q '^leasefs kv |.*\bmetadata\b' <<<"$out" || fail "'leasefs kv <TAB>' lacks metadata"

# Every subcommand the binary knows is in the completion.
for c in $("$leasefs" --help | sed -n '/^Subcommands:/,/^$/p' | awk 'NR > 1 && NF {print $1}'); do
  grep -q "^  \['leasefs'\]=.*\b$c\b" "$dir/leasefs.bash" || fail "completion lacks subcommand $c"
done

# --- man page
page=$(gzip -dc "$dir/leasefs.1.gz")
grep -q '^\.TH LEASEFS "\?1' <<<"$page" || fail "leasefs.1 has no .TH LEASEFS 1 header"
for s in NAME SYNOPSIS OPTIONS COMMANDS FILES '"SEE ALSO"'; do
  grep -q "^\.SH $s" <<<"$page" || fail "leasefs.1 has no $s section"
done
for c in 'leasefs server' 'leasefs kv put' 'leasefs mount' 'leasefs operator unseal'; do
  grep -q "^\.SS \"$c " <<<"$page" || fail "leasefs.1 does not describe '$c'"
done
if command -v man >/dev/null; then
  warnings=$(MANWIDTH=80 man --warnings -l "$dir/leasefs.1.gz" 2>&1 >/dev/null || true)
  [[ -z $warnings ]] || fail "man warns about leasefs.1: $warnings"
else
  echo "man is not installed: the page's rendering was not checked"
fi
echo "completion and man page: ok"
