/*
 * test_dlt.c - dlt.c, the dead-letter record and the retry loop both
 * backends share: the record's exact bytes (key, value, original headers
 * first, then the seven DLT headers in order, big-endian integers incl.
 * negative ones, the reason cut at 2047 bytes, NULL reason = ""), its
 * ENOMEM path, and the retry loop's attempts, waits (retry.backoff.ms
 * doubling, capped at retry.backoff.max.ms, none after the last attempt)
 * and reasons (last one kept, "failed N attempts" when empty, cut to the
 * buffer).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt.h"
#include "helpers.h"
#include "io.h"

/* ---- the record ---------------------------------------------------------- */

/* Append one record with timestamp ts and a header to jobs/1 and return
 * the message read back (rd: destroy it). */
static const crawllog_msg_t *one_msg(crawllog_t *log, int64_t ts,
                                     crawllog_reader_t **rd)
{
    cl_test_create_topic(log, "jobs", 2, NULL);
    crawllog_header_t h = {"trace", 5, "abc", 3};
    crawllog_record_t r = {"k", 1, "job-0", 5, ts, &h, 1};
    assert_crawllog_ok(crawllog_append(log, "jobs", 1, &r, 1,
                                       CRAWLLOG_SYNC_WRITTEN, NULL));
    assert_crawllog_ok(crawllog_reader_new(rd, log, "jobs", 1));
    return cl_test_next_msg(*rd);
}

static void check_header(const crawllog_header_t *h, const char *name,
                         const void *val, size_t len)
{
    assert_int_equal(h->name_len, strlen(name));
    assert_memory_equal(h->name, name, h->name_len);
    assert_int_equal(h->value_len, len);
    if (len > 0) {
        assert_memory_equal(h->value, val, len);
    }
}

static void test_record_bytes(void **state)
{
    crawllog_t *log = cl_test_open(CL_TEST_DIR(state), NULL);
    crawllog_reader_t *rd = NULL;
    const crawllog_msg_t *m = one_msg(log, 1002, &rd);
    struct cl_dlt_rec d;
    assert_int_equal(cl_dlt_record(m, "grp", "HTTP 500", 3, &d), 0);
    const crawllog_record_t *r = &d.rec;
    assert_int_equal(r->key_len, 1);
    assert_memory_equal(r->key, "k", 1);
    assert_int_equal(r->value_len, 5);
    assert_memory_equal(r->value, "job-0", 5);
    assert_int_equal(r->timestamp, -1);
    assert_int_equal(r->header_count, 1 + CL_DLT_HEADERS);
    const crawllog_header_t *h = r->headers;
    check_header(&h[0], "trace", "abc", 3);
    check_header(&h[1], "kafka_dlt-original-topic", "jobs", 4);
    check_header(&h[2], "kafka_dlt-original-partition", "\0\0\0\1", 4);
    check_header(&h[3], "kafka_dlt-original-offset", "\0\0\0\0\0\0\0\0", 8);
    check_header(&h[4], "kafka_dlt-original-timestamp",
                 "\0\0\0\0\0\0\x03\xea", 8);
    check_header(&h[5], "kafka_dlt-original-consumer-group", "grp", 3);
    check_header(&h[6], "kafka_dlt-exception-message", "HTTP 500", 8);
    check_header(&h[7], "crawllog_dlt-attempts", "\0\0\0\3", 4);
    cl_dlt_rec_free(&d);
    assert_null(d.headers);
    cl_dlt_rec_free(&d); /* twice: nothing */
    crawllog_reader_destroy(rd);
    crawllog_close(log);
}

static void test_record_limits(void **state)
{
    crawllog_t *log = cl_test_open(CL_TEST_DIR(state), NULL);
    crawllog_reader_t *rd = NULL;
    const crawllog_msg_t *m = one_msg(log, 0x0102030405060708LL, &rd);
    char *big = malloc(5000);
    assert_non_null(big);
    memset(big, 'x', 4999);
    big[4999] = '\0';
    struct cl_dlt_rec d;
    /* A long reason: its first CL_DLT_REASON_MAX - 1 bytes. */
    assert_int_equal(cl_dlt_record(m, "", big, -2, &d), 0);
    const crawllog_header_t *h = d.rec.headers;
    assert_int_equal(h[4].value_len, 8);
    assert_memory_equal(h[4].value, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    check_header(&h[5], "kafka_dlt-original-consumer-group", "", 0);
    check_header(&h[6], "kafka_dlt-exception-message", big,
                 CL_DLT_REASON_MAX - 1);
    check_header(&h[7], "crawllog_dlt-attempts", "\xff\xff\xff\xfe", 4);
    cl_dlt_rec_free(&d);
    /* Exactly the limit minus one is kept whole; NULL is "". */
    big[CL_DLT_REASON_MAX - 2] = '\0';
    assert_int_equal(cl_dlt_record(m, "g", big, 1, &d), 0);
    assert_int_equal(d.rec.headers[6].value_len, CL_DLT_REASON_MAX - 2);
    cl_dlt_rec_free(&d);
    assert_int_equal(cl_dlt_record(m, "g", NULL, 1, &d), 0);
    check_header(&d.rec.headers[6], "kafka_dlt-exception-message", "", 0);
    cl_dlt_rec_free(&d);
    /* Out of memory: ENOMEM, nothing to free. */
    assert_int_equal(cl_fp_set("malloc=ENOMEM"), 0);
    int rc = cl_dlt_record(m, "g", "r", 1, &d);
    cl_fp_clear();
    assert_int_equal(rc, CRAWLLOG_ENOMEM);
    assert_null(d.headers);
    assert_null(d.rec.headers);
    free(big);
    crawllog_reader_destroy(rd);
    crawllog_close(log);
}

/* ---- the retry loop ------------------------------------------------------ */

struct script {
    int calls;
    int succeed_at;        /* the call that returns 0; 0: none */
    const char *reason;    /* written by a failing call ("" = nothing) */
    int64_t waits[16];
    int nwaits;
};

static int fn(const crawllog_msg_t *msg, void *opaque, char *reason,
              size_t reason_size)
{
    struct script *s = opaque;
    (void)msg;
    assert_int_equal(reason[0], '\0'); /* cleared before every attempt */
    s->calls++;
    if (s->calls == s->succeed_at) {
        return 0;
    }
    /* Deliberately unterminated when it does not fit. */
    size_t n = strlen(s->reason);
    memcpy(reason, s->reason, n < reason_size ? n : reason_size);
    if (n < reason_size) {
        reason[n] = '\0';
    }
    return -1;
}

static void wait_fn(void *arg, int64_t ms)
{
    struct script *s = arg;
    assert_true(s->nwaits < 16);
    s->waits[s->nwaits++] = ms;
}

static int run(struct script *s, const char *attempts, const char *ms,
               const char *max, char *reason, size_t size, int32_t *attp)
{
    crawllog_conf_t *conf = cl_test_conf("max.attempts", attempts,
                                         "retry.backoff.ms", ms,
                                         "retry.backoff.max.ms", max, NULL);
    int ok = cl_retry_run(conf, (const crawllog_msg_t *)s, fn, s, wait_fn, s,
                          reason, size, attp);
    crawllog_conf_destroy(conf);
    return ok;
}

static void test_retry_exhausted(void **state)
{
    (void)state;
    struct script s = {0, 0, "HTTP 503", {0}, 0};
    char reason[CL_RETRY_REASON_SIZE];
    int32_t att = 0;
    assert_int_equal(run(&s, "5", "100", "350", reason, sizeof(reason), &att),
                     0);
    assert_int_equal(s.calls, 5);
    assert_int_equal(att, 5);
    assert_string_equal(reason, "HTTP 503");
    assert_int_equal(s.nwaits, 4); /* none after the last attempt */
    const int64_t want[4] = {100, 200, 350, 350};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(s.waits[i], want[i]);
    }
    /* An empty reason: "failed N attempts". */
    struct script e = {0, 0, "", {0}, 0};
    assert_int_equal(run(&e, "2", "0", "0", reason, sizeof(reason), &att), 0);
    assert_string_equal(reason, "failed 2 attempts");
    assert_int_equal(e.nwaits, 1);
    assert_int_equal(e.waits[0], 0);
    /* A reason longer than the buffer: cut and terminated. */
    struct script l = {0, 0, "0123456789", {0}, 0};
    char small[6];
    assert_int_equal(run(&l, "1", "10", "10", small, sizeof(small), &att), 0);
    assert_string_equal(small, "01234");
    assert_int_equal(l.nwaits, 0);
    assert_int_equal(att, 1);
}

static void test_retry_success(void **state)
{
    (void)state;
    struct script s = {0, 3, "boom", {0}, 0};
    char reason[CL_RETRY_REASON_SIZE];
    int32_t att = -7;
    assert_int_equal(run(&s, "5", "10", "1000", reason, sizeof(reason), &att),
                     1);
    assert_int_equal(s.calls, 3); /* never called again after a success */
    assert_int_equal(s.nwaits, 2);
    assert_int_equal(s.waits[0], 10);
    assert_int_equal(s.waits[1], 20);
    assert_int_equal(att, -7); /* untouched on success */
    struct script f = {0, 1, "x", {0}, 0};
    assert_int_equal(run(&f, "1", "10", "10", reason, sizeof(reason), &att),
                     1);
    assert_int_equal(f.calls, 1);
    assert_int_equal(f.nwaits, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cl_test_unit_fp(test_record_bytes),
        cl_test_unit_fp(test_record_limits),
        cmocka_unit_test(test_retry_exhausted),
        cmocka_unit_test(test_retry_success),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
