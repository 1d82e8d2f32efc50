#!/usr/bin/env bash
# bench/run_storage.sh - issue 2's storage-layer targets, measured side by side
# with the peers in the same invocation (docs/BENCHMARKS.md).
#
#   bench/run_storage.sh                 # RUNS=5 rounds, ~3-5 min
#   RUNS=3 N=1000000 bench/run_storage.sh
#
# Every round runs every case once; rounds are interleaved (round r of every
# case before round r+1) and every round runs the cases in another (seeded
# random) order, so slow phases of the shared VM and the after-effects of one
# case on the next hit different cases.  Before every case PREWARM_MIB MiB are
# written to and deleted from the page cache (bench_limits -w seqwrite), so
# each case starts on memory the VM has backed recently (the VM hands memory
# that stayed free for ~2 s back to the host and faults it in again slowly:
# docs/BENCHMARKS.md); PREWARM_MIB=0 turns that off.
# Cases:
#   crawllog append none|written|durable   build/bench/bench_append (116-byte
#          records, batches of 1000, 8 partitions round robin; none and
#          written are followed by a timed read of everything from the page
#          cache, partition after partition: case "crawllog read")
#   idealog W1 none|always, idealog[files=1] W1 always, sqlite W1 none|always,
#   idealog W2 none,
#   crawllog W1 always (+ [parallel])      bench/peers (N_PEERS messages): the
#          peers' W1 splits every batch of 1000 over 8 partitions
#
# Knobs: RUNS (5), N (2000000: none/written), N_DURABLE (1000000),
# N_PEERS (1000000), PREWARM_MIB (512), DATA (/tmp/crawllog-storage; must be
# under /tmp), RESULTS (build/bench/results).
# Output: one JSON object per run on stdout (fields "case", "round" added), in
# $RESULTS/storage-<stamp>.jsonl; then one JSON line per case with
# "run":"median", and a markdown table of medians (min-max) and ratios
# against the peers (also saved as $RESULTS/storage-<stamp>.md).
# Needs: make, python3, libsqlite3-dev (bench/peers/setup.sh installs it).
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-5}
N=${N:-2000000}
N_DURABLE=${N_DURABLE:-1000000}
N_PEERS=${N_PEERS:-1000000}
PREWARM_MIB=${PREWARM_MIB:-512}
DATA=${DATA:-/tmp/crawllog-storage}
RESULTS=${RESULTS:-$TOP/build/bench/results}

case "$DATA" in /tmp/?*) ;; *) echo "DATA must be under /tmp" >&2; exit 1 ;; esac
command -v python3 >/dev/null || { echo "python3 is needed" >&2; exit 1; }
make -s -C "$TOP" bench-build >&2
make -s -C "$TOP/bench/peers" bench_idealog bench_sqlite bench_crawllog bench_limits >&2

APPEND=$TOP/build/bench/bench_append
PEERS=$TOP/bench/peers
mkdir -p "$DATA" "$RESULTS"
STAMP=$(date +%Y%m%d-%H%M%S)
RAW=$RESULTS/storage-$STAMP.jsonl
MD=$RESULTS/storage-$STAMP.md
: >"$RAW"

# tag LABEL ROUND [PATTERN]: prefix every JSON line on stdin (containing
# PATTERN) with "case":LABEL,"round":ROUND; save and print it
tag() {
    local label=$1 round=$2 pat=${3:-} line
    while IFS= read -r line; do
        case $line in "{"*"$pat"*) ;; *) continue ;; esac
        echo "{\"case\":\"$label\",\"round\":$round,${line#\{}" | tee -a "$RAW"
    done
}

# run_case NAME RUN: one case, one run
run_case() {
    local name=$1 r=$2 out
    if [ "$PREWARM_MIB" -gt 0 ]; then
        "$PEERS/bench_limits" -w seqwrite -n "$PREWARM_MIB" -d "$DATA" >/dev/null
    fi
    case $name in
        append-none | append-written | append-durable)
            local m=${name#append-} n=$N rd=-r
            [ "$m" = durable ] && n=$N_DURABLE rd=
            if out=$("$APPEND" -m "$m" -n "$n" $rd -d "$DATA/append"); then
                # "crawllog read": the read after none and after written
                echo "$out" | tag "crawllog append $m" "$r" '"bench":"append"'
                echo "$out" | tag "crawllog read" "$r" '"bench":"read"'
            else
                echo "FAILED: $name run $r" >&2
            fi
            rm -rf "$DATA/append" ;;
        *)  # SYSTEM:WORKLOAD:MODE[:OPT]
            local sys w m opt label args
            IFS=: read -r sys w m opt <<<"$name"
            label="$sys${opt:+[$opt]} $w $m"
            args=(-w "$w" -m "$m" -n "$N_PEERS" -R "$r" -d "$DATA/$sys")
            [ -n "$opt" ] && args+=(-o "$opt")
            rm -rf "${DATA:?}/$sys" && mkdir -p "$DATA/$sys"
            if out=$("$PEERS/bench_$sys" "${args[@]}"); then
                echo "$out" | tag "$label" "$r"
            else
                echo "FAILED: $name run $r" >&2
            fi
            rm -rf "${DATA:?}/$sys" ;;
    esac
}

CASES=(append-none append-written append-durable
       idealog:W1:none idealog:W1:always idealog:W1:always:files=1
       sqlite:W1:none sqlite:W1:always idealog:W2:none
       crawllog:W1:always crawllog:W1:always:parallel)

echo "# raw results -> $RAW" >&2
# warm-up: make the VM back page-cache memory before anything is timed (the
# VM hands memory that stayed free for ~2 s back to the host; see
# docs/BENCHMARKS.md), as bench/peers/run.sh does
"$PEERS/bench_limits" -w seqwrite -n 2048 -d "$DATA" >/dev/null
for r in $(seq "$RUNS"); do
    order=$(python3 -c 'import random, sys
l = list(range(int(sys.argv[2])))
random.Random(int(sys.argv[1])).shuffle(l)
print(*l)' "$r" "${#CASES[@]}")
    echo "# ---- round $r/$RUNS (case order: $order)" >&2
    for i in $order; do
        run_case "${CASES[$i]}" "$r"
    done
done

python3 - "$RAW" "$MD" <<'EOF'
import json, statistics, sys
raw, md = sys.argv[1], sys.argv[2]
runs = {}
for line in open(raw):
    d = json.loads(line)
    runs.setdefault(d["case"], []).append(d)

def med(case, field):
    v = [d[field] for d in runs.get(case, []) if d.get(field) is not None]
    return (statistics.median(v), min(v), max(v)) if v else None

order = ["crawllog append none", "crawllog append written", "crawllog append durable",
         "crawllog read", "idealog W1 none", "sqlite W1 none", "idealog W1 always",
         "idealog[files=1] W1 always", "sqlite W1 always", "crawllog W1 always",
         "crawllog[parallel] W1 always", "idealog W2 none"]
order += sorted(c for c in runs if c not in order)
summary = {}
for c in order:
    if c not in runs:
        continue
    m = med(c, "msg_per_s")
    s = {"case": c, "run": "median", "runs": len(runs[c]), "msgs": runs[c][0]["msgs"],
         "msg_per_s": round(m[0]), "msg_per_s_min": round(m[1]), "msg_per_s_max": round(m[2])}
    for f in ("p50_us", "p99_us"):
        x = med(c, f)
        if x:
            s[f] = round(x[0], 1)
    summary[c] = s
    print(json.dumps(s, separators=(",", ":")))

def fmt(x):
    return f"{x / 1e6:.2f}M" if x >= 1e6 else f"{x / 1e3:.0f}k"

def by_round(case):
    r = {}
    for d in runs.get(case, []):
        r.setdefault(d["round"], []).append(d["msg_per_s"])
    return {k: statistics.median(v) for k, v in r.items()}

def ratio(a, b):
    """median over rounds of (a / b) within the round, and its min-max"""
    ra, rb = by_round(a), by_round(b)
    q = [ra[k] / rb[k] for k in ra if k in rb and rb[k] > 0]
    if not q:
        return "-"
    return f"{statistics.median(q):.2f}x ({min(q):.2f}-{max(q):.2f})"

out = []
out.append("| case | runs | msgs | msg/s median | min-max | p50 us | p99 us |")
out.append("|---|---:|---:|---:|---:|---:|---:|")
for c, s in summary.items():
    out.append(f"| {c} | {s['runs']} | {s['msgs']} | {fmt(s['msg_per_s'])} | "
               f"{fmt(s['msg_per_s_min'])}-{fmt(s['msg_per_s_max'])} | "
               f"{s.get('p50_us', '-')} | {s.get('p99_us', '-')} |")
out.append("")
targets = [
    ("append none", "crawllog append none", 5e6,
     [("idealog W1 none", "idealog W1 none"), ("sqlite OFF", "sqlite W1 none")]),
    ("append written", "crawllog append written", 2e6,
     [("idealog W1 none", "idealog W1 none"), ("sqlite OFF", "sqlite W1 none")]),
    ("append durable", "crawllog append durable", 1.0e6,
     [("idealog 8 files", "idealog W1 always"),
      ("idealog files=1", "idealog[files=1] W1 always"), ("sqlite FULL", "sqlite W1 always")]),
    ("W1 always (8 partitions per batch)", "crawllog W1 always", 1.0e6,
     [("idealog 8 files", "idealog W1 always"), ("sqlite FULL", "sqlite W1 always")]),
    ("W1 always [parallel]", "crawllog[parallel] W1 always", 1.0e6,
     [("idealog 8 files", "idealog W1 always"), ("sqlite FULL", "sqlite W1 always")]),
    ("sequential read", "crawllog read", 10e6,
     [("idealog W2 none", "idealog W2 none")]),
]
out.append("| target | goal | crawllog median (min-max) | met | crawllog / peer: median of per-round ratios (min-max) |")
out.append("|---|---:|---:|---|---|")
for name, case, goal, peers in targets:
    if case not in summary:
        out.append(f"| {name} | >= {fmt(goal)} | (no data) | - | - |")
        continue
    s = summary[case]
    met = "yes" if s["msg_per_s"] >= goal else "NO"
    rs = ", ".join(f"{ratio(case, p)} {label}" for label, p in peers)
    out.append(f"| {name} | >= {fmt(goal)} | {fmt(s['msg_per_s'])} "
               f"({fmt(s['msg_per_s_min'])}-{fmt(s['msg_per_s_max'])}) | {met} | {rs} |")
text = "\n".join(out) + "\n"
open(md, "w").write(text)
print()
print(text, end="")
EOF
echo "# summary -> $MD" >&2
