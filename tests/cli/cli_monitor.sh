#!/usr/bin/env bash
# Monitoring on a real run (an openai tier on the fake server, which answers
# each request after @sleep seconds, so the run lasts a few seconds):
#  - /metrics (--metrics 127.0.0.1:0) scraped while the run goes on, and the
#    exposition checked by promtool and prometheus_client
#    (tests/tools/check_metrics.sh), with ranpipe's metric names in it;
#  - plain progress lines; a live display on a pseudo-terminal;
#  - alerts from the config (pass rate, breaker) logged, counted in /metrics
#    and listed in summary.json;
#  - the bottleneck named; summary.json valid against
#    docs/schemas/summary.schema.json; report.html opened in headless
#    Chromium without a console message;
#  - --log-format json: every line on standard error is JSON;
#  - --no-monitor writes neither summary.json nor report.html;
#  - a bad --metrics address and a port in use are clear errors.
. "$(dirname "$0")/tap.sh"
. "$(dirname "$0")/chromium.sh"
PY=${PYTHON3:-python3}
SCHEMA=$RANPIPE_SOURCE_DIR/docs/schemas/summary.schema.json
CHECK=$RANPIPE_SOURCE_DIR/tests/tools/check_metrics.sh
ART=${RANPIPE_TEST_ARTIFACTS:-$T/artifacts}
unset RANPIPE_MODEL
need_chromium
mkdir -p "$ART" || exit 1

"$PY" "$RANPIPE_SOURCE_DIR/tests/fake_openai.py" >"$T/port" 2>"$T/fake.err" &
FAKE=$!
trap 'kill $FAKE 2>/dev/null; rm -rf "$T"' EXIT
for _ in $(seq 50); do [ -s "$T/port" ] && break; sleep 0.1; done
PORT=$(head -1 "$T/port")

# Six documents; the fake server's pair names pZeroNominalPusch, so the
# pairs of the documents that define it pass and the others' do not (and
# repeats are near-duplicates): the pass rate is low on purpose.
mkdir -p "$T/in"
for i in 1 2 3 4 5 6; do
  {
    echo "# Uplink power control, part $i"
    echo
    if [ $((i % 2)) -eq 0 ]; then
      echo "The parameter pZeroNominalPusch sets the nominal PUSCH power per resource block. @sleep=0.6"
    else
      echo "The cell reselection priority orders frequencies for idle mode reselection. @sleep=0.6"
    fi
    echo
    echo "## Details"
    echo
    echo "Section $i of the test document explains the procedure in enough words to be a chunk. @sleep=0.6"
  } >"$T/in/doc$i.md"
done
cat >"$T/mon.yaml" <<YAML
monitor:
  progress_interval: 0.5
  alerts:
    min_pass_rate: 0.9
    min_samples: 3
tiers:
  - name: extractive
    backend: extractive
  - name: small
    backend: openai
    base_url: http://127.0.0.1:$PORT
    max_concurrent: 1
YAML

# ---- a run with /metrics, scraped while it goes ----
"$RANPIPE_BIN" run "$T/in" -o "$T/out" -c "$T/mon.yaml" --metrics 127.0.0.1:0 --progress plain 2>"$T/run.err" &
RUN=$!
MPORT=
for _ in $(seq 100); do
  MPORT=$(sed -n 's|.*metrics: http://127\.0\.0\.1:\([0-9]*\)/metrics.*|\1|p' "$T/run.err" | head -1)
  [ -n "$MPORT" ] && break
  sleep 0.1
done
ok_if "the run says where /metrics is" test -n "$MPORT"
live=0
for _ in $(seq 100); do
  if curl -sf "http://127.0.0.1:$MPORT/metrics" >"$T/scrape.txt" 2>/dev/null &&
    grep -q '^ranpipe_requests_total{tier="small",outcome="ok"} [1-9]' "$T/scrape.txt"; then
    live=1
    break
  fi
  sleep 0.2
done
ok_if "a scrape during the run shows requests done" test "$live" -eq 1
ok_if "... while the run was still going" kill -0 "$RUN"
ok_if "the live endpoint passes promtool and prometheus_client" bash "$CHECK" "http://127.0.0.1:$MPORT/metrics"
ok_if "the scraped text passes them too" bash "$CHECK" "$T/scrape.txt"
ok_if "it has ranpipe's metrics" bash -c '
  for m in ranpipe_chunks_total ranpipe_documents_total ranpipe_pairs_total ranpipe_stage_busy_seconds_total \
           ranpipe_stage_wait_seconds_total ranpipe_request_duration_seconds_bucket ranpipe_generated_tokens_total \
           ranpipe_quality_score_bucket ranpipe_queue_jobs ranpipe_tier_breaker_state; do
    grep -q "^$m" "$1" || { echo "missing $m"; exit 1; }; done' _ "$T/scrape.txt"
ok_if "latency is a histogram with buckets per tier" grep -q '^ranpipe_request_duration_seconds_bucket{tier="small",le="+Inf"}' "$T/scrape.txt"
st=0
wait "$RUN" || st=$?
ok_if "the run finished (status $st)" test "$st" -eq 0
ok_if "the endpoint is gone with the run" fails curl -sf "http://127.0.0.1:$MPORT/metrics" -o /dev/null

# ---- what the run said ----
ok_if "plain progress lines, more than one" test "$(grep -c '^progress: docs [0-9]*/[0-9]*' "$T/run.err")" -ge 2
ok_if "progress shows chunks, pairs, rates, ETA and the tier mix" \
  grep -Eq '^progress: docs 6/6, chunks [0-9]+/[0-9]+ \(100%\), pairs [0-9]+ ok / [0-9]+ rejected, .*ETA .*tiers .*small' "$T/run.err"
ok_if "an ETA is given before the end, once every file has been read" \
  grep -Eq '^progress: docs 6/6, chunks [0-9]+/[0-9]+ \(([0-9]|[1-9][0-9])%\), .*ETA [0-9]' "$T/run.err"
ok_if "the low pass rate raised an alert" grep -q "warning: alert pass_rate_low: " "$T/run.err"
ok_if "the bottleneck is named: the backend (one request at a time, 0.6 s each)" \
  grep -q "bottleneck: generate: backend-bound; its input queue was full [0-9]*% of the time" "$T/run.err"
ok_if "the report is announced" grep -q "report: $T/out/report.html" "$T/run.err"

# ---- summary.json ----
ok_if "summary.json is valid against the schema" "$PY" - "$SCHEMA" "$T/out/summary.json" <<'PY'
import json, sys, jsonschema
jsonschema.validate(json.load(open(sys.argv[2])), json.load(open(sys.argv[1])))
PY
ok_if "summary.json holds the run: 6 documents, tiers, stages, throughput over time, alerts, samples" \
  "$PY" - "$T/out/summary.json" "$T/out/dataset.jsonl" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
pairs = sum(1 for _ in open(sys.argv[2]))
assert s["status"] == "complete", s["status"]
assert s["totals"]["docs"] == 6 and len(s["documents"]) == 6, s["totals"]
assert s["totals"]["pairs"] == pairs, (s["totals"]["pairs"], pairs)
assert [t["name"] for t in s["tiers"]] == ["extractive", "small"]
small = s["tiers"][1]
assert small["latency_seconds"]["count"] >= 6 and small["latency_seconds"]["p50"] >= 0.5, small
assert {st["name"] for st in s["stages"]} == {"ingest", "route", "generate", "assess"}
gen = next(st for st in s["stages"] if st["name"] == "generate")
assert gen["busy_share"] > 0.5, gen
assert s["bottleneck"]["stage"] == "generate" and s["bottleneck"]["kind"] == "backend-bound", s["bottleneck"]
assert len(s["throughput"]) >= 3 and s["throughput"][-1]["chunks"] == s["totals"]["chunks"], s["throughput"][-1]
assert any(a["name"] == "pass_rate_low" for a in s["alerts"]), s["alerts"]
assert sum(s["quality"]["score_histogram"]["counts"]) == s["quality"]["accepted"] + s["quality"]["rejected"]
assert s["samples"]["rejected"] and all(r["reasons"] for r in s["samples"]["rejected"])
assert s["reject_reasons"] and all(r["count"] > 0 for r in s["reject_reasons"])
assert "ranpipe_chunks_total" in s["metrics"]
PY

# ---- report.html in a browser ----
ok_if "report.html is written" test -s "$T/out/report.html"
ok_if "ranpipe report renders the same page from summary.json" bash -c '
  "$1" report -q "$2" -o "$2/again.html" && cmp "$2/report.html" "$2/again.html"' _ "$RANPIPE_BIN" "$T/out"
ok_if "Chromium loads the run's report" browse "$T/out/report.html" run
ok_if "... with no console message, exception or blocked load, and its script ran" clean run
ok_if "... it names the bottleneck and the alert" bash -c 'grep -q "backend-bound" "$1" && grep -q "pass_rate_low" "$1"' _ "$T/run.dom"
rm -rf "$T/profile"
timeout 90 "$CHROMIUM" --headless --disable-gpu --no-sandbox --user-data-dir="$T/profile" --no-first-run \
  --disable-extensions --hide-scrollbars --window-size=1280,4000 --screenshot="$ART/report-run.png" \
  "file://$T/out/report.html" >/dev/null 2>&1
ok_if "a screenshot of the run's report ($ART/report-run.png)" test -s "$ART/report-run.png"

# ---- the live display on a terminal ----
ok_if "on a terminal the progress is a live display redrawn in place" bash -c '
  TERM=xterm script -qfec "\"$1\" run \"$2\" -o \"$3\" -c \"$4\" --no-cache" "$5" >/dev/null 2>&1
  grep -q $'"'"'\x1b\[2K'"'"' "$5" && grep -q "chunks" "$5"' _ \
  "$RANPIPE_BIN" "$T/in" "$T/tty" "$T/mon.yaml" "$T/typescript"

# ---- JSON logs ----
expect_exit 0 "a run with --log-format json" "$RANPIPE_BIN" run "$T/in" -o "$T/out" -c "$T/mon.yaml" \
  --log-format json --progress plain
ok_if "every line on standard error is a JSON object with ts, level and msg" "$PY" - "$T/cmd.err" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert lines
for l in lines:
    o = json.loads(l)
    assert {"ts", "level", "msg"} <= o.keys(), l
assert any("bottleneck" in json.loads(l)["msg"] for l in lines)
PY

# ---- monitoring off ----
expect_exit 0 "--no-monitor" "$RANPIPE_BIN" run "$T/in" -o "$T/off" -c "$T/mon.yaml" --no-monitor --progress plain
ok_if "no summary.json or report.html" bash -c '! [ -e "$1/summary.json" ] && ! [ -e "$1/report.html" ]' _ "$T/off"
ok_if "no progress lines and no bottleneck" bash -c '! grep -Eq "^progress:|bottleneck" <<<"$1"' _ "$ERR"
ok_if "the same dataset as with monitoring" cmp "$T/out/dataset.jsonl" "$T/off/dataset.jsonl"

# ---- a breaker that opens raises an alert ----
DEAD=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
cat >"$T/dead.yaml" <<YAML
retry:
  attempts: 1
  deadline_s: 3
breaker:
  failures: 1
  cooldown_s: 60
tiers:
  - name: extractive
    backend: extractive
  - name: small
    backend: openai
    base_url: http://127.0.0.1:$DEAD
    timeout_s: 5
YAML
expect_exit 0 "a run against a dead endpoint" "$RANPIPE_BIN" run "$T/in" -o "$T/dead" -c "$T/dead.yaml"
ok_if "the open breaker raised an alert" grep -q "alert breaker_open:small: tier 'small': circuit breaker open" <<<"$ERR"
ok_if "and summary.json lists it" grep -q '"breaker_open:small"' "$T/dead/summary.json"

# ---- bad addresses ----
expect_exit 1 "--metrics with a bad address" "$RANPIPE_BIN" run "$T/in" -o "$T/bad" -c "$T/mon.yaml" --metrics nowhere:abc
ok_if "names the address" grep -q "nowhere:abc" <<<"$ERR"
"$PY" -c 'import socket,time,sys; s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(1); print(s.getsockname()[1], flush=True); time.sleep(30)' >"$T/busy" &
BUSY=$!
for _ in $(seq 50); do [ -s "$T/busy" ] && break; sleep 0.1; done
expect_exit 1 "--metrics on a port in use" "$RANPIPE_BIN" run "$T/in" -o "$T/bad" -c "$T/mon.yaml" --metrics "127.0.0.1:$(cat "$T/busy")"
ok_if "says the address is in use" grep -qi "in use" <<<"$ERR"
kill "$BUSY" 2>/dev/null
expect_exit 2 "--progress with a bad mode" "$RANPIPE_BIN" run "$T/in" -o "$T/bad" --progress loud
expect_exit 0 "run --help" "$RANPIPE_BIN" run --help
ok_if "run --help documents --metrics, --progress, --log-format and --no-monitor" bash -c '
  for w in --metrics --progress --log-format --no-monitor; do grep -q -- "$w" <<<"$1" || { echo "missing $w"; exit 1; }; done' _ "$OUT"

done_testing
