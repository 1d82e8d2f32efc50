#!/usr/bin/env bash
# bench/run_consumer.sh - the consumer-group targets (docs/BENCHMARKS.md):
# W2 (one group consumer reads N preloaded messages, commit after every
# poll) and W3 (paced producer -> consumer in another process, end-to-end
# latency), each in the three durability modes, for crawllog and its peers
# in ONE bench/peers/run.sh invocation (runs interleaved, medians at the
# end), then a check of crawllog's medians against the targets:
#   W2 none   >= 8 M msg/s        W2 always (durable commits) >= 2 M msg/s
#   W3 (20 k msg/s)  p50 <= 40 us, p99 <= 300 us
#
#   bench/run_consumer.sh                              # ~4 min, RUNS=3
#   RUNS=5 SYSTEMS="crawllog idealog" bench/run_consumer.sh
# Needs jq, and redis-server for the redis peer (bench/peers/setup.sh).
# Also runs the variant crawllog[thread] (W3 consumer in a thread of the
# producer process) and redis[sync_producer] (W3).  Other knobs: see the
# header of bench/peers/run.sh (N, RATE, DURATION, DATA, ...).
set -euo pipefail
cd "$(dirname "$0")/peers"
export RUNS=${RUNS:-3}
export SYSTEMS=${SYSTEMS:-"crawllog sqlite redis idealog"}
export WORKLOADS="W2 W3"
export MODES_W2=${MODES_W2:-"none batch always"}
export MODES_W3=${MODES_W3:-"none batch always"}
export RESULTS=${RESULTS:-$PWD/results}
mkdir -p "$RESULTS"
before=$(ls -t "$RESULTS"/summary-*.jsonl 2>/dev/null | head -1 || true)
./run.sh
sum=$(ls -t "$RESULTS"/summary-*.jsonl | head -1)
if [ "$sum" = "$before" ]; then
  echo "no new summary in $RESULTS" >&2
  exit 1
fi
echo "# targets (crawllog medians):"
jq -r '
  select(.system == "crawllog") |
  if .workload == "W2" and .mode == "none" then
    "W2 none   \(.msg_per_s) msg/s (>= 8000000): \(if .msg_per_s >= 8000000 then "met" else "MISSED" end)"
  elif .workload == "W2" and .mode == "always" then
    "W2 always \(.msg_per_s) msg/s (>= 2000000): \(if .msg_per_s >= 2000000 then "met" else "MISSED" end)"
  elif .workload == "W3" then
    "W3 \(.mode) p50 \(.p50_us) us (<= 40), p99 \(.p99_us) us (<= 300): \(if .p50_us <= 40 and .p99_us <= 300 then "met" else "MISSED" end)"
  else empty end' "$sum"
echo "# summary: $sum"
echo "#          ${sum%.jsonl}.md"
