#!/usr/bin/env bash
# `ranpipe assess --embed-model`: the semantic check with the tiny fixture
# embedding model (random weights: the figures mean nothing, their presence
# and range do), from the option and from the config's quality section.
. "$(dirname "$0")/tap.sh"
PY=${PYTHON3:-python3}
: "${RANPIPE_EMBED_MODEL:?RANPIPE_EMBED_MODEL must point at the fixture embedding model}"

"$PY" - "$T/in.jsonl" <<'PY'
import json, sys
C = ("The parameter qRxLevMin sets the minimum required RX level in the cell for cell "
     "reselection, with a default of -140 dBm. The timer t320 keeps the dedicated priorities "
     "for 30 minutes after the UE leaves the connected state.")
recs = [
    {"id": "e1", "context": C, "question": "What is the default value of qRxLevMin?",
     "answer": "The default value of qRxLevMin is -140 dBm."},
    {"id": "e2", "context": C, "question": "How long does the timer t320 keep the dedicated priorities?",
     "answer": "The timer t320 keeps the dedicated priorities for 30 minutes."},
    {"id": "e3", "context": C, "question": "What is the default value of qRxLevMin?", "answer": "N/A"},
]
open(sys.argv[1], "w").write("".join(json.dumps(r) + "\n" for r in recs))
PY

check_semantic() { # the output in $1
  "$PY" - "$1" <<'PY'
import json, sys
outs = [json.loads(l) for l in open(sys.argv[1])]
assert [o["id"] for o in outs] == ["e1", "e2", "e3"], outs
for o in outs:
    s = o["quality"]["checks"]["semantic"]
    assert isinstance(s, float) and 0 <= s <= 1, o["quality"]
    assert o["quality"]["checks"]["judge"] is None
assert outs[2]["quality"]["verdict"] == "reject"
PY
}

expect_exit 0 "--embed-model" "$RANPIPE_BIN" assess -q --embed-model "$RANPIPE_EMBED_MODEL" -o "$T/out.jsonl" "$T/in.jsonl"
ok_if "every record has a semantic score in [0,1]" check_semantic "$T/out.jsonl"
expect_exit 0 "without it" "$RANPIPE_BIN" assess -q -o "$T/plain.jsonl" "$T/in.jsonl"
ok_if "the semantic score changes the score" "$PY" - "$T/out.jsonl" "$T/plain.jsonl" <<'PY'
import json, sys
a = [json.loads(l)["quality"] for l in open(sys.argv[1])]
b = [json.loads(l)["quality"] for l in open(sys.argv[2])]
assert all(x["checks"]["semantic"] is None for x in b)
assert any(x["score"] != y["score"] for x, y in zip(a, b)), (a, b)
PY

printf 'quality:\n  embed_model: %s\n' "$RANPIPE_EMBED_MODEL" >"$T/c.yaml"
expect_exit 0 "embed_model from --config" "$RANPIPE_BIN" assess -q -c "$T/c.yaml" -o "$T/cfg.jsonl" "$T/in.jsonl"
ok_if "is used" check_semantic "$T/cfg.jsonl"
ok_if "the same figures as the option gives" cmp -s "$T/cfg.jsonl" "$T/out.jsonl"

expect_exit 1 "a missing model" "$RANPIPE_BIN" assess -q --embed-model "$T/nope.gguf" "$T/in.jsonl"
ok_if "names it" grep -q "nope.gguf" <<<"$ERR"
ok_if "writes nothing" test -z "$OUT"
done_testing
