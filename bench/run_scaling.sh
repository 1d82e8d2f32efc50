#!/usr/bin/env bash
# bench/run_scaling.sh - issue 9's scaling runs with $BUILDDIR/bench/bench_scale
# (see its header comment for what each mode measures).  Sweeps:
#   partitions  P = 1 2 4 8 16 32 64: produce (acks=1, batches, 1 thread) and
#               consume (1 consumer), N messages of 100-byte values
#   threads     T = 1 2 4 8 producer threads on 8 partitions: acks=1 batch
#               sends (N messages) and acks=all single sends (-b 1, NALL
#               messages: the group commit)
#   consumers   K = 1 2 4 8 16 29 consumer processes of one group on 32
#               partitions: N messages with -w 0 (CPU-bound) and NWORK
#               messages with -w 1000 (1 ms of "crawl" per message); plus
#               K = 29 on 58 partitions with -w 1000 (an even spread)
#   size        s = 100 1024 10240 102400 1048576 byte values, N = BYTES /
#               (16 + s), 8 partitions: crawllog produce + consume, and the
#               raw write(2)/pread(2) ceiling (bench_scale -x raw)
# Each case runs RUNS times, cases interleaved round by round; every run
# gets a fresh data directory, after a sync (no dirty pages of the previous
# run left to write back during this one).
#
# Knobs (env): RUNS (3), SWEEPS ("partitions threads consumers size"),
#   DATA (/tmp/crawllog-scale, deleted at the end and on interrupt),
#   OUT (build/bench/results), BUILDDIR (build), N (1000000),
#   NALL (20000), NWORK (29000), BYTES (536870912 = 512 MiB).
# Writes OUT/scaling-<stamp>.jsonl (every run line, then one median line
# per case: "run":"median", "runs", msg_per_s_min/max, p99_us_min/max,
# peak_rss_kb_max) and OUT/scaling-<stamp>.md (one table per sweep).
# A run that fails is reported on stderr and in the .md; the script then
# exits 1 at the end.
#
# Duration on the 2-vCPU dev VM (DATA on ext4, 2026-11-27): the defaults,
# RUNS=3, took 277 s (quiet machine) and 328 s (another benchmark running);
# the -w 1000 consumer runs are most of it (29 s at K=1), so N was not
# reduced.  The -w 0 consumer and partition runs last only ~0.1-0.2 s each
# at N=1000000: raise N for steadier numbers there.
#
#   make bench-scaling            (or: bench/run_scaling.sh; it builds first)
#   RUNS=1 SWEEPS="size consumers" N=100000 bench/run_scaling.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
SWEEPS=${SWEEPS:-partitions threads consumers size}
DATA=${DATA:-/tmp/crawllog-scale}
OUT=${OUT:-build/bench/results}
BUILDDIR=${BUILDDIR:-build}
N=${N:-1000000}
NALL=${NALL:-20000}
NWORK=${NWORK:-29000}
BYTES=${BYTES:-536870912}
B=$BUILDDIR/bench/bench_scale

make -s BUILDDIR="$BUILDDIR" bench-build >&2
mkdir -p "$OUT"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
jsonl=$OUT/scaling-$stamp.jsonl
md=$OUT/scaling-$stamp.md
failed=$OUT/scaling-$stamp.failed
: >"$jsonl"
child=
runout=$(mktemp)
cleanup() {
  if [ -n "$child" ]; then kill "$child" 2>/dev/null || true; wait "$child" 2>/dev/null || true; fi
  rm -rf "$DATA" "$runout"
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

# One line per case: "<sweep>|<bench_scale arguments>".
cases() {
  local s=$1 x
  case $s in
    partitions)
      for x in 1 2 4 8 16 32 64; do
        echo "$s|-x produce -p $x -n $N"
        echo "$s|-x consume -p $x -k 1 -n $N"
      done ;;
    threads)
      for x in 1 2 4 8; do
        echo "$s|-x produce -p 8 -t $x -a 1 -n $N"
        echo "$s|-x produce -p 8 -t $x -a all -b 1 -n $NALL"
      done ;;
    consumers)
      for x in 1 2 4 8 16 29; do
        echo "$s|-x consume -p 32 -k $x -n $N -w 0"
        echo "$s|-x consume -p 32 -k $x -n $NWORK -w 1000"
      done
      # 29 members on 32 partitions: 3 own two, so the group runs at the
      # pace of 16; with 58 (a multiple of 29) every member owns two.
      echo "$s|-x consume -p 58 -k 29 -n $NWORK -w 1000" ;;
    size)
      for x in 100 1024 10240 102400 1048576; do
        echo "$s|-x produce -p 8 -s $x -B $BYTES"
        echo "$s|-x consume -p 8 -s $x -B $BYTES"
        echo "$s|-x raw -p 8 -s $x -B $BYTES"
      done ;;
    *) echo "unknown sweep $s" >&2; exit 2 ;;
  esac
}

t_start=$(date +%s)
for run in $(seq 1 "$RUNS"); do
  for sweep in $SWEEPS; do
    while IFS= read -r c; do
      args=${c#*|}
      sync # untimed: no dirty pages of the previous run left to write back
      # In the background, so that a signal runs the trap at once (which
      # stops the run: its consumers notice their parent is gone).
      # shellcheck disable=SC2086
      "$B" $args -d "$DATA" -S "$sweep" -R "$run" >"$runout" &
      child=$!
      rc=0
      wait "$child" || rc=$?
      child=
      if [ "$rc" -eq 0 ]; then
        tee -a "$jsonl" <"$runout"
      else
        echo "FAILED (rc $rc): $B $args (run $run)" | tee -a "$failed" >&2
      fi
    done < <(cases "$sweep")
  done
done
t_total=$(( $(date +%s) - t_start ))

# Median line per case.
medians=$(jq -s -c '
  def med: sort as $a | ($a | length) as $n
    | if $n % 2 == 1 then $a[($n - 1) / 2 | floor]
      else ($a[$n / 2 - 1] + $a[$n / 2]) / 2 end;
  group_by([.sweep, .system, .op, .partitions, .threads, .consumers,
            .work_us, .msg_bytes, .acks, .batch])
  | map(. as $g | $g[0] + {
      msgs: ([$g[].msgs] | med), secs: ([$g[].secs] | med),
      msg_per_s: ([$g[].msg_per_s] | med), mb_per_s: ([$g[].mb_per_s] | med),
      p50_us: ([$g[].p50_us] | med), p99_us: ([$g[].p99_us] | med),
      max_us: ([$g[].max_us] | med),
      duplicates: ([$g[].duplicates] | max),
      peak_rss_kb: ([$g[].peak_rss_kb] | med),
      run: "median", runs: ($g | length),
      msg_per_s_min: ([$g[].msg_per_s] | min),
      msg_per_s_max: ([$g[].msg_per_s] | max),
      p99_us_min: ([$g[].p99_us] | min), p99_us_max: ([$g[].p99_us] | max),
      peak_rss_kb_max: ([$g[].peak_rss_kb] | max)}
    + (if $g[0] | has("join_ms") then {join_ms: ([$g[].join_ms] | med)}
       else {} end))
  | .[]' "$jsonl")
printf '%s\n' "$medians" >>"$jsonl"

# Markdown: one table per sweep, from the median lines.
{
  echo "# Scaling runs $stamp"
  echo
  echo "bench/run_scaling.sh: RUNS=$RUNS, N=$N, NALL=$NALL, NWORK=$NWORK," \
       "BYTES=$BYTES, DATA=$DATA, $(nproc) CPUs, host $(hostname)," \
       "total ${t_total} s.  msg/s: median (min-max) of $RUNS runs;" \
       "latency: per send_batch call (produce) or per poll + checks +" \
       "commit (consume), median of the runs' p50/p99; peak RSS: max over" \
       "runs and over the processes of a run."
  printf '%s\n' "$medians" | jq -s -r '
    def r(d): (. * pow(10; d) | round) / pow(10; d);
    def rate: "\(.msg_per_s | round) (\(.msg_per_s_min | round)-\(.msg_per_s_max | round))";
    def lat: "\(.p50_us | r(1)) / \(.p99_us | r(1))";
    def rss: "\(.peak_rss_kb_max / 1024 | r(1))";
    . as $all
    | (map(select(.sweep == "partitions")) | sort_by(.op, .partitions)
       | if length > 0 then
         "\n## Partitions (1 producer thread acks=1 batches / 1 consumer)\n",
         "| op | partitions | msg/s median (min-max) | MB/s | p50 / p99 us | peak RSS MiB |",
         "|---|---:|---:|---:|---:|---:|",
         (.[] | "| \(.op) | \(.partitions) | \(rate) | \(.mb_per_s | r(1)) | \(lat) | \(rss) |")
         else empty end),
      (map(select(.sweep == "threads")) | sort_by(.acks, .threads)
       | if length > 0 then
         "\n## Producer threads (8 partitions; acks=1: batches, acks=all: single sends)\n",
         "| acks | batch | threads | msg/s median (min-max) | MB/s | p50 / p99 us | peak RSS MiB |",
         "|---|---:|---:|---:|---:|---:|---:|",
         (.[] | "| \(.acks) | \(.batch) | \(.threads) | \(rate) | \(.mb_per_s | r(1)) | \(lat) | \(rss) |")
         else empty end),
      (map(select(.sweep == "consumers")) | sort_by(.work_us, .partitions, .consumers)
       | if length > 0 then
         "\n## Consumer processes in one group\n",
         "| work_us | partitions | consumers | msg/s median (min-max) | speed-up vs K=1 | MB/s | p50 / p99 us | join ms | duplicates | peak RSS MiB |",
         "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
         (. as $c | .[] | . as $x
          | ([$c[] | select(.work_us == $x.work_us and .consumers == 1)][0].msg_per_s) as $one
          | "| \(.work_us) | \(.partitions) | \(.consumers) | \(rate) | \(if $one then (.msg_per_s / $one | r(2)) else "-" end) | \(.mb_per_s | r(1)) | \(lat) | \(.join_ms | r(1)) | \(.duplicates) | \(rss) |")
         else empty end),
      (map(select(.sweep == "size")) | sort_by(.msg_bytes, .op, .system)
       | if length > 0 then
         "\n## Message size (8 partitions, \(.[0].msgs * .[0].msg_bytes / 1048576 | round) MiB per run)\n",
         "| msg bytes | op | system | msgs | msg/s median (min-max) | MB/s | crawllog / raw | p50 / p99 us | peak RSS MiB |",
         "|---:|---|---|---:|---:|---:|---:|---:|---:|",
         (. as $c | .[] | . as $x
          | ([$c[] | select(.system == "raw" and .op == $x.op and .msg_bytes == $x.msg_bytes)][0].mb_per_s) as $raw
          | "| \(.msg_bytes) | \(.op) | \(.system) | \(.msgs) | \(rate) | \(.mb_per_s | r(1)) | \(if .system == "crawllog" and $raw then (.mb_per_s / $raw | r(2)) else "" end) | \(lat) | \(rss) |")
         else empty end)'
  if [ -s "$failed" ]; then
    echo
    echo "## Failed runs"
    echo
    sed 's/^/    /' "$failed"
  fi
} >"$md"

echo "--- medians ---"
printf '%s\n' "$medians"
echo "total ${t_total} s"
echo "$jsonl"
echo "$md"
[ ! -s "$failed" ]
