#!/usr/bin/env bash
# bench_assess.sh BUILD_DIR - `ranpipe assess` end to end on one core: 50,000
# records with 1 kB contexts (each record its own context, the worst case:
# nothing is shared), JSON in and out, near-duplicate removal on. Prints
# records/s and its ratio to the goal of 5000 records/s per core, and the
# same file through a JSON round trip alone (Python's json, the peer) so the
# scorer's share is visible.
set -euo pipefail
B=${1:-build/release}
BIN=$B/bin/ranpipe
N=${N:-50000}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
python3 - "$T/in.jsonl" "$N" tests/data/quality/labeled.jsonl <<'PY'
import json, sys
out, n, labeled = sys.argv[1], int(sys.argv[2]), sys.argv[3]
recs = [json.loads(l) for l in open(labeled)]
with open(out, "w") as f:
    for i in range(n):
        r = recs[i % len(recs)]
        ctx = (str(i) + " " + r["context"] + " ") * 3
        ctx = ctx[:1024]
        f.write(json.dumps({"id": "r%d" % i, "context": ctx, "question": r["question"] + " (%d)" % i,
                            "answer": r["answer"]}) + "\n")
PY
cpu() { taskset -c 0 "$@"; }
t0=$(date +%s.%N)
cpu "$BIN" assess -q -o "$T/out.jsonl" "$T/in.jsonl"
t1=$(date +%s.%N)
cpu python3 -c 'import json,sys
with open(sys.argv[2],"w") as o:
    for l in open(sys.argv[1]): o.write(json.dumps(json.loads(l))+"\n")' "$T/in.jsonl" "$T/rt.jsonl"
t2=$(date +%s.%N)
python3 - "$N" "$t0" "$t1" "$t2" <<'PY'
import sys
n, t0, t1, t2 = int(sys.argv[1]), *map(float, sys.argv[2:])
a, p = n / (t1 - t0), n / (t2 - t1)
print(f"assess (1 core, 1 kB contexts, dedup on): {n} records in {t1-t0:.2f} s = {a:.0f} records/s = {a/5000:.2f}x the goal of 5000/s")
print(f"peer: JSON round trip alone in Python: {p:.0f} records/s; assess / peer = {a/p:.2f}")
PY
