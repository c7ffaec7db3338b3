#!/usr/bin/env bash
# Generated tokens per second of `ranpipe run` next to llama-batched-bench on
# the same model, threads and parallel sequences, in the same run.
#
# usage: bench/bench_slice.sh [BUILD_DIR]        (default: build/release)
# env:   MODEL (default: the 0.6B-shaped Q4_0 fixture), THREADS (nproc),
#        PARALLEL (4), INPUT (examples/docs/),
#        PAIRS (1 pair per chunk, to keep the run short)
#
# ranpipe's figure is generated tokens / wall time of the generation stage,
# which includes prefilling every prompt and sampling with the grammar.
# batched-bench runs PARALLEL sequences with ranpipe's average prompt and
# output lengths; its end-to-end figure (generated tokens / (prefill +
# generation time)) is the peer, and its generation-only S_TG is shown too.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
model=${MODEL:-$build/models/qwen3-0.6b-shape-q4_0.gguf}
threads=${THREADS:-$(nproc)}
parallel=${PARALLEL:-4}
input=${INPUT:-examples/docs}
pairs=${PAIRS:-1}
tools="$(scripts/build-llama.sh tools)/tools/bin"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "model:   $model"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "threads: $threads, parallel sequences: $parallel, input: $input"
echo

"$build/bin/ranpipe" run "$input" -o "$out/run" --model "$model" -t "$threads" -p "$parallel" \
  --pairs "$pairs" 2>"$out/ranpipe.log"
line=$(grep 'generated tokens/s' "$out/ranpipe.log")
read -r requests prompt gen secs < <(sed -E \
  's/.*: ([0-9]+) requests, ([0-9]+) prompt \+ ([0-9]+) generated tokens in ([0-9.]+) s.*/\1 \2 \3 \4/' <<<"$line")
npp=$(( prompt / requests ))
ntg=$(( gen / requests ))
rp_tps=$(awk -v g="$gen" -v s="$secs" 'BEGIN { printf "%.1f", g / s }')

"$tools/llama-batched-bench" -m "$model" -c $(( parallel * (npp + ntg) + 512 )) -b 512 -ub 512 \
  -npp "$npp" -ntg "$ntg" -npl "$parallel" -t "$threads" >"$out/bb.log" 2>&1
row=$(grep -E "^\|\s+$npp\s+\|" "$out/bb.log" | tail -1)
read -r bb_t bb_stg < <(awk -F'|' '{ gsub(/ /, ""); print $10, $9 }' <<<"$row")
bb_tps=$(awk -v b="$parallel" -v t="$ntg" -v s="$bb_t" 'BEGIN { printf "%.1f", b * t / s }')
ratio=$(awk -v a="$rp_tps" -v b="$bb_tps" 'BEGIN { printf "%.2f", a / b }')

printf '%-44s %10s\n' "" "gen tok/s"
printf '%-44s %10s   (%d requests, %d prompt + %d generated tokens, %.1f s)\n' \
  "ranpipe run (grammar, continuous batching)" "$rp_tps" "$requests" "$prompt" "$gen" "$secs"
printf '%-44s %10s   (npp %d, ntg %d, npl %d; generation only: %s tok/s)\n' \
  "llama-batched-bench, end to end" "$bb_tps" "$npp" "$ntg" "$parallel" "$bb_stg"
echo "ratio ranpipe / llama-batched-bench: $ratio"
