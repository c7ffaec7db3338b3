#!/usr/bin/env bash
# `ranpipe report`: the summary fixtures against docs/schemas/summary.schema.json,
# the command's usage and error paths, and the page it writes opened in headless
# Chromium: no console message, no uncaught exception, no blocked load, the
# page's own script run (so the CSP hash in the page is current), table sorting,
# and a screenshot into $RANPIPE_TEST_ARTIFACTS (the build tree's
# test-artifacts/). The browser checks are themselves checked: copies of the
# page with a throwing script, an external image and a stale script must fail
# them. Chromium, python3-jsonschema and pdftotext (poppler-utils) are required
# (scripts/install-deps.sh installs them): without them this test fails, it does
# not skip.
. "$(dirname "$0")/tap.sh"
DATA=$RANPIPE_SOURCE_DIR/tests/data/report
SCHEMA=$RANPIPE_SOURCE_DIR/docs/schemas/summary.schema.json
PY=${PYTHON3:-python3}
. "$(dirname "$0")/chromium.sh"
ART=${RANPIPE_TEST_ARTIFACTS:-$T/artifacts}

if ! "$PY" -c 'import jsonschema' 2>/dev/null; then
  echo "Bail out! the Python module jsonschema is missing for '$PY' (Debian: apt-get install python3-jsonschema; scripts/install-deps.sh installs it)"
  exit 1
fi
need_chromium
mkdir -p "$ART" || exit 1

# ---- the schema and the fixtures ----

ok_if "both fixtures match summary.schema.json, and what a schema cannot say" \
  "$PY" - "$SCHEMA" "$DATA/summary.json" "$DATA/summary-empty.json" <<'PY'
import copy, json, sys
from jsonschema import Draft202012Validator
schema = json.load(open(sys.argv[1]))
Draft202012Validator.check_schema(schema)
v = Draft202012Validator(schema)
for path in sys.argv[2:]:
    s = json.load(open(path, encoding="utf-8"))
    errors = sorted(v.iter_errors(s), key=str)
    assert not errors, f"{path}: {errors[0].json_path}: {errors[0].message}"
    h = s["quality"]["score_histogram"]
    assert len(h["bounds"]) == len(h["counts"]), f"{path}: bounds and counts differ in length"
    assert h["bounds"] == sorted(set(h["bounds"])), f"{path}: bounds not increasing"
    ts = [p["t"] for p in s["throughput"]]
    assert ts == sorted(ts), f"{path}: throughput not in time order"
full = json.load(open(sys.argv[2], encoding="utf-8"))
assert len(full["tiers"]) == 3 and len(full["documents"]) >= 8
assert any(d["status"] == "failed" for d in full["documents"])
# The schema is not vacuous: each of these breaks it.
def broken(f):
    s = copy.deepcopy(full); f(s); return s
bad = {
    "no totals": broken(lambda s: s.pop("totals")),
    "unknown status": broken(lambda s: s.update(status="done")),
    "other schema": broken(lambda s: s.update(schema="ranpipe-summary/2")),
    "negative count": broken(lambda s: s["totals"].update(pairs=-1)),
    "string count": broken(lambda s: s["totals"].update(pairs="1")),
    "unknown key": broken(lambda s: s.update(extra=1)),
    "busy share above 1": broken(lambda s: s["stages"][0].update(busy_share=1.5)),
    "bad breaker": broken(lambda s: s["tiers"][0].update(breaker="broken")),
    "document without source": broken(lambda s: s["documents"][0].pop("source")),
    "too many points": broken(lambda s: s.update(throughput=[{"t": 0, "docs": 0, "chunks": 0, "pairs": 0, "rejects": 0, "gen_tokens": 0}] * 601)),
}
for name, s in bad.items():
    assert list(v.iter_errors(s)), f"the schema accepts a summary with {name}"
ok = broken(lambda s: s.pop("metrics"))
assert not list(v.iter_errors(ok)), "metrics is optional"
PY

# ---- the command ----

expect_exit 0 "ranpipe --help lists report" "$RANPIPE_BIN" --help
ok_if "... with its summary" grep -qE '^  report +render a run' <<<"$OUT"
expect_exit 0 "report --help" "$RANPIPE_BIN" report --help
ok_if "report --help shows its usage and options" \
  grep -q '^usage: ranpipe report \[OPTIONS\] OUT' <<<"$OUT"
ok_if "report --help names -o and the schema" \
  grep -q -- '-o, --out FILE' <<<"$OUT"
expect_exit 2 "report without OUT is a usage error" "$RANPIPE_BIN" report
expect_exit 2 "report with two runs is a usage error" "$RANPIPE_BIN" report "$T" "$T"
expect_exit 2 "report --bogus is a usage error" "$RANPIPE_BIN" report --bogus "$T"
ok_if "... in one line" test "$(wc -l <<<"$ERR")" -eq 1

mkdir -p "$T/none" "$T/badjson" "$T/other" "$T/run"
expect_exit 1 "no summary.json: exit 1" "$RANPIPE_BIN" report "$T/none"
ok_if "... naming the file" grep -qF "cannot open '$T/none/summary.json'" <<<"$ERR"
ok_if "... and what to name instead" grep -q "name the output directory of a run" <<<"$ERR"
expect_exit 1 "a directory that does not exist: exit 1" "$RANPIPE_BIN" report "$T/nowhere"
printf '{"schema": "ranpipe-summary/1",\n "status": complete}\n' >"$T/badjson/summary.json"
expect_exit 1 "invalid JSON: exit 1" "$RANPIPE_BIN" report "$T/badjson"
ok_if "... with the file, line and column" \
  grep -qE "cannot read '$T/badjson/summary.json': invalid JSON at line 2, column [0-9]+" <<<"$ERR"
echo '{"schema":"ranpipe-summary/7"}' >"$T/other/summary.json"
expect_exit 1 "another schema version: exit 1" "$RANPIPE_BIN" report "$T/other"
ok_if "... saying which it reads" grep -qF "this ranpipe reads 'ranpipe-summary/1'" <<<"$ERR"
ok_if "no page and no temporary file after a failure" \
  test -z "$(find "$T/none" "$T/badjson" "$T/other" -name '*.html*')"

cp "$DATA/summary.json" "$T/run/summary.json"
expect_exit 0 "report OUT" "$RANPIPE_BIN" report "$T/run"
ok_if "... says where the page went" grep -qxF "ranpipe report: wrote $T/run/report.html" <<<"$ERR"
ok_if "... and leaves summary.json and report.html only" \
  test "$(ls "$T/run" | tr '\n' ' ')" = "report.html summary.json "
cp "$T/run/report.html" "$T/first.html"
expect_exit 0 "report -q -o FILE" "$RANPIPE_BIN" report -q -o "$T/copy.html" "$T/run/"
ok_if "... quietly" test -z "$ERR"
ok_if "the same summary gives the same bytes" cmp "$T/first.html" "$T/copy.html"
expect_exit 0 "report -o - writes to standard output" "$RANPIPE_BIN" report -o - "$T/run"
ok_if "... the same page" cmp "$T/first.html" "$T/cmd.out"
mkfifo "$T/fifo"
cat "$T/fifo" >"$T/from-fifo.html" &
expect_exit 0 "report -o FIFO writes into it" "$RANPIPE_BIN" report -q -o "$T/fifo" "$T/run"
wait
ok_if "... the same page, and the FIFO is still one" \
  bash -c 'cmp "$1" "$2" && test -p "$3"' _ "$T/first.html" "$T/from-fifo.html" "$T/fifo"
expect_exit 1 "report -o DIRECTORY: exit 1" "$RANPIPE_BIN" report -o "$T/run" "$T/run"
ok_if "... saying why" grep -qF "cannot write '$T/run': it is a directory" <<<"$ERR"
cp "$DATA/summary-empty.json" "$T/empty-summary.json"
expect_exit 0 "report names a summary file" "$RANPIPE_BIN" report "$T/empty-summary.json"
ok_if "... and the page goes beside it" test -s "$T/report.html"
mv "$T/report.html" "$T/empty.html"

ok_if "the page's script is the only one and the CSP allows exactly it" \
  "$PY" - "$T/first.html" <<'PY'
import base64, hashlib, re, sys
html = open(sys.argv[1], encoding="utf-8").read()
scripts = re.findall(r"<script>(.*?)</script>", html, re.S)
assert len(scripts) == 1 and html.count("<script") == 1, "one inline script"
want = "sha256-" + base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', html).group(1)
assert f"script-src '{want}'" in csp, f"the CSP's script hash is stale: the script hashes to {want} (update SCRIPT_HASH in src/out/report.c)"
assert "default-src 'none'" in csp
PY

# ---- the page in a browser ----

ok_if "Chromium loads the report" browse "$T/first.html" full
ok_if "... with no console message, exception or blocked load, and its script ran" clean full
ok_if "... and the DOM holds every section" \
  test "$(grep -oE '<section id="[a-z]+">' "$T/full.dom" | wc -l)" -eq 11
ok_if "... and no hostile markup became elements" \
  test -z "$(grep -E '<img|<script>alert|<b>' "$T/full.dom")"
ok_if "Chromium loads the empty report cleanly" browse "$T/empty.html" empty
ok_if "... with no problems" clean empty

# The checks must catch what they are there for: each broken copy must fail.
# A throwing script (the CSP removed so that it runs):
sed -e 's|<meta http-equiv="Content-Security-Policy"[^>]*>||' \
  -e 's|</body>|<script>undefinedFunction();</script></body>|' "$T/first.html" >"$T/throws.html"
browse "$T/throws.html" throws
ok_if "a throwing script is caught in the console log" grep -q 'Uncaught ReferenceError' "$T/throws.log"
ok_if "... and by the page's error note" grep -q 'data-js-error="Uncaught ReferenceError' "$T/throws.dom"
ok_if "... so the check fails" fails clean throws
# console.error alone:
sed -e 's|<meta http-equiv="Content-Security-Policy"[^>]*>||' \
  -e 's|</body>|<script>console.error("broken")</script></body>|' "$T/first.html" >"$T/logs.html"
browse "$T/logs.html" logs
ok_if "a console.error is caught" grep -q 'console: .*"broken"' <<<"$(problems logs)"
# An external resource, with the page's CSP in place:
sed 's|</body>|<img src="http://192.0.2.1/x.png" alt=""></body>|' "$T/first.html" >"$T/fetch.html"
browse "$T/fetch.html" fetch
ok_if "an external load is blocked and caught" \
  grep -q 'blocked .*192.0.2.1' <<<"$(problems fetch)"
# A script edited without updating the CSP hash:
sed 's|r.setAttribute(.data-js.,.ready.)|r.setAttribute("data-js","stale")|' "$T/first.html" >"$T/stale.html"
ok_if "(the stale copy differs)" fails cmp -s "$T/first.html" "$T/stale.html"
browse "$T/stale.html" stale
ok_if "a script the CSP does not allow is caught" \
  grep -q 'its script did not run' <<<"$(problems stale)"

# Sorting works: a copy with a test script (CSP removed) clicks the documents
# table's "pairs" heading twice (descending) and notes the first row's pairs
# and the row that was first before.
sed -e 's|<meta http-equiv="Content-Security-Policy"[^>]*>||' \
  -e 's|</body>|<script>addEventListener("load",function(){var t=document.querySelector("#documents table");var th=t.tHead.rows[0].cells[3];var was=t.tBodies[0].rows[0];th.click();th.click();var r=t.tBodies[0].rows;document.body.setAttribute("data-first",r[0].cells[3].textContent+"/"+th.getAttribute("aria-sort")+"/"+Array.prototype.indexOf.call(r,was)+"/"+r.length);});</script></body>|' \
  "$T/first.html" >"$T/sort.html"
browse "$T/sort.html" sort
WANT=$("$PY" -c '
import json, sys
docs = json.load(open(sys.argv[1], encoding="utf-8"))["documents"]
order = sorted(range(len(docs)), key=lambda i: (-docs[i]["pairs"], i))
top = docs[order[0]]["pairs"]
print(f"{top}/descending/{order.index(0)}/{len(docs)}")' "$DATA/summary.json")
ok_if "clicking a heading sorts the table (most pairs first: $WANT)" \
  grep -qF "data-first=\"$WANT\"" "$T/sort.dom"
ok_if "... without errors" clean sort

# Without JavaScript the page is complete, and it prints: the page with its
# script removed (Chromium's headless printing needs scripts on, so
# --blink-settings=scriptEnabled=false cannot be used), printed to PDF, has
# every section and every document in its text.
sed 's|<script>.*</script>||' "$T/first.html" >"$T/nojs.html"
ok_if "(the copy has no script)" fails grep -q '<script' "$T/nojs.html"
rm -rf "$T/profile"
ok_if "Chromium prints the report without its script to PDF" \
  timeout 90 "$CHROMIUM" --headless --disable-gpu --no-sandbox --user-data-dir="$T/profile" \
  --no-first-run --disable-extensions --no-pdf-header-footer --print-to-pdf="$T/report.pdf" \
  "file://$T/nojs.html"
ok_if "... and the printed text has every section and every document" \
  "$PY" - "$T/report.pdf" "$DATA/summary.json" <<'PY'
import json, subprocess, sys
text = subprocess.run(["pdftotext", "-layout", sys.argv[1], "-"], capture_output=True, check=True,
                      text=True).stdout
words = " ".join(text.split())
for h in ["ranpipe run report", "Bottleneck", "Alerts", "Totals", "Quality score distribution",
          "Rejection reasons", "Tier mix", "Throughput over time", "Stage busy share",
          "Documents", "Sample pairs", "hallucinated identifier", "threshold 0.6"]:
    assert h in words, f"the printed page lacks {h!r}"
for d in json.load(open(sys.argv[2], encoding="utf-8"))["documents"]:
    name = d["source"].rsplit("/", 1)[-1].split()[-1]
    assert name in words, f"the printed page lacks the document {d['source']!r}"
PY

# ---- screenshot ----

shot() { # FILE PNG
  rm -rf "$T/profile"
  timeout 90 "$CHROMIUM" --headless --disable-gpu --no-sandbox --user-data-dir="$T/profile" \
    --no-first-run --disable-extensions --hide-scrollbars --window-size=1280,4000 \
    --screenshot="$2" "file://$1" >/dev/null 2>&1
}
rm -f "$ART/report.png" "$ART/report-empty.png"
ok_if "a screenshot of the report" shot "$T/first.html" "$ART/report.png"
ok_if "... is a 1280x4000 PNG of some substance ($ART/report.png)" \
  "$PY" - "$ART/report.png" <<'PY'
import os, struct, sys
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
w, h = struct.unpack(">II", data[16:24])
assert (w, h) == (1280, 4000), (w, h)
assert len(data) > 100_000, f"only {len(data)} bytes: a blank page?"
PY
ok_if "a screenshot of the empty report" shot "$T/empty.html" "$ART/report-empty.png"
ok_if "... is a PNG" test "$(head -c 4 "$ART/report-empty.png" | od -An -c | tr -d ' ')" = '211PNG'

done_testing
