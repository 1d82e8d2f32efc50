/*
 * test_fault_txn_read.c - failpoint and allocation-failure sweeps over the
 * read side of transactions (reader.c in read_committed, txn_scan.c;
 * reliability.md 4.3 T2 / 4.4 T3), so that tests/tools/fp_coverage.sh
 * sees the txnscan.* sites armed, not only reached.  Built with
 * -DCRAWLLOG_TESTING.
 *
 * The template: topic t (1 partition, segment.bytes 4096: markers and data
 * across rolls) with transactions of 3 producers interleaved, committed
 * and aborted, plain batches, and at the end a transaction still open
 * followed by committed records of another producer.
 *
 * Scenario read_committed [a new read_committed reader reads what is
 * available]: the engine (helpers_fault.c) arms every site it reaches with
 * every kind, mode and sampled k and judges the code; the oracle: the
 * records delivered before a failure are a prefix of the expected ones
 * (no gap, no duplicate); after the failure (faults off) the same reader
 * delivers exactly the rest, stops at the open transaction (position =
 * its offset, cl_reader_blocked) and a fresh reader of the reopened log
 * delivers the whole expected sequence.
 * Prints "fault-txn-read: faults=F recoveries=R violations=V".
 */
#include "helpers.h"
#include "txn_batches.h"
#include "helpers_fault.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "io.h"
#include "log.h"
#include "reader.h"
#include "record.h"

#define NTXN 40
#define MAXV 256

static int want[MAXV];     /* expected read_committed values */
static size_t nwant;
static int64_t want_pos;   /* where read_committed stops (the open txn) */
static int got[MAXV];
static size_t ngot;
static crawllog_reader_t *rd; /* between run and post */

/* The raw batch builders of tests/txn_batches.h, on this file's topic. */
#define append_data(log, pid, n, first)                                        \
    txnb_append_data((log), "t", (pid), (n), (first))
#define append_marker(log, pid, type)                                          \
    txnb_append_marker((log), "t", (pid), (type))

/* Records of rd available now into got[]; the first error. */
static int drain(crawllog_reader_t *r)
{
    for (;;) {
        const crawllog_msg_t *m;
        int rc = crawllog_reader_next(r, &m);
        if (rc != 0 || m == NULL) {
            return rc;
        }
        size_t len;
        const char *v = crawllog_msg_value(m, &len);
        cl_test_check(len >= 2 && v[0] == 'v' && ngot < MAXV);
        got[ngot++] = atoi(v + 1);
    }
}

static void expect_prefix(const char *what, size_t upto)
{
    cl_test_checkf(ngot <= nwant && (upto == 0 || ngot == upto),
                   "%s: %zu records, expected %zu", what, ngot,
                   upto ? upto : nwant);
    for (size_t i = 0; i < ngot; i++) {
        cl_test_checkf(got[i] == want[i], "%s: record %zu is v%d, not v%d",
                       what, i, got[i], want[i]);
    }
}

static void pre(struct cl_fault_ctx *c)
{
    (void)c;
    ngot = 0;
    rd = NULL;
}

static int run(struct cl_fault_ctx *c)
{
    int rc = crawllog_reader_new(&rd, c->log, "t", 0);
    if (rc == 0) {
        rc = drain(rd); /* read_committed is the default */
    }
    expect_prefix("armed read", rc == 0 ? nwant : 0);
    return rc;
}

static void post(struct cl_fault_ctx *c)
{
    (void)c;
    if (rd != NULL) {
        cl_test_check(drain(rd) == 0);
        expect_prefix("read after the fault", nwant);
        cl_test_check(crawllog_reader_position(rd) == want_pos);
        cl_test_check(cl_reader_blocked(rd) == 1);
        crawllog_reader_destroy(rd);
        rd = NULL;
    }
}

static void check(struct cl_fault_ctx *c, crawllog_t *log)
{
    crawllog_reader_t *r;
    (void)c;
    ngot = 0;
    cl_test_check(crawllog_reader_new(&r, log, "t", 0) == 0);
    cl_test_check(drain(r) == 0);
    expect_prefix("fresh reader", nwant);
    crawllog_reader_destroy(r);
}

static const struct cl_fault_scenario SC[] = {
    {"read_committed", pre, run, post, check, 0},
};
#define NSC (sizeof(SC) / sizeof(SC[0]))

static int group_setup(void **state)
{
    if (cl_fault_setup(state) != 0) {
        return -1;
    }
    crawllog_t *log = cl_fault_open(cl_fault.tmpl, 1);
    cl_test_create_topic(log, "t", 1, "segment.bytes", "4096", NULL);
    int val = 0;
    for (int i = 0; i < NTXN; i++) {
        int64_t pid = 1 + i % 3;
        int commit = i % 4 != 3;
        append_data(log, pid, 2, val);
        if (i % 3 == 0) { /* another producer's batch inside the txn */
            int64_t other = 1 + (i + 1) % 3;
            append_data(log, other, 1, val + 2);
            append_marker(log, other, CL_CONTROL_COMMIT);
        }
        if (i % 5 == 0) {
            append_data(log, -1, 1, val + 3);
        }
        append_marker(log, pid, commit ? CL_CONTROL_COMMIT : CL_CONTROL_ABORT);
        if (commit) {
            want[nwant++] = val;
            want[nwant++] = val + 1;
        }
        if (i % 3 == 0) {
            want[nwant++] = val + 2;
        }
        if (i % 5 == 0) {
            want[nwant++] = val + 3;
        }
        val += 4;
    }
    want_pos = append_data(log, 7, 1, val); /* open: the LSO */
    append_data(log, 8, 1, val + 1);
    append_marker(log, 8, CL_CONTROL_COMMIT);
    assert_int_equal(crawllog_close(log), 0);
    struct cl_test_seglist *sl = cl_test_segments(cl_fault.tmpl, "t", 0);
    assert_true(sl->n >= 3);
    free(sl);
    return 0;
}

static int group_teardown(void **state)
{
    return cl_fault_teardown(state, "fault-txn-read", 0);
}

static void test_fault_txn_read_io(void **state)
{
    (void)state;
    cl_fault_sweep_all(SC, NSC, 1, 0);
}

static void test_fault_txn_read_oom(void **state)
{
    (void)state;
    cl_fault_sweep_all(SC, NSC, 0, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fault_txn_read_io),
        cmocka_unit_test(test_fault_txn_read_oom),
    };
    (void)cl_test_seed();
    if (getenv("CL_TEST_FILTER") != NULL) {
        cmocka_set_test_filter(getenv("CL_TEST_FILTER"));
    }
    return cmocka_run_group_tests_name("fault_txn_read", tests, group_setup,
                                       group_teardown);
}
