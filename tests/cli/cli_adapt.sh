#!/usr/bin/env bash
# Adaptive routing on real runs with two LLM tiers, 'small' and 'medium',
# both on the fake OpenAI server and told apart by their base URL's path:
# small answers prose (no pair) to the complex documents (@garbage_on=/small)
# and medium is slower, so dearer (@sleep_on=/medium; cost is latency).
#  - run 1, static routing (small takes every chunk): small gets every
#    document, fails the complex ones, which escalate to medium; the history
#    holds both attempts;
#  - `ranpipe history` then shows small's learned threshold between the
#    simple and the complex documents' complexity;
#  - run 2, route.adaptive into the same OUT over new documents: the complex
#    ones go straight to medium (no request to small, no escalation), the
#    simple ones still to small, and the summary counts the adaptive picks;
#  - control: the same documents with static routing into a copy of run 1's
#    OUT go to small first and escalate, as in run 1.
# Requests are counted per tier and document kind by the server (@id).
. "$(dirname "$0")/tap.sh"
PY=${PYTHON3:-python3}
unset RANPIPE_MODEL

"$PY" "$RANPIPE_SOURCE_DIR/tests/fake_openai.py" >"$T/port" 2>"$T/fake.err" &
FAKE=$!
trap 'kill $FAKE 2>/dev/null; rm -rf "$T"' EXIT
for _ in $(seq 50); do [ -s "$T/port" ] && break; sleep 0.1; done
PORT=$(head -1 "$T/port")

# got TIER KIND: requests the server had from tier TIER for documents of KIND.
got() {
  "$PY" -c 'import json,sys,urllib.request
d = json.load(urllib.request.urlopen(sys.argv[1]))["by_path_id"]
print(d.get("/" + sys.argv[2], {}).get(sys.argv[3], 0))' "http://127.0.0.1:$PORT/stats" "$1" "$2"
}
reset() {
  "$PY" -c 'import sys,urllib.request; urllib.request.urlopen(urllib.request.Request(sys.argv[1], b"", method="POST"))' \
    "http://127.0.0.1:$PORT/reset"
}
# counts WHAT: "small simple=N, small complex=N, medium simple=N, medium complex=N"
counts() {
  echo "small simple=$(got small simple), small complex=$(got small complex)," \
    "medium simple=$(got medium simple), medium complex=$(got medium complex)"
}

# gen DIR SET NSIMPLE NCOMPLEX: documents whose text is unique to SET and
# number (so neither the cache nor near-duplicate checks tie them together).
# Every one holds the sentence the fake server's pair is grounded on. Simple:
# one paragraph of prose (complexity about 0.1); complex: a parameter table
# of MO.attributes, values with units, counters and spec references under
# three heading levels (about 0.8). The simple ones sit below the centre of
# their complexity bin (0.10-0.15) on purpose: above it the fitted curve
# falls toward the next, empty bin, whose rate is small's overall mean (0.5),
# so a simple chunk at 0.14 would be predicted under the target and go to
# medium (docs/engine.md: the curve interpolates between bin centres).
gen() {
  local dir=$1 set=$2 ns=$3 nc=$4 i n
  local words=(amber birch cedar delta ember fjord garnet harbor indigo juniper kestrel lagoon)
  local slow="@sleep=0.3 @sleep_on=/medium"
  mkdir -p "$dir"
  for i in $(seq "$ns"); do
    n=$set$i
    cat >"$dir/simple-$n.md" <<DOC
# Uplink power note $n

The parameter pZeroNominalPusch sets the nominal PUSCH power per resource block. Operators of the ${words[$((i % 12))]} cluster $n review it when a cell is added. The planning team keeps a note about the choice, so that the people who come later can see why the value was picked, who agreed to it, and when the team last looked at it again after a change in the area. @id=simple $slow
DOC
  done
  for i in $(seq "$nc"); do
    n=$set$i
    cat >"$dir/complex-$n.md" <<DOC
# Uplink power control, set $n

## Cell parameters

### PUSCH and PUCCH power

The parameter pZeroNominalPusch sets the nominal PUSCH power per resource block. @id=complex @garbage_on=/small $slow

| MO.attribute | Default | Counter | Spec |
|---|---|---|---|
| NRCellDU.pZeroNominalPusch | -$((100 + i % 20)) dBm | pmPuschSinrDistr$n | TS 38.213 |
| NRCellDU.alpha | 0.$((i % 9 + 1)) | pmPuschPowerLimited$n | TS 38.213 |
| NRCellDU.pMax | $((10 + i % 13)) dBm | pmUlPowerHeadroom$n | TS 38.101 |
| NRCellDU.deltaMcsEnabled | $((i % 2)) | pmPuschTpcCmd$n | TS 38.331 |
| NRCellDU.p0NominalPucch | -$((90 + i % 30)) dBm | pmPucchSinrDistr$n | TS 38.213 |
| EUtranCellFDD.pZeroNominalPucch | -$((96 + i % 31)) dBm | pmRadioTbsPwrRestricted$n | TS 36.213 |
| GNBDUFunction.ulPowerControlMode | $((i % 3)) | pmMacHarqUlFail$n | TS 38.321 |
| NRCellDU.msg3DeltaPreamble | $((i % 7)) dB | pmRaMsg3Att$n | TS 38.331 |
| NRCellDU.puschRepK | $((1 + i % 8)) ms | pmPuschRep$n | TS 38.214 |
| NRCellDU.srsPowerOffset | $((i % 15)) dB | pmSrsRecv$n | TS 38.213 |
DOC
  done
}
gen "$T/in1" 1 60 60
gen "$T/in2" 2 20 20

# ---- the two kinds lie apart in complexity ----
"$RANPIPE_BIN" inspect --json "$T"/in1/*.md "$T"/in2/*.md >"$T/inspect.jsonl"
ok_if "inspect reads all 160 documents" test "$(wc -l <"$T/inspect.jsonl")" -eq 160
# One line per document: kind, chunks, complexity of the first chunk.
"$PY" -c 'import json,os,sys
for line in open(sys.argv[1]):
    d = json.loads(line)
    print(os.path.basename(d["path"]).split("-")[0], len(d["chunks"]),
          d["chunks"][0]["complexity"]["score"] if d["chunks"] else -1)' "$T/inspect.jsonl" >"$T/complexity"
SIMPLE_MAX=$(awk '$1 == "simple" && $3 > m { m = $3 } END { print m + 0 }' "$T/complexity")
COMPLEX_MIN=$(awk '$1 == "complex" && (m == "" || $3 < m) { m = $3 } END { print m + 0 }' "$T/complexity")
ok_if "every document is one chunk" bash -c "! awk '\$2 != 1' '$T/complexity' | grep -q ."
ok_if "simple documents score at most $SIMPLE_MAX (< 0.3)" awk "BEGIN { exit !($SIMPLE_MAX > 0 && $SIMPLE_MAX < 0.3) }"
ok_if "complex documents score at least $COMPLEX_MIN (> 0.6)" awk "BEGIN { exit !($COMPLEX_MIN > 0.6) }"

# ---- configurations: small takes everything by its threshold ----
config() { # ADAPTIVE
  cat <<YAML
route:
  adaptive: $1
  target: 0.8
quality:
  dedup: false   # the server always answers the same pair
tiers:
  - name: extractive
    backend: extractive
  - name: small
    backend: openai
    base_url: http://127.0.0.1:$PORT/small
    max_complexity: 1.0
    max_concurrent: 16
  - name: medium
    backend: openai
    base_url: http://127.0.0.1:$PORT/medium
    max_complexity: 1.0
    max_concurrent: 16
YAML
}
config false >"$T/static.yaml"
config true >"$T/adaptive.yaml"

# ---- run 1: static routing gathers history ----
expect_exit 0 "run 1 (static routing, 60 simple + 60 complex documents)" \
  "$RANPIPE_BIN" run "$T/in1" -o "$T/out" -c "$T/static.yaml"
C1=$(counts)
echo "# run 1: $C1"
ok_if "run 1: small got every document once" test "$(got small simple)/$(got small complex)" = 60/60
ok_if "run 1: medium got the complex ones after small (escalated)" test "$(got medium complex)" -eq 60
ok_if "run 1: and none of the simple ones" test "$(got medium simple)" -eq 0
ok_if "run 1: the summary counts 60 escalations" grep -q " 60 escalated" <<<"$ERR"
ok_if "run 1: no adaptive pick" bash -c "! grep -q 'routing history sent' <<<\"\$1\"" _ "$ERR"
cp -r "$T/out" "$T/control"

expect_exit 0 "ranpipe history" "$RANPIPE_BIN" history "$T/out" -c "$T/static.yaml"
echo "$OUT" | sed 's/^/# /'
ok_if "history holds both attempts of every escalated chunk (180)" grep -q ": 180 attempts recorded" <<<"$OUT"
SMALL=$(awk '$1 == "small"' <<<"$OUT")
MEDIUM=$(awk '$1 == "medium"' <<<"$OUT")
ok_if "small has 120 observations, medium 60" \
  test "$(awk '{ print $2 }' <<<"$SMALL")/$(awk '{ print $2 }' <<<"$MEDIUM")" = 120/60
TH=$(awk '{ print $9 }' <<<"$SMALL")
ok_if "small's learned threshold ($TH) lies between the kinds ($SIMPLE_MAX, $COMPLEX_MIN)" \
  awk "BEGIN { exit !(\"$TH\" + 0 > $SIMPLE_MAX && \"$TH\" + 0 < $COMPLEX_MIN) }"
ok_if "medium reaches the target everywhere" test "$(awk '{ print $9 }' <<<"$MEDIUM")" = 1.00

# ---- run 2: adaptive routing, same OUT, new documents ----
reset
expect_exit 0 "run 2 (route.adaptive, 20 new simple + 20 new complex documents)" \
  "$RANPIPE_BIN" run "$T/in2" -o "$T/out" -c "$T/adaptive.yaml"
C2=$(counts)
echo "# run 2: $C2"
ok_if "run 2: nothing came from the cache" grep -q "; 0 generations from the cache" <<<"$ERR"
ok_if "run 2: small got none of the complex documents" test "$(got small complex)" -eq 0
ok_if "run 2: medium got each complex document once, directly" test "$(got medium complex)" -eq 20
ok_if "run 2: no escalation" bash -c "! grep -q ' [1-9][0-9]* escalated' <<<\"\$1\"" _ "$ERR"
ok_if "run 2: no escalate reject" test "$(grep -c '"stage":"escalate"' "$T/out/rejects.jsonl")" -eq 0
ok_if "run 2: the simple documents still went to small, the cheaper tier" \
  test "$(got small simple)/$(got medium simple)" = 20/0
ok_if "run 2: the summary counts the 20 adaptive picks" \
  grep -q "routing history sent 20 chunks to another tier than the thresholds would" <<<"$ERR"
ok_if "run 2: every document gave its pair" grep -q "; 40 pairs written" <<<"$ERR"

# ---- control: the same documents with static routing ----
reset
expect_exit 0 "control (static routing, run 2's documents, a copy of run 1's OUT)" \
  "$RANPIPE_BIN" run "$T/in2" -o "$T/control" -c "$T/static.yaml"
C3=$(counts)
echo "# control: $C3"
ok_if "control: small got every document first" test "$(got small simple)/$(got small complex)" = 20/20
ok_if "control: the complex ones escalated to medium" test "$(got medium complex)" -eq 20
ok_if "control: the summary counts 20 escalations" grep -q " 20 escalated" <<<"$ERR"
ok_if "control: 20 escalate rejects" test "$(grep -c '"stage":"escalate"' "$T/control/rejects.jsonl")" -eq 20
ok_if "control: no adaptive pick" bash -c "! grep -q 'routing history sent' <<<\"\$1\"" _ "$ERR"

done_testing
