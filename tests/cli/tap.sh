# tap.sh - a few helpers for CLI tests that print TAP (sourced, not run).
#
#   ok_if NAME CMD...        passes when CMD succeeds
#   expect_exit N NAME CMD   passes when CMD exits with status N; keeps its
#                            stdout in $OUT and stderr in $ERR
#   done_testing             prints the plan and exits non-zero on failure
set -u
: "${RANPIPE_BIN:?RANPIPE_BIN must point at the ranpipe binary}"
TAP_N=0
TAP_FAILED=0
T=$(mktemp -d "${RANPIPE_TEST_TMP:-/tmp}/ranpipe-test.XXXXXX" 2>/dev/null || mktemp -d)
trap 'rm -rf "$T"' EXIT

tap_result() { # status name
  TAP_N=$((TAP_N + 1))
  if [ "$1" -eq 0 ]; then
    echo "ok $TAP_N - $2"
  else
    echo "not ok $TAP_N - $2"
    TAP_FAILED=$((TAP_FAILED + 1))
  fi
}

ok_if() {
  local name=$1
  shift
  if "$@" >"$T/ok.out" 2>"$T/ok.err"; then
    tap_result 0 "$name"
  else
    tap_result 1 "$name"
    sed 's/^/# /' "$T/ok.out" "$T/ok.err" | head -40
  fi
}

expect_exit() {
  local want=$1 name=$2
  shift 2
  local got=0
  "$@" >"$T/cmd.out" 2>"$T/cmd.err" || got=$?
  OUT=$(cat "$T/cmd.out")
  ERR=$(cat "$T/cmd.err")
  if [ "$got" -eq "$want" ]; then
    tap_result 0 "$name"
  else
    tap_result 1 "$name (exit $got, wanted $want)"
    sed 's/^/# /' "$T/cmd.out" "$T/cmd.err" | head -40
  fi
}

done_testing() {
  echo "1..$TAP_N"
  [ "$TAP_FAILED" -eq 0 ]
}
