#!/usr/bin/env bash
# `ranpipe inspect`: the document model and chunks of the bundled examples.
. "$(dirname "$0")/tap.sh"
EX=$RANPIPE_SOURCE_DIR/examples/docs
PY=${PYTHON3:-python3}

expect_exit 0 "inspect the Markdown example" "$RANPIPE_BIN" inspect --json "$EX/features/uplink-power-control.md"
printf '%s\n' "$OUT" >"$T/md.json"
ok_if "Markdown document model" "$PY" - "$T/md.json" <<'PY'
import json, sys
d = json.loads(open(sys.argv[1]).read())
assert d["format"] == "markdown", d["format"]
assert d["title"] == "Uplink Power Control for LTE", d["title"]
m = d["metadata"]
assert m["feature_id"] == "FAJ 121 0814" and m["mo_classes"] == "EUtranCellFDD, EUtranCellTDD", m
titles = [s["title"] for s in d["sections"]]
for t in ["Parameters", "Counters", "Open-Loop Power Control", "Engineering Guidelines"]:
    assert t in titles, (t, titles)
params = [s for s in d["sections"] if s["title"] == "Parameters"][0]
assert d["sections"][params["parent"]]["title"] == "Uplink Power Control for LTE"
tables = [b for b in d["blocks"] if b["type"] == "table"]
assert len(tables) == 1
t = tables[0]["table"]
assert t["header"][0][:3] == ["MO Class", "Attribute", "Type"], t["header"]
assert len(t["rows"]) == 5 and t["rows"][0][1] == "pZeroNominalPusch" and t["rows"][0][4] == "-103"
assert any(b["type"] == "code" and "cmedit get" in b["text"] for b in d["blocks"])
assert any(b["type"] == "list" and "pmUlPowerLimitedUe" in b["text"] for b in d["blocks"])
assert d["chunks"], "no chunks"
for c in d["chunks"]:
    assert 0 < c["tokens"] <= 384, c["tokens"]
    assert c["text"].strip()
assert any("pZeroNominalPusch | Int32" in c["text"] for c in d["chunks"]), "table rows lost"
assert any(c["section"].endswith("Parameters") for c in d["chunks"])
PY

expect_exit 0 "inspect the text example" "$RANPIPE_BIN" inspect --json "$EX/procedures/lock-and-unlock-cell.txt"
printf '%s\n' "$OUT" >"$T/txt.json"
ok_if "text document model" "$PY" - "$T/txt.json" <<'PY'
import json, sys
d = json.loads(open(sys.argv[1]).read())
assert d["format"] == "text"
assert d["title"] == "Locking and Unlocking an NR Cell", d["title"]
secs = {s["title"]: s for s in d["sections"]}
assert "2.1 Lock the Cell" in secs and "2 Procedure" in secs, list(secs)
assert d["sections"][secs["2.1 Lock the Cell"]["parent"]]["title"] == "2 Procedure"
lists = [b for b in d["blocks"] if b["type"] == "list"]
assert any("administrativeState=LOCKED" in b["text"] for b in lists), lists
PY

printf '\x89PNG\r\n\x1a\n' >"$T/diagram.png"
expect_exit 1 "an unsupported file fails, the others are shown" \
  "$RANPIPE_BIN" inspect --json "$T/diagram.png" "$EX/features/automatic-neighbour-relations.md"
ok_if "the failure names the file" grep -q "diagram.png.*unsupported file type" <<<"$ERR"
ok_if "the other file is still shown" grep -q '"title":"Automatic Neighbour Relations (ANR)"' <<<"$OUT"

printf 'abc\0def' >"$T/binary.txt"
expect_exit 1 "binary content in a .txt file" "$RANPIPE_BIN" inspect --json "$T/binary.txt"
ok_if "says binary and names the file" grep -q "binary.txt.*binary" <<<"$ERR"
printf 'caf\xe9\n' >"$T/latin1.md"
expect_exit 1 "invalid UTF-8" "$RANPIPE_BIN" inspect --json "$T/latin1.md"
ok_if "says invalid UTF-8" grep -q "invalid UTF-8 at byte 3" <<<"$ERR"
truncate -s 1G "$T/huge.txt"   # sparse: costs no disk
expect_exit 1 "a 1 GB file is refused before it is read" "$RANPIPE_BIN" inspect --json "$T/huge.txt"
ok_if "says the size and the limit" grep -q "huge.txt': 1073741824 bytes is over the 67108864 byte limit" <<<"$ERR"
printf 'PK\003\004 truncated' >"$T/cut.zip"
expect_exit 1 "a truncated archive" "$RANPIPE_BIN" inspect --json "$T/cut.zip" "$EX/procedures/lock-and-unlock-cell.txt"
ok_if "names the archive" grep -q "cut.zip" <<<"$ERR"
ok_if "the other file is still shown" grep -q '"format":"text"' <<<"$OUT"
expect_exit 1 "missing file" "$RANPIPE_BIN" inspect --json "$T/nope.md"
ok_if "names the missing file" grep -q "nope.md" <<<"$ERR"

expect_exit 0 "smaller chunks" "$RANPIPE_BIN" inspect --json --chunk-tokens 64 "$EX/features/uplink-power-control.md"
printf '%s\n' "$OUT" >"$T/small.json"
ok_if "chunks respect --chunk-tokens" "$PY" - "$T/small.json" "$T/md.json" <<'PY'
import json, sys
small = json.loads(open(sys.argv[1]).read())["chunks"]
big = json.loads(open(sys.argv[2]).read())["chunks"]
assert len(small) > len(big)
assert all(c["tokens"] <= 64 for c in small), [c["tokens"] for c in small]
PY

expect_exit 0 "token counts from the model's tokenizer" \
  "$RANPIPE_BIN" inspect --json --model "$RANPIPE_TINY_MODEL" "$EX/features/uplink-power-control.md"
done_testing
