#!/usr/bin/env bash
# The run's threads: the ingest thread parses and chunks files (some of them
# bad) while the generation stage decodes, and every file and chunk comes
# out once, in input order. Small on purpose: the tsan preset runs it.
. "$(dirname "$0")/tap.sh"
EX=$RANPIPE_SOURCE_DIR/examples/docs
PY=${PYTHON3:-python3}
TH=${RANPIPE_TEST_THREADS:-2}

mkdir -p "$T/in"
cp "$EX/procedures/lock-and-unlock-cell.txt" "$T/in/a-procedure.txt"
printf 'bad\xff\n' >"$T/in/b-bad.txt"
printf '\x89PNG\r\n\x1a\n' >"$T/in/c-unsupported.png"
cp "$EX/features/automatic-neighbour-relations.md" "$T/in/d-anr.md"
printf '# Empty\n' >"$T/in/e-heading-only.md"
printf 'Short note about pmRrcConnEstabSucc.\n' >"$T/in/f-note.txt"

expect_exit 0 "run with bad files among good ones" "$RANPIPE_BIN" run "$T/in" -o "$T/out" \
  --model "$RANPIPE_TINY_MODEL" -t "$TH" -p 4 --pairs 1 --chunk-tokens 96
ok_if "summary counts the files" grep -q "6 files: 4 read, 2 failed" <<<"$ERR"
ok_if "every file and chunk accounted for, in input order" "$PY" - "$T/out" <<'PY'
import json, sys, os
out = sys.argv[1]
rows = lambda n: [json.loads(l) for l in open(os.path.join(out, n), encoding="utf-8")]
data, rejects, chunks = rows("dataset.jsonl"), rows("rejects.jsonl"), rows("chunks.jsonl")
name = lambda r: os.path.basename(r["metadata"]["source"] if "metadata" in r else r["source"])
failed = sorted(name(r) for r in rejects if r["stage"] == "ingest")
assert failed == ["b-bad.txt", "c-unsupported.png"], failed
assert any("invalid UTF-8" in r["reason"] for r in rejects)
chunk_ids = [c["chunk_id"] for c in chunks]
assert len(set(chunk_ids)) == len(chunk_ids), "a chunk written twice"
seen = [r["metadata"]["chunk_id"] for r in data] + \
       [r["metadata"]["chunk_id"] for r in rejects if r["stage"] != "ingest"]
assert set(seen) == set(chunk_ids), (set(chunk_ids) - set(seen), set(seen) - set(chunk_ids))
order = [name(c) for c in chunks]
assert order == sorted(order), order   # files are read in sorted order
pos = {cid: i for i, cid in enumerate(chunk_ids)}
# Generated pairs: accepted ones in the dataset, the assessor's rejects
# (the fixture model writes noise) in rejects.jsonl; each file in input order.
for rs in (data, [r for r in rejects if r["stage"] == "assess"]):
    gen_order = [pos[r["metadata"]["chunk_id"]] for r in rs if r["metadata"]["tier"] != "extractive"]
    assert gen_order == sorted(gen_order), "pairs not written in input order"
assert {"a-procedure.txt", "d-anr.md", "f-note.txt"} <= set(order), set(order)
PY
done_testing
