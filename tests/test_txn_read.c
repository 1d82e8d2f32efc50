/*
 * test_txn_read.c - the read side of transactions (issue 10): reader.c's
 * isolation levels and txn_scan.c's fate finder, on partitions built from
 * raw transactional batches and markers appended through internal APIs
 * (no producer, no coordinator).
 *
 * Checks: read_committed vs read_uncommitted visibility; markers never
 * delivered and passed by the position; a stop at an open transaction
 * (LSO) even with committed data of another producer after it, resumed by
 * its marker, without loss or duplicate in the consumer's buffered path
 * (cl_reader_next_into without refill); random interleavings of 3
 * producers across segment rolls against a model, after every append,
 * also with the scanner's memory capped at 3 markers (hunt path); 5000
 * transactions and a reader blocked behind one open transaction while
 * 3000 others commit, with the scanner's reads counted (not quadratic); a
 * marker with a bad CRC (CRAWLLOG_ECORRUPT); EIO on every hit of the
 * txnscan.* sites (clean error, then every record exactly once); the
 * stale-transaction recovery of a blocked reader at most once a second.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "control.h"
#include "crawllog_migrate.h"
#include "helpers.h"
#include "txn_batches.h"
#include "io.h"
#include "log.h"
#include "reader.h"
#include "record.h"
#include "txn_scan.h"

#define TOPIC "t"
#define MAXREC 200000

/* ---- building a partition ------------------------------------------- */

/* The raw batch builders of tests/txn_batches.h, on this file's topic. */
#define append_data(log, pid, n, first)                                        \
    txnb_append_data((log), TOPIC, (pid), (n), (first))
#define append_marker(log, pid, type)                                          \
    txnb_append_marker((log), TOPIC, (pid), (type))

static crawllog_t *open_topic(void **state, const char *segbytes)
{
    crawllog_t *log = cl_test_open(CL_TEST_DIR(state), NULL);
    if (segbytes) {
        cl_test_create_topic(log, TOPIC, 1, "segment.bytes", segbytes, NULL);
    } else {
        cl_test_create_topic(log, TOPIC, 1, NULL);
    }
    return log;
}

static int64_t log_end(crawllog_t *log)
{
    int64_t lo, hi;
    assert_int_equal(crawllog_partition_offsets(log, TOPIC, 0, &lo, &hi), 0);
    return hi;
}

/* ---- reading ---------------------------------------------------------- */

/* Read what is available now; the value numbers go to out[*np...]. */
static int drain(crawllog_reader_t *rd, int *out, size_t *np, size_t cap)
{
    for (;;) {
        const crawllog_msg_t *m;
        int rc = crawllog_reader_next(rd, &m);
        if (rc != 0 || m == NULL) {
            return rc;
        }
        size_t len;
        const char *v = crawllog_msg_value(m, &len);
        assert_true(len >= 2 && v[0] == 'v');
        assert_true(*np < cap);
        out[(*np)++] = atoi(v + 1);
    }
}

static crawllog_reader_t *new_reader(crawllog_t *log, int level)
{
    crawllog_reader_t *rd;
    assert_int_equal(crawllog_reader_new(&rd, log, TOPIC, 0), 0);
    if (level >= 0) {
        assert_int_equal(crawllog_reader_set_isolation(rd, level), 0);
    }
    return rd;
}

static void expect_seq(const int *got, size_t n, const int *want, size_t wn)
{
    assert_int_equal(n, wn);
    for (size_t i = 0; i < n; i++) {
        if (got[i] != want[i]) {
            fail_msg("record %zu: v%d, expected v%d", i, got[i], want[i]);
        }
    }
}

/* ---- tests -------------------------------------------------------------- */

static void test_isolation_arg(void **state)
{
    crawllog_t *log = open_topic(state, NULL);
    crawllog_reader_t *rd = new_reader(log, -1);
    assert_int_equal(crawllog_reader_set_isolation(rd, 2), CRAWLLOG_EINVAL);
    assert_int_equal(crawllog_reader_set_isolation(rd, -1), CRAWLLOG_EINVAL);
    assert_true(strstr(crawllog_reader_errmsg(rd), "isolation") != NULL);
    assert_int_equal(crawllog_reader_set_isolation(NULL, 1), CRAWLLOG_EINVAL);
    assert_int_equal(cl_reader_blocked(rd), 0);
    crawllog_reader_destroy(rd);
    cl_test_close_verify(log, CL_TEST_DIR(state));
}

/* plain(0,1) A:pid1(2..4) ABORT(5) B:pid2(6,7) COMMIT(8) plain(9), and a
 * default reader (read_committed) vs read_uncommitted. */
static void test_rc_ru_visibility(void **state)
{
    crawllog_t *log = open_topic(state, NULL);
    append_data(log, -1, 2, 0);
    append_data(log, 1, 3, 2);
    append_marker(log, 1, CL_CONTROL_ABORT);
    append_data(log, 2, 2, 6);
    append_marker(log, 2, CL_CONTROL_COMMIT);
    append_data(log, -1, 1, 9);
    int got[32];
    size_t n = 0;
    crawllog_reader_t *rc = new_reader(log, -1); /* default: committed */
    assert_int_equal(drain(rc, got, &n, 32), 0);
    static const int want_rc[] = {0, 1, 6, 7, 9};
    expect_seq(got, n, want_rc, 5);
    assert_int_equal(crawllog_reader_position(rc), 10);
    assert_int_equal(cl_reader_blocked(rc), 0);

    crawllog_reader_t *ru = new_reader(log, CRAWLLOG_READ_UNCOMMITTED);
    n = 0;
    assert_int_equal(drain(ru, got, &n, 32), 0);
    static const int want_ru[] = {0, 1, 2, 3, 4, 6, 7, 9};
    expect_seq(got, n, want_ru, 8);
    assert_int_equal(crawllog_reader_position(ru), 10);

    /* A marker as the last batch: the position is the log end. */
    assert_int_equal(append_data(log, 3, 1, 10), 10);
    assert_int_equal(append_marker(log, 3, CL_CONTROL_COMMIT), 11);
    n = 0;
    assert_int_equal(drain(rc, got, &n, 32), 0);
    assert_int_equal(n, 1);
    assert_int_equal(got[0], 10);
    assert_int_equal(crawllog_reader_position(rc), 12);
    assert_int_equal(log_end(log), 12);
    n = 0;
    assert_int_equal(drain(ru, got, &n, 32), 0);
    assert_int_equal(n, 1);
    assert_int_equal(crawllog_reader_position(ru), 12);
    /* Seek to a marker: nothing, the position passes it. */
    assert_int_equal(crawllog_reader_seek(rc, 8), 0);
    n = 0;
    assert_int_equal(drain(rc, got, &n, 32), 0);
    static const int want_seek[] = {9, 10};
    expect_seq(got, n, want_seek, 2);
    crawllog_reader_destroy(rc);
    crawllog_reader_destroy(ru);
    cl_test_close_verify(log, CL_TEST_DIR(state));
}

/* plain(0) open pid1(1,2) pid2(3,4) COMMIT pid2(5) plain(6): RC stops at 1
 * until pid1's marker, then delivers the rest; with the ABORT variant. */
static void stop_at_open(void **state, int type)
{
    crawllog_t *log = open_topic(state, NULL);
    append_data(log, -1, 1, 0);
    append_data(log, 1, 2, 1);
    append_data(log, 2, 2, 3);
    append_marker(log, 2, CL_CONTROL_COMMIT);
    append_data(log, -1, 1, 6);
    int got[32];
    size_t n = 0;
    crawllog_reader_t *rd = new_reader(log, CRAWLLOG_READ_COMMITTED);
    assert_int_equal(drain(rd, got, &n, 32), 0);
    assert_int_equal(n, 1);
    assert_int_equal(got[0], 0);
    assert_int_equal(crawllog_reader_position(rd), 1);
    assert_int_equal(cl_reader_blocked(rd), 1);
    for (int i = 0; i < 3; i++) { /* polls: still nothing */
        assert_int_equal(drain(rd, got, &n, 32), 0);
        assert_int_equal(n, 1);
        assert_int_equal(cl_reader_blocked(rd), 1);
    }
    /* Inside the open batch: position kept. */
    crawllog_reader_t *in = new_reader(log, CRAWLLOG_READ_COMMITTED);
    assert_int_equal(crawllog_reader_seek(in, 2), 0);
    size_t n2 = 0;
    int got2[32];
    assert_int_equal(drain(in, got2, &n2, 32), 0);
    assert_int_equal(n2, 0);
    assert_int_equal(crawllog_reader_position(in), 2);
    assert_int_equal(cl_reader_blocked(in), 1);
    crawllog_reader_t *ru = new_reader(log, CRAWLLOG_READ_UNCOMMITTED);
    size_t n3 = 0;
    int got3[32];
    assert_int_equal(drain(ru, got3, &n3, 32), 0);
    static const int want_ru[] = {0, 1, 2, 3, 4, 6};
    expect_seq(got3, n3, want_ru, 6);
    assert_int_equal(cl_reader_blocked(ru), 0);

    append_marker(log, 1, type);
    assert_int_equal(drain(rd, got, &n, 32), 0);
    assert_int_equal(drain(in, got2, &n2, 32), 0);
    if (type == CL_CONTROL_COMMIT) {
        static const int want[] = {0, 1, 2, 3, 4, 6};
        expect_seq(got, n, want, 6);
        static const int want2[] = {2, 3, 4, 6};
        expect_seq(got2, n2, want2, 4);
    } else {
        static const int want[] = {0, 3, 4, 6};
        expect_seq(got, n, want, 4);
        static const int want2[] = {3, 4, 6};
        expect_seq(got2, n2, want2, 3);
    }
    assert_int_equal(crawllog_reader_position(rd), 8);
    assert_int_equal(crawllog_reader_position(in), 8);
    assert_int_equal(cl_reader_blocked(rd), 0);
    crawllog_reader_destroy(rd);
    crawllog_reader_destroy(in);
    crawllog_reader_destroy(ru);
    cl_test_close_verify(log, CL_TEST_DIR(state));
}

static void test_stop_at_open_commit(void **state)
{
    stop_at_open(state, CL_CONTROL_COMMIT);
}

static void test_stop_at_open_abort(void **state)
{
    stop_at_open(state, CL_CONTROL_ABORT);
}

/* The consumer's path: records handed out from the buffer without refill
 * (may_fill = 0); a stop in the middle of a buffer loses nothing and
 * delivers nothing after the open batch. */
static void test_next_into_buffer(void **state)
{
    crawllog_t *log = open_topic(state, NULL);
    append_data(log, -1, 2, 0);
    append_data(log, 1, 2, 2);
    append_data(log, -1, 2, 4);
    crawllog_reader_t *rd = new_reader(log, CRAWLLOG_READ_COMMITTED);
    struct crawllog_msg_s m;
    int got;
    int seen[16] = {0};
    assert_int_equal(cl_reader_next_into(rd, 1, 1 << 20, &m, &got), 0);
    assert_int_equal(got, 1);
    assert_int_equal(m.rv.offset, 0);
    assert_int_equal(cl_reader_next_into(rd, 0, 0, &m, &got), 0);
    assert_int_equal(got, 1);
    assert_int_equal(m.rv.offset, 1);
    assert_int_equal(cl_reader_next_into(rd, 0, 0, &m, &got), 0);
    assert_int_equal(got, 0);
    assert_int_equal(cl_reader_blocked(rd), 1);
    assert_int_equal(cl_reader_next_into(rd, 1, 1 << 20, &m, &got), 0);
    assert_int_equal(got, 0);
    assert_int_equal(cl_reader_blocked(rd), 1);
    assert_int_equal(crawllog_reader_position(rd), 2);
    append_marker(log, 1, CL_CONTROL_COMMIT); /* offset 6 */
    /* The open batch and the one after it are still in the buffer. */
    for (int want = 2; want < 6; want++) {
        assert_int_equal(cl_reader_next_into(rd, 0, 0, &m, &got), 0);
        assert_int_equal(got, 1);
        assert_int_equal(m.rv.offset, want);
        seen[want]++;
    }
    assert_int_equal(cl_reader_next_into(rd, 0, 0, &m, &got), 0);
    assert_int_equal(got, 0);
    assert_int_equal(cl_reader_blocked(rd), 0);
    assert_int_equal(cl_reader_next_into(rd, 1, 1 << 20, &m, &got), 0);
    assert_int_equal(got, 0);
    assert_int_equal(crawllog_reader_position(rd), 7);
    for (int i = 2; i < 6; i++) {
        assert_int_equal(seen[i], 1);
    }
    crawllog_reader_destroy(rd);
    cl_test_close_verify(log, CL_TEST_DIR(state));
}

/* ---- random interleavings against a model ------------------------------ */

struct mbatch {
    int64_t base;
    int n, first;   /* records: values first .. first + n - 1 */
    int64_t pid;    /* -1 plain */
    int marker;     /* 1: control batch of type */
    int type;
};

/* Expected read_committed sequence of the log b[0, nb). */
static size_t model_rc(const struct mbatch *b, size_t nb, int *out,
                       int64_t *lsop, int64_t end)
{
    size_t n = 0;
    *lsop = end;
    for (size_t i = 0; i < nb; i++) {
        if (b[i].marker) {
            continue;
        }
        int fate = b[i].pid < 0 ? CL_CONTROL_COMMIT : -1;
        for (size_t j = i + 1; fate < 0 && j < nb; j++) {
            if (b[j].marker && b[j].pid == b[i].pid) {
                fate = b[j].type;
            }
        }
        if (fate < 0) {
            *lsop = b[i].base;
            return n;
        }
        for (int k = 0; fate == CL_CONTROL_COMMIT && k < b[i].n; k++) {
            out[n++] = b[i].first + k;
        }
    }
    return n;
}

static void random_interleave(void **state, size_t max_markers)
{
    uint64_t seed = cl_test_seed();
    crawllog_t *log = open_topic(state, "4096");
    enum { NB = 1500, NP = 3 };
    struct mbatch *b = calloc(NB + NP, sizeof(*b));
    int *want = calloc(NB * 8, sizeof(int));
    int *got = calloc(NB * 8, sizeof(int));
    int *gotru = calloc(NB * 8, sizeof(int));
    assert_non_null(b);
    assert_non_null(want);
    assert_non_null(got);
    assert_non_null(gotru);
    int open[NP + 1] = {0};
    size_t nb = 0, ngot = 0, ngotru = 0;
    int val = 0;
    cl_txn_scan_max_markers = max_markers;
    crawllog_reader_t *rd = new_reader(log, CRAWLLOG_READ_COMMITTED);
    crawllog_reader_t *ru = new_reader(log, CRAWLLOG_READ_UNCOMMITTED);
    while (nb < NB) {
        uint64_t r = cl_test_rand_below(&seed, 10);
        int64_t pid = (int64_t)cl_test_rand_below(&seed, NP) + 1;
        struct mbatch *x = &b[nb];
        x->pid = -1;
        if (r < 2) {
            x->n = 1 + (int)cl_test_rand_below(&seed, 3);
            x->first = val;
            x->base = append_data(log, -1, x->n, val);
            val += x->n;
        } else if (r < 6 || !open[pid]) {
            x->pid = pid;
            x->n = 1 + (int)cl_test_rand_below(&seed, 3);
            x->first = val;
            x->base = append_data(log, pid, x->n, val);
            val += x->n;
            open[pid] = 1;
        } else {
            x->pid = pid;
            x->marker = 1;
            x->type = r < 8 ? CL_CONTROL_COMMIT : CL_CONTROL_ABORT;
            x->base = append_marker(log, pid, x->type);
            open[pid] = 0;
        }
        nb++;
        if (cl_test_rand_below(&seed, 3) == 0 || nb == NB) {
            int64_t lso, end = log_end(log);
            size_t nw = model_rc(b, nb, want, &lso, end);
            assert_int_equal(drain(rd, got, &ngot, NB * 8), 0);
            expect_seq(got, ngot, want, nw);
            assert_int_equal(crawllog_reader_position(rd), lso);
            assert_int_equal(cl_reader_blocked(rd), lso < end);
            assert_int_equal(drain(ru, gotru, &ngotru, NB * 8), 0);
            assert_int_equal(ngotru, (size_t)val);
            assert_int_equal(crawllog_reader_position(ru), end);
        }
    }
    /* Close every transaction: everything stable. */
    for (int64_t pid = 1; pid <= NP; pid++) {
        if (open[pid]) {
            b[nb].pid = pid;
            b[nb].marker = 1;
            b[nb].type = CL_CONTROL_COMMIT;
            b[nb].base = append_marker(log, pid, CL_CONTROL_COMMIT);
            nb++;
        }
    }
    int64_t lso, end = log_end(log);
    size_t nw = model_rc(b, nb, want, &lso, end);
    assert_int_equal(lso, end);
    assert_int_equal(drain(rd, got, &ngot, NB * 8), 0);
    expect_seq(got, ngot, want, nw);
    assert_int_equal(crawllog_reader_position(rd), end);
    /* A fresh reader from the start, and one from the middle. */
    crawllog_reader_t *r2 = new_reader(log, CRAWLLOG_READ_COMMITTED);
    size_t n2 = 0;
    assert_int_equal(drain(r2, gotru, &n2, NB * 8), 0);
    expect_seq(gotru, n2, want, nw);
    struct cl_test_seglist *segs = cl_test_segments(CL_TEST_DIR(state),
                                                    TOPIC, 0);
    assert_true(segs->n >= 5); /* markers and data across rolls */
    free(segs);
    cl_txn_scan_max_markers = CL_TXN_SCAN_MAX_MARKERS;
    crawllog_reader_destroy(rd);
    crawllog_reader_destroy(ru);
    crawllog_reader_destroy(r2);
    free(b);
    free(want);
    free(got);
    free(gotru);
    cl_test_close_verify(log, CL_TEST_DIR(state));
}

static void test_random_interleave(void **state)
{
    random_interleave(state, CL_TXN_SCAN_MAX_MARKERS);
}

static void test_random_interleave_capped(void **state)
{
    random_interleave(state, 3);
}

/* ---- incremental scan ---------------------------------------------------- */

/* 5000 transactions read in order: reads ~ bytes / buffer, not per
 * transaction; the scanner's memory stays small. */
static void test_many_txns(void **state)
{
    enum { N = 5000 };
    crawllog_t *log = open_topic(state, NULL);
    for (int i = 0; i < N; i++) {
        append_data(log, 1 + i % 7, 1, i);
        append_marker(log, 1 + i % 7,
                      i % 5 == 4 ? CL_CONTROL_ABORT : CL_CONTROL_COMMIT);
    }
    cl_fp_clear();
    crawllog_reader_t *rd = new_reader(log, CRAWLLOG_READ_COMMITTED);
    int *got = calloc(N, sizeof(int));
    assert_non_null(got);
    size_t n = 0;
    assert_int_equal(drain(rd, got, &n, N), 0);
    assert_int_equal(n, N - N / 5);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(got[i], (int)(i / 4 * 5 + i % 4));
    }
    uint64_t reads = cl_fp_hits("txnscan.read");
    printf("many txns: %d transactions, %" PRIu64 " scanner reads\n", N,
           reads);
    assert_true(reads >= 1);
    assert_true(reads < 100); /* ~790 KB / 32 KiB */

    /* The scanner alone: markers behind the queries are forgotten. */
    struct cl_partition *part;
    struct cl_err err = {{0}};
    struct cl_txn_scan *s;
    assert_int_equal(cl_log_partition(log, TOPIC, 0, &part, &err), 0);
    assert_int_equal(cl_txn_scan_new(&s, part, &err), 0);
    for (int i = 0; i < N; i++) {
        int fate = -1;
        assert_int_equal(
            cl_txn_scan_fate(s, 1 + i % 7, 2 * i, &fate, &err), 0);
        assert_int_equal(fate, i % 5 == 4 ? CL_TXN_FATE_ABORT
                                          : CL_TXN_FATE_COMMIT);
        assert_true(cl_txn_scan_markers(s) <= 1);
    }
    assert_true(cl_txn_scan_reads(s) < 100);
    cl_txn_scan_free(s);
    free(got);
    crawllog_reader_destroy(rd);
    cl_test_close_verify(log, CL_TEST_DIR(state));
}

/* A reader blocked at pid 1's open transaction, polled after each of 3000
 * committed transactions of pid 2: one read per poll (the new bytes), not
 * a rescan of the whole tail; then also with the memory capped. */
static void blocked_poll(void **state, size_t max_markers)
{
    enum { N = 3000 };
    crawllog_t *log = open_topic(state, NULL);
    cl_txn_scan_max_markers = max_markers;
    append_data(log, 1, 1, 0);
    crawllog_reader_t *rd = new_reader(log, CRAWLLOG_READ_COMMITTED);
    int got[16];
    size_t n = 0;
    cl_fp_clear();
    for (int i = 0; i < N; i++) {
        append_data(log, 2, 1, 1 + i);
        append_marker(log, 2, CL_CONTROL_COMMIT);
        assert_int_equal(drain(rd, got, &n, 16), 0);
        assert_int_equal(n, 0);
        assert_int_equal(cl_reader_blocked(rd), 1);
    }
    uint64_t reads = cl_fp_hits("txnscan.read");
    printf("blocked reader (max %zu markers): %d polls, %" PRIu64
           " scanner reads\n",
           max_markers, N, reads);
    assert_true(reads <= (uint64_t)N + 50);
    append_marker(log, 1, CL_CONTROL_COMMIT);
    int *all = calloc(N + 1, sizeof(int));
    assert_non_null(all);
    n = 0;
    assert_int_equal(drain(rd, all, &n, N + 1), 0);
    assert_int_equal(n, N + 1);
    for (int i = 0; i <= N; i++) {
        assert_int_equal(all[i], i);
    }
    assert_int_equal(crawllog_reader_position(rd), log_end(log));
    cl_txn_scan_max_markers = CL_TXN_SCAN_MAX_MARKERS;
    free(all);
    crawllog_reader_destroy(rd);
    cl_test_close_verify(log, CL_TEST_DIR(state));
}

static void test_blocked_poll(void **state)
{
    blocked_poll(state, CL_TXN_SCAN_MAX_MARKERS);
}

static void test_blocked_poll_capped(void **state)
{
    blocked_poll(state, 16);
}

/* ---- damage and faults ------------------------------------------------- */

static void test_marker_bad_crc(void **state)
{
    crawllog_t *log = open_topic(state, NULL);
    append_data(log, 1, 2, 0);
    append_marker(log, 1, CL_CONTROL_COMMIT);
    struct cl_test_seglist *segs = cl_test_segments(CL_TEST_DIR(state),
                                                    TOPIC, 0);
    char rel[128], path[4096];
    snprintf(rel, sizeof(rel), "topics/%s/0/%020" PRId64 ".log", TOPIC,
             segs->base[segs->n - 1]);
    cl_test_path(path, sizeof(path), CL_TEST_DIR(state), rel);
    free(segs);
    size_t size = cl_test_file_size(path);
    cl_test_flip_byte(path, (off_t)size - 5, 0x01); /* coordinatorEpoch */

    struct cl_partition *part;
    struct cl_err err = {{0}};
    struct cl_txn_scan *s;
    int fate = -1;
    assert_int_equal(cl_log_partition(log, TOPIC, 0, &part, &err), 0);
    assert_int_equal(cl_txn_scan_new(&s, part, &err), 0);
    assert_int_equal(cl_txn_scan_fate(s, 1, 1, &fate, &err),
                     CRAWLLOG_ECORRUPT);
    assert_int_equal(fate, -1);
    assert_non_null(strstr(err.msg, "control batch CRC mismatch"));
    cl_txn_scan_free(s);

    crawllog_reader_t *rd = new_reader(log, CRAWLLOG_READ_COMMITTED);
    const crawllog_msg_t *m = NULL;
    assert_int_equal(crawllog_reader_next(rd, &m), CRAWLLOG_ECORRUPT);
    assert_null(m);
    assert_int_equal(crawllog_reader_position(rd), 0);
    /* read_uncommitted: the data, then the reader's own CRC check. */
    crawllog_reader_t *ru = new_reader(log, CRAWLLOG_READ_UNCOMMITTED);
    assert_int_equal(crawllog_reader_next(ru, &m), 0);
    assert_non_null(m);
    assert_int_equal(crawllog_reader_next(ru, &m), 0);
    assert_non_null(m);
    assert_int_equal(crawllog_reader_next(ru, &m), CRAWLLOG_ECORRUPT);
    crawllog_reader_destroy(rd);
    crawllog_reader_destroy(ru);
    assert_int_equal(crawllog_close(log), 0);
}

/* EIO at each hit k of the txnscan.* sites while a read_committed reader
 * reads a log with rolls: the error is clean, and after it every record
 * arrives exactly once, in order. */
static void test_scan_faults(void **state)
{
    crawllog_t *log = open_topic(state, "4096");
    int want[400];
    size_t nw = 0;
    int val = 0;
    for (int i = 0; i < 60; i++) {
        int64_t pid = 1 + i % 3;
        append_data(log, pid, 2, val);
        if (i % 4 != 3) {
            want[nw++] = val;
            want[nw++] = val + 1;
        }
        val += 2;
        if (i % 5 == 0) {
            append_data(log, -1, 1, val);
            want[nw++] = val++;
        }
        append_marker(log, pid,
                      i % 4 == 3 ? CL_CONTROL_ABORT : CL_CONTROL_COMMIT);
    }
    static const char *sites[] = {"txnscan.read", "txnscan.open"};
    for (size_t si = 0; si < 2; si++) {
        cl_fp_clear();
        crawllog_reader_t *rd = new_reader(log, CRAWLLOG_READ_COMMITTED);
        int got[400];
        size_t n = 0;
        assert_int_equal(drain(rd, got, &n, 400), 0);
        expect_seq(got, n, want, nw);
        crawllog_reader_destroy(rd);
        uint64_t hits = cl_fp_hits(sites[si]);
        assert_true(hits >= 2);
        for (uint64_t k = 1; k <= hits; k++) {
            char spec[64];
            snprintf(spec, sizeof(spec), "%s=EIO@%" PRIu64, sites[si], k);
            assert_int_equal(cl_fp_set(spec), 0);
            rd = new_reader(log, CRAWLLOG_READ_COMMITTED);
            n = 0;
            int rc = drain(rd, got, &n, 400);
            assert_int_equal(rc, CRAWLLOG_EIO);
            assert_true(strstr(crawllog_reader_errmsg(rd), "read") != NULL ||
                        strstr(crawllog_reader_errmsg(rd), "open") != NULL);
            cl_fp_clear();
            assert_int_equal(drain(rd, got, &n, 400), 0);
            expect_seq(got, n, want, nw);
            crawllog_reader_destroy(rd);
        }
    }
    assert_int_equal(crawllog_close(log), 0);
}

/* Blocked >= 1 s: cl_txn_recover_stale, at most once a second (counted by
 * its listing of transactions/). */
static void test_blocked_recovers_stale(void **state)
{
    crawllog_t *log = open_topic(state, NULL);
    char path[4096];
    cl_test_path(path, sizeof(path), CL_TEST_DIR(state), "transactions");
    (void)mkdir(path, 0700);
    append_data(log, 1, 1, 0);
    crawllog_reader_t *rd = new_reader(log, CRAWLLOG_READ_COMMITTED);
    int got[4];
    size_t n = 0;
    cl_fp_clear();
    int64_t t0 = cl_test_mono_ms();
    uint64_t at_900 = 0;
    int polls = 0;
    while (cl_test_mono_ms() - t0 < 2600) {
        assert_int_equal(drain(rd, got, &n, 4), 0);
        assert_int_equal(cl_reader_blocked(rd), 1);
        polls++;
        if (cl_test_mono_ms() - t0 < 900) {
            at_900 = cl_fp_hits("txn.list");
        }
        cl_test_sleep_ms(5);
    }
    uint64_t calls = cl_fp_hits("txn.list");
    printf("blocked 2.6 s, %d polls: %" PRIu64 " recoveries\n", polls, calls);
    assert_int_equal(at_900, 0);
    assert_true(calls >= 1 && calls <= 2);
    assert_int_equal(n, 0);
    crawllog_reader_destroy(rd);
    assert_int_equal(crawllog_close(log), 0);
}

/* ---- migration ---------------------------------------------------------- */

/* Every batch of topic/q: no marker, nothing transactional; the values in
 * order into out. */
static size_t copied_values(crawllog_t *log, const char *topic, int32_t q,
                            int *out, size_t cap)
{
    crawllog_reader_t *rd;
    size_t n = 0;
    assert_int_equal(crawllog_reader_new(&rd, log, topic, q), 0);
    for (;;) {
        const void *buf;
        size_t len;
        assert_int_equal(crawllog_reader_fetch(rd, 1 << 20, &buf, &len), 0);
        if (len == 0) {
            break;
        }
        for (size_t off = 0; off < len;) {
            struct cl_batch_hdr h;
            struct cl_record_iter it;
            struct cl_record_view rv;
            const uint8_t *b = (const uint8_t *)buf + off;
            assert_int_equal(cl_record_batch_header(b, len - off, &h), 0);
            assert_int_equal(h.attributes & (CL_BATCH_ATTR_CONTROL |
                                             CL_BATCH_ATTR_TRANSACTIONAL),
                             0);
            assert_int_equal(
                cl_record_iter_init(&it, b, cl_record_batch_total(&h)), 0);
            while (cl_record_iter_next(&it, &rv) == 0) {
                assert_true(n < cap && rv.value_len >= 2);
                out[n++] = atoi((const char *)rv.value + 1);
            }
            off += cl_record_batch_total(&h);
        }
    }
    crawllog_reader_destroy(rd);
    return n;
}

/* A migration copies committed records as plain ones, drops markers and
 * aborted records, and does not cut over past an open transaction
 * (CRAWLLOG_EBUSY after its wait); once the marker is there it finishes. */
static void test_migrate_txn(void **state)
{
    crawllog_t *log = open_topic(state, NULL);
    append_data(log, -1, 1, 0);
    append_data(log, 1, 2, 1);
    append_data(log, 2, 1, 3);
    append_marker(log, 1, CL_CONTROL_COMMIT);
    append_marker(log, 2, CL_CONTROL_ABORT);
    append_data(log, 3, 1, 4); /* open */
    append_data(log, -1, 1, 5);
    append_data(log, 1, 1, 6); /* pid 1's next transaction, committed */
    append_marker(log, 1, CL_CONTROL_COMMIT);
    int64_t t0 = cl_test_mono_ms();
    assert_int_equal(crawllog_topic_migrate(log, TOPIC, "t2", 2, NULL, NULL),
                     CRAWLLOG_EBUSY);
    int64_t waited = cl_test_mono_ms() - t0;
    printf("migration with an open transaction: EBUSY after %" PRId64
           " ms (%s)\n",
           waited, crawllog_errmsg(log));
    assert_non_null(strstr(crawllog_errmsg(log), "transaction"));
    assert_true(waited >= 1900);
    int got[16];
    size_t n = copied_values(log, "t2", 0, got, 16);
    static const int want1[] = {0, 1, 2};
    expect_seq(got, n, want1, 3);
    assert_int_equal(copied_values(log, "t2", 1, got, 16), 0);
    /* Appends to the old topic still work (the fences were lifted). */
    append_marker(log, 3, CL_CONTROL_COMMIT);
    assert_int_equal(crawllog_topic_migrate(log, TOPIC, "t2", 2, NULL, NULL),
                     0);
    n = copied_values(log, "t2", 0, got, 16);
    static const int want2[] = {0, 1, 2, 4, 5, 6};
    expect_seq(got, n, want2, 6);
    cl_test_close_verify(log, CL_TEST_DIR(state));
}

/* After the cut-over a transaction cannot write to the old topic: the
 * redirect refuses transactional batches (they would land as plain
 * records in the new topic, visible before the commit) and drops markers
 * (nothing of a transaction can be there), so the abort works. */
static void test_migrated_topic_refuses_txn(void **state)
{
    char err[256];
    crawllog_t *log = cl_test_open(CL_TEST_DIR(state), NULL);
    cl_test_create_topic(log, TOPIC, 1, NULL);
    append_data(log, -1, 1, 0);
    assert_int_equal(crawllog_topic_migrate(log, TOPIC, "t2", 2, NULL, NULL),
                     0);
    crawllog_conf_t *conf =
        cl_test_conf("transactional.id", "mig", "acks", "1", NULL);
    crawllog_producer_t *p = NULL;
    assert_crawllog_ok(crawllog_producer_new(log, conf, &p, err, sizeof(err)));
    crawllog_conf_destroy(conf);
    assert_crawllog_ok(crawllog_txn_begin(p));
    assert_crawllog_rc(crawllog_producer_send(p, TOPIC, 0, "k", 1, "v", 1,
                                              NULL, 0, NULL),
                       CRAWLLOG_EBUSY);
    assert_non_null(strstr(crawllog_producer_errmsg(p), "migrated"));
    assert_crawllog_rc(crawllog_txn_commit(p), CRAWLLOG_EABORT);
    assert_crawllog_ok(crawllog_txn_abort(p));
    /* The new topic has the copied record only, in both modes. */
    int got[16];
    assert_int_equal(copied_values(log, "t2", 0, got, 16) +
                         copied_values(log, "t2", 1, got, 16),
                     1);
    /* And the producer goes on with the new topic. */
    assert_crawllog_ok(crawllog_txn_begin(p));
    assert_crawllog_ok(crawllog_producer_send(p, "t2", 1, "k", 1, "v", 1,
                                              NULL, 0, NULL));
    assert_crawllog_ok(crawllog_txn_commit(p));
    assert_crawllog_ok(crawllog_producer_destroy(p));
    cl_test_close_verify(log, CL_TEST_DIR(state));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cl_test_unit_fp(test_isolation_arg),
        cl_test_unit_fp(test_migrated_topic_refuses_txn),
        cl_test_unit_fp(test_rc_ru_visibility),
        cl_test_unit_fp(test_stop_at_open_commit),
        cl_test_unit_fp(test_stop_at_open_abort),
        cl_test_unit_fp(test_next_into_buffer),
        cl_test_unit_fp(test_random_interleave),
        cl_test_unit_fp(test_random_interleave_capped),
        cl_test_unit_fp(test_many_txns),
        cl_test_unit_fp(test_blocked_poll),
        cl_test_unit_fp(test_blocked_poll_capped),
        cl_test_unit_fp(test_marker_bad_crc),
        cl_test_unit_fp(test_scan_faults),
        cl_test_unit_fp(test_blocked_recovers_stale),
        cl_test_unit_fp(test_migrate_txn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
