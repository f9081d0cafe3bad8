#!/usr/bin/env bash
# Installs the package built by packaging_deb_build, upgrades it to a second build with a
# higher version (cpack -R), removes it and purges it, checking at each step what
# docs/packaging.md promises: the system user and directories, a server that starts as
# that user from the default configuration and reports READY=1 to systemd, conffiles and
# data kept across upgrade and remove, everything gone after purge.
#   deb_install_test.sh BUILD_DIR DEB_DIR
# Needs root and dpkg (exit 77 otherwise); skips too when this machine already has a
# leasefs package, user or directory, which it would otherwise clobber. The EXIT trap
# purges the package whatever happens, so the machine is left as found.
set -euo pipefail
build=$1 deb_dir=$2

# shellcheck source=SCRIPTDIR/common.sh
source "$(dirname "$0")/common.sh"
((EUID == 0)) || skip "needs root: it installs the package with dpkg"
command -v dpkg >/dev/null || skip "no dpkg on this machine"
if dpkg-query -W -f='${Status}' leasefs 2>/dev/null | grep -qv '^unknown\|not-installed'; then
  skip "a leasefs package is already on this machine; not touching it"
fi
getent passwd leasefs >/dev/null && skip "a user leasefs already exists here; not touching it"
getent group leasefs >/dev/null && skip "a group leasefs already exists here; not touching it"
for d in /etc/leasefs /var/lib/leasefs /var/log/leasefs; do
  [[ ! -e $d ]] || skip "$d already exists here; not touching it"
done
debs=("$deb_dir"/leasefs_*.deb)
[[ -f ${debs[0]} ]] || fail "no package in $deb_dir (packaging_deb_build builds it)"
deb1=${debs[0]}

work=$(mktemp -d)
chmod 0755 "$work"  # the server, as user leasefs, reaches the notify socket in here
cleanup() {
  dpkg --purge leasefs >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
export DEBIAN_FRONTEND=noninteractive
dpkg_() { dpkg --force-confdef --force-confold "$@" </dev/null >"$work/dpkg.log" 2>&1 || {
  cat "$work/dpkg.log" >&2
  fail "dpkg $*"
}; }
# Whether dpkg installs PATH here: minimal images (Docker's) exclude man pages and docs
# with path-exclude in /etc/dpkg/dpkg.cfg.d; a path-include wins over an exclude.
dpkg_installs() {
  local verdict=yes directive pattern
  while read -r directive pattern; do
    # shellcheck disable=SC2053  # the pattern is a glob on purpose, as dpkg's fnmatch
    [[ $1 == $pattern ]] || continue
    [[ $directive == path-exclude ]] && verdict=no
    [[ $directive == path-include ]] && verdict=yes
  done < <(cat /etc/dpkg/dpkg.cfg /etc/dpkg/dpkg.cfg.d/* 2>/dev/null | grep -E '^path-(exclude|include)[ =]' | tr '=' ' ')
  [[ $verdict == yes ]]
}
installed_version() { dpkg-query -W -f='${Status} ${Version}' leasefs 2>/dev/null || true; }
mode_owner() { stat -c '%a %U:%G' "$1"; }

# The second build: same tree, a higher version.
v1=$(dpkg-deb -f "$deb1" Version)
v2="$v1+upgrade1"
dpkg --compare-versions "$v2" gt "$v1" || fail "$v2 is not above $v1"
cpack --config "$build/CPackConfig.cmake" -B "$work/v2" -R "$v2" >"$work/cpack.log" 2>&1 || {
  cat "$work/cpack.log" >&2
  fail "cpack -R $v2"
}
deb2=$(ls "$work"/v2/leasefs_*.deb)
[[ $(dpkg-deb -f "$deb2" Version) == "$v2" ]] || fail "the second build is not version $v2"

# --- install
dpkg_ -i "$deb1"
[[ $(installed_version) == "install ok installed $v1" ]] || fail "after install: $(installed_version)"
[[ -x /usr/bin/leasefs ]] || fail "/usr/bin/leasefs missing"
for f in /lib/systemd/system/leasefs-server.service /lib/systemd/system/leasefs-mount@.service \
  /etc/leasefs/server.json /etc/leasefs/mounts/example.json.example \
  /usr/share/man/man1/leasefs.1.gz /usr/share/bash-completion/completions/leasefs; do
  [[ -f $f ]] || ! dpkg_installs "$f" || fail "$f missing after install"
done
IFS=: read -r _ _ uid gid _ home shell < <(getent passwd leasefs) || fail "no user leasefs"
((uid < 1000)) || fail "leasefs is not a system user (uid $uid)"
[[ $(getent group leasefs | cut -d: -f3) == "$gid" ]] || fail "leasefs's primary group is not leasefs"
[[ $home == /var/lib/leasefs && $shell == /usr/sbin/nologin ]] || fail "leasefs home/shell: $home $shell"
[[ $(mode_owner /var/lib/leasefs) == "700 leasefs:leasefs" ]] || fail "/var/lib/leasefs: $(mode_owner /var/lib/leasefs)"
[[ $(mode_owner /var/log/leasefs) == "750 leasefs:leasefs" ]] || fail "/var/log/leasefs: $(mode_owner /var/log/leasefs)"
if command -v systemd-analyze >/dev/null; then
  for u in leasefs-server.service leasefs-mount@.service; do
    verify_unit "/lib/systemd/system/$u"
  done
fi

# The server starts as leasefs from the default configuration (port moved to a free
# one), creates its store in /var/lib/leasefs, tells systemd READY=1 once it listens
# and STOPPING=1 on SIGTERM, then exits 0.
/usr/bin/python3 - "$work/notify" <<'PY' || fail "the packaged server under a notify socket"
import os, signal, socket, subprocess, sys
path = sys.argv[1]
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(path)
os.chmod(path, 0o777)
sock.settimeout(20)
env = {"PATH": "/usr/bin:/bin", "NOTIFY_SOCKET": path}
server = subprocess.Popen(
    ["setpriv", "--reuid=leasefs", "--regid=leasefs", "--clear-groups",
     "/usr/bin/leasefs", "server", "--config", "/etc/leasefs/server.json",
     "--listen", "127.0.0.1:0"], env=env, stdout=subprocess.DEVNULL)
try:
    msg = sock.recv(4096).decode()
    assert "READY=1" in msg.split("\n"), f"first notification: {msg!r}"
    assert os.path.exists("/var/lib/leasefs/leasefs.db"), "no store in /var/lib/leasefs"
    server.send_signal(signal.SIGTERM)
    msg = sock.recv(4096).decode()
    assert "STOPPING=1" in msg.split("\n"), f"after SIGTERM: {msg!r}"
    assert server.wait(timeout=20) == 0, f"server exit code {server.returncode}"
finally:
    if server.poll() is None:
        server.kill()
        server.wait()
print("server: READY=1, store created, STOPPING=1, exit 0")
PY
[[ $(stat -c %U /var/lib/leasefs/leasefs.db) == leasefs ]] || fail "the store is not owned by leasefs"

# --- upgrade, with an edited conffile and data in place
echo '{"listener": {"address": "127.0.0.1:8201"}, "storage": {"type": "sqlite", "path": "/var/lib/leasefs/leasefs.db"}}' \
  >/etc/leasefs/server.json
echo "kept" >/var/log/leasefs/audit.log
dpkg_ -i "$deb2"
[[ $(installed_version) == "install ok installed $v2" ]] || fail "after upgrade: $(installed_version)"
grep -q 8201 /etc/leasefs/server.json || fail "the upgrade overwrote the edited /etc/leasefs/server.json"
[[ -f /var/lib/leasefs/leasefs.db && -f /var/log/leasefs/audit.log ]] || fail "the upgrade lost data"
[[ $(id -u leasefs) == "$uid" ]] || fail "the upgrade changed leasefs's uid"

# --- remove: the binary goes, configuration, data and user stay
dpkg_ -r leasefs
[[ ! -e /usr/bin/leasefs && ! -e /lib/systemd/system/leasefs-server.service ]] || fail "remove left the binary or units"
[[ -f /etc/leasefs/server.json && -f /var/lib/leasefs/leasefs.db && -f /var/log/leasefs/audit.log ]] ||
  fail "remove deleted configuration or data (only purge should)"
getent passwd leasefs >/dev/null || fail "remove deleted the user (only purge should)"

# --- purge: nothing left
dpkg_ -P leasefs
for d in /etc/leasefs /var/lib/leasefs /var/log/leasefs /usr/share/doc/leasefs; do
  [[ ! -e $d ]] || fail "purge left $d"
done
! getent passwd leasefs >/dev/null || fail "purge left the user leasefs"
! getent group leasefs >/dev/null || fail "purge left the group leasefs"
dpkg-query -W -f='${Status}' leasefs 2>/dev/null | grep -qE 'ok (installed|config-files)' && fail "dpkg still lists leasefs"
echo "install $v1, upgrade to $v2, remove, purge: ok"
