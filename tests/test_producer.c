/*
 * test_producer.c - the producer without idempotence: acks 0/1/all round
 * trips, contiguous offsets, murmur2 and round-robin placement, per-key
 * order under 8 sender threads, acks=0 visibility (linger, flush), delivery
 * reports (once per message, not under a lock), kill -9 of a producer
 * process with acks=1 and acks=0, max.message.bytes, group commit.
 *
 * Expected placements come from crawllog_partitioner_murmur2() (checked
 * against Kafka's vectors in test_partitioner.c) and from arithmetic.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crawllog.h"
#include "helpers.h"
#include "io.h"

#define NPARTS 8

static crawllog_producer_t *new_producer(crawllog_t *log, const char *acks,
                                         const char *linger,
                                         const char *batch)
{
    crawllog_conf_t *conf = cl_test_conf("acks", acks, "linger.ms", linger,
                                         "batch.size", batch, NULL);
    crawllog_producer_t *prod = NULL;
    char errstr[CRAWLLOG_ERRSTR_SIZE];
    assert_crawllog_ok(
        crawllog_producer_new(log, conf, &prod, errstr, sizeof(errstr)));
    assert_non_null(prod);
    crawllog_conf_destroy(conf);
    return prod;
}

static int64_t end_offset(crawllog_t *log, const char *topic, int32_t p)
{
    int64_t start, end;
    assert_crawllog_ok(crawllog_partition_offsets(log, topic, p, &start, &end));
    return end;
}

/* Read partition p from 0 and check record i has value "v<i>" and key
 * "k<i>" (so for n records). */
static void expect_values(crawllog_t *log, const char *topic, int32_t p,
                          int n)
{
    crawllog_reader_t *rd = NULL;
    assert_crawllog_ok(crawllog_reader_new(&rd, log, topic, p));
    for (int i = 0; i < n; i++) {
        const crawllog_msg_t *m = cl_test_next_msg(rd);
        char want[32];
        size_t len;
        const void *v = crawllog_msg_value(m, &len);
        snprintf(want, sizeof(want), "v%d", i);
        assert_int_equal(crawllog_msg_offset(m), i);
        assert_int_equal(len, strlen(want));
        assert_memory_equal(v, want, len);
        const void *k = crawllog_msg_key(m, &len);
        snprintf(want, sizeof(want), "k%d", i);
        assert_int_equal(len, strlen(want));
        assert_memory_equal(k, want, len);
    }
    const crawllog_msg_t *m = NULL;
    assert_crawllog_ok(crawllog_reader_next(rd, &m));
    assert_null(m);
    crawllog_reader_destroy(rd);
}

static int send_kv(crawllog_producer_t *prod, const char *topic, int32_t p,
                   int i, int64_t *offp)
{
    char k[32], v[32];
    snprintf(k, sizeof(k), "k%d", i);
    snprintf(v, sizeof(v), "v%d", i);
    return crawllog_producer_send(prod, topic, p, k, strlen(k), v, strlen(v),
                                  NULL, 0, offp);
}

/* ---- round trips ------------------------------------------------------ */

static void round_trip(const char *dir, const char *acks)
{
    crawllog_t *log = cl_test_open(dir, NULL);
    cl_test_create_topic(log, "t", 2, NULL);
    crawllog_producer_t *prod = new_producer(log, acks, "5", "16384");
    for (int i = 0; i < 50; i++) {
        int64_t off = -2;
        assert_crawllog_ok(send_kv(prod, "t", 1, i, &off));
        assert_int_equal(off, i); /* contiguous, known at return */
    }
    crawllog_header_t h = {"h", 1, "hv", 2};
    crawllog_record_t rec = {"k50", 3, "v50", 3, 12345, &h, 1};
    int64_t off;
    assert_crawllog_ok(crawllog_producer_send_record(prod, "t", 1, &rec, &off));
    assert_int_equal(off, 50);
    assert_crawllog_ok(crawllog_producer_destroy(prod));
    expect_values(log, "t", 1, 51);
    assert_int_equal(end_offset(log, "t", 0), 0);
    crawllog_reader_t *rd = NULL;
    assert_crawllog_ok(crawllog_reader_new(&rd, log, "t", 1));
    assert_crawllog_ok(crawllog_reader_seek(rd, 50));
    const crawllog_msg_t *m = cl_test_next_msg(rd);
    assert_int_equal(crawllog_msg_timestamp(m), 12345);
    assert_int_equal(crawllog_msg_header_count(m), 1);
    crawllog_header_t got;
    assert_crawllog_ok(crawllog_msg_header(m, 0, &got));
    assert_int_equal(got.value_len, 2);
    assert_memory_equal(got.value, "hv", 2);
    crawllog_reader_destroy(rd);
    cl_test_close_verify(log, dir);
}

static void test_producer_round_trip_acks1(void **state)
{
    round_trip(CL_TEST_DIR(state), "1");
}

static void test_producer_round_trip_acks_all(void **state)
{
    round_trip(CL_TEST_DIR(state), "all");
}

/* ---- acks=0 ------------------------------------------------------------ */

struct reports {
    pthread_mutex_t lock;
    crawllog_t *log;
    int n, bad;
    int64_t next[NPARTS]; /* offset expected next per partition */
    int resend;           /* send one more message from the callback */
    crawllog_producer_t *prod;
};

static void on_delivery(void *opaque, const char *topic, int32_t partition,
                        int64_t offset, int err)
{
    struct reports *r = opaque;
    int64_t start, end;
    /* Calls into the log from the callback: must not deadlock. */
    int rc = crawllog_partition_offsets(r->log, topic, partition, &start,
                                        &end);
    pthread_mutex_lock(&r->lock);
    if (rc != 0 || err != 0 || offset != r->next[partition] || end <= offset) {
        r->bad++;
    }
    r->next[partition] = offset + 1;
    r->n++;
    int resend = r->resend;
    r->resend = 0;
    pthread_mutex_unlock(&r->lock);
    if (resend) {
        rc = crawllog_producer_send(r->prod, topic, partition, "x", 1, "y", 1,
                                    NULL, 0, NULL);
        if (rc != 0) {
            pthread_mutex_lock(&r->lock);
            r->bad++;
            pthread_mutex_unlock(&r->lock);
        }
    }
}

static void test_producer_acks0_flush_and_reports(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = cl_test_open(dir, NULL);
    cl_test_create_topic(log, "t", 2, NULL);
    crawllog_producer_t *prod = new_producer(log, "0", "600000", "1000000");
    struct reports r = {PTHREAD_MUTEX_INITIALIZER, log, 0, 0, {0}, 0, prod};
    assert_crawllog_ok(crawllog_producer_set_delivery_cb(prod, on_delivery,
                                                         &r));
    for (int i = 0; i < 100; i++) {
        int64_t off = 7;
        assert_crawllog_ok(send_kv(prod, "t", 0, i, &off));
        assert_int_equal(off, -1);
    }
    /* Buffered: invisible, no report yet (linger 10 minutes). */
    assert_int_equal(end_offset(log, "t", 0), 0);
    assert_int_equal(crawllog_producer_poll(prod), 0);
    assert_int_equal(r.n, 0);
    r.resend = 1; /* the first report sends message 100 */
    assert_crawllog_ok(crawllog_producer_flush(prod, 1000));
    assert_int_equal(end_offset(log, "t", 0), 100);
    assert_int_equal(r.n, 100);
    assert_int_equal(r.bad, 0);
    assert_crawllog_ok(crawllog_producer_destroy(prod)); /* writes 100 */
    assert_int_equal(r.n, 101);
    assert_int_equal(r.bad, 0);
    assert_int_equal(end_offset(log, "t", 0), 101);
    expect_values(log, "t", 1, 0);
    cl_test_close_verify(log, dir);
}

static void test_producer_acks0_linger_expiry(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = cl_test_open(dir, NULL);
    cl_test_create_topic(log, "t", 1, NULL);
    crawllog_producer_t *prod = new_producer(log, "0", "20", "1000000");
    assert_crawllog_ok(send_kv(prod, "t", 0, 0, NULL));
    assert_crawllog_ok(send_kv(prod, "t", 0, 1, NULL));
    assert_int_equal(end_offset(log, "t", 0), 0);
    cl_test_sleep_ms(40);
    assert_int_equal(crawllog_producer_poll(prod), 0); /* no callback set */
    assert_int_equal(end_offset(log, "t", 0), 2);
    /* A send after the linger also writes what waited. */
    assert_crawllog_ok(send_kv(prod, "t", 0, 2, NULL));
    cl_test_sleep_ms(40);
    assert_crawllog_ok(send_kv(prod, "t", 0, 3, NULL));
    assert_int_equal(end_offset(log, "t", 0), 4);
    assert_crawllog_ok(crawllog_producer_destroy(prod));
    expect_values(log, "t", 0, 4);
    cl_test_close_verify(log, dir);
}

static void test_producer_acks0_batch_full(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = cl_test_open(dir, NULL);
    cl_test_create_topic(log, "t", 1, NULL);
    /* ~20 bytes a record: a 1000-byte batch fills within 60 records. */
    crawllog_producer_t *prod = new_producer(log, "0", "600000", "1000");
    for (int i = 0; i < 200; i++) {
        assert_crawllog_ok(send_kv(prod, "t", 0, i, NULL));
    }
    int64_t end = end_offset(log, "t", 0);
    assert_true(end >= 100 && end < 200);
    assert_crawllog_ok(crawllog_producer_destroy(prod));
    expect_values(log, "t", 0, 200);
    cl_test_close_verify(log, dir);
}

/* ---- partitioning ------------------------------------------------------ */

static void test_producer_keyed_murmur2(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = cl_test_open(dir, NULL);
    cl_test_create_topic(log, "t", NPARTS, NULL);
    crawllog_producer_t *prod = new_producer(log, "1", "5", "16384");
    int64_t count[NPARTS] = {0};
    for (int i = 0; i < 200; i++) {
        char key[32];
        int64_t off;
        snprintf(key, sizeof(key), "key-%d", i);
        int32_t want = crawllog_partitioner_murmur2("t", key, strlen(key),
                                                    NPARTS, NULL);
        assert_true(want >= 0 && want < NPARTS);
        assert_crawllog_ok(crawllog_producer_send(
            prod, "t", CRAWLLOG_PARTITION_ANY, key, strlen(key), "v", 1,
            NULL, 0, &off));
        assert_int_equal(off, count[want]); /* it went to partition want */
        count[want]++;
    }
    for (int32_t p = 0; p < NPARTS; p++) {
        assert_int_equal(end_offset(log, "t", p), count[p]);
    }
    assert_crawllog_ok(crawllog_producer_destroy(prod));
    cl_test_close_verify(log, dir);
}

static void test_producer_keyless_round_robin(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = cl_test_open(dir, NULL);
    cl_test_create_topic(log, "t", NPARTS, NULL);
    crawllog_producer_t *prod = new_producer(log, "1", "5", "16384");
    for (int i = 0; i < NPARTS * 10; i++) {
        assert_crawllog_ok(crawllog_producer_send(
            prod, "t", CRAWLLOG_PARTITION_ANY, NULL, 0, "v", 1, NULL, 0,
            NULL));
    }
    for (int32_t p = 0; p < NPARTS; p++) {
        assert_int_equal(end_offset(log, "t", p), 10);
    }
    /* An explicit partition out of range, and an unknown topic. */
    assert_crawllog_rc(crawllog_producer_send(prod, "t", NPARTS, NULL, 0,
                                              "v", 1, NULL, 0, NULL),
                       CRAWLLOG_EPARTITION);
    assert_crawllog_rc(crawllog_producer_send(prod, "nope", 0, NULL, 0, "v",
                                              1, NULL, 0, NULL),
                       CRAWLLOG_ENOTOPIC);
    assert_true(strlen(crawllog_producer_errmsg(prod)) > 0);
    assert_crawllog_ok(crawllog_producer_destroy(prod));
    cl_test_close_verify(log, dir);
}

static int32_t always_3(const char *topic, const void *key, size_t keylen,
                        int32_t n, void *opaque)
{
    (void)topic, (void)key, (void)keylen, (void)n;
    return *(int32_t *)opaque;
}

static void test_producer_custom_partitioner(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = cl_test_open(dir, NULL);
    cl_test_create_topic(log, "t", 4, NULL);
    crawllog_producer_t *prod = new_producer(log, "1", "5", "16384");
    int32_t target = 3;
    assert_crawllog_ok(
        crawllog_producer_set_partitioner(prod, always_3, &target));
    assert_crawllog_ok(crawllog_producer_send(
        prod, "t", CRAWLLOG_PARTITION_ANY, "k", 1, "v", 1, NULL, 0, NULL));
    assert_int_equal(end_offset(log, "t", 3), 1);
    target = 4; /* out of range: refused, never a modulo */
    assert_crawllog_rc(crawllog_producer_send(prod, "t",
                                              CRAWLLOG_PARTITION_ANY, "k", 1,
                                              "v", 1, NULL, 0, NULL),
                       CRAWLLOG_EPARTITION);
    assert_int_equal(end_offset(log, "t", 0), 0);
    assert_crawllog_ok(crawllog_producer_destroy(prod));
    cl_test_close_verify(log, dir);
}

/* ---- limits and conf --------------------------------------------------- */

static void test_producer_too_big(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    static char big[2000];
    crawllog_t *log = cl_test_open(dir, NULL);
    cl_test_create_topic(log, "t", 1, "max.message.bytes", "1024", NULL);
    const char *acks[] = {"0", "1", "all"};
    for (int i = 0; i < 3; i++) {
        crawllog_producer_t *prod = new_producer(log, acks[i], "5", "16384");
        int64_t off = 7;
        assert_crawllog_rc(crawllog_producer_send(prod, "t", 0, NULL, 0, big,
                                                  sizeof(big), NULL, 0, &off),
                           CRAWLLOG_ETOOBIG);
        assert_int_equal(off, -1);
        assert_crawllog_ok(crawllog_producer_destroy(prod));
        assert_int_equal(end_offset(log, "t", 0), 0);
    }
    cl_test_close_verify(log, dir);
}

static void test_producer_conf_values(void **state)
{
    crawllog_conf_t *conf = cl_test_conf("acks", "-1", "partitioner",
                                         "sticky", NULL);
    char buf[32];
    size_t size = sizeof(buf);
    assert_crawllog_ok(crawllog_conf_get(conf, "acks", buf, &size));
    assert_string_equal(buf, "all");
    char errstr[CRAWLLOG_ERRSTR_SIZE];
    assert_crawllog_rc(crawllog_conf_set(conf, "acks", "2", errstr,
                                         sizeof(errstr)),
                       CRAWLLOG_EINVAL);
    assert_non_null(strstr(errstr, "acks"));
    assert_crawllog_rc(crawllog_conf_set(conf, "partitioner", "murmur3",
                                         errstr, sizeof(errstr)),
                       CRAWLLOG_EINVAL);
    assert_crawllog_rc(crawllog_conf_set(conf, "linger.ms", "-1", errstr,
                                         sizeof(errstr)),
                       CRAWLLOG_EINVAL);
    /* A producer property on a topic conf is refused. */
    crawllog_conf_t *tc = cl_test_conf("acks", "1", NULL);
    crawllog_t *log = cl_test_open(CL_TEST_DIR(state), NULL);
    assert_crawllog_rc(crawllog_topic_create(log, "t", 1, tc),
                       CRAWLLOG_EINVAL);
    assert_crawllog_ok(crawllog_close(log));
    crawllog_conf_destroy(tc);
    crawllog_conf_destroy(conf);
}

/* ---- threads: order and group commit ----------------------------------- */

#define NTHREADS 8
#define PER_THREAD 40

struct sender {
    crawllog_producer_t *prod;
    int id;
    int first; /* the first value sent (rounds continue the sequence) */
};

static void *sender_main(void *arg)
{
    struct sender *s = arg;
    char key[16], val[32];
    snprintf(key, sizeof(key), "t%d", s->id);
    for (int i = s->first; i < s->first + PER_THREAD; i++) {
        snprintf(val, sizeof(val), "%d", i);
        int64_t off;
        int rc = crawllog_producer_send(s->prod, "t", CRAWLLOG_PARTITION_ANY,
                                        key, strlen(key), val, strlen(val),
                                        NULL, 0, &off);
        cl_test_thread_check(rc == 0 && off >= -1, "send: %s",
                             crawllog_err_name(rc));
    }
    return NULL;
}

/* Every key's values come in 0, 1, 2, ... order over all partitions. */
static void expect_key_order(crawllog_t *log, int64_t total)
{
    int next[NTHREADS] = {0};
    int64_t seen = 0;
    for (int32_t p = 0; p < 4; p++) {
        crawllog_reader_t *rd = NULL;
        assert_crawllog_ok(crawllog_reader_new(&rd, log, "t", p));
        const crawllog_msg_t *m;
        while (crawllog_reader_next(rd, &m) == 0 && m != NULL) {
            size_t klen, vlen;
            const char *k = crawllog_msg_key(m, &klen);
            const char *v = crawllog_msg_value(m, &vlen);
            char kb[16] = {0}, vb[16] = {0};
            assert_true(klen < sizeof(kb) && vlen < sizeof(vb));
            memcpy(kb, k, klen);
            memcpy(vb, v, vlen);
            int id = atoi(kb + 1);
            assert_true(id >= 0 && id < NTHREADS);
            assert_int_equal(atoi(vb), next[id]);
            next[id]++;
            seen++;
        }
        crawllog_reader_destroy(rd);
    }
    assert_int_equal(seen, total);
}

static void run_senders(crawllog_producer_t *prod, int round)
{
    pthread_t th[NTHREADS];
    struct sender s[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        s[i].prod = prod;
        s[i].id = i;
        s[i].first = round * PER_THREAD;
        assert_int_equal(pthread_create(&th[i], NULL, sender_main, &s[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
    }
}

static void test_producer_threads_order_group_commit(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = cl_test_open(dir, NULL);
    cl_test_create_topic(log, "t", 4, NULL);
    crawllog_producer_t *prod = new_producer(log, "all", "5", "16384");
    /* Sharing depends on the threads overlapping, which a loaded machine
     * may prevent in one round: up to 5 rounds, one must share. */
    uint64_t syncs = 0;
    int rounds = 0;
    do {
        cl_fp_clear();
        run_senders(prod, rounds++);
        syncs = cl_fp_hits("seg.append.fdatasync");
        print_message("group commit: %llu fdatasyncs for %d messages\n",
                      (unsigned long long)syncs, NTHREADS * PER_THREAD);
        assert_true(syncs > 0);
    } while (syncs >= NTHREADS * PER_THREAD && rounds < 5);
    assert_true(syncs < NTHREADS * PER_THREAD);
    assert_crawllog_ok(crawllog_producer_destroy(prod));
    expect_key_order(log, (int64_t)rounds * NTHREADS * PER_THREAD);
    cl_test_close_verify(log, dir);
}

static void test_producer_threads_order_acks0(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = cl_test_open(dir, NULL);
    cl_test_create_topic(log, "t", 4, NULL);
    crawllog_producer_t *prod = new_producer(log, "0", "1", "300");
    run_senders(prod, 0);
    assert_crawllog_ok(crawllog_producer_destroy(prod));
    expect_key_order(log, NTHREADS * PER_THREAD);
    cl_test_close_verify(log, dir);
}

static void test_producer_acks_all_sync_failure(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = cl_test_open(dir, NULL);
    cl_test_create_topic(log, "t", 2, NULL);
    crawllog_producer_t *prod = new_producer(log, "all", "5", "16384");
    assert_crawllog_ok(send_kv(prod, "t", 0, 0, NULL));
    assert_int_equal(cl_fp_set("seg.append.fdatasync=EIO@1"), 0);
    int64_t off = 7;
    assert_crawllog_rc(send_kv(prod, "t", 0, 1, &off), CRAWLLOG_EIO);
    assert_int_equal(off, -1);
    assert_non_null(strstr(crawllog_producer_errmsg(prod), "fdatasync"));
    cl_fp_clear();
    /* Not acknowledged later either, even on another partition. */
    assert_true(send_kv(prod, "t", 1, 2, &off) != 0);
    assert_int_equal(off, -1);
    assert_crawllog_ok(crawllog_producer_destroy(prod));
    crawllog_close(log); /* may report the failed partition */
}

static void count_reports(void *opaque, const char *topic, int32_t partition,
                          int64_t offset, int err)
{
    (void)topic, (void)partition, (void)offset, (void)err;
    (*(int *)opaque)++;
}

/* A batch appended with CRAWLLOG_SYNC_NONE stays buffered when the write
 * that would have carried it fails (here a later WRITTEN append's): the
 * next flush writes it.  It was dropped, with the flush and close
 * reporting success (found by fuzz_api). */
static void test_pending_kept_after_failed_write(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = cl_test_open(dir, NULL);
    cl_test_create_topic(log, "t", 1, NULL);
    crawllog_record_t a = {NULL, 0, "none", 4, 0, NULL, 0};
    crawllog_record_t b = {NULL, 0, "written", 7, 0, NULL, 0};
    int64_t off = 0;
    assert_crawllog_ok(
        crawllog_append(log, "t", 0, &a, 1, CRAWLLOG_SYNC_NONE, &off));
    assert_int_equal(off, -1);
    assert_int_equal(cl_fp_set("seg.append.write=EIO@1"), 0);
    assert_crawllog_rc(
        crawllog_append(log, "t", 0, &b, 1, CRAWLLOG_SYNC_WRITTEN, &off),
        CRAWLLOG_EIO);
    cl_fp_clear();
    assert_crawllog_ok(crawllog_flush(log, CRAWLLOG_SYNC_WRITTEN));
    assert_crawllog_ok(crawllog_close(log));
    log = cl_test_open(dir, NULL);
    crawllog_reader_t *rd;
    assert_crawllog_ok(crawllog_reader_new(&rd, log, "t", 0));
    const crawllog_msg_t *m = cl_test_next_msg(rd);
    assert_non_null(m);
    size_t vl;
    const char *v = crawllog_msg_value(m, &vl);
    assert_int_equal(vl, 4);
    assert_memory_equal(v, "none", 4);
    assert_int_equal(crawllog_msg_offset(m), 0);
    crawllog_reader_destroy(rd);
    int64_t start, end;
    assert_crawllog_ok(crawllog_partition_offsets(log, "t", 0, &start, &end));
    assert_int_equal(end, 1); /* the failed append wrote nothing */
    cl_test_close_verify(log, dir);
}

/* Allocation failures at every point of a short session: each call
 * succeeds or fails cleanly (no crash, no leak under ASan). */
static void enomem_session(crawllog_t *log, const char *acks)
{
    crawllog_conf_t *conf = cl_test_conf("acks", acks, NULL);
    int clean = 0, reports = 0;
    for (int k = 1; k < 300 && !clean; k++) {
        char spec[64];
        snprintf(spec, sizeof(spec), "malloc=ENOMEM@%d", k);
        assert_int_equal(cl_fp_set(spec), 0);
        crawllog_producer_t *prod = NULL;
        int rc = crawllog_producer_new(log, conf, &prod, NULL, 0);
        int failed = rc != 0;
        if (rc == 0) {
            assert_crawllog_ok(crawllog_producer_set_delivery_cb(
                prod, count_reports, &reports));
            for (int i = 0; i < 3; i++) {
                rc = send_kv(prod, "t", i % 2, i, NULL);
                assert_true(rc == 0 || rc == CRAWLLOG_ENOMEM);
                failed |= rc != 0;
            }
            rc = crawllog_producer_destroy(prod);
            assert_true(rc == 0 || rc == CRAWLLOG_ENOMEM);
            failed |= rc != 0;
        } else {
            assert_int_equal(rc, CRAWLLOG_ENOMEM);
            assert_null(prod);
        }
        clean = !failed;
        cl_fp_clear();
    }
    assert_true(clean); /* some k was past the last allocation */
    assert_true(reports >= 3);
    crawllog_conf_destroy(conf);
}

static void test_producer_enomem_anywhere(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = cl_test_open(dir, NULL);
    cl_test_create_topic(log, "t", 2, NULL);
    enomem_session(log, "all");
    enomem_session(log, "0");
    assert_crawllog_ok(crawllog_close(log));
}

/* ---- kill -9 ----------------------------------------------------------- */

struct child_args {
    const char *dir;
    const char *acks;
    int n;
};

static void child_send_then_die(void *arg)
{
    struct child_args *a = arg;
    crawllog_t *log = cl_test_open(a->dir, NULL);
    crawllog_conf_t *conf = cl_test_conf("acks", a->acks, "linger.ms",
                                         "600000", "batch.size", "400", NULL);
    crawllog_producer_t *prod = NULL;
    cl_test_check(crawllog_producer_new(log, conf, &prod, NULL, 0) == 0);
    for (int i = 0; i < a->n; i++) {
        cl_test_check(send_kv(prod, "t", 0, i, NULL) == 0);
    }
    kill(getpid(), SIGKILL); /* no flush, no close */
}

static int64_t kill9_run(const char *dir, const char *acks, int n)
{
    crawllog_t *log = cl_test_open(dir, NULL);
    cl_test_create_topic(log, "t", 1, NULL);
    assert_crawllog_ok(crawllog_close(log));
    struct child_args a = {dir, acks, n};
    cl_test_assert_killed_by(cl_test_fork_run(child_send_then_die, &a),
                             SIGKILL);
    log = cl_test_open(dir, NULL);
    int64_t end = end_offset(log, "t", 0);
    expect_values(log, "t", 0, (int)end); /* whole records, in order */
    assert_crawllog_ok(crawllog_close(log));
    cl_test_expect_verify_clean(dir);
    return end;
}

static void test_producer_kill9_acks1_keeps_acked(void **state)
{
    assert_int_equal(kill9_run(CL_TEST_DIR(state), "1", 300), 300);
}

static void test_producer_kill9_acks0_loses_tail_untorn(void **state)
{
    /* Batches of <= 400 bytes were written as they filled; the last,
     * partial one was still buffered and is lost. */
    int64_t end = kill9_run(CL_TEST_DIR(state), "0", 300);
    assert_true(end > 0 && end < 300);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cl_test_unit_tmpdir(test_producer_round_trip_acks1),
        cl_test_unit_tmpdir(test_producer_round_trip_acks_all),
        cl_test_unit_tmpdir(test_producer_acks0_flush_and_reports),
        cl_test_unit_tmpdir(test_producer_acks0_linger_expiry),
        cl_test_unit_tmpdir(test_producer_acks0_batch_full),
        cl_test_unit_tmpdir(test_producer_keyed_murmur2),
        cl_test_unit_tmpdir(test_producer_keyless_round_robin),
        cl_test_unit_tmpdir(test_producer_custom_partitioner),
        cl_test_unit_tmpdir(test_producer_too_big),
        cl_test_unit_tmpdir(test_producer_conf_values),
        cl_test_unit_fp(test_producer_threads_order_group_commit),
        cl_test_unit_tmpdir(test_producer_threads_order_acks0),
        cl_test_unit_fp(test_producer_acks_all_sync_failure),
        cl_test_unit_fp(test_pending_kept_after_failed_write),
        cl_test_unit_fp(test_producer_enomem_anywhere),
        cl_test_unit_tmpdir(test_producer_kill9_acks1_keeps_acked),
        cl_test_unit_tmpdir(test_producer_kill9_acks0_loses_tail_untorn),
    };
    return cmocka_run_group_tests_name("producer", tests, NULL, NULL);
}
