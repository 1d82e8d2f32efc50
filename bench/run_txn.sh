#!/usr/bin/env bash
# bench/run_txn.sh - issue 10's benchmark with $BUILDDIR/bench/bench_txn (see
# its header comment for the pipeline and what is timed): consume-transform-
# produce of M messages (100-byte values, 4 partitions), one process, with
# and without transactions, durable both ways.  Cases:
#   target   unit 1000: plain acks=all, txn acks=all, plain acks=1 (+ one
#            durable flush per unit), txn acks=1 (the commit makes it
#            durable)
#   curve    txn acks=1 with transactions of 1, 10, 100, 10000 messages
#            (1000 is in target), and plain acks=1 at 1 and 10000; small
#            units process fewer messages (about CURVE_UNITS units, at
#            most M)
#   permsg   plain acks=all committing every message (the at-least-once
#            loop without batching), PERMSG messages
# Each case runs RUNS times, cases interleaved round by round; every run
# gets a fresh data directory, after a sync.  The ratio txn / plain (unit
# 1000, same acks) is computed per round, then its median.
#
# Knobs (env): RUNS (3), SWEEPS ("target curve permsg"), DATA
#   (/tmp/crawllog-txn, deleted at the end and on interrupt), OUT
#   (build/bench/results), BUILDDIR (build), M (500000), P (4), CURVE_UNITS
#   (2000), PERMSG (5000).
# Writes OUT/txn-<stamp>.jsonl (every run line, then one median line per
# case: "run":"median", "runs", msg_per_s_min/max, commit p50/p99 medians,
# peak_rss_kb_max; then one "ratio" line per acks) and OUT/txn-<stamp>.md.
# A failed run is reported on stderr and in the .md; the script then exits
# 1 at the end.
#
#   make bench-txn                (or: bench/run_txn.sh; it builds first)
#   RUNS=1 SWEEPS=target M=50000 bench/run_txn.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
SWEEPS=${SWEEPS:-target curve permsg}
DATA=${DATA:-/tmp/crawllog-txn}
OUT=${OUT:-build/bench/results}
BUILDDIR=${BUILDDIR:-build}
M=${M:-500000}
P=${P:-4}
CURVE_UNITS=${CURVE_UNITS:-2000}
PERMSG=${PERMSG:-5000}
B=$BUILDDIR/bench/bench_txn

make -s BUILDDIR="$BUILDDIR" "$B" >&2
mkdir -p "$OUT"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
jsonl=$OUT/txn-$stamp.jsonl
md=$OUT/txn-$stamp.md
failed=$OUT/txn-$stamp.failed
: >"$jsonl"
child=
runout=$(mktemp)
cleanup() {
  if [ -n "$child" ]; then kill "$child" 2>/dev/null || true; wait "$child" 2>/dev/null || true; fi
  rm -rf "$DATA" "$runout"
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

# Messages for a unit of u on the curve: about CURVE_UNITS units, <= M.
curve_n() {
  local n=$(( $1 * CURVE_UNITS ))
  [ "$n" -gt "$M" ] && n=$M
  echo "$n"
}

# One line per case: "<sweep>|<bench_txn arguments>".
cases() {
  local s=$1 u
  case $s in
    target)
      for a in all 1; do
        echo "$s|-x plain -a $a -b 1000 -n $M"
        echo "$s|-x txn -a $a -b 1000 -n $M"
      done ;;
    curve)
      for u in 1 10 100 10000; do
        echo "$s|-x txn -a 1 -b $u -n $(curve_n "$u")"
      done
      echo "$s|-x plain -a 1 -b 1 -n $(curve_n 1)"
      echo "$s|-x plain -a 1 -b 10000 -n $M" ;;
    permsg)
      echo "$s|-x plain -a all -b 1 -n $PERMSG" ;;
    *) echo "unknown sweep $s" >&2; exit 2 ;;
  esac
}

t_start=$(date +%s)
for run in $(seq 1 "$RUNS"); do
  for sweep in $SWEEPS; do
    while IFS= read -r c; do
      args=${c#*|}
      sync # untimed: no dirty pages of the previous run left to write back
      # shellcheck disable=SC2086
      "$B" $args -p "$P" -d "$DATA" -S "$sweep" -R "$run" >"$runout" &
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

# Median line per case, then the per-round ratio txn / plain at unit 1000.
medians=$(jq -s -c '
  def med: sort as $a | ($a | length) as $n
    | if $n % 2 == 1 then $a[($n - 1) / 2 | floor]
      else ($a[$n / 2 - 1] + $a[$n / 2]) / 2 end;
  (map(select(.run != "median"))
   | group_by([.sweep, .mode, .acks, .unit])
   | map(. as $g | $g[0] + {
       msgs: ([$g[].msgs] | med), secs: ([$g[].secs] | med),
       msg_per_s: ([$g[].msg_per_s] | med),
       commit_p50_us: ([$g[].commit_p50_us] | med),
       commit_p99_us: ([$g[].commit_p99_us] | med),
       commit_max_us: ([$g[].commit_max_us] | max),
       txn_commit_p50_us: ([$g[].txn_commit_p50_us] | med),
       unit_p50_us: ([$g[].unit_p50_us] | med),
       unit_p99_us: ([$g[].unit_p99_us] | med),
       peak_rss_kb: ([$g[].peak_rss_kb] | med),
       run: "median", runs: ($g | length),
       msg_per_s_min: ([$g[].msg_per_s] | min),
       msg_per_s_max: ([$g[].msg_per_s] | max),
       peak_rss_kb_max: ([$g[].peak_rss_kb] | max)})
   | .[]),
  (map(select(.sweep == "target" and .unit == 1000))
   | group_by(.acks) | .[]
   | . as $a
   | [$a[] | select(.mode == "txn")] as $t
   | [$t[] | . as $x
      | ([$a[] | select(.mode == "plain" and .run == $x.run)][0]) as $p
      | select($p != null) | $x.msg_per_s / $p.msg_per_s] as $r
   | select(($r | length) > 0)
   | {bench: "txn", run: "ratio", acks: $a[0].acks, unit: 1000,
      ratios: $r, ratio: ($r | med), ratio_min: ($r | min),
      ratio_max: ($r | max)})' "$jsonl")
printf '%s\n' "$medians" >>"$jsonl"

{
  echo "# Transactions benchmark $stamp"
  echo
  echo "bench/run_txn.sh: RUNS=$RUNS, M=$M, P=$P, CURVE_UNITS=$CURVE_UNITS," \
       "PERMSG=$PERMSG, DATA=$DATA, $(nproc) CPUs, host $(hostname)," \
       "total ${t_total} s.  msg/s: median (min-max) of the runs;" \
       "commit: the end of a unit (plain: [flush +] commit_offsets; txn:" \
       "send_offsets + commit), median of the runs' p50 / p99; txn_commit:" \
       "crawllog_txn_commit() alone, p50; unit: a whole unit (first poll" \
       "to its end), p50 / p99;" \
       "peak RSS: max over runs."
  printf '%s\n' "$medians" | jq -s -r '
    def r(d): (. * pow(10; d) | round) / pow(10; d);
    def rate: "\(.msg_per_s | round) (\(.msg_per_s_min | round)-\(.msg_per_s_max | round))";
    def lat: "\(.commit_p50_us | r(1)) / \(.commit_p99_us | r(1))";
    def ulat: "\(.unit_p50_us | r(1)) / \(.unit_p99_us | r(1))";
    def rss: "\(.peak_rss_kb_max / 1024 | r(1))";
    (map(select(.run == "ratio")) | sort_by(.acks)
     | if length > 0 then
       "\n## Target: txn / plain at 1000 messages per unit (per-round ratio, median)\n",
       "| acks | ratio median (min-max) | rounds | target >= 0.5 |",
       "|---|---:|---:|---|",
       (.[] | "| \(.acks) | \(.ratio | r(3)) (\(.ratio_min | r(3))-\(.ratio_max | r(3))) | \(.ratios | length) | \(if .ratio >= 0.5 then "met" else "NOT met" end) |")
       else empty end),
    (map(select(.run == "median")) | sort_by(.sweep, .acks, .unit, .mode)
     | if length > 0 then
       "\n## Runs (medians)\n",
       "| sweep | mode | acks | msgs per unit | msgs | msg/s median (min-max) | commit p50 / p99 us | txn_commit p50 us | unit p50 / p99 us | peak RSS MiB |",
       "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
       (.[] | "| \(.sweep) | \(.mode) | \(.acks) | \(.unit) | \(.msgs) | \(rate) | \(lat) | \(.txn_commit_p50_us | r(1)) | \(ulat) | \(rss) |")
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
