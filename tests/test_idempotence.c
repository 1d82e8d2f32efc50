/*
 * test_idempotence.c - the idempotent producer: the pure sequence rules of
 * idem.c, producer ids and epochs in the batch headers, explicit-sequence
 * re-sends (duplicate -> original offset, nothing written; gap ->
 * CRAWLLOG_ESEQUENCE), restart with the same producer.id (sequences
 * continue, state rebuilt from the segments, after a kill -9 too),
 * fencing of an older instance in the same and in another process,
 * concurrent senders getting contiguous sequences, the producer registry
 * file and its damage.
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

#include "bytes.h"
#include "crawllog.h"
#include "helpers.h"
#include "idem.h"
#include "prodid.h"
#include "record.h"

/* ---- idem.c rules, without a log --------------------------------------- */

static struct cl_idem_req req_of(int64_t pid, int16_t epoch, int32_t seq,
                                 int32_t count)
{
    struct cl_idem_req r;
    memset(&r, 0, sizeof(r));
    r.pid = pid;
    r.epoch = epoch;
    r.seq = seq;
    r.count = count;
    return r;
}

static void test_idem_rules(void **state)
{
    (void)state;
    struct cl_idem st;
    struct cl_err err;
    cl_idem_init(&st);

    /* Unknown producer: automatic sequences start at 0, an explicit one is
     * accepted as it is (its state may have been deleted by retention). */
    struct cl_idem_req r = req_of(7, 1, -1, 3);
    assert_int_equal(cl_idem_check(&st, &r, "p", &err), 0);
    assert_int_equal(r.seq_out, 0);
    assert_int_equal(r.dup, 0);
    r = req_of(7, 1, 42, 1);
    assert_int_equal(cl_idem_check(&st, &r, "p", &err), 0);
    assert_int_equal(r.seq_out, 42);

    /* Batches 0..2 at offset 100, 3 at 103, ..., 7 batches in all. */
    assert_int_equal(cl_idem_record(&st, 7, 1, 0, 3, 100), 0);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(cl_idem_record(&st, 7, 1, 3 + i, 1, 103 + i), 0);
    }
    assert_int_equal(cl_idem_next_seq(&st, 7), 9);
    assert_int_equal(cl_idem_next_seq(&st, 8), 0);

    r = req_of(7, 1, -1, 1); /* next */
    assert_int_equal(cl_idem_check(&st, &r, "p", &err), 0);
    assert_int_equal(r.seq_out, 9);
    r = req_of(7, 1, 9, 2); /* explicit next */
    assert_int_equal(cl_idem_check(&st, &r, "p", &err), 0);
    assert_int_equal(r.seq_out, 9);

    r = req_of(7, 1, 8, 1); /* the last batch again */
    assert_int_equal(cl_idem_check(&st, &r, "p", &err), 0);
    assert_int_equal(r.dup, 1);
    assert_int_equal(r.dup_offset, 108);
    r = req_of(7, 1, 4, 1); /* the oldest retained (4..8 kept) */
    assert_int_equal(cl_idem_check(&st, &r, "p", &err), 0);
    assert_int_equal(r.dup, 1);
    assert_int_equal(r.dup_offset, 104);
    r = req_of(7, 1, 0, 3); /* older than every retained batch */
    assert_int_equal(cl_idem_check(&st, &r, "p", &err), 0);
    assert_int_equal(r.dup, 1);
    assert_int_equal(r.dup_offset, -1);

    r = req_of(7, 1, 10, 1); /* a gap */
    assert_int_equal(cl_idem_check(&st, &r, "p", &err), CRAWLLOG_ESEQUENCE);
    assert_non_null(strstr(err.msg, "gap"));
    r = req_of(7, 1, 5, 2); /* overlaps retained batches differently */
    assert_int_equal(cl_idem_check(&st, &r, "p", &err), CRAWLLOG_ESEQUENCE);
    assert_non_null(strstr(err.msg, "overlap"));

    /* A newer epoch continues the sequences; then the old one is fenced,
     * for automatic and explicit sequences alike. */
    r = req_of(7, 2, -1, 1);
    assert_int_equal(cl_idem_check(&st, &r, "p", &err), 0);
    assert_int_equal(r.seq_out, 9);
    assert_int_equal(cl_idem_record(&st, 7, 2, 9, 1, 109), 0);
    r = req_of(7, 1, -1, 1);
    assert_int_equal(cl_idem_check(&st, &r, "p", &err), CRAWLLOG_EFENCED);
    r = req_of(7, 1, 8, 1);
    assert_int_equal(cl_idem_check(&st, &r, "p", &err), CRAWLLOG_EFENCED);

    /* The live word of the producer.id decides before anything else. */
    _Atomic uint32_t live = 5;
    r = req_of(9, 4, -1, 1);
    r.live = &live;
    r.live_epoch = 4;
    assert_int_equal(cl_idem_check(&st, &r, "p", &err), CRAWLLOG_EFENCED);
    r.live_epoch = 5;
    assert_int_equal(cl_idem_check(&st, &r, "p", &err), 0);
    cl_idem_free(&st);
}

static void test_idem_wrap_and_many_producers(void **state)
{
    (void)state;
    struct cl_idem st;
    struct cl_err err;
    cl_idem_init(&st);
    /* Sequences wrap from INT32_MAX to 0 (Kafka). */
    assert_int_equal(cl_idem_record(&st, 1, 0, INT32_MAX - 1, 2, 10), 0);
    assert_int_equal(cl_idem_next_seq(&st, 1), 0);
    struct cl_idem_req r = req_of(1, 0, 0, 1);
    assert_int_equal(cl_idem_check(&st, &r, "p", &err), 0);
    assert_int_equal(r.dup, 0);
    r = req_of(1, 0, INT32_MAX - 1, 2);
    assert_int_equal(cl_idem_check(&st, &r, "p", &err), 0);
    assert_int_equal(r.dup, 1);
    assert_int_equal(r.dup_offset, 10);
    assert_int_equal(cl_idem_seq_add(INT32_MAX, 1), 0);
    assert_int_equal(cl_idem_seq_add(5, -6), INT32_MAX);

    /* Epochs compare as 15-bit serial numbers: 0 follows 0x7fff. */
    assert_true(cl_idem_epoch_newer(2, 1));
    assert_false(cl_idem_epoch_newer(1, 2));
    assert_false(cl_idem_epoch_newer(3, 3));
    assert_true(cl_idem_epoch_newer(0, 0x7fff));
    assert_false(cl_idem_epoch_newer(0x7fff, 0));

    /* 5000 producers: the table grows and keeps each one's state. */
    for (int64_t pid = 100; pid < 5100; pid++) {
        assert_int_equal(cl_idem_record(&st, pid * 7919, 0, 0,
                                        (int32_t)(pid % 5) + 1, pid), 0);
    }
    for (int64_t pid = 100; pid < 5100; pid++) {
        assert_int_equal(cl_idem_next_seq(&st, pid * 7919), pid % 5 + 1);
    }
    cl_idem_free(&st);
}

/* ---- helpers ------------------------------------------------------------ */

static crawllog_producer_t *producer(crawllog_t *log, const char *id,
                                     const char *acks)
{
    crawllog_conf_t *conf = id != NULL
                                ? cl_test_conf("producer.id", id, "acks",
                                               acks, NULL)
                                : cl_test_conf("acks", acks, NULL);
    crawllog_producer_t *prod = NULL;
    char errstr[CRAWLLOG_ERRSTR_SIZE];
    int rc = crawllog_producer_new(log, conf, &prod, errstr, sizeof(errstr));
    if (rc != 0) {
        cl_test_failf_at(__FILE__, __LINE__, "producer_new: %s: %s",
                         crawllog_err_name(rc), errstr);
    }
    crawllog_conf_destroy(conf);
    return prod;
}

static crawllog_record_t rec_of(const char *value)
{
    crawllog_record_t r = {NULL, 0, value, strlen(value), -1, NULL, 0};
    return r;
}

static int64_t end_of(crawllog_t *log, const char *topic, int32_t p)
{
    int64_t start, end;
    assert_crawllog_ok(crawllog_partition_offsets(log, topic, p, &start,
                                                  &end));
    return end;
}

/* The producer fields of every batch of a partition, in offset order. */
struct hdr {
    int64_t base, pid;
    int16_t epoch;
    int32_t seq, count;
};

static size_t batch_headers(crawllog_t *log, const char *topic, int32_t p,
                            struct hdr *out, size_t max)
{
    crawllog_reader_t *rd = NULL;
    size_t n = 0;
    assert_crawllog_ok(crawllog_reader_new(&rd, log, topic, p));
    for (;;) {
        const void *buf;
        size_t len;
        assert_crawllog_ok(crawllog_reader_fetch(rd, 1 << 20, &buf, &len));
        if (buf == NULL) {
            break;
        }
        const uint8_t *b = buf;
        for (size_t pos = 0; pos < len;) {
            struct cl_batch_hdr h;
            assert_int_equal(cl_record_batch_header(b + pos, len - pos, &h),
                             0);
            assert_true(n < max);
            out[n].base = h.base_offset;
            out[n].pid = h.producer_id;
            out[n].epoch = h.producer_epoch;
            out[n].seq = h.base_sequence;
            out[n].count = h.records_count;
            n++;
            pos += cl_record_batch_total(&h);
        }
    }
    crawllog_reader_destroy(rd);
    return n;
}

/* ---- through the producer ---------------------------------------------- */

static void test_batches_carry_identity(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = cl_test_open(dir, NULL);
    cl_test_create_topic(log, "t", 2, NULL);
    crawllog_producer_t *prod = producer(log, "crawler-1", "1");
    int64_t pid;
    int16_t epoch;
    assert_crawllog_ok(crawllog_producer_identity(prod, &pid, &epoch));
    assert_true(pid >= 0);
    assert_int_equal(epoch, 1);
    crawllog_record_t two[2] = {rec_of("a"), rec_of("b")};
    int64_t off;
    assert_crawllog_ok(crawllog_producer_send(prod, "t", 0, NULL, 0, "x", 1,
                                              NULL, 0, &off));
    assert_crawllog_ok(crawllog_producer_send_batch(prod, "t", 0, two, 2,
                                                    &off));
    assert_int_equal(off, 1);
    assert_crawllog_ok(crawllog_producer_send(prod, "t", 1, NULL, 0, "y", 1,
                                              NULL, 0, &off));
    assert_crawllog_ok(crawllog_producer_send(prod, "t", 0, NULL, 0, "z", 1,
                                              NULL, 0, &off));
    struct hdr h[8];
    assert_int_equal(batch_headers(log, "t", 0, h, 8), 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(h[i].pid, pid);
        assert_int_equal(h[i].epoch, 1);
    }
    assert_int_equal(h[0].seq, 0); /* sequences count records */
    assert_int_equal(h[1].seq, 1);
    assert_int_equal(h[1].count, 2);
    assert_int_equal(h[2].seq, 3);
    assert_int_equal(batch_headers(log, "t", 1, h, 8), 1);
    assert_int_equal(h[0].seq, 0); /* per partition */
    int32_t next;
    assert_crawllog_ok(crawllog_producer_next_sequence(prod, "t", 0, &next));
    assert_int_equal(next, 4);
    assert_int_equal(crawllog_producer_next_sequence(prod, "t", 2, &next),
                     CRAWLLOG_EPARTITION);
    crawllog_producer_destroy(prod);

    /* Without idempotence: no producer fields, no sequence calls. */
    crawllog_conf_t *conf = cl_test_conf("enable.idempotence", "false",
                                         NULL);
    char errstr[CRAWLLOG_ERRSTR_SIZE];
    assert_crawllog_ok(
        crawllog_producer_new(log, conf, &prod, errstr, sizeof(errstr)));
    assert_crawllog_ok(crawllog_producer_identity(prod, &pid, &epoch));
    assert_int_equal(pid, -1);
    assert_int_equal(epoch, -1);
    assert_crawllog_ok(crawllog_producer_send(prod, "t", 1, NULL, 0, "n", 1,
                                              NULL, 0, &off));
    assert_int_equal(crawllog_producer_send_sequenced(prod, "t", 1, 0, two,
                                                      1, &off, NULL),
                     CRAWLLOG_EINVAL);
    assert_int_equal(crawllog_producer_next_sequence(prod, "t", 1, &next),
                     CRAWLLOG_EINVAL);
    crawllog_producer_destroy(prod);
    assert_int_equal(batch_headers(log, "t", 1, h, 8), 2);
    assert_int_equal(h[1].pid, -1);
    assert_int_equal(h[1].seq, -1);

    /* producer.id without idempotence, and a bad name. */
    crawllog_conf_destroy(conf);
    conf = cl_test_conf("enable.idempotence", "false", "producer.id", "x",
                        NULL);
    assert_int_equal(
        crawllog_producer_new(log, conf, &prod, errstr, sizeof(errstr)),
        CRAWLLOG_EINVAL);
    assert_non_null(strstr(errstr, "producer.id"));
    assert_int_equal(crawllog_conf_set(conf, "producer.id", "a/b", errstr,
                                       sizeof(errstr)),
                     CRAWLLOG_EINVAL);
    assert_non_null(strstr(errstr, "producer.id"));
    crawllog_conf_destroy(conf);
    cl_test_close_verify(log, dir);
}

static void test_resend_duplicate_and_gap(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = cl_test_open(dir, NULL);
    cl_test_create_topic(log, "t", 1, NULL);
    crawllog_producer_t *prod = producer(log, "p", "all");
    crawllog_record_t r[3] = {rec_of("a"), rec_of("b"), rec_of("c")};
    int64_t off;
    int dup;
    assert_crawllog_ok(crawllog_producer_send_sequenced(prod, "t", 0, 0, r,
                                                        2, &off, &dup));
    assert_int_equal(off, 0);
    assert_int_equal(dup, 0);
    assert_crawllog_ok(crawllog_producer_send_sequenced(prod, "t", 0, 2,
                                                        r + 2, 1, &off,
                                                        &dup));
    assert_int_equal(off, 2);
    /* The same batches again: nothing written, original offsets. */
    assert_crawllog_ok(crawllog_producer_send_sequenced(prod, "t", 0, 0, r,
                                                        2, &off, &dup));
    assert_int_equal(dup, 1);
    assert_int_equal(off, 0);
    assert_crawllog_ok(crawllog_producer_send_sequenced(prod, "t", 0, 2,
                                                        r + 2, 1, &off,
                                                        &dup));
    assert_int_equal(dup, 1);
    assert_int_equal(off, 2);
    assert_int_equal(end_of(log, "t", 0), 3);
    /* A gap, and a range that overlaps differently: refused, nothing
     * written. */
    assert_int_equal(crawllog_producer_send_sequenced(prod, "t", 0, 5, r, 1,
                                                      &off, &dup),
                     CRAWLLOG_ESEQUENCE);
    assert_int_equal(off, -1);
    assert_non_null(strstr(crawllog_producer_errmsg(prod), "gap"));
    assert_int_equal(crawllog_producer_send_sequenced(prod, "t", 0, 1, r, 1,
                                                      &off, &dup),
                     CRAWLLOG_ESEQUENCE);
    assert_int_equal(end_of(log, "t", 0), 3);
    /* Automatic sends continue after explicit ones. */
    assert_crawllog_ok(crawllog_producer_send(prod, "t", 0, NULL, 0, "d", 1,
                                              NULL, 0, &off));
    assert_int_equal(off, 3);
    int32_t next;
    assert_crawllog_ok(crawllog_producer_next_sequence(prod, "t", 0, &next));
    assert_int_equal(next, 4);
    assert_int_equal(crawllog_producer_send_sequenced(
                         prod, "t", CRAWLLOG_PARTITION_ANY, 4, r, 1, &off,
                         &dup),
                     CRAWLLOG_EINVAL);
    crawllog_producer_destroy(prod);
    cl_test_close_verify(log, dir);
}

static void test_restart_continues_sequences(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_conf_t *small = cl_test_conf("segment.bytes", "4096", NULL);
    crawllog_t *log = cl_test_open(dir, small);
    crawllog_conf_destroy(small);
    cl_test_create_topic(log, "t", 1, NULL);
    crawllog_producer_t *prod = producer(log, "stable", "1");
    char v[200];
    memset(v, 'v', sizeof(v) - 1);
    v[sizeof(v) - 1] = '\0';
    int64_t off;
    for (int i = 0; i < 60; i++) { /* several segments */
        assert_crawllog_ok(crawllog_producer_send(prod, "t", 0, NULL, 0, v,
                                                  sizeof(v), NULL, 0, &off));
    }
    crawllog_producer_destroy(prod);
    /* Another producer id interleaves. */
    crawllog_producer_t *other = producer(log, "other", "1");
    assert_crawllog_ok(crawllog_producer_send(other, "t", 0, NULL, 0, "o", 1,
                                              NULL, 0, &off));
    crawllog_producer_destroy(other);
    assert_crawllog_ok(crawllog_close(log));

    log = cl_test_open(dir, NULL);
    prod = producer(log, "stable", "1");
    int64_t pid;
    int16_t epoch;
    assert_crawllog_ok(crawllog_producer_identity(prod, &pid, &epoch));
    assert_int_equal(epoch, 2);
    int32_t next;
    assert_crawllog_ok(crawllog_producer_next_sequence(prod, "t", 0, &next));
    assert_int_equal(next, 60);
    /* The last batch of the old instance is a duplicate, with its offset
     * found from the rebuilt state. */
    crawllog_record_t r = rec_of("again");
    int dup;
    assert_crawllog_ok(crawllog_producer_send_sequenced(prod, "t", 0, 59, &r,
                                                        1, &off, &dup));
    assert_int_equal(dup, 1);
    assert_int_equal(off, 59);
    assert_crawllog_ok(crawllog_producer_send(prod, "t", 0, NULL, 0, "new",
                                              3, NULL, 0, &off));
    assert_int_equal(off, 61);
    struct hdr h[128];
    size_t n = batch_headers(log, "t", 0, h, 128);
    assert_int_equal(n, 62);
    assert_int_equal(h[61].seq, 60);
    assert_int_equal(h[61].epoch, 2);
    assert_int_equal(h[61].pid, pid);
    assert_int_equal(h[60].seq, 0); /* "other" */
    crawllog_producer_destroy(prod);
    cl_test_close_verify(log, dir);
}

/* Child: producer "crash" sends sequences 0..9 one by one with acks=1,
 * then dies by SIGKILL without destroying anything. */
static void crash_child(void *arg)
{
    const char *dir = arg;
    crawllog_t *log = cl_test_open(dir, NULL);
    crawllog_producer_t *prod = producer(log, "crash", "1");
    for (int i = 0; i < 10; i++) {
        char v[16];
        snprintf(v, sizeof(v), "m%d", i);
        crawllog_record_t r = rec_of(v);
        int64_t off;
        cl_test_check(crawllog_producer_send_sequenced(prod, "t", 0, i, &r, 1,
                                                       &off, NULL) == 0);
        cl_test_check(off == i);
    }
    raise(SIGKILL);
}

static void test_resend_after_kill9(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = cl_test_open(dir, NULL);
    cl_test_create_topic(log, "t", 1, NULL);
    assert_crawllog_ok(crawllog_close(log));
    int status = cl_test_fork_run(crash_child, (void *)dir);
    cl_test_assert_killed_by(status, SIGKILL);

    /* The restarted application re-sends everything from its input. */
    log = cl_test_open(dir, NULL);
    crawllog_producer_t *prod = producer(log, "crash", "all");
    for (int i = 0; i < 12; i++) {
        char v[16];
        snprintf(v, sizeof(v), "m%d", i);
        crawllog_record_t r = rec_of(v);
        int64_t off;
        int dup;
        assert_crawllog_ok(crawllog_producer_send_sequenced(
            prod, "t", 0, i, &r, 1, &off, &dup));
        assert_int_equal(dup, i < 10);
        /* The last 5 batches' offsets are known, older ones not. */
        assert_int_equal(off, i < 5 ? -1 : i);
    }
    assert_int_equal(end_of(log, "t", 0), 12);
    crawllog_reader_t *rd = NULL;
    assert_crawllog_ok(crawllog_reader_new(&rd, log, "t", 0));
    for (int i = 0; i < 12; i++) {
        const crawllog_msg_t *m = cl_test_next_msg(rd);
        char v[16];
        snprintf(v, sizeof(v), "m%d", i);
        size_t len;
        const void *val = crawllog_msg_value(m, &len);
        assert_int_equal(len, strlen(v));
        assert_memory_equal(val, v, len);
    }
    crawllog_reader_destroy(rd);
    crawllog_producer_destroy(prod);
    cl_test_close_verify(log, dir);
}

static void test_fencing_same_process(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = cl_test_open(dir, NULL);
    cl_test_create_topic(log, "t", 4, NULL);
    crawllog_producer_t *a = producer(log, "f", "1");
    int64_t off;
    assert_crawllog_ok(crawllog_producer_send(a, "t", 0, NULL, 0, "a", 1,
                                              NULL, 0, &off));
    crawllog_producer_t *b = producer(log, "f", "1");
    /* Partition 3 has seen neither: the live word fences a. */
    assert_int_equal(crawllog_producer_send(a, "t", 3, NULL, 0, "a", 1, NULL,
                                            0, &off),
                     CRAWLLOG_EFENCED);
    assert_int_equal(off, -1);
    assert_non_null(strstr(crawllog_producer_errmsg(a), "newer instance"));
    /* Sticky: every later send too, whatever the path. */
    crawllog_record_t r = rec_of("x");
    assert_int_equal(crawllog_producer_send_batch(a, "t", 0, &r, 1, &off),
                     CRAWLLOG_EFENCED);
    assert_crawllog_ok(crawllog_producer_send(b, "t", 0, NULL, 0, "b", 1,
                                              NULL, 0, &off));
    assert_int_equal(off, 1);
    assert_int_equal(end_of(log, "t", 3), 0);
    crawllog_producer_destroy(a);
    crawllog_producer_destroy(b);
    cl_test_close_verify(log, dir);
}

/* A child process: producer `id` sends `count` messages to partition `p`
 * of topic "t", then destroys the producer and closes the log. */
struct child_job {
    const char *dir, *id, *acks;
    int32_t p;
    int count;
};

static void sender_child(void *arg)
{
    const struct child_job *j = arg;
    crawllog_t *log = cl_test_open(j->dir, NULL);
    crawllog_producer_t *prod = producer(log, j->id, j->acks);
    for (int i = 0; i < j->count; i++) {
        int64_t off;
        cl_test_check(crawllog_producer_send(prod, "t", j->p, NULL, 0, "c",
                                             1, NULL, 0, &off) == 0);
    }
    crawllog_producer_destroy(prod);
    cl_test_check(crawllog_close(log) == 0);
}

/* Send one value to partition p with prod; its offset. */
static int64_t send1(crawllog_producer_t *prod, int32_t p, const char *v)
{
    int64_t off = -1;
    assert_crawllog_ok(crawllog_producer_send(prod, "t", p, NULL, 0, v,
                                              strlen(v), NULL, 0, &off));
    return off;
}

static void test_fencing_other_process(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = cl_test_open(dir, NULL);
    cl_test_create_topic(log, "t", 2, NULL);
    crawllog_producer_t *a = producer(log, "f", "0");
    int64_t off;
    send1(a, 0, "a");
    assert_crawllog_ok(crawllog_producer_flush(a, -1));
    struct child_job job = {dir, "f", "all", 1, 1};
    cl_test_assert_exit_ok(cl_test_fork_run(sender_child, &job));
    /* acks=0: the buffered message fails when written. */
    send1(a, 0, "a");
    assert_int_equal(crawllog_producer_flush(a, -1), CRAWLLOG_EFENCED);
    assert_int_equal(crawllog_producer_send(a, "t", 0, NULL, 0, "a", 1, NULL,
                                            0, &off),
                     CRAWLLOG_EFENCED);
    crawllog_producer_destroy(a);
    assert_int_equal(end_of(log, "t", 0), 1);
    assert_int_equal(end_of(log, "t", 1), 1);
    cl_test_close_verify(log, dir);
}

/* A child producer "b" appends to the partition between two appends of
 * the parent's producer "a": the parent's state must catch up with it. */
static void test_state_follows_other_processes(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = cl_test_open(dir, NULL);
    cl_test_create_topic(log, "t", 1, NULL);
    crawllog_producer_t *a = producer(log, "a", "1");
    int64_t off;
    send1(a, 0, "a");
    struct child_job job = {dir, "b", "1", 0, 5};
    cl_test_assert_exit_ok(cl_test_fork_run(sender_child, &job));
    assert_int_equal(send1(a, 0, "a"), 6);
    crawllog_producer_t *b = producer(log, "b", "1");
    int32_t next;
    assert_crawllog_ok(crawllog_producer_next_sequence(b, "t", 0, &next));
    assert_int_equal(next, 5);
    crawllog_record_t r = rec_of("b");
    int dup;
    assert_crawllog_ok(crawllog_producer_send_sequenced(b, "t", 0, 4, &r, 1,
                                                        &off, &dup));
    assert_int_equal(dup, 1);
    assert_int_equal(off, 5);
    crawllog_producer_destroy(a);
    crawllog_producer_destroy(b);
    cl_test_close_verify(log, dir);
}

#define THREADS 8
#define PER_THREAD 200

struct sender {
    crawllog_producer_t *prod;
    int id;
};

static void *send_thread(void *arg)
{
    struct sender *s = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        char v[32];
        snprintf(v, sizeof(v), "%d:%d", s->id, i);
        int64_t off;
        if (crawllog_producer_send(s->prod, "t", 0, NULL, 0, v, strlen(v),
                                   NULL, 0, &off) != 0) {
            return (void *)1;
        }
    }
    return NULL;
}

static void test_concurrent_senders_contiguous(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = cl_test_open(dir, NULL);
    cl_test_create_topic(log, "t", 1, NULL);
    crawllog_producer_t *prod = producer(log, NULL, "all");
    pthread_t th[THREADS];
    struct sender s[THREADS];
    for (int i = 0; i < THREADS; i++) {
        s[i].prod = prod;
        s[i].id = i;
        assert_int_equal(pthread_create(&th[i], NULL, send_thread, &s[i]),
                         0);
    }
    for (int i = 0; i < THREADS; i++) {
        void *ret;
        assert_int_equal(pthread_join(th[i], &ret), 0);
        assert_null(ret);
    }
    static struct hdr h[THREADS * PER_THREAD + 1];
    size_t n = batch_headers(log, "t", 0, h, THREADS * PER_THREAD + 1);
    assert_int_equal(n, THREADS * PER_THREAD);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(h[i].seq, (int32_t)i); /* in offset order */
        assert_int_equal(h[i].base, (int64_t)i);
    }
    crawllog_producer_destroy(prod);
    cl_test_close_verify(log, dir);
}

static void test_registry_file(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = cl_test_open(dir, NULL);
    cl_test_create_topic(log, "t", 1, NULL);
    int64_t pid1, pid2;
    int16_t e;
    crawllog_producer_t *p = producer(log, "reg", "1");
    assert_crawllog_ok(crawllog_producer_identity(p, &pid1, &e));
    assert_int_equal(e, 1);
    crawllog_producer_destroy(p);
    p = producer(log, "reg", "1");
    assert_crawllog_ok(crawllog_producer_identity(p, &pid2, &e));
    assert_int_equal(e, 2);
    assert_int_equal(pid1, pid2);
    const int64_t named_pid = pid1;
    crawllog_producer_destroy(p);
    /* Two anonymous producers: different ids. */
    crawllog_producer_t *x = producer(log, NULL, "1");
    crawllog_producer_t *y = producer(log, NULL, "1");
    assert_crawllog_ok(crawllog_producer_identity(x, &pid1, &e));
    assert_int_equal(e, 0);
    assert_crawllog_ok(crawllog_producer_identity(y, &pid2, &e));
    assert_int_not_equal(pid1, pid2);
    crawllog_producer_destroy(x);
    crawllog_producer_destroy(y);

    /* The file: instance 1 in slot 0, 2 in slot 1. */
    char path[4096];
    cl_test_path(path, sizeof(path), dir, "producers/reg");
    size_t len;
    uint8_t *buf = cl_test_read_file(path, &len);
    assert_int_equal(len, CL_PRODID_FILE_SIZE);
    uint64_t inst;
    int64_t spid;
    int empty;
    assert_int_equal(cl_prodid_slot_decode(buf, &inst, &spid, &empty), 0);
    assert_int_equal(inst, 1);
    assert_int_equal(cl_prodid_slot_decode(buf + 512, &inst, &spid, &empty),
                     0);
    assert_int_equal(inst, 2);
    assert_int_equal(spid, named_pid); /* the id the producers wrote */
    free(buf);

    /* A damaged newest slot: the other one is used (and overwritten),
     * and the count the damaged slot held (2, maybe in the log) is
     * skipped: epoch 3, which fences instance 2 (test_corrupt_state). */
    cl_test_flip_byte(path, 512 + 20, 0x01);
    p = producer(log, "reg", "1");
    assert_crawllog_ok(crawllog_producer_identity(p, &pid2, &e));
    assert_int_equal(e, 3);
    crawllog_producer_destroy(p);
    /* Both damaged: a clear error naming the file, nothing changed. */
    cl_test_flip_byte(path, 20, 0x01);
    cl_test_flip_byte(path, 512 + 20, 0x01);
    crawllog_producer_t *bad = NULL;
    char errstr[CRAWLLOG_ERRSTR_SIZE];
    crawllog_conf_t *conf = cl_test_conf("producer.id", "reg", NULL);
    assert_int_equal(
        crawllog_producer_new(log, conf, &bad, errstr, sizeof(errstr)),
        CRAWLLOG_ECORRUPT);
    assert_null(bad);
    assert_non_null(strstr(errstr, "producers/reg"));
    crawllog_conf_destroy(conf);
    /* A symbolic link is refused. */
    char target[4096];
    cl_test_path(target, sizeof(target), dir, "producers/lnk");
    assert_int_equal(symlink(path, target), 0);
    conf = cl_test_conf("producer.id", "lnk", NULL);
    assert_int_equal(
        crawllog_producer_new(log, conf, &bad, errstr, sizeof(errstr)),
        CRAWLLOG_ELOOP);
    crawllog_conf_destroy(conf);
    assert_crawllog_ok(crawllog_close(log));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idem_rules),
        cmocka_unit_test(test_idem_wrap_and_many_producers),
        cl_test_unit_tmpdir(test_batches_carry_identity),
        cl_test_unit_tmpdir(test_resend_duplicate_and_gap),
        cl_test_unit_tmpdir(test_restart_continues_sequences),
        cl_test_unit_tmpdir(test_resend_after_kill9),
        cl_test_unit_tmpdir(test_fencing_same_process),
        cl_test_unit_tmpdir(test_fencing_other_process),
        cl_test_unit_tmpdir(test_state_follows_other_processes),
        cl_test_unit_tmpdir(test_concurrent_senders_contiguous),
        cl_test_unit_tmpdir(test_registry_file),
    };
    return cmocka_run_group_tests_name("idempotence", tests, NULL, NULL);
}
