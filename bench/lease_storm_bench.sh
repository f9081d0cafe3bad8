#!/usr/bin/env bash
# lease_storm_bench.sh: issue 4's expiry storm through a real server. A `leasefs server`
# on SQLite gets N service tokens (default 100,000), each created with the TTL that makes
# it expire in the same wall-clock second T. While they are created nothing else runs;
# then kv v2 reads (GET /v1/secret/data/bench, a non-root token, wrk with latency
# percentiles) run twice: once idle before T (the baseline), once from T on while the
# expiration manager revokes every token. Prints the time from T until the active-lease
# gauge (sys/metrics) reaches zero (aim: < 30 s) and the reads' p99 idle and during the
# storm (aim: < 10 ms), with the ratio.
#
# Usage: bench/lease_storm_bench.sh [N] [LEASEFS_BINARY]
#   N                tokens expiring together (default 100000)
#   LEASEFS_BINARY   default $LEASEFS_BIN, else build/release/cli/leasefs
# Environment: STORM_THREADS (2), STORM_CONNECTIONS (8) for creating the tokens;
#   STORM_READ_CONNECTIONS (4, one wrk thread) for the reads. p99 under a saturating
#   load measures the queue, not the storm: the reads use few connections.
# Needs wrk and curl. The server and every file are removed on every exit path.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-100000}
leasefs=${2:-${LEASEFS_BIN:-$repo/build/release/cli/leasefs}}
threads=${STORM_THREADS:-2}        # token creation: as fast as the server goes
conns=${STORM_CONNECTIONS:-8}
read_conns=${STORM_READ_CONNECTIONS:-4}  # reads: a steady load, not a saturating one
die() { echo "lease_storm_bench: $*" >&2; exit 1; }
[[ $n =~ ^[0-9]+$ && $n -ge 100 ]] || die "N must be a whole number >= 100"
[[ -x $leasefs ]] || die "no leasefs binary at $leasefs"
for tool in wrk curl; do command -v "$tool" >/dev/null || die "$tool not found"; done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/leasefs-storm.XXXXXX")
server_pid=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  if [[ -n $server_pid ]]; then
    kill -TERM "$server_pid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"  # api, json_field
active() {  # the active-lease gauge
  curl -sS -H "X-Vault-Token: $root" "$addr/v1/sys/metrics?format=prometheus" |
    sed -n 's/^leasefs_expire_leases_active \([0-9]*\).*/\1/p'
}

cat >"$tmp/server.json" <<JSON
{"listener": {"address": "127.0.0.1:0"},
 "storage": {"type": "sqlite", "path": "$tmp/leasefs.db"},
 "default_lease_ttl": "24h", "max_lease_ttl": "24h"}
JSON
: >"$tmp/server.out"
"$leasefs" server -config "$tmp/server.json" -log-level=warn >"$tmp/server.out" 2>"$tmp/server.err" &
server_pid=$!
addr=""
for _ in $(seq 200); do
  addr=$(sed -n 's/^ *Api Address: *//p' "$tmp/server.out")
  [[ -n $addr ]] && break
  sleep 0.05
done
[[ -n $addr ]] || { cat "$tmp/server.err" >&2; die "the server did not start"; }
init=$(api PUT sys/init "" '{"secret_shares":1,"secret_threshold":1}')
key=$(tr -d '\n ' <<<"$init" | sed -n 's/.*"keys_base64":\["\([^"]*\)".*/\1/p')
root=$(json_field root_token <<<"$init")
api PUT sys/unseal "" "{\"key\":\"$key\"}" >/dev/null
api POST sys/mounts/secret "$root" '{"type":"kv","options":{"version":"2"}}' >/dev/null
api POST secret/data/bench "$root" '{"data":{"password":"storm-bench-value"}}' >/dev/null
api PUT sys/policies/acl/reader "$root" \
  '{"policy":"path \"secret/data/bench\" { capabilities = [\"read\"] }"}' >/dev/null
reader=$(api POST auth/token/create "$root" '{"policies":["reader"],"ttl":"24h"}' | json_field client_token)

# Creation rate, to place T: a short sample of the same requests, revoked before the
# storm's tokens are made.
cat >"$tmp/create.lua" <<LUA
local target = tonumber(os.getenv("STORM_T"))
local per_thread = tonumber(os.getenv("STORM_PER_THREAD"))
local done = 0
wrk.method = "POST"
wrk.headers["X-Vault-Token"] = "$root"
wrk.headers["Content-Type"] = "application/json"
request = function()
  local ttl = target - os.time()
  return wrk.format(nil, "/v1/auth/token/create-orphan",
                    nil, '{"ttl":"' .. ttl .. 's","no_default_policy":true}')
end
response = function(status)
  if status ~= 200 then print("token create: HTTP " .. status) end
  done = done + 1
  if done >= per_thread then wrk.thread:stop() end
end
LUA
export STORM_T=$(($(date +%s) + 3600)) STORM_PER_THREAD=1000000000
wrk -t"$threads" -c"$conns" -d3s -s "$tmp/create.lua" "$addr" >"$tmp/sample.txt"
rate=$(awk '/^Requests\/sec/ { print int($2) }' "$tmp/sample.txt")
[[ -n $rate ]] && ((rate > 0)) || die "no tokens created in the sample: $(cat "$tmp/sample.txt")"
api PUT sys/leases/revoke-prefix/auth/token/create-orphan "$root" '{"sync":true}' >/dev/null
# wrk runs for a fixed time even when every thread has stopped, so the time is a bound
# with room; each thread stops after its share of N.
create_s=$(((n + rate - 1) / rate * 14 / 10 + 3))
T=$(($(date +%s) + create_s + 20))
echo "creating $n tokens at about $rate/s, all expiring at $(date -u -d "@$T" +%H:%M:%S) (T)"
export STORM_T=$T STORM_PER_THREAD=$(((n + threads - 1) / threads))
c0=$(date +%s.%N)
wrk -t"$threads" -c"$conns" -d${create_s}s -s "$tmp/create.lua" "$addr" >"$tmp/create.txt"
c1=$(date +%s.%N)
grep -q "HTTP" "$tmp/create.txt" && die "token creation failed: $(grep -m3 HTTP "$tmp/create.txt")"
have=$(active)
echo "active leases after $(awk -v s="$c0" -v e="$c1" 'BEGIN { printf "%.0f", e - s }') s of creation: $have"
((have >= n)) || die "only $have leases are active (creation too slow for T; rerun with a smaller N)"

# Idle reads, then the storm's.
left=$((T - $(date +%s) - 2))
((left >= 5)) || die "no time left before T for the idle sample"
idle_s=$((left < 10 ? left : 10))
wrk -t1 -c"$read_conns" -d${idle_s}s --latency -H "X-Vault-Token: $reader" \
  "$addr/v1/secret/data/bench" >"$tmp/idle.txt"
while (($(date +%s) < T)); do sleep 0.05; done
wrk -t1 -c"$read_conns" -d30s --latency -H "X-Vault-Token: $reader" \
  "$addr/v1/secret/data/bench" >"$tmp/storm.txt" &
wrk_pid=$!
done_at=""
while kill -0 "$wrk_pid" 2>/dev/null; do
  if [[ -z $done_at && $(active) -le 2 ]]; then done_at=$(date +%s.%N); fi
  sleep 0.2
done
wait "$wrk_pid"
while [[ -z $done_at ]]; do
  (($(date +%s) < T + 120)) || break
  if (($(active) <= 2)); then done_at=$(date +%s.%N); fi
  sleep 0.2
done
[[ -n $done_at ]] || die "the storm did not finish within 120 s (active: $(active))"

p99() { awk '/^ +99%/ { v = $2; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v) } else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 } print v }' "$1"; }
rps() { awk '/^Requests\/sec/ { print int($2) }' "$1"; }
idle_p99=$(p99 "$tmp/idle.txt")
storm_p99=$(p99 "$tmp/storm.txt")
echo
printf '%-44s %s\n' "leases expiring in second T" "$n (service tokens, SQLite)"
printf '%-44s %s\n' "all revoked after T" "$(awk -v t="$T" -v d="$done_at" 'BEGIN { printf "%.1f s", d - t }') (aim < 30 s)"
printf '%-44s %s\n' "kv read p99, idle (baseline)" "$idle_p99 ms ($(rps "$tmp/idle.txt") req/s)"
printf '%-44s %s\n' "kv read p99, during the storm" "$storm_p99 ms ($(rps "$tmp/storm.txt") req/s) (aim < 10 ms)"
printf '%-44s %s\n' "p99 storm / idle" "$(awk -v a="$storm_p99" -v b="$idle_p99" 'BEGIN { printf "%.2fx", a / b }')"
