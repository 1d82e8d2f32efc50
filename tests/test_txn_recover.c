/*
 * test_txn_recover.c - transactions whose producer is gone or too slow
 * (issue 10), through the public API: a child kill -9'd with a
 * transaction open over two partitions and a group offset, or inside its
 * commit right after the durable decision (at its first marker write);
 * the transaction is then finished - aborted, or completed with its
 * records and offsets - by each of: the next instance of the
 * transactional.id, the next crawllog_open(), a read_committed reader
 * blocked behind it (nobody comes back).  And transaction.timeout.ms: a
 * reader waiting behind a live producer's too long transaction aborts it
 * and fences the producer, and so does another process's crawllog_open().
 * And KIP-447: a new owner of a partition whose offset a live producer's
 * transaction staged starts after that offset if the transaction was
 * decided (it is completed first), and waits while it is undecided.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crawllog.h"
#include "helpers.h"
#include "io.h"
#include "test_txn_util.h"

/* ---- crashed transactions ----------------------------------------------- */

struct crash_arg {
    const char *dir;
    int decided; /* crash after the commit decision, at the first marker */
};

/* A transaction over out/0, out/1 and the group's offset of in/0, then
 * kill -9 - before the commit, or inside it at the first marker write. */
static void crash_child(void *arg)
{
    const struct crash_arg *a = arg;
    crawllog_t *log = cl_test_open(a->dir, NULL);
    crawllog_consumer_t *c = member(log, "g", "in", 1);
    crawllog_group_metadata_t *md = metadata(c);
    crawllog_producer_t *p = producer(log, "cx", NULL);
    P_OK(p, crawllog_txn_begin(p));
    P_OK(p, send_s(p, "out", 0, "c0"));
    P_OK(p, send_s(p, "out", 0, "c1"));
    P_OK(p, send_s(p, "out", 1, "c2"));
    P_OK(p, offsets1(p, md, "in", 0, 3));
    if (a->decided) {
        /* The records were written by the sends (acks=1): the first
         * segment write of the commit is its first marker, after the
         * durable decision. */
        cl_test_check(cl_fp_set("seg.append.write=CRASH@1") == 0);
        int rc = crawllog_txn_commit(p);
        cl_test_checkf(0,
                       "commit returned %s without writing a marker "
                       "through seg.append.write",
                       crawllog_err_name(rc));
    }
    kill(getpid(), SIGKILL);
}

enum { BY_INSTANCE, BY_OPEN, BY_READER };

/* Crash (before or after the decision), then finish by "by". */
static void crash_scenario(void **state, int decided, int by)
{
    static const char *const by_name[] = {"next instance", "crawllog_open",
                                          "blocked reader"};
    char dir[4200], sub[32];
    snprintf(sub, sizeof(sub), "d%d-%d", decided, by);
    cl_test_path(dir, sizeof(dir), CL_TEST_DIR(state), sub);
    print_message("crash %s the decision, finished by %s\n",
                  decided ? "after" : "before", by_name[by]);
    crawllog_t *log = setup_log(dir, 1);
    if (by == BY_OPEN) {
        assert_crawllog_ok(crawllog_close(log));
    }
    struct crash_arg a = {dir, decided};
    cl_test_assert_killed_by(cl_test_fork_run(crash_child, &a), SIGKILL);
    const char *want0 = decided ? "c0,c1" : "";
    const char *want1 = decided ? "c2" : "";
    if (by == BY_INSTANCE) {
        crawllog_producer_t *p = producer(log, "cx", NULL);
        /* Finished by producer_new: the markers are there. */
        assert_int_equal(end_of(log, "out", 0), 3);
        assert_int_equal(end_of(log, "out", 1), 2);
        P_OK(p, crawllog_txn_begin(p));
        P_OK(p, send_s(p, "out", 1, "n0"));
        P_OK(p, crawllog_txn_commit(p));
        want1 = decided ? "c2,n0" : "n0";
        assert_crawllog_ok(crawllog_producer_destroy(p));
    } else if (by == BY_OPEN) {
        log = cl_test_open(dir, NULL);
        assert_int_equal(end_of(log, "out", 0), 3);
        assert_int_equal(end_of(log, "out", 1), 2);
    } else {
        /* No one comes back: a read_committed reader waiting
         * behind the transaction finishes it (dead owner). */
        append_s(log, "out", 0, "after"); /* offset 2 */
        crawllog_reader_t *rd = NULL;
        assert_crawllog_ok(crawllog_reader_new(&rd, log, "out", 0));
        struct seen s;
        memset(&s, 0, sizeof(s));
        int64_t t0 = cl_test_mono_ms();
        while (s.n == 0 || strcmp(s.val[s.n - 1], "after") != 0) {
            const crawllog_msg_t *m = NULL;
            assert_crawllog_ok(crawllog_reader_next(rd, &m));
            if (m != NULL) {
                take(&s, m);
            } else {
                if (cl_test_mono_ms() - t0 > 8000) {
                    fail_msg("reader still blocked after 8 s at "
                             "position %lld, got [%s]",
                             (long long)crawllog_reader_position(rd), s.all);
                }
                cl_test_sleep_ms(20);
            }
        }
        assert_string_equal(s.all, decided ? "c0,c1,after" : "after");
        const crawllog_msg_t *m = NULL;
        assert_crawllog_ok(crawllog_reader_next(rd, &m));
        assert_null(m);
        assert_int_equal(crawllog_reader_position(rd), 4);
        crawllog_reader_destroy(rd);
        print_message("  reader waited %lld ms\n",
                      (long long)(cl_test_mono_ms() - t0));
        want0 = decided ? "c0,c1,after" : "after";
        assert_int_equal(end_of(log, "out", 1), 2);
    }
    expect_read(log, "out", 0, RC, want0, -1);
    expect_read(log, "out", 1, RC, want1, -1);
    expect_read(log, "out", 0, RU, by == BY_READER ? "c0,c1,after" : "c0,c1",
                -1);
    assert_int_equal(committed(log, "g", "in", 0), decided ? 3 : -1);
    cl_test_close_verify(log, dir);
}

static void test_crash_open_by_instance(void **state)
{
    crash_scenario(state, 0, BY_INSTANCE);
}

static void test_crash_open_by_open(void **state)
{
    crash_scenario(state, 0, BY_OPEN);
}

static void test_crash_open_by_reader(void **state)
{
    crash_scenario(state, 0, BY_READER);
}

static void test_crash_decided_by_instance(void **state)
{
    crash_scenario(state, 1, BY_INSTANCE);
}

static void test_crash_decided_by_open(void **state)
{
    crash_scenario(state, 1, BY_OPEN);
}

static void test_crash_decided_by_reader(void **state)
{
    crash_scenario(state, 1, BY_READER);
}

/* A live producer whose transaction outlives transaction.timeout.ms is
 * aborted by a reader waiting behind it, and fenced. */
static void test_timeout_aborts_and_fences(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = setup_log(dir, 1);
    crawllog_producer_t *p =
        producer(log, "slow", "transaction.timeout.ms", "1000", NULL);
    P_OK(p, crawllog_txn_begin(p));
    P_OK(p, send_s(p, "out", 0, "s0"));
    int64_t t0 = cl_test_mono_ms();
    append_s(log, "out", 0, "after"); /* 1 */
    crawllog_reader_t *rd = NULL;
    assert_crawllog_ok(crawllog_reader_new(&rd, log, "out", 0));
    const crawllog_msg_t *m = NULL;
    assert_crawllog_ok(crawllog_reader_next(rd, &m));
    if (cl_test_mono_ms() - t0 < 800) {
        assert_null(m); /* alive and in time: it waits */
    }
    while (m == NULL) {
        if (cl_test_mono_ms() - t0 > 8000) {
            fail_msg("reader blocked 8 s behind a transaction with a 1 s "
                     "timeout (position %lld)",
                     (long long)crawllog_reader_position(rd));
        }
        cl_test_sleep_ms(20);
        assert_crawllog_ok(crawllog_reader_next(rd, &m));
    }
    int64_t waited = cl_test_mono_ms() - t0;
    assert_int_equal(crawllog_msg_offset(m), 1);
    assert_true(waited >= 900);
    crawllog_reader_destroy(rd);
    P_RC(p, crawllog_txn_commit(p), CRAWLLOG_EFENCED);
    P_RC(p, send_s(p, "out", 0, "s1"), CRAWLLOG_EFENCED);
    crawllog_producer_destroy(p);
    expect_read(log, "out", 0, RC, "after", -1);
    /* The id still works for a new instance. */
    p = producer(log, "slow", NULL);
    P_OK(p, crawllog_txn_begin(p));
    P_OK(p, send_s(p, "out", 0, "s2"));
    P_OK(p, crawllog_txn_commit(p));
    expect_read(log, "out", 0, RC, "after,s2", -1);
    assert_crawllog_ok(crawllog_producer_destroy(p));
    cl_test_close_verify(log, dir);
}

/* transaction.timeout.ms: another process's crawllog_open() aborts a live
 * producer's transaction that is open too long, and fences it. */
static void open_child(void *arg)
{
    const char *dir = arg;
    crawllog_t *log = cl_test_open(dir, NULL);
    int64_t end = end_of(log, "out", 0);
    cl_test_checkf(end == 2,
                   "log end %lld after crawllog_open, expected 2 "
                   "(the record and an ABORT marker)",
                   (long long)end);
    cl_test_check(crawllog_close(log) == 0);
}

static void test_timeout_aborted_by_open(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = setup_log(dir, 1);
    crawllog_producer_t *p =
        producer(log, "slow", "transaction.timeout.ms", "200", NULL);
    P_OK(p, crawllog_txn_begin(p));
    P_OK(p, send_s(p, "out", 0, "s0"));
    cl_test_sleep_ms(400);
    cl_test_assert_exit_ok(cl_test_fork_run(open_child, (void *)dir));
    P_RC(p, crawllog_txn_commit(p), CRAWLLOG_EFENCED);
    crawllog_producer_destroy(p);
    expect_read(log, "out", 0, RC, "", 2);
    expect_read(log, "out", 0, RU, "s0", 2);
    cl_test_close_verify(log, dir);
}

/* A new member of the group starting in/0: its first message polled
 * within ms (NULL if none). */
static int64_t first_polled(crawllog_consumer_t *c, int64_t ms)
{
    int64_t deadline = cl_test_mono_ms() + ms;
    while (cl_test_mono_ms() < deadline) {
        const crawllog_msg_t *msgs[8];
        size_t n = 0;
        int rc = crawllog_consumer_poll(c, 20, msgs, 8, &n);
        if (rc != 0) {
            fail_msg("poll: %s: %s", crawllog_err_name(rc),
                     crawllog_consumer_errmsg(c));
        }
        if (n > 0) {
            return crawllog_msg_offset(msgs[0]);
        }
    }
    return -1;
}

static crawllog_consumer_t *subscriber(crawllog_t *log)
{
    crawllog_consumer_t *c = consumer(log, "g", NULL);
    const char *topic = "in";
    assert_crawllog_ok(crawllog_consumer_subscribe(c, &topic, 1));
    return c;
}

/* KIP-447: a transaction that staged offsets for in/0 is decided (its
 * commit failed after the decision: the markers could not be written)
 * and its producer is still alive.  A new owner of in/0 must start after
 * the staged offset - the transaction is completed first - not redo the
 * records whose outputs are committed. */
static void test_decided_offsets_before_start(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = setup_log(dir, 1);
    crawllog_consumer_t *a = member(log, "g", "in", 1);
    crawllog_group_metadata_t *md = metadata(a);
    crawllog_producer_t *x = producer(log, "px", NULL);
    P_OK(x, crawllog_txn_begin(x));
    P_OK(x, send_s(x, "out", 0, "r0"));
    P_OK(x, send_s(x, "out", 0, "r1"));
    P_OK(x, send_s(x, "out", 0, "r2"));
    P_OK(x, offsets1(x, md, "in", 0, 3));
    assert_int_equal(cl_fp_set("seg.append.write=EIO"), 0);
    int rc = crawllog_txn_commit(x); /* the marker write fails */
    cl_fp_clear();
    if (rc == CRAWLLOG_OK || rc == CRAWLLOG_EABORT) {
        fail_msg("commit with a failing marker write returned %s",
                 crawllog_err_name(rc));
    }
    crawllog_group_metadata_destroy(md);
    crawllog_consumer_destroy(a); /* the member leaves, x lives on */
    crawllog_consumer_t *b = subscriber(log);
    int64_t first = first_polled(b, 5000);
    assert_int_equal(first, 3);
    assert_int_equal(committed(log, "g", "in", 0), 3);
    expect_read(log, "out", 0, RC, "r0,r1,r2", -1);
    crawllog_consumer_destroy(b);
    crawllog_producer_destroy(x);
    expect_read(log, "out", 0, RC, "r0,r1,r2", -1);
    assert_int_equal(committed(log, "g", "in", 0), 3);
    cl_test_close_verify(log, dir);
}

/* A live, undecided transaction staged an offset for in/0 and its member
 * left: the new owner waits (the committed offset is not stable) until
 * the transaction ends, then starts from the committed offset. */
static void test_pending_offsets_delay_start(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = setup_log(dir, 1);
    crawllog_consumer_t *a = member(log, "g", "in", 1);
    crawllog_group_metadata_t *md = metadata(a);
    crawllog_producer_t *x = producer(log, "px", NULL);
    P_OK(x, crawllog_txn_begin(x));
    P_OK(x, send_s(x, "out", 0, "r0"));
    P_OK(x, offsets1(x, md, "in", 0, 1));
    crawllog_group_metadata_destroy(md);
    crawllog_consumer_destroy(a);
    crawllog_consumer_t *b = subscriber(log);
    /* Nothing of in/0 while x's transaction is pending. */
    assert_int_equal(first_polled(b, 500), -1);
    /* x cannot commit for a member that left; it aborts. */
    int rc = crawllog_txn_commit(x);
    if (rc != CRAWLLOG_EGENERATION && rc != CRAWLLOG_EABORT) {
        fail_msg("commit for a member that left: %s", crawllog_err_name(rc));
    }
    P_OK(x, crawllog_txn_abort(x));
    assert_int_equal(first_polled(b, 5000), 0);
    assert_int_equal(committed(log, "g", "in", 0), -1);
    expect_read(log, "out", 0, RC, "", -1);
    crawllog_consumer_destroy(b);
    assert_crawllog_ok(crawllog_producer_destroy(x));
    cl_test_close_verify(log, dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_crash_open_by_instance),
        T(test_crash_open_by_open),
        T(test_crash_open_by_reader),
        T(test_crash_decided_by_instance),
        T(test_crash_decided_by_open),
        T(test_crash_decided_by_reader),
        T(test_timeout_aborts_and_fences),
        T(test_timeout_aborted_by_open),
        T(test_decided_offsets_before_start),
        T(test_pending_offsets_delay_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
