/*
 * test_txn_concurrent.c - concurrent transactions of several producers on
 * shared partitions (issue 10), through the public API: two producers
 * interleaved step by step (read_committed stops at the first open
 * transaction - the last stable offset - even when a later one committed,
 * skips aborted ones, delivers plain records between them); then three
 * producers in threads and in processes running 80 transactions each with
 * fates fixed in advance, while a read_committed reader follows every
 * partition and judges each record it gets: never of an aborted
 * transaction, never twice, in order per producer; at the end exactly the
 * committed records, read_uncommitted all of them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crawllog.h"
#include "helpers.h"
#include "test_txn_util.h"

/* ---- concurrent transactions -------------------------------------------- */

/* Two producers interleaved on the same partitions, step by step. */
static void test_interleaved_lso(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = setup_log(dir, 1);
    cl_test_create_topic(log, "s", 2, NULL);
    crawllog_producer_t *p1 = producer(log, "ia", NULL);
    crawllog_producer_t *p2 = producer(log, "ib", NULL);
    P_OK(p1, crawllog_txn_begin(p1));
    P_OK(p1, send_s(p1, "s", 0, "a0")); /* s/0 @0 */
    P_OK(p2, crawllog_txn_begin(p2));
    P_OK(p2, send_s(p2, "s", 0, "b0")); /* s/0 @1 */
    P_OK(p2, send_s(p2, "s", 1, "b1")); /* s/1 @0 */
    P_OK(p1, send_s(p1, "s", 1, "a1")); /* s/1 @1 */
    P_OK(p2, crawllog_txn_commit(p2));  /* markers @2 */
    /* b committed, but a0 / a1 before or among it are open: the LSO. */
    expect_read(log, "s", 0, RC, "", 0);
    expect_read(log, "s", 1, RC, "b1", 1);
    expect_read(log, "s", 0, RU, "a0,b0", 3);
    P_OK(p1, crawllog_txn_abort(p1)); /* markers @3 */
    expect_read(log, "s", 0, RC, "b0", 4);
    expect_read(log, "s", 1, RC, "b1", 4);

    /* A reader that follows along. */
    crawllog_reader_t *rd = NULL;
    assert_crawllog_ok(crawllog_reader_new(&rd, log, "s", 0));
    assert_crawllog_ok(crawllog_reader_seek(rd, 4));
    P_OK(p1, crawllog_txn_begin(p1));
    P_OK(p1, send_s(p1, "s", 0, "a2")); /* 4 */
    append_s(log, "s", 0, "plain");     /* 5 */
    P_OK(p2, crawllog_txn_begin(p2));
    P_OK(p2, send_s(p2, "s", 0, "b2")); /* 6 */
    const crawllog_msg_t *m = NULL;
    assert_crawllog_ok(crawllog_reader_next(rd, &m));
    assert_null(m);
    assert_int_equal(crawllog_reader_position(rd), 4);
    P_OK(p1, crawllog_txn_commit(p1)); /* 7 */
    struct seen s;
    memset(&s, 0, sizeof(s));
    for (;;) {
        assert_crawllog_ok(crawllog_reader_next(rd, &m));
        if (m == NULL) {
            break;
        }
        take(&s, m);
    }
    assert_string_equal(s.all, "a2,plain");
    assert_int_equal(crawllog_reader_position(rd), 6);
    P_OK(p2, crawllog_txn_abort(p2)); /* 8 */
    assert_crawllog_ok(crawllog_reader_next(rd, &m));
    assert_null(m);
    assert_int_equal(crawllog_reader_position(rd), 9);
    crawllog_reader_destroy(rd);
    expect_read(log, "s", 0, RC, "b0,a2,plain", 9);
    expect_read(log, "s", 0, RU, "a0,b0,a2,plain,b2", 9);
    assert_crawllog_ok(crawllog_producer_destroy(p1));
    assert_crawllog_ok(crawllog_producer_destroy(p2));
    cl_test_close_verify(log, dir);
}

/* Workers: W producers, each TXNS transactions of 1-3 records over the
 * PARTS partitions of "cc"; the fate of each is fixed in advance so that
 * a concurrent read_committed reader can judge every record it gets. */
#define CW_WORKERS 3
#define CW_TXNS 80
#define CW_PARTS 3

static int cw_aborts(int id, int t)
{
    return (t + id) % 3 == 1;
}

static int cw_nrec(int id, int t)
{
    return 1 + (t * 7 + id) % 3;
}

static int32_t cw_part(int id, int t, int k)
{
    return (int32_t)((t * 5 + k * 2 + id) % CW_PARTS);
}

/* 0, or -1 after a message on stderr (any thread). */
static int cw_run(crawllog_t *log, int id)
{
    char err[CRAWLLOG_ERRSTR_SIZE] = "", txid[16];
    snprintf(txid, sizeof(txid), "cw%d", id);
    crawllog_conf_t *conf = NULL;
    crawllog_producer_t *p = NULL;
    int rc = crawllog_conf_new(&conf);
    if (rc == 0) {
        rc =
            crawllog_conf_set(conf, "transactional.id", txid, err, sizeof(err));
    }
    if (rc == 0) {
        rc = crawllog_producer_new(log, conf, &p, err, sizeof(err));
    }
    crawllog_conf_destroy(conf);
    for (int t = 0; rc == 0 && t < CW_TXNS; t++) {
        rc = crawllog_txn_begin(p);
        snprintf(err, sizeof(err), "worker %d txn %d begin", id, t);
        for (int k = 0; rc == 0 && k < cw_nrec(id, t); k++) {
            char v[32];
            snprintf(v, sizeof(v), "w%d:%d:%d", id, t, k);
            rc = send_s(p, "cc", cw_part(id, t, k), v);
            snprintf(err, sizeof(err), "worker %d send %s", id, v);
            sched_yield();
        }
        if (rc == 0) {
            rc = cw_aborts(id, t) ? crawllog_txn_abort(p)
                                  : crawllog_txn_commit(p);
            snprintf(err, sizeof(err), "worker %d txn %d end", id, t);
        }
    }
    if (rc != 0) {
        fprintf(stderr, "%s: %s: %s\n", err, crawllog_err_name(rc),
                p ? crawllog_producer_errmsg(p) : "");
    }
    if (crawllog_producer_destroy(p) != 0 && rc == 0) {
        rc = -1;
    }
    return rc == 0 ? 0 : -1;
}

static int cw_committed_total(void)
{
    int n = 0;
    for (int id = 0; id < CW_WORKERS; id++) {
        for (int t = 0; t < CW_TXNS; t++) {
            n += cw_aborts(id, t) ? 0 : cw_nrec(id, t);
        }
    }
    return n;
}

/* Judge one record read_committed returned from partition part: of a
 * transaction that commits, in the right partition, and after the
 * previous one of the same worker there.  last[id][part] = t*8+k. */
static void cw_judge(const crawllog_msg_t *m, int32_t part,
                     int last[CW_WORKERS][CW_PARTS])
{
    size_t len = 0;
    const char *v = crawllog_msg_value(m, &len);
    char buf[32];
    int id = -1, t = -1, k = -1;
    cl_test_check(len < sizeof(buf));
    memcpy(buf, v, len);
    buf[len] = '\0';
    cl_test_checkf(sscanf(buf, "w%d:%d:%d", &id, &t, &k) == 3 && id >= 0 &&
                       id < CW_WORKERS && t >= 0 && t < CW_TXNS,
                   "bad record %s", buf);
    cl_test_checkf(!cw_aborts(id, t),
                   "read_committed delivered %s of an "
                   "aborted transaction (offset %lld)",
                   buf, (long long)crawllog_msg_offset(m));
    cl_test_checkf(cw_part(id, t, k) == part, "%s in partition %d", buf,
                   (int)part);
    cl_test_checkf(t * 8 + k > last[id][part],
                   "%s out of order or twice in partition %d", buf, (int)part);
    last[id][part] = t * 8 + k;
}

/* Read every partition read_committed while the workers run (running()
 * tells), then to the end; check the whole result. */
static void cw_follow(crawllog_t *log, int (*running)(void *), void *arg)
{
    crawllog_reader_t *rd[CW_PARTS];
    int last[CW_WORKERS][CW_PARTS];
    int got = 0, want = cw_committed_total(), polls_seen_partial = 0;
    for (int i = 0; i < CW_WORKERS; i++) {
        for (int j = 0; j < CW_PARTS; j++) {
            last[i][j] = -1;
        }
    }
    for (int32_t p = 0; p < CW_PARTS; p++) {
        assert_crawllog_ok(crawllog_reader_new(&rd[p], log, "cc", p));
    }
    int64_t deadline = cl_test_mono_ms() + 60000;
    for (int live = 1; live;) {
        live = running(arg);
        for (int32_t p = 0; p < CW_PARTS; p++) {
            for (;;) {
                const crawllog_msg_t *m = NULL;
                int rc = crawllog_reader_next(rd[p], &m);
                if (rc != 0) {
                    fail_msg("reader cc/%d: %s: %s", (int)p,
                             crawllog_err_name(rc),
                             crawllog_reader_errmsg(rd[p]));
                }
                if (m == NULL) {
                    break;
                }
                cw_judge(m, p, last);
                got++;
                polls_seen_partial += live > 0;
            }
        }
        assert_true(cl_test_mono_ms() < deadline);
        if (live) {
            cl_test_sleep_ms(1);
        }
    }
    assert_int_equal(got, want);
    for (int32_t p = 0; p < CW_PARTS; p++) {
        assert_int_equal(crawllog_reader_position(rd[p]), end_of(log, "cc", p));
        crawllog_reader_destroy(rd[p]);
    }
    /* got == want, every record judged committed and none twice (the
     * order check): exactly the committed records.  read_uncommitted has
     * the aborted ones too. */
    int all = 0;
    for (int32_t p = 0; p < CW_PARTS; p++) {
        struct seen *s = malloc(sizeof(*s));
        assert_non_null(s);
        read_all(log, "cc", p, RU, s);
        all += (int)s->n;
        free(s);
    }
    int total = 0;
    for (int id = 0; id < CW_WORKERS; id++) {
        for (int t = 0; t < CW_TXNS; t++) {
            total += cw_nrec(id, t);
        }
    }
    assert_int_equal(all, total);
    print_message("%d committed of %d records, %d read while running\n", got,
                  total, polls_seen_partial);
}

struct cw_thread {
    pthread_t th;
    crawllog_t *log;
    int id, rc;
    int done; /* atomic */
};

static void *cw_thread_main(void *arg)
{
    struct cw_thread *w = arg;
    w->rc = cw_run(w->log, w->id);
    __atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static int cw_threads_running(void *arg)
{
    struct cw_thread *w = arg;
    int live = 0;
    for (int i = 0; i < CW_WORKERS; i++) {
        live += !__atomic_load_n(&w[i].done, __ATOMIC_ACQUIRE);
    }
    return live;
}

static void test_concurrent_threads(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = setup_log(dir, 1);
    cl_test_create_topic(log, "cc", CW_PARTS, NULL);
    struct cw_thread w[CW_WORKERS];
    memset(w, 0, sizeof(w));
    for (int i = 0; i < CW_WORKERS; i++) {
        w[i].log = log;
        w[i].id = i;
        assert_int_equal(pthread_create(&w[i].th, NULL, cw_thread_main, &w[i]),
                         0);
    }
    cw_follow(log, cw_threads_running, w);
    for (int i = 0; i < CW_WORKERS; i++) {
        assert_int_equal(pthread_join(w[i].th, NULL), 0);
        assert_int_equal(w[i].rc, 0);
    }
    cl_test_close_verify(log, dir);
}

struct cw_proc {
    const char *dir;
    int id;
    pid_t pid;
    int reaped;
};

static void cw_child(void *arg)
{
    const struct cw_proc *w = arg;
    crawllog_t *log = cl_test_open(w->dir, NULL);
    cl_test_check(cw_run(log, w->id) == 0);
    cl_test_check(crawllog_close(log) == 0);
}

static int cw_procs_running(void *arg)
{
    struct cw_proc *w = arg;
    int live = 0;
    for (int i = 0; i < CW_WORKERS; i++) {
        if (!w[i].reaped) {
            int status = 0;
            pid_t r = waitpid(w[i].pid, &status, WNOHANG);
            if (r == w[i].pid) {
                w[i].reaped = 1;
                cl_test_assert_exit_ok(status);
            } else {
                live++;
            }
        }
    }
    return live;
}

static void test_concurrent_processes(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = setup_log(dir, 1);
    cl_test_create_topic(log, "cc", CW_PARTS, NULL);
    struct cw_proc w[CW_WORKERS];
    memset(w, 0, sizeof(w));
    for (int i = 0; i < CW_WORKERS; i++) {
        w[i].dir = dir;
        w[i].id = i;
        w[i].pid = cl_test_fork_start(cw_child, &w[i]);
    }
    cw_follow(log, cw_procs_running, w);
    cl_test_close_verify(log, dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_interleaved_lso),
        T(test_concurrent_threads),
        T(test_concurrent_processes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
