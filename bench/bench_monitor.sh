#!/usr/bin/env bash
# bench_monitor.sh BUILD_DIR - what monitoring costs a run: the same run with
# monitoring on (the default: metrics, the ticker thread, progress lines,
# alerts, summary.json and report.html) and off (--no-monitor).
#  1. Instructions (valgrind --tool=callgrind, all threads): a run without a
#     model (ingest, chunking, the extractive tier, the assessor, the store) on
#     examples/docs copied 20 times. This path has no model time to hide the
#     monitor's cost in, so it is the worst case. Instruction counts do not
#     depend on the machine's load.
#  2. Wall time: the tiny fixture model on examples/docs (-p 1), R runs of
#     each alternating (default 5), medians compared.
# Prints each figure and the ratio on/off; the goal is below 1.01.
# Environment: COPIES (sizes for 1, default "20 100"), REPEAT (callgrind runs
# of each, median taken; default 3: a threaded run's instruction count varies
# a little with scheduling), R (wall-time runs), PARTS ("instr wall").
set -euo pipefail
B=${1:-build/release}
BIN=$B/bin/ranpipe
MODEL=${MODEL:-$B/models/tiny-qwen3-f16.gguf}
R=${R:-5}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
command -v valgrind >/dev/null || { echo "bench_monitor: valgrind is needed (apt-get install valgrind)" >&2; exit 1; }

instr() { # IN OUT FLAGS... -> total instructions of all threads
  local in=$1 out=$2
  shift 2
  valgrind --tool=callgrind --callgrind-out-file="$T/cg.out" -q "$BIN" run "$in" -o "$out" -q "$@" >/dev/null 2>&1
  sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$T/cg.out" | head -1
}
# Two sizes: the end of a run (summary.json, report.html) costs the same
# whatever its length, the hooks in proportion to the work.
PARTS=${PARTS:-instr wall}
for copies in ${COPIES:-20 100}; do
  [[ " $PARTS " == *" instr "* ]] || break
  rm -rf "$T/in"
  mkdir -p "$T/in"
  for i in $(seq "$copies"); do cp -r examples/docs "$T/in/copy$i"; done
  ons=() offs=()
  for _ in $(seq "${REPEAT:-3}"); do
    rm -rf "$T/o1" "$T/o2"
    ons+=("$(instr "$T/in" "$T/o1")")
    offs+=("$(instr "$T/in" "$T/o2" --no-monitor)")
    cmp -s "$T/o1/dataset.jsonl" "$T/o2/dataset.jsonl" || { echo "bench_monitor: the two runs wrote different datasets" >&2; exit 1; }
  done
  python3 - "$copies" "$(wc -l <"$T/o1/rejects.jsonl")" "${ons[*]}" "${offs[*]}" <<'PY'
import statistics, sys
copies, rejects = int(sys.argv[1]), int(sys.argv[2])
on = [int(x) for x in sys.argv[3].split()]
off = [int(x) for x in sys.argv[4].split()]
a, b = statistics.median(on), statistics.median(off)
print(f"instructions, no-model run of examples/docs x{copies} ({rejects} rejects), median of {len(on)}: "
      f"monitoring on {a:,.0f}, off {b:,.0f}; on/off = {a/b:.4f} ({(a/b-1)*100:+.2f}%)")
print(f"  on:  {' '.join(f'{x:,}' for x in on)}")
print(f"  off: {' '.join(f'{x:,}' for x in off)}")
PY
done
[[ " $PARTS " == *" wall "* ]] || exit 0

wall() { # OUT FLAGS... -> seconds
  local t0 t1
  t0=$(date +%s.%N)
  "$BIN" run examples/docs -o "$1" --model "$MODEL" -p 1 -q "${@:2}" >/dev/null 2>&1
  t1=$(date +%s.%N)
  python3 -c "print($t1 - $t0)"
}
: >"$T/on.txt"
: >"$T/off.txt"
for i in $(seq "$R"); do
  rm -rf "$T/w1" "$T/w2"
  wall "$T/w1" >>"$T/on.txt"
  wall "$T/w2" --no-monitor >>"$T/off.txt"
done
python3 - "$T/on.txt" "$T/off.txt" <<'PY'
import statistics, sys
on = [float(x) for x in open(sys.argv[1])]
off = [float(x) for x in open(sys.argv[2])]
a, b = statistics.median(on), statistics.median(off)
print(f"wall time, tiny model on examples/docs (-p 1), median of {len(on)}: monitoring on {a:.3f} s, off {b:.3f} s; on/off = {a/b:.4f} ({(a/b-1)*100:+.2f}%)")
print(f"  on:  {' '.join(f'{x:.3f}' for x in on)}")
print(f"  off: {' '.join(f'{x:.3f}' for x in off)}")
PY
