#!/usr/bin/env bash
# Run state (OUT/ranpipe.db):
#  - the generation cache: a rerun on unchanged inputs and config makes zero
#    backend calls (counted by the fake OpenAI server) and writes the same
#    files; --no-cache asks again; a changed input is asked about again and
#    only its chunks are; a deleted input is reported and its pairs are gone;
#  - resume: `ranpipe run` killed with SIGKILL at 20 random moments, then
#    run to the end, gives byte for byte the files of an uninterrupted run,
#    and no output file ever ends in a torn line; SIGTERM and SIGINT drain
#    and stop within seconds, and the run resumes;
#  - --watch processes files as they appear, until Ctrl-C;
#  - status and history show the state; dead letters stay dead letters
#    unless --retry-failed.
. "$(dirname "$0")/tap.sh"
EX=$RANPIPE_SOURCE_DIR/examples/docs
PY=${PYTHON3:-python3}
M=$RANPIPE_TINY_MODEL
TH=${RANPIPE_TEST_THREADS:-2}
unset RANPIPE_MODEL

# ---- the cache, counted at the server ----
"$PY" "$RANPIPE_SOURCE_DIR/tests/fake_openai.py" >"$T/port" 2>"$T/fake.err" &
FAKE=$!
trap 'kill $FAKE 2>/dev/null; rm -rf "$T"' EXIT
for _ in $(seq 50); do [ -s "$T/port" ] && break; sleep 0.1; done
PORT=$(head -1 "$T/port")
requests() { "$PY" -c 'import json,sys,urllib.request; print(json.load(urllib.request.urlopen(sys.argv[1]))["requests"])' \
  "http://127.0.0.1:$PORT/stats"; }

mkdir -p "$T/in"
cp "$EX/features/automatic-neighbour-relations.md" "$EX/features/uplink-power-control.md" \
  "$EX/procedures/lock-and-unlock-cell.txt" "$T/in/"
E=http://127.0.0.1:$PORT
expect_exit 0 "first run against the server" "$RANPIPE_BIN" run "$T/in" -o "$T/c" --endpoint "$E"
N1=$(requests)
ok_if "the first run asked the server ($N1 requests)" test "$N1" -gt 0
cp "$T/c/dataset.jsonl" "$T/d1"
cp "$T/c/rejects.jsonl" "$T/r1"
expect_exit 0 "the same run again" "$RANPIPE_BIN" run "$T/in" -o "$T/c" --endpoint "$E"
ok_if "a rerun on unchanged inputs makes zero backend calls" test "$(requests)" -eq "$N1"
ok_if "and says so" grep -q "0 new, 0 changed, 3 unchanged, 0 deleted; [1-9][0-9]* generations from the cache" <<<"$ERR"
ok_if "and writes the same dataset" cmp "$T/d1" "$T/c/dataset.jsonl"
ok_if "and the same rejects" cmp "$T/r1" "$T/c/rejects.jsonl"
expect_exit 0 "--no-cache" "$RANPIPE_BIN" run "$T/in" -o "$T/c" --endpoint "$E" --no-cache
N2=$(requests)
ok_if "--no-cache asks the server again for every chunk" test "$N2" -eq $((2 * N1))
# Change one input: only its chunks are asked about again.
printf '\nA new closing paragraph about qRxLevMin, which is -140 dBm by default.\n' \
  >>"$T/in/lock-and-unlock-cell.txt"
expect_exit 0 "a run after one input changed" "$RANPIPE_BIN" run "$T/in" -o "$T/c" --endpoint "$E"
N3=$(requests)
ok_if "only the changed input's chunks were asked about ($((N3 - N2)) of $N1)" \
  bash -c "[ $((N3 - N2)) -gt 0 ] && [ $((N3 - N2)) -lt $N1 ]"
ok_if "the change is reported" grep -q "0 new, 1 changed, 2 unchanged, 0 deleted" <<<"$ERR"
rm "$T/in/uplink-power-control.md"
expect_exit 0 "a run after one input was deleted" "$RANPIPE_BIN" run "$T/in" -o "$T/c" --endpoint "$E"
ok_if "no backend call for the inputs that remain" test "$(requests)" -eq "$N3"
ok_if "the deletion is reported" grep -q "0 new, 0 changed, 2 unchanged, 1 deleted" <<<"$ERR"
ok_if "the deleted input's pairs are gone" bash -c "! grep -q uplink-power-control '$T/c/dataset.jsonl'"

# ---- resume after SIGKILL ----
# One sequence per worker: generation is then reproducible, so a resumed run
# can be compared byte for byte with an uninterrupted one.
expect_exit 0 "an uninterrupted run" "$RANPIPE_BIN" run "$EX" -o "$T/ref" --model "$M" -p 1 -t "$TH" -q
RANDOM=4242
# Generations the store holds so far (read-only; the run may be writing).
gens() { "$PY" -c 'import sqlite3, sys
try:
    c = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True, timeout=5)
    print(c.execute("select count(*) from generations").fetchone()[0])
except Exception:
    print(0)' "$T/res/ranpipe.db"; }
kills=0 rebuilt=0 prefix_bad=0 partial_lines=0
for i in $(seq 20); do
  before=$(gens)
  setsid "$RANPIPE_BIN" run "$EX" -o "$T/res" --model "$M" -p 1 -t "$TH" -q 2>>"$T/kills.err" &
  pid=$!
  if [ $((i % 2)) -eq 1 ]; then
    # Anywhere in the first 1.5 s: start-up, ingest, model loading.
    ms=$((RANDOM % 1500))
  else
    # During generation: once the run has cached something new (however slow
    # the build), then a little later.
    for _ in $(seq 600); do
      [ "$(gens)" -gt "$before" ] && break
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    ms=$((RANDOM % 300))
  fi
  sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
  # The whole process group: the run and its model workers.
  if kill -9 -- "-$pid" 2>/dev/null; then kills=$((kills + 1)); fi
  wait "$pid" 2>/dev/null || true
  for f in "$T"/res/*.jsonl; do
    [ -e "$f" ] || continue
    if [ -s "$f" ] && [ "$(tail -c1 "$f" | od -An -c | tr -d ' ')" != '\n' ]; then
      echo "# torn line in $f after kill $i"
      kills=-1000
    fi
  done
  # What the killed run had committed, rebuilt from a copy of its store:
  # the first lines of every file of the uninterrupted run, each once.
  if [ -e "$T/res/ranpipe.db" ]; then
    rm -rf "$T/snap" && mkdir "$T/snap" && cp "$T"/res/ranpipe.db* "$T/snap/"
    if "$RANPIPE_BIN" export --rebuild --unfinished -q "$T/snap" 2>>"$T/kills.err"; then
      for f in dataset rejects chunks pending conflicts; do
        n=$(wc -l <"$T/snap/$f.jsonl")
        if ! cmp -s "$T/snap/$f.jsonl" <(head -n "$n" "$T/ref/$f.jsonl"); then
          echo "# after kill $i: the $n lines of $f.jsonl rebuilt from the store are not the run's first $n"
          prefix_bad=$((prefix_bad + 1))
        fi
      done
      rebuilt=$((rebuilt + 1))
      partial_lines=$((partial_lines + $(wc -l <"$T/snap/dataset.jsonl")))
    fi
  fi
done
ok_if "20 runs killed with SIGKILL mid-way ($kills killed before they finished), no output file torn" test "$kills" -ge 15
ok_if "after each kill the store rebuilds what was committed: the first lines of each file, each once ($rebuilt rebuilds, $partial_lines dataset lines in all)" \
  test "$prefix_bad" -eq 0 -a "$rebuilt" -ge 15 -a "$partial_lines" -gt 0
expect_exit 0 "the run resumed to the end" "$RANPIPE_BIN" run "$EX" -o "$T/res" --model "$M" -p 1 -t "$TH"
ok_if "the resumed run used what the killed ones generated" \
  grep -q "[1-9][0-9]* generations from the cache" <<<"$ERR"
for f in dataset.jsonl rejects.jsonl chunks.jsonl pending.jsonl conflicts.jsonl; do
  ok_if "$f is the uninterrupted run's, byte for byte" cmp "$T/ref/$f" "$T/res/$f"
done
rm -f "$T"/res/*.jsonl
expect_exit 0 "export --rebuild after the resumed run" "$RANPIPE_BIN" export --rebuild "$T/res"
for f in dataset.jsonl rejects.jsonl chunks.jsonl pending.jsonl conflicts.jsonl; do
  ok_if "$f rebuilt from the store is the uninterrupted run's, byte for byte" cmp "$T/ref/$f" "$T/res/$f"
done
# SIGTERM and SIGINT: drain, stop within seconds, resume later.
for sig in TERM INT; do
  "$RANPIPE_BIN" run "$EX" -o "$T/sig$sig" --model "$M" -p 1 -t "$TH" >/dev/null 2>"$T/sig.err" &
  pid=$!
  sleep 2
  t0=$(date +%s)
  kill -$sig "$pid"
  st=0
  wait "$pid" || st=$?
  t1=$(date +%s)
  ok_if "SIG$sig: the run stopped within 10 s ($((t1 - t0)) s)" test $((t1 - t0)) -le 10
  ok_if "SIG$sig: exit status 130 ($st)" test "$st" -eq 130
  ok_if "SIG$sig: it says how to resume" grep -q "run again with the same output directory" "$T/sig.err"
  ok_if "SIG$sig: no output file was written" bash -c "! [ -e '$T/sig$sig/dataset.jsonl' ]"
  expect_exit 0 "SIG$sig: the run resumed" "$RANPIPE_BIN" run "$EX" -o "$T/sig$sig" --model "$M" -p 1 -t "$TH"
  ok_if "SIG$sig: the resumed run's dataset is the uninterrupted run's" cmp "$T/ref/dataset.jsonl" "$T/sig$sig/dataset.jsonl"
done

# --watch: files that appear are processed in a new pass until Ctrl-C.
mkdir -p "$T/win"
cp "$EX/features/automatic-neighbour-relations.md" "$T/win/"
"$RANPIPE_BIN" run "$T/win" -o "$T/wout" --watch >/dev/null 2>"$T/watch.err" &
WPID=$!
for _ in $(seq 100); do [ -s "$T/wout/dataset.jsonl" ] && break; sleep 0.1; done
N_BEFORE=$(wc -l <"$T/wout/dataset.jsonl")
mkdir -p "$T/win/more"
cp "$EX/features/uplink-power-control.md" "$T/win/more/"
for _ in $(seq 150); do grep -q uplink-power-control "$T/wout/dataset.jsonl" 2>/dev/null && break; sleep 0.1; done
ok_if "--watch: a file that appears in a new subdirectory is processed" grep -q uplink-power-control "$T/wout/dataset.jsonl"
ok_if "--watch: the first file's pairs are still there" test "$(grep -c automatic-neighbour "$T/wout/dataset.jsonl")" -ge "$N_BEFORE"
kill -INT "$WPID"
st=0
wait "$WPID" || st=$?
ok_if "--watch: Ctrl-C while waiting ends it cleanly (status $st)" test "$st" -eq 0
ok_if "--watch: each pass is reported" grep -q "pass 2 done" "$T/watch.err"

# What the state holds, for people.
expect_exit 0 "status" "$RANPIPE_BIN" status "$T/res"
ok_if "status counts the records" grep -q "pairs accepted, [0-9]* rejected" <<<"$OUT"
ok_if "status lists the dead letters (none here)" grep -q "^  none" <<<"$OUT"
expect_exit 0 "history" "$RANPIPE_BIN" history "$T/res"
ok_if "history shows the llama tier's attempts" grep -Eq "^tier 1 +[1-9]" <<<"$OUT"
expect_exit 1 "status without run state" "$RANPIPE_BIN" status "$T/nothing-here"
ok_if "says there is no run state" grep -q "no run state in" <<<"$ERR"
expect_exit 2 "status without OUT" "$RANPIPE_BIN" status
# A dead endpoint: every chunk a dead letter, listed by status with the reason.
DEAD=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
cat >"$T/dead.yaml" <<YAML
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
expect_exit 0 "a run whose only LLM tier is dead" "$RANPIPE_BIN" run "$EX/procedures" -o "$T/dl" --config "$T/dead.yaml"
expect_exit 0 "status after it" "$RANPIPE_BIN" status "$T/dl"
ok_if "status lists each dead chunk with the reason" grep -q "chunk .*lock-and-unlock-cell.txt #0" <<<"$OUT"
ok_if "and the reason names the port" grep -q "$DEAD" <<<"$OUT"
expect_exit 0 "the same run again" "$RANPIPE_BIN" run "$EX/procedures" -o "$T/dl" --config "$T/dead.yaml"
ok_if "dead letters are not tried again without --retry-failed" "$PY" - "$T/dl/rejects.jsonl" <<'PY'
import json, sys
dead = [r for r in map(json.loads, open(sys.argv[1])) if r["stage"] == "dead-letter"]
assert dead and all("--retry-failed" in r["reason"] for r in dead), dead[:1]
PY
expect_exit 0 "--retry-failed" "$RANPIPE_BIN" run "$EX/procedures" -o "$T/dl" --config "$T/dead.yaml" --retry-failed
ok_if "--retry-failed tries them again (the endpoint is still dead)" "$PY" - "$T/dl/rejects.jsonl" "$DEAD" <<'PY'
import json, sys
dead = [r for r in map(json.loads, open(sys.argv[1])) if r["stage"] == "dead-letter"]
assert dead and all(sys.argv[2] in r["reason"] and "--retry-failed" not in r["reason"] for r in dead), dead[:1]
PY

ok_if "every record exactly once" "$PY" - "$T/res/dataset.jsonl" <<'PY'
import json, sys
ids = [json.loads(l)["id"] for l in open(sys.argv[1])]
assert ids and len(ids) == len(set(ids)), len(ids) - len(set(ids))
PY

done_testing
