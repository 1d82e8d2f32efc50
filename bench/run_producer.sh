#!/usr/bin/env bash
# bench/run_producer.sh - issue 3's producer targets (docs/BENCHMARKS.md,
# "Producer").  Runs build/bench/bench_producer RUNS times (default 3) per
# case, interleaved, and prints every run plus a median line per case
# (msg/s, p50/p99 of the per-call latency).  Compare with the peers run of
# the same session (bench/peers/run.sh, W1 and W4).
#
#   make bench-build && bench/run_producer.sh            # ~2 min
#   RUNS=5 DIR=/var/tmp/bp bench/run_producer.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
DIR=${DIR:-/tmp/crawllog-bench-producer}
B=build/bench/bench_producer
[ -x "$B" ] || make -s bench-build
CASES=(
  "acks0_single|-a 0 -n 3000000"
  "acks1_batch1000|-a 1 -b 1000 -n 2000000"
  "acksall_batch1000|-a all -b 1000 -n 2000000"
  "acksall_single|-a all -n 5000"
  "acksall_single_8threads|-a all -n 20000 -t 8"
)
out=$(mktemp)
trap 'rm -f "$out"; rm -rf "$DIR"' EXIT
for run in $(seq 1 "$RUNS"); do
  for c in "${CASES[@]}"; do
    name=${c%%|*}; args=${c#*|}
    # shellcheck disable=SC2086
    line=$($B $args -d "$DIR")
    echo "{\"case\":\"$name\",\"run\":$run,${line#\{}" | tee -a "$out"
  done
done
python3 - "$out" <<'PY'
import json, sys, statistics
rows = [json.loads(l) for l in open(sys.argv[1])]
by = {}
for r in rows:
    by.setdefault(r["case"], []).append(r)
for case, rs in by.items():
    med = lambda k: statistics.median(r[k] for r in rs)
    print(json.dumps({"case": case, "run": "median", "runs": len(rs),
                      "msg_per_s": med("msg_per_s"),
                      "msg_per_s_min": min(r["msg_per_s"] for r in rs),
                      "msg_per_s_max": max(r["msg_per_s"] for r in rs),
                      "p50_us": med("p50_us"), "p99_us": med("p99_us")}))
PY
