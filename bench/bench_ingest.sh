#!/usr/bin/env bash
# Ingest + chunk + entity throughput per format (MB/s), one thread and all
# cores, against pandoc (Markdown, HTML, DOCX -> plain text) and pdftotext
# (PDF) on the same files in the same run, and peak memory per file.
#
# usage: bench/bench_ingest.sh [BUILD_DIR]      (default: build/release)
# env:   SECONDS_PER (3): seconds each ranpipe measurement runs
#        SCALE (160): how many times the example text is repeated per file
#        (the memory figures also use a quarter-size corpus)
#
# The corpus is generated from examples/ and tests/golden/: one large file
# per format (DOCX by pandoc, PDF by ranpipe-mkpdf), so per-file overheads
# (process start for the peers) weigh little.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
per=${SECONDS_PER:-3}
scale=${SCALE:-160}
cores=$(nproc)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bench="$build/bin/ranpipe-bench-ingest"
for tool in pandoc pdftotext; do
  command -v $tool >/dev/null || { echo "bench_ingest: $tool is needed (make deps)"; exit 1; }
done

# ---- corpus ----
# make_corpus DIR SCALE: one file per format, the example text repeated SCALE times.
make_corpus() {
  local dir=$1 n=$2
  mkdir -p "$dir"
  for i in $(seq "$n"); do
    for f in examples/docs/features/*.md tests/golden/*.md tests/golden/*.docx.md; do
      [ -f "$f" ] || continue
      # drop front-matter blocks: they may only open a document
      awk 'NR==1 && $0=="---" {skip=1; next} skip && ($0=="---") {skip=0; next} !skip' "$f"
      echo
    done
  done >"$dir/corpus.md"
  for i in $(seq "$n"); do cat examples/docs/procedures/*.txt; echo; done >"$dir/corpus.txt"
  {
    echo '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Corpus</title></head><body>'
    for i in $(seq "$n"); do
      for f in examples/docs/features/*.html tests/golden/*.html; do
        [ -f "$f" ] || continue
        sed -n '/<body/,/<\/body>/p' "$f" | sed '1d;$d'
      done
    done
    echo '</body></html>'
  } >"$dir/corpus.html"
  {
    echo "MO Class,Parameter,Type,Range,Default,Unit,Description"
    for i in $(seq $((n * 250))); do
      echo "NRCellDU,param$i,Int32,-140..-44,-$((i % 97 + 44)),dBm,\"Setting number $i of the cell, broadcast in SIB1.\""
    done
  } >"$dir/corpus.csv"
  pandoc -f markdown -t docx -o "$dir/corpus.docx" "$dir/corpus.md"
  "$build/bin/ranpipe-mkpdf" "$dir/corpus.md" "$dir/corpus.pdf" >/dev/null
}
make_corpus "$work/big" "$scale"
make_corpus "$work/small" $((scale / 4))
md=$work/big/corpus.md txt=$work/big/corpus.txt html=$work/big/corpus.html
csv=$work/big/corpus.csv docx=$work/big/corpus.docx pdf=$work/big/corpus.pdf

# ---- measurements ----
mbs() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.1f", b / 1e6 / s }'; }
size() { stat -c %s "$1"; }

# Seconds a command takes, best of 3.
best_of_3() {
  local best=""
  for _ in 1 2 3; do
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>&1
    t1=$(date +%s.%N)
    best=$(awk -v a="$best" -v t="$(awk -v x="$t0" -v y="$t1" 'BEGIN{print y-x}')" 'BEGIN { print (a == "" || t < a) ? t : a }')
  done
  echo "$best"
}

# Seconds for $cores copies of a command running at once.
parallel_time() {
  local t0 t1
  t0=$(date +%s.%N)
  for _ in $(seq "$cores"); do "$@" >/dev/null 2>&1 & done
  wait
  t1=$(date +%s.%N)
  awk -v x="$t0" -v y="$t1" 'BEGIN { print y - x }'
}

ranpipe_mbs() { # threads file
  "$bench" --threads "$1" --seconds "$per" "$2" | awk '{ for (i = 1; i <= NF; i++) if ($i == "MB/s") print $(i - 1) }'
}

echo "machine: $cores cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(date -u +%F)"
printf '%-9s %8s | %10s %10s | %-10s %10s %10s | %7s %7s\n' format size "ranpipe 1" "ranpipe $cores" peer "peer 1" "peer $cores" "ratio 1" "ratio $cores"
for spec in "markdown:$md:pandoc -f markdown -t plain" "html:$html:pandoc -f html -t plain" \
            "docx:$docx:pandoc -f docx -t plain" "pdf:$pdf:pdftotext" "text:$txt:" "csv:$csv:"; do
  IFS=: read -r fmt file peer <<<"$spec"
  bytes=$(size "$file")
  r1=$(ranpipe_mbs 1 "$file")
  rn=$(ranpipe_mbs "$cores" "$file")
  if [ -n "$peer" ]; then
    if [ "$peer" = pdftotext ]; then cmd=(pdftotext "$file" -); else read -ra cmd <<<"$peer"; cmd+=("$file"); fi
    p1=$(mbs "$bytes" "$(best_of_3 "${cmd[@]}")")
    pn=$(mbs "$((bytes * cores))" "$(parallel_time "${cmd[@]}")")
    ratio1=$(awk -v a="$r1" -v b="$p1" 'BEGIN { printf "%.1fx", a / b }')
    ration=$(awk -v a="$rn" -v b="$pn" 'BEGIN { printf "%.1fx", a / b }')
    printf '%-9s %7.1fM | %10s %10s | %-10s %10s %10s | %7s %7s\n' "$fmt" "$(awk -v b="$bytes" 'BEGIN{print b/1e6}')" "$r1" "$rn" "${cmd[0]}" "$p1" "$pn" "$ratio1" "$ration"
  else
    printf '%-9s %7.1fM | %10s %10s | %-10s %10s %10s | %7s %7s\n' "$fmt" "$(awk -v b="$bytes" 'BEGIN{print b/1e6}')" "$r1" "$rn" "-" "-" "-" "-" "-"
  fi
done
echo "(MB/s of input; 'ranpipe N': N threads; peer N: N processes at once)"
echo
echo "peak memory while parsing and chunking one file (goal: growth < 4 x size + a constant)."
echo "growth = slope x size + constant, from the same corpus at two sizes:"
for f in corpus.md corpus.html corpus.docx corpus.pdf corpus.txt corpus.csv; do
  read -r s1 g1 _ < <("$bench" --memory "$work/small/$f")
  read -r s2 g2 _ < <("$bench" --memory "$work/big/$f")
  awk -v f="$f" -v s1="$s1" -v g1="$g1" -v s2="$s2" -v g2="$g2" 'BEGIN {
    slope = (g2 - g1) / (s2 - s1); c = g2 - slope * s2;
    printf "  %-12s %6.2f MB -> %6.1f MB, %6.2f MB -> %6.1f MB: slope %5.1f x size, constant %5.1f MB\n",
           f, s1/1e6, g1/1e6, s2/1e6, g2/1e6, slope, c/1e6 }'
done
