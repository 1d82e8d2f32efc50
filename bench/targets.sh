#!/usr/bin/env bash
# bench/targets.sh RAW.jsonl [OUT.md] - issue-9 targets from one peers run.
#
# Reads the per-run lines of one bench/peers/run.sh invocation (every
# system ran in every round, interleaved) and compares crawllog with each
# peer ROUND BY ROUND: ratio = crawllog / peer within a round, reported as
# the median over rounds with its min-max.  Prints a markdown table (and
# writes it to OUT.md when given); exits 0 even when a target is missed
# (the table says so: this is a report, not a gate).
#
# Targets (docs/BENCHMARKS.md):
#   W1 msg/s   >= 1.5x sqlite and >= 3x redis, every mode
#   W1 msg/s   >= 0.5x idealog (within 2x of the ceiling), none and batch
#   W2 msg/s   >= 1.2x sqlite, every mode
#   W3 p50 and p99 <= redis (ratio <= 1), every mode
#   W4 p50     <= 1.15x the raw fdatasync floor, measured twice: limits
#              fdatasync4k append (a 4 KiB write + fdatasync at the end of a
#              growing file) and idealog W4 (the same 124-byte record written
#              and fdatasync'd at the end of a growing file)
# Info rows (no goal): W4 against the overwrite floor (a preallocated file),
# and W3's durable-ack latency (send -> fdatasync returned, crawllog's acker
# thread) against Redis' end-to-end latency (Redis `always` hands a message
# to the consumer only after its AOF fsync).
# Variant rows (an "opt") are never the crawllog side of a target.
set -euo pipefail
RAW=${1:?usage: targets.sh RAW.jsonl [OUT.md]}
OUT=${2:-}

table=$(jq -r -s '
  def median: sort | if length == 0 then null
      elif length % 2 == 1 then .[(length - 1) / 2]
      else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  def f2: if . == null then "-" else ((. * 100 | round) / 100 | tostring) end;
  def human: if . == null then "-"
      elif . >= 1e6 then ((. / 1e4 | round) / 100 | tostring) + " M"
      elif . >= 1e3 then ((. / 10 | round) / 100 | tostring) + " k"
      else ((. * 10 | round) / 10 | tostring) end;
  . as $all
  | def rows($sys; $w; $m): [$all[] | select(.system == $sys and .workload == $w
                          and .mode == $m and ((.opt // "") == ""))];
    def byrun($rows): reduce $rows[] as $x ({}; .[($x.run | tostring)] = $x);
    # one target line: crawllog field f vs peer field g (same or scaled)
    def target($lbl; $w; $m; $peer; $pw; $pm; $f; $g; $cmp; $goal):
      (byrun(rows("crawllog"; $w; $m))) as $c
      | (byrun(rows($peer; $pw; $pm))) as $p
      | [ $c | keys[] | select($p[.] != null)
          | ($c[.][$f]) / ($p[.][$g]) ] as $r
      | if ($r | length) == 0 then empty else
        { label: $lbl, mode: $m, peer: ($peer + (if $pw != $w then " " + $pw + " " + $pm else "" end)),
          crawllog: ([$c[] | .[$f]] | median), peerv: ([$p[] | .[$g]] | median),
          ratio: ($r | median), rmin: ($r | min), rmax: ($r | max), rounds: ($r | length),
          goal: $goal,
          met: (if $cmp == "info" then null
                elif $cmp == "ge" then ($r | median) >= $goal
                else ($r | median) <= $goal end) }
        end;
    [ (["none","batch","always"][] as $m |
         target("W1 msg/s vs sqlite"; "W1"; $m; "sqlite"; "W1"; $m; "msg_per_s"; "msg_per_s"; "ge"; 1.5),
         target("W1 msg/s vs redis"; "W1"; $m; "redis"; "W1"; $m; "msg_per_s"; "msg_per_s"; "ge"; 3)),
      (["none","batch"][] as $m |
         target("W1 msg/s vs idealog"; "W1"; $m; "idealog"; "W1"; $m; "msg_per_s"; "msg_per_s"; "ge"; 0.5)),
      (["none","batch","always"][] as $m |
         target("W2 msg/s vs sqlite"; "W2"; $m; "sqlite"; "W2"; $m; "msg_per_s"; "msg_per_s"; "ge"; 1.2)),
      (["none","batch","always"][] as $m |
         target("W3 p50 vs redis"; "W3"; $m; "redis"; "W3"; $m; "p50_us"; "p50_us"; "le"; 1),
         target("W3 p99 vs redis"; "W3"; $m; "redis"; "W3"; $m; "p99_us"; "p99_us"; "le"; 1)),
      target("W4 p50 vs fdatasync floor"; "W4"; "always"; "limits"; "fdatasync4k"; "append"; "p50_us"; "p50_us"; "le"; 1.15),
      target("W4 p50 vs raw write+fdatasync of the same record"; "W4"; "always"; "idealog"; "W4"; "always"; "p50_us"; "p50_us"; "le"; 1.15),
      target("W4 p50 vs overwrite floor (info)"; "W4"; "always"; "limits"; "fdatasync4k"; "overwrite"; "p50_us"; "p50_us"; "info"; 0),
      (["batch","always"][] as $m |
         target("W3 ack p50 vs redis e2e p50 (info)"; "W3"; $m; "redis"; "W3"; $m; "ack_p50_us"; "p50_us"; "info"; 0),
         target("W3 ack p99 vs redis e2e p99 (info)"; "W3"; $m; "redis"; "W3"; $m; "ack_p99_us"; "p99_us"; "info"; 0))
    ]
  | (["| target | mode | peer | crawllog (median) | peer (median) | ratio, median of rounds (min-max) | goal | met |",
       "|---|---|---|---:|---:|---:|---:|---|"][]),
    (.[] | "| \(.label) | \(.mode) | \(.peer) | \(.crawllog | human) | \(.peerv | human) | \(.ratio | f2)x (\(.rmin | f2)-\(.rmax | f2), \(.rounds) rounds) | \(if .met == null then "-" elif .label | test("p50|p99") then "<= \(.goal)x" else ">= \(.goal)x" end) | \(if .met == null then "info" elif .met then "yes" else "**no**" end) |")
' "$RAW")
echo "$table"
if [ -n "$OUT" ]; then
    echo "$table" >"$OUT"
fi
