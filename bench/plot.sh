#!/usr/bin/env bash
# bench/plot.sh - issue 9's plots, drawn with gnuplot from benchmark result
# files (JSON lines), so every figure in docs/ can be redrawn from committed
# data.
#
#   bench/plot.sh [--out DIR] [RESULT_FILE...]
#
#   bench/plot.sh                                    # newest results found
#   bench/plot.sh bench/peers/results/summary-20261127-110347.jsonl
#   FORMAT=png bench/plot.sh --out /tmp/plots        # PNG instead of SVG
#
# Inputs (a file argument is classified by its name; env vars do the same):
#   summary-<stamp>.jsonl  PEERS   peer harness (bench/peers/run.sh) medians;
#                                  raw-<stamp>.jsonl next to it fills in
#                                  min/max (or all medians) when missing
#   scaling-<stamp>.jsonl  SCALING bench/run_scaling.sh
#   soak-<stamp>.jsonl     SOAK    bench/run_soak.sh
# Defaults: the newest file (by the digits of its stamp) in RESULTS
# (build/bench/results) and bench/results (the committed sets quoted in
# docs/BENCHMARKS.md), for summaries also bench/peers/results.
# Several summaries may be given (PEERS="a b"): each workload (W1..W4) is
# taken from the newest of them that has it, and its panel names that stamp.
#
# Outputs (DIR, default docs/img), each skipped with a message when its
# input is missing:
#   latency-percentiles.svg  W3 end-to-end p50/p99/p99.9 per system and mode
#   latency-w4.svg           W4 durable-ack p50/p99/p99.9 per system
#   throughput-w1-w2.svg     W1/W2 msg/s per system and mode, min-max bars
#   throughput-vs-size.svg   MB/s vs message size, crawllog and raw I/O
#   scaling-consumers.svg    msg/s vs consumer processes per work_us
#   scaling-partitions.svg   msg/s vs partitions, produce and consume
#   scaling-threads.svg      msg/s vs producer threads, acks=1 and acks=all
#   soak.svg                 latency + RSS, and disk + rate, over time
#
# Knobs (env): MACHINE ("2 vCPU VM", named in every title), FORMAT (svg or
# png), RESULTS, PEERS, SCALING, SOAK.  Needs gnuplot (installs
# gnuplot-nox with apt-get when missing) and jq.
set -euo pipefail
ORIG=$PWD
cd "$(dirname "$0")/.."
# Paths given as arguments are relative to the caller's directory; env var
# paths and the defaults are relative to the repository root.
abs() { case $1 in /*) echo "$1" ;; *) echo "$ORIG/$1" ;; esac; }

OUT=docs/img
MACHINE=${MACHINE:-2 vCPU VM}
FORMAT=${FORMAT:-svg}
RESULTS=${RESULTS:-build/bench/results}
PEERS=${PEERS:-}
SCALING=${SCALING:-}
SOAK=${SOAK:-}

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "${1:-0}"; }

while [ $# -gt 0 ]; do
  case $1 in
    --out) OUT=$(abs "${2:?--out needs a directory}"); shift 2 ;;
    --out=*) OUT=$(abs "${1#--out=}"); shift ;;
    -h | --help) usage 0 ;;
    -*) echo "plot.sh: unknown option $1" >&2; usage 2 >&2 ;;
    *)
      f=$(abs "$1")
      case $(basename "$f") in
        summary-*.jsonl) PEERS="$PEERS $f" ;;
        raw-*.jsonl) PEERS="$PEERS $(dirname "$f")/summary-${f##*raw-}" ;;
        scaling-*.jsonl) SCALING=$f ;;
        soak-*.jsonl) SOAK=$f ;;
        *) echo "plot.sh: cannot tell what $1 is (expected summary-, raw-, scaling- or soak-*.jsonl)" >&2; exit 2 ;;
      esac
      shift ;;
  esac
done

need() {
  command -v "$1" >/dev/null && return
  local sudo=
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  echo "plot.sh: installing $2" >&2
  $sudo apt-get install -y --no-install-recommends "$2" >&2 ||
    { $sudo apt-get update >&2 && $sudo apt-get install -y --no-install-recommends "$2" >&2; }
}
need gnuplot gnuplot-nox
need jq jq

case $FORMAT in
  svg) TERM_LINE='set terminal svg size W,H fixed font "Helvetica,13" background rgb "white" noenhanced' ;;
  png) TERM_LINE='set terminal pngcairo size W,H font "Sans,10" background rgb "white" noenhanced' ;;
  *) echo "plot.sh: FORMAT must be svg or png" >&2; exit 2 ;;
esac

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$OUT"
WRITTEN=() FAILED=()

# --- helpers -----------------------------------------------------------------

skip() { echo "plot.sh: skipping $1: $2" >&2; }

# stamp FILE: "20261127-110347" from ".../summary-20261127-110347.jsonl".
stamp() { local b=${1##*/}; b=${b%.jsonl}; echo "${b#*-}"; }

# newest PREFIX DIR...: the PREFIX-<stamp>.jsonl with the largest stamp digits.
newest() {
  local prefix=$1 dir f best='' key bestkey=''
  shift
  for dir in "$@"; do for f in "$dir/$prefix"-*.jsonl; do
    [ -f "$f" ] || continue
    key=$(stamp "$f" | tr -cd '0-9')
    if [ -z "$best" ] || [[ $key > $bestkey ]]; then best=$f bestkey=$key; fi
  done; done
  echo "$best"
}

# all_summaries: every summary file in the default directories.
all_summaries() { ls "$RESULTS"/summary-*.jsonl bench/results/summary-*.jsonl bench/peers/results/summary-*.jsonl 2>/dev/null || true; }

# gp NAME W H: run the gnuplot program on stdin, writing $OUT/NAME.$FORMAT.
gp() {
  local file=$OUT/$1.$FORMAT
  {
    echo "${TERM_LINE/W,H/$2,$3}"
    echo "set output '$file'"
    echo 'set encoding utf8'
    echo 'set key outside right top vertical Left reverse noautotitle samplen 1.5 spacing 1.1'
    echo 'set grid ytics mytics lc rgb "#dddddd" lw 1 dt 1, lc rgb "#eeeeee"'
    echo 'set border 3; set tics nomirror'
    cat
  } >"$TMP/$1.gp"
  if gnuplot "$TMP/$1.gp" 2>"$TMP/$1.err"; then
    WRITTEN+=("$file")
  else
    echo "plot.sh: gnuplot failed for $file:" >&2
    cat "$TMP/$1.err" >&2
    rm -f "$file"
    FAILED+=("$file")
    return 0
  fi
  # gnuplot warnings (not errors) are worth seeing.
  grep -v '^$' "$TMP/$1.err" >&2 || true
}

# jq definitions shared by the filters below.
# shellcheck disable=SC2016 # jq programs, not shell expansions
JQ_DEFS='
  def med: sort as $a | ($a | length) as $n
    | if $n == 0 then null elif $n % 2 == 1 then $a[($n - 1) / 2]
      else ($a[$n / 2 - 1] + $a[$n / 2]) / 2 end;
  # Median rows: the "run":"median" lines, or (none) medians of the runs.
  def medians(keys):
    if any(.[]; .run == "median") then map(select(.run == "median"))
    else group_by(keys) | map(. as $g | $g[0] + {
      msg_per_s: ([$g[].msg_per_s | numbers] | med),
      mb_per_s: ([$g[].mb_per_s | numbers] | med),
      p50_us: ([$g[].p50_us | numbers] | med),
      p99_us: ([$g[].p99_us | numbers] | med),
      p999_us: ([$g[].p999_us | numbers] | med),
      msg_per_s_min: ([$g[].msg_per_s | numbers] | min),
      msg_per_s_max: ([$g[].msg_per_s | numbers] | max),
      runs: ($g | length), run: "median"}) end;
  # Systems in display order: crawllog first, variants after their base.
  def rank: (split("[")[0]) as $b
    | ({"crawllog": 0, "idealog": 1, "sqlite": 2, "redis": 3, "limits": 4,
        "limits(fio)": 5}[$b] // 9);
  def sys_order: unique | sort_by([rank, .]);
  # One colour per system: a hue per base system, shades for variants.
  def colours: . as $all
    | {"crawllog": ["#1f77b4", "#6baed6", "#08306b"],
       "idealog": ["#ff7f0e", "#fdae6b", "#a63603"],
       "sqlite": ["#2ca02c", "#a1d99b", "#00441b"],
       "redis": ["#d62728", "#fc9272", "#67000d"],
       "limits": ["#555555", "#aaaaaa"], "limits(fio)": ["#8c564b", "#c49c94"]}
      as $pal
    | ["#9467bd", "#e377c2", "#17becf", "#bcbd22", "#8c564b"] as $other
    | [$all[] | select((split("[")[0]) as $b | $pal[$b] == null)] as $unknown
    | [$all[] | . as $s | (split("[")[0]) as $b
       | if $pal[$b] then
           ([$all[] | select(split("[")[0] == $b)] | index($s)) as $k
           | $pal[$b][$k % ($pal[$b] | length)]
         else $other[($unknown | index($s)) % ($other | length)] end];
  def num: if type == "number" then . else "NaN" end;
'

# peer_rows WORKLOAD: median rows (JSON array) of that workload from the
# newest summary (of $PEERS, or all found) that has it; sets PEER_FILE.
PEER_FILE=
peer_rows() {
  local wl=$1 f g raw list
  list=$PEERS
  [ -n "${list// /}" ] || list=$(all_summaries)
  PEER_FILE=
  # Newest stamp first.
  for f in $(for g in $list; do echo "$(stamp "$g" | tr -cd '0-9') $g"; done | sort -r | cut -d' ' -f2); do
    raw=${f%/*}/raw-${f##*/summary-}
    [ -f "$f" ] || [ -f "$raw" ] || { skip "$f" "no such file"; continue; }
    [ -f "$f" ] || f=/dev/null
    [ -f "$raw" ] || raw=/dev/null
    jq -n -c --arg wl "$wl" --slurpfile s "$f" --slurpfile r "$raw" "$JQ_DEFS"'
      # raw lines name a variant in "opt", summaries as "system[opt]".
      ($r | map(select(.workload == $wl and .run != "median")
                | if (.opt // "") != "" then .system += "[\(.opt)]" else . end))
        as $runs
      | ($s | map(select(.workload == $wl)) | medians([.system, .mode]))
        as $sum
      | (if ($sum | length) > 0 then $sum
         else $runs | medians([.system, .mode]) end)
      | map(. as $m
        | [$runs[] | select(.system == $m.system and .mode == $m.mode)
           | .msg_per_s | numbers] as $rr
        | . + {msg_per_s_min: (.msg_per_s_min // ($rr | min) // .msg_per_s),
               msg_per_s_max: (.msg_per_s_max // ($rr | max) // .msg_per_s)})
    ' >"$TMP/rows.json"
    if [ "$(jq length "$TMP/rows.json")" -gt 0 ]; then
      [ "$f" != /dev/null ] || f=$raw
      PEER_FILE=$f
      return 0
    fi
  done
  return 1
}

# --- peer harness plots ------------------------------------------------------

# Clustered percentile plot of one workload: x groups = modes, one colour per
# system, p50 / p99 / p99.9 markers joined by a bar.
plot_latency() {
  local name=$1 wl=$2 what=$3
  if ! peer_rows "$wl"; then skip "$name" "no $wl rows in the peer summaries"; return 0; fi
  jq -r "$JQ_DEFS"'
    ([.[].system] | sys_order) as $sys
    | ([.[].mode] | unique) as $present
    | ([("none", "batch", "always") | select(. as $m | $present | index($m))]
       + ($present - ["none", "batch", "always"])) as $modes
    | . as $rows
    | "#NAMES " + ($sys | join(" ")),
      "#COLOURS " + ($sys | colours | join(" ")),
      "#NSYS \($sys | length)",
      "#XTICS " + ([$modes | to_entries[] | "\"\(.value)\" \(.key * (($sys | length) + 1) + ($sys | length - 1) / 2)"] | join(", ")),
      ($sys | to_entries[] | .key as $i | .value as $s
       | "# \($s)",
         ($modes | to_entries[] | .key as $g | .value as $m
          | $rows[] | select(.system == $s and .mode == $m)
          | "\($g * (($sys | length) + 1) + $i)\t\(.p50_us | num)\t\(.p99_us | num)\t\(.p999_us | num)"),
         "", "")
  ' "$TMP/rows.json" >"$TMP/$name.dat"
  local names colours nsys xtics
  names=$(sed -n 's/^#NAMES //p' "$TMP/$name.dat")
  colours=$(sed -n 's/^#COLOURS //p' "$TMP/$name.dat")
  nsys=$(sed -n 's/^#NSYS //p' "$TMP/$name.dat")
  xtics=$(sed -n 's/^#XTICS //p' "$TMP/$name.dat")
  gp "$name" 800 480 <<EOF
set title "$what\\n$MACHINE, $(basename "$PEER_FILE" .jsonl)"
set ylabel "latency (µs, log scale)"
set xlabel "durability mode"
set logscale y
set format y "%.0s%c"
# Less than two decades: label 2x and 5x too.
stats '$TMP/$name.dat' using 2 nooutput
lo = STATS_min
stats '$TMP/$name.dat' using 4 nooutput
if (lo > 0 && STATS_max / lo < 100) {
  do for [e=-1:9] { set ytics add (gprintf("%.0s%c", 2*10.0**e) 2*10.0**e, gprintf("%.0s%c", 5*10.0**e) 5*10.0**e) }
}
set xtics ($xtics) scale 0
set xrange [-1:*]
set offsets 0, 1, 0, 0
set bars 2
names = "$names"
colours = "$colours"
plot for [i=1:$nsys] '$TMP/$name.dat' index (i-1) using 1:3:2:4 with yerrorbars lc rgb word(colours,i) lw 2 pt 5 ps 1.1 title word(names,i), \\
     for [i=1:$nsys] '' index (i-1) using 1:2 with points lc rgb word(colours,i) pt 6 ps 1.1, \\
     for [i=1:$nsys] '' index (i-1) using 1:4 with points lc rgb word(colours,i) pt 9 ps 1.2, \\
     keyentry with points lc rgb "black" pt 6 title "p50", \\
     keyentry with points lc rgb "black" pt 5 title "p99", \\
     keyentry with points lc rgb "black" pt 9 title "p99.9"
EOF
}

# msg/s bars per system for W1 and W2 in each mode, min-max error bars.
plot_throughput() {
  local name=throughput-w1-w2 wl rows="[]" stamps=()
  for wl in W1 W2; do
    if peer_rows "$wl"; then
      rows=$(jq -c --argjson a "$rows" '$a + .' "$TMP/rows.json")
      stamps+=("$wl: $(basename "$PEER_FILE" .jsonl)")
    fi
  done
  if [ ${#stamps[@]} -eq 0 ]; then skip "$name" "no W1/W2 rows in the peer summaries"; return 0; fi
  printf '%s\n' "$rows" >"$TMP/rows.json"
  jq -r "$JQ_DEFS"'
    ([.[].system] | sys_order) as $sys
    | ($sys | length) as $n
    | [.[] | [.workload, .mode]] as $pairs
    | [("W1", "W2") as $w | ("none", "batch", "always") as $m
       | select($pairs | index([[$w, $m]])) | [$w, $m]] as $groups
    | . as $rows
    | "#NAMES " + ($sys | join(" ")),
      "#COLOURS " + ($sys | colours | join(" ")),
      "#NSYS \($n)",
      "#XTICS " + ([$groups | to_entries[] | "\"\(.value[1])\\n\(.value[0])\" \(.key * ($n + 1) + ($n - 1) / 2)"] | join(", ")),
      "#SEP " + ([$groups | to_entries[] | select(.key > 0 and .value[0] != $groups[.key - 1][0]) | .key * ($n + 1) - 1] | map(tostring) | join(" ")),
      ($sys | to_entries[] | .key as $i | .value as $s
       | "# \($s)",
         ($groups | to_entries[] | .key as $g | .value as $p
          | $rows[] | select(.system == $s and .workload == $p[0] and .mode == $p[1])
          | "\($g * ($n + 1) + $i)\t\(.msg_per_s | num)\t\(.msg_per_s_min | num)\t\(.msg_per_s_max | num)"),
         "", "")
  ' "$TMP/rows.json" >"$TMP/$name.dat"
  local names colours nsys xtics sep arrows='' x
  names=$(sed -n 's/^#NAMES //p' "$TMP/$name.dat")
  colours=$(sed -n 's/^#COLOURS //p' "$TMP/$name.dat")
  nsys=$(sed -n 's/^#NSYS //p' "$TMP/$name.dat")
  xtics=$(sed -n 's/^#XTICS //p' "$TMP/$name.dat")
  sep=$(sed -n 's/^#SEP //p' "$TMP/$name.dat")
  for x in $sep; do
    arrows+="set arrow from $x, graph 0 to $x, graph 1 nohead lc rgb '#888888' dt 2"$'\n'
  done
  local joined
  joined=$(printf '%s, ' "${stamps[@]}")
  gp "$name" 800 480 <<EOF
set title "W1 produce / W2 consume throughput, $MACHINE\\n${joined%, }"
set ylabel "messages per second (median, min-max; log scale)"
set xlabel "durability mode / workload" offset 0, -0.5
set logscale y
set format y "%.0s%c"
set xtics ($xtics) scale 0
set xrange [-1:*]
set offsets 0, 1, 0, 0
set style fill solid 0.85 border -1
set boxwidth 0.9
set bars 1.5
$arrows
names = "$names"
colours = "$colours"
plot for [i=1:$nsys] '$TMP/$name.dat' index (i-1) using 1:2:3:4:(0.9) with boxerrorbars lc rgb word(colours,i) title word(names,i)
EOF
}

# --- scaling plots -----------------------------------------------------------

# scaling_series SWEEP SERIES_EXPR X_EXPR [Y]: a data block per series (sorted
# by x) with x, y, y_min, y_max; Y is "msg" (msg/s) or "mb" (MB/s).
scaling_series() {
  jq -r -s --arg sweep "$1" --arg y "${4:-msg}" "$JQ_DEFS"'
    map(select(.bench == "scale" and .sweep == $sweep))
    | medians([.sweep, .system, .op, .partitions, .threads, .consumers,
               .work_us, .msg_bytes, .acks, .batch])
    | map(. + {series: ('"$2"'), x: ('"$3"')}
          | if $y == "mb" then
              . + {y: .mb_per_s,
                   ylo: (if .msg_per_s > 0 and .msg_per_s_min then .mb_per_s * .msg_per_s_min / .msg_per_s else .mb_per_s end),
                   yhi: (if .msg_per_s > 0 and .msg_per_s_max then .mb_per_s * .msg_per_s_max / .msg_per_s else .mb_per_s end)}
            else . + {y: .msg_per_s, ylo: (.msg_per_s_min // .msg_per_s),
                      yhi: (.msg_per_s_max // .msg_per_s)} end)
    | map(select(.x != null and .y != null))
    | group_by(.series)
    | "#NAMES " + (map("\"\(.[0].series)\"") | join(" ")),
      "#N \(length)",
      (.[] | "# \(.[0].series)",
        (sort_by(.x)[] | "\(.x)\t\(.y | num)\t\(.ylo | num)\t\(.yhi | num)"), "", "")
  ' "$SCALING"
}

# plot_lines NAME TITLE XLABEL YLABEL PRE [EXTRA [COLOURS [DASHES]]]:
# yerrorlines, one per series of $TMP/NAME.dat; PRE: gnuplot settings (x
# axis), EXTRA: more plot clauses, COLOURS / DASHES: per series, in order.
# Log y when the values span more than 30x.
plot_lines() {
  local name=$1 title=$2 xlabel=$3 ylabel=$4 pre=$5 extra=${6:-}
  local colours=${7:-"#1f77b4 #ff7f0e #2ca02c #d62728 #9467bd #8c564b"}
  local dashes=${8:-"1 1 1 1 1 1"}
  local names n
  names=$(sed -n 's/^#NAMES //p' "$TMP/$name.dat")
  n=$(sed -n 's/^#N //p' "$TMP/$name.dat")
  if [ "${n:-0}" -eq 0 ]; then skip "$name" "no usable lines of its sweep in $SCALING"; return 0; fi
  gp "$name" 800 480 <<EOF
set title "$title\\n$MACHINE, $(basename "$SCALING" .jsonl)"
set xlabel "$xlabel"
set ylabel "$ylabel"
$pre
stats '$TMP/$name.dat' using 2 nooutput
sc = 1
if (STATS_min > 0 && STATS_max / STATS_min > 30) {
  set logscale y; set autoscale yfix; set format y "%.0s%c"; set ylabel "$ylabel (log scale)"
} else {
  set yrange [0:*]; set format y "%g"
  if (STATS_max >= 1e6) { sc = 1e6; set ylabel "$ylabel, millions" }
}
set autoscale xfix
set offsets graph 0.04, graph 0.04, graph 0.05, graph 0.05
names = '$names'
colours = "$colours"
dashes = "$dashes"
plot for [i=1:$n] '$TMP/$name.dat' index (i-1) using 1:(\$2/sc):(\$3/sc):(\$4/sc) with yerrorlines lw 2 pt 7 ps 0.9 lc rgb word(colours,i) dt int(word(dashes,i)) title word(names,i)$extra
EOF
}

plot_scaling() {
  if [ -z "$SCALING" ] || [ ! -f "$SCALING" ]; then
    skip "scaling plots" "no scaling-*.jsonl${SCALING:+ ($SCALING missing)}"
    return 0
  fi
  local sub='(.system // "crawllog") + " " + (.op // "?")'
  scaling_series size "$sub" '.msg_bytes' mb >"$TMP/throughput-vs-size.dat"
  plot_lines throughput-vs-size "Throughput vs message size (8 partitions)" \
    "message value size (bytes, log scale)" "MB/s (median, min-max)" \
    'set logscale x 10; set format x "%.0s%cB"' "" \
    "#1f77b4 #6baed6 #555555 #aaaaaa" "1 1 2 2"

  # shellcheck disable=SC2016
  scaling_series consumers '(.work_us // 0) as $w | "work_us=\($w)" + (if $w == 0 then " (CPU-bound)" else " (\($w / 1000) ms sleep per msg)" end) + (if (.partitions // 32) != 32 then ", \(.partitions) partitions" else "" end)' '.consumers' >"$TMP/scaling-consumers.dat"
  local w ideal=
  for w in $(jq -r -s 'map(select(.sweep == "consumers" and (.work_us // 0) > 0) | .work_us) | unique[]' "$SCALING"); do
    ideal+=", (x >= 1 ? x * 1e6 / $w / sc : NaN) with lines dt 2 lw 1.5 lc rgb '#555555' title 'ideal: K x $((1000000 / w)) msg/s'"
  done
  plot_lines scaling-consumers "Consumer processes in one group (32 partitions unless named)" \
    "consumer processes K (log scale)" "messages per second (median, min-max)" \
    "set logscale x 2; set xtics (1, 2, 4, 8, 16, 29)" "$ideal"

  scaling_series partitions '.op // "?"' '.partitions' >"$TMP/scaling-partitions.dat"
  plot_lines scaling-partitions "Partitions (1 producer thread / 1 consumer)" \
    "partitions (log scale)" "messages per second (median, min-max)" \
    "set logscale x 2"

  scaling_series threads '"acks=\(.acks // "?") batch=\(.batch // "?")"' '.threads' >"$TMP/scaling-threads.dat"
  plot_lines scaling-threads "Producer threads (8 partitions)" \
    "producer threads (log scale)" "messages per second (median, min-max)" \
    "set logscale x 2"
}

# --- soak --------------------------------------------------------------------

plot_soak() {
  local name=soak
  if [ -z "$SOAK" ] || [ ! -f "$SOAK" ]; then
    skip "$name" "no soak-*.jsonl${SOAK:+ ($SOAK missing)}"
    return 0
  fi
  jq -r -s "$JQ_DEFS"'
    (map(select(.summary == true)) | last // {}) as $s
    | "#BOUND \(($s.disk_bound // 0) / 1048576)",
      "#VERDICT \($s.verdict // "no summary line")",
      (map(select(.bench == "soak" and .summary != true and .t_s != null))
       | sort_by(.t_s)[]
       | [.t_s / 60, (.p50_us | num), (.p99_us | num), (.p999_us | num),
          ((.rss_kb_producer // null) | if . then . / 1024 else "NaN" end),
          ((.rss_kb_consumer // null) | if . then . / 1024 else "NaN" end),
          ((.disk_bytes // null) | if . then . / 1048576 else "NaN" end),
          (.interval_rate | num), (.lag | num)] | @tsv)
  ' "$SOAK" >"$TMP/$name.dat"
  if ! grep -qv '^#' "$TMP/$name.dat"; then skip "$name" "no interval lines in $SOAK"; return 0; fi
  local bound verdict d=$TMP/$name.dat top bottom panels=0
  bound=$(sed -n 's/^#BOUND //p' "$d")
  verdict=$(sed -n 's/^#VERDICT //p' "$d")
  # Panels: y1 series -- y2 series; columns without data are left out.
  top=$(soak_panel "$d" "latency (µs, log scale)" "RSS (MiB)" \
    "2|p50|#1f77b4|1" "3|p99|#d62728|1" -- \
    "5|RSS producer|#2ca02c|2" "6|RSS consumer|#ff7f0e|2")
  bottom=$(soak_panel "$d" "disk (MiB)" "msg/s (interval)" \
    "7|disk used|#9467bd|1" -- "8|rate|#17becf|1")
  if [[ $bottom == *"disk used"* ]] && [ "${bound%.*}" -gt 0 ] 2>/dev/null; then
    local line="plot $bound with lines dt 3 lc rgb '#555555' title 'retention bound', "
    bottom=${bottom/plot /$line}
  fi
  [ -z "$top" ] || panels=$((panels + 1))
  [ -z "$bottom" ] || panels=$((panels + 1))
  if [ "$panels" -eq 0 ]; then skip "$name" "no latency, RSS or disk values in $SOAK"; return 0; fi
  gp "$name" 800 $((160 + 240 * panels)) <<EOF
set multiplot layout $panels,1 title "Soak: latency, memory and disk over time (verdict: $verdict)\\n$MACHINE, $(basename "$SOAK" .jsonl)"
set lmargin 11; set rmargin 31; set border 11
set xlabel "time (minutes)"
set ytics nomirror
set key outside right top
$top
$bottom
unset multiplot
EOF
}

# soak_panel DATA Y1LABEL Y2LABEL Y1SERIES... -- Y2SERIES...: the gnuplot
# commands of one panel (empty when no series has data); a series is
# "COLUMN|TITLE|COLOUR|DASH".  A y1 label containing "log" makes y1 log.
soak_panel() {
  local d=$1 y1=$2 y2=$3 axis=x1y1 s col title colour dash clauses='' n1=0 n2=0
  shift 3
  for s in "$@"; do
    if [ "$s" = -- ]; then axis=x1y2; continue; fi
    IFS='|' read -r col title colour dash <<<"$s"
    awk -F'\t' -v c="$col" '!/^#/ && $c != "NaN" && $c != "" {f = 1} END {exit !f}' "$d" || continue
    if [ "$axis" = x1y1 ]; then n1=$((n1 + 1)); else n2=$((n2 + 1)); fi
    clauses+="${clauses:+, }'$d' using 1:$col axes $axis with lines lw 2 dt $dash lc rgb '$colour' title '$title'"
  done
  [ -n "$clauses" ] || return 0
  if [ "$n1" -eq 0 ]; then clauses=${clauses//x1y2/x1y1}; y1=$y2; n2=0; fi
  echo "set ylabel '$y1'; unset logscale y; set yrange [0:*]; set format y '%g'"
  case $y1 in *log*) echo "set logscale y; set yrange [*:*]; set format y '%.0s%c'" ;; esac
  if [ "$n2" -gt 0 ]; then
    echo "set y2label '$y2'; set y2tics; set y2range [0:*]"
  else
    echo "unset y2label; unset y2tics"
  fi
  echo "plot $clauses"
}

# --- main --------------------------------------------------------------------

[ -n "$SCALING" ] || SCALING=$(newest scaling "$RESULTS" bench/results)
[ -n "$SOAK" ] || SOAK=$(newest soak "$RESULTS" bench/results)

plot_latency latency-percentiles W3 "W3 end-to-end latency p50 / p99 / p99.9 (per message)"
plot_latency latency-w4 W4 "W4 durable-ack latency p50 / p99 / p99.9 (per message)"
plot_throughput
plot_scaling
plot_soak

if [ ${#WRITTEN[@]} -eq 0 ]; then
  echo "plot.sh: no input files found, nothing written" >&2
else
  printf '%s\n' "${WRITTEN[@]}"
fi
if [ ${#FAILED[@]} -gt 0 ]; then
  echo "plot.sh: gnuplot failed for: ${FAILED[*]}" >&2
  exit 1
fi
