/*
 * test_kafka_consumer.c - the Kafka backend's consumer, dead letters and
 * reader (libcrawllog/kafka_consumer.c, kafka_offsets.c, kafka_dlq.c,
 * kafka_reader.c, kafka_msg.c) against librdkafka's in-process mock
 * cluster ("kafka://mock", a new cluster per crawllog_open).
 *
 * Data is produced with crawllog producers (acks=all) and read back
 * through the public API only.  A group join on the mock takes ~3 s, so
 * polls loop with deadlines (up to 30 s) and only two tests join a group.
 * test_refused_commit_redelivers runs a mock cluster of its own
 * (rd_kafka_mock_cluster_new) to inject the coordinator's refusal.
 *
 * What the mock cannot do: offsets_for_times answers "no such message"
 * (-1) whatever the timestamp, so seek_to_time lands at the log end (the
 * test asserts exactly that, which a real broker would not give for an
 * old timestamp).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "helpers.h"

#define OKC(cons, call)                                                        \
    do {                                                                       \
        int rc_ = (call);                                                      \
        if (rc_ != 0) {                                                        \
            fail_msg("%s = %s: %s", #call, crawllog_err_name(rc_),             \
                     crawllog_consumer_errmsg(cons));                          \
        }                                                                      \
    } while (0)

#define EXPECTC(cons, want, call)                                              \
    do {                                                                       \
        int rc_ = (call);                                                      \
        if (rc_ != (want)) {                                                   \
            fail_msg("%s = %s, want %s: %s", #call, crawllog_err_name(rc_),    \
                     crawllog_err_name(want), crawllog_consumer_errmsg(cons)); \
        }                                                                      \
    } while (0)

#define OKR(rd, call)                                                          \
    do {                                                                       \
        int rc_ = (call);                                                      \
        if (rc_ != 0) {                                                        \
            fail_msg("%s = %s: %s", #call, crawllog_err_name(rc_),             \
                     crawllog_reader_errmsg(rd));                              \
        }                                                                      \
    } while (0)

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static crawllog_t *open_mock(void)
{
    char es[CRAWLLOG_ERRSTR_SIZE];
    crawllog_t *log = NULL;
    int rc = crawllog_open(&log, "kafka://mock", NULL, es, sizeof(es));
    if (rc != 0) {
        fail_msg("crawllog_open(kafka://mock) = %s: %s", crawllog_err_name(rc),
                 es);
    }
    return log;
}

static void topic(crawllog_t *log, const char *name, int32_t partitions)
{
    int rc = crawllog_topic_create(log, name, partitions, NULL);
    if (rc != 0) {
        fail_msg("topic_create %s = %s: %s", name, crawllog_err_name(rc),
                 crawllog_errmsg(log));
    }
}

/* A conf from "name", "value", ... NULL. */
static crawllog_conf_t *conf_of(const char *const *props)
{
    crawllog_conf_t *conf = NULL;
    char es[CRAWLLOG_ERRSTR_SIZE];
    assert_int_equal(crawllog_conf_new(&conf), 0);
    for (size_t i = 0; props != NULL && props[i] != NULL; i += 2) {
        if (crawllog_conf_set(conf, props[i], props[i + 1], es, sizeof(es))) {
            fail_msg("conf %s=%s: %s", props[i], props[i + 1], es);
        }
    }
    return conf;
}

static crawllog_consumer_t *consumer(crawllog_t *log, const char *const *props)
{
    char es[CRAWLLOG_ERRSTR_SIZE];
    crawllog_conf_t *conf = conf_of(props);
    crawllog_consumer_t *c = NULL;
    int rc = crawllog_consumer_new(log, conf, &c, es, sizeof(es));
    crawllog_conf_destroy(conf);
    if (rc != 0) {
        fail_msg("crawllog_consumer_new = %s: %s", crawllog_err_name(rc), es);
    }
    return c;
}

/* Send one record (acks=all); returns its offset. */
static int64_t send_rec(crawllog_producer_t *p, const char *t, int32_t part,
                    const char *key, const char *value,
                    const crawllog_header_t *h, size_t nh, int64_t ts)
{
    crawllog_record_t r;
    int64_t off = -1;
    memset(&r, 0, sizeof(r));
    r.key = key;
    r.key_len = key ? strlen(key) : 0;
    r.value = value;
    r.value_len = value ? strlen(value) : 0;
    r.timestamp = ts;
    r.headers = h;
    r.header_count = nh;
    int rc = crawllog_producer_send_record(p, t, part, &r, &off);
    if (rc != 0) {
        fail_msg("send %s/%d = %s: %s", t, (int)part, crawllog_err_name(rc),
                 crawllog_producer_errmsg(p));
    }
    return off;
}

static crawllog_producer_t *producer(crawllog_t *log)
{
    static const char *const props[] = {"acks", "all", NULL};
    char es[CRAWLLOG_ERRSTR_SIZE];
    crawllog_conf_t *conf = conf_of(props);
    crawllog_producer_t *p = NULL;
    int rc = crawllog_producer_new(log, conf, &p, es, sizeof(es));
    crawllog_conf_destroy(conf);
    if (rc != 0) {
        fail_msg("crawllog_producer_new = %s: %s", crawllog_err_name(rc), es);
    }
    return p;
}

/* Poll until want messages (copied as "p:offset:value" lines into out) or
 * timeout_ms.  Returns how many. */
static size_t poll_n(crawllog_consumer_t *c, size_t want, int timeout_ms,
                     char out[][64])
{
    size_t got = 0;
    int64_t end = now_ms() + timeout_ms;
    while (got < want && now_ms() < end) {
        const crawllog_msg_t *m[16];
        size_t n = 0;
        size_t max = want - got < 16 ? want - got : 16;
        OKC(c, crawllog_consumer_poll(c, 200, m, max, &n));
        assert_true(n <= max);
        for (size_t i = 0; i < n; i++) {
            size_t vl = 0;
            const char *v = crawllog_msg_value(m[i], &vl);
            if (out != NULL) {
                snprintf(out[got], 64, "%d:%" PRId64 ":%.*s",
                         (int)crawllog_msg_partition(m[i]),
                         crawllog_msg_offset(m[i]), (int)vl, v ? v : "");
            }
            got++;
        }
    }
    return got;
}

static int header_eq(const crawllog_msg_t *m, size_t i, const char *name,
                     const void *val, size_t len)
{
    crawllog_header_t h;
    if (crawllog_msg_header(m, i, &h) != 0) {
        return 0;
    }
    if (h.name_len != strlen(name) || memcmp(h.name, name, h.name_len) != 0) {
        return 0;
    }
    if (val == NULL) {
        return h.value == NULL;
    }
    return h.value != NULL && h.value_len == len &&
           memcmp(h.value, val, len) == 0;
}

/* ---- assign + poll: every field as produced ------------------------------ */

static void test_assign_poll_fields(void **state)
{
    (void)state;
    crawllog_t *log = open_mock();
    topic(log, "f", 2);
    crawllog_producer_t *p = producer(log);
    crawllog_header_t h[3] = {
        {"a", 1, "x", 1}, {"nullval", 7, NULL, 0}, {"empty", 5, "", 0}};
    assert_int_equal(send_rec(p, "f", 0, "k0", "v0", h, 3, 1111), 0);
    assert_int_equal(send_rec(p, "f", 0, NULL, NULL, NULL, 0, 2222), 1);
    assert_int_equal(send_rec(p, "f", 0, "", "", NULL, 0, 3333), 2);

    crawllog_consumer_t *c = consumer(log, NULL);
    crawllog_topic_partition_t bad = {"f", 7, CRAWLLOG_OFFSET_BEGINNING, NULL};
    EXPECTC(c, CRAWLLOG_ENOTOPIC, crawllog_consumer_assign(c, &bad, 1));
    assert_non_null(strstr(crawllog_consumer_errmsg(c), "f/7"));
    crawllog_topic_partition_t tp = {"f", 0, CRAWLLOG_OFFSET_BEGINNING, NULL};
    OKC(c, crawllog_consumer_assign(c, &tp, 1));
    const crawllog_msg_t *m[8];
    size_t n = 0, got = 0;
    EXPECTC(c, CRAWLLOG_EINVAL, crawllog_consumer_poll(c, 0, m, 0, &n));
    int64_t end = now_ms() + 15000;
    while (got < 3 && now_ms() < end) {
        OKC(c, crawllog_consumer_poll(c, 500, m + got, 8 - got, &n));
        got += n;
        if (got > 0 && got < 3) {
            /* messages of an earlier poll are invalid now: start again */
            assert_true(got <= 3);
            OKC(c, crawllog_consumer_seek(c, "f", 0, 0));
            got = 0;
        }
    }
    assert_int_equal(got, 3);
    size_t len = 99;
    assert_string_equal(crawllog_msg_topic(m[0]), "f");
    assert_int_equal(crawllog_msg_partition(m[0]), 0);
    assert_int_equal(crawllog_msg_offset(m[0]), 0);
    assert_int_equal(crawllog_msg_timestamp(m[0]), 1111);
    assert_memory_equal(crawllog_msg_key(m[0], &len), "k0", 2);
    assert_int_equal(len, 2);
    assert_memory_equal(crawllog_msg_value(m[0], &len), "v0", 2);
    assert_int_equal(crawllog_msg_header_count(m[0]), 3);
    assert_true(header_eq(m[0], 0, "a", "x", 1));
    assert_true(header_eq(m[0], 1, "nullval", NULL, 0));
    assert_true(header_eq(m[0], 2, "empty", "", 0));
    crawllog_header_t hh;
    assert_int_equal(crawllog_msg_header(m[0], 3, &hh), CRAWLLOG_EINVAL);
    /* null key and value */
    assert_null(crawllog_msg_key(m[1], &len));
    assert_int_equal(len, 0);
    assert_null(crawllog_msg_value(m[1], &len));
    assert_int_equal(crawllog_msg_header_count(m[1]), 0);
    assert_int_equal(crawllog_msg_timestamp(m[1]), 2222);
    /* empty (not null) key and value */
    assert_non_null(crawllog_msg_key(m[2], &len));
    assert_int_equal(len, 0);
    assert_non_null(crawllog_msg_value(m[2], &len));
    assert_int_equal(len, 0);
    int64_t pos = -1;
    OKC(c, crawllog_consumer_position(c, "f", 0, &pos));
    assert_int_equal(pos, 3);
    EXPECTC(c, CRAWLLOG_ENOTOPIC, crawllog_consumer_position(c, "f", 1, &pos));
    /* no group.id: commits and committed refused */
    EXPECTC(c, CRAWLLOG_EINVAL, crawllog_consumer_commit(c, NULL, 1));
    EXPECTC(c, CRAWLLOG_EINVAL, crawllog_consumer_committed(c, "f", 0, &pos));
    crawllog_topic_partition_t *list = NULL;
    OKC(c, crawllog_consumer_assignment(c, &list, &n));
    assert_int_equal(n, 1);
    assert_string_equal(list[0].topic, "f");
    assert_int_equal(list[0].offset, 3);
    free(list);
    OKC(c, crawllog_consumer_close(c));
    EXPECTC(c, CRAWLLOG_ECLOSED, crawllog_consumer_poll(c, 0, m, 1, &n));
    crawllog_consumer_destroy(c);
    crawllog_producer_destroy(p);
    assert_int_equal(crawllog_close(log), 0);
}

/* ---- commits, committed, seek, pause -------------------------------------- */

static void test_commit_seek_pause(void **state)
{
    (void)state;
    static const char *const props[] = {"group.id", "g1", "auto.offset.reset",
                                        "earliest", NULL};
    crawllog_t *log = open_mock();
    topic(log, "c", 2);
    crawllog_producer_t *p = producer(log);
    for (int i = 0; i < 5; i++) {
        char v[16];
        snprintf(v, sizeof(v), "a%d", i);
        send_rec(p, "c", 0, NULL, v, NULL, 0, -1);
    }
    crawllog_consumer_t *c = consumer(log, props);
    crawllog_consumer_t *c2 = consumer(log, props);
    crawllog_topic_partition_t tp[2] = {
        {"c", 0, CRAWLLOG_OFFSET_COMMITTED, NULL},
        {"c", 1, CRAWLLOG_OFFSET_COMMITTED, NULL}};
    OKC(c, crawllog_consumer_assign(c, tp, 2));
    const crawllog_msg_t *m[8], *one = NULL;
    size_t n = 0;
    int64_t end = now_ms() + 15000, off = -1;
    while (one == NULL && now_ms() < end) {
        OKC(c, crawllog_consumer_poll(c, 500, m, 2, &n));
        assert_true(n <= 2); /* max respected */
        for (size_t i = 0; i < n; i++) {
            if (crawllog_msg_offset(m[i]) == 1) {
                one = m[i];
            }
        }
    }
    assert_non_null(one);
    OKC(c, crawllog_consumer_commit(c, one, CRAWLLOG_SYNC_DURABLE));
    OKC(c, crawllog_consumer_committed(c, "c", 0, &off));
    assert_int_equal(off, 2);
    /* another consumer of the group sees it */
    OKC(c2, crawllog_consumer_committed(c2, "c", 0, &off));
    assert_int_equal(off, 2);
    OKC(c2, crawllog_consumer_committed(c2, "c", 1, &off));
    assert_int_equal(off, -1);
    OKC(c2, crawllog_consumer_committed(c2, "nosuchtopic", 0, &off));
    assert_int_equal(off, -1);
    /* commit(NULL): positions (the poll above may have handed out 2) */
    char got[8][64];
    OKC(c, crawllog_consumer_seek(c, "c", 0, 2));
    assert_int_equal(poll_n(c, 3, 15000, got), 3);
    assert_string_equal(got[2], "0:4:a4");
    OKC(c, crawllog_consumer_commit(c, NULL, CRAWLLOG_SYNC_DURABLE));
    OKC(c2, crawllog_consumer_committed(c2, "c", 0, &off));
    assert_int_equal(off, 5);
    /* commit_offsets: both partitions in one request, with metadata */
    crawllog_topic_partition_t co[2] = {{"c", 0, 3, "meta"}, {"c", 1, 0, NULL}};
    OKC(c, crawllog_consumer_commit_offsets(c, co, 2, CRAWLLOG_SYNC_DURABLE));
    OKC(c2, crawllog_consumer_committed(c2, "c", 0, &off));
    assert_int_equal(off, 3);
    OKC(c2, crawllog_consumer_committed(c2, "c", 1, &off));
    assert_int_equal(off, 0);
    /* seek */
    OKC(c, crawllog_consumer_seek(c, "c", 0, 1));
    OKC(c, crawllog_consumer_position(c, "c", 0, &off));
    assert_int_equal(off, 1);
    assert_int_equal(poll_n(c, 1, 15000, got), 1);
    assert_string_equal(got[0], "0:1:a1");
    EXPECTC(c, CRAWLLOG_EOFFSET, crawllog_consumer_seek(c, "c", 0, 99));
    EXPECTC(c, CRAWLLOG_ENOTOPIC, crawllog_consumer_seek(c, "c", 5, 0));
    EXPECTC(c, CRAWLLOG_ENOTOPIC, crawllog_consumer_seek(c2, "c", 0, 0));
    OKC(c, crawllog_consumer_seek(c, "c", 0, CRAWLLOG_OFFSET_BEGINNING));
    OKC(c, crawllog_consumer_position(c, "c", 0, &off));
    assert_int_equal(off, 0);
    /* the mock's ListOffsets ignores timestamps: -1, i.e. the log end */
    OKC(c, crawllog_consumer_seek_to_time(c, "c", 0, 0));
    OKC(c, crawllog_consumer_position(c, "c", 0, &off));
    assert_int_equal(off, 5);

    /* pause p0: nothing from it until resume */
    crawllog_topic_partition_t p0 = {"c", 0, -1, NULL};
    crawllog_topic_partition_t p9 = {"c", 9, -1, NULL};
    OKC(c, crawllog_consumer_seek(c, "c", 0, 3));
    OKC(c, crawllog_consumer_pause(c, &p0, 1));
    EXPECTC(c, CRAWLLOG_ENOTOPIC, crawllog_consumer_pause(c, &p9, 1));
    send_rec(p, "c", 1, NULL, "b0", NULL, 0, -1);
    send_rec(p, "c", 0, NULL, "a5", NULL, 0, -1);
    size_t k = poll_n(c, 8, 2000, got);
    assert_int_equal(k, 1);
    assert_string_equal(got[0], "1:0:b0");
    OKC(c, crawllog_consumer_resume(c, &p0, 1));
    assert_int_equal(poll_n(c, 3, 15000, got), 3);
    assert_string_equal(got[0], "0:3:a3");
    assert_string_equal(got[2], "0:5:a5");

    crawllog_group_metadata_t *md = NULL;
    OKC(c, crawllog_consumer_group_metadata(c, &md));
    assert_non_null(md);
    crawllog_group_metadata_destroy(md);
    assert_int_equal(crawllog_consumer_generation(c), -1);
    crawllog_consumer_destroy(c);
    crawllog_consumer_destroy(c2);
    crawllog_producer_destroy(p);
    assert_int_equal(crawllog_close(log), 0);
}

/* ---- dead letters and process() ---------------------------------------- */

static int calls;

static int fail_fn(const crawllog_msg_t *msg, void *opaque, char *reason,
                   size_t size)
{
    (void)msg;
    calls++;
    snprintf(reason, size, "attempt %d failed", calls);
    return *(int *)opaque > 0 && calls >= *(int *)opaque ? 0 : -1;
}

/* The dead letter at off of dlt/part, checked against the source. */
static void check_dlt(crawllog_t *log, const char *dlt, int32_t part,
                      int64_t off, int64_t src_off, const char *value,
                      const char *reason, int32_t attempts)
{
    crawllog_reader_t *rd = NULL;
    const crawllog_msg_t *m = NULL;
    assert_int_equal(crawllog_reader_new(&rd, log, dlt, part), 0);
    OKR(rd, crawllog_reader_seek(rd, off));
    OKR(rd, crawllog_reader_next(rd, &m));
    assert_non_null(m);
    size_t len = 0;
    const char *v = crawllog_msg_value(m, &len);
    assert_int_equal(len, strlen(value));
    assert_memory_equal(v, value, len);
    assert_memory_equal(crawllog_msg_key(m, &len), "key", 3);
    uint8_t pb[4] = {0, 0, 0, (uint8_t)1}, ob[8] = {0}, ab[4] = {0};
    ob[7] = (uint8_t)src_off;
    ab[3] = (uint8_t)attempts;
    assert_int_equal(crawllog_msg_header_count(m), 8);
    assert_true(header_eq(m, 0, "orig", "h", 1));
    assert_true(header_eq(m, 1, "kafka_dlt-original-topic", "d", 1));
    assert_true(header_eq(m, 2, "kafka_dlt-original-partition", pb, 4));
    assert_true(header_eq(m, 3, "kafka_dlt-original-offset", ob, 8));
    crawllog_header_t h;
    assert_int_equal(crawllog_msg_header(m, 4, &h), 0);
    assert_int_equal(h.value_len, 8); /* original timestamp */
    assert_true(header_eq(m, 5, "kafka_dlt-original-consumer-group", "gd", 2));
    assert_true(
        header_eq(m, 6, "kafka_dlt-exception-message", reason, strlen(reason)));
    assert_true(header_eq(m, 7, "crawllog_dlt-attempts", ab, 4));
    crawllog_reader_destroy(rd);
}

static void test_dead_letter_process(void **state)
{
    (void)state;
    static const char *const props[] = {"group.id",
                                        "gd",
                                        "max.attempts",
                                        "3",
                                        "retry.backoff.ms",
                                        "10",
                                        "retry.backoff.max.ms",
                                        "15",
                                        NULL};
    crawllog_t *log = open_mock();
    topic(log, "d", 2);
    crawllog_producer_t *p = producer(log);
    crawllog_header_t h = {"orig", 4, "h", 1};
    for (int i = 0; i < 3; i++) {
        char v[16];
        snprintf(v, sizeof(v), "v%d", i);
        send_rec(p, "d", 1, "key", v, &h, 1, -1);
    }
    crawllog_consumer_t *c = consumer(log, props);
    crawllog_topic_partition_t tp = {"d", 1, CRAWLLOG_OFFSET_BEGINNING, NULL};
    OKC(c, crawllog_consumer_assign(c, &tp, 1));
    const crawllog_msg_t *m[4];
    size_t n = 0;
    int64_t end = now_ms() + 15000, off = -1;
    do {
        OKC(c, crawllog_consumer_poll(c, 500, m, 4, &n));
        if (n > 0 && n < 3) {
            OKC(c, crawllog_consumer_seek(c, "d", 1, 0));
            n = 0;
        }
    } while (n < 3 && now_ms() < end);
    assert_int_equal(n, 3);
    OKC(c, crawllog_consumer_dead_letter(c, m[0], "bad record"));
    OKC(c, crawllog_consumer_committed(c, "d", 1, &off));
    assert_int_equal(off, 1);
    check_dlt(log, "d.dlt", 1, 0, 0, "v0", "bad record", 1);
    int32_t np = 0;
    assert_int_equal(crawllog_topic_describe(log, "d.dlt", &np, NULL), 0);
    assert_int_equal(np, 2); /* the source's partition count */

    int succeed_at = 2, outcome = 0;
    calls = 0;
    OKC(c, crawllog_consumer_process(c, m[1], fail_fn, &succeed_at, &outcome));
    assert_int_equal(outcome, CRAWLLOG_PROCESSED);
    assert_int_equal(calls, 2);
    OKC(c, crawllog_consumer_committed(c, "d", 1, &off));
    assert_int_equal(off, 1); /* success commits nothing */

    int never = 0;
    calls = 0;
    int64_t t0 = now_ms();
    OKC(c, crawllog_consumer_process(c, m[2], fail_fn, &never, &outcome));
    assert_int_equal(outcome, CRAWLLOG_DEAD_LETTERED);
    assert_int_equal(calls, 3);
    assert_true(now_ms() - t0 >= 25); /* 10 + 15 ms of backoff */
    OKC(c, crawllog_consumer_committed(c, "d", 1, &off));
    assert_int_equal(off, 3);
    check_dlt(log, "d.dlt", 1, 1, 2, "v2", "attempt 3 failed", 3);
    /* never backwards: dead-lettering the earlier message keeps 3 */
    OKC(c, crawllog_consumer_dead_letter(c, m[0], "again"));
    OKC(c, crawllog_consumer_committed(c, "d", 1, &off));
    assert_int_equal(off, 3);
    crawllog_consumer_destroy(c);
    crawllog_producer_destroy(p);
    assert_int_equal(crawllog_close(log), 0);
}

/* ---- subscribe: two members split 4 partitions ----------------------------- */

struct member {
    crawllog_consumer_t *c;
    int owned[4];
    int assigned_events, revoked_events;
};

static void rebalance(crawllog_consumer_t *cons, int event,
                      const crawllog_topic_partition_t *parts, size_t count,
                      void *opaque)
{
    struct member *mb = opaque;
    assert_ptr_equal(cons, mb->c);
    for (size_t i = 0; i < count; i++) {
        assert_string_equal(parts[i].topic, "s");
        assert_in_range(parts[i].partition, 0, 3);
        mb->owned[parts[i].partition] = event == CRAWLLOG_REBALANCE_ASSIGNED;
    }
    if (event == CRAWLLOG_REBALANCE_ASSIGNED) {
        mb->assigned_events++;
    } else {
        mb->revoked_events++;
    }
}

static int owned_count(const struct member *mb)
{
    return mb->owned[0] + mb->owned[1] + mb->owned[2] + mb->owned[3];
}

static void test_group_split(void **state)
{
    (void)state;
    /* The mock completes the rebalance after a member left only once the
     * others' session.timeout.ms passed (measured: ~45 s with librdkafka's
     * default, ~5 s with 6000): keep it short here. */
    static const char *const props[] = {
        "group.id", "gs", "session.timeout.ms", "6000", "max.poll.interval.ms",
        "7000",     NULL};
    static const char *const topics[] = {"s"};
    crawllog_t *log = open_mock();
    topic(log, "s", 4);
    struct member a = {0}, b = {0};
    a.c = consumer(log, props);
    b.c = consumer(log, props);
    OKC(a.c, crawllog_consumer_set_rebalance_cb(a.c, rebalance, &a));
    OKC(b.c, crawllog_consumer_set_rebalance_cb(b.c, rebalance, &b));
    OKC(a.c, crawllog_consumer_subscribe(a.c, topics, 1));
    OKC(b.c, crawllog_consumer_subscribe(b.c, topics, 1));
    crawllog_topic_partition_t tp = {"s", 0, 0, NULL};
    EXPECTC(a.c, CRAWLLOG_EMISUSE, crawllog_consumer_assign(a.c, &tp, 1));
    int64_t end = now_ms() + 30000;
    while (now_ms() < end && (owned_count(&a) + owned_count(&b) != 4 ||
                              owned_count(&a) == 0 || owned_count(&b) == 0)) {
        poll_n(a.c, 1, 100, NULL);
        poll_n(b.c, 1, 100, NULL);
    }
    assert_int_equal(owned_count(&a) + owned_count(&b), 4);
    assert_true(owned_count(&a) > 0 && owned_count(&b) > 0);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(a.owned[i] + b.owned[i], 1); /* disjoint, all */
    }
    assert_true(a.assigned_events > 0 && b.assigned_events > 0);
    assert_true(crawllog_consumer_generation(a.c) >= 1);
    assert_true(strlen(crawllog_consumer_member_id(a.c)) > 0);
    crawllog_group_metadata_t *md = NULL;
    OKC(a.c, crawllog_consumer_group_metadata(a.c, &md));
    assert_non_null(md);
    crawllog_group_metadata_destroy(md);

    /* a commits one of its partitions; b sees it; a committing b's fails */
    int pa = a.owned[0] ? 0 : a.owned[1] ? 1 : a.owned[2] ? 2 : 3;
    int pb = b.owned[0] ? 0 : b.owned[1] ? 1 : b.owned[2] ? 2 : 3;
    crawllog_topic_partition_t ca = {"s", pa, 0, NULL};
    crawllog_topic_partition_t cb = {"s", pb, 0, NULL};
    OKC(a.c, crawllog_consumer_commit_offsets(a.c, &ca, 1, 1));
    int64_t off = -1;
    OKC(b.c, crawllog_consumer_committed(b.c, "s", pa, &off));
    assert_int_equal(off, 0);
    EXPECTC(a.c, CRAWLLOG_EGENERATION,
            crawllog_consumer_commit_offsets(a.c, &cb, 1, 1));
    assert_non_null(strstr(crawllog_consumer_errmsg(a.c), "s/"));
    OKC(b.c, crawllog_consumer_committed(b.c, "s", pb, &off));
    assert_int_equal(off, -1); /* nothing of the refused call */

    /* b leaves: REVOKED from close, then a gets all four */
    OKC(b.c, crawllog_consumer_close(b.c));
    assert_true(b.revoked_events > 0);
    assert_int_equal(owned_count(&b), 0);
    end = now_ms() + 30000;
    while (now_ms() < end && owned_count(&a) != 4) {
        poll_n(a.c, 1, 200, NULL);
    }
    if (owned_count(&a) != 4) {
        fail_msg("a owns %d of 4 after b left (events a: %d assigned, %d "
                 "revoked); a: %s",
                 owned_count(&a), a.assigned_events, a.revoked_events,
                 crawllog_consumer_errmsg(a.c));
    }
    crawllog_consumer_destroy(b.c);
    crawllog_consumer_destroy(a.c);
    assert_int_equal(crawllog_close(log), 0);
}

/* ---- a commit the coordinator refuses is delivered again ----------------- */

/* The crawl demo on Kafka: a member's commit of the last message of a
 * partition came back REBALANCE_IN_PROGRESS (CRAWLLOG_EGENERATION), the
 * application left the message to "the new owner", but the cooperative
 * rebalance kept the partition with the member, past the message: it was
 * never delivered again and the group lag stayed at 1.  Now the refused
 * partition is rewound to the committed offset.  The refusal is injected
 * (OffsetCommit = ApiKey 8) on a mock cluster of the test's own. */
static void test_refused_commit_redelivers(void **state)
{
    (void)state;
    static const char *const props[] = {
        "group.id", "gr", "auto.offset.reset", "earliest",
        "session.timeout.ms", "6000", NULL};
    static const char *const topics[] = {"rc"};
    char es[512], loc[600];
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    assert_int_equal(rd_kafka_conf_set(kc, "log_level", "3", es, sizeof(es)),
                     RD_KAFKA_CONF_OK);
    rd_kafka_t *mrk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, es, sizeof(es));
    assert_non_null(mrk);
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(mrk, 1);
    assert_non_null(mc);
    assert_int_equal(rd_kafka_mock_topic_create(mc, "rc", 1, 1), 0);
    snprintf(loc, sizeof(loc), "kafka://%s",
             rd_kafka_mock_cluster_bootstraps(mc));
    crawllog_t *log = NULL;
    if (crawllog_open(&log, loc, NULL, es, sizeof(es)) != 0) {
        fail_msg("crawllog_open(%s): %s", loc, es);
    }
    crawllog_producer_t *p = producer(log);
    send_rec(p, "rc", 0, NULL, "a0", NULL, 0, -1);
    send_rec(p, "rc", 0, NULL, "a1", NULL, 0, -1);
    send_rec(p, "rc", 0, NULL, "a2", NULL, 0, -1);
    crawllog_consumer_t *c = consumer(log, props);
    OKC(c, crawllog_consumer_subscribe(c, topics, 1));
    const crawllog_msg_t *m[1];
    size_t n = 0;
    int64_t next = 0, off = -1, end = now_ms() + 30000;
    while (next < 3 && now_ms() < end) {
        OKC(c, crawllog_consumer_poll(c, 200, m, 1, &n));
        if (n == 0) {
            continue;
        }
        assert_int_equal(crawllog_msg_offset(m[0]), next);
        if (next < 2) {
            OKC(c, crawllog_consumer_commit(c, m[0], CRAWLLOG_SYNC_DURABLE));
        } else { /* the last one: the coordinator is rebalancing */
            rd_kafka_mock_push_request_errors(
                mc, 8, 1, RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS);
            EXPECTC(c, CRAWLLOG_EGENERATION,
                    crawllog_consumer_commit(c, m[0], CRAWLLOG_SYNC_DURABLE));
        }
        next++;
    }
    assert_int_equal(next, 3);
    OKC(c, crawllog_consumer_committed(c, "rc", 0, &off));
    assert_int_equal(off, 2); /* nothing of the refused commit */
    /* Still the owner: the refused message comes again, from here. */
    OKC(c, crawllog_consumer_position(c, "rc", 0, &off));
    assert_int_equal(off, 2);
    end = now_ms() + 5000;
    n = 0;
    while (n == 0 && now_ms() < end) {
        OKC(c, crawllog_consumer_poll(c, 200, m, 1, &n));
    }
    if (n != 1) {
        fail_msg("the message whose commit was refused never came again");
    }
    assert_int_equal(crawllog_msg_offset(m[0]), 2);
    OKC(c, crawllog_consumer_commit(c, m[0], CRAWLLOG_SYNC_DURABLE));
    OKC(c, crawllog_consumer_committed(c, "rc", 0, &off));
    assert_int_equal(off, 3);
    crawllog_consumer_destroy(c);
    crawllog_producer_destroy(p);
    assert_int_equal(crawllog_close(log), 0);
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(mrk);
}

/* ---- reader: to the end, then new data ----------------------------------- */

static void test_reader_end(void **state)
{
    (void)state;
    crawllog_t *log = open_mock();
    topic(log, "r", 1);
    crawllog_producer_t *p = producer(log);
    crawllog_reader_t *rd = NULL;
    const crawllog_msg_t *m = NULL;
    assert_int_equal(crawllog_reader_new(&rd, log, "nosuch", 0),
                     CRAWLLOG_ENOTOPIC);
    assert_int_equal(crawllog_reader_new(&rd, log, "r", 3), CRAWLLOG_ENOTOPIC);
    assert_int_equal(crawllog_reader_new(&rd, log, "r", 0), 0);
    /* empty partition: the end at once */
    int64_t t0 = now_ms();
    OKR(rd, crawllog_reader_next(rd, &m));
    assert_null(m);
    for (int i = 0; i < 3; i++) {
        char v[16];
        snprintf(v, sizeof(v), "r%d", i);
        send_rec(p, "r", 0, NULL, v, NULL, 0, -1);
    }
    for (int i = 0; i < 3; i++) {
        OKR(rd, crawllog_reader_next(rd, &m));
        assert_non_null(m);
        assert_int_equal(crawllog_msg_offset(m), i);
        assert_int_equal(crawllog_reader_position(rd), i + 1);
    }
    t0 = now_ms();
    OKR(rd, crawllog_reader_next(rd, &m));
    assert_null(m);
    OKR(rd, crawllog_reader_next(rd, &m)); /* at the end again: still NULL */
    assert_null(m);
    int64_t took = now_ms() - t0;
    print_message("reader: two calls at the end took %" PRId64 " ms\n", took);
    assert_true(took < 2500);
    send_rec(p, "r", 0, NULL, "late", NULL, 0, -1);
    OKR(rd, crawllog_reader_next(rd, &m));
    assert_non_null(m);
    assert_int_equal(crawllog_msg_offset(m), 3);
    OKR(rd, crawllog_reader_next(rd, &m));
    assert_null(m);
    /* seek, isolation, fetch */
    OKR(rd, crawllog_reader_seek(rd, 1));
    assert_int_equal(crawllog_reader_position(rd), 1);
    OKR(rd, crawllog_reader_next(rd, &m));
    assert_non_null(m);
    assert_int_equal(crawllog_msg_offset(m), 1);
    assert_int_equal(crawllog_reader_seek(rd, 99), CRAWLLOG_EOFFSET);
    assert_non_null(strstr(crawllog_reader_errmsg(rd), "r/0"));
    OKR(rd, crawllog_reader_set_isolation(rd, CRAWLLOG_READ_UNCOMMITTED));
    OKR(rd, crawllog_reader_next(rd, &m));
    assert_non_null(m);
    assert_int_equal(crawllog_msg_offset(m), 2);
    assert_int_equal(crawllog_reader_set_isolation(rd, 7), CRAWLLOG_EINVAL);
    const void *buf = NULL;
    size_t len = 1;
    assert_int_equal(crawllog_reader_fetch(rd, 4096, &buf, &len),
                     CRAWLLOG_ENOTSUP);
    assert_null(buf);
    assert_int_equal(len, 0);
    assert_non_null(strstr(crawllog_reader_errmsg(rd), "not supported"));
    int64_t at = -1;
    OKR(rd, crawllog_reader_seek_time(rd, 0, &at));
    assert_int_equal(at, 4); /* the mock: the log end (see the top) */
    crawllog_reader_destroy(rd);
    crawllog_producer_destroy(p);
    assert_int_equal(crawllog_close(log), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_assign_poll_fields),
        cmocka_unit_test(test_commit_seek_pause),
        cmocka_unit_test(test_dead_letter_process),
        cmocka_unit_test(test_reader_end),
        cmocka_unit_test(test_group_split),
        cmocka_unit_test(test_refused_commit_redelivers),
    };
    if (getenv("TEST_FILTER") != NULL) {
        cmocka_set_test_filter(getenv("TEST_FILTER"));
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
