#!/usr/bin/env bash
# The Debian package builds from this build tree (cpack) and holds what docs/packaging.md
# says: the stripped binary, both systemd units, the default configuration as conffiles,
# the maintainer scripts, the man page, the bash completion and the docs; it depends on
# fuse3 and the binary's shared libraries; systemd-analyze verify accepts its units.
# Leaves the .deb in OUT for packaging_deb_install.
#   deb_build_test.sh BUILD_DIR OUT
# Exit 77 (skip) without dpkg-deb; the unit check alone is skipped without systemd-analyze.
set -euo pipefail
build=$1 out=$2

# shellcheck source=SCRIPTDIR/common.sh
source "$(dirname "$0")/common.sh"
command -v dpkg-deb >/dev/null || skip "no dpkg-deb on this machine (not Debian?)"
command -v dpkg-shlibdeps >/dev/null ||
  fail "dpkg-shlibdeps is missing: install dpkg-dev (packaging/install-deps.sh does)"

rm -rf "$out"
mkdir -p "$out"
start=$SECONDS
if ! cpack --config "$build/CPackConfig.cmake" -B "$out" >"$out/cpack.log" 2>&1; then
  cat "$out/cpack.log" >&2
  fail "cpack failed"
fi
debs=("$out"/leasefs_*.deb)
if ((${#debs[@]} != 1)) || [[ ! -f ${debs[0]} ]]; then
  fail "expected one leasefs_*.deb in $out, got ${debs[*]}"
fi
deb=${debs[0]}
echo "built $(basename "$deb") ($(du -h "$deb" | cut -f1)) in $((SECONDS - start)) s"

# Files, and nothing outside the places a Debian package may write.
listing=$(dpkg-deb -c "$deb")
contents=$(awk '{print $6}' <<<"$listing")
for f in ./usr/bin/leasefs \
  ./lib/systemd/system/leasefs-server.service ./lib/systemd/system/leasefs-mount@.service ./lib/systemd/system/leasefs-volume-plugin.service \
  ./etc/leasefs/server.json ./etc/leasefs/mounts/example.json.example \
  ./usr/share/man/man1/leasefs.1.gz ./usr/share/bash-completion/completions/leasefs \
  ./usr/share/doc/leasefs/packaging.md; do
  grep -qxF "$f" <<<"$contents" || fail "$f is not in the package"
done
allowed=(./usr/bin/ ./usr/share/ ./lib/systemd/system/ ./etc/leasefs/)
stray=""
while read -r p; do
  ok=""
  for a in "${allowed[@]}"; do
    # Under an allowed directory, or one of its parents.
    [[ $p == "$a"* || $a == "$p"* ]] && ok=1
  done
  [[ -n $ok ]] || stray+=" $p"
done <<<"$contents"
[[ -z $stray ]] || fail "unexpected paths in the package: $stray"
grep -q '^-rwxr-xr-x root/root .* \./usr/bin/leasefs$' <<<"$listing" ||
  fail "/usr/bin/leasefs is not root-owned 0755"

# Control: name, dependencies from the shared libraries plus fuse3, conffiles, scripts.
[[ $(dpkg-deb -f "$deb" Package) == leasefs ]] || fail "package name is not leasefs"
depends=$(dpkg-deb -f "$deb" Depends)
for d in fuse3 passwd libc6 libssl3 libsqlite3-0 libfuse3-3 libsystemd0 libpq5; do
  [[ ", $depends," == *", $d"[\ ,]* ]] || fail "Depends lacks $d: $depends"
done
conffiles=$(dpkg-deb -I "$deb" conffiles)
for f in /etc/leasefs/server.json /etc/leasefs/mounts/example.json.example; do
  grep -qxF "$f" <<<"$conffiles" || fail "$f is not a conffile: $conffiles"
done
control=$(dpkg-deb --ctrl-tarfile "$deb" | tar -tvf -)
for s in postinst prerm postrm; do
  grep -qE "^-rwxr-xr-x .* \./$s$" <<<"$control" || fail "maintainer script $s missing or not 0755"
done

# The packaged binary is stripped and runs; the configurations are valid JSON.
root="$out/root"
dpkg-deb -x "$deb" "$root"
if readelf -S "$root/usr/bin/leasefs" | grep -q '\.debug_info'; then
  fail "/usr/bin/leasefs still has debug info (CPACK_STRIP_FILES)"
fi
"$root/usr/bin/leasefs" --version | grep -q '^leasefs ' || fail "the packaged binary does not run"
for j in "$root/etc/leasefs/server.json" "$root/etc/leasefs/mounts/example.json.example"; do
  /usr/bin/python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$j" || fail "$j is not JSON"
done

# The units, with ExecStart pointing at the extracted binary (the package is not
# installed here; packaging_deb_install verifies the installed units as they are).
# systemd-analyze exits 0 on unknown keys and other warnings: any output is a failure.
if ! command -v systemd-analyze >/dev/null; then
  echo "systemd-analyze is missing (package systemd): unit verification skipped"
  exit 0
fi
units="$out/units"
mkdir -p "$units"
for u in leasefs-server.service leasefs-mount@.service leasefs-volume-plugin.service; do
  sed "s#/usr/bin/leasefs#$root/usr/bin/leasefs#g" "$root/lib/systemd/system/$u" >"$units/$u"
done
ln -sf leasefs-mount@.service "$units/leasefs-mount@example.service"
for u in leasefs-server.service leasefs-mount@.service leasefs-mount@example.service \
  leasefs-volume-plugin.service; do
  verify_unit "$units/$u"
done
echo "systemd-analyze verify: units accepted"
