#!/usr/bin/env bash
# bench/run_bench.sh - `make bench`: libcrawllog side by side with Redis
# Streams, SQLite (WAL), the raw "ideal log" ceiling and the machine's
# physical limits, in ONE invocation of the peer harness (bench/peers/run.sh):
# W1 produce, W2 consume + commit, W3 end-to-end latency in the three
# durability modes (none, batch, always), W4 durable single acks (always by
# definition), every case RUNS times, rounds interleaved; then the issue-9
# targets as same-round ratios (bench/targets.sh).
#
#   make bench                         # RUNS=3: about 15 minutes
#   RUNS=5 make bench
#   RUNS=1 WORKLOADS="W1" make bench   # any knob of bench/peers/run.sh
#
# Installs what the peers need when it is missing (bench/peers/setup.sh:
# redis-server, libhiredis-dev, libsqlite3-dev, jq, fio; apt-get, as root or
# through sudo).  Redis is started on 127.0.0.1:16379 only, per case, and
# stopped by its PID.  Results: $RESULTS (default build/bench/results):
# raw-<stamp>.jsonl (every run), summary-<stamp>.{jsonl,md} (medians),
# targets-<stamp>.md (the target table).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)

missing=0
for c in jq redis-server; do command -v "$c" >/dev/null 2>&1 || missing=1; done
[ -f /usr/include/hiredis/hiredis.h ] || missing=1
[ -f /usr/include/sqlite3.h ] || missing=1
if [ "$missing" = 1 ]; then
    echo "bench: installing the peers' packages (bench/peers/setup.sh)" >&2
    if [ "$(id -u)" = 0 ]; then "$HERE/peers/setup.sh"; else sudo "$HERE/peers/setup.sh"; fi
fi

export RUNS=${RUNS:-3}
export SYSTEMS=${SYSTEMS:-"limits idealog sqlite redis crawllog"}
export RESULTS=${RESULTS:-$ROOT/build/bench/results}
mkdir -p "$RESULTS"
before=$(ls -t "$RESULTS"/raw-*.jsonl 2>/dev/null | head -1 || true)
"$HERE/peers/run.sh"
raw=$(ls -t "$RESULTS"/raw-*.jsonl | head -1)
if [ "$raw" = "$before" ]; then
    echo "bench: no new results in $RESULTS" >&2
    exit 1
fi
stamp=${raw##*/raw-}
stamp=${stamp%.jsonl}
echo
echo "# issue-9 targets (crawllog / peer, per round):"
"$HERE/targets.sh" "$raw" "$RESULTS/targets-$stamp.md"
echo "# results: $raw"
echo "#          $RESULTS/summary-$stamp.md"
echo "#          $RESULTS/targets-$stamp.md"
