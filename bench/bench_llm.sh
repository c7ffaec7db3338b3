#!/usr/bin/env bash
# The generation engine through the llama backend (worker processes over
# shared memory) next to llama-batched-bench on the same model, threads and
# parallel sequences, in the same run; then the grammar's cost; then a model
# switch.
#
# usage: bench/bench_llm.sh [BUILD_DIR]        (default: build/release)
# env:   MODEL (the 0.6B-shaped Q4_0 fixture), MODEL_B (its Q8_0 twin, for the
#        switch), THREADS (2), PARALLEL ("8 16"), PROMPT (128 tokens),
#        GEN (64 tokens), WAVES (2: requests = WAVES x parallel),
#        BENCH_BEFORE / BENCH_AFTER: shell commands run before and after each
#        timed measurement (e.g. to wait for an idle machine, or to pause a
#        background job on a small machine and resume it); when BENCH_AFTER
#        exits non-zero the measurement was disturbed and is run again (3
#        tries at most; the last one counts)
#
# Throughput: ranpipe's figure is generated tokens / wall time from the first
# submit to the last response, so it includes prefilling every prompt. The
# peer is therefore batched-bench's end-to-end figure for the same work:
# npl x ntg generated tokens / (prefill + generation time), with npp set to
# the prompt length ranpipe actually tokenized. batched-bench's
# generation-only S_TG is printed too, and a second batched-bench run with
# -kvu (one KV stream for all sequences, as ranpipe's context uses).
# Grammar off for the throughput figure; then grammar on vs off at the first
# PARALLEL value. Switch: q8_0 -> q4_0 and back, warm page cache, first token
# of a max_tokens=1 request (16-token prompt) timed from the new backend's
# start.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
model=${MODEL:-$build/models/qwen3-0.6b-shape-q4_0.gguf}
model_b=${MODEL_B:-$build/models/qwen3-0.6b-shape-q8_0.gguf}
threads=${THREADS:-2}
parallels=${PARALLEL:-8 16}
pp=${PROMPT:-128}
tg=${GEN:-64}
waves=${WAVES:-2}
bench="$build/bin/ranpipe-bench-llm"
exe="$build/bin/ranpipe"
tools="$(scripts/build-llama.sh tools)/tools/bin"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# The hooks write to the script's own stderr (fd 3), not to a measurement's log.
exec 3>&2
before() { if [ -n "${BENCH_BEFORE:-}" ]; then bash -c "$BENCH_BEFORE" >&3 2>&3; fi; }
after() { if [ -n "${BENCH_AFTER:-}" ]; then bash -c "$BENCH_AFTER" >&3 2>&3; fi; }
# measure LOG ERRLOG CMD...: runs one timed measurement between the hooks,
# its stdout into LOG and its stderr into ERRLOG (- : into LOG too)
measure() {
  local rc try log=$1 errlog=$2
  shift 2
  for try in 1 2 3; do
    rc=0
    before
    if [ "$errlog" = - ]; then "$@" >"$log" 2>&1 || rc=$?; else "$@" >"$log" 2>"$errlog" || rc=$?; fi
    if after || [ $rc -ne 0 ] || [ $try -eq 3 ]; then
      return $rc
    fi
    echo "(disturbed: measuring again)" >&3
  done
}

# value KEY FILE: KEY=value from the last RESULT line
value() { grep '^RESULT' "$2" | tail -1 | tr ' ' '\n' | sed -n "s/^$1=//p"; }

echo "model:   $model"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "threads: $threads, prompt ~$pp tokens, max_tokens $tg, $waves requests per sequence slot"
echo

printf '%-4s %-34s %9s  %s\n' "P" "" "gen tok/s" "notes"
first_p=
for p in $parallels; do
  first_p=${first_p:-$p}
  r=$(( waves * p ))
  measure "$out/rp$p.log" "$out/rp$p.err" "$bench" --model "$model" --exe "$exe" --parallel "$p" \
    --requests "$r" --prompt "$pp" --gen "$tg" --threads "$threads" --grammar off ||
    { cat "$out/rp$p.err" >&2; exit 1; }
  rp_tps=$(value tps "$out/rp$p.log")
  npp=$(printf '%.0f' "$(value prompt_avg "$out/rp$p.log")")
  printf '%-4s %-34s %9s  %s\n' "$p" "ranpipe, llama backend (1 worker)" "$rp_tps" \
    "$r requests, $npp prompt + $(value gen_avg "$out/rp$p.log") generated each, $(value early "$out/rp$p.log") ended early, $(value wall "$out/rp$p.log") s, latency p50 $(value p50 "$out/rp$p.log") s"

  for kvu in "" -kvu; do
    measure "$out/bb$p$kvu.log" - "$tools/llama-batched-bench" -m "$model" -c $(( p * (npp + tg) + 512 )) \
      -b 512 -ub 512 -npp "$npp" -ntg "$tg" -npl "$p" -t "$threads" $kvu || { cat "$out/bb$p$kvu.log" >&2; exit 1; }
    row=$(grep -E "^\|\s+$npp\s+\|" "$out/bb$p$kvu.log" | tail -1)
    read -r bb_t bb_stg bb_spp < <(awk -F'|' '{ gsub(/ /, ""); print $10, $9, $7 }' <<<"$row")
    bb_tps=$(awk -v b="$p" -v t="$tg" -v s="$bb_t" 'BEGIN { printf "%.2f", b * t / s }')
    printf '%-4s %-34s %9s  %s\n' "$p" "llama-batched-bench${kvu:+ $kvu}, end to end" "$bb_tps" \
      "npp $npp, ntg $tg, npl $p, $bb_t s; S_PP $bb_spp, S_TG $bb_stg tok/s"
    if [ -z "$kvu" ]; then
      ratio=$(awk -v a="$rp_tps" -v b="$bb_tps" 'BEGIN { printf "%.3f", a / b }')
    else
      ratio_kvu=$(awk -v a="$rp_tps" -v b="$bb_tps" 'BEGIN { printf "%.3f", a / b }')
    fi
  done
  echo "     ratio ranpipe / llama-batched-bench: $ratio (goal >= 0.95); against -kvu: $ratio_kvu"
done
echo

p=$first_p
r=$(( waves * p ))
measure "$out/g.log" "$out/g.err" "$bench" --model "$model" --exe "$exe" --parallel "$p" --requests "$r" \
  --prompt "$pp" --gen "$tg" --threads "$threads" --grammar on || { cat "$out/g.err" >&2; exit 1; }
on=$(value tps "$out/g.log")
off=$(value tps "$out/rp$p.log")
echo "grammar (P $p): on $on tok/s ($(value gen_avg "$out/g.log") generated each, $(value early "$out/g.log") ended early, $(value fallbacks "$out/g.log") grammar fallbacks), off $off tok/s: on / off $(awk -v a="$on" -v b="$off" 'BEGIN { printf "%.3f", a / b }')"
echo

measure "$out/sw.log" "$out/sw.err" "$bench" --switch --model "$model_b" --model-b "$model" --exe "$exe" \
  --prompt 16 --threads "$threads" || { cat "$out/sw.err" >&2; exit 1; }
grep -v '^RESULT' "$out/sw.log"
