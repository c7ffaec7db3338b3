#!/usr/bin/env bash
# check_metrics.sh - validates a Prometheus text exposition (format 0.0.4)
# with the real parsers: `promtool check metrics` (Go, strict, plus
# Prometheus' lint rules) and prometheus_client's Python parser, plus the
# histogram rules neither enforces (buckets cumulative, a +Inf bucket equal
# to _count, a _sum) and a TYPE line for every family.
#
#   tests/tools/check_metrics.sh FILE
#   tests/tools/check_metrics.sh http://127.0.0.1:9464/metrics
#
# For a URL it also checks the HTTP status (200) and the Content-Type
# (text/plain; version=0.0.4). Exits 0 when valid, 1 with the problems on
# stderr when not, 2 on usage or a missing tool (missing tools fail, they
# do not skip: Debian packages prometheus and python3-prometheus-client).
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 FILE|URL" >&2
  exit 2
fi
src=$1

command -v promtool >/dev/null || { echo "check_metrics: promtool not found (apt install prometheus)" >&2; exit 2; }
py=
for cand in "${PYTHON3:-}" python3 /usr/bin/python3; do
  if [ -n "$cand" ] && command -v "$cand" >/dev/null && "$cand" -c 'import prometheus_client' 2>/dev/null; then
    py=$cand
    break
  fi
done
[ -n "$py" ] || { echo "check_metrics: no python3 with prometheus_client (apt install python3-prometheus-client)" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
file=$src
if [[ $src =~ ^https?:// ]]; then
  file=$tmp/metrics.prom
  "$py" - "$src" "$file" <<'PY' || exit 1
import sys, urllib.request
url, out = sys.argv[1], sys.argv[2]
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
try:
    with opener.open(url, timeout=10) as r:
        status, ctype, body = r.status, r.headers.get("Content-Type", ""), r.read()
except Exception as e:
    sys.exit(f"check_metrics: cannot fetch {url}: {e}")
if status != 200:
    sys.exit(f"check_metrics: {url}: HTTP {status}")
if not ctype.replace(" ", "").startswith("text/plain;version=0.0.4"):
    sys.exit(f"check_metrics: {url}: Content-Type is '{ctype}', not text/plain; version=0.0.4")
with open(out, "wb") as f:
    f.write(body)
PY
elif [ ! -r "$src" ]; then
  echo "check_metrics: cannot read '$src'" >&2
  exit 2
fi

fail=0
# promtool exits non-zero both for parse errors and for lint problems
# (e.g. a counter without _total): ranpipe's metrics should pass both.
if ! promtool check metrics <"$file" >"$tmp/promtool.out" 2>&1; then
  echo "check_metrics: promtool check metrics failed:" >&2
  sed 's/^/  /' "$tmp/promtool.out" >&2
  fail=1
fi

"$py" - "$file" <<'PY' || fail=1
import math, sys
from prometheus_client.parser import text_string_to_metric_families

path = sys.argv[1]
with open(path, "rb") as f:
    raw = f.read()
problems = []
try:
    text = raw.decode("utf-8")
except UnicodeDecodeError as e:
    sys.exit(f"check_metrics: not UTF-8: {e}")
if text and not text.endswith("\n"):
    problems.append("the exposition does not end with a newline")
declared = {}
for line in text.splitlines():
    if line.startswith("# TYPE "):
        parts = line.split(" ")
        if len(parts) != 4:
            problems.append(f"malformed TYPE line: {line!r}")
            continue
        if parts[2] in declared:
            problems.append(f"TYPE of '{parts[2]}' given twice")
        declared[parts[2]] = parts[3]
try:
    families = list(text_string_to_metric_families(text))
except Exception as e:
    sys.exit(f"check_metrics: prometheus_client cannot parse it: {e}")

seen = set()
for fam in families:
    if fam.name in seen:
        problems.append(f"family '{fam.name}' is split (its samples are not together)")
    seen.add(fam.name)
    if fam.type == "unknown":
        problems.append(f"family '{fam.name}' has no TYPE line")
    if fam.type == "counter":
        for s in fam.samples:
            if s.name.endswith("_created"):
                continue
            if math.isnan(s.value) or s.value < 0:
                problems.append(f"counter sample {s.name}{s.labels} is {s.value}")
    if fam.type != "histogram":
        continue
    series = {}
    for s in fam.samples:
        key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
        d = series.setdefault(key, {"buckets": [], "sum": None, "count": None})
        if s.name == fam.name + "_bucket":
            if "le" not in s.labels:
                problems.append(f"{s.name}{dict(key)}: bucket without le")
                continue
            d["buckets"].append((float(s.labels["le"]), s.value))
        elif s.name == fam.name + "_sum":
            d["sum"] = s.value
        elif s.name == fam.name + "_count":
            d["count"] = s.value
        else:
            problems.append(f"unexpected sample '{s.name}' in histogram '{fam.name}'")
    for key, d in series.items():
        where = f"{fam.name}{dict(key)}"
        b = d["buckets"]
        if not b:
            problems.append(f"{where}: no buckets")
            continue
        les = [le for le, _ in b]
        if les != sorted(les) or len(set(les)) != len(les):
            problems.append(f"{where}: bucket bounds not in increasing order: {les}")
        if les[-1] != math.inf:
            problems.append(f"{where}: no le=\"+Inf\" bucket")
        vals = [v for _, v in b]
        if any(y < x for x, y in zip(vals, vals[1:])):
            problems.append(f"{where}: buckets are not cumulative: {vals}")
        if d["count"] is None or d["sum"] is None:
            problems.append(f"{where}: missing _count or _sum")
        elif les[-1] == math.inf and d["count"] != vals[-1]:
            problems.append(f"{where}: _count {d['count']} differs from the +Inf bucket {vals[-1]}")
for p in problems:
    print(f"check_metrics: {p}", file=sys.stderr)
sys.exit(1 if problems else 0)
PY

if [ "$fail" -ne 0 ]; then
  echo "check_metrics: '$src' is not a valid exposition" >&2
  exit 1
fi
echo "check_metrics: '$src' is valid ($(grep -c '^# TYPE ' "$file" || true) families)"
