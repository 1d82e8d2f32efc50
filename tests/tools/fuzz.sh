#!/bin/sh
# fuzz.sh - T8: build, replay and run the libFuzzer targets of tests/fuzz/.
#
#   tests/tools/fuzz.sh build            build every target into build/fuzz
#   tests/tools/fuzz.sh replay           run every target over its committed
#                                        corpus (tests/fuzz/corpus/<target>/)
#                                        once; fail on any crash
#   tests/tools/fuzz.sh run [SECONDS]    fuzz each target SECONDS (default
#                                        60), two at a time, on a fresh temp
#                                        copy of its corpus; fail on any
#                                        crash, leak, timeout or OOM
#   tests/tools/fuzz.sh replay-gcc       replay the corpus with gcc + ASan +
#                                        UBSan through tests/fuzz/replay_main.c
#                                        (no libFuzzer needed)
#   tests/tools/fuzz.sh seeds            regenerate the seed files of the
#                                        corpus (tests/fuzz/gen_corpus.c)
#
# Environment:
#   FUZZ_TARGETS="fuzz_record fuzz_state"  a subset (default: all six)
#   FUZZ_BUILDDIR=build/fuzz               where objects and programs go
#   FUZZ_CC=clang                          the compiler (needs libFuzzer)
#   FUZZ_JOBS=2                            targets fuzzed at once
#   FUZZ_MERGE=1                           after "run", merge what the run
#                                          found into tests/fuzz/corpus/
#                                          (-merge=1 minimises it)
#   FUZZ_ARTIFACTS=dir                     where crash reproducers go (default
#                                          $FUZZ_BUILDDIR/artifacts)
#
# Run from anywhere; it works from the repository root.  Exit status 0 only
# if every step succeeded.  The last line is a summary:
#   fuzz: targets=6 execs=N crashes=0
set -u

cd "$(dirname "$0")/../.." || exit 2

ALL_TARGETS="fuzz_record fuzz_names_conf fuzz_state fuzz_index fuzz_segment fuzz_api"
TARGETS=${FUZZ_TARGETS:-$ALL_TARGETS}
BUILDDIR=${FUZZ_BUILDDIR:-build/fuzz}
CC=${FUZZ_CC:-clang}
JOBS=${FUZZ_JOBS:-2}
ARTIFACTS=${FUZZ_ARTIFACTS:-$BUILDDIR/artifacts}
CORPUS=tests/fuzz/corpus
WARN="-std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Wpedantic -Wshadow -Werror"
OPT="-O1 -g -fno-omit-frame-pointer"
SAN="address,undefined"
# Per-input limits (docs/RELIABILITY.md T8): a slow input is a finding too.
LIMITS="-rss_limit_mb=512 -malloc_limit_mb=256 -timeout=5"
# A smaller quarantine than ASan's 256 MB keeps the parser targets (100k+
# runs/s) under -rss_limit_mb.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:allocator_may_return_null=1:quarantine_size_mb=64}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
# Scratch directories of the targets: tmpfs when there is one, in a
# directory of this run, removed at exit (a crashing target leaves its own
# behind).
if [ -z "${FUZZ_TMPDIR:-}" ] && [ -d /dev/shm ]; then
    FUZZ_TMPDIR=/dev/shm
fi
SCRATCH=
new_scratch() {
    SCRATCH=$(mktemp -d "${FUZZ_TMPDIR:-/tmp}/clfuzz-run.XXXXXX") ||
        die "mktemp in ${FUZZ_TMPDIR:-/tmp}"
    export FUZZ_TMPDIR="$SCRATCH"
    trap 'rm -rf "$SCRATCH"' EXIT
}

die() {
    echo "fuzz: $*" >&2
    exit 2
}

build() {
    command -v "$CC" >/dev/null 2>&1 || die "$CC not found"
    make -s CC="$CC" BUILDDIR="$BUILDDIR" CFLAGS="$OPT" \
        EXTRA_CFLAGS="-fsanitize=fuzzer-no-link,$SAN -fno-sanitize-recover=all" \
        "$BUILDDIR/test/libcrawllog_test.a" || die "library build failed"
    for t in $TARGETS; do
        src=tests/fuzz/$t.c
        [ -f "$src" ] || die "no $src"
        out=$BUILDDIR/$t
        if [ ! -x "$out" ] || [ "$src" -nt "$out" ] ||
            [ tests/fuzz/fuzz_common.h -nt "$out" ] ||
            [ "$BUILDDIR/test/libcrawllog_test.a" -nt "$out" ]; then
            echo "fuzz: CC $out"
            $CC $WARN $OPT -fsanitize=fuzzer,$SAN -fno-sanitize-recover=all \
                -Iinclude -Ilibcrawllog -DCRAWLLOG_TESTING -o "$out" "$src" \
                "$BUILDDIR/test/libcrawllog_test.a" -pthread ||
                die "build of $t failed"
        fi
    done
}

replay() {
    new_scratch
    fails=0
    total=0
    for t in $TARGETS; do
        dir=$CORPUS/${t#fuzz_}
        [ -x "$BUILDDIR/$t" ] || die "$BUILDDIR/$t not built (fuzz.sh build)"
        n=$(find "$dir" -type f 2>/dev/null | wc -l)
        if [ "$n" -eq 0 ]; then
            echo "fuzz: $t: no corpus in $dir"
            fails=$((fails + 1))
            continue
        fi
        log=$BUILDDIR/$t.replay.log
        # -runs=0 over directories runs every file once (libFuzzer's
        # "INITED" pass); a crash stops it with a non-zero status.
        if "$BUILDDIR/$t" $LIMITS -runs=0 "$dir" >"$log" 2>&1; then
            echo "fuzz: $t: replayed $n inputs: ok"
        else
            echo "fuzz: $t: replay FAILED ($log):"
            grep -E "ERROR|ORACLE|Test unit written|SUMMARY" "$log" | head -20
            fails=$((fails + 1))
        fi
        total=$((total + n))
    done
    echo "fuzz: replay targets=$(echo $TARGETS | wc -w) inputs=$total failed=$fails"
    [ "$fails" -eq 0 ]
}

# Fuzz one target for $1 seconds; writes $BUILDDIR/$t.run.log.
run_one() {
    t=$1
    secs=$2
    work=$3
    name=${t#fuzz_}
    mkdir -p "$work/$name" "$ARTIFACTS/$t"
    cp "$CORPUS/$name"/* "$work/$name/" 2>/dev/null
    extra=""
    [ -f "tests/fuzz/$name.dict" ] && extra="-dict=tests/fuzz/$name.dict"
    # The API sequences: longer inputs only repeat operations.
    [ "$t" = fuzz_api ] && extra="$extra -max_len=1024"
    "$BUILDDIR/$t" $LIMITS $extra -max_total_time="$secs" -print_final_stats=1 \
        -artifact_prefix="$ARTIFACTS/$t/" "$work/$name" \
        >"$BUILDDIR/$t.run.log" 2>&1
    echo $? >"$BUILDDIR/$t.run.rc"
}

# Minimise the committed corpus of $1 together with what a run found in
# $2/<name> (-merge=1 keeps the smallest inputs that cover every feature).
# The named files (seed-*, regress-*) always stay; the rest is replaced.
merge() {
    t=$1
    name=${t#fuzz_}
    new=$SCRATCH/merged/$name
    mkdir -p "$new" "$CORPUS/$name"
    if ! "$BUILDDIR/$t" $LIMITS -merge=1 "$new" "$CORPUS/$name" "$2/$name" \
        >"$BUILDDIR/$t.merge.log" 2>&1; then
        echo "fuzz: $t: merge failed ($BUILDDIR/$t.merge.log)"
        return
    fi
    find "$CORPUS/$name" -type f ! -name 'seed-*' ! -name 'regress-*' \
        -exec rm -f {} +
    cp "$new"/* "$CORPUS/$name/" 2>/dev/null
    # libFuzzer names files by the SHA-1 of their content: drop copies of
    # the named files.
    for f in "$CORPUS/$name"/seed-* "$CORPUS/$name"/regress-*; do
        [ -f "$f" ] || continue
        h=$(sha1sum "$f" | cut -d' ' -f1)
        rm -f "$CORPUS/$name/$h"
    done
    echo "fuzz: $t: corpus now $(ls "$CORPUS/$name" | wc -l) files," \
        "$(cat "$CORPUS/$name"/* | wc -c) bytes"
}

run() {
    secs=${1:-60}
    case $secs in
    '' | *[!0-9]*) die "run: SECONDS must be a number" ;;
    esac
    for t in $TARGETS; do
        [ -x "$BUILDDIR/$t" ] || die "$BUILDDIR/$t not built (fuzz.sh build)"
    done
    new_scratch
    work=$SCRATCH/corpus
    mkdir -p "$work"
    running=0
    for t in $TARGETS; do
        rm -f "$BUILDDIR/$t.run.rc"
        run_one "$t" "$secs" "$work" &
        running=$((running + 1))
        if [ "$running" -ge "$JOBS" ]; then
            wait
            running=0
        fi
    done
    wait
    fails=0
    execs_all=0
    ntargets=0
    for t in $TARGETS; do
        ntargets=$((ntargets + 1))
        log=$BUILDDIR/$t.run.log
        rc=$(cat "$BUILDDIR/$t.run.rc" 2>/dev/null || echo 99)
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
        cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | sed 's/cov: //')
        ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | sed 's/ft: //')
        corp=$(ls "$work/${t#fuzz_}" | wc -l)
        execs=${execs:-0}
        execs_all=$((execs_all + execs))
        crash=0
        if [ "$rc" -ne 0 ]; then
            crash=1
            fails=$((fails + 1))
        fi
        printf 'fuzz: %-16s execs=%s exec/s=%s cov=%s ft=%s corpus=%s crashes=%s\n' \
            "$t" "$execs" "${eps:-0}" "${cov:-0}" "${ft:-0}" "$corp" "$crash"
        if [ "$crash" -ne 0 ]; then
            grep -E "ERROR|ORACLE|SUMMARY|Test unit written|artifact_prefix" "$log" | head -20
            echo "fuzz: $t: exit status $rc, log $log"
        fi
        if [ "${FUZZ_MERGE:-0}" = 1 ] && [ "$crash" -eq 0 ]; then
            merge "$t" "$work"
        fi
    done
    echo "fuzz: targets=$ntargets execs=$execs_all crashes=$fails"
    [ "$fails" -eq 0 ]
}

# Regenerate the seeds (tests/fuzz/gen_corpus.c, and fuzz_index's own
# FUZZ_DUMP_SEEDS) into the committed corpus; files of the same name are
# replaced, others kept.
seeds() {
    build
    new_scratch
    $CC $WARN $OPT -fsanitize=fuzzer-no-link,$SAN -fno-sanitize-recover=all \
        -Iinclude -Ilibcrawllog -DCRAWLLOG_TESTING -o "$BUILDDIR/gen_corpus" \
        tests/fuzz/gen_corpus.c "$BUILDDIR/test/libcrawllog_test.a" -pthread ||
        die "build of gen_corpus failed"
    "$BUILDDIR/gen_corpus" "$CORPUS" || die "gen_corpus failed"
    : >"$SCRATCH/empty"
    FUZZ_DUMP_SEEDS=$CORPUS/index "$BUILDDIR/fuzz_index" -runs=1 \
        "$SCRATCH/empty" >/dev/null 2>&1 || die "fuzz_index seeds failed"
    for t in $ALL_TARGETS; do
        echo "fuzz: $CORPUS/${t#fuzz_}: $(ls "$CORPUS/${t#fuzz_}" | wc -l) files"
    done
}

replay_gcc() {
    new_scratch
    gcc_dir=$BUILDDIR-gcc
    make -s CC=gcc BUILDDIR="$gcc_dir" CFLAGS="$OPT" \
        EXTRA_CFLAGS="-fsanitize=$SAN -fno-sanitize-recover=all" \
        "$gcc_dir/test/libcrawllog_test.a" || die "gcc library build failed"
    fails=0
    total=0
    for t in $TARGETS; do
        out=$gcc_dir/$t
        gcc $WARN $OPT -fsanitize=$SAN -fno-sanitize-recover=all -Iinclude \
            -Ilibcrawllog -DCRAWLLOG_TESTING -o "$out" tests/fuzz/$t.c \
            tests/fuzz/replay_main.c "$gcc_dir/test/libcrawllog_test.a" \
            -pthread || die "gcc build of $t failed"
        dir=$CORPUS/${t#fuzz_}
        n=$(find "$dir" -type f | wc -l)
        if "$out" "$dir" >"$out.log" 2>&1; then
            echo "fuzz: $t (gcc): replayed $n inputs: ok"
        else
            echo "fuzz: $t (gcc): replay FAILED ($out.log)"
            fails=$((fails + 1))
        fi
        total=$((total + n))
    done
    echo "fuzz: replay-gcc targets=$(echo $TARGETS | wc -w) inputs=$total failed=$fails"
    [ "$fails" -eq 0 ]
}

case ${1:-} in
build) build ;;
replay) replay ;;
run) run "${2:-60}" ;;
replay-gcc) replay_gcc ;;
seeds) seeds ;;
*)
    sed -n '2,/^set -u/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
