#!/usr/bin/env bash
# `ranpipe assess`: quality objects added to hand-written QA records, every
# input field and the order kept; near-duplicates naming the earlier id;
# unreadable lines reported as FILE:LINE while the rest is written; records
# without an answer kept and rejected; -o, --no-dedup, --threshold,
# --conflicts, --config; usage errors; --help. Then a regression guard on
# the labeled set (tests/data/quality): bad-pair precision >= 0.95 and
# recall >= 0.80 (the benchmark, ranpipe-bench-quality, reports the goal).
. "$(dirname "$0")/tap.sh"
PY=${PYTHON3:-python3}
SRC=$RANPIPE_SOURCE_DIR
LABELED=$SRC/tests/data/quality/labeled.jsonl

# ---- the records ------------------------------------------------------------
"$PY" - "$T/in.jsonl" <<'PY'
import json, sys
C = ("The parameter qRxLevMin sets the minimum required RX level in the cell for cell "
     "reselection, with a default of -140 dBm. The parameter qQualMin sets the minimum "
     "required quality level in the cell, with a default of -18 dB. The timer t320 keeps the "
     "dedicated priorities for 30 minutes after the UE leaves the connected state.")
A = ("The default value of qRxLevMin, the minimum required RX level in the cell for cell "
     "reselection, is -140 dBm.")
recs = [
    # every kind of extra field, in an order of its own
    {"id": "r1", "label": "good", "context": C, "n": 3, "question": "What is the default value "
     "of qRxLevMin in the cell?", "answer": A, "metadata": {"source": "doc.pdf", "page": [1, 2]},
     "note": "caf\u00e9 \u2212140", "flag": True, "none": None},
    {"id": "r2", "context": C, "question": "How long does the timer t320 keep the dedicated "
     "priorities?", "answer": "The timer t320 keeps the dedicated priorities for 30 minutes.",
     "score": 0.25},
    {"id": "r3", "context": C, "question": "What is the default value of qQualMin?",
     "answer": "The default value of qQualMin is -20 dB."},
    {"id": "r4", "context": C, "question": "Which default does qRxLevMin have in the cell?",
     "answer": A},
    {"id": 7, "context": C, "question": "What is the default value of qQualMin in the cell?",
     "answer": "The default value of qQualMin, the minimum required quality level in the cell, is "
     "-18 dB."},
    {"id": "r6", "context": C, "question": "Which default does qQualMin have in the cell?",
     "answer": "The default value of qQualMin, the minimum required quality level in the cell, is "
     "-18 dB."},
]
with open(sys.argv[1], "w", encoding="utf-8") as f:
    for r in recs:
        f.write(json.dumps(r, ensure_ascii=False) + "\n")
PY

expect_exit 0 "assess a small file" "$RANPIPE_BIN" assess "$T/in.jsonl"
printf '%s\n' "$OUT" >"$T/out.jsonl"
ok_if "a one-line summary on stderr" \
  grep -qx "assess: 6 records: 3 accepted, 3 rejected (0 structural, 1 hallucinated, 0 unsupported, 0 contradicting, 0 unanswerable, 2 near-duplicates); 0 parameter conflicts; 0 unreadable lines; [0-9]* records/s" <<<"$ERR"

ok_if "every field kept as it was, in its order, \"quality\" added last, records in order" \
  "$PY" - "$T/in.jsonl" "$T/out.jsonl" <<'PY'
import json, sys
ins = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
outs = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
assert len(outs) == len(ins), (len(outs), len(ins))
for i, o in zip(ins, outs):
    assert list(o)[-1] == "quality", list(o)
    q = o.pop("quality")
    assert o == i, (o, i)
    assert list(o) == list(i), (list(o), list(i))
    assert set(q) == {"score", "verdict", "reasons", "checks"}, q
    assert isinstance(q["score"], float) and 0 <= q["score"] <= 1, q
    assert q["verdict"] in ("accept", "reject"), q
    assert isinstance(q["reasons"], list) and all(isinstance(r, str) for r in q["reasons"])
    assert (q["verdict"] == "accept") == (q["reasons"] == []), q
    c = q["checks"]
    assert set(c) == {"structure", "grounding", "support", "answerable", "consistency",
                      "semantic", "judge"}, c
    assert c["semantic"] is None and c["judge"] is None, c
    for k in ("structure", "grounding", "support", "answerable", "consistency"):
        assert isinstance(c[k], (int, float)) and 0 <= c[k] <= 1, (k, c)
PY

ok_if "verdicts; a near-duplicate names the earlier record's id" "$PY" - "$T/out.jsonl" <<'PY'
import json, sys
outs = {str(r["id"]): r["quality"] for r in map(json.loads, open(sys.argv[1]))}
want = {"r1": "accept", "r2": "accept", "r3": "reject", "r4": "reject", "7": "accept",
        "r6": "reject"}
got = {k: v["verdict"] for k, v in outs.items()}
assert got == want, got
assert any("hallucinated value '-20 dB'" in r for r in outs["r3"]["reasons"]), outs["r3"]
assert outs["r4"]["reasons"] == [r for r in outs["r4"]["reasons"] if "near duplicate of 'r1'" in r], outs["r4"]
assert len(outs["r4"]["reasons"]) == 1
# an integer id is named as written
assert any("near duplicate of '7'" in r for r in outs["r6"]["reasons"]), outs["r6"]
PY

expect_exit 0 "assess the output again" "$RANPIPE_BIN" assess -q "$T/out.jsonl"
ok_if "the old quality objects are replaced: the same output" cmp -s <(printf '%s\n' "$OUT") "$T/out.jsonl"

# ---- unreadable lines, missing fields ----------------------------------------
{
  sed -n 1p "$T/in.jsonl"
  echo 'this is not JSON'
  echo ''
  echo '[1, 2, 3]'
  sed -n 2p "$T/in.jsonl"
  printf '{"id": "half", "context": "x", "question": "What is x?", "ans\n'
  sed -n 3p "$T/in.jsonl" | tr -d '\n'; printf '\r\n'
} >"$T/bad.jsonl"
expect_exit 1 "unreadable lines: exit status 1" "$RANPIPE_BIN" assess "$T/bad.jsonl"
ok_if "each reported as FILE:LINE (blank lines counted)" "$PY" - "$T/bad.jsonl" "$ERR" <<'PY'
import re, sys
path, err = sys.argv[1], sys.argv[2]
for n in (2, 4, 6):
    assert re.search(r"(^|\s)%s:%d: " % (re.escape(path), n), err, re.M), (n, err)
assert "%s:4: not a JSON object" % path in err, err
for n in (1, 3, 5, 7):
    assert "%s:%d:" % (path, n) not in err, (n, err)
assert "3 unreadable lines" in err, err
PY
ok_if "the readable lines are still written, in order (a CRLF line too)" "$PY" - "$OUT" <<'PY'
import json, sys
ids = [json.loads(l)["id"] for l in sys.argv[1].splitlines()]
assert ids == ["r1", "r2", "r3"], ids
PY

"$PY" - "$T/in.jsonl" "$T/missing.jsonl" <<'PY'
import json, sys
r = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
with open(sys.argv[2], "w") as f:
    no_answer = dict(r[1]); del no_answer["answer"]
    no_context = dict(r[2]); no_context["context"] = 42
    f.write(json.dumps(no_answer) + "\n" + json.dumps(no_context) + "\n" + json.dumps(r[0]) + "\n")
PY
expect_exit 0 "records without an answer or context: exit status 0" "$RANPIPE_BIN" assess "$T/missing.jsonl"
ok_if "they are written back rejected with the reason, nothing dropped" "$PY" - "$OUT" <<'PY'
import json, sys
outs = [json.loads(l) for l in sys.argv[1].splitlines()]
assert [o["id"] for o in outs] == ["r2", "r3", "r1"], outs
assert "answer" not in outs[0] and outs[1]["context"] == 42
assert outs[0]["quality"]["verdict"] == "reject"
assert outs[0]["quality"]["reasons"] == ['malformed: the record has no string "answer"'], outs[0]
assert outs[1]["quality"]["reasons"] == ['malformed: the record has no string "context"'], outs[1]
assert outs[2]["quality"]["verdict"] == "accept", outs[2]
PY
ok_if "and warned about with FILE:LINE" grep -q "missing.jsonl:1: no string \"answer\"" <<<"$ERR"
ok_if "and counted in the summary" grep -q "^assess: 3 records: 1 accepted, 2 rejected" <<<"$ERR"

# --log-format json: the same warnings as JSON lines (ts, level, msg); with
# -q nothing else is on stderr, so every line must parse.
expect_exit 0 "--log-format json" "$RANPIPE_BIN" assess -q --log-format json "$T/missing.jsonl"
printf '%s\n' "$ERR" >"$T/json.err"
ok_if "the warnings are JSON lines" "$PY" - "$T/json.err" <<'PY'
import json, re, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
objs = [json.loads(l) for l in lines]
assert len(objs) == 2, lines
for o in objs:
    assert sorted(o) == ["level", "msg", "ts"], o
    assert o["level"] == "warning", o
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", o["ts"]), o
assert objs[0]["msg"].endswith('missing.jsonl:1: no string "answer"; the record is rejected'), objs[0]
assert objs[1]["msg"].endswith('missing.jsonl:2: no string "context"; the record is rejected'), objs[1]
PY
RANPIPE_LOG_FORMAT=json expect_exit 0 "\$RANPIPE_LOG_FORMAT=json" "$RANPIPE_BIN" assess -q "$T/missing.jsonl"
ok_if "gives JSON lines too" grep -q '^{"ts":"[^"]*","level":"warning","msg":".*missing.jsonl:1: no string' <<<"$ERR"
RANPIPE_LOG_FORMAT=json expect_exit 0 "--log-format text overrides it" "$RANPIPE_BIN" assess -q --log-format text "$T/missing.jsonl"
ok_if "text lines again" grep -q '^ranpipe: warning: .*missing.jsonl:1: no string' <<<"$ERR"

# Records without an "id" are named by their 0-based place among the
# records (assess --help), whatever came before them.
"$PY" - "$T/in.jsonl" "$T/noid.jsonl" <<'PY'
import json, sys
r = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
for x in r:
    x.pop("id")
with open(sys.argv[2], "w") as f:
    no_answer = dict(r[1]); del no_answer["answer"]
    for x in (no_answer, r[0], r[3]):
        f.write(json.dumps(x) + "\n")
PY
expect_exit 0 "records without ids" "$RANPIPE_BIN" assess "$T/noid.jsonl"
ok_if "a duplicate names the original as #N, its place among the records" "$PY" - "$OUT" <<'PY'
import json, sys
outs = [json.loads(l)["quality"] for l in sys.argv[1].splitlines()]
assert outs[1]["verdict"] == "accept", outs[1]
assert len(outs[2]["reasons"]) == 1 and "near duplicate of '#1'" in outs[2]["reasons"][0], outs[2]
PY

# ---- options ----------------------------------------------------------------
expect_exit 0 "-o writes the file" "$RANPIPE_BIN" assess -q -o "$T/o.jsonl" "$T/in.jsonl"
ok_if "nothing on stdout, no summary with -q" test -z "$OUT" -a -z "$ERR"
ok_if "the file has what stdout had" cmp -s "$T/o.jsonl" "$T/out.jsonl"
expect_exit 0 "--out=FILE" "$RANPIPE_BIN" assess --quiet --out="$T/o2.jsonl" "$T/in.jsonl"
ok_if "the same again" cmp -s "$T/o2.jsonl" "$T/out.jsonl"

verdicts() { "$PY" -c 'import json,sys; print(" ".join(json.loads(l)["quality"]["verdict"] for l in sys.stdin))'; }
expect_exit 0 "--no-dedup" "$RANPIPE_BIN" assess -q --no-dedup "$T/in.jsonl"
ok_if "keeps the near-duplicates" test "$(verdicts <<<"$OUT")" = "accept accept reject accept accept accept"
expect_exit 0 "--dedup-threshold 1 --dedup-pair-threshold 1" "$RANPIPE_BIN" assess -q \
  --dedup-threshold 1 --dedup-pair-threshold 1 "$T/in.jsonl"
ok_if "only exact copies are duplicates then" test "$(verdicts <<<"$OUT")" = "accept accept reject accept accept accept"

# The lowest score of an accepted record, from the output.
S2=$("$PY" -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1])]; print(min(x["quality"]["score"] for x in r if x["quality"]["verdict"]=="accept"))' "$T/out.jsonl")
ok_if "some accepted record scores below 1 ($S2)" "$PY" -c "import sys; sys.exit(not $S2 < 1)"
expect_exit 0 "--threshold 1" "$RANPIPE_BIN" assess -q --threshold 1 "$T/in.jsonl"
ok_if "rejects what scores below 1, saying so" "$PY" - "$OUT" <<'PY'
import json, sys
for o in map(json.loads, sys.argv[1].splitlines()):
    q = o["quality"]
    if q["score"] < 1:
        assert q["verdict"] == "reject", o
        assert q["reasons"], o
    if q["verdict"] == "reject" and not any("near duplicate" in r or "hallucinated" in r for r in q["reasons"]):
        assert any("below the threshold 1.00" in r for r in q["reasons"]), q
PY
expect_exit 0 "--threshold 0" "$RANPIPE_BIN" assess -q --threshold 0 "$T/in.jsonl"
ok_if "still rejects a hard defect" test "$(verdicts <<<"$OUT")" = "accept accept reject reject accept reject"

# Conflicts: two documents that disagree on qRxLevMin's default.
"$PY" - "$T/conf.jsonl" <<'PY'
import json, sys
A = ("EUtranCellFDD.qRxLevMin sets the minimum required RX level in the cell, with a range of "
     "-156..-44 dBm and a default of -140 dBm.")
B = ("EUtranCellFDD.qRxLevMin sets the minimum required RX level in the cell, with a range of "
     "-140..-44 dBm and a default of -130 dBm.")
recs = [
    {"id": "P1", "source": "docA.pdf", "context": A,
     "question": "What is the default value of EUtranCellFDD.qRxLevMin?",
     "answer": "The default value of EUtranCellFDD.qRxLevMin is -140 dBm."},
    {"id": "P2", "metadata": {"source": "docB.pdf"}, "context": B,
     "question": "What is qRxLevMin's default?", "answer": "qRxLevMin has a default of -130 dBm."},
]
open(sys.argv[1], "w").write("".join(json.dumps(r) + "\n" for r in recs))
PY
expect_exit 0 "--conflicts" "$RANPIPE_BIN" assess -q --conflicts "$T/conflicts.jsonl" "$T/conf.jsonl"
ok_if "both pairs are kept (a conflict is not a rejection)" test "$(verdicts <<<"$OUT")" = "accept accept"
ok_if "the conflicts file names the parameter, both values, ids and sources" "$PY" - "$T/conflicts.jsonl" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 1, lines
c = json.loads(lines[0])
assert c == {"identifier": "qRxLevMin", "attribute": "default",
             "values": [{"value": "-140", "id": "P1", "source": "docA.pdf"},
                        {"value": "-130", "id": "P2", "source": "docB.pdf"}]}, c
PY
expect_exit 0 "the summary counts the conflict" "$RANPIPE_BIN" assess --conflicts "$T/conflicts.jsonl" "$T/conf.jsonl"
ok_if "1 parameter conflicts" grep -q "; 1 parameter conflicts;" <<<"$ERR"
expect_exit 0 "--conflicts without conflicts" "$RANPIPE_BIN" assess -q --conflicts "$T/none.jsonl" "$T/in.jsonl"
ok_if "writes an empty file" test -f "$T/none.jsonl" -a ! -s "$T/none.jsonl"
expect_exit 1 "--conflicts into a missing directory" "$RANPIPE_BIN" assess -q --conflicts "$T/no/such/c.jsonl" "$T/in.jsonl"
ok_if "names the file" grep -q "no/such/c.jsonl" <<<"$ERR"

# --config: the quality section is applied; options given win.
printf 'quality:\n  threshold: 1.0\n' >"$T/strict.yaml"
expect_exit 0 "--config with threshold 1.0" "$RANPIPE_BIN" assess -q -c "$T/strict.yaml" "$T/in.jsonl"
ok_if "rejects every pair scoring below 1" "$PY" - "$OUT" <<'PY'
import json, sys
for o in map(json.loads, sys.argv[1].splitlines()):
    assert o["quality"]["score"] == 1.0 or o["quality"]["verdict"] == "reject", o
assert any(o["quality"]["score"] < 1 for o in map(json.loads, sys.argv[1].splitlines()))
PY
expect_exit 0 "--config then --threshold 0.5" "$RANPIPE_BIN" assess -q -c "$T/strict.yaml" --threshold 0.5 "$T/in.jsonl"
ok_if "the option wins" test "$(verdicts <<<"$OUT")" = "accept accept reject reject accept reject"
printf 'quality:\n  dedup: false\n' >"$T/nodedup.yaml"
expect_exit 0 "--config with dedup: false" "$RANPIPE_BIN" assess -q --config "$T/nodedup.yaml" "$T/in.jsonl"
ok_if "keeps the near-duplicates" test "$(verdicts <<<"$OUT")" = "accept accept reject accept accept accept"
printf 'quality:\n  weights:\n    grounding: 0\n    support: 0\n    answerable: 1\n  hard_factor: 0\n' >"$T/w.yaml"
expect_exit 0 "--config with weights and hard_factor" "$RANPIPE_BIN" assess -q -c "$T/w.yaml" "$T/in.jsonl"
ok_if "a hard defect scores 0" "$PY" - "$OUT" <<'PY'
import json, sys
o = [json.loads(l) for l in sys.argv[1].splitlines()]
assert o[2]["quality"]["score"] == 0.0, o[2]
PY
printf 'quality:\n  threshold: 2\n' >"$T/bad.yaml"
expect_exit 1 "a bad config" "$RANPIPE_BIN" assess -q -c "$T/bad.yaml" "$T/in.jsonl"
ok_if "is reported as FILE:LINE:COL with the key" grep -q "bad.yaml:2:3: quality.threshold: expected a number from 0 to 1, got '2'" <<<"$ERR"
ok_if "and nothing is written" test -z "$OUT"
expect_exit 0 "the example config" "$RANPIPE_BIN" assess -q -c "$SRC/examples/ranpipe.yaml" "$T/in.jsonl"
ok_if "gives the defaults' result" cmp -s <(printf '%s\n' "$OUT") "$T/out.jsonl"

# ---- usage ------------------------------------------------------------------
expect_exit 2 "an unknown option" "$RANPIPE_BIN" assess --frobnicate "$T/in.jsonl"
ok_if "names it" grep -q "unknown option '--frobnicate'" <<<"$ERR"
expect_exit 2 "an out-of-range threshold" "$RANPIPE_BIN" assess --threshold 1.5 "$T/in.jsonl"
ok_if "names the option" grep -q -- "--threshold" <<<"$ERR"
expect_exit 2 "a non-numeric threshold" "$RANPIPE_BIN" assess --threshold high "$T/in.jsonl"
expect_exit 2 "--dedup-threshold 0" "$RANPIPE_BIN" assess --dedup-threshold 0 "$T/in.jsonl"
expect_exit 2 "an option without its value" "$RANPIPE_BIN" assess "$T/in.jsonl" --conflicts
expect_exit 2 "no input file" "$RANPIPE_BIN" assess
ok_if "says so" grep -q "no input file given" <<<"$ERR"
expect_exit 2 "two input files" "$RANPIPE_BIN" assess "$T/in.jsonl" "$T/in.jsonl"
expect_exit 1 "a missing input file" "$RANPIPE_BIN" assess "$T/nope.jsonl"
ok_if "names it" grep -q "cannot open '$T/nope.jsonl'" <<<"$ERR"
ok_if "writes nothing" test -z "$OUT"
expect_exit 1 "an output file that cannot be created" "$RANPIPE_BIN" assess -o "$T/no/such/o.jsonl" "$T/in.jsonl"
ok_if "names it" grep -q "cannot create '$T/no/such/o.jsonl'" <<<"$ERR"
: >"$T/empty.jsonl"
expect_exit 0 "an empty file" "$RANPIPE_BIN" assess "$T/empty.jsonl"
ok_if "writes nothing" test -z "$OUT"
ok_if "counts nothing" grep -q "^assess: 0 records" <<<"$ERR"

expect_exit 0 "--help" "$RANPIPE_BIN" assess --help
HELP=$OUT
missing=""
for o in -o --out -c --config --threshold --no-dedup --dedup-threshold --dedup-pair-threshold \
  --embed-model --conflicts --log-level -q --quiet -h --help; do
  grep -q -- "$o\b" <<<"$HELP" || missing="$missing $o"
done
ok_if "--help mentions every option (missing:${missing:- none})" test -z "$missing"
# ... and every option the command accepts (its getopt table).
missing=""
for o in $(sed -n '/assess_options\[\] = {/,/^};/p' "$SRC/src/cli/cmd_assess.c" | grep -o '{"[a-z-]*"' | tr -d '{"'); do
  grep -q -- "--$o\b" <<<"$HELP" || missing="$missing --$o"
done
ok_if "--help mentions every option in the source's table (missing:${missing:- none})" test -z "$missing"
expect_exit 0 "-h" "$RANPIPE_BIN" assess -h
ok_if "is the same help" test "$OUT" = "$HELP"

# ---- the labeled set ---------------------------------------------------------
expect_exit 0 "assess the labeled set" "$RANPIPE_BIN" assess -q -o "$T/labeled.out.jsonl" "$LABELED"
ok_if "bad-pair precision >= 0.95 and recall >= 0.80" "$PY" - "$LABELED" "$T/labeled.out.jsonl" <<'PY'
import json, sys
lab = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
out = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
assert [o["id"] for o in out] == [r["id"] for r in lab], "records lost or reordered"
tp = fp = fn = tn = 0
for r, o in zip(lab, out):
    bad, rej = r["label"] == "bad", o["quality"]["verdict"] == "reject"
    tp += bad and rej; fp += rej and not bad; fn += bad and not rej; tn += not bad and not rej
p = tp / (tp + fp) if tp + fp else 0.0
rc = tp / (tp + fn) if tp + fn else 0.0
print("# labeled set: bad-pair precision %.3f recall %.3f (tp %d fp %d fn %d tn %d)" % (p, rc, tp, fp, fn, tn))
sys.exit(0 if p >= 0.95 and rc >= 0.80 else 1)
PY
cat "$T/ok.out" # the figures, as TAP diagnostics

done_testing
