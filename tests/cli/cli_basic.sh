#!/usr/bin/env bash
# CLI basics: version, help, and usage errors (one line, exit status 2).
. "$(dirname "$0")/tap.sh"

expect_exit 0 "--version" "$RANPIPE_BIN" --version
ok_if "--version names the version" grep -qE '^ranpipe [0-9]+\.[0-9]+\.[0-9]+' <<<"$OUT"
expect_exit 0 "-V" "$RANPIPE_BIN" -V

expect_exit 0 "--help" "$RANPIPE_BIN" --help
for cmd in run inspect worker; do
  ok_if "--help lists '$cmd'" grep -qE "^  $cmd " <<<"$OUT"
done
expect_exit 2 "no arguments is a usage error" "$RANPIPE_BIN"

for cmd in run inspect worker; do
  expect_exit 0 "$cmd --help" "$RANPIPE_BIN" "$cmd" --help
  ok_if "$cmd --help shows its usage" grep -q "^usage: ranpipe $cmd" <<<"$OUT"
  expect_exit 0 "help $cmd" "$RANPIPE_BIN" help "$cmd"
  ok_if "help $cmd shows its usage" grep -q "^usage: ranpipe $cmd" <<<"$OUT"

  expect_exit 2 "$cmd --bogus exits 2" "$RANPIPE_BIN" "$cmd" --bogus x
  ok_if "$cmd --bogus: one line naming the option" \
    test "$(wc -l <<<"$ERR")" -eq 1 -a -n "$(grep -F -- "'--bogus'" <<<"$ERR")"
  expect_exit 2 "$cmd -Z exits 2" "$RANPIPE_BIN" "$cmd" -Z
  ok_if "$cmd -Z: one line naming the option" \
    test "$(wc -l <<<"$ERR")" -eq 1 -a -n "$(grep -F -- "'-Z'" <<<"$ERR")"
  expect_exit 2 "$cmd --help=x exits 2" "$RANPIPE_BIN" "$cmd" --help=x
  ok_if "$cmd --help=x says it takes no value" grep -q "takes no value" <<<"$ERR"
  expect_exit 2 "$cmd without input exits 2" "$RANPIPE_BIN" "$cmd"
done

expect_exit 2 "unknown command" "$RANPIPE_BIN" frobnicate
ok_if "unknown command is named" grep -q "unknown command 'frobnicate'" <<<"$ERR"
expect_exit 2 "unknown global option" "$RANPIPE_BIN" --frob
expect_exit 2 "help for an unknown command" "$RANPIPE_BIN" help frobnicate

expect_exit 2 "run --parallel abc" "$RANPIPE_BIN" run --parallel abc x
ok_if "bad number is named" grep -q "'abc'" <<<"$ERR"
expect_exit 2 "run --model without a value" "$RANPIPE_BIN" run x --model
ok_if "missing value is named" grep -q "needs a value" <<<"$ERR"
expect_exit 2 "run --top-p 2" "$RANPIPE_BIN" run --top-p 2 x
expect_exit 2 "run --log-level loud" "$RANPIPE_BIN" run --log-level loud x

# --log-format: every command that takes --log-level takes it, documents it,
# and names a bad value in a one-line usage error.
for cmd in run inspect assess export worker; do
  expect_exit 0 "$cmd --help" "$RANPIPE_BIN" "$cmd" --help
  ok_if "$cmd --help documents --log-level and --log-format" \
    grep -q -e "--log-format F .*json" <<<"$(grep -A1 -e --log-level <<<"$OUT")"
  expect_exit 2 "$cmd --log-format xml exits 2" "$RANPIPE_BIN" "$cmd" --log-format xml x
  ok_if "$cmd --log-format xml: one line naming the value" \
    test "$(wc -l <<<"$ERR")" -eq 1 -a -n "$(grep -F "unknown log format 'xml' (text, json)" <<<"$ERR")"
done
expect_exit 2 "--log-format=yaml" "$RANPIPE_BIN" export --log-format=yaml x
ok_if "--log-format=yaml: the value is named" grep -qF "'yaml'" <<<"$ERR"
expect_exit 2 "--log-format without a value" "$RANPIPE_BIN" inspect x --log-format
ok_if "missing value is named" grep -q "'--log-format' needs a value" <<<"$ERR"

done_testing
