/*
 * conformance_util.h - helpers of tests/test_conformance.c (the API
 * contract both backends honour), public API only.
 *
 * The program is built twice: by `make test` against a fresh data
 * directory per test (file backend), and by `make test-kafka` with
 * -DCL_TEST_KAFKA against "kafka://mock" (librdkafka's in-process mock
 * cluster, a new one per crawllog_open).  Everything that waits has a
 * deadline (CT_WAIT_MS) and stops as soon as its condition holds, so the
 * file build stays fast while the mock (group joins ~3 s) has room.
 * CT_SETTLE_MS is how long a test watches for something that must NOT
 * arrive.  The second half holds the fixtures of the individual tests
 * (topic T, callbacks, record checks); only test_conformance.c includes
 * this header.
 */
#ifndef CL_TEST_CONFORMANCE_UTIL_H
#define CL_TEST_CONFORMANCE_UTIL_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

#ifdef CL_TEST_KAFKA
#define CT_WAIT_MS 30000
#define CT_SETTLE_MS 1500
#define CT_LOCATION "kafka://mock"
#define CT_KAFKA_OR(kafka, file) (kafka)
#else
#define CT_KAFKA_OR(kafka, file) (file)
#define CT_WAIT_MS 10000
#define CT_SETTLE_MS 100
#endif

#define CT_FAIL(...) cl_test_failf_at(__FILE__, __LINE__, __VA_ARGS__)

/* expr, a call on consumer c, must succeed (else its errmsg is shown). */
#define ct_cons_ok(c, expr)                                                    \
    do {                                                                       \
        int ct_rc_ = (expr);                                                   \
        if (ct_rc_ != 0) {                                                     \
            CT_FAIL("%s returned %s: %s", #expr, crawllog_err_name(ct_rc_),    \
                    crawllog_consumer_errmsg(c));                              \
        }                                                                      \
    } while (0)

/* A message copied out of a poll or a reader (their views die with the
 * next call). */
struct ct_msg {
    char topic[80];
    int32_t partition;
    int64_t offset, timestamp;
    int key_null, value_null;
    size_t key_len, value_len, nheaders;
    char key[64], value[64];
};

static inline void ct_copy(struct ct_msg *d, const crawllog_msg_t *m,
                           const char *topic, int32_t partition)
{
    size_t len = 0;
    const void *p;
    memset(d, 0, sizeof(*d));
    snprintf(d->topic, sizeof(d->topic), "%s",
             topic != NULL ? topic : crawllog_msg_topic(m));
    d->partition = partition >= 0 ? partition : crawllog_msg_partition(m);
    d->offset = crawllog_msg_offset(m);
    d->timestamp = crawllog_msg_timestamp(m);
    p = crawllog_msg_key(m, &len);
    d->key_null = p == NULL;
    d->key_len = len;
    if (p != NULL) {
        memcpy(d->key, p, len < sizeof(d->key) - 1 ? len : sizeof(d->key) - 1);
    }
    p = crawllog_msg_value(m, &len);
    d->value_null = p == NULL;
    d->value_len = len;
    if (p != NULL) {
        memcpy(d->value, p,
               len < sizeof(d->value) - 1 ? len : sizeof(d->value) - 1);
    }
    d->nheaders = crawllog_msg_header_count(m);
}

/* The log of a test: the test's temporary directory, or a new mock
 * cluster. */
static inline crawllog_t *ct_open(void **state)
{
    crawllog_t *log = NULL;
    char err[CRAWLLOG_ERRSTR_SIZE] = "";
#ifdef CL_TEST_KAFKA
    const char *loc = CT_LOCATION;
    (void)state;
#else
    const char *loc = CL_TEST_DIR(state);
#endif
    int rc = crawllog_open(&log, loc, NULL, err, sizeof(err));
    if (rc != 0 || log == NULL) {
        CT_FAIL("crawllog_open(%s): %s: %s", loc, crawllog_err_name(rc), err);
    }
    return log;
}

static inline void ct_close(crawllog_t *log)
{
    assert_crawllog_ok(crawllog_close(log));
}

static inline void ct_topic(crawllog_t *log, const char *topic, int32_t n)
{
    assert_crawllog_ok_log(log, crawllog_topic_create(log, topic, n, NULL));
}

/* A conf from "name", "value", ... pairs up to a NULL name. */
static inline crawllog_conf_t *ct_conf_va(const char *first, va_list ap)
{
    crawllog_conf_t *conf = NULL;
    char err[CRAWLLOG_ERRSTR_SIZE];
    assert_crawllog_ok(crawllog_conf_new(&conf));
    for (const char *k = first; k != NULL; k = va_arg(ap, const char *)) {
        const char *v = va_arg(ap, const char *);
        if (crawllog_conf_set(conf, k, v, err, sizeof(err)) != 0) {
            CT_FAIL("conf %s=%s: %s", k, v, err);
        }
    }
    return conf;
}

/* A producer with the given properties (pairs, NULL-terminated). */
static inline crawllog_producer_t *ct_producer(crawllog_t *log,
                                               const char *first, ...)
{
    va_list ap;
    va_start(ap, first);
    crawllog_conf_t *conf = ct_conf_va(first, ap);
    va_end(ap);
    crawllog_producer_t *p = NULL;
    char err[CRAWLLOG_ERRSTR_SIZE] = "";
    int rc = crawllog_producer_new(log, conf, &p, err, sizeof(err));
    crawllog_conf_destroy(conf);
    if (rc != 0) {
        CT_FAIL("crawllog_producer_new: %s: %s", crawllog_err_name(rc), err);
    }
    return p;
}

/* A consumer: auto.offset.reset=earliest, then the given pairs. */
static inline crawllog_consumer_t *ct_consumer(crawllog_t *log,
                                               const char *first, ...)
{
    va_list ap;
    va_start(ap, first);
    crawllog_conf_t *conf = ct_conf_va(first, ap);
    va_end(ap);
    char err[CRAWLLOG_ERRSTR_SIZE] = "";
    int set = 0;
    va_start(ap, first);
    for (const char *k = first; k != NULL; k = va_arg(ap, const char *)) {
        (void)va_arg(ap, const char *);
        set |= strcmp(k, "auto.offset.reset") == 0;
    }
    va_end(ap);
    if (!set) {
        assert_crawllog_ok(crawllog_conf_set(conf, "auto.offset.reset",
                                             "earliest", err, sizeof(err)));
    }
    crawllog_consumer_t *c = NULL;
    int rc = crawllog_consumer_new(log, conf, &c, err, sizeof(err));
    crawllog_conf_destroy(conf);
    if (rc != 0) {
        CT_FAIL("crawllog_consumer_new: %s: %s", crawllog_err_name(rc), err);
    }
    return c;
}

/* Send key/value (NULL: null) and return the offset. */
static inline int64_t ct_send(crawllog_producer_t *p, const char *topic,
                              int32_t partition, const char *key,
                              const char *value)
{
    int64_t off = -2;
    int rc =
        crawllog_producer_send(p, topic, partition, key, key ? strlen(key) : 0,
                               value, value ? strlen(value) : 0, NULL, 0, &off);
    if (rc != 0) {
        CT_FAIL("send %s/%d: %s: %s", topic, (int)partition,
                crawllog_err_name(rc), crawllog_producer_errmsg(p));
    }
    return off;
}

static inline void ct_assign(crawllog_consumer_t *c,
                             const crawllog_topic_partition_t *tp, size_t n)
{
    int rc = crawllog_consumer_assign(c, tp, n);
    if (rc != 0) {
        CT_FAIL("assign: %s: %s", crawllog_err_name(rc),
                crawllog_consumer_errmsg(c));
    }
}

static inline void ct_assign1(crawllog_consumer_t *c, const char *topic,
                              int32_t partition, int64_t offset)
{
    crawllog_topic_partition_t tp = {topic, partition, offset, NULL};
    ct_assign(c, &tp, 1);
}

/* One poll of up to max messages (timeout_ms), copied into out. */
static inline size_t ct_poll(crawllog_consumer_t *c, int timeout_ms,
                             struct ct_msg *out, size_t max)
{
    const crawllog_msg_t *m[64];
    size_t n = 0;
    if (max > 64) {
        max = 64;
    }
    int rc = crawllog_consumer_poll(c, timeout_ms, m, max, &n);
    if (rc != 0) {
        CT_FAIL("poll: %s: %s", crawllog_err_name(rc),
                crawllog_consumer_errmsg(c));
    }
    if (n > max) {
        CT_FAIL("poll returned %zu messages, max %zu", n, max);
    }
    for (size_t i = 0; i < n; i++) {
        ct_copy(&out[i], m[i], NULL, -1);
    }
    return n;
}

/* Poll until want messages (or CT_WAIT_MS); returns how many arrived
 * (at most max are kept; more fail the test). */
static inline size_t ct_collect(crawllog_consumer_t *c, struct ct_msg *out,
                                size_t max, size_t want)
{
    size_t n = 0;
    int64_t deadline = cl_test_mono_ms() + CT_WAIT_MS;
    while (n < want && cl_test_mono_ms() < deadline) {
        struct ct_msg got[64];
        size_t k = ct_poll(c, 100, got, 64);
        if (n + k > max) {
            CT_FAIL("%zu messages, more than the %zu expected", n + k, max);
        }
        memcpy(&out[n], got, k * sizeof(got[0]));
        n += k;
    }
    return n;
}

/* Poll for CT_SETTLE_MS: nothing may arrive. */
static inline void ct_expect_nothing(crawllog_consumer_t *c)
{
    int64_t end = cl_test_mono_ms() + CT_SETTLE_MS;
    do {
        struct ct_msg got[8];
        size_t k = ct_poll(c, 50, got, 8);
        if (k > 0) {
            CT_FAIL("unexpected message %s/%d@%lld \"%s\"", got[0].topic,
                    (int)got[0].partition, (long long)got[0].offset,
                    got[0].value);
        }
    } while (cl_test_mono_ms() < end);
}

/* Every message of a partition from its start to its end (reader). */
static inline size_t ct_read_all(crawllog_t *log, const char *topic,
                                 int32_t partition, struct ct_msg *out,
                                 size_t max)
{
    crawllog_reader_t *rd = NULL;
    assert_crawllog_ok_log(log,
                           crawllog_reader_new(&rd, log, topic, partition));
    size_t n = 0;
    for (;;) {
        const crawllog_msg_t *m = NULL;
        int rc = crawllog_reader_next(rd, &m);
        if (rc != 0) {
            CT_FAIL("reader_next %s/%d: %s: %s", topic, (int)partition,
                    crawllog_err_name(rc), crawllog_reader_errmsg(rd));
        }
        if (m == NULL) {
            break;
        }
        if (n == max) {
            CT_FAIL("%s/%d: more than %zu messages", topic, (int)partition,
                    max);
        }
        ct_copy(&out[n++], m, topic, partition);
    }
    crawllog_reader_destroy(rd);
    return n;
}

static inline int64_t ct_end(crawllog_t *log, const char *topic, int32_t p)
{
    int64_t start = -1, end = -1;
    assert_crawllog_ok_log(
        log, crawllog_partition_offsets(log, topic, p, &start, &end));
    return end;
}

static inline int64_t ct_committed(crawllog_consumer_t *c, const char *topic,
                                   int32_t p)
{
    int64_t off = -2;
    int rc = crawllog_consumer_committed(c, topic, p, &off);
    if (rc != 0) {
        CT_FAIL("committed %s/%d: %s: %s", topic, (int)p, crawllog_err_name(rc),
                crawllog_consumer_errmsg(c));
    }
    return off;
}

/* Header name of m: 1 and its value, or 0. */
static inline int ct_header(const crawllog_msg_t *m, const char *name,
                            const void **vp, size_t *lenp)
{
    for (size_t i = 0; i < crawllog_msg_header_count(m); i++) {
        crawllog_header_t h;
        if (crawllog_msg_header(m, i, &h) == 0 && h.name_len == strlen(name) &&
            memcmp(h.name, name, h.name_len) == 0) {
            *vp = h.value;
            *lenp = h.value_len;
            return 1;
        }
    }
    return 0;
}

static inline int64_t ct_be(const void *p, size_t len)
{
    const unsigned char *b = p;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        v = v << 8 | b[i];
    }
    return len == 4 ? (int64_t)(int32_t)(uint32_t)v : (int64_t)v;
}

/* The header must exist with exactly the string s as value. */
static inline void ct_expect_header_str(const crawllog_msg_t *m,
                                        const char *name, const char *s)
{
    const void *v = NULL;
    size_t len = 0;
    if (!ct_header(m, name, &v, &len)) {
        CT_FAIL("header %s missing", name);
    }
    if (len != strlen(s) || (len > 0 && memcmp(v, s, len) != 0)) {
        CT_FAIL("header %s = \"%.*s\", expected \"%s\"", name, (int)len,
                v ? (const char *)v : "", s);
    }
}

/* The header must exist, be len bytes big-endian and equal want. */
static inline void ct_expect_header_int(const crawllog_msg_t *m,
                                        const char *name, size_t want_len,
                                        int64_t want)
{
    const void *v = NULL;
    size_t len = 0;
    if (!ct_header(m, name, &v, &len)) {
        CT_FAIL("header %s missing", name);
    }
    if (len != want_len || ct_be(v, len) != want) {
        CT_FAIL("header %s: %zu bytes, value %lld; expected %zu bytes %lld",
                name, len, len == want_len ? (long long)ct_be(v, len) : -1LL,
                want_len, (long long)want);
    }
}

/* ---------------------------------------------------------------------- */
/* Fixtures of the individual tests (topic T, callbacks, checks)           */
/* ---------------------------------------------------------------------- */

#define T "conf.t"

struct reports {
    int n;
    int32_t partition[64];
    int64_t offset[64];
    int err[64];
};

static void on_delivery(void *opaque, const char *topic, int32_t partition,
                        int64_t offset, int err)
{
    struct reports *r = opaque;
    if (r->n < 64 && strcmp(topic, T) == 0) {
        r->partition[r->n] = partition;
        r->offset[r->n] = offset;
        r->err[r->n] = err;
    }
    r->n++;
}

static int32_t custom_calls;
static int32_t custom_part(const char *topic, const void *key, size_t keylen,
                           int32_t count, void *opaque)
{
    (void)topic;
    (void)key;
    (void)keylen;
    custom_calls++;
    return *(const int32_t *)opaque < 0 ? count - 1 : *(const int32_t *)opaque;
}

#define RT_TS 1600000000123LL

static void check_roundtrip(const struct ct_msg *m, int64_t t0, int64_t t1)
{
    assert_int_equal(m[0].offset, 0);
    assert_string_equal(m[0].key, "k1");
    assert_string_equal(m[0].value, "v1");
    assert_int_equal(m[0].timestamp, RT_TS);
    assert_int_equal(m[0].nheaders, 2);
    assert_true(m[1].key_null); /* null key */
    assert_int_equal(m[1].key_len, 0);
    assert_string_equal(m[1].value, "v2");
    assert_true(m[1].timestamp >= t0 - 1000 && m[1].timestamp <= t1 + 1000);
    assert_string_equal(m[2].key, "k3");
    assert_true(m[2].value_null);  /* null value */
    assert_false(m[3].value_null); /* empty value, not null */
    assert_int_equal(m[3].value_len, 0);
    assert_false(m[4].key_null); /* empty key, not null */
    assert_int_equal(m[4].key_len, 0);
    assert_string_equal(m[4].value, "v5");
    for (int i = 1; i < 5; i++) {
        assert_int_equal(m[i].offset, i);
        assert_int_equal(m[i].nheaders, 0);
    }
}

static void check_headers(const crawllog_msg_t *m)
{
    crawllog_header_t h;
    assert_crawllog_ok(crawllog_msg_header(m, 0, &h));
    assert_int_equal(h.name_len, 5);
    assert_memory_equal(h.name, "trace", 5);
    assert_int_equal(h.value_len, 3);
    assert_memory_equal(h.value, "abc", 3);
    assert_crawllog_ok(crawllog_msg_header(m, 1, &h));
    assert_int_equal(h.name_len, 5);
    assert_memory_equal(h.name, "hnull", 5);
    assert_null(h.value);
    assert_crawllog_rc(crawllog_msg_header(m, 2, &h), CRAWLLOG_EINVAL);
}

static const crawllog_msg_t *reader_wait(crawllog_reader_t *rd)
{
    const crawllog_msg_t *m = NULL;
    int64_t deadline = cl_test_mono_ms() + CT_WAIT_MS;
    while (m == NULL && cl_test_mono_ms() < deadline) {
        assert_crawllog_ok(crawllog_reader_next(rd, &m));
    }
    if (m == NULL) {
        CT_FAIL("reader saw no new record in %d ms", CT_WAIT_MS);
    }
    return m;
}

static void fill(crawllog_t *log, int32_t part, int n, const char *prefix)
{
    crawllog_producer_t *p = ct_producer(log, "acks", "1", NULL);
    char v[16][32];
    crawllog_record_t recs[16];
    assert_true(n >= 1 && n <= 16);
    for (int i = 0; i < n; i++) {
        int len = snprintf(v[i], sizeof(v[i]), "%s%d", prefix, i);
        recs[i] = (crawllog_record_t){NULL, 0, v[i], (size_t)len, -1, NULL, 0};
    }
    /* One batch: the mock cluster returns one batch per fetch. */
    assert_crawllog_ok(
        crawllog_producer_send_batch(p, T, part, recs, (size_t)n, NULL));
    assert_crawllog_ok(crawllog_producer_destroy(p));
}

struct member {
    crawllog_consumer_t *c;
    int owned[4];
    int assigned_events, bad;
};

static void on_rebalance(crawllog_consumer_t *c, int event,
                         const crawllog_topic_partition_t *parts, size_t count,
                         void *opaque)
{
    struct member *mb = opaque;
    if (c != mb->c) {
        mb->bad++;
    }
    if (event == CRAWLLOG_REBALANCE_ASSIGNED) {
        mb->assigned_events++;
    }
    for (size_t i = 0; i < count; i++) {
        if (strcmp(parts[i].topic, T) != 0 || parts[i].partition < 0 ||
            parts[i].partition >= 4) {
            mb->bad++;
            continue;
        }
        int *o = &mb->owned[parts[i].partition];
        if (event == CRAWLLOG_REBALANCE_ASSIGNED) {
            mb->bad += *o; /* assigned twice */
            *o = 1;
        } else {
            *o = 0;
        }
    }
}

static int owned(const struct member *mb)
{
    return mb->owned[0] + mb->owned[1] + mb->owned[2] + mb->owned[3];
}

static void member_start(struct member *mb, crawllog_t *log)
{
    memset(mb, 0, sizeof(*mb));
    /* The mock cluster rebalances after a LeaveGroup only when the
     * member's session times out: keep it short (no effect on files). */
    mb->c =
        ct_consumer(log, "group.id", "g", "session.timeout.ms", "6000", NULL);
    ct_cons_ok(mb->c,
               crawllog_consumer_set_rebalance_cb(mb->c, on_rebalance, mb));
    const char *topics[1] = {T};
    ct_cons_ok(mb->c, crawllog_consumer_subscribe(mb->c, topics, 1));
}

/* The callback's view must match crawllog_consumer_assignment(). */
static void check_assignment(struct member *mb)
{
    crawllog_topic_partition_t *list = NULL;
    size_t count = 0;
    ct_cons_ok(mb->c, crawllog_consumer_assignment(mb->c, &list, &count));
    assert_int_equal((int)count, owned(mb));
    for (size_t i = 0; i < count; i++) {
        assert_string_equal(list[i].topic, T);
        assert_true(mb->owned[list[i].partition]);
    }
    free(list);
}

#define JOBS "jobs"
#define DLT "jobs.dlt"

static void fill_jobs(crawllog_t *log, int n)
{
    ct_topic(log, JOBS, 2);
    crawllog_producer_t *p = ct_producer(log, "acks", "all", NULL);
    crawllog_header_t h = {"trace", 5, "abc", 3};
    for (int i = 0; i < n; i++) {
        char v[16];
        snprintf(v, sizeof(v), "job-%d", i);
        crawllog_record_t r = {"k", 1, v, strlen(v), 1000 + i, &h, 1};
        assert_crawllog_ok(crawllog_producer_send_record(p, JOBS, 1, &r, NULL));
    }
    assert_crawllog_ok(crawllog_producer_destroy(p));
}

/* The next message of c (the view, valid until the next poll). */
static const crawllog_msg_t *next_view(crawllog_consumer_t *c)
{
    const crawllog_msg_t *mv[1];
    size_t n = 0;
    int64_t deadline = cl_test_mono_ms() + CT_WAIT_MS;
    while (n == 0 && cl_test_mono_ms() < deadline) {
        ct_cons_ok(c, crawllog_consumer_poll(c, 100, mv, 1, &n));
    }
    if (n == 0) {
        CT_FAIL("no message in %d ms", CT_WAIT_MS);
    }
    return mv[0];
}

/* Dead letter number i of DLT partition 1 must be job-<job> with its
 * headers. */
static void check_dead_letter(crawllog_t *log, int64_t i, int job,
                              const char *reason, int attempts)
{
    crawllog_reader_t *rd = NULL;
    assert_crawllog_ok_log(log, crawllog_reader_new(&rd, log, DLT, 1));
    assert_crawllog_ok(crawllog_reader_seek(rd, i));
    const crawllog_msg_t *d = cl_test_next_msg(rd);
    char v[16];
    size_t len = 0;
    snprintf(v, sizeof(v), "job-%d", job);
    const void *p = crawllog_msg_key(d, &len);
    assert_int_equal(len, 1);
    assert_memory_equal(p, "k", 1);
    p = crawllog_msg_value(d, &len);
    assert_int_equal(len, strlen(v));
    assert_memory_equal(p, v, len);
    ct_expect_header_str(d, "trace", "abc"); /* original header kept */
    ct_expect_header_str(d, "kafka_dlt-original-topic", JOBS);
    ct_expect_header_int(d, "kafka_dlt-original-partition", 4, 1);
    ct_expect_header_int(d, "kafka_dlt-original-offset", 8, job);
    ct_expect_header_int(d, "kafka_dlt-original-timestamp", 8, 1000 + job);
    ct_expect_header_str(d, "kafka_dlt-original-consumer-group", "g");
    ct_expect_header_str(d, "kafka_dlt-exception-message", reason);
    ct_expect_header_int(d, "crawllog_dlt-attempts", 4, attempts);
    crawllog_reader_destroy(rd);
}

struct proc {
    int calls, fail_first;
};

static int proc_fn(const crawllog_msg_t *msg, void *opaque, char *reason,
                   size_t reason_size)
{
    struct proc *p = opaque;
    (void)msg;
    p->calls++;
    if (p->fail_first < 0 || p->calls <= p->fail_first) {
        snprintf(reason, reason_size, "attempt %d failed", p->calls);
        return 1;
    }
    return 0;
}

static void txn_ok(crawllog_producer_t *p, int rc, const char *what)
{
    if (rc != 0) {
        CT_FAIL("%s: %s: %s", what, crawllog_err_name(rc),
                crawllog_producer_errmsg(p));
    }
}

/* Values seen by a consumer of T/0 with isolation level iso, until the
 * value "c2" (the last committed one) arrived, joined with ",". */
static void txn_values(crawllog_t *log, const char *iso, char *out, size_t size)
{
    crawllog_consumer_t *c = ct_consumer(log, "isolation.level", iso, NULL);
    ct_assign1(c, T, 0, CRAWLLOG_OFFSET_BEGINNING);
    out[0] = '\0';
    int done = 0;
    int64_t deadline = cl_test_mono_ms() + CT_WAIT_MS;
    while (!done && cl_test_mono_ms() < deadline) {
        struct ct_msg m[16];
        size_t n = ct_poll(c, 100, m, 16);
        for (size_t i = 0; i < n; i++) {
            size_t l = strlen(out);
            snprintf(out + l, size - l, "%s%s", l ? "," : "", m[i].value);
            done |= strcmp(m[i].value, "c2") == 0;
        }
    }
    ct_expect_nothing(c);
    crawllog_consumer_destroy(c);
}

#ifdef CL_TEST_KAFKA
#define BACKEND_RC(expr, file_rc) assert_crawllog_rc(expr, CRAWLLOG_ENOTSUP)
#else
#define BACKEND_RC(expr, file_rc) assert_crawllog_rc(expr, file_rc)
#endif

static int count_batch(void *opaque, const crawllog_batch_info_t *b)
{
    (void)b;
    (*(int *)opaque)++;
    return 0;
}

#endif /* CL_TEST_CONFORMANCE_UTIL_H */
