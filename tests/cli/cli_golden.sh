#!/usr/bin/env bash
# Golden tests: `ranpipe inspect --json` of every document in tests/golden/
# must equal its expected JSON (the "path" field left out).
#
#   tests/golden/NAME.EXT        an input document (EXT: md, txt, html, csv, zip, ...)
#   tests/golden/NAME.docx.md    Markdown turned into NAME.docx by pandoc at test time
#   tests/golden/NAME.pdf.txt    markup turned into NAME.pdf by ranpipe-mkpdf at test time
#   tests/golden/NAME.EXT.json   the expected output, one JSON object per document
#
# UPDATE_GOLDEN=1 rewrites the expected files from the current output
# (review the diff before committing it).
. "$(dirname "$0")/tap.sh"
G=$RANPIPE_SOURCE_DIR/tests/golden
PY=${PYTHON3:-python3}

shopt -s nullglob
for src in "$G"/*; do
  case $src in *.json) continue ;; esac
  name=$(basename "$src")
  input=$src
  case $name in
    *.docx.md)
      input="$T/${name%.md}"
      if [ -z "${PANDOC:-}" ]; then tap_result 1 "$name: pandoc not found"; continue; fi
      "$PANDOC" -f markdown -t docx -o "$input" "$src" || { tap_result 1 "$name: pandoc failed"; continue; } ;;
    *.pdf.txt)
      input="$T/${name%.txt}"
      if [ -z "${RANPIPE_MKPDF:-}" ]; then tap_result 1 "$name: ranpipe-mkpdf not built"; continue; fi
      "$RANPIPE_MKPDF" "$src" "$input" || { tap_result 1 "$name: ranpipe-mkpdf failed"; continue; } ;;
  esac
  base=$(basename "$input")
  expected="$G/$base.json"
  "$RANPIPE_BIN" inspect --json "$input" >"$T/out.json" 2>"$T/err.txt" || true
  if [ "${UPDATE_GOLDEN:-0}" = 1 ]; then
    "$PY" - "$T/out.json" "$expected" <<'PY'
import json, sys
docs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
for d in docs:
    d.pop("path", None)
with open(sys.argv[2], "w", encoding="utf-8") as f:
    for d in docs:
        f.write(json.dumps(d, ensure_ascii=False, indent=1, sort_keys=True) + "\n")
PY
    tap_result 0 "$base: expected output rewritten"
    continue
  fi
  if [ ! -f "$expected" ]; then
    tap_result 1 "$base: no expected output $base.json (run with UPDATE_GOLDEN=1)"
    continue
  fi
  ok_if "$base matches $base.json" "$PY" - "$T/out.json" "$expected" "$T/err.txt" <<'PY'
import json, sys
got = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
for d in got:
    d.pop("path", None)
dec = json.JSONDecoder()
text = open(sys.argv[2], encoding="utf-8").read()
want, i = [], 0
while i < len(text):
    if text[i].isspace():
        i += 1
        continue
    obj, i = dec.raw_decode(text, i)
    want.append(obj)
if got != want:
    err = open(sys.argv[3]).read()
    print("stderr:", err)
    import difflib
    a = json.dumps(want, indent=1, sort_keys=True, ensure_ascii=False).splitlines()
    b = json.dumps(got, indent=1, sort_keys=True, ensure_ascii=False).splitlines()
    print("\n".join(list(difflib.unified_diff(a, b, "expected", "got", lineterm=""))[:80]))
    sys.exit(1)
PY
done
done_testing
