#!/usr/bin/env bash
# Faults during `ranpipe run` with the tiny fixture model:
#  - a dead endpoint on the first LLM tier opens its breaker and the run
#    completes on the fallback tier (a llama tier);
#  - a model worker killed with SIGKILL mid-run is restarted and nothing is
#    lost: every chunk ends as pairs or a reject, exactly once.
. "$(dirname "$0")/tap.sh"
EX=$RANPIPE_SOURCE_DIR/examples/docs
PY=${PYTHON3:-python3}
M=$RANPIPE_TINY_MODEL
TH=${RANPIPE_TEST_THREADS:-2}
unset RANPIPE_MODEL

# A port nothing listens on: bind, note the port, close.
DEAD=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
cat >"$T/dead.yaml" <<YAML
breaker:
  failures: 2
  cooldown_s: 600
retry:
  attempts: 1
tiers:
  - name: extractive
    backend: extractive
  - name: small
    backend: openai
    base_url: http://127.0.0.1:$DEAD
    max_complexity: 0.5
    timeout_s: 5
  - name: medium
    backend: llama
    model: $M
    parallel: 4
    threads: $TH
    context: 2048
YAML
expect_exit 0 "run with a dead endpoint on the first tier" \
  "$RANPIPE_BIN" run "$EX/features/automatic-neighbour-relations.md" -o "$T/dead" --config "$T/dead.yaml" \
  --pairs 1 --max-tokens 64
ok_if "the breaker of the dead tier opened" grep -q "tier 'small': breaker open" <<<"$ERR"
ok_if "the summary says so" grep -q "tier 'small' (openai.*breaker open (opened 1 times)" <<<"$ERR"
ok_if "every chunk was generated on the fallback tier" "$PY" - "$T/dead" <<'PY'
import json, sys, os
out = sys.argv[1]
rows = lambda n: [json.loads(l) for l in open(os.path.join(out, n), encoding="utf-8")]
data, rejects, chunks = rows("dataset.jsonl"), rows("rejects.jsonl"), rows("chunks.jsonl")
assert not [r for r in rejects if r["stage"] == "dead-letter"], "dead letters despite a fallback tier"
# Generated pairs are in the dataset or, rejected by the assessor (the
# fixture model writes noise), in rejects.jsonl with stage "assess".
llm = [r for r in data + rejects if r["metadata"].get("tier", "extractive") != "extractive"
       and (r.get("stage") in (None, "assess"))]
assert all(r["metadata"]["tier"] == "medium" for r in llm), {r["metadata"]["tier"] for r in llm}
gen = [r for r in rejects if r["stage"] in ("parse", "generate")]
assert llm or gen, "nothing generated"
assert all(r["metadata"].get("tier") in (None, "medium") for r in gen)
seen = {r["metadata"]["chunk_id"] for r in llm} | {r["metadata"]["chunk_id"] for r in rejects}
assert {c["chunk_id"] for c in chunks} <= seen, "a chunk was lost"
PY

# Only dead tiers: every chunk becomes a dead letter naming the reason.
cat >"$T/alldead.yaml" <<YAML
breaker:
  failures: 1
  cooldown_s: 600
retry:
  attempts: 1
tiers:
  - name: extractive
    backend: extractive
  - name: small
    backend: openai
    base_url: http://127.0.0.1:$DEAD
    timeout_s: 5
YAML
expect_exit 0 "run with only a dead endpoint" \
  "$RANPIPE_BIN" run "$EX/procedures" -o "$T/alldead" --config "$T/alldead.yaml"
ok_if "every chunk is a dead letter with the reason" "$PY" - "$T/alldead" "$DEAD" <<'PY'
import json, sys, os
out, port = sys.argv[1], sys.argv[2]
rows = lambda n: [json.loads(l) for l in open(os.path.join(out, n), encoding="utf-8")]
rejects, chunks = rows("rejects.jsonl"), rows("chunks.jsonl")
dead = [r for r in rejects if r["stage"] == "dead-letter"]
assert {r["metadata"]["chunk_id"] for r in dead} == {c["chunk_id"] for c in chunks}
assert all("small" in r["reason"] for r in dead), dead[0]["reason"]
assert any(port in r["reason"] for r in dead), dead[0]["reason"]
PY

# SIGKILL the worker while it generates: the run restarts it and finishes.
# One sequence at a time over every example keeps the worker busy for many
# seconds, so the kill lands while requests are in flight however fast the machine.
"$RANPIPE_BIN" run "$EX" -o "$T/kill" --model "$M" -t "$TH" -p 1 --pairs 1 --max-tokens 48 \
  >"$T/kill.out" 2>"$T/kill.err" &
RUN=$!
killed=0
for _ in $(seq 600); do
  W=$(pgrep -P "$RUN" -f "ranpipe worker" | head -1)
  if [ -n "$W" ] && grep -q "starting 1 worker" "$T/kill.err"; then
    sleep 0.5
    kill -9 "$W" 2>/dev/null && killed=1
    break
  fi
  sleep 0.1
done
wait "$RUN"
rc=$?
ok_if "a worker was killed mid-run" test "$killed" -eq 1
ok_if "the run completed" test "$rc" -eq 0
ok_if "the death was noticed and the worker restarted" grep -q "killed by signal 9" "$T/kill.err"
ok_if "nothing lost, nothing twice" "$PY" - "$T/kill" <<'PY'
import json, sys, os, collections
out = sys.argv[1]
rows = lambda n: [json.loads(l) for l in open(os.path.join(out, n), encoding="utf-8")]
data, rejects, chunks = rows("dataset.jsonl"), rows("rejects.jsonl"), rows("chunks.jsonl")
# Generated pairs: in the dataset, or rejected by the assessor (noise model).
llm = [r for r in data + rejects if r["metadata"].get("tier", "extractive") != "extractive"
       and (r.get("stage") in (None, "assess"))]
per = collections.Counter(r["metadata"]["chunk_id"] for r in llm)
assert max(per.values(), default=1) == 1, "a chunk generated twice"
# Output cut at --max-tokens is a parse reject; either way one record per chunk.
gen = set(per) | {r["metadata"]["chunk_id"] for r in rejects if r["stage"] in ("parse", "generate")}
assert not [r for r in rejects if r["stage"] == "dead-letter"], "dead letters after a restart"
assert gen == {c["chunk_id"] for c in chunks}, "a chunk was lost"
PY

done_testing
