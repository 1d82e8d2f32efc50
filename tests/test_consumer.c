/*
 * test_consumer.c - the consumer API in one process: manual assignment,
 * poll (batching, views, segment rolls, blocking wake-up), commits and
 * restart resume, auto.offset.reset, seek / seek_to_time / position,
 * pause / resume, auto-commit, misuse, crawllog_group_describe.
 * Group behaviour (rebalances, fencing, static members) is test_group.c;
 * several processes test_group_multiproc.c.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "io.h"

#define TOPIC "t"

static void append_n(crawllog_t *log, const char *topic, int32_t p, int n,
                     int first)
{
    for (int i = 0; i < n; i++) {
        char v[32];
        int len = snprintf(v, sizeof(v), "p%d-%d", (int)p, first + i);
        crawllog_record_t r = {NULL, 0, v, (size_t)len, -1, NULL, 0};
        assert_crawllog_ok_log(log, crawllog_append(log, topic, p, &r, 1,
                                                    CRAWLLOG_SYNC_WRITTEN,
                                                    NULL));
    }
}

static crawllog_consumer_t *new_cons(crawllog_t *log, const char *group,
                                     const char *reset)
{
    crawllog_conf_t *conf = cl_test_conf("auto.offset.reset", reset, NULL);
    char err[256];
    crawllog_consumer_t *c = NULL;
    if (group) {
        assert_crawllog_ok(crawllog_conf_set(conf, "group.id", group, err,
                                             sizeof(err)));
    }
    assert_crawllog_ok(crawllog_consumer_new(log, conf, &c, err, sizeof(err)));
    crawllog_conf_destroy(conf);
    return c;
}

static void assign_all(crawllog_consumer_t *c, int32_t parts, int64_t start)
{
    crawllog_topic_partition_t tp[8];
    for (int32_t p = 0; p < parts; p++) {
        tp[p] = (crawllog_topic_partition_t){TOPIC, p, start, NULL};
    }
    assert_crawllog_ok(crawllog_consumer_assign(c, tp, (size_t)parts));
}

/* Poll until want messages arrived (or 5 s): per partition, the offsets
 * seen are checked to be contiguous from first[p]. */
static int drain(crawllog_consumer_t *c, int want, int64_t *next, int nparts)
{
    const crawllog_msg_t *msgs[64];
    int got = 0;
    int64_t deadline = cl_test_mono_ms() + 5000;
    while (got < want && cl_test_mono_ms() < deadline) {
        size_t n = 0;
        int rc = crawllog_consumer_poll(c, 100, msgs, 64, &n);
        if (rc != 0) {
            fail_msg("poll: %s: %s", crawllog_err_name(rc),
                     crawllog_consumer_errmsg(c));
        }
        for (size_t i = 0; i < n; i++) {
            int32_t p = crawllog_msg_partition(msgs[i]);
            assert_string_equal(crawllog_msg_topic(msgs[i]), TOPIC);
            assert_true(p >= 0 && p < nparts);
            assert_int_equal(crawllog_msg_offset(msgs[i]), next[p]);
            size_t len;
            const char *v = crawllog_msg_value(msgs[i], &len);
            char want_v[32];
            snprintf(want_v, sizeof(want_v), "p%d-%d", (int)p, (int)next[p]);
            assert_int_equal(len, strlen(want_v));
            assert_memory_equal(v, want_v, len);
            next[p]++;
        }
        got += (int)n;
    }
    return got;
}

static void test_assign_poll(void **state)
{
    crawllog_t *log = cl_test_open(CL_TEST_DIR(state), NULL);
    cl_test_create_topic(log, TOPIC, 2, NULL);
    append_n(log, TOPIC, 0, 30, 0);
    append_n(log, TOPIC, 1, 20, 0);
    crawllog_consumer_t *c = new_cons(log, NULL, "earliest");
    assign_all(c, 2, CRAWLLOG_OFFSET_BEGINNING);
    int64_t next[2] = {0, 0};
    assert_int_equal(drain(c, 50, next, 2), 50);
    int64_t pos;
    assert_crawllog_ok(crawllog_consumer_position(c, TOPIC, 0, &pos));
    assert_int_equal(pos, 30);
    assert_crawllog_ok(crawllog_consumer_position(c, TOPIC, 1, &pos));
    assert_int_equal(pos, 20);
    /* Nothing more: poll with timeout 0 returns at once with nothing. */
    const crawllog_msg_t *m[4];
    size_t n = 99;
    assert_crawllog_ok(crawllog_consumer_poll(c, 0, m, 4, &n));
    assert_int_equal(n, 0);
    /* All messages of one poll stay valid together: read 2 x 10 and check
     * every view after the poll returned. */
    append_n(log, TOPIC, 0, 10, 30);
    append_n(log, TOPIC, 1, 10, 20);
    const crawllog_msg_t *all[20];
    size_t total = 0;
    int64_t deadline = cl_test_mono_ms() + 5000;
    while (total < 20 && cl_test_mono_ms() < deadline) {
        assert_crawllog_ok(
            crawllog_consumer_poll(c, 100, all + total, 20 - total, &n));
        total += n;
        if (total < 20) {
            total = 0; /* views of an earlier poll are gone: start over */
            assert_crawllog_ok(crawllog_consumer_seek(c, TOPIC, 0, 30));
            assert_crawllog_ok(crawllog_consumer_seek(c, TOPIC, 1, 20));
        }
    }
    assert_int_equal(total, 20);
    for (size_t i = 0; i < total; i++) {
        size_t len;
        const char *v = crawllog_msg_value(all[i], &len);
        char want_v[32];
        snprintf(want_v, sizeof(want_v), "p%d-%d",
                 (int)crawllog_msg_partition(all[i]),
                 (int)crawllog_msg_offset(all[i]));
        assert_int_equal(len, strlen(want_v));
        assert_memory_equal(v, want_v, len);
    }
    crawllog_consumer_destroy(c);
    cl_test_close_verify(log, CL_TEST_DIR(state));
}

static void test_poll_across_segment_rolls(void **state)
{
    crawllog_t *log = cl_test_open(CL_TEST_DIR(state), NULL);
    cl_test_create_topic(log, TOPIC, 1, "segment.bytes", "4096", NULL);
    append_n(log, TOPIC, 0, 600, 0);
    char dir[512];
    cl_test_path(dir, sizeof(dir), CL_TEST_DIR(state), "topics/t/0");
    assert_true(cl_test_count_entries(dir) > 10); /* many segments */
    crawllog_consumer_t *c = new_cons(log, NULL, "earliest");
    assign_all(c, 1, CRAWLLOG_OFFSET_BEGINNING);
    int64_t next[1] = {0};
    assert_int_equal(drain(c, 600, next, 1), 600);
    crawllog_consumer_destroy(c);
    cl_test_close_verify(log, CL_TEST_DIR(state));
}

static void test_commit_restart_resume(void **state)
{
    crawllog_t *log = cl_test_open(CL_TEST_DIR(state), NULL);
    cl_test_create_topic(log, TOPIC, 2, NULL);
    append_n(log, TOPIC, 0, 10, 0);
    append_n(log, TOPIC, 1, 10, 0);
    crawllog_consumer_t *c = new_cons(log, "g", "earliest");
    assign_all(c, 2, CRAWLLOG_OFFSET_COMMITTED);
    const crawllog_msg_t *m[4];
    size_t n;
    assert_crawllog_ok(crawllog_consumer_poll(c, 1000, m, 4, &n));
    assert_int_equal(n, 4);
    int64_t off;
    assert_crawllog_ok(crawllog_consumer_committed(c, TOPIC, 0, &off));
    assert_int_equal(off, -1);
    /* Commit one message: its partition at offset + 1. */
    const crawllog_msg_t *last = m[n - 1];
    int32_t lp = crawllog_msg_partition(last);
    int64_t lo = crawllog_msg_offset(last);
    assert_crawllog_ok(crawllog_consumer_commit(c, last,
                                                CRAWLLOG_SYNC_DURABLE));
    assert_crawllog_ok(crawllog_consumer_committed(c, TOPIC, lp, &off));
    assert_int_equal(off, lo + 1);
    /* Several offsets at once, with metadata. */
    crawllog_topic_partition_t list[2] = {{TOPIC, 0, 7, "seven"},
                                          {TOPIC, 1, 3, NULL}};
    assert_crawllog_ok(crawllog_consumer_commit_offsets(
        c, list, 2, CRAWLLOG_SYNC_DURABLE));
    crawllog_consumer_destroy(c);
    assert_crawllog_ok(crawllog_close(log));

    /* A new process (a reopened log): resumes at the committed offsets. */
    log = cl_test_open(CL_TEST_DIR(state), NULL);
    c = new_cons(log, "g", "earliest");
    assign_all(c, 2, CRAWLLOG_OFFSET_COMMITTED);
    int64_t next[2] = {7, 3};
    assert_int_equal(drain(c, 3 + 7, next, 2), 10);
    /* Committed offsets are visible to any consumer of the group. */
    crawllog_consumer_t *other = new_cons(log, "g", "earliest");
    assert_crawllog_ok(crawllog_consumer_committed(other, TOPIC, 0, &off));
    assert_int_equal(off, 7);
    assert_crawllog_ok(crawllog_consumer_commit(c, NULL,
                                                CRAWLLOG_SYNC_WRITTEN));
    assert_crawllog_ok(crawllog_consumer_committed(other, TOPIC, 0, &off));
    assert_int_equal(off, 10);
    assert_crawllog_ok(crawllog_consumer_committed(other, TOPIC, 1, &off));
    assert_int_equal(off, 10);
    /* Committing unchanged positions again writes nothing: the commit
     * time stays that of the first commit. */
    crawllog_group_desc_t *d1, *d2;
    assert_crawllog_ok(crawllog_group_describe(log, "g", &d1));
    cl_test_sleep_ms(20);
    assert_crawllog_ok(crawllog_consumer_commit(c, NULL,
                                                CRAWLLOG_SYNC_DURABLE));
    assert_crawllog_ok(crawllog_group_describe(log, "g", &d2));
    assert_int_equal(d1->partition_count, 2);
    assert_int_equal(d2->partition_count, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(d1->partitions[i].commit_time_ms,
                         d2->partitions[i].commit_time_ms);
    }
    crawllog_group_desc_free(d1);
    crawllog_group_desc_free(d2);
    crawllog_consumer_destroy(other);
    crawllog_consumer_destroy(c);
    cl_test_close_verify(log, CL_TEST_DIR(state));
}

static void test_offset_reset(void **state)
{
    crawllog_t *log = cl_test_open(CL_TEST_DIR(state), NULL);
    cl_test_create_topic(log, TOPIC, 1, NULL);
    append_n(log, TOPIC, 0, 5, 0);
    const crawllog_msg_t *m[8];
    size_t n;
    /* latest (the default): only what comes after. */
    crawllog_consumer_t *c = new_cons(log, "g", "latest");
    assign_all(c, 1, CRAWLLOG_OFFSET_COMMITTED);
    assert_crawllog_ok(crawllog_consumer_poll(c, 0, m, 8, &n));
    assert_int_equal(n, 0);
    append_n(log, TOPIC, 0, 1, 5);
    assert_crawllog_ok(crawllog_consumer_poll(c, 2000, m, 8, &n));
    assert_int_equal(n, 1);
    assert_int_equal(crawllog_msg_offset(m[0]), 5);
    crawllog_consumer_destroy(c);
    /* earliest */
    c = new_cons(log, "g", "earliest");
    assign_all(c, 1, CRAWLLOG_OFFSET_COMMITTED);
    assert_crawllog_ok(crawllog_consumer_poll(c, 1000, m, 8, &n));
    assert_int_equal(n, 6);
    assert_int_equal(crawllog_msg_offset(m[0]), 0);
    crawllog_consumer_destroy(c);
    /* error: poll fails naming the partition; nothing delivered. */
    c = new_cons(log, "g", "error");
    assign_all(c, 1, CRAWLLOG_OFFSET_COMMITTED);
    assert_crawllog_rc(crawllog_consumer_poll(c, 0, m, 8, &n),
                       CRAWLLOG_EOFFSET);
    assert_int_equal(n, 0);
    assert_non_null(strstr(crawllog_consumer_errmsg(c), "t/0"));
    assert_non_null(strstr(crawllog_consumer_errmsg(c), "auto.offset.reset"));
    crawllog_consumer_destroy(c);
    /* A committed offset outside the log (e.g. from a deleted and
     * re-created topic) is reset too. */
    c = new_cons(log, "g", "earliest");
    crawllog_topic_partition_t far = {TOPIC, 0, 1000, NULL};
    assert_crawllog_ok(crawllog_consumer_commit_offsets(c, &far, 1,
                                                        CRAWLLOG_SYNC_WRITTEN));
    assign_all(c, 1, CRAWLLOG_OFFSET_COMMITTED);
    assert_crawllog_ok(crawllog_consumer_poll(c, 1000, m, 8, &n));
    assert_int_equal(n, 6);
    assert_int_equal(crawllog_msg_offset(m[0]), 0);
    crawllog_consumer_destroy(c);
    cl_test_close_verify(log, CL_TEST_DIR(state));
}

static void test_seek_position_time(void **state)
{
    crawllog_t *log = cl_test_open(CL_TEST_DIR(state), NULL);
    cl_test_create_topic(log, TOPIC, 1, NULL);
    for (int i = 0; i < 10; i++) {
        char v[32];
        int len = snprintf(v, sizeof(v), "p0-%d", i);
        crawllog_record_t r = {NULL, 0, v, (size_t)len, 1000 * (i + 1), NULL,
                               0};
        assert_crawllog_ok(crawllog_append(log, TOPIC, 0, &r, 1,
                                           CRAWLLOG_SYNC_WRITTEN, NULL));
    }
    crawllog_consumer_t *c = new_cons(log, NULL, "earliest");
    assign_all(c, 1, CRAWLLOG_OFFSET_END);
    int64_t pos;
    const crawllog_msg_t *m[4];
    size_t n;
    assert_crawllog_ok(crawllog_consumer_poll(c, 0, m, 4, &n));
    assert_int_equal(n, 0);
    assert_crawllog_ok(crawllog_consumer_position(c, TOPIC, 0, &pos));
    assert_int_equal(pos, 10);
    assert_crawllog_ok(crawllog_consumer_seek(c, TOPIC, 0, 4));
    assert_crawllog_ok(crawllog_consumer_poll(c, 0, m, 1, &n));
    assert_int_equal(n, 1);
    assert_int_equal(crawllog_msg_offset(m[0]), 4);
    assert_crawllog_ok(crawllog_consumer_seek_to_time(c, TOPIC, 0, 6500));
    assert_crawllog_ok(crawllog_consumer_position(c, TOPIC, 0, &pos));
    assert_int_equal(pos, 6); /* first timestamp >= 6500 is 7000 */
    assert_crawllog_ok(crawllog_consumer_seek(c, TOPIC, 0,
                                              CRAWLLOG_OFFSET_BEGINNING));
    assert_crawllog_ok(crawllog_consumer_poll(c, 0, m, 1, &n));
    assert_int_equal(crawllog_msg_offset(m[0]), 0);
    assert_crawllog_rc(crawllog_consumer_seek(c, TOPIC, 0, 11),
                       CRAWLLOG_EOFFSET);
    assert_crawllog_rc(crawllog_consumer_seek(c, TOPIC, 3, 0),
                       CRAWLLOG_ENOTOPIC);
    assert_crawllog_rc(crawllog_consumer_position(c, "other", 0, &pos),
                       CRAWLLOG_ENOTOPIC);
    crawllog_consumer_destroy(c);
    cl_test_close_verify(log, CL_TEST_DIR(state));
}

static void test_pause_resume(void **state)
{
    crawllog_t *log = cl_test_open(CL_TEST_DIR(state), NULL);
    cl_test_create_topic(log, TOPIC, 2, NULL);
    append_n(log, TOPIC, 0, 5, 0);
    append_n(log, TOPIC, 1, 5, 0);
    crawllog_consumer_t *c = new_cons(log, NULL, "earliest");
    assign_all(c, 2, CRAWLLOG_OFFSET_BEGINNING);
    crawllog_topic_partition_t p0 = {TOPIC, 0, -1, NULL};
    crawllog_topic_partition_t bad[2] = {{TOPIC, 0, -1, NULL},
                                         {TOPIC, 5, -1, NULL}};
    assert_crawllog_rc(crawllog_consumer_pause(c, bad, 2), CRAWLLOG_ENOTOPIC);
    assert_crawllog_ok(crawllog_consumer_pause(c, &p0, 1));
    const crawllog_msg_t *m[16];
    size_t n;
    assert_crawllog_ok(crawllog_consumer_poll(c, 200, m, 16, &n));
    assert_int_equal(n, 5);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(crawllog_msg_partition(m[i]), 1);
    }
    /* Paused with data waiting: poll times out with nothing. */
    int64_t t0 = cl_test_mono_ms();
    assert_crawllog_ok(crawllog_consumer_poll(c, 150, m, 16, &n));
    assert_int_equal(n, 0);
    assert_true(cl_test_mono_ms() - t0 >= 140);
    assert_crawllog_ok(crawllog_consumer_resume(c, &p0, 1));
    assert_crawllog_ok(crawllog_consumer_poll(c, 200, m, 16, &n));
    assert_int_equal(n, 5);
    assert_int_equal(crawllog_msg_partition(m[0]), 0);
    crawllog_consumer_destroy(c);
    cl_test_close_verify(log, CL_TEST_DIR(state));
}

struct waker {
    crawllog_t *log;
    int delay_ms;
};

static void *append_later(void *arg)
{
    struct waker *w = arg;
    cl_test_sleep_ms(w->delay_ms);
    char v[] = "p0-0";
    crawllog_record_t r = {NULL, 0, v, 4, -1, NULL, 0};
    int rc = crawllog_append(w->log, TOPIC, 0, &r, 1, CRAWLLOG_SYNC_WRITTEN,
                             NULL);
    cl_test_thread_check(rc == 0, "append: %s", crawllog_err_name(rc));
    return NULL;
}

static void test_blocking_poll_wakes(void **state)
{
    crawllog_t *log = cl_test_open(CL_TEST_DIR(state), NULL);
    cl_test_create_topic(log, TOPIC, 1, NULL);
    crawllog_consumer_t *c = new_cons(log, NULL, "earliest");
    assign_all(c, 1, CRAWLLOG_OFFSET_BEGINNING);
    const crawllog_msg_t *m[4];
    size_t n;
    assert_crawllog_ok(crawllog_consumer_poll(c, 0, m, 4, &n)); /* start */
    pthread_t th;
    struct waker w = {log, 100};
    assert_int_equal(pthread_create(&th, NULL, append_later, &w), 0);
    int64_t t0 = cl_test_mono_ms();
    assert_crawllog_ok(crawllog_consumer_poll(c, 10000, m, 4, &n));
    int64_t took = cl_test_mono_ms() - t0;
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(n, 1);
    /* Woken by the append, not by the 10 s timeout. */
    assert_true(took < 5000);
    crawllog_consumer_destroy(c);
    cl_test_close_verify(log, CL_TEST_DIR(state));
}

static void test_auto_commit_on_close(void **state)
{
    crawllog_t *log = cl_test_open(CL_TEST_DIR(state), NULL);
    cl_test_create_topic(log, TOPIC, 1, NULL);
    append_n(log, TOPIC, 0, 8, 0);
    crawllog_conf_t *conf = cl_test_conf("group.id", "g", "enable.auto.commit",
                                         "true", "auto.offset.reset",
                                         "earliest", NULL);
    char err[256];
    crawllog_consumer_t *c;
    assert_crawllog_ok(crawllog_consumer_new(log, conf, &c, err, sizeof(err)));
    assign_all(c, 1, CRAWLLOG_OFFSET_COMMITTED);
    const crawllog_msg_t *m[5];
    size_t n;
    assert_crawllog_ok(crawllog_consumer_poll(c, 1000, m, 5, &n));
    assert_int_equal(n, 5);
    assert_crawllog_ok(crawllog_consumer_close(c));
    crawllog_consumer_destroy(c);
    c = new_cons(log, "g", "earliest");
    int64_t off;
    assert_crawllog_ok(crawllog_consumer_committed(c, TOPIC, 0, &off));
    assert_int_equal(off, 5);
    crawllog_consumer_destroy(c);
    /* Off by default: nothing committed by a plain close. */
    c = new_cons(log, "g2", "earliest");
    assign_all(c, 1, CRAWLLOG_OFFSET_COMMITTED);
    assert_crawllog_ok(crawllog_consumer_poll(c, 1000, m, 5, &n));
    assert_crawllog_ok(crawllog_consumer_close(c));
    crawllog_consumer_destroy(c);
    c = new_cons(log, "g2", "earliest");
    assert_crawllog_ok(crawllog_consumer_committed(c, TOPIC, 0, &off));
    assert_int_equal(off, -1);
    crawllog_consumer_destroy(c);
    crawllog_conf_destroy(conf);
    cl_test_close_verify(log, CL_TEST_DIR(state));
}

static void test_misuse(void **state)
{
    crawllog_t *log = cl_test_open(CL_TEST_DIR(state), NULL);
    cl_test_create_topic(log, TOPIC, 1, NULL);
    append_n(log, TOPIC, 0, 2, 0);
    char err[256];
    crawllog_consumer_t *c = NULL;
    assert_crawllog_rc(crawllog_consumer_new(NULL, NULL, &c, err, sizeof(err)),
                       CRAWLLOG_EINVAL);
    c = new_cons(log, NULL, "earliest");
    const char *topics[] = {TOPIC};
    /* subscribe needs group.id */
    assert_crawllog_rc(crawllog_consumer_subscribe(c, topics, 1),
                       CRAWLLOG_EINVAL);
    assert_non_null(strstr(crawllog_consumer_errmsg(c), "group.id"));
    assign_all(c, 1, CRAWLLOG_OFFSET_BEGINNING);
    const crawllog_msg_t *m[2];
    size_t n;
    assert_crawllog_ok(crawllog_consumer_poll(c, 1000, m, 2, &n));
    assert_int_equal(n, 2);
    /* commit without group.id */
    assert_crawllog_rc(crawllog_consumer_commit(c, m[0],
                                                CRAWLLOG_SYNC_DURABLE),
                       CRAWLLOG_EINVAL);
    assert_crawllog_rc(crawllog_consumer_poll(c, 0, NULL, 2, &n),
                       CRAWLLOG_EINVAL);
    assert_crawllog_rc(crawllog_consumer_poll(c, 0, m, 0, &n),
                       CRAWLLOG_EINVAL);
    crawllog_consumer_destroy(c);

    c = new_cons(log, "g", "earliest");
    assign_all(c, 1, CRAWLLOG_OFFSET_BEGINNING);
    assert_crawllog_rc(crawllog_consumer_subscribe(c, topics, 1),
                       CRAWLLOG_EMISUSE);
    assert_crawllog_ok(crawllog_consumer_poll(c, 1000, m, 2, &n));
    assert_crawllog_rc(crawllog_consumer_commit(c, m[0], CRAWLLOG_SYNC_NONE),
                       CRAWLLOG_EINVAL);
    crawllog_msg_t *fake = (crawllog_msg_t *)&n;
    assert_crawllog_rc(crawllog_consumer_commit(c, fake,
                                                CRAWLLOG_SYNC_DURABLE),
                       CRAWLLOG_EINVAL);
    crawllog_topic_partition_t neg = {TOPIC, 0, -5, NULL};
    assert_crawllog_rc(crawllog_consumer_commit_offsets(
                           c, &neg, 1, CRAWLLOG_SYNC_DURABLE),
                       CRAWLLOG_EINVAL);
    char *meta = malloc(5000);
    assert_non_null(meta);
    memset(meta, 'm', 4999);
    meta[4999] = '\0';
    crawllog_topic_partition_t big = {TOPIC, 0, 1, meta};
    assert_crawllog_rc(crawllog_consumer_commit_offsets(
                           c, &big, 1, CRAWLLOG_SYNC_DURABLE),
                       CRAWLLOG_EINVAL);
    free(meta);
    int64_t off;
    assert_crawllog_ok(crawllog_consumer_committed(c, TOPIC, 0, &off));
    assert_int_equal(off, -1); /* nothing of the bad calls committed */
    crawllog_topic_partition_t missing = {"nope", 0, 0, NULL};
    assert_crawllog_rc(crawllog_consumer_assign(c, &missing, 1),
                       CRAWLLOG_ENOTOPIC);
    assert_crawllog_ok(crawllog_consumer_close(c));
    assert_crawllog_rc(crawllog_consumer_poll(c, 0, m, 2, &n),
                       CRAWLLOG_ECLOSED);
    crawllog_consumer_destroy(c);
    crawllog_consumer_destroy(NULL);
    cl_test_close_verify(log, CL_TEST_DIR(state));
}

static void test_describe_lag(void **state)
{
    crawllog_t *log = cl_test_open(CL_TEST_DIR(state), NULL);
    cl_test_create_topic(log, TOPIC, 2, NULL);
    append_n(log, TOPIC, 0, 10, 0);
    append_n(log, TOPIC, 1, 4, 0);
    crawllog_group_desc_t *d = NULL;
    assert_crawllog_rc(crawllog_group_describe(log, "g", &d), CRAWLLOG_ENOENT);
    assert_null(d);
    crawllog_consumer_t *c = new_cons(log, "g", "earliest");
    crawllog_topic_partition_t list[1] = {{TOPIC, 0, 6, NULL}};
    int64_t before = cl_test_now_ms();
    assert_crawllog_ok(crawllog_consumer_commit_offsets(
        c, list, 1, CRAWLLOG_SYNC_DURABLE));
    assert_crawllog_ok(crawllog_group_describe(log, "g", &d));
    assert_string_equal(d->group, "g");
    assert_string_equal(d->state, "Empty");
    assert_int_equal(d->member_count, 0);
    assert_int_equal(d->partition_count, 1);
    assert_string_equal(d->partitions[0].topic, TOPIC);
    assert_int_equal(d->partitions[0].partition, 0);
    assert_int_equal(d->partitions[0].committed, 6);
    assert_int_equal(d->partitions[0].log_end, 10);
    assert_int_equal(d->partitions[0].lag, 4);
    assert_true(d->partitions[0].commit_time_ms >= before - 1000);
    assert_null(d->partitions[0].member_id);
    crawllog_group_desc_free(d);
    char **names;
    size_t count;
    assert_crawllog_ok(crawllog_group_list(log, &names, &count));
    assert_int_equal(count, 1);
    assert_string_equal(names[0], "g");
    crawllog_topic_list_free(names, count);
    crawllog_consumer_destroy(c);
    cl_test_close_verify(log, CL_TEST_DIR(state));
}

/* A commit whose write or fsync fails reports it, moves nothing, and the
 * consumer's next commit works (a failed fsync drops the offsets handle,
 * which is reopened from what is really on disk). */
static void test_commit_faults(void **state)
{
    crawllog_t *log = cl_test_open(CL_TEST_DIR(state), NULL);
    cl_test_create_topic(log, TOPIC, 1, NULL);
    append_n(log, TOPIC, 0, 10, 0);
    crawllog_consumer_t *c = new_cons(log, "g", "earliest");
    assign_all(c, 1, CRAWLLOG_OFFSET_COMMITTED);
    const crawllog_msg_t *m[10];
    size_t n;
    assert_crawllog_ok(crawllog_consumer_poll(c, 1000, m, 10, &n));
    assert_int_equal(n, 10);
    int64_t off;
    crawllog_topic_partition_t tp = {TOPIC, 0, 3, NULL};
    assert_crawllog_ok(crawllog_consumer_commit_offsets(
        c, &tp, 1, CRAWLLOG_SYNC_DURABLE));

    assert_int_equal(cl_fp_set("offsets.write=EIO"), 0);
    tp.offset = 5;
    assert_crawllog_rc(crawllog_consumer_commit_offsets(
                           c, &tp, 1, CRAWLLOG_SYNC_DURABLE),
                       CRAWLLOG_EIO);
    assert_non_null(strstr(crawllog_consumer_errmsg(c), "groups/g/offsets"));
    cl_fp_clear();
    assert_crawllog_ok(crawllog_consumer_committed(c, TOPIC, 0, &off));
    assert_int_equal(off, 3);

    assert_int_equal(cl_fp_set("offsets.fdatasync=EIO"), 0);
    tp.offset = 6;
    assert_crawllog_rc(crawllog_consumer_commit_offsets(
                           c, &tp, 1, CRAWLLOG_SYNC_DURABLE),
                       CRAWLLOG_EIO);
    cl_fp_clear();
    /* Written but never acknowledged as durable: the next commit, on a
     * reopened handle, supersedes it. */
    tp.offset = 7;
    assert_crawllog_ok(crawllog_consumer_commit_offsets(
        c, &tp, 1, CRAWLLOG_SYNC_DURABLE));
    assert_crawllog_ok(crawllog_consumer_committed(c, TOPIC, 0, &off));
    assert_int_equal(off, 7);

    /* The group lock cannot be taken: the commit fails, nothing moves. */
    assert_int_equal(cl_fp_set("group.lock=EIO"), 0);
    tp.offset = 9;
    assert_crawllog_rc(crawllog_consumer_commit_offsets(
                           c, &tp, 1, CRAWLLOG_SYNC_DURABLE),
                       CRAWLLOG_EIO);
    cl_fp_clear();
    assert_crawllog_ok(crawllog_consumer_committed(c, TOPIC, 0, &off));
    assert_int_equal(off, 7);
    crawllog_consumer_destroy(c);
    cl_test_close_verify(log, CL_TEST_DIR(state));
}

/* Retention deletes the segments under a consumer's position: it goes on
 * at the new log start (earliest), or reports CRAWLLOG_EOFFSET (error). */
static void test_position_deleted_by_retention(void **state)
{
    crawllog_t *log = cl_test_open(CL_TEST_DIR(state), NULL);
    cl_test_create_topic(log, TOPIC, 1, "segment.bytes", "4096",
                         "retention.bytes", "8192", NULL);
    append_n(log, TOPIC, 0, 20, 0);
    const char *resets[] = {"earliest", "error"};
    for (int r = 0; r < 2; r++) {
        crawllog_consumer_t *c = new_cons(log, NULL, resets[r]);
        assign_all(c, 1, CRAWLLOG_OFFSET_BEGINNING);
        const crawllog_msg_t *m[1];
        size_t n;
        int64_t start, end;
        assert_crawllog_ok(crawllog_partition_offsets(log, TOPIC, 0, &start,
                                                      &end));
        assert_crawllog_ok(crawllog_consumer_seek(c, TOPIC, 0, start));
        /* Lots more data, then retention: the position is gone. */
        append_n(log, TOPIC, 0, 400, (int)end);
        int64_t deleted = 0;
        assert_crawllog_ok(crawllog_maintain(log, &deleted));
        assert_true(deleted > 0);
        int64_t new_start;
        assert_crawllog_ok(crawllog_partition_offsets(log, TOPIC, 0,
                                                      &new_start, &end));
        assert_true(new_start > start + 1);
        int rc = 0;
        int64_t first = -1;
        for (int i = 0; i < 1000 && rc == 0; i++) {
            rc = crawllog_consumer_poll(c, 0, m, 1, &n);
            if (rc == 0 && n == 1 &&
                crawllog_msg_offset(m[0]) >= new_start) {
                first = crawllog_msg_offset(m[0]);
                break;
            }
        }
        if (r == 0) {
            assert_crawllog_ok(rc);
            assert_int_equal(first, new_start);
        } else {
            assert_int_equal(rc, CRAWLLOG_EOFFSET);
            assert_non_null(strstr(crawllog_consumer_errmsg(c), "retention"));
        }
        crawllog_consumer_destroy(c);
    }
    cl_test_close_verify(log, CL_TEST_DIR(state));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cl_test_unit_tmpdir(test_assign_poll),
        cl_test_unit_tmpdir(test_poll_across_segment_rolls),
        cl_test_unit_tmpdir(test_commit_restart_resume),
        cl_test_unit_tmpdir(test_offset_reset),
        cl_test_unit_tmpdir(test_seek_position_time),
        cl_test_unit_tmpdir(test_pause_resume),
        cl_test_unit_tmpdir(test_blocking_poll_wakes),
        cl_test_unit_tmpdir(test_auto_commit_on_close),
        cl_test_unit_tmpdir(test_misuse),
        cl_test_unit_tmpdir(test_describe_lag),
        cl_test_unit_fp(test_commit_faults),
        cl_test_unit_tmpdir(test_position_deleted_by_retention),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
