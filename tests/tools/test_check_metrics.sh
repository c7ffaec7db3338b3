#!/usr/bin/env bash
# The metrics exposition against the real Prometheus parsers, through
# tests/tools/check_metrics.sh: the sample registry (tests/tools/metrics_sample.c)
# as a file and scraped live over HTTP, and broken expositions, which the
# checker must refuse (a checker that passes everything proves nothing).
. "$(dirname "$0")/../cli/tap.sh"
: "${RANPIPE_METRICS_SAMPLE:?RANPIPE_METRICS_SAMPLE must point at ranpipe-metrics-sample}"
CHECK=$(dirname "$0")/check_metrics.sh

expect_exit 0 "the sample renders" "$RANPIPE_METRICS_SAMPLE"
printf '%s\n' "$OUT" >"$T/sample.prom"
expect_exit 0 "the sample passes promtool and prometheus_client" "$CHECK" "$T/sample.prom"
ok_if "the sample has every type" \
  grep -qx '# TYPE ranpipe_sample_latency_seconds histogram' "$T/sample.prom"

# Live: serve the sample on a free port and scrape it.
coproc SRV { "$RANPIPE_METRICS_SAMPLE" --serve 127.0.0.1:0; }
read -r -t 10 url <&"${SRV[0]}" || url=
ok_if "the sample server prints its URL" grep -qE '^http://127\.0\.0\.1:[0-9]+/metrics$' <<<"$url"
expect_exit 0 "the live endpoint passes (status, content type, body)" "$CHECK" "$url"
expect_exit 1 "a 404 is refused" "$CHECK" "${url%/metrics}/nope"
eval "exec ${SRV[1]}>&-" # closing its stdin stops the server
wait "$SRV_PID" 2>/dev/null
ok_if "the sample server stops when stdin closes" true

# Broken expositions, each a small mutation of a valid one.
good='# HELP rp_x_seconds Latency
# TYPE rp_x_seconds histogram
rp_x_seconds_bucket{le="1"} 1
rp_x_seconds_bucket{le="+Inf"} 2
rp_x_seconds_sum 3.5
rp_x_seconds_count 2
# HELP rp_y_total Things
# TYPE rp_y_total counter
rp_y_total{k="a\"b\\c\nd"} 3'
printf '%s\n' "$good" >"$T/good.prom"
expect_exit 0 "the unmutated exposition passes" "$CHECK" "$T/good.prom"

i=0
bad() { # name, then sed expression turning good into broken
  i=$((i + 1))
  sed -e "$2" "$T/good.prom" >"$T/bad$i.prom"
  if cmp -s "$T/good.prom" "$T/bad$i.prom"; then
    tap_result 1 "mutation '$1' changed nothing"
    return
  fi
  expect_exit 1 "refused: $1" "$CHECK" "$T/bad$i.prom"
}
bad "buckets not cumulative" 's/le="+Inf"} 2/le="+Inf"} 0/; s/_count 2/_count 0/'
bad "no +Inf bucket" '/le="+Inf"/d'
bad "_count differs from +Inf" 's/_count 2/_count 5/'
bad "no _sum" '/_sum/d'
bad "unescaped quote in a label value" 's/a\\"b/a"b/'
bad "raw newline in a label value" 's/\\nd"/\nd"/'
bad "bad escape in a label value" 's/\\nd"/\\qd"/'
bad "value not a number" 's/_total{k=\(.*\)} 3/_total{k=\1} 3.x/'
bad "invalid metric name" 's/^rp_y_total{/rp-y_total{/'
bad "sample without TYPE" '/TYPE rp_y_total/d'
bad "a counter gone negative" 's/} 3$/} -3/'
bad "a second TYPE for a family" '$a # TYPE rp_y_total counter'
bad "bucket bounds out of order" 's/le="1"/le="7"/; s/le="+Inf"/le="2"/'
expect_exit 2 "a missing file is a usage error" "$CHECK" "$T/missing.prom"

done_testing
