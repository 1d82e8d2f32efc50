/*
 * test_dlq.c - crawllog_consumer_dead_letter: the dead letter's content and
 * headers, the commit past it, the configured topic, misuse, and the
 * atomicity of "dead-letter + commit past it" under a crash at every I/O
 * operation of the call (kill -9 through the CRASH failpoint): afterwards
 * the message is either still to be delivered (no dead letter) or
 * dead-lettered exactly once and committed past - never lost, never twice.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>

#include "helpers.h"
#include "io.h"

#define TOPIC "jobs"

static crawllog_consumer_t *cons(crawllog_t *log, const char *extra_k,
                                 const char *extra_v)
{
    crawllog_conf_t *conf = cl_test_conf("group.id", "g", "auto.offset.reset",
                                         "earliest", NULL);
    char err[256];
    crawllog_consumer_t *c = NULL;
    if (extra_k) {
        cl_test_check(crawllog_conf_set(conf, extra_k, extra_v, err,
                                        sizeof(err)) == 0);
    }
    cl_test_check(crawllog_consumer_new(log, conf, &c, err, sizeof(err)) == 0);
    crawllog_conf_destroy(conf);
    crawllog_topic_partition_t tp = {TOPIC, 1, CRAWLLOG_OFFSET_COMMITTED,
                                     NULL};
    cl_test_check(crawllog_consumer_assign(c, &tp, 1) == 0);
    return c;
}

static void fill(crawllog_t *log)
{
    cl_test_create_topic(log, TOPIC, 2, NULL);
    for (int i = 0; i < 6; i++) {
        char v[32];
        int len = snprintf(v, sizeof(v), "job-%d", i);
        crawllog_header_t h = {"trace", 5, "abc", 3};
        crawllog_record_t r = {"k", 1, v, (size_t)len, 1000 + i, &h, 1};
        assert_crawllog_ok(crawllog_append(log, TOPIC, 1, &r, 1,
                                           CRAWLLOG_SYNC_WRITTEN, NULL));
    }
}

/* Poll until the message at offset want (which must come next). */
static const crawllog_msg_t *poll_to(crawllog_consumer_t *c, int64_t want)
{
    const crawllog_msg_t *m[1];
    size_t n = 0;
    for (int i = 0; i < 100; i++) {
        cl_test_check(crawllog_consumer_poll(c, 100, m, 1, &n) == 0);
        if (n == 1) {
            cl_test_checkf(crawllog_msg_offset(m[0]) <= want,
                           "offset %lld delivered, wanted %lld",
                           (long long)crawllog_msg_offset(m[0]),
                           (long long)want);
            if (crawllog_msg_offset(m[0]) == want) {
                return m[0];
            }
        }
    }
    cl_test_failf_at(__FILE__, __LINE__, "offset %lld never delivered",
                     (long long)want);
}

static int header_value(const crawllog_msg_t *m, const char *name,
                        const void **vp, size_t *lenp)
{
    for (size_t i = 0; i < crawllog_msg_header_count(m); i++) {
        crawllog_header_t h;
        if (crawllog_msg_header(m, i, &h) == 0 &&
            h.name_len == strlen(name) && memcmp(h.name, name, h.name_len) == 0) {
            *vp = h.value;
            *lenp = h.value_len;
            return 1;
        }
    }
    return 0;
}

/* Dead letters of (jobs/1, offset) in dlt/1. */
static int count_dead_letters(crawllog_t *log, const char *dlt, int64_t off)
{
    crawllog_reader_t *rd;
    int n = 0;
    if (crawllog_reader_new(&rd, log, dlt, 1) != 0) {
        return 0;
    }
    const crawllog_msg_t *m;
    while (crawllog_reader_next(rd, &m) == 0 && m != NULL) {
        const void *v;
        size_t len;
        if (header_value(m, "kafka_dlt-original-offset", &v, &len) &&
            len == 8) {
            const unsigned char *b = v;
            int64_t o = 0;
            for (int i = 0; i < 8; i++) {
                o = (o << 8) | b[i];
            }
            n += o == off;
        }
    }
    crawllog_reader_destroy(rd);
    return n;
}

static void test_dead_letter_content(void **state)
{
    crawllog_t *log = cl_test_open(CL_TEST_DIR(state), NULL);
    fill(log);
    crawllog_consumer_t *c = cons(log, NULL, NULL);
    const crawllog_msg_t *m = poll_to(c, 2);
    assert_crawllog_ok(crawllog_consumer_dead_letter(c, m, "HTTP 500 x3"));
    int64_t off;
    assert_crawllog_ok(crawllog_consumer_committed(c, TOPIC, 1, &off));
    assert_int_equal(off, 3);
    int32_t parts;
    assert_crawllog_ok(crawllog_topic_describe(log, "jobs.dlt", &parts, NULL));
    assert_int_equal(parts, 2);
    crawllog_reader_t *rd;
    assert_crawllog_ok(crawllog_reader_new(&rd, log, "jobs.dlt", 1));
    const crawllog_msg_t *d = cl_test_next_msg(rd);
    size_t len;
    const void *v = crawllog_msg_value(d, &len);
    assert_int_equal(len, 5);
    assert_memory_equal(v, "job-2", 5);
    v = crawllog_msg_key(d, &len);
    assert_int_equal(len, 1);
    assert_memory_equal(v, "k", 1);
    assert_true(header_value(d, "trace", &v, &len)); /* original header */
    assert_memory_equal(v, "abc", 3);
    assert_true(header_value(d, "kafka_dlt-original-topic", &v, &len));
    assert_int_equal(len, 4);
    assert_memory_equal(v, "jobs", 4);
    assert_true(header_value(d, "kafka_dlt-original-partition", &v, &len));
    assert_int_equal(len, 4);
    assert_memory_equal(v, "\0\0\0\1", 4);
    assert_true(header_value(d, "kafka_dlt-original-timestamp", &v, &len));
    assert_int_equal(len, 8);
    assert_memory_equal(v, "\0\0\0\0\0\0\x03\xea", 8); /* 1002 */
    assert_true(header_value(d, "kafka_dlt-original-consumer-group", &v,
                             &len));
    assert_memory_equal(v, "g", 1);
    assert_true(header_value(d, "kafka_dlt-exception-message", &v, &len));
    assert_int_equal(len, 11);
    assert_memory_equal(v, "HTTP 500 x3", 11);
    assert_true(header_value(d, "crawllog_dlt-attempts", &v, &len));
    assert_int_equal(len, 4);
    assert_int_equal(count_dead_letters(log, "jobs.dlt", 2), 1);
    crawllog_reader_destroy(rd);
    /* The next message goes on normally; a later dead letter lands after. */
    m = poll_to(c, 3);
    assert_crawllog_ok(crawllog_consumer_dead_letter(c, m, "second"));
    assert_int_equal(count_dead_letters(log, "jobs.dlt", 3), 1);
    /* Not a message of this consumer's poll. */
    crawllog_msg_t *fake = (crawllog_msg_t *)&len;
    assert_crawllog_rc(crawllog_consumer_dead_letter(c, fake, "x"),
                       CRAWLLOG_EINVAL);
    crawllog_consumer_destroy(c);
    /* dead.letter.topic overrides the name. */
    c = cons(log, "dead.letter.topic", "parking");
    m = poll_to(c, 4);
    assert_crawllog_ok(crawllog_consumer_dead_letter(c, m, "parked"));
    assert_int_equal(count_dead_letters(log, "parking", 4), 1);
    crawllog_consumer_destroy(c);
    cl_test_close_verify(log, CL_TEST_DIR(state));
}

struct crash_arg {
    const char *dir;
    char spec[64];
};

static void crash_child(void *arg)
{
    struct crash_arg *a = arg;
    crawllog_t *log = NULL;
    cl_test_check(crawllog_open(&log, a->dir, NULL, NULL, 0) == 0);
    crawllog_consumer_t *c = cons(log, NULL, NULL);
    const crawllog_msg_t *m = poll_to(c, 2);
    cl_test_check(cl_fp_set(a->spec) == 0);
    int rc = crawllog_consumer_dead_letter(c, m, "crash test");
    cl_fp_clear();
    cl_test_checkf(rc == 0, "dead_letter: %s", crawllog_err_name(rc));
    crawllog_consumer_destroy(c);
    crawllog_close(log);
}

/* Crash at the k-th I/O operation of the call, for every k, then check
 * with a fresh consumer (which finishes an interrupted intent). */
static void test_dead_letter_crash_sweep(void **state)
{
    int crashed = 0, finished = 0;
    for (int k = 1; k < 400 && !finished; k++) {
        char dir[4200], sub[32];
        snprintf(sub, sizeof(sub), "k%d", k);
        cl_test_path(dir, sizeof(dir), CL_TEST_DIR(state), sub);
        crawllog_t *log = cl_test_open(dir, NULL);
        fill(log);
        /* Something committed before: offset 1 (messages 0 processed). */
        crawllog_consumer_t *c0 = cons(log, NULL, NULL);
        crawllog_topic_partition_t tp = {TOPIC, 1, 1, NULL};
        assert_crawllog_ok(crawllog_consumer_commit_offsets(
            c0, &tp, 1, CRAWLLOG_SYNC_DURABLE));
        crawllog_consumer_destroy(c0);
        assert_crawllog_ok(crawllog_close(log));

        struct crash_arg a = {dir, ""};
        snprintf(a.spec, sizeof(a.spec), "*=CRASH@%d", k);
        int status = cl_test_fork_run(crash_child, &a);
        if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
            crashed++;
        } else {
            cl_test_assert_exit_ok(status);
            finished = 1;
        }
        /* Recovery: a new consumer of the group. */
        log = cl_test_open(dir, NULL);
        crawllog_consumer_t *c = cons(log, NULL, NULL);
        const crawllog_msg_t *m[8];
        size_t n = 0;
        assert_crawllog_ok(crawllog_consumer_poll(c, 1000, m, 8, &n));
        int dl = count_dead_letters(log, "jobs.dlt", 2);
        int64_t off;
        assert_crawllog_ok(crawllog_consumer_committed(c, TOPIC, 1, &off));
        if (dl == 0) {
            /* Not dead-lettered: message 2 is delivered again. */
            assert_true(off <= 2);
            int seen = 0;
            for (size_t i = 0; i < n; i++) {
                seen |= crawllog_msg_offset(m[i]) == 2;
            }
            assert_true(seen);
        } else {
            /* Exactly once, committed past, and not delivered again. */
            assert_int_equal(dl, 1);
            assert_true(off >= 3);
            assert_true(n > 0);
            assert_int_equal(crawllog_msg_offset(m[0]), 3);
        }
        crawllog_consumer_destroy(c);
        cl_test_close_verify(log, dir);
        cl_test_rmrf(dir);
    }
    print_message("dead-letter crash sweep: %d crash points, then completed\n",
                  crashed);
    assert_true(finished);
    assert_true(crashed >= 10);
}

struct tries {
    int calls, fail_until; /* fail the first fail_until calls */
    int64_t t[8];          /* monotonic ms of each call */
};

static int flaky(const crawllog_msg_t *msg, void *opaque, char *reason,
                 size_t size)
{
    struct tries *tr = opaque;
    (void)msg;
    if (tr->calls < 8) {
        tr->t[tr->calls] = cl_test_mono_ms();
    }
    if (tr->calls++ < tr->fail_until) {
        snprintf(reason, size, "HTTP 503 (attempt %d)", tr->calls);
        return -1;
    }
    return 0;
}

/* max.attempts with exponential backoff, then dead-letter. */
static void test_retry_policy(void **state)
{
    crawllog_t *log = cl_test_open(CL_TEST_DIR(state), NULL);
    fill(log);
    crawllog_conf_t *conf = cl_test_conf(
        "group.id", "g", "auto.offset.reset", "earliest", "max.attempts", "4",
        "retry.backoff.ms", "20", "retry.backoff.max.ms", "50", NULL);
    char err[256];
    crawllog_consumer_t *c;
    assert_crawllog_ok(crawllog_consumer_new(log, conf, &c, err, sizeof(err)));
    crawllog_conf_destroy(conf);
    crawllog_topic_partition_t tp = {TOPIC, 1, CRAWLLOG_OFFSET_COMMITTED,
                                     NULL};
    assert_crawllog_ok(crawllog_consumer_assign(c, &tp, 1));
    /* Succeeds at the third attempt: processed, nothing dead-lettered. */
    const crawllog_msg_t *m = poll_to(c, 0);
    struct tries tr = {0, 2, {0}};
    int outcome = 0;
    assert_crawllog_ok(crawllog_consumer_process(c, m, flaky, &tr, &outcome));
    assert_int_equal(outcome, CRAWLLOG_PROCESSED);
    assert_int_equal(tr.calls, 3);
    assert_true(tr.t[1] - tr.t[0] >= 20); /* backoff 20 ms, then 40 */
    assert_true(tr.t[2] - tr.t[1] >= 40);
    assert_int_equal(count_dead_letters(log, "jobs.dlt", 0), 0);
    /* Fails every time: 4 attempts (waits 20, 40, 50), then dead letter. */
    m = poll_to(c, 1);
    struct tries all = {0, 100, {0}};
    assert_crawllog_ok(crawllog_consumer_process(c, m, flaky, &all, &outcome));
    assert_int_equal(outcome, CRAWLLOG_DEAD_LETTERED);
    assert_int_equal(all.calls, 4);
    assert_true(all.t[3] - all.t[2] >= 50);
    int64_t off;
    assert_crawllog_ok(crawllog_consumer_committed(c, TOPIC, 1, &off));
    assert_int_equal(off, 2);
    crawllog_reader_t *rd;
    assert_crawllog_ok(crawllog_reader_new(&rd, log, "jobs.dlt", 1));
    const crawllog_msg_t *d = cl_test_next_msg(rd);
    const void *v;
    size_t len;
    assert_true(header_value(d, "kafka_dlt-exception-message", &v, &len));
    assert_int_equal(len, strlen("HTTP 503 (attempt 4)"));
    assert_memory_equal(v, "HTTP 503 (attempt 4)", len);
    assert_true(header_value(d, "crawllog_dlt-attempts", &v, &len));
    assert_memory_equal(v, "\0\0\0\4", 4);
    crawllog_reader_destroy(rd);
    assert_crawllog_rc(crawllog_consumer_process(c, m, NULL, NULL, NULL),
                       CRAWLLOG_EINVAL);
    crawllog_consumer_destroy(c);
    cl_test_close_verify(log, CL_TEST_DIR(state));
}

struct pill_arg {
    const char *dir;
};

/* A group member that dies (SIGKILL) whenever it is handed "job-2", and
 * otherwise commits each message; exits 0 once partition 1 is committed to
 * its end. */
static void pill_child(void *arg)
{
    struct pill_arg *a = arg;
    crawllog_t *log = NULL;
    cl_test_check(crawllog_open(&log, a->dir, NULL, NULL, 0) == 0);
    crawllog_conf_t *conf = cl_test_conf("group.id", "pg", "auto.offset.reset",
                                         "earliest", "max.deliveries", "3",
                                         NULL);
    char err[256];
    crawllog_consumer_t *c = NULL;
    cl_test_check(crawllog_consumer_new(log, conf, &c, err, sizeof(err)) == 0);
    crawllog_conf_destroy(conf);
    const char *topics[] = {TOPIC};
    cl_test_check(crawllog_consumer_subscribe(c, topics, 1) == 0);
    int64_t deadline = cl_test_mono_ms() + 10000;
    for (;;) {
        /* One message per poll, committed before the next: every message
         * is handed out at the committed offset, so each death counts.
         * (In a batch, a pill behind uncommitted messages is counted from
         * the first hand-out at the committed offset on.) */
        const crawllog_msg_t *m[1];
        size_t n = 0;
        cl_test_check(crawllog_consumer_poll(c, 50, m, 1, &n) == 0);
        for (size_t i = 0; i < n; i++) {
            size_t len;
            const char *v = crawllog_msg_value(m[i], &len);
            if (len == 5 && memcmp(v, "job-2", 5) == 0) {
                raise(SIGKILL); /* the poison pill kills its consumer */
            }
            cl_test_check(crawllog_consumer_commit(
                              c, m[i], CRAWLLOG_SYNC_DURABLE) == 0);
        }
        int64_t off = -1;
        cl_test_check(crawllog_consumer_committed(c, TOPIC, 1, &off) == 0);
        if (off == 6) {
            break;
        }
        cl_test_checkf(cl_test_mono_ms() < deadline, "stuck at %lld",
                       (long long)off);
    }
    crawllog_consumer_destroy(c);
    crawllog_close(log);
}

/* A message that kills every consumer is dead-lettered after
 * max.deliveries hand-outs and the group goes on. */
static void test_poison_pill_across_crashes(void **state)
{
    crawllog_t *log = cl_test_open(CL_TEST_DIR(state), NULL);
    fill(log);
    assert_crawllog_ok(crawllog_close(log));
    struct pill_arg a = {CL_TEST_DIR(state)};
    int kills = 0, done = 0;
    for (int i = 0; i < 10 && !done; i++) {
        int status = cl_test_fork_run(pill_child, &a);
        if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
            kills++;
        } else {
            cl_test_assert_exit_ok(status);
            done = 1;
        }
    }
    print_message("poison pill: %d consumers killed, then dead-lettered\n",
                  kills);
    assert_true(done);
    assert_int_equal(kills, 3); /* max.deliveries */
    log = cl_test_open(CL_TEST_DIR(state), NULL);
    assert_int_equal(count_dead_letters(log, "jobs.dlt", 2), 1);
    crawllog_reader_t *rd;
    assert_crawllog_ok(crawllog_reader_new(&rd, log, "jobs.dlt", 1));
    const crawllog_msg_t *d = cl_test_next_msg(rd);
    const void *v;
    size_t len;
    assert_true(header_value(d, "kafka_dlt-exception-message", &v, &len));
    assert_true(len > 11 && memcmp(v, "poison pill", 11) == 0);
    assert_true(header_value(d, "crawllog_dlt-attempts", &v, &len));
    assert_memory_equal(v, "\0\0\0\3", 4);
    crawllog_reader_destroy(rd);
    cl_test_close_verify(log, CL_TEST_DIR(state));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cl_test_unit_tmpdir(test_dead_letter_content),
        cl_test_unit_fp(test_dead_letter_crash_sweep),
        cl_test_unit_tmpdir(test_poison_pill_across_crashes),
        cl_test_unit_tmpdir(test_retry_policy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
