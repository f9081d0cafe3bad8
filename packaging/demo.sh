#!/usr/bin/env bash
# The README's main job: leasefs end to end on one machine. Starts a server on an
# encrypted SQLite file (initialized with 3 key shares, unsealed with 2), turns on a file
# audit device, writes a static secret, enables PKI (and the database engine when
# PostgreSQL's binaries are installed: it starts a throwaway cluster), mounts a sample
# configuration, then shows `ls -l` and `cat` of static and dynamic files, the lease
# behind a dynamic file, and the audit entries those reads produced. It stays up until
# Ctrl-C (or exits right away with --exit, or when stdin is not a terminal), then
# unmounts, stops everything and removes its directory.
#
# Usage: packaging/demo.sh PATH-TO-leasefs [--exit] [--dir DIR]
#   DIR (default: a new /tmp/leasefs-demo.XXXXXX) holds the store, keys, audit log,
#   mount config and the mountpoint DIR/mnt; it is removed at the end.
set -euo pipefail

leasefs=$(realpath "${1:?usage: packaging/demo.sh PATH-TO-leasefs [--exit] [--dir DIR]}")
shift
stay=1
[ -t 0 ] || stay=0
dir=""
while (($#)); do
  case "$1" in
    --exit) stay=0 ;;
    --dir) dir=$2; shift ;;
    *) echo "demo.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$dir" ] || dir=$(mktemp -d /tmp/leasefs-demo.XXXXXX)
mkdir -p "$dir"
chmod 755 "$dir"   # other uids (postgres) walk through it
umask 077
mnt="$dir/mnt"
mkdir -p "$mnt"

server_pid="" mount_pid="" pg_bin="" pg_dir=""
cleanup() {
  set +e
  if [ -n "$mount_pid" ]; then
    kill -TERM "$mount_pid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$mount_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$mount_pid" 2>/dev/null
  fi
  if grep -qs " $mnt fuse" /proc/mounts; then fusermount3 -u -z "$mnt" 2>/dev/null || umount -l "$mnt"; fi
  if [ -n "$server_pid" ]; then
    kill -TERM "$server_pid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null
  fi
  if [ -n "$pg_dir" ]; then
    (cd / && su postgres -s /bin/sh -c "$pg_bin/pg_ctl -D $pg_dir/data -m immediate stop") >/dev/null 2>&1
    rm -rf "$pg_dir"
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '\n\033[1m== %s\033[0m\n' "$1"; }
show() { printf '$ %s\n' "$*"; "$@"; }
# `lf ARGS`: prints "$ leasefs ARGS" and runs it; `lfq` prints it and hides the output.
lf() { printf '$ leasefs %s\n' "$*"; "$leasefs" "$@"; }
lfq() { printf '$ leasefs %s\n' "$*"; "$leasefs" "$@" >/dev/null; }
die() { echo "demo.sh: $*" >&2; exit 1; }
# Waits up to $2 tenths of a second for the command in $1 to succeed.
wait_for() {
  for _ in $(seq "$2"); do eval "$1" && return 0; sleep 0.1; done
  return 1
}

step "Start the server: encrypted SQLite storage, a file audit device"
cat >"$dir/server.json" <<JSON
{
  "listener": {"address": "127.0.0.1:0"},
  "storage": {"type": "sqlite", "path": "$dir/leasefs.db"},
  "default_lease_ttl": "1h",
  "max_lease_ttl": "24h"
}
JSON
"$leasefs" server -config "$dir/server.json" >"$dir/server.log" 2>&1 &
server_pid=$!
wait_for "grep -q 'Api Address:' '$dir/server.log'" 150 || { cat "$dir/server.log"; die "the server did not start"; }
export LEASEFS_ADDR
LEASEFS_ADDR=$(sed -n 's/.*Api Address: *//p' "$dir/server.log" | head -1)
echo "leasefs server -config $dir/server.json   (listening on $LEASEFS_ADDR)"

echo "$ leasefs operator init -key-shares=3 -key-threshold=2 -format=json > init.json"
"$leasefs" operator init -key-shares=3 -key-threshold=2 -format=json >"$dir/init.json"
key() { sed -n '/"unseal_keys_b64"/,/]/p' "$dir/init.json" | sed -n "$(($1 + 1))s/.*\"\\(.*\\)\".*/\\1/p"; }
export LEASEFS_TOKEN
LEASEFS_TOKEN=$(sed -n 's/.*"root_token": *"\([^"]*\)".*/\1/p' "$dir/init.json")
echo "(3 unseal key shares and the root token are in $dir/init.json)"
"$leasefs" operator unseal "$(key 1)" >/dev/null
echo "$ leasefs operator unseal KEY-1 ; leasefs operator unseal KEY-2"
"$leasefs" operator unseal "$(key 2)"
lf audit enable file file_path="$dir/audit.log"

step "A static secret (KV version 2 at secret/)"
lf secrets enable -path=secret -version=2 kv
lf kv put secret/app api_key=demo-key-7f3a user=alice

step "PKI: a root CA and a role for web.internal"
lf secrets enable pki
lf secrets tune -max-lease-ttl=87600h pki
"$leasefs" write -field=certificate pki/root/generate/internal common_name="Demo Root CA" \
  ttl=87600h key_type=ec key_bits=256 >"$dir/ca.pem"
echo "(the CA certificate is in $dir/ca.pem)"
lfq write pki/roles/web allowed_domains=internal allow_subdomains=true \
  generate_lease=true ttl=1h max_ttl=24h

# The database engine, when PostgreSQL's server binaries are installed: a throwaway
# cluster on a free port, run as the postgres user (PostgreSQL refuses root).
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
db_files=""
if [ -n "$pg_bin" ] && [ -x "$pg_bin/initdb" ] && id postgres >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  step "Database: a throwaway PostgreSQL and a role whose logins expire"
  # Its own directory under /tmp: the postgres user must reach it, and $dir's parents
  # may not let it through.
  pg_dir=$(mktemp -d /tmp/leasefs-demo-pg.XXXXXX)
  mkdir -p "$pg_dir/data"
  head -c 18 /dev/urandom | base64 | tr -d '/+=\n' >"$pg_dir/pw"
  chown -R postgres "$pg_dir"
  chmod 700 "$pg_dir"
  port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cd /
  su postgres -s /bin/sh -c "$pg_bin/initdb -D $pg_dir/data -U postgres --auth-local=trust \
      --auth-host=scram-sha-256 --pwfile=$pg_dir/pw" >"$dir/pg-init.log" 2>&1 ||
    { cat "$dir/pg-init.log"; die "initdb failed"; }
  su postgres -s /bin/sh -c "$pg_bin/pg_ctl -D $pg_dir/data -w -l $pg_dir/pg.log \
      -o '-p $port -k $pg_dir -c listen_addresses=127.0.0.1 -c fsync=off' start" >/dev/null ||
    { cat "$pg_dir/pg.log"; die "PostgreSQL did not start"; }
  cd - >/dev/null
  echo "PostgreSQL $(basename "$(dirname "$pg_bin")") on 127.0.0.1:$port"
  lf secrets enable database
  "$leasefs" write database/config/demo plugin_name=postgresql-database-plugin \
    connection_url="postgresql://{{username}}:{{password}}@127.0.0.1:$port/postgres" \
    username=postgres password=@"$pg_dir/pw" allowed_roles='*' >/dev/null
  echo "$ leasefs write database/config/demo plugin_name=postgresql-database-plugin connection_url=... username=postgres password=@pw"
  lfq write database/roles/ro db_name=demo default_ttl=1h max_ttl=24h \
    creation_statements="CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';"
  db_files=$(cat <<JSON
    ,{"path": "db/username", "secret": "database/creds/ro", "field": "username"},
    {"path": "db/password", "secret": "database/creds/ro", "field": "password"},
    {"path": "db/dsn", "secret": "database/creds/ro", "format": "template",
     "template": "postgres://{{username}}:{{password}}@127.0.0.1:$port/postgres"}
JSON
)
else
  step "Database: skipped (no PostgreSQL server binaries under /usr/lib/postgresql, or not root)"
fi

step "A token for the mount, limited by a policy"
cat >"$dir/mount-policy.hcl" <<'HCL'
path "secret/data/app" { capabilities = ["read"] }
path "pki/issue/web" { capabilities = ["update"] }
path "database/creds/ro" { capabilities = ["read"] }
path "sys/leases/*" { capabilities = ["update"] }
path "sys/access-events" { capabilities = ["update", "create"] }
HCL
lfq policy write demo-mount "$dir/mount-policy.hcl"
"$leasefs" token create -policy=demo-mount -ttl=24h -field=token >"$dir/mount-token"
echo "$ leasefs token create -policy=demo-mount -ttl=24h -field=token > $dir/mount-token"

step "Mount: opening a file is what generates the secret"
cat >"$dir/mount.json" <<JSON
{
  "server": {"address": "$LEASEFS_ADDR", "timeout": "5s",
             "auth": {"token_file": "$dir/mount-token"}},
  "mount": {"allow_other": true, "spool_file": "$dir/spool.jsonl"},
  "files": [
    {"path": "app/api_key", "secret": "secret/data/app", "field": "api_key", "mode": "0440"},
    {"path": "app/app.env", "secret": "secret/data/app", "format": "env"},
    {"path": "tls/cert.pem", "secret": "pki/issue/web", "method": "POST",
     "args": {"common_name": "web.internal", "ttl": "1h"}, "field": "certificate"},
    {"path": "tls/key.pem", "secret": "pki/issue/web", "method": "POST",
     "args": {"common_name": "web.internal", "ttl": "1h"}, "field": "private_key"}
    $db_files
  ]
}
JSON
"$leasefs" mount "$mnt" -config "$dir/mount.json" -foreground >"$dir/mount.log" 2>&1 &
mount_pid=$!
echo "$ leasefs mount $mnt -config $dir/mount.json"
wait_for "grep -qs ' $mnt fuse' /proc/mounts" 150 || { cat "$dir/mount.log"; die "the mount did not come up"; }

show ls -lR "$mnt"
echo "(no file has been opened yet: nothing was asked of the server)"
show cat "$mnt/app/api_key"; echo
show cat "$mnt/app/app.env"
printf '$ cat %s | openssl x509 -noout -subject -issuer -enddate\n' "$mnt/tls/cert.pem"
cat "$mnt/tls/cert.pem" | openssl x509 -noout -subject -issuer -enddate
printf '$ openssl verify -CAfile %s %s\n' "$dir/ca.pem" "$mnt/tls/cert.pem"
openssl verify -CAfile "$dir/ca.pem" "$mnt/tls/cert.pem"
if [ -n "$db_files" ]; then
  show cat "$mnt/db/username"; echo
  printf '$ psql "$(cat %s)" -c "select current_user"\n' "$mnt/db/dsn"
  psql "$(cat "$mnt/db/dsn")" -tAc "select current_user, 'logged in'"
fi

step "The lease behind tls/cert.pem and tls/key.pem (one lease for both)"
show getfattr -d --absolute-names "$mnt/tls/cert.pem"
lease=$(getfattr --only-values -n user.leasefs.lease_id "$mnt/tls/cert.pem")
lf lease lookup "$lease"
show ls "$mnt/.leasefs/leases"

step "What the reads left in the audit log (values are HMAC-SHA256, never plaintext)"
# The mount sends its access events in batches; wait until the last read is in the log.
last_read=tls/cert.pem
[ -z "$db_files" ] || last_read=db/dsn
wait_for "grep '\"type\":\"access\"' '$dir/audit.log' | grep -q '\"$last_read\"'" 100 || true
/usr/bin/python3 - "$dir/audit.log" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    r = e.get("request") or {}
    if e.get("type") == "access":
        a = e.get("access") or r.get("data") or {}
        keys = ("file", "path", "lease_id", "pid", "exe", "uid", "result")
        print("access  " + "  ".join(f"{k}={a.get(k)}" for k in keys if k in a))
    elif e.get("type") == "response" and r.get("path", "").startswith(("pki/issue", "database/creds")):
        hdr = r.get("headers") or {}
        who = " ".join(f"{k}={v}" for k, v in sorted(hdr.items()) if "pid" in k or "exe" in k)
        print(f"response {r.get('operation')} {r.get('path')}  {who}")
PY
lf audit verify "$dir/audit.log"

if ((stay)); then
  step "Up: look around in $mnt (ls, cat, getfattr -d). Ctrl-C unmounts, stops the server and cleans up."
  wait "$mount_pid" || true
else
  step "Done (non-interactive): unmounting, stopping the server, removing $dir"
fi
