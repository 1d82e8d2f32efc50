/*
 * test_lag.c - lag monitoring end to end through the public API:
 * consumers commit (commit_offsets, a member's commit of a polled message)
 * while producers move the log end, and crawllog_group_describe reports
 * each partition's lag and Burrow status and the group's: OK (lag
 * shrinking), STOP (commits stopped for longer than the window spans),
 * STALL (the same offset again and again, lagging), REWIND (a commit
 * going back), WARN (lag growing), ERR for the group; NOTFOUND without a
 * commit or without the history (removed, another boot), and the history
 * file accepted by crawllog_verify.  Lags are computed by hand; times come
 * from real commits with sleeps of 50-300 ms, the window always spanning
 * them so that "now" at describe is well inside it (or well past it, for
 * STOP).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

#define TOPIC "t"

static void append_n(crawllog_t *log, int32_t p, int n)
{
    for (int i = 0; i < n; i++) {
        crawllog_record_t r = {NULL, 0, "v", 1, -1, NULL, 0};
        assert_crawllog_ok_log(log, crawllog_append(log, TOPIC, p, &r, 1,
                                                    CRAWLLOG_SYNC_WRITTEN,
                                                    NULL));
    }
}

static crawllog_consumer_t *new_cons(crawllog_t *log, const char *group)
{
    crawllog_conf_t *conf = cl_test_conf("group.id", group,
                                         "auto.offset.reset", "earliest",
                                         "enable.auto.commit", "false", NULL);
    char err[256];
    crawllog_consumer_t *c = NULL;
    assert_crawllog_ok(crawllog_consumer_new(log, conf, &c, err, sizeof(err)));
    crawllog_conf_destroy(conf);
    return c;
}

/* Commit offset for partition p (no member in the group: allowed). */
static void commit(crawllog_consumer_t *c, int32_t p, int64_t offset)
{
    crawllog_topic_partition_t tp = {TOPIC, p, offset, NULL};
    int rc = crawllog_consumer_commit_offsets(c, &tp, 1,
                                              CRAWLLOG_SYNC_WRITTEN);
    if (rc != 0) {
        fail_msg("commit %d@%lld: %s: %s", (int)p, (long long)offset,
                 crawllog_err_name(rc), crawllog_consumer_errmsg(c));
    }
}

static crawllog_group_desc_t *describe(crawllog_t *log, const char *group)
{
    crawllog_group_desc_t *d = NULL;
    assert_crawllog_ok_log(log, crawllog_group_describe(log, group, &d));
    assert_non_null(d);
    assert_non_null(d->lag_status);
    for (size_t i = 0; i < d->partition_count; i++) {
        assert_non_null(d->partitions[i].status);
    }
    return d;
}

static const crawllog_group_partition_t *part(const crawllog_group_desc_t *d,
                                              int32_t p)
{
    for (size_t i = 0; i < d->partition_count; i++) {
        if (d->partitions[i].partition == p &&
            strcmp(d->partitions[i].topic, TOPIC) == 0) {
            return &d->partitions[i];
        }
    }
    fail_msg("partition %d not described", (int)p);
    return NULL;
}

/* Partition p has this committed offset, log end, lag and status. */
static void expect_part(const crawllog_group_desc_t *d, int32_t p,
                        int64_t committed, int64_t end, int64_t lag,
                        const char *status)
{
    const crawllog_group_partition_t *x = part(d, p);
    assert_int_equal(x->committed, committed);
    assert_int_equal(x->log_end, end);
    assert_int_equal(x->lag, lag);
    if (strcmp(x->status, status) != 0) {
        fail_msg("partition %d: status %s, expected %s", (int)p, x->status,
                 status);
    }
}

static void expect_group(const crawllog_group_desc_t *d, const char *status)
{
    if (strcmp(d->lag_status, status) != 0) {
        fail_msg("group %s: lag status %s, expected %s", d->group,
                 d->lag_status, status);
    }
}

/* Sleep until the wall clock has passed t_ms. */
static void sleep_until(int64_t t_ms)
{
    while (cl_test_now_ms() <= t_ms) {
        cl_test_sleep_ms((long)(t_ms + 1 - cl_test_now_ms()));
    }
}

/* ---------------------------------------------------------------------- */

/*
 * A consumer behind a producer, catching up: OK, with the lag of now.
 * Then it stops committing while lagging: once the silence is longer
 * than the window spans, STOP (the log end never came down to its last
 * commit), and the group ERR.
 */
static void test_ok_then_stop(void **state)
{
    crawllog_t *log = cl_test_open(CL_TEST_DIR(state), NULL);
    cl_test_create_topic(log, TOPIC, 1, NULL);
    crawllog_consumer_t *c = new_cons(log, "g");

    append_n(log, 0, 10);                 /* end 10 */
    int64_t first = cl_test_now_ms();
    commit(c, 0, 1);                      /* lag 9 */
    cl_test_sleep_ms(150);
    append_n(log, 0, 2);                  /* end 12 */
    commit(c, 0, 5);                      /* lag 7 */
    append_n(log, 0, 4);                  /* end 16 */
    commit(c, 0, 9);                      /* lag 7 */
    int64_t last = cl_test_now_ms();
    crawllog_group_desc_t *d = describe(log, "g");
    expect_part(d, 0, 9, 16, 7, "OK"); /* lag went down once: 9, 7, 7 */
    expect_group(d, "OK");
    crawllog_group_desc_free(d);

    /* Silent for longer than the window spans (>= 150 ms). */
    sleep_until(last + (last - first) + 50);
    d = describe(log, "g");
    expect_part(d, 0, 9, 16, 7, "STOP");
    expect_group(d, "ERR");
    crawllog_group_desc_free(d);

    /* Committing again (caught up) brings it back: lag 0 is OK. */
    commit(c, 0, 16);
    d = describe(log, "g");
    expect_part(d, 0, 16, 16, 0, "OK");
    expect_group(d, "OK");
    crawllog_group_desc_free(d);
    crawllog_consumer_destroy(c);
    cl_test_close_verify(log, CL_TEST_DIR(state));
}

/*
 * Partition 0 committed again and again at the same offset while lagging:
 * STALL.  Partition 1 caught up: OK.  The group: ERR.
 */
static void test_stall(void **state)
{
    crawllog_t *log = cl_test_open(CL_TEST_DIR(state), NULL);
    cl_test_create_topic(log, TOPIC, 2, NULL);
    crawllog_consumer_t *c = new_cons(log, "g");
    append_n(log, 0, 10);
    append_n(log, 1, 3);
    commit(c, 1, 3);                      /* lag 0 */
    for (int i = 0; i < 3; i++) {
        if (i > 0) {
            cl_test_sleep_ms(60);
        }
        commit(c, 0, 4);                  /* lag 6, 6, 6 */
    }
    crawllog_group_desc_t *d = describe(log, "g");
    assert_int_equal(d->partition_count, 2);
    expect_part(d, 0, 4, 10, 6, "STALL");
    expect_part(d, 1, 3, 3, 0, "OK");
    expect_group(d, "ERR");
    crawllog_group_desc_free(d);
    crawllog_consumer_destroy(c);
    cl_test_close_verify(log, CL_TEST_DIR(state));
}

/* A commit going back below the one before it: REWIND; moving forward
 * past the pre-rewind offset again recovers (lag shrinking: OK). */
static void test_rewind(void **state)
{
    crawllog_t *log = cl_test_open(CL_TEST_DIR(state), NULL);
    cl_test_create_topic(log, TOPIC, 1, NULL);
    crawllog_consumer_t *c = new_cons(log, "g");
    append_n(log, 0, 10);
    commit(c, 0, 5);                      /* lag 5 */
    cl_test_sleep_ms(100);
    commit(c, 0, 8);                      /* lag 2 */
    commit(c, 0, 3);                      /* lag 7: back */
    crawllog_group_desc_t *d = describe(log, "g");
    expect_part(d, 0, 3, 10, 7, "REWIND");
    expect_group(d, "ERR");
    crawllog_group_desc_free(d);
    commit(c, 0, 9);                      /* lag 1: past 8 again */
    d = describe(log, "g");
    expect_part(d, 0, 9, 10, 1, "OK");
    expect_group(d, "OK");
    crawllog_group_desc_free(d);
    crawllog_consumer_destroy(c);
    cl_test_close_verify(log, CL_TEST_DIR(state));
}

/* Progressing, but the lag grows at every commit: WARN (group WARN). */
static void test_warn(void **state)
{
    crawllog_t *log = cl_test_open(CL_TEST_DIR(state), NULL);
    cl_test_create_topic(log, TOPIC, 1, NULL);
    crawllog_consumer_t *c = new_cons(log, "g");
    append_n(log, 0, 10);
    commit(c, 0, 1);                      /* lag 9 */
    cl_test_sleep_ms(100);
    append_n(log, 0, 5);
    commit(c, 0, 3);                      /* lag 12 */
    append_n(log, 0, 5);
    commit(c, 0, 5);                      /* lag 15 */
    crawllog_group_desc_t *d = describe(log, "g");
    expect_part(d, 0, 5, 20, 15, "WARN");
    expect_group(d, "WARN");
    crawllog_group_desc_free(d);
    crawllog_consumer_destroy(c);
    cl_test_close_verify(log, CL_TEST_DIR(state));
}

/* A member that polls and commits a message it got: the point's log end
 * comes from its own reader's partition.  Its other partition, subscribed
 * but never committed, is NOTFOUND, and does not count for the group. */
static void test_member_commit(void **state)
{
    crawllog_t *log = cl_test_open(CL_TEST_DIR(state), NULL);
    cl_test_create_topic(log, TOPIC, 2, NULL);
    crawllog_consumer_t *c = new_cons(log, "g");
    const char *topics[] = {TOPIC};
    assert_crawllog_ok(crawllog_consumer_subscribe(c, topics, 1));
    append_n(log, 0, 6);
    const crawllog_msg_t *msgs[16], *last = NULL;
    size_t got = 0, n = 0;
    int64_t deadline = cl_test_mono_ms() + 5000;
    while (got < 6 && cl_test_mono_ms() < deadline) {
        assert_crawllog_ok(crawllog_consumer_poll(c, 100, msgs, 16, &n));
        got += n;
        if (n > 0) {
            last = msgs[n - 1];
        }
    }
    assert_int_equal(got, 6);
    assert_int_equal(crawllog_msg_offset(last), 5);
    assert_crawllog_ok(crawllog_consumer_commit(c, last,
                                                CRAWLLOG_SYNC_WRITTEN));
    crawllog_group_desc_t *d = describe(log, "g");
    assert_int_equal(d->partition_count, 2);
    expect_part(d, 0, 6, 6, 0, "OK");
    expect_part(d, 1, -1, 0, -1, "NOTFOUND");
    expect_group(d, "OK");
    crawllog_group_desc_free(d);
    crawllog_consumer_destroy(c);
    cl_test_close_verify(log, CL_TEST_DIR(state));
}

/* No history: a group whose lag.history is gone (or from another boot)
 * reads NOTFOUND everywhere, lags still right; the next commit starts a
 * new history. */
static void test_no_history(void **state)
{
    crawllog_t *log = cl_test_open(CL_TEST_DIR(state), NULL);
    cl_test_create_topic(log, TOPIC, 1, NULL);
    crawllog_consumer_t *c = new_cons(log, "g");
    append_n(log, 0, 10);
    commit(c, 0, 4);
    cl_test_sleep_ms(5);
    crawllog_group_desc_t *d = describe(log, "g");
    expect_part(d, 0, 4, 10, 6, "STOP"); /* one point: its span is 0 */
    crawllog_group_desc_free(d);
    crawllog_consumer_destroy(c);

    char path[4200];
    cl_test_path(path, sizeof(path), CL_TEST_DIR(state),
                 "groups/g/lag.history");
    assert_true(cl_test_exists(path));
    assert_int_equal(unlink(path), 0);
    d = describe(log, "g");
    expect_part(d, 0, 4, 10, 6, "NOTFOUND");
    expect_group(d, "NOTFOUND");
    crawllog_group_desc_free(d);
    assert_false(cl_test_exists(path)); /* describe creates nothing */

    /* Another boot: the old history is not trusted. */
    c = new_cons(log, "g");
    commit(c, 0, 5);
    crawllog_consumer_destroy(c);
    assert_int_equal(setenv("CRAWLLOG_BOOT_ID", "test-lag-other-boot", 1), 0);
    d = describe(log, "g");
    expect_part(d, 0, 5, 10, 5, "NOTFOUND");
    expect_group(d, "NOTFOUND");
    crawllog_group_desc_free(d);
    c = new_cons(log, "g");
    commit(c, 0, 10);
    crawllog_consumer_destroy(c);
    d = describe(log, "g");
    expect_part(d, 0, 10, 10, 0, "OK");
    expect_group(d, "OK");
    crawllog_group_desc_free(d);
    unsetenv("CRAWLLOG_BOOT_ID");
    cl_test_close_verify(log, CL_TEST_DIR(state));
}

int main(void)
{
    /* The tests set CRAWLLOG_BOOT_ID themselves. */
    unsetenv("CRAWLLOG_BOOT_ID");
    const struct CMUnitTest tests[] = {
        cl_test_unit_tmpdir(test_ok_then_stop),
        cl_test_unit_tmpdir(test_stall),
        cl_test_unit_tmpdir(test_rewind),
        cl_test_unit_tmpdir(test_warn),
        cl_test_unit_tmpdir(test_member_commit),
        cl_test_unit_tmpdir(test_no_history),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
