# shellcheck shell=bash
# Shared by the packaging test scripts (sourced): how they fail, skip and verify a unit.

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }  # ctest SKIP_RETURN_CODE (tests/packaging/CMakeLists.txt)

# verify_unit FILE: systemd-analyze verify must accept FILE without a word about it. It
# exits 0 on unknown keys and other warnings, so any line naming a leasefs unit fails;
# lines about other units of this machine (which it loads as dependencies) are shown
# but do not count.
verify_unit() {
  local report rc=0
  report=$(systemd-analyze verify --man=no "$1" 2>&1) || rc=$?
  if ((rc != 0)) || grep -q leasefs <<<"$report"; then
    fail "systemd-analyze verify $1 (exit $rc): $report"
  fi
  [[ -z $report ]] || echo "systemd-analyze verify $1, about other units: $report"
}
