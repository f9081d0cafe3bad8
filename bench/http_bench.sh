#!/usr/bin/env bash
# http_bench.sh: leasefs's Vault HTTP API under wrk on loopback, each number next to a
# baseline measured in the same run, in interleaved rounds (medians reported; these
# machines are shared and noisy, so compare ratios, not absolute numbers, across runs).
#
#   1. KV v2 read: GET /v1/secret/data/bench with a NON-root token whose policy grants
#      read on that path, against nginx serving leasefs's own response body (captured
#      byte for byte) as a static file at the same URL. Same wrk parameters for both.
#      Target: leasefs/nginx >= 0.5x.
#   2. Token creation: POST /v1/auth/token/create with a non-root parent token, SQLite
#      storage. Baseline: SqliteStorage::apply of a batch of the same shape as one token
#      creation (3 puts: accessor index, parent index, token entry; sizes as the server
#      stores them) from as many threads as the server has request workers, on a file in
#      the same directory (bench/storage_batch_bench): what the storage alone does for
#      the same commits, without HTTP, JSON, ACLs, the barrier or the engine.
#   3. KV v2 writes: POST /v1/secret/data/w/<thread>-<n> over rotating keys, SQLite
#      storage. Baseline: the same, with a KV write's shape (2 puts: version, metadata).
#   Durable write rates are commits/s x operations per commit. Commits/s is the disk's
#   and swings widely on a shared machine, even between interleaved rounds; operations
#   per commit (group commit) is steady. So when perf can count syscalls, the server's
#   fsyncs are counted during its runs and requests per fsync is printed next to the
#   storage's batches per commit: the disk-independent half of the comparison.
#   For 2 and 3, also shown for context: an authenticated GET that writes nothing
#   (auth/token/lookup-self, same token, same server) — the server's CPU-bound rate, so
#   the cost of durability is visible next to the cost of everything else.
#
# Usage: bench/http_bench.sh [--profile] [SECONDS] [LEASEFS_BINARY]
#   SECONDS          length of each wrk run (default 5)
#   LEASEFS_BINARY   default $LEASEFS_BIN, else build/release/cli/leasefs
#   --profile        also record a kv-read load with `perf record` (cpu-clock, frame
#                    pointers) and print the hottest functions
# Environment: HTTP_BENCH_ROUNDS (3), HTTP_BENCH_THREADS (2), HTTP_BENCH_CONNECTIONS (16),
#   STORAGE_BATCH_BENCH (default: bench/storage_batch_bench next to the binary's build),
#   HTTP_BENCH_PROFILE_DIR (keep perf.data and the full report there).
# Builds nothing. Needs wrk, nginx (nginx-light), curl; perf (linux-perf) for --profile
# and for counting fsyncs (optional).
# Every server it starts (leasefs, nginx, perf) is stopped on every exit path; files live
# in a temp dir under $TMPDIR that is removed at exit.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
profile=0
positional=()
for arg in "$@"; do
  case "$arg" in
    --profile) profile=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "http_bench: unknown option $arg" >&2; exit 2 ;;
    *) positional+=("$arg") ;;
  esac
done
seconds=${positional[0]:-5}
leasefs=${positional[1]:-${LEASEFS_BIN:-$repo/build/release/cli/leasefs}}
rounds=${HTTP_BENCH_ROUNDS:-3}
threads=${HTTP_BENCH_THREADS:-2}
conns=${HTTP_BENCH_CONNECTIONS:-16}
batch_bench=${STORAGE_BATCH_BENCH:-$(dirname "$leasefs")/../bench/storage_batch_bench}

die() { echo "http_bench: $*" >&2; exit 1; }
[[ $seconds =~ ^[0-9]+$ && $seconds -ge 1 ]] || die "SECONDS must be a whole number >= 1"
[[ $rounds =~ ^[0-9]+$ && $rounds -ge 1 ]] || die "HTTP_BENCH_ROUNDS must be >= 1"
[[ -x $leasefs ]] || die "no leasefs binary at $leasefs (build it: cmake --preset release && cmake --build --preset release --target leasefs storage_batch_bench; or pass its path)"
[[ -x $batch_bench ]] || die "no storage_batch_bench at $batch_bench (build target storage_batch_bench, or set STORAGE_BATCH_BENCH)"
for tool in wrk nginx curl; do
  command -v "$tool" >/dev/null || die "$tool not found (packaging/install-deps.sh installs it)"
done
((profile == 0)) || command -v perf >/dev/null || die "--profile needs perf (apt-get install linux-perf)"

# ---------------------------------------------------------------- processes and cleanup
tmp=$(mktemp -d "${TMPDIR:-/tmp}/leasefs-http-bench.XXXXXX")
chmod 755 "$tmp"          # nginx workers drop root: they must reach $tmp/www
mkdir -m 700 "$tmp/private"
pids=()                   # leasefs and perf processes started here
nginx_pidfile=""
sync_pid=""               # see run_wrk

stop_pid() {  # TERM, then KILL after 10 s
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}
forget_pid() {  # after a process was waited for: never signal a pid that may be reused
  local pid kept=()
  for pid in "${pids[@]}"; do [[ $pid == "$1" ]] || kept+=("$pid"); done
  pids=("${kept[@]}")
}
cleanup() {
  local rc=$? pid
  trap - EXIT INT TERM
  set +e
  if [[ -n $nginx_pidfile && -s $nginx_pidfile ]]; then stop_pid "$(cat "$nginx_pidfile")"; fi
  for pid in "${pids[@]}"; do stop_pid "$pid"; wait "$pid" 2>/dev/null; done
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Starts `leasefs server ARGS...` (logging at warn), waits for its address; sets $addr
# and $server_pid.
start_leasefs() {
  local name=$1 i
  shift
  : >"$tmp/$name.out"     # exists before the child opens it: polled below
  "$leasefs" server "$@" -log-level=warn >"$tmp/$name.out" 2>"$tmp/$name.err" &
  server_pid=$!
  pids+=("$server_pid")
  addr=""
  for ((i = 0; i < 200; i++)); do
    addr=$(sed -n 's/^ *Api Address: *//p' "$tmp/$name.out")
    [[ -n $addr ]] && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.05
  done
  cat "$tmp/$name.out" "$tmp/$name.err" >&2
  die "leasefs ($name) did not start"
}
stop_leasefs() {
  stop_pid "$1"
  wait "$1" 2>/dev/null || true
  forget_pid "$1"
}

# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"  # api, json_field

# ------------------------------------------------------------------------ measurement
# run_wrk LABEL URL [wrk args...]: one wrk run; appends "rps p50_ms p99_ms" to
# $tmp/LABEL.results. Any non-2xx response or socket error makes the run fail.
# When $sync_pid is set (SQLite runs, perf available), also counts that process's fsync and
# fdatasync calls over the run (perf stat on syscall tracepoints, a window that covers
# wrk's; an idle server makes none) and appends requests per sync to $tmp/LABEL.syncs.
run_wrk() {
  local label=$1 url=$2 out="$tmp/$1.wrk" perf_pid=""
  shift 2
  if [[ -n $sync_pid ]]; then
    perf stat -x, -e syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync -p "$sync_pid" \
      -o "$tmp/$label.perf" -- sleep "$((seconds + 1))" >/dev/null 2>&1 &
    perf_pid=$!
    pids+=("$perf_pid")
    sleep 0.3
  fi
  local cpu_before cpu_after
  cpu_before=$(cpu_ticks)
  wrk -t"$threads" -c"$conns" -d"${seconds}s" --latency "$@" "$url" >"$out" 2>&1 ||
    { cat "$out" >&2; die "wrk failed ($label)"; }
  cpu_after=$(cpu_ticks)
  awk -v d="$((cpu_after - cpu_before))" -v hz="$clk_tck" \
    -v reqs="$(awk '/ requests in / { print $1 }' "$out")" \
    'BEGIN { printf "%.1f\n", (reqs > 0) ? d / hz * 1e6 / reqs : 0 }' >>"$tmp/$label.cpu"
  if [[ -n $perf_pid ]]; then
    wait "$perf_pid" || die "perf stat failed ($label)"
    forget_pid "$perf_pid"
    awk -F, -v reqs="$(awk '/ requests in / { print $1 }' "$out")" '
      $3 ~ /sys_enter_f/ { syncs += $1 }
      END { if (syncs > 0) printf "%.2f\n", reqs / syncs }' "$tmp/$label.perf" >>"$tmp/$label.syncs"
  fi
  if grep -qE 'Non-2xx|Socket errors' "$out"; then
    cat "$out" >&2
    die "$label: errors during the run (see wrk's output above)"
  fi
  awk '
    function ms(v) {
      if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
      if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
      if (v ~ /s$/)  return substr(v, 1, length(v) - 1) * 1000
      return v + 0
    }
    /^ *50% / { p50 = ms($2) }
    /^ *99% / { p99 = ms($2) }
    /^Requests\/sec:/ { rps = $2 }
    END { if (rps == "" || p50 == "" || p99 == "") exit 1; printf "%s %.3f %.3f\n", rps, p50, p99 }
  ' "$out" >>"$tmp/$label.results" || { cat "$out" >&2; die "cannot parse wrk's output ($label)"; }
}
# CPU time (user + system, clock ticks) used so far by the processes in $cpu_pids: the
# server under test (nginx: its workers). CPU per request does not depend on how much of
# the shared cores the server got, so it is the steadier half of the comparison.
cpu_pids=""
clk_tck=$(getconf CLK_TCK)
cpu_ticks() {
  local pid total=0 t
  for pid in $cpu_pids; do
    t=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{ print $12 + $13 }')
    total=$((total + ${t:-0}))
  done
  echo "$total"
}
# run_batch LABEL VALUES: one storage_batch_bench run; appends its batches/s. Its file
# lives on across rounds, as the server's does.
run_batch() {
  local label=$1 values=$2 line
  line=$("$batch_bench" --file "$tmp/private/$label.db" --seconds "$seconds" \
         --writers "$writers" --values "$values") || die "storage_batch_bench failed"
  sed -n 's/.*batches_per_second=\([0-9.]*\).*/\1 0 0/p' <<<"$line" >>"$tmp/$label.results"
  sed -n 's/.*writes_per_commit=\([0-9.]*\).*/\1/p' <<<"$line" >>"$tmp/$label.commits"
}
# field LABEL N: the Nth field of every round, one a line.
field() { awk -v n="$2" '{ print $n }' "$tmp/$1.results"; }
median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
med() { field "$1" "$2" | median; }
range() { field "$1" 1 | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.0f..%.0f", lo, hi }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", (b > 0) ? a / b : 0 }'; }
row() {  # row NAME LABEL: req/s, p50, p99, CPU us/request (medians), min..max of req/s
  local p50 p99 cpu=-
  p50=$(med "$2" 2) p99=$(med "$2" 3)
  if [[ $p50 == 0 ]]; then p50=-; p99=-; fi  # storage baseline: no latency
  [[ -s $tmp/$2.cpu ]] && cpu=$(median <"$tmp/$2.cpu")
  printf '  %-44s %8.0f %8s %8s %9s   %s\n' "$1" "$(med "$2" 1)" "$p50" "$p99" "$cpu" "$(range "$2")"
}
# group_commit SERVER_LABEL STORAGE_LABEL: the disk-independent part of the comparison.
# Throughput = commits/s x operations per commit: the first is the disk's (noisy), the
# second is how well writes are grouped (steady), so both are shown.
group_commit() {
  local server="-" server_rate="-" storage storage_rate
  if [[ -s $tmp/$1.syncs ]]; then
    server=$(median <"$tmp/$1.syncs")
    server_rate=$(awk -v r="$(med "$1" 1)" -v g="$server" 'BEGIN { printf "%.0f", r / g }')
  fi
  storage=$(median <"$tmp/$2.commits")
  storage_rate=$(awk -v r="$(med "$2" 1)" -v g="$storage" 'BEGIN { printf "%.0f", r / g }')
  local note=""
  [[ $server == - ]] && note=" (no perf with syscall tracepoints: fsyncs not counted)"
  echo "  group commit: leasefs $server requests per fsync (~$server_rate fsync/s);" \
       "storage $storage batches per commit (~$storage_rate commits/s)$note"
}
header() {
  printf '  %-44s %8s %8s %8s %9s   %s\n' "" "req/s" "p50 ms" "p99 ms" "CPU us/r" "req/s min..max"
}

cores=$(nproc)
workers=$((4 * cores > 8 ? 4 * cores : 8))   # the server's handler threads (backend/http)
writers=$((conns < workers ? conns : workers))
echo "http_bench: $leasefs"
echo "  wrk -t$threads -c$conns -d${seconds}s --latency; $rounds interleaved rounds, medians;" \
     "$cores cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"

# ------------------------------------------------------------- 1. KV v2 read vs nginx
root=$(head -c 18 /dev/urandom | base64 | tr '+/' 'ab')
start_leasefs dev -dev "-dev-root-token=$root" -listen=127.0.0.1:0
dev_pid=$server_pid
api PUT sys/policies/acl/bench-read "$root" \
  '{"policy":"path \"secret/data/bench\" { capabilities = [\"read\"] }"}' >/dev/null
secret_value=$(head -c 48 /dev/urandom | base64 | tr -d '\n')
api POST secret/data/bench "$root" \
  "{\"data\":{\"username\":\"bench\",\"password\":\"$secret_value\"}}" >/dev/null
read_token=$(api POST auth/token/create "$root" '{"policies":["bench-read"],"ttl":"24h"}' |
             json_field client_token)
[[ -n $read_token ]] || die "no client_token in auth/token/create's response"
mkdir -p "$tmp/www/v1/secret/data"
api GET secret/data/bench "$read_token" >"$tmp/www/v1/secret/data/bench"
body_bytes=$(wc -c <"$tmp/www/v1/secret/data/bench")
# The token really is restricted: the same token may not read a sibling path.
denied=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Vault-Token: $read_token" \
         "$addr/v1/secret/data/other")
[[ $denied == 403 ]] || die "the read token is not restricted (secret/data/other: HTTP $denied)"
leasefs_read_url="$addr/v1/secret/data/bench"

mkdir -p "$tmp/nginx"
nginx_conf="$tmp/nginx/nginx.conf"
nginx_port=""
for ((try = 0; try < 20; try++)); do
  port=$((20000 + RANDOM % 40000))
  cat >"$nginx_conf" <<EOF
worker_processes 2;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  default_type application/json;
  keepalive_requests 1000000000;
  client_body_temp_path $tmp/nginx/body;
  proxy_temp_path $tmp/nginx/proxy;
  fastcgi_temp_path $tmp/nginx/fastcgi;
  uwsgi_temp_path $tmp/nginx/uwsgi;
  scgi_temp_path $tmp/nginx/scgi;
  server {
    listen 127.0.0.1:$port;
    root $tmp/www;
  }
}
EOF
  nginx_pidfile="$tmp/nginx/nginx.pid"
  if nginx -e "$tmp/nginx/error.log" -c "$nginx_conf" 2>>"$tmp/nginx/start.log"; then
    nginx_port=$port
    break
  fi
done
[[ -n $nginx_port ]] || { cat "$tmp/nginx/start.log" >&2; die "nginx did not start"; }
nginx_url="http://127.0.0.1:$nginx_port/v1/secret/data/bench"
for ((i = 0; i < 100; i++)); do [[ -s $nginx_pidfile ]] && break; sleep 0.05; done
cmp -s <(curl -sS "$nginx_url") "$tmp/www/v1/secret/data/bench" ||
  die "nginx does not serve the captured body"

read_args=(-H "X-Vault-Token: $read_token")
# Warm-up (connections, caches, CPU frequency), not counted.
wrk -t"$threads" -c"$conns" -d1s "${read_args[@]}" "$leasefs_read_url" >/dev/null
wrk -t"$threads" -c"$conns" -d1s "${read_args[@]}" "$nginx_url" >/dev/null
nginx_workers=$(pgrep -P "$(cat "$nginx_pidfile")" | tr '\n' ' ')
read_leasefs() { cpu_pids=$dev_pid run_wrk read_leasefs "$leasefs_read_url" "${read_args[@]}"; }
read_nginx() { cpu_pids=$nginx_workers run_wrk read_nginx "$nginx_url" "${read_args[@]}"; }
for ((r = 1; r <= rounds; r++)); do
  if ((r % 2)); then read_leasefs; read_nginx; else read_nginx; read_leasefs; fi
done

trim() { cut -c1-168 | sed 's/ *$//; s/^/  /'; }  # perf's padding; long template names
if ((profile)); then
  echo
  echo "profiling: perf record -e cpu-clock -g (frame pointers) of leasefs -dev for ${seconds}s of kv-read load"
  perf record -q -e cpu-clock -F 2999 -g -p "$dev_pid" -o "$tmp/perf.data" -- sleep "$seconds" \
    >"$tmp/perf.log" 2>&1 &
  perf_pid=$!
  pids+=("$perf_pid")
  sleep 0.3
  wrk -t"$threads" -c"$conns" -d"${seconds}s" "${read_args[@]}" "$leasefs_read_url" >/dev/null
  wait "$perf_pid" || { cat "$tmp/perf.log" >&2; die "perf record failed"; }
  forget_pid "$perf_pid"
  perf report -i "$tmp/perf.data" --stdio --no-children --sort dso -g none --percent-limit 2 \
    2>/dev/null | grep -v '^#' | grep -v '^$' | head -n 12 | trim || true
  echo "  -- hottest functions (self time):"
  perf report -i "$tmp/perf.data" --stdio --no-children --sort dso,symbol -g none \
    --percent-limit 0.7 2>/dev/null | grep -v '^#' | grep -v '^$' | head -n 40 | trim || true
  echo "  -- inclusive time (children) of leasefs functions and of the costly calls they make:"
  perf report -i "$tmp/perf.data" --stdio --children --sort symbol -g none --percent-limit 0.5 \
    2>/dev/null | grep -E 'leasefs::|__x64_sys_futex|__sys_sendmsg|__sys_recvmsg|__sys_recvfrom|pthread_cond_signal|\] (malloc|HMAC|RAND_bytes)$' |
    head -n 40 | trim || true
  if [[ -n ${HTTP_BENCH_PROFILE_DIR:-} ]]; then
    mkdir -p "$HTTP_BENCH_PROFILE_DIR"
    cp "$tmp/perf.data" "$HTTP_BENCH_PROFILE_DIR/perf.data"
    perf report -i "$tmp/perf.data" --stdio --no-children >"$HTTP_BENCH_PROFILE_DIR/report.txt" 2>/dev/null
    echo "  perf.data and report.txt kept in $HTTP_BENCH_PROFILE_DIR"
  fi
fi
stop_leasefs "$dev_pid"
stop_pid "$(cat "$nginx_pidfile")"
nginx_pidfile=""
sync_pid=""               # see run_wrk

# ---------------------------------------------- 2 and 3. durable writes on SQLite storage
cat >"$tmp/private/server.json" <<EOF
{"listener": {"address": "127.0.0.1:0"},
 "storage": {"type": "sqlite", "path": "$tmp/private/leasefs.db"},
 "log_level": "warn"}
EOF
start_leasefs sqlite -config "$tmp/private/server.json"
sqlite_pid=$server_pid
init=$(api PUT sys/init "" '{"secret_shares":1,"secret_threshold":1}')
unseal_key=$(sed -n 's/.*"keys_base64":\["\([^"]*\)".*/\1/p' <<<"$init")
sql_root=$(json_field root_token <<<"$init")
[[ -n $unseal_key && -n $sql_root ]] || die "cannot read sys/init's response"
api PUT sys/unseal "" "{\"key\":\"$unseal_key\"}" >/dev/null
api POST sys/mounts/secret "$sql_root" '{"type":"kv","options":{"version":"2"}}' >/dev/null
api PUT sys/policies/acl/bench-write "$sql_root" \
  '{"policy":"path \"auth/token/create\" { capabilities = [\"create\", \"update\"] }\npath \"secret/data/w/*\" { capabilities = [\"create\", \"update\"] }"}' \
  >/dev/null
parent=$(api POST auth/token/create "$sql_root" '{"policies":["bench-write"],"ttl":"24h"}' |
         json_field client_token)
[[ -n $parent ]] || die "no client_token for the parent token"
child=$(api POST auth/token/create "$parent" '{"ttl":"1h"}' | json_field client_token)
[[ -n $child ]] || die "the parent token cannot create tokens"

cat >"$tmp/token_create.lua" <<'EOF'
wrk.method = "POST"
wrk.body = '{"ttl":"1h"}'
wrk.headers["Content-Type"] = "application/json"
EOF
# Each wrk thread writes its own keys, rotating over 1000 of them (kv's default
# max_versions of 10 then also exercises version pruning, as a long-running server would).
value=$(head -c 150 /dev/urandom | base64 | tr -d '\n')
cat >"$tmp/kv_write.lua" <<EOF
local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end
local n = 0
local body = '{"data":{"username":"bench","password":"$value"}}'
wrk.headers["Content-Type"] = "application/json"
function request()
  n = n + 1
  -- nil headers: wrk.headers, which also hold the -H X-Vault-Token header
  return wrk.format("POST", "/v1/secret/data/w/t" .. id .. "-" .. (n % 1000), nil, body)
end
EOF
api POST secret/data/w/check "$parent" "{\"data\":{\"v\":\"x\"}}" >/dev/null

# Requests per fsync (the group-commit factor) need perf with syscall tracepoints.
sync_pid=""
if command -v perf >/dev/null &&
   perf stat -e syscalls:sys_enter_fdatasync -- true >/dev/null 2>&1; then
  sync_pid=$sqlite_pid
fi
token_url="$addr/v1/auth/token/create"
kv_url="$addr/v1/secret/data/w/"
lookup_url="$addr/v1/auth/token/lookup-self"
write_args=(-H "X-Vault-Token: $parent")
# Storage shapes of one operation: value sizes as the server stores them (read from its
# SQLite file: barrier-encrypted, so 33 bytes over the plaintext). Token creation =
# sys/token/accessor/H (98) + sys/token/parent/P/H (33, empty) + sys/token/id/H (~460,
# the entry's JSON); KV write = .../ver/KEY/N (276, this data) + .../meta/KEY (333 with
# one version, +100 per version kept; 600 is the middle of this run's 1..10 versions).
token_shape=${HTTP_BENCH_TOKEN_SHAPE:-98,33,460}
kv_shape=${HTTP_BENCH_KV_SHAPE:-276,600}

wrk -t"$threads" -c"$conns" -d1s -s "$tmp/token_create.lua" "${write_args[@]}" "$token_url" >/dev/null
wrk -t"$threads" -c"$conns" -d1s -s "$tmp/kv_write.lua" "${write_args[@]}" "$kv_url" >/dev/null
cpu_pids=$sqlite_pid
token_server() { run_wrk token_create "$token_url" -s "$tmp/token_create.lua" "${write_args[@]}"; }
kv_server() { run_wrk kv_write "$kv_url" -s "$tmp/kv_write.lua" "${write_args[@]}"; }
for ((r = 1; r <= rounds; r++)); do   # the order alternates, as for reads
  if ((r % 2)); then
    token_server; run_batch token_storage "$token_shape"
    kv_server; run_batch kv_storage "$kv_shape"
  else
    run_batch token_storage "$token_shape"; token_server
    run_batch kv_storage "$kv_shape"; kv_server
  fi
  sync_pid="" run_wrk lookup_self "$lookup_url" "${write_args[@]}"
done
sync_pid=""
cpu_pids=""
stop_leasefs "$sqlite_pid"

# -------------------------------------------------------------------------- report
echo
echo "1. KV v2 read: GET /v1/secret/data/bench, non-root token (policy: read on that path)," \
     "body $body_bytes bytes; leasefs -dev (memory storage)"
header
row "leasefs" read_leasefs
row "nginx, static file of the same $body_bytes bytes" read_nginx
echo "  ratio leasefs/nginx: req/s $(ratio "$(med read_leasefs 1)" "$(med read_nginx 1)") (target >= 0.50x);" \
     "p50 $(ratio "$(med read_leasefs 2)" "$(med read_nginx 2)"), p99 $(ratio "$(med read_leasefs 3)" "$(med read_nginx 3)");" \
     "CPU per request nginx/leasefs $(ratio "$(median <"$tmp/read_nginx.cpu")" "$(median <"$tmp/read_leasefs.cpu")")"
echo "  (CPU us/r: server CPU time, user + system, per request; nginx: its 2 workers. On a loaded"
echo "  machine req/s also depends on the CPU share each server wins; CPU per request does not.)"
echo
echo "2. Token creation: POST /v1/auth/token/create, non-root parent token, SQLite storage ($tmp is on $(df -T "$tmp" | awk 'NR == 2 { print $2 }'))"
header
row "leasefs" token_create
row "storage: apply(${token_shape//,/+} B) x $writers threads" token_storage
row "context: GET auth/token/lookup-self" lookup_self
echo "  ratio leasefs/storage alone (req/s / batches/s): $(ratio "$(med token_create 1)" "$(med token_storage 1)");" \
     "leasefs/lookup-self: $(ratio "$(med token_create 1)" "$(med lookup_self 1)")"
group_commit token_create token_storage
echo
echo "3. KV v2 writes: POST /v1/secret/data/w/<thread>-<n mod 1000>, same server and token"
header
row "leasefs" kv_write
row "storage: apply(${kv_shape//,/+} B) x $writers threads" kv_storage
row "context: GET auth/token/lookup-self" lookup_self
echo "  ratio leasefs/storage alone (req/s / batches/s): $(ratio "$(med kv_write 1)" "$(med kv_storage 1)");" \
     "leasefs/lookup-self: $(ratio "$(med kv_write 1)" "$(med lookup_self 1)")"
group_commit kv_write kv_storage
echo
echo "  per-round req/s:"
for label in read_leasefs read_nginx token_create token_storage kv_write kv_storage lookup_self; do
  printf '    %-14s %s\n' "$label" "$(field "$label" 1 | awk '{ printf "%.0f ", $1 }')"
done
