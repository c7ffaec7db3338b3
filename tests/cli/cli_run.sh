#!/usr/bin/env bash
# `ranpipe run` end to end on the bundled examples with the tiny fixture model.
. "$(dirname "$0")/tap.sh"
EX=$RANPIPE_SOURCE_DIR/examples/docs
PY=${PYTHON3:-python3}
M=$RANPIPE_TINY_MODEL
TH=${RANPIPE_TEST_THREADS:-2}

unset RANPIPE_MODEL
expect_exit 0 "no model: the extractive tier alone" "$RANPIPE_BIN" run "$EX" -o "$T/none"
ok_if "says how to provide a model" grep -q "wait for an LLM tier.*run again with" <<<"$(tr '\n' ' ' <<<"$ERR")"
ok_if "extractive pairs written, every chunk pending" "$PY" - "$T/none" <<'PY'
import json, sys, os
out = sys.argv[1]
rows = lambda n: [json.loads(l) for l in open(os.path.join(out, n), encoding="utf-8")]
data, chunks, pending = rows("dataset.jsonl"), rows("chunks.jsonl"), rows("pending.jsonl")
assert len(data) >= 20, len(data)
for r in data:
    md = r["metadata"]
    assert md["tier"] == "extractive" and md["rule"] and md["evidence"], md
    assert "model" not in md
assert [p["chunk_id"] for p in pending] == [c["chunk_id"] for c in chunks]
assert all(0 <= p["complexity"] <= 1 and p["reason"] for p in pending)
PY
expect_exit 1 "missing model file" "$RANPIPE_BIN" run "$EX" -o "$T/none" --model "$T/missing.gguf"
ok_if "names the model file" grep -q "missing.gguf" <<<"$ERR"
expect_exit 1 "missing input" "$RANPIPE_BIN" run "$T/no-such-dir" -o "$T/none" --model "$M"
ok_if "names the input" grep -q "no-such-dir" <<<"$ERR"

expect_exit 0 "run on the examples" "$RANPIPE_BIN" run "$EX" -o "$T/out" --model "$M" -t "$TH" -p 4
ok_if "summary on stderr" grep -q "pairs written" <<<"$ERR"
ok_if "dataset, rejects and chunks are valid" "$PY" - "$T/out" <<'PY'
import json, sys, os
out = sys.argv[1]
def load(name):
    with open(os.path.join(out, name), encoding="utf-8") as f:
        text = f.read()
    assert text == "" or text.endswith("\n"), name + " ends in a torn line"
    return [json.loads(l) for l in text.splitlines()]
data, rejects, chunks = load("dataset.jsonl"), load("rejects.jsonl"), load("chunks.jsonl")
assert data, "empty dataset"
ids = set()
for r in data:
    assert set(r) == {"id", "messages", "metadata"}, r.keys()
    assert r["id"] not in ids; ids.add(r["id"])
    roles = [m["role"] for m in r["messages"]]
    assert roles == ["user", "assistant"], roles
    assert all(isinstance(m["content"], str) and m["content"].strip() for m in r["messages"])
    md = r["metadata"]
    assert 0 <= md["quality"]["score"] <= 1 and md["quality"]["verdict"] == "accept", md
    assert md["quality"]["reasons"] == [], md
    if md["tier"] == "extractive":
        assert md["rule"] and md["evidence"] and md["type"] in ("parameter", "definition", "counter"), md
        continue
    for k in ("source", "section", "chunk", "chunk_id", "type", "model", "prompt", "seed", "tier", "complexity"):
        assert k in md, (k, md)
    assert md["tier"] == "small", md
    assert md["model"].startswith("ranpipe-fixture-qwen3-tiny")
    assert md["prompt"].startswith("qa-v2"), md
    assert md["type"] in ("factual", "conceptual", "procedural", "analytical", "comparative", "unspecified"), md
# The fixture model writes noise: its pairs are rejected by the assessor,
# each with its reasons and the full metadata, never dropped.
assessed = [r for r in rejects if r["stage"] == "assess"]
assert assessed, "no generated pair reached the assessor"
for r in assessed:
    q = r["quality"]
    assert q["verdict"] == "reject" and q["reasons"] and r["reason"], r
    assert set(q["checks"]) >= {"structure", "grounding", "support", "answerable"}, q
    assert r["metadata"]["tier"] == "small" and r["metadata"]["model"].startswith("ranpipe-fixture-qwen3-tiny"), r
    assert "question" in r and "answer" in r, r
sources = {c["source"] for c in chunks}
assert any(s.endswith("uplink-power-control.md") for s in sources)
assert any(s.endswith("lock-and-unlock-cell.txt") for s in sources)
# Nothing silently dropped: every chunk produced pairs or a reject.
seen = {r["metadata"]["chunk_id"] for r in data} | {r["metadata"]["chunk_id"] for r in rejects}
missing = [c["chunk_id"] for c in chunks if c["chunk_id"] not in seen]
assert not missing, missing
unsupported = [r for r in rejects if r["stage"] == "ingest"]
# Only formats this build has no parser for may be refused, each with its reason.
assert {os.path.basename(r["metadata"]["source"]) for r in unsupported} <= \
    {"carrier-aggregation.html", "nr-cell-parameters.csv"}, unsupported
assert all("cannot ingest" in r["reason"] and os.path.basename(r["metadata"]["source"]) in r["reason"]
           for r in unsupported)
assert not any(f.endswith(".partial") for f in os.listdir(out))
PY

# Sequences that share a batch may differ in the last bits of their logits
# with the batch's shape, which continuous batching makes timing-dependent;
# one sequence per worker reproduces exactly.
F=$EX/features/automatic-neighbour-relations.md
expect_exit 0 "one sequence at a time" "$RANPIPE_BIN" run "$F" -o "$T/p1" --model "$M" -t "$TH" -p 1 -q
expect_exit 0 "the same run again" "$RANPIPE_BIN" run "$F" -o "$T/again" --model "$M" -t "$TH" -p 1 -q
ok_if "same inputs, model and seed give the same dataset" cmp "$T/p1/dataset.jsonl" "$T/again/dataset.jsonl"
ok_if "and the same rejects" cmp "$T/p1/rejects.jsonl" "$T/again/rejects.jsonl"
expect_exit 0 "another seed" "$RANPIPE_BIN" run "$F" -o "$T/seed2" --model "$M" -t "$TH" -p 1 -q --seed 2
# The noise model's pairs are rejected: compare what was generated (dataset and rejects).
ok_if "another seed gives other pairs" bash -c "! cmp -s <(cat '$T/p1/dataset.jsonl' '$T/p1/rejects.jsonl') <(cat '$T/seed2/dataset.jsonl' '$T/seed2/rejects.jsonl')"

# The judge: a tier of the config rates the pairs the other checks accept.
cat >"$T/judge.yaml" <<YAML
quality:
  judge: small
tiers:
  - name: extractive
    backend: extractive
  - name: small
    backend: llama
    model: $M
    threads: 1
    parallel: 1
YAML
# threads: 1 - the judge's worker and the generating worker share the cores.
expect_exit 0 "run with an LLM judge" "$RANPIPE_BIN" run "$EX/features/automatic-neighbour-relations.md" \
  -o "$T/judged" --config "$T/judge.yaml"
ok_if "the summary names the judge" grep -q "judge: tier 'small'" <<<"$ERR"
ok_if "accepted pairs carry the judge's score; its rejects say why" "$PY" - "$T/judged" <<'PY'
import json, sys
out = sys.argv[1]
data = [json.loads(l) for l in open(out + "/dataset.jsonl")]
rejects = [json.loads(l) for l in open(out + "/rejects.jsonl")]
for r in data:
    j = r["metadata"]["quality"]["checks"]["judge"]
    assert j is not None and 0.5 <= j <= 1, r   # accepted: rated, and not below 0.5
judged_out = [r for r in rejects if r["stage"] == "assess" and any(x.startswith("judge:") for x in r["quality"]["reasons"])]
for r in judged_out:
    assert 0 <= r["quality"]["checks"]["judge"] < 0.5, r
    assert "accuracy" in r["reason"], r   # the judge's line: "accuracy a/5, relevance ..."
assert data or judged_out, "the judge rated nothing"
PY

# The semantic check: an embedding model scores every pair's similarity to
# its context (the fixture's random weights make the value noise, but the
# path is the real one).
cat >"$T/embed.yaml" <<YAML
quality:
  embed_model: $RANPIPE_EMBED_MODEL
YAML
expect_exit 0 "run with an embedding model" "$RANPIPE_BIN" run "$EX/features/automatic-neighbour-relations.md" \
  -o "$T/embedded" --config "$T/embed.yaml"
ok_if "every written pair has a semantic score" "$PY" - "$T/embedded" <<'PY'
import json, sys
data = [json.loads(l) for l in open(sys.argv[1] + "/dataset.jsonl")]
assert data
for r in data:
    s = r["metadata"]["quality"]["checks"]["semantic"]
    assert s is not None and 0 <= s <= 1, r
PY
expect_exit 1 "a missing embedding model is an error naming it" "$RANPIPE_BIN" run "$EX/features/automatic-neighbour-relations.md" \
  -o "$T/noembed" --config <(printf 'quality:\n  embed_model: %s\n' "$T/missing-embed.gguf")
ok_if "names the embedding model" grep -q "missing-embed.gguf" <<<"$ERR"

export RANPIPE_MODEL=$M
expect_exit 0 "model from RANPIPE_MODEL, one file, one sequence" \
  "$RANPIPE_BIN" run "$EX/procedures/lock-and-unlock-cell.txt" -o "$T/env" -t "$TH" -p 1 --pairs 1
ok_if "one pair per chunk at most" "$PY" - "$T/env" <<'PY'
import json, sys, collections
rows = [json.loads(l) for l in open(sys.argv[1] + "/dataset.jsonl")] + \
       [r for r in map(json.loads, open(sys.argv[1] + "/rejects.jsonl")) if r["stage"] == "assess"]
rows = [r for r in rows if r["metadata"]["tier"] != "extractive"]
per = collections.Counter(r["metadata"]["chunk_id"] for r in rows)
assert rows and max(per.values()) == 1, per
PY

done_testing
