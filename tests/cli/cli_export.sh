#!/usr/bin/env bash
# `ranpipe export` and `ranpipe run --format` on the extractive pairs of a
# no-model run on the bundled examples: every format, with and without a
# system prompt and metadata, checked line by line against
# docs/schemas/<format>.schema.json; splits by document; determinism;
# bad dataset lines.
. "$(dirname "$0")/tap.sh"
SCHEMAS=$RANPIPE_SOURCE_DIR/docs/schemas
PY=${PYTHON3:-python3}
FORMATS="messages sharegpt alpaca completions text"
unset RANPIPE_MODEL

if ! "$PY" -c 'import jsonschema' 2>/dev/null; then
  echo "Bail out! the Python module jsonschema is missing for '$PY' (Debian: apt-get install python3-jsonschema; scripts/install-deps.sh installs it)"
  exit 1
fi

# Splits follow metadata.source as the run wrote it: run from the source
# tree with a relative path, as a user would.
cd "$RANPIPE_SOURCE_DIR" || exit 1
EX=examples/docs
expect_exit 0 "a run without a model (extractive pairs)" "$RANPIPE_BIN" run "$EX" -o "$T/run" -q
N=$(wc -l <"$T/run/dataset.jsonl")
D=$("$PY" -c 'import json,sys; print(len({json.loads(l)["metadata"]["source"] for l in open(sys.argv[1])}))' "$T/run/dataset.jsonl")
ok_if "the run made pairs to export ($N from $D documents)" test "$N" -ge 20 -a "$D" -ge 3

# Each variant: FORMAT DIR SYSTEM(0/1) METADATA(keep/strip) SPLIT(0/1)
: >"$T/variants"
SP="You are an expert in LTE and NR radio access networks."
printf '%s\n\n' "$SP" >"$T/prompt.txt"
for f in $FORMATS; do
  expect_exit 0 "$f: defaults" "$RANPIPE_BIN" export "$T/run" --format "$f"
  ok_if "$f: one-line summary with pairs and documents per split" \
    grep -qxF "ranpipe export: $N pairs from $D documents as $f in $T/run/export-$f (read from $T/run/ranpipe.db (run 1)): train.jsonl $N pairs from $D documents" <<<"$ERR"
  echo "$f $T/run/export-$f 0 keep 0" >>"$T/variants"

  expect_exit 0 "$f: system prompt, metadata stripped, split" "$RANPIPE_BIN" export "$T/run" \
    --format "$f" -o "$T/strip-$f" --system-prompt "$SP" --metadata strip --split 50/25/25
  echo "$f $T/strip-$f 1 strip 1" >>"$T/variants"

  expect_exit 0 "$f: system prompt from a file, split" "$RANPIPE_BIN" export "$T/run" \
    --format "$f" -o "$T/file-$f" --system-prompt-file "$T/prompt.txt" --split 50/25/25 --metadata keep
  echo "$f $T/file-$f 1 keep 1" >>"$T/variants"
done

ok_if "every line of every file matches its format's schema, nothing lost or doubled" \
  "$PY" - "$T/run/dataset.jsonl" "$SCHEMAS" "$SP" "$T/variants" <<'PY'
import json, os, sys
from jsonschema import Draft202012Validator
dataset_path, schemas, sp, variants = sys.argv[1:]
dataset = [json.loads(l) for l in open(dataset_path, encoding="utf-8")]
by_id = {r["id"]: r for r in dataset}
own = {"messages": {"messages"}, "sharegpt": {"conversations"},
       "alpaca": {"instruction", "input", "output"}, "completions": {"prompt", "completion"},
       "text": {"text"}}
for v in open(variants):
    fmt, d, sys_given, meta, split = v.split()
    schema = json.load(open(os.path.join(schemas, fmt + ".schema.json")))
    Draft202012Validator.check_schema(schema)
    val = Draft202012Validator(schema)
    names = ["train.jsonl", "valid.jsonl", "test.jsonl"] if split == "1" else ["train.jsonl"]
    assert sorted(f for f in os.listdir(d)) == sorted(names), (d, os.listdir(d))
    rows, where = [], {}
    for name in names:
        text = open(os.path.join(d, name), encoding="utf-8").read()
        assert text == "" or text.endswith("\n"), (d, name, "torn last line")
        for i, line in enumerate(text.splitlines(), 1):
            r = json.loads(line)
            errors = sorted(val.iter_errors(r), key=str)
            assert not errors, f"{d}/{name}:{i}: {errors[0].message}"
            keys = set(r) - {"id", "metadata"}
            want = own[fmt] | ({"system"} if fmt == "alpaca" and sys_given == "1" else set())
            assert keys == want, (d, name, i, keys)
            assert (("id" in r) and ("metadata" in r)) == (meta == "keep"), (d, name, i, r.keys())
            rows.append(r)
            if meta == "keep":
                src = by_id[r["id"]]
                assert r["metadata"] == src["metadata"], "metadata not copied as is"
                where.setdefault(r["metadata"]["source"], set()).add(name)
                q, a = src["messages"][0]["content"], src["messages"][1]["content"]
                s = sp if sys_given == "1" else None
                got = {"messages": lambda: r["messages"][-2:] == src["messages"] and
                                           ((r["messages"][0] == {"role": "system", "content": s}) if s
                                            else len(r["messages"]) == 2),
                       "sharegpt": lambda: [m["value"] for m in r["conversations"]] == ([s] if s else []) + [q, a],
                       "alpaca": lambda: (r["instruction"], r["input"], r["output"], r.get("system")) == (q, "", a, s),
                       "completions": lambda: (r["prompt"], r["completion"]) == ((s + "\n\n" if s else "") + q, a),
                       "text": lambda: r["text"] == (s + "\n\n" if s else "") + "Question: " + q + "\nAnswer: " + a}[fmt]()
                assert got, (d, name, i, r)
    assert len(rows) == len(dataset), (d, len(rows), len(dataset))
    if meta == "keep":
        assert sorted(r["id"] for r in rows) == sorted(by_id), (d, "pairs lost or doubled")
        doubled = {s: n for s, n in where.items() if len(n) > 1}
        assert not doubled, (d, "documents in two splits", doubled)
PY

# Splits: documents stay whole, counts add up, the seed moves them, reruns are identical.
expect_exit 0 "split 50/25/25" "$RANPIPE_BIN" export "$T/run" --format messages -o "$T/s0" --split 50/25/25
S0_ERR=$ERR
expect_exit 0 "the same export again" "$RANPIPE_BIN" export "$T/run" --format messages -o "$T/s0-again" --split 50/25/25 --seed 0
ok_if "the same dataset, split and seed give byte-identical files" diff -r "$T/s0" "$T/s0-again"
for f in $FORMATS; do
  expect_exit 0 "$f again" "$RANPIPE_BIN" export "$T/run" --format "$f" -o "$T/again-$f" \
    --system-prompt "$SP" --metadata strip --split 50/25/25
  ok_if "$f: byte-identical on a rerun" diff -r "$T/strip-$f" "$T/again-$f"
done
for seed in 1 2 3; do
  expect_exit 0 "seed $seed" "$RANPIPE_BIN" export "$T/run" --format messages -o "$T/s$seed" --split 50/25/25 --seed "$seed"
done
ok_if "split counts add up to the dataset, no document in two splits, another seed moves documents" \
  "$PY" - "$N" "$S0_ERR" "$T/s0" "$T/s1" "$T/s2" "$T/s3" <<'PY'
import json, os, re, sys
n, summary, d0, others = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
def assignment(d):
    where, counts = {}, {}
    for name in ("train", "valid", "test"):
        rows = [json.loads(l) for l in open(os.path.join(d, name + ".jsonl"), encoding="utf-8")]
        counts[name] = (len(rows), len({r["metadata"]["source"] for r in rows}))
        for r in rows:
            where.setdefault(r["metadata"]["source"], set()).add(name)
    assert all(len(s) == 1 for s in where.values()), ("a document in two splits", where)
    assert sum(c[0] for c in counts.values()) == n, (counts, n)
    return {s: next(iter(v)) for s, v in where.items()}, counts
a0, c0 = assignment(d0)
moved = [d for d in others if assignment(d)[0] != a0]
assert moved, "seeds 1, 2 and 3 all placed every document where seed 0 did"
# The summary line says the same counts.
m = re.search(r"train\.jsonl (\d+) pairs? from (\d+) documents?, valid\.jsonl (\d+) pairs? from (\d+) "
              r"documents?, test\.jsonl (\d+) pairs? from (\d+) documents?", summary)
assert m, summary
got = [int(x) for x in m.groups()]
assert got == [c0["train"][0], c0["train"][1], c0["valid"][0], c0["valid"][1],
               c0["test"][0], c0["test"][1]], (got, c0)
PY

# One document: two of the three splits must come out empty, and are warned about.
mkdir -p "$T/one"
head -n 1 "$T/run/dataset.jsonl" >"$T/one/dataset.jsonl"
expect_exit 0 "one document split three ways" "$RANPIPE_BIN" export "$T/one" --format messages --split 34/33/33
ok_if "warns about both empty splits" test "$(grep -c "warning: .*\.jsonl is empty: none of the 1 document fell in its 3[34]%" <<<"$ERR")" -eq 2
if [ -s "$T/one/export-messages/valid.jsonl" ]; then
  ok_if "no MLX-LM remark when valid.jsonl has the document" bash -c '! grep -q MLX-LM <<<"$1"' _ "$ERR"
else
  ok_if "an empty valid.jsonl is flagged for MLX-LM" grep -q "valid.jsonl is empty.*MLX-LM needs a non-empty valid.jsonl" <<<"$ERR"
fi
ok_if "the empty files are still written" test -f "$T/one/export-messages/test.jsonl" -a -f "$T/one/export-messages/valid.jsonl"
expect_exit 0 "export again without a split into the same directory" "$RANPIPE_BIN" export "$T/one" --format messages
ok_if "stale valid.jsonl and test.jsonl are removed" test -s "$T/one/export-messages/train.jsonl" -a ! -e "$T/one/export-messages/valid.jsonl" -a ! -e "$T/one/export-messages/test.jsonl"

# Bad lines: reported as FILE:LINE with the reason, the rest exported, exit 1.
mkdir -p "$T/bad"
"$PY" - "$T/run/dataset.jsonl" "$T/bad/dataset.jsonl" <<'PY'
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
lines[2] = lines[2][: len(lines[2]) // 2]           # line 3: torn in the middle
r = json.loads(lines[6]); del r["metadata"]["source"]
lines[6] = json.dumps(r)                            # line 7: no source
open(sys.argv[2], "w", encoding="utf-8").write("\n".join(lines) + "\n")
PY
expect_exit 1 "a dataset with two bad lines" "$RANPIPE_BIN" export "$T/bad" --format alpaca --split 50/25/25
ok_if "the torn line is named with file:line and the reason" grep -q "^ranpipe export: $T/bad/dataset.jsonl:3: not valid JSON" <<<"$ERR"
ok_if "the line without a source is named" grep -q "^ranpipe export: $T/bad/dataset.jsonl:7: no \"metadata.source\"" <<<"$ERR"
ok_if "the summary counts them" grep -q "^ranpipe export: $((N - 2)) pairs .*; 2 bad lines skipped$" <<<"$ERR"
ok_if "the other pairs are exported" test "$(cat "$T/bad/export-alpaca/"*.jsonl | wc -l)" -eq "$((N - 2))"

# Missing dataset and usage errors.
mkdir -p "$T/empty"
expect_exit 1 "a directory without dataset.jsonl" "$RANPIPE_BIN" export "$T/empty" --format messages
ok_if "says which file is missing and how to make one" \
  grep -q "cannot open '$T/empty/dataset.jsonl'.*" <<<"$ERR"
ok_if "points at ranpipe run" grep -q "ranpipe run INPUT -o OUT" <<<"$ERR"
ok_if "nothing was created" test ! -e "$T/empty/export-messages"
expect_exit 2 "no --format" "$RANPIPE_BIN" export "$T/run"
ok_if "lists the formats" grep -q "messages, sharegpt, alpaca, completions or text" <<<"$ERR"
expect_exit 2 "unknown format" "$RANPIPE_BIN" export "$T/run" --format chatml
expect_exit 2 "a split that does not add up" "$RANPIPE_BIN" export "$T/run" --format text --split 80/10/5
ok_if "says what a split looks like" grep -q "80/10/10" <<<"$ERR"
expect_exit 2 "two system prompts" "$RANPIPE_BIN" export "$T/run" --format text --system-prompt a --system-prompt-file "$T/prompt.txt"
expect_exit 2 "bad --metadata" "$RANPIPE_BIN" export "$T/run" --format text --metadata drop
expect_exit 2 "no dataset named" "$RANPIPE_BIN" export --format text
printf '\n \n' >"$T/blank.txt"
expect_exit 1 "a blank system prompt file" "$RANPIPE_BIN" export "$T/run" --format text --system-prompt-file "$T/blank.txt"
expect_exit 2 "run: --split without --format" "$RANPIPE_BIN" run "$EX" -o "$T/nofmt" --split 80/10/10
ok_if "run: says --format is needed" grep -q -- "--split belongs to an export: give --format too" <<<"$ERR"

# ranpipe run --format: the same export, in the same step.
expect_exit 0 "run with --format" "$RANPIPE_BIN" run "$EX" -o "$T/run2" --format sharegpt --split 50/25/25 \
  --system-prompt "$SP" --metadata strip
ok_if "run: the export's summary" grep -qF "ranpipe run: $N pairs from $D documents as sharegpt in $T/run2/export-sharegpt (read from $T/run2/ranpipe.db (run 1)): " <<<"$ERR"
ok_if "run: the same files as ranpipe export" diff -r "$T/run2/export-sharegpt" "$T/strip-sharegpt"
ok_if "no .partial file is left anywhere" test -z "$(find "$T" -name '*.partial')"

# The store is the source of truth: the same export from dataset.jsonl, and
# every output file rebuilt from OUT/ranpipe.db line for line.
expect_exit 0 "export --from file" "$RANPIPE_BIN" export "$T/run" --format messages --from file -o "$T/fromfile"
ok_if "says it read the file" grep -qF "(read from $T/run/dataset.jsonl)" <<<"$ERR"
ok_if "--from file gives the files the store gives" diff -r "$T/fromfile" "$T/run/export-messages"
mkdir -p "$T/orig"
cp "$T/run"/*.jsonl "$T/orig/"
rm -f "$T/run"/*.jsonl
expect_exit 0 "export --rebuild with the output files deleted" "$RANPIPE_BIN" export --rebuild "$T/run"
ok_if "names the run and counts the lines" grep -qF "rebuilt $T/run from run 1 of $T/run/ranpipe.db: dataset.jsonl $N lines" <<<"$ERR"
for f in dataset rejects chunks pending conflicts; do
  ok_if "rebuilt $f.jsonl is byte for byte the run's" cmp "$T/orig/$f.jsonl" "$T/run/$f.jsonl"
done
expect_exit 0 "export from the store with dataset.jsonl gone" bash -c 'rm "$1/dataset.jsonl" && "$2" export "$1" --format messages -o "$3"' _ "$T/run" "$RANPIPE_BIN" "$T/nofile"
ok_if "the same export without the file" diff -r "$T/nofile" "$T/run/export-messages"
cp "$T/orig/dataset.jsonl" "$T/run/"
expect_exit 1 "--from store on a dataset file" "$RANPIPE_BIN" export "$T/run/dataset.jsonl" --format text --from store
ok_if "says the store needs the directory" grep -q "needs the run's output directory" <<<"$ERR"
mkdir -p "$T/nodb" && cp "$T/orig/dataset.jsonl" "$T/nodb/"
expect_exit 0 "no store: the dataset file is read" "$RANPIPE_BIN" export "$T/nodb" --format text
ok_if "says it read the file" grep -qF "(read from $T/nodb/dataset.jsonl)" <<<"$ERR"
expect_exit 1 "--rebuild without a store" "$RANPIPE_BIN" export --rebuild "$T/nodb"
ok_if "names the missing store" grep -qF "$T/nodb/ranpipe.db" <<<"$ERR"
expect_exit 1 "--from store without a store" "$RANPIPE_BIN" export "$T/nodb" --format text --from store
expect_exit 2 "--unfinished without --rebuild" "$RANPIPE_BIN" export "$T/run" --format text --unfinished
expect_exit 2 "--rebuild with --format" "$RANPIPE_BIN" export "$T/run" --rebuild --format text
expect_exit 2 "bad --from" "$RANPIPE_BIN" export "$T/run" --format text --from db

# Help tells about the command.
expect_exit 0 "export --help" "$RANPIPE_BIN" export --help
ok_if "export --help names every format and option" bash -c '
  for w in messages sharegpt alpaca completions text --split --system-prompt-file --metadata --seed -o --from --rebuild --unfinished; do
    grep -q -- "$w" <<<"$1" || { echo "missing $w"; exit 1; }; done' _ "$OUT"
expect_exit 0 "ranpipe --help" "$RANPIPE_BIN" --help
ok_if "lists export" grep -q "^  export " <<<"$OUT"
expect_exit 0 "run --help" "$RANPIPE_BIN" run --help
ok_if "run --help has the export options" grep -q -- "--format F" <<<"$OUT"

done_testing
