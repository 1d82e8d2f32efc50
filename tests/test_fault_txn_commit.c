/*
 * test_fault_txn_commit.c - failpoint and allocation-failure sweeps over
 * the transaction coordinator (txn.c, txn_recover.c; reliability.md 4.3
 * T2 and 4.4 T3).  Built with -DCRAWLLOG_TESTING.
 *
 * Scenarios (the armed call in brackets):
 *  - txn_commit [producer_new with transactional.id, begin, 2 records to
 *    each of out/0 and out/1, send_offsets of in/0, commit]
 *  - txn_abort [abort of a transaction whose sends were made unarmed]
 *  - txn_fence [producer_new of the same transactional.id while an older
 *    instance holds an open transaction: fences it and aborts it]
 * The engine (helpers_fault.c) arms every site the call reaches with every
 * fault kind, mode and sampled k, checks the code against the fault, that
 * the handles close without fd leaks, that the directory reopens and
 * crawllog_verify is clean, then this program's oracle:
 *  - atomicity: after recovery (a new instance of the id) a read_committed
 *    reader sees the transaction's 4 records all or none, and the group's
 *    committed offset of in/0 moved exactly when they are visible;
 *  - durability: a commit that returned 0 is visible;
 *  - an aborted or fenced transaction is never visible.
 * Prints "fault-txn-commit: faults=F recoveries=R violations=V".
 */
#include "helpers.h"
#include "helpers_fault.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TXID "tx"
#define BASE_OUT 2    /* committed records in out (template) */
#define OFF_BEFORE 1  /* committed offset of in/0 in the template */
#define OFF_TXN 3     /* the offset the scenario's transaction stages */

static crawllog_conf_t *txn_conf(void)
{
    return cl_test_conf("transactional.id", TXID, "acks", "1", NULL);
}

static crawllog_consumer_t *group_consumer(crawllog_t *log)
{
    char err[256];
    crawllog_conf_t *conf = cl_test_conf("group.id", "g", NULL);
    crawllog_consumer_t *cons = NULL;
    assert_crawllog_ok(
        crawllog_consumer_new(log, conf, &cons, err, sizeof(err)));
    crawllog_conf_destroy(conf);
    return cons;
}

/* The transaction's sends and offsets (no begin/commit). */
static int txn_body(crawllog_producer_t *p, crawllog_consumer_t *cons)
{
    crawllog_group_metadata_t *md = NULL;
    for (int32_t part = 0; part < 2; part++) {
        for (int i = 0; i < 2; i++) {
            int rc = crawllog_producer_send(p, "out", part, NULL, 0, "txn",
                                            3, NULL, 0, NULL);
            if (rc != 0) {
                return rc;
            }
        }
    }
    int rc = crawllog_consumer_group_metadata(cons, &md);
    if (rc == 0) {
        crawllog_topic_partition_t tp = {"in", 0, OFF_TXN, NULL};
        rc = crawllog_txn_send_offsets(p, md, &tp, 1);
    }
    crawllog_group_metadata_destroy(md);
    return rc;
}

/* Records of out visible to a read_committed reader. */
static int committed_records(crawllog_t *log)
{
    int n = 0;
    for (int32_t part = 0; part < 2; part++) {
        crawllog_reader_t *rd = NULL;
        const crawllog_msg_t *m = NULL;
        assert_crawllog_ok(crawllog_reader_new(&rd, log, "out", part));
        assert_crawllog_ok(
            crawllog_reader_set_isolation(rd, CRAWLLOG_READ_COMMITTED));
        while (crawllog_reader_next(rd, &m) == 0 && m != NULL) {
            n++;
        }
        crawllog_reader_destroy(rd);
    }
    return n;
}

/* Recover (a new instance of the id finishes what is open), then judge:
 * all or nothing, offsets with the records; must_see / must_not. */
static void judge(struct cl_fault_ctx *c, crawllog_t *log, int must_see,
                  int must_not)
{
    char err[256];
    crawllog_conf_t *conf = txn_conf();
    crawllog_producer_t *p = NULL;
    int64_t off = -1;
    assert_crawllog_ok(crawllog_producer_new(log, conf, &p, err, sizeof(err)));
    assert_crawllog_ok(crawllog_producer_destroy(p));
    crawllog_conf_destroy(conf);
    int n = committed_records(log);
    crawllog_consumer_t *cons = group_consumer(log);
    assert_crawllog_ok(crawllog_consumer_committed(cons, "in", 0, &off));
    crawllog_consumer_destroy(cons);
    (void)c;
    if (n != BASE_OUT && n != BASE_OUT + 4) {
        fail_msg("%s: %d committed records: a transaction is half visible",
                 cl_fault.spec, n);
    }
    if ((n == BASE_OUT + 4) != (off == OFF_TXN)) {
        fail_msg("%s: %d records but committed offset %lld: records and "
                 "offsets disagree", cl_fault.spec, n, (long long)off);
    }
    if (must_see && n != BASE_OUT + 4) {
        fail_msg("%s: an acknowledged commit is not visible", cl_fault.spec);
    }
    if (must_not && n != BASE_OUT) {
        fail_msg("%s: an aborted transaction is visible", cl_fault.spec);
    }
}

static void release(struct cl_fault_ctx *c)
{
    crawllog_conf_destroy(c->conf);
    c->conf = NULL;
    if (c->p != NULL) {
        (void)crawllog_producer_destroy(c->p);
        c->p = NULL;
    }
    crawllog_consumer_destroy(c->cons);
    c->cons = NULL;
    if (c->v[0] != 0) {
        (void)crawllog_producer_destroy((crawllog_producer_t *)(intptr_t)
                                            c->v[0]);
        c->v[0] = 0;
    }
}

/* ---- scenarios ---------------------------------------------------------- */

static void pre_commit(struct cl_fault_ctx *c)
{
    c->conf = txn_conf();
    c->cons = group_consumer(c->log);
}

static int run_commit(struct cl_fault_ctx *c)
{
    char err[256];
    int rc = crawllog_producer_new(c->log, c->conf, &c->p, err, sizeof(err));
    if (rc == 0) {
        rc = crawllog_txn_begin(c->p);
    }
    if (rc == 0) {
        rc = txn_body(c->p, c->cons);
    }
    if (rc == 0) {
        rc = crawllog_txn_commit(c->p);
    }
    return rc;
}

static void check_commit(struct cl_fault_ctx *c, crawllog_t *log)
{
    judge(c, log, c->rc == 0, 0);
}

static void pre_abort(struct cl_fault_ctx *c)
{
    char err[256];
    c->conf = txn_conf();
    c->cons = group_consumer(c->log);
    assert_crawllog_ok(
        crawllog_producer_new(c->log, c->conf, &c->p, err, sizeof(err)));
    assert_crawllog_ok(crawllog_txn_begin(c->p));
    assert_crawllog_ok(txn_body(c->p, c->cons));
}

static int run_abort(struct cl_fault_ctx *c)
{
    return crawllog_txn_abort(c->p);
}

static void check_never(struct cl_fault_ctx *c, crawllog_t *log)
{
    judge(c, log, 0, 1);
}

/* An older instance with an open transaction, kept in v[0]. */
static void pre_fence(struct cl_fault_ctx *c)
{
    pre_abort(c);
    c->v[0] = (int64_t)(intptr_t)c->p;
    c->p = NULL;
}

static int run_fence(struct cl_fault_ctx *c)
{
    char err[256];
    int rc = crawllog_producer_new(c->log, c->conf, &c->p, err, sizeof(err));
    crawllog_producer_t *old = (crawllog_producer_t *)(intptr_t)c->v[0];
    if (rc == 0) {
        /* The older instance is fenced whatever happened to the abort. */
        int r = crawllog_txn_commit(old);
        if (r != CRAWLLOG_EFENCED) {
            fail_msg("%s: fenced instance's commit gave %s", cl_fault.spec,
                     crawllog_err_name(r));
        }
    }
    return rc;
}

static const struct cl_fault_scenario SC[] = {
    {"txn_commit", pre_commit, run_commit, release, check_commit, 0},
    {"txn_abort", pre_abort, run_abort, release, check_never, 0},
    {"txn_fence", pre_fence, run_fence, release, check_never, 0},
};
#define NSC (sizeof(SC) / sizeof(SC[0]))

/* ---- fixture and tests -------------------------------------------------- */

static int group_setup(void **state)
{
    char err[256];
    if (cl_fault_setup(state) != 0) {
        return -1;
    }
    crawllog_t *log = cl_fault_open(cl_fault.tmpl, 1);
    cl_test_create_topic(log, "in", 1, NULL);
    cl_test_create_topic(log, "out", 2, NULL);
    crawllog_record_t jobs[4];
    memset(jobs, 0, sizeof(jobs));
    for (int i = 0; i < 4; i++) {
        jobs[i].value = "job";
        jobs[i].value_len = 3;
        jobs[i].timestamp = -1;
    }
    assert_crawllog_ok(crawllog_append(log, "in", 0, jobs, 4,
                                       CRAWLLOG_SYNC_DURABLE, NULL));
    /* One committed transaction of the id: BASE_OUT records, offset. */
    crawllog_conf_t *conf = txn_conf();
    crawllog_producer_t *p = NULL;
    crawllog_consumer_t *cons = group_consumer(log);
    crawllog_group_metadata_t *md = NULL;
    crawllog_topic_partition_t tp = {"in", 0, OFF_BEFORE, NULL};
    assert_crawllog_ok(crawllog_producer_new(log, conf, &p, err, sizeof(err)));
    assert_crawllog_ok(crawllog_txn_begin(p));
    assert_crawllog_ok(crawllog_producer_send(p, "out", 0, NULL, 0, "old", 3,
                                              NULL, 0, NULL));
    assert_crawllog_ok(crawllog_producer_send(p, "out", 1, NULL, 0, "old", 3,
                                              NULL, 0, NULL));
    assert_crawllog_ok(crawllog_consumer_group_metadata(cons, &md));
    assert_crawllog_ok(crawllog_txn_send_offsets(p, md, &tp, 1));
    assert_crawllog_ok(crawllog_txn_commit(p));
    crawllog_group_metadata_destroy(md);
    crawllog_consumer_destroy(cons);
    assert_crawllog_ok(crawllog_producer_destroy(p));
    crawllog_conf_destroy(conf);
    assert_int_equal(committed_records(log), BASE_OUT);
    assert_crawllog_ok(crawllog_close(log));
    return 0;
}

static int group_teardown(void **state)
{
    return cl_fault_teardown(state, "fault-txn-commit", 0);
}

static void test_fault_txn_commit_io(void **state)
{
    (void)state;
    cl_fault_sweep_all(SC, NSC, 1, 0);
}

static void test_fault_txn_commit_oom(void **state)
{
    (void)state;
    cl_fault_sweep_all(SC, NSC, 0, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fault_txn_commit_io),
        cmocka_unit_test(test_fault_txn_commit_oom),
    };
    (void)cl_test_seed();
    if (getenv("CL_TEST_FILTER") != NULL) {
        cmocka_set_test_filter(getenv("CL_TEST_FILTER"));
    }
    return cmocka_run_group_tests_name("fault_txn_commit", tests,
                                       group_setup, group_teardown);
}
