/*
 * test_txn_acks0.c - transactions of a buffering producer (acks=0, the
 * fast configuration of a consume-transform-produce loop), through the
 * public API (issue 10): the commit writes the buffered records before
 * its markers (all visible to read_committed, in send order, positions
 * at the log end); an abort writes them and hides them behind its
 * markers; a buffered write that fails (EIO injected at the commit's
 * flush) dooms the transaction - CRAWLLOG_EABORT, nothing visible, no
 * offset moved - and the next transaction commits.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crawllog.h"
#include "helpers.h"
#include "io.h"
#include "test_txn_util.h"

static void send_n(crawllog_producer_t *p, const char *prefix, int n)
{
    for (int i = 0; i < n; i++) {
        char v[32];
        snprintf(v, sizeof(v), "%s%d", prefix, i);
        P_OK(p, send_s(p, "out", i % 2, v));
    }
}

static void test_acks0_commit_and_abort(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = setup_log(dir, 1);
    crawllog_consumer_t *c = member(log, "g", "in", 1);
    crawllog_group_metadata_t *md = metadata(c);
    crawllog_producer_t *p =
        producer(log, "z0", "acks", "0", "linger.ms", "60000", NULL);
    P_OK(p, crawllog_txn_begin(p));
    send_n(p, "a", 5); /* a0 a2 a4 -> out/0, a1 a3 -> out/1 */
    P_OK(p, offsets1(p, md, "in", 0, 5));
    expect_read(log, "out", 0, RU, "", 0); /* still buffered */
    P_OK(p, crawllog_txn_commit(p));
    expect_read(log, "out", 0, RC, "a0,a2,a4", -1);
    expect_read(log, "out", 1, RC, "a1,a3", -1);
    assert_int_equal(end_of(log, "out", 0), 4);
    assert_int_equal(end_of(log, "out", 1), 3);
    assert_int_equal(committed(log, "g", "in", 0), 5);

    P_OK(p, crawllog_txn_begin(p));
    send_n(p, "b", 3);
    P_OK(p, offsets1(p, md, "in", 0, 6));
    P_OK(p, crawllog_txn_abort(p));
    expect_read(log, "out", 0, RC, "a0,a2,a4", -1);
    expect_read(log, "out", 0, RU, "a0,a2,a4,b0,b2", -1);
    expect_read(log, "out", 1, RU, "a1,a3,b1", -1);
    assert_int_equal(committed(log, "g", "in", 0), 5);
    crawllog_group_metadata_destroy(md);
    crawllog_consumer_destroy(c);
    assert_crawllog_ok(crawllog_producer_destroy(p));
    cl_test_close_verify(log, dir);
}

static void test_acks0_failed_write_dooms(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = setup_log(dir, 1);
    crawllog_consumer_t *c = member(log, "g", "in", 1);
    crawllog_group_metadata_t *md = metadata(c);
    crawllog_producer_t *p =
        producer(log, "z1", "acks", "0", "linger.ms", "60000", NULL);
    P_OK(p, crawllog_txn_begin(p));
    send_n(p, "x", 2);
    P_OK(p, offsets1(p, md, "in", 0, 2));
    assert_int_equal(cl_fp_set("seg.append.write=EIO"), 0);
    int rc = crawllog_txn_commit(p);
    cl_fp_clear();
    if (rc != CRAWLLOG_EABORT) {
        fail_msg("commit after a failed buffered write: %s, expected "
                 "CRAWLLOG_EABORT (%s)",
                 crawllog_err_name(rc), crawllog_producer_errmsg(p));
    }
    expect_read(log, "out", 0, RC, "", 0);
    expect_read(log, "out", 1, RC, "", 0);
    assert_int_equal(committed(log, "g", "in", 0), -1);
    P_OK(p, crawllog_txn_abort(p));
    for (int32_t part = 0; part < 2; part++) {
        struct seen *s = malloc(sizeof(*s));
        assert_non_null(s);
        read_all(log, "out", part, RC, s);
        assert_int_equal(s->n, 0);
        assert_int_equal(s->pos, end_of(log, "out", part));
        free(s);
    }
    assert_int_equal(committed(log, "g", "in", 0), -1);
    P_OK(p, crawllog_txn_begin(p));
    send_n(p, "y", 2);
    P_OK(p, offsets1(p, md, "in", 0, 2));
    P_OK(p, crawllog_txn_commit(p));
    expect_read(log, "out", 0, RC, "y0", -1);
    expect_read(log, "out", 1, RC, "y1", -1);
    assert_int_equal(committed(log, "g", "in", 0), 2);
    crawllog_group_metadata_destroy(md);
    crawllog_consumer_destroy(c);
    assert_crawllog_ok(crawllog_producer_destroy(p));
    cl_test_close_verify(log, dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_acks0_commit_and_abort),
        T(test_acks0_failed_write_dooms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
