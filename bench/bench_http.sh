#!/usr/bin/env bash
# Generated tokens per second over HTTP: ranpipe's openai backend
# (ranpipe-bench-http, libcurl multi on one thread) next to a plain
# concurrent client (curl --parallel), against the same llama-server, with
# the same requests, in the same run.
#
# usage: bench/bench_http.sh [BUILD_DIR]        (default: build/release)
# env:   MODEL       GGUF to serve (default: the 0.6B-shaped Q4_0 fixture in
#                    BUILD_DIR/models, else build/release/models, else the tiny one)
#        PARALLEL    server slots (-np) and requests in flight for both clients (4)
#        REQUESTS    requests per client and round (16), seeds 1..REQUESTS
#        ROUNDS      rounds (2); the clients take turns going first
#        MAX_TOKENS  per request (64)
#        THREADS     llama-server threads (nproc)
#        SCHEMA      1 (default): both clients send response_format with a JSON
#                    schema, as ranpipe does; 0: free text. The fixture models have
#                    random weights, and llama-server answers 500 to free text it
#                    cannot parse, so SCHEMA=0 is for real models only.
#        LLAMA_SERVER  the llama-server binary (default: scripts/build-llama.sh tools)
#
# Each figure is the sum of usage.completion_tokens over the requests divided
# by the wall time from the first request sent to the last answer; the
# server is warmed up with one request first. The ratio shows what the
# backend costs (or saves) over a bare HTTP client: close to 1 is the goal.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
parallel=${PARALLEL:-4}
requests=${REQUESTS:-16}
max_tokens=${MAX_TOKENS:-64}
threads=${THREADS:-$(nproc)}
rounds=${ROUNDS:-2}
schema_on=${SCHEMA:-1}
if [ -z "${MODEL:-}" ]; then
  for m in "$build"/models/*q4_0*.gguf build/release/models/*q4_0*.gguf \
           "$build"/models/tiny-qwen3-f16.gguf; do
    if [ -f "$m" ]; then MODEL=$m; break; fi
  done
fi
[ -n "${MODEL:-}" ] && [ -f "$MODEL" ] || { echo "bench_http: no model (set MODEL)" >&2; exit 1; }
server=${LLAMA_SERVER:-"$(scripts/build-llama.sh tools)/tools/bin/llama-server"}
cmake --build "$build" --target ranpipe-bench-http >/dev/null
driver=$build/bin/ranpipe-bench-http

out=$(mktemp -d)
spid=
cleanup() { [ -n "$spid" ] && kill "$spid" 2>/dev/null && wait "$spid" 2>/dev/null; rm -rf "$out"; }
trap cleanup EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$server" -m "$MODEL" --host 127.0.0.1 --port "$port" -np "$parallel" \
  -c $(( parallel * (max_tokens + 512) )) -t "$threads" --no-webui >"$out/server.log" 2>&1 &
spid=$!
for _ in $(seq 1 600); do
  curl -sf "http://127.0.0.1:$port/health" >/dev/null && break
  kill -0 "$spid" 2>/dev/null || { tail -20 "$out/server.log" >&2; exit 1; }
  sleep 0.2
done
curl -sf "http://127.0.0.1:$port/health" >/dev/null || { echo "bench_http: server not up" >&2; exit 1; }
base=http://127.0.0.1:$port/v1

system="You write question-answer pairs about telecom documentation."
prompt="Write one question and its answer about the LTE uplink power control parameter pZeroNominalPusch, as a JSON array of objects with the keys question and answer."
schema='{"type":"array","items":{"type":"object","properties":{"question":{"type":"string"},"answer":{"type":"string"}},"required":["question","answer"]}}'
schema_arg=()
[ "$schema_on" = 1 ] && schema_arg=(--schema "$schema")

# The request bodies the backend sends (same fields, same sampling defaults).
SYSTEM=$system PROMPT=$prompt SCHEMA_JSON=$schema SCHEMA_ON=$schema_on N=$requests \
MAX_TOKENS=$max_tokens OUT=$out URL="$base/chat/completions" python3 - <<'EOF'
import json, os
n = int(os.environ["N"])
with open(os.path.join(os.environ["OUT"], "curl.cfg"), "w") as cfg:
    for i in range(1, n + 1):
        body = {"model": "default",
                "messages": [{"role": "system", "content": os.environ["SYSTEM"]},
                             {"role": "user", "content": os.environ["PROMPT"]}],
                "temperature": 0.7, "top_p": 0.9, "top_k": 40,
                "max_tokens": int(os.environ["MAX_TOKENS"]), "seed": i, "stream": False}
        if os.environ["SCHEMA_ON"] == "1":
            body["response_format"] = {"type": "json_schema", "json_schema": {
                "name": "qa", "schema": json.loads(os.environ["SCHEMA_JSON"]), "strict": True}}
        path = os.path.join(os.environ["OUT"], "req%d.json" % i)
        with open(path, "w") as f:
            json.dump(body, f)
        if i > 1:
            cfg.write("next\n")
        cfg.write('url = "%s"\nheader = "Content-Type: application/json"\n'
                  'data-binary = "@%s"\noutput = "%s/resp%d.json"\n'
                  % (os.environ["URL"], path, os.environ["OUT"], i))
EOF

# Warm-up: load the weights into the page cache, compile nothing lazily later.
curl -sf "$base/chat/completions" -H 'Content-Type: application/json' -d @"$out/req1.json" >/dev/null

run_curl() {
  rm -f "$out"/resp*.json
  local t0 t1 ok tokens
  t0=$(date +%s.%N)
  curl -s --parallel --parallel-max "$parallel" --config "$out/curl.cfg" 2>"$out/curl.err" || true
  t1=$(date +%s.%N)
  read -r ok tokens < <(python3 - "$out" "$requests" <<'EOF2'
import json, sys
ok = tokens = 0
for i in range(1, int(sys.argv[2]) + 1):
    try:
        with open("%s/resp%d.json" % (sys.argv[1], i)) as f:
            r = json.load(f)
        tokens += r["usage"]["completion_tokens"]
        ok += 1
    except (OSError, ValueError, KeyError, TypeError):
        pass
print(ok, tokens)
EOF2
)
  c_ok=$(( c_ok + ok )); c_tokens=$(( c_tokens + tokens ))
  c_secs=$(awk -v s="$c_secs" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", s + b - a }')
}

run_ranpipe() {
  local line
  line=$("$driver" --url "$base" -n "$requests" -c "$parallel" --max-tokens "$max_tokens" \
    --prompt "$prompt" "${schema_arg[@]}") || true
  line=${line:-ok=0 completion_tokens=0 seconds=0}
  r_ok=$(( r_ok + $(sed -E 's/.* ok=([0-9]+).*/\1/' <<<"$line") ))
  r_tokens=$(( r_tokens + $(sed -E 's/.*completion_tokens=([0-9]+).*/\1/' <<<"$line") ))
  r_secs=$(awk -v s="$r_secs" -v x="$(sed -E 's/.*seconds=([0-9.]+).*/\1/' <<<"$line")" \
    'BEGIN { printf "%.3f", s + x }')
}

# Alternate the order so that neither client always runs on a warmer server.
c_ok=0 c_tokens=0 c_secs=0 r_ok=0 r_tokens=0 r_secs=0
for r in $(seq 1 "$rounds"); do
  if [ $(( r % 2 )) = 1 ]; then run_curl; run_ranpipe; else run_ranpipe; run_curl; fi
done
c_tps=$(awk -v t="$c_tokens" -v s="$c_secs" 'BEGIN { printf "%.2f", t / s }')
r_tps=$(awk -v t="$r_tokens" -v s="$r_secs" 'BEGIN { printf "%.2f", t / s }')
ratio=$(awk -v a="$r_tps" -v b="$c_tps" 'BEGIN { printf "%.2f", a / b }')
total=$(( requests * rounds ))

echo "model:   $MODEL"
echo "server:  $("$server" --version 2>&1 | head -1), -np $parallel, -t $threads"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "load:    $rounds rounds x $requests requests x max_tokens $max_tokens, $parallel in flight, schema=$schema_on"
echo
printf '%-34s %10s\n' "" "gen tok/s"
printf '%-34s %10s   (%d/%d ok, %d tokens, %.2f s)\n' "curl --parallel" "$c_tps" \
  "$c_ok" "$total" "$c_tokens" "$c_secs"
printf '%-34s %10s   (%d/%d ok, %d tokens, %.2f s)\n' "ranpipe openai backend" "$r_tps" \
  "$r_ok" "$total" "$r_tokens" "$r_secs"
echo "ratio ranpipe / curl: $ratio"
