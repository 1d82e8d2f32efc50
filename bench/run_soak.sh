#!/usr/bin/env bash
# bench/run_soak.sh - issue 9's soak: a retention-bounded run of
# bench_soak (bench/bench_soak.c) at a fixed rate, checking that latency,
# RSS, fds and disk use stay flat.  Builds the benchmarks, runs it, tees its
# JSON lines (one per interval, then the summary) to
# $OUT/soak-<UTC stamp>.jsonl, prints the summary readably, deletes the data
# directory (also on Ctrl-C / SIGTERM, which end the run early with a
# summary of what ran) and exits with bench_soak's status: 0 flat, 1 not
# flat, 2 error.
#
#   bench/run_soak.sh       (or make bench-soak)  # 1 hour, 5000 msg/s
#   SECS=60 bench/run_soak.sh -i 5             # a quick check
#   SECS=120 RETENTION=4194304 SEGMENT=1048576 bench/run_soak.sh -i 5
#
# Knobs (environment): SECS (3600), RATE (5000 msg/s), SIZE (1000-byte
# values), PARTS (8), ACKS (1), RETENTION (bytes per partition, 33554432),
# SEGMENT (segment.bytes, 4194304), INTERVAL (report seconds, 10), DATA
# (/tmp/crawllog-soak, wiped first and deleted at the end), OUT
# (build/bench/results), BUILDDIR (build).  Other arguments go to
# bench_soak as they are (see its header comment for the options).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
SECS=${SECS:-3600}
RATE=${RATE:-5000}
SIZE=${SIZE:-1000}
PARTS=${PARTS:-8}
ACKS=${ACKS:-1}
RETENTION=${RETENTION:-33554432}
SEGMENT=${SEGMENT:-4194304}
INTERVAL=${INTERVAL:-10}
DATA=${DATA:-/tmp/crawllog-soak}
OUT=${OUT:-build/bench/results}
BUILDDIR=${BUILDDIR:-build}
BIN=$BUILDDIR/bench/bench_soak

case "$DATA" in
"" | / | "$HOME" | /tmp | /tmp/) echo "run_soak: refusing DATA=$DATA" >&2; exit 2 ;;
esac

# All benchmark programs (make bench-build: `make bench` would also run the
# side-by-side benchmarks); if another one does not build right now,
# bench_soak alone.
if ! make -s BUILDDIR="$BUILDDIR" bench-build >&2; then
  echo "run_soak: make bench-build failed; building $BIN alone" >&2
  make -s BUILDDIR="$BUILDDIR" "$BIN" >&2 || exit 2
fi
mkdir -p "$OUT" || exit 2
stamp=$(date -u +%Y%m%dT%H%M%SZ)
log=$OUT/soak-$stamp.jsonl

: > "$log" || exit 2
pid=
# shellcheck disable=SC2317  # called through the EXIT trap
cleanup() {
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null
  [ -n "$pid" ] && wait "$pid" 2>/dev/null
  rm -rf -- "$DATA"
}
trap cleanup EXIT
# Ctrl-C / SIGTERM: bench_soak stops producing, drains, prints its summary.
trap '[ -n "$pid" ] && kill -INT "$pid" 2>/dev/null' INT TERM

echo "run_soak: $BIN -d $DATA -t $SECS -r $RATE -s $SIZE -p $PARTS -a $ACKS" \
     "-R $RETENTION -S $SEGMENT -i $INTERVAL $* > $log" >&2
"$BIN" -d "$DATA" -t "$SECS" -r "$RATE" -s "$SIZE" -p "$PARTS" -a "$ACKS" \
  -R "$RETENTION" -S "$SEGMENT" -i "$INTERVAL" "$@" > "$log" &
pid=$!
tail -n +1 -f --pid="$pid" "$log" &
tailpid=$!
# wait returns early (status > 128) when a trapped signal arrives: wait again.
while :; do
  wait "$pid"
  st=$?
  kill -0 "$pid" 2>/dev/null || break
done
wait "$tailpid" 2>/dev/null
pid=

summary=$(grep '"summary":true' "$log" | tail -n 1)
if [ -n "$summary" ]; then
  echo "run_soak: summary ($log):"
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import json,sys
s = json.loads(sys.argv[1])
for k, v in s.items():
    print("  %-24s %s" % (k, v))' "$summary"
  else
    echo "$summary"
  fi
else
  echo "run_soak: no summary line in $log" >&2
fi
echo "run_soak: bench_soak exited $st" >&2
exit "$st"
