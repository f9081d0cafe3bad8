#!/usr/bin/env bash
# audit_http_bench.sh: what the file audit device costs a real server. One dev server;
# wrk reads GET /v1/secret/data/bench (kv v2) with a non-root token, in interleaved
# rounds with the audit device off and on (enabled and disabled between runs through
# sys/audit, so both halves share the process, its caches and the machine's noise).
# Prints the median requests/s, p50/p99 of each and the ratio on/off (target >= 0.8),
# plus the server's CPU microseconds per request and their difference, what audit costs
# per request (the steadier numbers on a shared machine). The audit log goes to a file
# in a temp dir (fsync=interval, the default).
#
# Usage: bench/audit_http_bench.sh [SECONDS] [LEASEFS_BINARY]
#   SECONDS          length of each wrk run (default 5)
#   LEASEFS_BINARY   default $LEASEFS_BIN, else build/release/cli/leasefs
# Environment: BENCH_ROUNDS (3), BENCH_THREADS (2), BENCH_CONNECTIONS (16).
# Needs wrk and curl (packaging/install-deps.sh). Builds nothing. The server is stopped
# and the temp dir removed on every exit path.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-5}
leasefs=${2:-${LEASEFS_BIN:-$repo/build/release/cli/leasefs}}
rounds=${BENCH_ROUNDS:-3}
threads=${BENCH_THREADS:-2}
conns=${BENCH_CONNECTIONS:-16}
die() { echo "audit_http_bench: $*" >&2; exit 1; }
[[ $seconds =~ ^[0-9]+$ && $seconds -ge 1 ]] || die "SECONDS must be a whole number >= 1"
[[ -x $leasefs ]] || die "no leasefs binary at $leasefs (build target leasefs, or pass its path)"
for tool in wrk curl; do command -v "$tool" >/dev/null || die "$tool not found"; done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/leasefs-audit-bench.XXXXXX")
server_pid=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n $server_pid ]]; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

root=bench-root-token
"$leasefs" server --dev --dev-root-token "$root" --listen 127.0.0.1:0 >"$tmp/server.out" 2>&1 &
server_pid=$!
addr=""
for _ in $(seq 150); do
  addr=$(sed -n 's/^ *Api Address: *//p' "$tmp/server.out" | head -1)
  [[ -n $addr ]] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/server.out" >&2; die "server exited"; }
  sleep 0.1
done
[[ -n $addr ]] || die "server did not print its address"

api() {  # api METHOD PATH [JSON]
  curl -sf -X "$1" -H "X-Vault-Token: $root" ${3:+-d "$3"} "$addr/v1/$2" || die "$1 $2 failed"
}
api POST secret/data/bench '{"data":{"user":"svc","password":"p4ss-not-real","note":"a kv v2 secret of ordinary size"}}' >/dev/null
api PUT sys/policies/acl/bench-read '{"policy":"path \"secret/data/bench\" { capabilities = [\"read\"] }"}' >/dev/null
token=$(api POST auth/token/create '{"policies":["bench-read"],"ttl":"2h"}' |
  sed -n 's/.*"client_token":"\([^"]*\)".*/\1/p')
[[ -n $token ]] || die "could not create a token"

clk_tck=$(getconf CLK_TCK)
cpu_ticks() { sed 's/.*) //' "/proc/$server_pid/stat" | awk '{ print $12 + $13 }'; }

run() {  # run LABEL: one wrk run, appends "rps p50 p99 cpu_us_per_req"
  local label=$1 out="$tmp/$1.wrk" before after
  before=$(cpu_ticks)
  wrk -t"$threads" -c"$conns" -d"${seconds}s" --latency -H "X-Vault-Token: $token" \
    "$addr/v1/secret/data/bench" >"$out" 2>&1 || { cat "$out" >&2; die "wrk failed"; }
  after=$(cpu_ticks)
  grep -qE 'Non-2xx|Socket errors' "$out" && { cat "$out" >&2; die "$label: errors during the run"; }
  awk -v d="$((after - before))" -v hz="$clk_tck" '
    function ms(v) {
      if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
      if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
      if (v ~ /s$/)  return substr(v, 1, length(v) - 1) * 1000
      return v + 0
    }
    / requests in / { reqs = $1 }
    /^ *50% / { p50 = ms($2) }
    /^ *99% / { p99 = ms($2) }
    /^Requests\/sec:/ { rps = $2 }
    END { printf "%s %.3f %.3f %.1f\n", rps, p50, p99, (reqs > 0) ? d / hz * 1e6 / reqs : 0 }
  ' "$out" >>"$tmp/$label.results"
}

median() {  # median COLUMN FILE
  sort -g -k"$1","$1" "$2" | awk -v c="$1" '{ v[NR] = $c } END { print v[int((NR + 1) / 2)] }'
}

for ((r = 1; r <= rounds; r++)); do
  run off
  api PUT sys/audit/bench "{\"type\":\"file\",\"options\":{\"file_path\":\"$tmp/audit.log\",\"fsync\":\"${AUDIT_FSYNC:-interval}\"}}" >/dev/null
  run on
  api DELETE sys/audit/bench >/dev/null
done

entries=$(wc -l <"$tmp/audit.log")
printf 'kv v2 read, %d rounds x %ds, wrk -t%d -c%d, non-root token\n' "$rounds" "$seconds" "$threads" "$conns"
printf '%-10s %12s %9s %9s %14s\n' "" "requests/s" "p50 ms" "p99 ms" "CPU us/req"
for label in off on; do
  printf '%-10s %12s %9s %9s %14s\n' "audit $label" "$(median 1 "$tmp/$label.results")" \
    "$(median 2 "$tmp/$label.results")" "$(median 3 "$tmp/$label.results")" \
    "$(median 4 "$tmp/$label.results")"
done
awk -v on="$(median 1 "$tmp/on.results")" -v off="$(median 1 "$tmp/off.results")" \
  -v con="$(median 4 "$tmp/on.results")" -v coff="$(median 4 "$tmp/off.results")" \
  'BEGIN { printf "ratio on/off: %.2fx requests/s (target >= 0.8), %.2fx CPU per request\n", on / off, con / coff
          printf "audit costs %.1f us of server CPU per request (on - off)\n", con - coff }'
echo "audit entries written: $entries"
