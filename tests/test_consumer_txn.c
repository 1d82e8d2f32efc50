/*
 * test_consumer_txn.c - the consumer over transactional data (issue 10):
 * isolation.level read_committed (the default) versus read_uncommitted,
 * positions and commit(NULL) past transaction markers and aborted records
 * (the group's lag reaches 0: no "permanent lag of 1"), a read_committed
 * consumer blocked behind an open transaction (poll sleeps on its doorbell
 * instead of spinning, and delivers as soon as the COMMIT marker is
 * appended), and the calls on a partition that stays unstarted.
 * The transactional batches and markers are written with the internal
 * encoders (cl_record_batch_encode with the transactional attribute,
 * cl_control_encode) through cl_partition_append, so the test needs no
 * transactional producer.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "control.h"
#include "errors.h"
#include "helpers.h"
#include "io.h"
#include "log.h"
#include "partition.h"
#include "record.h"

#define TOPIC "t"

/* ---------------------------------------------------------------------- */
/* Writing transactional data                                              */
/* ---------------------------------------------------------------------- */

struct app_arg {
    uint8_t *buf;
    size_t len;
    int64_t base;
};

static int app_op(struct cl_partition *part, void *arg, struct cl_err *err)
{
    struct app_arg *a = arg;
    return cl_partition_append(part, a->buf, a->len, 1, CRAWLLOG_SYNC_WRITTEN,
                               &a->base, err);
}

static int64_t append_buf(crawllog_t *log, int32_t p, uint8_t *buf,
                          size_t len)
{
    struct cl_err err = {{0}};
    struct app_arg a = {buf, len, -1};
    int rc = cl_log_with_partition(log, TOPIC, p, app_op, &a, &err);
    if (rc != 0) {
        fail_msg("append: %s: %s", crawllog_err_name(rc), err.msg);
    }
    return a.base;
}

/* One batch of n records valued "<tag>-<i>"; pid >= 0: transactional
 * batch of that producer, else a plain one.  Returns its base offset. */
static int64_t append_batch(crawllog_t *log, int32_t p, int64_t pid, int n,
                            const char *tag)
{
    crawllog_record_t recs[8];
    char vals[8][32];
    assert_true(n >= 1 && n <= 8);
    for (int i = 0; i < n; i++) {
        int len = snprintf(vals[i], sizeof(vals[i]), "%s-%d", tag, i);
        recs[i] = (crawllog_record_t){NULL, 0, vals[i], (size_t)len, -1,
                                      NULL, 0};
    }
    struct cl_batch_meta meta = CL_BATCH_META_NONE;
    if (pid >= 0) {
        meta.producer_id = pid;
        meta.producer_epoch = 0;
        meta.attributes = CL_BATCH_ATTR_TRANSACTIONAL;
    }
    size_t size = cl_record_batch_size(recs, (size_t)n);
    uint8_t *buf = malloc(size);
    assert_non_null(buf);
    assert_int_equal(cl_record_batch_encode(buf, size, recs, (size_t)n,
                                            cl_test_now_ms(), &meta),
                     size);
    int64_t base = append_buf(log, p, buf, size);
    free(buf);
    return base;
}

/* A COMMIT or ABORT marker of pid.  Returns its offset. */
static int64_t append_marker(crawllog_t *log, int32_t p, int64_t pid,
                             int type)
{
    struct cl_err err = {{0}};
    unsigned char *buf = NULL;
    size_t len = 0;
    assert_crawllog_ok(cl_control_encode(0, pid, 0, type, 0,
                                         cl_test_now_ms(), &buf, &len, &err));
    int64_t at = append_buf(log, p, buf, len);
    cl_io_free(buf);
    return at;
}

static int64_t log_end(crawllog_t *log, int32_t p)
{
    int64_t start = 0, end = 0;
    assert_crawllog_ok_log(log, crawllog_partition_offsets(log, TOPIC, p,
                                                           &start, &end));
    return end;
}

/* ---------------------------------------------------------------------- */
/* Consumers                                                               */
/* ---------------------------------------------------------------------- */

static crawllog_consumer_t *new_cons(crawllog_t *log, const char *group,
                                     const char *isolation)
{
    crawllog_conf_t *conf = cl_test_conf("auto.offset.reset", "earliest",
                                         "enable.auto.commit", "false", NULL);
    char err[256];
    crawllog_consumer_t *c = NULL;
    if (group != NULL) {
        assert_crawllog_ok(crawllog_conf_set(conf, "group.id", group, err,
                                             sizeof(err)));
    }
    if (isolation != NULL) {
        assert_crawllog_ok(crawllog_conf_set(conf, "isolation.level",
                                             isolation, err, sizeof(err)));
    }
    assert_crawllog_ok(crawllog_consumer_new(log, conf, &c, err, sizeof(err)));
    crawllog_conf_destroy(conf);
    return c;
}

static void assign1(crawllog_consumer_t *c, int32_t p, int64_t start)
{
    crawllog_topic_partition_t tp = {TOPIC, p, start, NULL};
    assert_crawllog_ok(crawllog_consumer_assign(c, &tp, 1));
}

static void subscribe(crawllog_consumer_t *c)
{
    const char *topics[] = {TOPIC};
    assert_crawllog_ok(crawllog_consumer_subscribe(c, topics, 1));
}

/* One poll; its messages' offsets and values are appended to offs / vals
 * (up to cap).  Returns how many it gave. */
static size_t poll_once(crawllog_consumer_t *c, int timeout_ms, int64_t *offs,
                        char (*vals)[32], size_t *np, size_t cap)
{
    const crawllog_msg_t *msgs[64];
    size_t n = 0;
    int rc = crawllog_consumer_poll(c, timeout_ms, msgs, 64, &n);
    if (rc != 0) {
        fail_msg("poll: %s: %s", crawllog_err_name(rc),
                 crawllog_consumer_errmsg(c));
    }
    for (size_t i = 0; i < n; i++) {
        assert_true(*np < cap);
        offs[*np] = crawllog_msg_offset(msgs[i]);
        if (vals != NULL) {
            size_t len = 0;
            const char *v = crawllog_msg_value(msgs[i], &len);
            assert_true(len < 32);
            memcpy(vals[*np], v, len);
            vals[*np][len] = '\0';
        }
        (*np)++;
    }
    return n;
}

/* Poll until want messages came (each poll up to 100 ms, 5 s at most),
 * then once more with timeout 0 (nothing new: the consumer looks past
 * what follows its last record).  Returns how many came. */
static size_t drain(crawllog_consumer_t *c, size_t want, int64_t *offs,
                    char (*vals)[32], size_t cap)
{
    size_t n = 0;
    int64_t deadline = cl_test_mono_ms() + 5000;
    while (n < want && cl_test_mono_ms() < deadline) {
        poll_once(c, 100, offs, vals, &n, cap);
    }
    poll_once(c, 0, offs, vals, &n, cap);
    return n;
}

static int64_t position(crawllog_consumer_t *c, int32_t p)
{
    int64_t pos = -2;
    assert_crawllog_ok(crawllog_consumer_position(c, TOPIC, p, &pos));
    return pos;
}

static int64_t committed(crawllog_consumer_t *c, int32_t p)
{
    int64_t off = -2;
    assert_crawllog_ok(crawllog_consumer_committed(c, TOPIC, p, &off));
    return off;
}

/* The group's committed offset and lag of partition p (describe). */
static void group_lag(crawllog_t *log, const char *group, int32_t p,
                      int64_t *committedp, int64_t *lagp)
{
    crawllog_group_desc_t *d = NULL;
    assert_crawllog_ok_log(log, crawllog_group_describe(log, group, &d));
    *committedp = *lagp = -100;
    for (size_t i = 0; i < d->partition_count; i++) {
        if (d->partitions[i].partition == p &&
            strcmp(d->partitions[i].topic, TOPIC) == 0) {
            *committedp = d->partitions[i].committed;
            *lagp = d->partitions[i].lag;
        }
    }
    crawllog_group_desc_free(d);
}

static int64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---------------------------------------------------------------------- */
/* Tests                                                                   */
/* ---------------------------------------------------------------------- */

/* Two interleaved transactions, one committed and one aborted, between
 * plain records: read_committed gets the plain and committed records,
 * read_uncommitted every data record; neither a marker; both end with
 * their position at the log end. */
static void test_rc_vs_ru(void **state)
{
    crawllog_t *log = cl_test_open(CL_TEST_DIR(state), NULL);
    cl_test_create_topic(log, TOPIC, 1, NULL);
    assert_int_equal(append_batch(log, 0, -1, 2, "plain"), 0);   /* 0 1 */
    assert_int_equal(append_batch(log, 0, 7, 2, "commit"), 2);   /* 2 3 */
    assert_int_equal(append_batch(log, 0, 8, 2, "abort"), 4);    /* 4 5 */
    assert_int_equal(append_marker(log, 0, 7, CL_CONTROL_COMMIT), 6);
    assert_int_equal(append_marker(log, 0, 8, CL_CONTROL_ABORT), 7);
    assert_int_equal(append_batch(log, 0, -1, 1, "after"), 8);   /* 8 */
    static const int64_t rc_offs[] = {0, 1, 2, 3, 8};
    static const int64_t ru_offs[] = {0, 1, 2, 3, 4, 5, 8};
    static const char *const ru_vals[] = {"plain-0",  "plain-1", "commit-0",
                                          "commit-1", "abort-0", "abort-1",
                                          "after-0"};
    for (int mode = 0; mode < 3; mode++) {
        /* 0: default (read_committed), 1: explicit, 2: read_uncommitted */
        const char *iso = mode == 0   ? NULL
                          : mode == 1 ? "read_committed"
                                      : "read_uncommitted";
        const int64_t *want = mode == 2 ? ru_offs : rc_offs;
        size_t nwant = mode == 2 ? 7 : 5;
        crawllog_consumer_t *c = new_cons(log, NULL, iso);
        assign1(c, 0, CRAWLLOG_OFFSET_BEGINNING);
        int64_t offs[16];
        char vals[16][32];
        size_t n = drain(c, nwant, offs, vals, 16);
        assert_int_equal(n, nwant);
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(offs[i], want[i]);
            const char *v = ru_vals[mode == 2 ? i : (i < 4 ? i : 6)];
            assert_string_equal(vals[i], v);
        }
        assert_int_equal(position(c, 0), 9);
        crawllog_consumer_destroy(c);
    }
    /* Started in the middle of the aborted transaction: read_committed
     * skips the rest of it, read_uncommitted delivers it. */
    crawllog_consumer_t *c = new_cons(log, NULL, NULL);
    assign1(c, 0, 5);
    int64_t offs[16];
    size_t n = drain(c, 1, offs, NULL, 16);
    assert_int_equal(n, 1);
    assert_int_equal(offs[0], 8);
    crawllog_consumer_destroy(c);
    c = new_cons(log, NULL, "read_uncommitted");
    assign1(c, 0, 5);
    n = drain(c, 2, offs, NULL, 16);
    assert_int_equal(n, 2);
    assert_int_equal(offs[0], 5);
    assert_int_equal(offs[1], 8);
    crawllog_consumer_destroy(c);
    cl_test_close_verify(log, CL_TEST_DIR(state));
}

/* A group member that consumed everything up to a trailing COMMIT marker
 * commits past it with commit(NULL): committed == log end, lag 0 (the
 * Kafka "lag of 1" gotcha).  The same after a trailing aborted
 * transaction (nothing delivered), and a restarted member resumes there. */
static void test_commit_past_markers(void **state)
{
    crawllog_t *log = cl_test_open(CL_TEST_DIR(state), NULL);
    cl_test_create_topic(log, TOPIC, 1, NULL);
    append_batch(log, 0, -1, 1, "plain");                  /* 0 */
    append_batch(log, 0, 3, 3, "t1");                      /* 1 2 3 */
    append_marker(log, 0, 3, CL_CONTROL_COMMIT);           /* 4 */
    assert_int_equal(log_end(log, 0), 5);
    crawllog_consumer_t *c = new_cons(log, "g", NULL);
    subscribe(c);
    int64_t offs[16];
    size_t n = drain(c, 4, offs, NULL, 16);
    assert_int_equal(n, 4);
    assert_int_equal(offs[3], 3);
    assert_int_equal(position(c, 0), 5);
    assert_crawllog_ok(crawllog_consumer_commit(c, NULL,
                                                CRAWLLOG_SYNC_DURABLE));
    assert_int_equal(committed(c, 0), 5);
    int64_t com = 0, lag = 0;
    group_lag(log, "g", 0, &com, &lag);
    assert_int_equal(com, 5);
    assert_int_equal(lag, 0);

    /* A trailing aborted transaction: nothing to hand out, the position
     * still moves past it and its marker. */
    append_batch(log, 0, 4, 2, "t2");                      /* 5 6 */
    append_marker(log, 0, 4, CL_CONTROL_ABORT);            /* 7 */
    n = 0;
    poll_once(c, 200, offs, NULL, &n, 16);
    assert_int_equal(n, 0);
    assert_int_equal(position(c, 0), 8);
    assert_crawllog_ok(crawllog_consumer_commit(c, NULL,
                                                CRAWLLOG_SYNC_WRITTEN));
    group_lag(log, "g", 0, &com, &lag);
    assert_int_equal(com, 8);
    assert_int_equal(lag, 0);
    assert_crawllog_ok(crawllog_consumer_close(c));
    crawllog_consumer_destroy(c);

    /* A new member starts at 8; a commit of a message is its offset + 1
     * as before. */
    append_batch(log, 0, -1, 1, "next");                   /* 8 */
    c = new_cons(log, "g", NULL);
    subscribe(c);
    const crawllog_msg_t *msgs[4];
    size_t got = 0;
    int64_t deadline = cl_test_mono_ms() + 5000;
    while (got == 0 && cl_test_mono_ms() < deadline) {
        assert_crawllog_ok(crawllog_consumer_poll(c, 100, msgs, 4, &got));
    }
    assert_int_equal(got, 1);
    assert_int_equal(crawllog_msg_offset(msgs[0]), 8);
    assert_crawllog_ok(crawllog_consumer_commit(c, msgs[0],
                                                CRAWLLOG_SYNC_WRITTEN));
    group_lag(log, "g", 0, &com, &lag);
    assert_int_equal(com, 9);
    assert_int_equal(lag, 0);
    crawllog_consumer_destroy(c);
    cl_test_close_verify(log, CL_TEST_DIR(state));
}

/* read_uncommitted: markers are skipped too (position past them). */
/* The record before a marker committed at once with commit(msg) - its
 * offset + 1 is the marker's offset, no further poll - is committed past
 * the marker: lag 0, not the permanent 1 of Kafka's gotcha. */
static void test_commit_msg_before_marker(void **state)
{
    crawllog_t *log = cl_test_open(CL_TEST_DIR(state), NULL);
    cl_test_create_topic(log, TOPIC, 1, NULL);
    append_batch(log, 0, 5, 2, "t1");                      /* 0 1 */
    append_marker(log, 0, 5, CL_CONTROL_COMMIT);           /* 2 */
    append_marker(log, 0, 5, CL_CONTROL_COMMIT);           /* 3: a repeat */
    crawllog_consumer_t *c = new_cons(log, "g", NULL);
    subscribe(c);
    const crawllog_msg_t *msgs[4];
    size_t got = 0;
    int64_t deadline = cl_test_mono_ms() + 5000;
    while (got < 2 && cl_test_mono_ms() < deadline) {
        assert_crawllog_ok(crawllog_consumer_poll(c, 100, msgs, 2, &got));
    }
    assert_int_equal(got, 2);
    assert_int_equal(crawllog_msg_offset(msgs[1]), 1);
    assert_crawllog_ok(
        crawllog_consumer_commit(c, msgs[1], CRAWLLOG_SYNC_WRITTEN));
    int64_t com = 0, lag = 0;
    group_lag(log, "g", 0, &com, &lag);
    assert_int_equal(com, 4);
    assert_int_equal(lag, 0);
    /* Data after the markers stops the skipping. */
    append_batch(log, 0, -1, 1, "plain");                  /* 4 */
    append_marker(log, 0, 5, CL_CONTROL_ABORT);            /* 5 */
    crawllog_topic_partition_t tp = {TOPIC, 0, 4, NULL};
    assert_crawllog_ok(
        crawllog_consumer_commit_offsets(c, &tp, 1, CRAWLLOG_SYNC_WRITTEN));
    assert_int_equal(committed(c, 0), 4);
    assert_crawllog_ok(crawllog_consumer_close(c));
    crawllog_consumer_destroy(c);
    cl_test_close_verify(log, CL_TEST_DIR(state));
}

static void test_ru_commit_past_markers(void **state)
{
    crawllog_t *log = cl_test_open(CL_TEST_DIR(state), NULL);
    cl_test_create_topic(log, TOPIC, 1, NULL);
    append_batch(log, 0, 5, 2, "t");                       /* 0 1 */
    append_marker(log, 0, 5, CL_CONTROL_ABORT);            /* 2 */
    crawllog_consumer_t *c = new_cons(log, "g", "read_uncommitted");
    assign1(c, 0, CRAWLLOG_OFFSET_COMMITTED);
    int64_t offs[16];
    size_t n = drain(c, 2, offs, NULL, 16);
    assert_int_equal(n, 2);
    assert_int_equal(offs[0], 0);
    assert_int_equal(offs[1], 1);
    assert_int_equal(position(c, 0), 3);
    assert_crawllog_ok(crawllog_consumer_commit(c, NULL,
                                                CRAWLLOG_SYNC_WRITTEN));
    assert_int_equal(committed(c, 0), 3);
    crawllog_consumer_destroy(c);
    cl_test_close_verify(log, CL_TEST_DIR(state));
}

struct later {
    crawllog_t *log;
    int64_t pid;
    int type;
    long delay_ms;
};

static void *marker_later(void *arg)
{
    struct later *l = arg;
    cl_test_sleep_ms(l->delay_ms);
    append_marker(l->log, 0, l->pid, l->type);
    return NULL;
}

/* read_committed stops at an open transaction: poll sleeps until its
 * timeout (no spinning: little CPU), the position stays at the
 * transaction's first offset (what commit(NULL) commits); the COMMIT
 * marker wakes a waiting poll, which then delivers the transaction and
 * the plain record behind it.  read_uncommitted does not wait. */
static void test_blocked_poll(void **state)
{
    crawllog_t *log = cl_test_open(CL_TEST_DIR(state), NULL);
    cl_test_create_topic(log, TOPIC, 1, NULL);
    append_batch(log, 0, -1, 1, "plain");                  /* 0 */
    append_batch(log, 0, 9, 2, "open");                    /* 1 2 */
    append_batch(log, 0, -1, 1, "behind");                 /* 3 */
    crawllog_consumer_t *ru = new_cons(log, NULL, "read_uncommitted");
    assign1(ru, 0, CRAWLLOG_OFFSET_BEGINNING);
    int64_t offs[16];
    size_t n = drain(ru, 4, offs, NULL, 16);
    assert_int_equal(n, 4);
    assert_int_equal(offs[3], 3);
    crawllog_consumer_destroy(ru);

    crawllog_consumer_t *c = new_cons(log, "g", NULL);
    assign1(c, 0, CRAWLLOG_OFFSET_COMMITTED);
    n = drain(c, 1, offs, NULL, 16);
    assert_int_equal(n, 1);
    assert_int_equal(offs[0], 0);
    assert_int_equal(position(c, 0), 1);

    /* Blocked: a 300 ms poll gives nothing and sleeps. */
    int64_t t0 = cl_test_mono_ms(), c0 = cpu_ns();
    n = 0;
    poll_once(c, 300, offs, NULL, &n, 16);
    int64_t wall = cl_test_mono_ms() - t0, cpu = cpu_ns() - c0;
    assert_int_equal(n, 0);
    assert_true(wall >= 290); /* it waited (never returns early) */
    if (cpu > 100 * 1000000LL) {
        fail_msg("a blocked poll of %lld ms used %lld ms of CPU: spinning",
                 (long long)wall, (long long)(cpu / 1000000));
    }
    assert_int_equal(position(c, 0), 1);
    assert_crawllog_ok(crawllog_consumer_commit(c, NULL,
                                                CRAWLLOG_SYNC_WRITTEN));
    assert_int_equal(committed(c, 0), 1);

    /* The marker, appended while poll waits, wakes it. */
    struct later l = {log, 9, CL_CONTROL_COMMIT, 150};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, marker_later, &l), 0);
    t0 = cl_test_mono_ms();
    n = 0;
    while (n < 3 && cl_test_mono_ms() - t0 < 5000) {
        poll_once(c, 5000, offs, NULL, &n, 16);
    }
    wall = cl_test_mono_ms() - t0;
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(n, 3);
    assert_int_equal(offs[0], 1);
    assert_int_equal(offs[1], 2);
    assert_int_equal(offs[2], 3);
    if (wall > 900) { /* a recheck (1 s) or the timeout, not the doorbell */
        fail_msg("the COMMIT marker did not wake the poll (%lld ms)",
                 (long long)wall);
    }
    n = 0;
    poll_once(c, 0, offs, NULL, &n, 16);
    assert_int_equal(n, 0);
    assert_int_equal(position(c, 0), 5);
    assert_crawllog_ok(crawllog_consumer_commit(c, NULL,
                                                CRAWLLOG_SYNC_WRITTEN));
    assert_int_equal(committed(c, 0), 5);
    int64_t com = 0, lag = 0;
    group_lag(log, "g", 0, &com, &lag);
    assert_int_equal(lag, 0);

    /* An aborted one unblocks too, delivering only what follows it. */
    append_batch(log, 0, 10, 1, "doomed");                 /* 5 */
    append_batch(log, 0, -1, 1, "tail");                   /* 6 */
    n = 0;
    poll_once(c, 100, offs, NULL, &n, 16);
    assert_int_equal(n, 0);
    assert_int_equal(position(c, 0), 5);
    append_marker(log, 0, 10, CL_CONTROL_ABORT);           /* 7 */
    n = drain(c, 1, offs, NULL, 16);
    assert_int_equal(n, 1);
    assert_int_equal(offs[0], 6);
    assert_int_equal(position(c, 0), 8);
    crawllog_consumer_destroy(c);
    cl_test_close_verify(log, CL_TEST_DIR(state));
}

/* Two partitions, one blocked: the other is still delivered at once, and
 * a poll with data in one returns without waiting for the blocked one. */
static void test_blocked_partition_does_not_stall_others(void **state)
{
    crawllog_t *log = cl_test_open(CL_TEST_DIR(state), NULL);
    cl_test_create_topic(log, TOPIC, 2, NULL);
    append_batch(log, 0, 11, 1, "open");                   /* p0: 0 */
    crawllog_consumer_t *c = new_cons(log, NULL, NULL);
    crawllog_topic_partition_t tp[2] = {
        {TOPIC, 0, CRAWLLOG_OFFSET_BEGINNING, NULL},
        {TOPIC, 1, CRAWLLOG_OFFSET_BEGINNING, NULL}};
    assert_crawllog_ok(crawllog_consumer_assign(c, tp, 2));
    int64_t offs[16];
    size_t n = 0;
    poll_once(c, 50, offs, NULL, &n, 16);
    assert_int_equal(n, 0);
    append_batch(log, 1, -1, 2, "p1");                     /* p1: 0 1 */
    int64_t t0 = cl_test_mono_ms();
    n = drain(c, 2, offs, NULL, 16);
    assert_int_equal(n, 2);
    assert_true(cl_test_mono_ms() - t0 < 4000);
    int64_t pos = -2;
    assert_crawllog_ok(crawllog_consumer_position(c, TOPIC, 0, &pos));
    assert_int_equal(pos, 0);
    assert_crawllog_ok(crawllog_consumer_position(c, TOPIC, 1, &pos));
    assert_int_equal(pos, 2);
    append_marker(log, 0, 11, CL_CONTROL_COMMIT);          /* p0: 1 */
    n = drain(c, 1, offs, NULL, 16);
    assert_int_equal(n, 1);
    assert_int_equal(offs[0], 0);
    assert_crawllog_ok(crawllog_consumer_position(c, TOPIC, 0, &pos));
    assert_int_equal(pos, 2);
    crawllog_consumer_destroy(c);
    cl_test_close_verify(log, CL_TEST_DIR(state));
}

/* Close a log that has a transactions/ directory (crawllog_verify is run
 * on such logs by test_txn*.c, not here). */
static void close_txn_log(crawllog_t *log)
{
    assert_crawllog_ok(crawllog_close(log));
}

static crawllog_producer_t *new_txn_producer(crawllog_t *log, const char *id)
{
    crawllog_conf_t *conf = cl_test_conf("transactional.id", id, NULL);
    char err[256];
    crawllog_producer_t *prod = NULL;
    int rc = crawllog_producer_new(log, conf, &prod, err, sizeof(err));
    if (rc != 0) {
        fail_msg("producer_new: %s: %s", crawllog_err_name(rc), err);
    }
    crawllog_conf_destroy(conf);
    return prod;
}

static void txn_ok(crawllog_producer_t *prod, int rc, const char *what)
{
    if (rc != 0) {
        fail_msg("%s: %s: %s", what, crawllog_err_name(rc),
                 crawllog_producer_errmsg(prod));
    }
}

/* Through the public transaction API: a read_committed member sees a
 * transaction's records only after crawllog_txn_commit, never an aborted
 * one's, and commits past the markers (lag 0); read_uncommitted sees
 * both. */
static void test_txn_api_rc_ru(void **state)
{
    crawllog_t *log = cl_test_open(CL_TEST_DIR(state), NULL);
    cl_test_create_topic(log, TOPIC, 1, NULL);
    crawllog_producer_t *prod = new_txn_producer(log, "tx");
    crawllog_consumer_t *rc_c = new_cons(log, "g", NULL);
    subscribe(rc_c);
    crawllog_consumer_t *ru = new_cons(log, NULL, "read_uncommitted");
    assign1(ru, 0, CRAWLLOG_OFFSET_BEGINNING);
    int64_t offs[16];
    size_t n = 0;
    poll_once(rc_c, 100, offs, NULL, &n, 16); /* joins; nothing yet */
    assert_int_equal(n, 0);

    txn_ok(prod, crawllog_txn_begin(prod), "begin");
    for (int i = 0; i < 3; i++) {
        txn_ok(prod, crawllog_producer_send(prod, TOPIC, 0, NULL, 0, "c", 1,
                                            NULL, 0, NULL),
               "send");
    }
    txn_ok(prod, crawllog_producer_flush(prod, 5000), "flush");
    n = drain(ru, 3, offs, NULL, 16);
    assert_int_equal(n, 3);
    n = 0;
    poll_once(rc_c, 100, offs, NULL, &n, 16);
    assert_int_equal(n, 0); /* open: not visible to read_committed */
    txn_ok(prod, crawllog_txn_commit(prod), "commit");
    n = drain(rc_c, 3, offs, NULL, 16);
    assert_int_equal(n, 3);
    assert_int_equal(offs[0], 0);
    assert_int_equal(offs[2], 2);

    txn_ok(prod, crawllog_txn_begin(prod), "begin");
    txn_ok(prod, crawllog_producer_send(prod, TOPIC, 0, NULL, 0, "a", 1,
                                        NULL, 0, NULL),
           "send");
    txn_ok(prod, crawllog_producer_flush(prod, 5000), "flush");
    txn_ok(prod, crawllog_txn_abort(prod), "abort");
    int64_t end = log_end(log, 0);
    n = 0;
    poll_once(rc_c, 100, offs, NULL, &n, 16);
    assert_int_equal(n, 0);
    assert_int_equal(position(rc_c, 0), end);
    assert_crawllog_ok(crawllog_consumer_commit(rc_c, NULL,
                                                CRAWLLOG_SYNC_WRITTEN));
    int64_t com = 0, lag = 0;
    group_lag(log, "g", 0, &com, &lag);
    assert_int_equal(com, end);
    assert_int_equal(lag, 0);
    n = drain(ru, 1, offs, NULL, 16);
    assert_int_equal(n, 1); /* the aborted record */
    assert_int_equal(position(ru, 0), end);
    crawllog_consumer_destroy(ru);
    crawllog_consumer_destroy(rc_c);
    txn_ok(prod, crawllog_producer_destroy(prod), "destroy");
    close_txn_log(log);
}

/* An undecided transaction staged an offset of the group for partition 0:
 * a consumer starting from the committed offset leaves partition 0
 * unstarted (no error, no messages, position -1, nothing committed for
 * it, without spinning) while partition 1 is delivered; once the
 * transaction commits, the next poll starts partition 0 at the staged
 * offset.  A subscribed member closing meanwhile commits nothing for it. */
static void test_pending_committed_offset(void **state)
{
    crawllog_t *log = cl_test_open(CL_TEST_DIR(state), NULL);
    cl_test_create_topic(log, TOPIC, 2, NULL);
    append_batch(log, 0, -1, 5, "p0");                     /* p0: 0..4 */
    append_batch(log, 1, -1, 3, "p1");                     /* p1: 0..2 */
    crawllog_consumer_t *c = new_cons(log, "g", NULL);
    crawllog_group_metadata_t *md = NULL;
    assert_crawllog_ok(crawllog_consumer_group_metadata(c, &md));
    crawllog_producer_t *prod = new_txn_producer(log, "tx");
    txn_ok(prod, crawllog_txn_begin(prod), "begin");
    crawllog_topic_partition_t staged = {TOPIC, 0, 3, NULL};
    txn_ok(prod, crawllog_txn_send_offsets(prod, md, &staged, 1),
           "send_offsets");

    crawllog_topic_partition_t tp[2] = {
        {TOPIC, 0, CRAWLLOG_OFFSET_COMMITTED, NULL},
        {TOPIC, 1, CRAWLLOG_OFFSET_COMMITTED, NULL}};
    assert_crawllog_ok(crawllog_consumer_assign(c, tp, 2));
    int64_t offs[16];
    size_t n = drain(c, 3, offs, NULL, 16);
    assert_int_equal(n, 3); /* p1 only */
    assert_int_equal(position(c, 0), -1);
    assert_int_equal(position(c, 1), 3);
    int64_t t0 = cl_test_mono_ms(), c0 = cpu_ns();
    n = 0;
    poll_once(c, 300, offs, NULL, &n, 16);
    int64_t wall = cl_test_mono_ms() - t0, cpu = cpu_ns() - c0;
    assert_int_equal(n, 0);
    assert_true(wall >= 290);
    if (cpu > 100 * 1000000LL) {
        fail_msg("a poll of %lld ms with a pending partition used %lld ms "
                 "of CPU: spinning",
                 (long long)wall, (long long)(cpu / 1000000));
    }
    crawllog_topic_partition_t *list = NULL;
    size_t count = 0;
    assert_crawllog_ok(crawllog_consumer_assignment(c, &list, &count));
    assert_int_equal(count, 2);
    for (size_t i = 0; i < count; i++) {
        assert_int_equal(list[i].offset, list[i].partition == 0 ? -1 : 3);
    }
    free(list);
    assert_crawllog_ok(crawllog_consumer_commit(c, NULL,
                                                CRAWLLOG_SYNC_WRITTEN));
    assert_int_equal(committed(c, 0), -1);
    assert_int_equal(committed(c, 1), 3);
    int64_t com = 0, lag = 0;
    group_lag(log, "g", 1, &com, &lag);
    assert_int_equal(lag, 0);

    /* A seek overrides the committed offset: it starts the partition. */
    crawllog_consumer_t *c2 = new_cons(log, "g", NULL);
    assign1(c2, 0, CRAWLLOG_OFFSET_COMMITTED);
    n = 0;
    poll_once(c2, 0, offs, NULL, &n, 16);
    assert_int_equal(n, 0);
    assert_int_equal(position(c2, 0), -1);
    assert_crawllog_ok(crawllog_consumer_seek(c2, TOPIC, 0, 1));
    assert_int_equal(position(c2, 0), 1);
    n = drain(c2, 4, offs, NULL, 16);
    assert_int_equal(n, 4);
    assert_int_equal(offs[0], 1);
    assert_int_equal(offs[3], 4);
    crawllog_consumer_destroy(c2);

    /* A subscribed member of another group is not held back. */
    crawllog_consumer_t *other = new_cons(log, "h", NULL);
    subscribe(other);
    n = drain(other, 8, offs, NULL, 16);
    assert_int_equal(n, 8);
    crawllog_consumer_destroy(other);

    txn_ok(prod, crawllog_txn_commit(prod), "commit");
    n = 0;
    poll_once(c, 1000, offs, NULL, &n, 16);
    assert_int_equal(n, 2);
    assert_int_equal(offs[0], 3);
    assert_int_equal(offs[1], 4);
    assert_int_equal(committed(c, 0), 3);
    crawllog_consumer_destroy(c);

    /* A subscribed member: the partition stays unstarted through close
     * (auto-commit on revoke commits only what it read). */
    txn_ok(prod, crawllog_txn_begin(prod), "begin");
    staged.offset = 4;
    txn_ok(prod, crawllog_txn_send_offsets(prod, md, &staged, 1),
           "send_offsets");
    crawllog_conf_t *conf = cl_test_conf("group.id", "g",
                                         "enable.auto.commit", "true",
                                         NULL);
    char err[256];
    assert_crawllog_ok(crawllog_consumer_new(log, conf, &c, err,
                                             sizeof(err)));
    crawllog_conf_destroy(conf);
    subscribe(c);
    append_batch(log, 1, -1, 1, "p1b");                    /* p1: 3 */
    n = drain(c, 1, offs, NULL, 16);
    assert_int_equal(n, 1);
    assert_int_equal(offs[0], 3);
    assert_int_equal(position(c, 0), -1);
    assert_crawllog_ok(crawllog_consumer_close(c));
    crawllog_consumer_destroy(c);
    c = new_cons(log, "g", NULL);
    assert_int_equal(committed(c, 0), 3);
    assert_int_equal(committed(c, 1), 4);
    txn_ok(prod, crawllog_txn_abort(prod), "abort");
    assert_int_equal(committed(c, 0), 3);
    crawllog_consumer_destroy(c);
    crawllog_group_metadata_destroy(md);
    txn_ok(prod, crawllog_producer_destroy(prod), "destroy");
    close_txn_log(log);
}

/* A member of group "g" (max.deliveries 2) that dies (SIGKILL) when it is
 * handed "pill-0"; exits 0 after committing the record after it. */
static void pill_child(void *arg)
{
    const char *dir = arg;
    crawllog_t *log = NULL;
    cl_test_check(crawllog_open(&log, dir, NULL, NULL, 0) == 0);
    crawllog_conf_t *conf = cl_test_conf("group.id", "g", "auto.offset.reset",
                                         "earliest", "max.deliveries", "2",
                                         NULL);
    char err[256];
    crawllog_consumer_t *c = NULL;
    cl_test_check(crawllog_consumer_new(log, conf, &c, err, sizeof(err)) == 0);
    crawllog_conf_destroy(conf);
    const char *topics[] = {TOPIC};
    cl_test_check(crawllog_consumer_subscribe(c, topics, 1) == 0);
    const crawllog_msg_t *m[1];
    size_t n = 0;
    int64_t deadline = cl_test_mono_ms() + 10000;
    while (n == 0) {
        cl_test_check(crawllog_consumer_poll(c, 50, m, 1, &n) == 0);
        cl_test_check(cl_test_mono_ms() < deadline);
    }
    size_t len = 0;
    const char *v = crawllog_msg_value(m[0], &len);
    if (len == 6 && memcmp(v, "pill-0", 6) == 0) {
        cl_test_check(crawllog_msg_offset(m[0]) == 3);
        raise(SIGKILL); /* the poison pill kills its consumer */
    }
    cl_test_checkf(len == 4 && memcmp(v, "ok-0", 4) == 0 &&
                       crawllog_msg_offset(m[0]) == 4,
                   "got offset %lld", (long long)crawllog_msg_offset(m[0]));
    cl_test_check(crawllog_consumer_commit(c, m[0], CRAWLLOG_SYNC_DURABLE) ==
                  0);
    crawllog_consumer_destroy(c);
    crawllog_close(log);
}

/* Poison-pill counting when the records at the committed offset are an
 * aborted transaction and its marker: the first record after them counts
 * as the committed offset's, so a record that killed max.deliveries
 * consumers is dead-lettered all the same and the group goes on. */
static void test_pill_after_aborted(void **state)
{
    crawllog_t *log = cl_test_open(CL_TEST_DIR(state), NULL);
    cl_test_create_topic(log, TOPIC, 1, NULL);
    append_batch(log, 0, 4, 2, "aborted");                 /* 0 1 */
    append_marker(log, 0, 4, CL_CONTROL_ABORT);            /* 2 */
    append_batch(log, 0, -1, 1, "pill");                   /* 3 */
    append_batch(log, 0, -1, 1, "ok");                     /* 4 */
    crawllog_consumer_t *c = new_cons(log, "g", NULL);
    crawllog_topic_partition_t tp = {TOPIC, 0, 0, NULL};
    assert_crawllog_ok(crawllog_consumer_commit_offsets(
        c, &tp, 1, CRAWLLOG_SYNC_WRITTEN));
    crawllog_consumer_destroy(c);
    assert_crawllog_ok(crawllog_close(log));
    char dir[sizeof(((struct cl_test_dir *)0)->path)];
    snprintf(dir, sizeof(dir), "%s", CL_TEST_DIR(state));
    int kills = 0, done = 0;
    for (int i = 0; i < 6 && !done; i++) {
        int status = cl_test_fork_run(pill_child, dir);
        if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
            kills++;
        } else {
            cl_test_assert_exit_ok(status);
            done = 1;
        }
    }
    assert_true(done);
    assert_int_equal(kills, 2); /* max.deliveries */
    log = cl_test_open(CL_TEST_DIR(state), NULL);
    int64_t start = 0, end = 0;
    assert_crawllog_ok_log(log, crawllog_partition_offsets(log, TOPIC ".dlt",
                                                           0, &start, &end));
    assert_int_equal(end, 1);
    int64_t com = 0, lag = 0;
    group_lag(log, "g", 0, &com, &lag);
    assert_int_equal(com, 5);
    cl_test_close_verify(log, CL_TEST_DIR(state));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cl_test_unit_tmpdir(test_rc_vs_ru),
        cl_test_unit_tmpdir(test_commit_past_markers),
        cl_test_unit_tmpdir(test_ru_commit_past_markers),
        cl_test_unit_tmpdir(test_commit_msg_before_marker),
        cl_test_unit_tmpdir(test_blocked_poll),
        cl_test_unit_tmpdir(test_blocked_partition_does_not_stall_others),
        cl_test_unit_tmpdir(test_pill_after_aborted),
        cl_test_unit_tmpdir(test_txn_api_rc_ru),
        cl_test_unit_tmpdir(test_pending_committed_offset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
