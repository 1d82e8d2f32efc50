/*
 * test_kafka_producer.c - the Kafka backend's producer, transactions and
 * crawllog_append (libcrawllog/kafka_producer.c, kafka_txn.c) against
 * librdkafka's in-process mock cluster.
 *
 * Each test owns a mock cluster (3 brokers) made on a raw rd_kafka_t, opens
 * the crawllog log on its bootstrap list ("kafka://host:port,...") and
 * creates topics with rd_kafka_mock_topic_create (the mock has no
 * CreateTopics), so that raw librdkafka producers and consumers can check
 * what crawllog wrote.  One test uses "kafka://mock" with
 * crawllog_topic_create, the way the conformance tests do.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "helpers.h"
#include "txn.h" /* struct crawllog_group_metadata_s (a Kafka md shell) */

/* ---- fixtures ------------------------------------------------------------ */

struct fx {
    rd_kafka_t *mrk; /* owns the mock cluster */
    rd_kafka_mock_cluster_t *mc;
    char boot[512];
    crawllog_t *log;
};

#define OK(prod, call)                                                       \
    do {                                                                     \
        int rc_ = (call);                                                    \
        if (rc_ != 0) {                                                      \
            fail_msg("%s = %s: %s", #call, crawllog_err_name(rc_),           \
                     crawllog_producer_errmsg(prod));                        \
        }                                                                    \
    } while (0)

#define EXPECT(prod, want, call)                                             \
    do {                                                                     \
        int rc_ = (call);                                                    \
        if (rc_ != (want)) {                                                 \
            fail_msg("%s = %s, want %s: %s", #call, crawllog_err_name(rc_),  \
                     crawllog_err_name(want),                                \
                     crawllog_producer_errmsg(prod));                        \
        }                                                                    \
    } while (0)

static void fx_open(struct fx *f)
{
    char es[512];
    memset(f, 0, sizeof(*f));
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    assert_int_equal(rd_kafka_conf_set(c, "log_level", "3", es, sizeof(es)),
                     RD_KAFKA_CONF_OK);
    f->mrk = rd_kafka_new(RD_KAFKA_PRODUCER, c, es, sizeof(es));
    assert_non_null(f->mrk);
    f->mc = rd_kafka_mock_cluster_new(f->mrk, 3);
    assert_non_null(f->mc);
    char loc[600];
    snprintf(f->boot, sizeof(f->boot), "%s",
             rd_kafka_mock_cluster_bootstraps(f->mc));
    snprintf(loc, sizeof(loc), "kafka://%s", f->boot);
    int rc = crawllog_open(&f->log, loc, NULL, es, sizeof(es));
    if (rc != 0) {
        fail_msg("crawllog_open(%s) = %s: %s", loc, crawllog_err_name(rc), es);
    }
}

static void fx_topic(struct fx *f, const char *topic, int partitions)
{
    assert_int_equal(rd_kafka_mock_topic_create(f->mc, topic, partitions, 1),
                     RD_KAFKA_RESP_ERR_NO_ERROR);
}

static void fx_close(struct fx *f)
{
    assert_int_equal(crawllog_close(f->log), 0);
    rd_kafka_mock_cluster_destroy(f->mc);
    rd_kafka_destroy(f->mrk);
}

/* A producer with "name=value" properties (NULL-terminated list). */
static crawllog_producer_t *fx_producer(struct fx *f, const char *const *props)
{
    crawllog_conf_t *conf = NULL;
    char es[CRAWLLOG_ERRSTR_SIZE];
    assert_int_equal(crawllog_conf_new(&conf), 0);
    for (size_t i = 0; props != NULL && props[i] != NULL; i += 2) {
        int rc = crawllog_conf_set(conf, props[i], props[i + 1], es,
                                   sizeof(es));
        if (rc != 0) {
            fail_msg("conf %s=%s: %s", props[i], props[i + 1], es);
        }
    }
    crawllog_producer_t *prod = NULL;
    int rc = crawllog_producer_new(f->log, conf, &prod, es, sizeof(es));
    crawllog_conf_destroy(conf);
    if (rc != 0) {
        fail_msg("crawllog_producer_new = %s: %s", crawllog_err_name(rc), es);
    }
    return prod;
}

/* Delivery reports, collected under a lock (any thread may call). */
#define DR_MAX 1024
struct dr {
    pthread_mutex_t mu;
    size_t n;
    int32_t part[DR_MAX];
    int64_t off[DR_MAX];
    int err[DR_MAX];
};

static void dr_cb(void *opaque, const char *topic, int32_t partition,
                  int64_t offset, int err)
{
    (void)topic;
    struct dr *d = opaque;
    pthread_mutex_lock(&d->mu);
    if (d->n < DR_MAX) {
        d->part[d->n] = partition;
        d->off[d->n] = offset;
        d->err[d->n] = err;
        d->n++;
    }
    pthread_mutex_unlock(&d->mu);
}

/* Messages read by a raw consumer; they hold a reference on it, so the
 * consumer is destroyed after them (raw_done). */
struct raw {
    rd_kafka_t *rk;
    size_t n;
    rd_kafka_message_t *m[256];
};

/* Read partition p of topic from the start with a raw consumer until the
 * partition's end (EOF event) or 15 s.  committed:
 * isolation.level=read_committed. */
static void raw_read(struct fx *f, const char *topic, int32_t p,
                     int committed, struct raw *r)
{
    char es[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    const char *kv[][2] = {
        {"bootstrap.servers", f->boot},
        {"group.id", "hB-raw-reader"},
        {"enable.auto.commit", "false"},
        {"enable.partition.eof", "true"},
        {"isolation.level", committed ? "read_committed" : "read_uncommitted"},
    };
    for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++) {
        assert_int_equal(rd_kafka_conf_set(c, kv[i][0], kv[i][1], es,
                                           sizeof(es)),
                         RD_KAFKA_CONF_OK);
    }
    r->n = 0;
    r->rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, es, sizeof(es));
    assert_non_null(r->rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, p)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
    assert_int_equal(rd_kafka_assign(r->rk, l), 0);
    rd_kafka_topic_partition_list_destroy(l);
    for (int i = 0; i < 150; i++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(r->rk, 100);
        if (m == NULL) {
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            rd_kafka_message_destroy(m);
            break;
        }
        if (m->err != 0) {
            fail_msg("raw consumer: %s", rd_kafka_message_errstr(m));
        }
        if (r->n < sizeof(r->m) / sizeof(r->m[0])) {
            r->m[r->n++] = m;
        } else {
            rd_kafka_message_destroy(m);
        }
    }
}

static void raw_done(struct raw *r)
{
    for (size_t i = 0; i < r->n; i++) {
        rd_kafka_message_destroy(r->m[i]);
    }
    rd_kafka_consumer_close(r->rk);
    rd_kafka_destroy(r->rk);
}

/* ---- acks levels, offsets, ordering ------------------------------------- */

static void test_kafka_acks_offsets(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f);
    fx_topic(&f, "t", 2);
    const char *a1[] = {"acks", "1", NULL};
    const char *aall[] = {"acks", "all", NULL};
    crawllog_producer_t *p1 = fx_producer(&f, a1);
    crawllog_producer_t *pall = fx_producer(&f, aall);
    int64_t off = -7;
    for (int i = 0; i < 3; i++) {
        OK(p1, crawllog_producer_send(p1, "t", 0, "k", 1, "v", 1, NULL, 0,
                                      &off));
        assert_int_equal(off, i);
    }
    OK(pall, crawllog_producer_send(pall, "t", 0, NULL, 0, "w", 1, NULL, 0,
                                    &off));
    assert_int_equal(off, 3);
    OK(pall, crawllog_producer_send(pall, "t", 1, NULL, 0, "w", 1, NULL, 0,
                                    &off));
    assert_int_equal(off, 0);

    /* acks=0: -1 at once, the reports come from poll/flush. */
    const char *a0[] = {"acks", "0", NULL};
    crawllog_producer_t *p0 = fx_producer(&f, a0);
    struct dr d = {.mu = PTHREAD_MUTEX_INITIALIZER};
    OK(p0, crawllog_producer_set_delivery_cb(p0, dr_cb, &d));
    for (int i = 0; i < 5; i++) {
        OK(p0, crawllog_producer_send(p0, "t", 1, NULL, 0, "z", 1, NULL, 0,
                                      &off));
        assert_int_equal(off, -1);
    }
    OK(p0, crawllog_producer_flush(p0, 10000));
    assert_int_equal(d.n, 5);
    for (size_t i = 0; i < d.n; i++) {
        assert_int_equal(d.err[i], 0);
        assert_int_equal(d.part[i], 1);
        assert_int_equal(d.off[i], -1); /* acks=0: the broker tells none */
    }
    assert_int_equal(crawllog_producer_destroy(p0), 0);
    /* They are there: the next acknowledged record comes after them. */
    OK(pall, crawllog_producer_send(pall, "t", 1, NULL, 0, "w", 1, NULL, 0,
                                    &off));
    assert_int_equal(off, 6);
    /* A delivery callback of an acks=all producer gets the offset. */
    struct dr d2 = {.mu = PTHREAD_MUTEX_INITIALIZER};
    OK(pall, crawllog_producer_set_delivery_cb(pall, dr_cb, &d2));
    OK(pall, crawllog_producer_send(pall, "t", 1, NULL, 0, "w", 1, NULL, 0,
                                    &off));
    assert_int_equal(d2.n, 1);
    assert_int_equal(d2.off[0], 7);
    assert_int_equal(crawllog_producer_destroy(p1), 0);
    assert_int_equal(crawllog_producer_destroy(pall), 0);
    fx_close(&f);
}

static void test_kafka_order_and_batch(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f);
    fx_topic(&f, "o", 1);
    crawllog_producer_t *p = fx_producer(&f, NULL);
    char v[32];
    int64_t off;
    for (int i = 0; i < 20; i++) {
        snprintf(v, sizeof(v), "m%02d", i);
        OK(p, crawllog_producer_send(p, "o", CRAWLLOG_PARTITION_ANY, NULL, 0,
                                     v, strlen(v), NULL, 0, &off));
        assert_int_equal(off, i);
    }
    crawllog_record_t recs[5];
    char bv[5][16];
    for (int i = 0; i < 5; i++) {
        snprintf(bv[i], sizeof(bv[i]), "b%d", i);
        recs[i] = (crawllog_record_t){NULL, 0, bv[i], strlen(bv[i]), -1,
                                      NULL, 0};
    }
    OK(p, crawllog_producer_send_batch(p, "o", 0, recs, 5, &off));
    assert_int_equal(off, 20);
    struct raw rr;
    raw_read(&f, "o", 0, 0, &rr);
    rd_kafka_message_t **m = rr.m;
    size_t n = rr.n;
    assert_int_equal(n, 25);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(m[i]->offset, (int64_t)i);
        if (i < 20) {
            snprintf(v, sizeof(v), "m%02zu", i);
        } else {
            snprintf(v, sizeof(v), "b%zu", i - 20);
        }
        assert_int_equal(m[i]->len, strlen(v));
        assert_memory_equal(m[i]->payload, v, strlen(v));
    }
    raw_done(&rr);
    assert_int_equal(crawllog_producer_destroy(p), 0);
    fx_close(&f);
}

/* ---- partitions ------------------------------------------------------------ */

/* librdkafka's own murmur2_random producer's partition for each key, from
 * its delivery reports (msg_opaque: where to store it). */
static void rd_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    assert_int_equal(m->err, 0);
    *(int32_t *)m->_private = m->partition;
}

static void rd_partitions(struct fx *f, const char *topic, char keys[][16],
                          size_t n, int32_t *out)
{
    char es[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    assert_int_equal(rd_kafka_conf_set(c, "bootstrap.servers", f->boot, es,
                                       sizeof(es)), RD_KAFKA_CONF_OK);
    assert_int_equal(rd_kafka_conf_set(c, "partitioner", "murmur2_random",
                                       es, sizeof(es)), RD_KAFKA_CONF_OK);
    rd_kafka_conf_set_dr_msg_cb(c, rd_dr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, es, sizeof(es));
    assert_non_null(rk);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    for (size_t i = 0; i < n; i++) {
        out[i] = -1;
        assert_int_equal(rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA,
                                          RD_KAFKA_MSG_F_COPY, "x", 1,
                                          keys[i], strlen(keys[i]), &out[i]),
                         0);
    }
    assert_int_equal(rd_kafka_flush(rk, 10000), 0);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
}

static void test_kafka_keyed_partitions(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f);
    fx_topic(&f, "k", 6);
    fx_topic(&f, "kraw", 6);
    crawllog_producer_t *p = fx_producer(&f, NULL);
    struct dr d = {.mu = PTHREAD_MUTEX_INITIALIZER};
    OK(p, crawllog_producer_set_delivery_cb(p, dr_cb, &d));
    char keys[40][16];
    int32_t rdp[40];
    for (int i = 0; i < 40; i++) {
        snprintf(keys[i], sizeof(keys[i]), "key-%d", i * 7919);
        OK(p, crawllog_producer_send(p, "k", CRAWLLOG_PARTITION_ANY, keys[i],
                                     strlen(keys[i]), "v", 1, NULL, 0, NULL));
    }
    rd_partitions(&f, "kraw", keys, 40, rdp);
    assert_int_equal(d.n, 40);
    int spread[6] = {0};
    for (int i = 0; i < 40; i++) {
        /* The file backend's rule, librdkafka's and ours agree. */
        int32_t file = crawllog_partitioner_murmur2("k", keys[i],
                                                    strlen(keys[i]), 6, NULL);
        assert_int_equal(d.part[i], file);
        assert_int_equal(rdp[i], file);
        spread[file]++;
    }
    for (int i = 0; i < 6; i++) {
        assert_true(spread[i] > 0); /* the keys do spread (not all on 0) */
    }
    /* Keyless: round robin over the 6 partitions. */
    d.n = 0;
    for (int i = 0; i < 12; i++) {
        OK(p, crawllog_producer_send(p, "k", CRAWLLOG_PARTITION_ANY, NULL, 0,
                                     "v", 1, NULL, 0, NULL));
    }
    int per[6] = {0};
    for (size_t i = 0; i < d.n; i++) {
        per[d.part[i]]++;
    }
    for (int i = 0; i < 6; i++) {
        assert_int_equal(per[i], 2);
    }
    assert_int_equal(crawllog_producer_destroy(p), 0);
    fx_close(&f);
}

static int32_t part_one(const char *topic, const void *key, size_t keylen,
                        int32_t n, void *opaque)
{
    (void)topic;
    (void)key;
    (void)keylen;
    (void)n;
    return *(int32_t *)opaque;
}

static void test_kafka_custom_partitioner(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f);
    fx_topic(&f, "c", 3);
    crawllog_producer_t *p = fx_producer(&f, NULL);
    struct dr d = {.mu = PTHREAD_MUTEX_INITIALIZER};
    int32_t want = 2;
    OK(p, crawllog_producer_set_delivery_cb(p, dr_cb, &d));
    OK(p, crawllog_producer_set_partitioner(p, part_one, &want));
    OK(p, crawllog_producer_send(p, "c", CRAWLLOG_PARTITION_ANY, "a", 1, "v",
                                 1, NULL, 0, NULL));
    OK(p, crawllog_producer_send(p, "c", CRAWLLOG_PARTITION_ANY, NULL, 0, "v",
                                 1, NULL, 0, NULL));
    assert_int_equal(d.n, 2);
    assert_int_equal(d.part[0], 2);
    assert_int_equal(d.part[1], 2);
    want = 3; /* out of range: never a modulo */
    EXPECT(p, CRAWLLOG_EPARTITION,
           crawllog_producer_send(p, "c", CRAWLLOG_PARTITION_ANY, "a", 1, "v",
                                  1, NULL, 0, NULL));
    assert_non_null(strstr(crawllog_producer_errmsg(p), "topic c"));
    want = CRAWLLOG_PARTITION_ANY;
    EXPECT(p, CRAWLLOG_EPARTITION,
           crawllog_producer_send(p, "c", CRAWLLOG_PARTITION_ANY, "a", 1, "v",
                                  1, NULL, 0, NULL));
    /* Explicit partitions are checked like the file backend's. */
    OK(p, crawllog_producer_set_partitioner(p, NULL, NULL));
    EXPECT(p, CRAWLLOG_EPARTITION,
           crawllog_producer_send(p, "c", 3, "a", 1, "v", 1, NULL, 0, NULL));
    EXPECT(p, CRAWLLOG_EPARTITION,
           crawllog_producer_send(p, "c", -5, "a", 1, "v", 1, NULL, 0, NULL));
    assert_int_equal(d.n, 2); /* refused sends have no report */
    assert_int_equal(crawllog_producer_destroy(p), 0);
    fx_close(&f);
}

/* ---- record contents -------------------------------------------------------- */

static void test_kafka_record_round_trip(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f);
    fx_topic(&f, "r", 1);
    crawllog_producer_t *p = fx_producer(&f, NULL);
    crawllog_header_t h[3] = {
        {"trace", 5, "abc", 3},
        {"nullv", 5, NULL, 0},
        {"trace", 5, "", 0},
    };
    crawllog_record_t r0 = {NULL, 0, "val", 3, 1234567890123, h, 3};
    crawllog_record_t r1 = {"", 0, NULL, 0, -1, NULL, 0};
    int64_t off;
    OK(p, crawllog_producer_send_record(p, "r", 0, &r0, &off));
    assert_int_equal(off, 0);
    OK(p, crawllog_producer_send_record(p, "r", 0, &r1, &off));
    assert_int_equal(off, 1);
    struct raw rr;
    raw_read(&f, "r", 0, 0, &rr);
    rd_kafka_message_t **m = rr.m;
    size_t n = rr.n;
    assert_int_equal(n, 2);
    assert_null(m[0]->key); /* null key */
    assert_int_equal(m[0]->len, 3);
    rd_kafka_timestamp_type_t tt;
    assert_int_equal(rd_kafka_message_timestamp(m[0], &tt), 1234567890123);
    rd_kafka_headers_t *hs = NULL;
    assert_int_equal(rd_kafka_message_headers(m[0], &hs), 0);
    assert_int_equal(rd_kafka_header_cnt(hs), 3);
    const char *name;
    const void *val;
    size_t vlen;
    assert_int_equal(rd_kafka_header_get_all(hs, 0, &name, &val, &vlen), 0);
    assert_string_equal(name, "trace");
    assert_int_equal(vlen, 3);
    assert_memory_equal(val, "abc", 3);
    assert_int_equal(rd_kafka_header_get_all(hs, 1, &name, &val, &vlen), 0);
    assert_string_equal(name, "nullv");
    assert_null(val);
    assert_int_equal(rd_kafka_header_get_all(hs, 2, &name, &val, &vlen), 0);
    assert_non_null(val); /* empty, not null */
    assert_int_equal(vlen, 0);
    /* r1: an empty key (not null), a null value, timestamp: now. */
    assert_non_null(m[1]->key);
    assert_int_equal(m[1]->key_len, 0);
    assert_null(m[1]->payload);
    int64_t ts = rd_kafka_message_timestamp(m[1], &tt);
    assert_true(ts > 1600000000000);
    raw_done(&rr);
    assert_int_equal(crawllog_producer_destroy(p), 0);
    fx_close(&f);
}

/* ---- errors ---------------------------------------------------------------- */

static void test_kafka_errors(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f);
    fx_topic(&f, "e", 1);
    const char *small[] = {"kafka.message.max.bytes", "2000", NULL};
    crawllog_producer_t *p = fx_producer(&f, small);
    static char big[5000];
    EXPECT(p, CRAWLLOG_ETOOBIG,
           crawllog_producer_send(p, "e", 0, NULL, 0, big, sizeof(big), NULL,
                                  0, NULL));
    assert_non_null(strstr(crawllog_producer_errmsg(p), "MSG_SIZE_TOO_LARGE"));
    assert_non_null(strstr(crawllog_producer_errmsg(p), "topic e [0]"));
    EXPECT(p, CRAWLLOG_ENOTOPIC,
           crawllog_producer_send(p, "missing", CRAWLLOG_PARTITION_ANY, NULL,
                                  0, "v", 1, NULL, 0, NULL));
    assert_non_null(strstr(crawllog_producer_errmsg(p), "missing"));
    crawllog_header_t bad = {NULL, 0, NULL, 0};
    EXPECT(p, CRAWLLOG_EINVAL,
           crawllog_producer_send(p, "e", 0, NULL, 0, "v", 1, &bad, 1, NULL));
    /* What Kafka lacks. */
    int32_t seq;
    int64_t pid;
    int16_t epoch;
    crawllog_record_t r = {NULL, 0, "v", 1, -1, NULL, 0};
    EXPECT(p, CRAWLLOG_ENOTSUP,
           crawllog_producer_next_sequence(p, "e", 0, &seq));
    assert_non_null(strstr(crawllog_producer_errmsg(p),
                           "crawllog_producer_next_sequence: not supported "
                           "by the Kafka backend"));
    EXPECT(p, CRAWLLOG_ENOTSUP,
           crawllog_producer_send_sequenced(p, "e", 0, 0, &r, 1, NULL, NULL));
    EXPECT(p, CRAWLLOG_ENOTSUP, crawllog_producer_identity(p, &pid, &epoch));
    /* Not transactional: the txn calls are misuse. */
    EXPECT(p, CRAWLLOG_EMISUSE, crawllog_txn_begin(p));
    EXPECT(p, CRAWLLOG_EMISUSE, crawllog_txn_commit(p));
    /* The producer still works after all that. */
    int64_t off;
    OK(p, crawllog_producer_send(p, "e", 0, NULL, 0, "v", 1, NULL, 0, &off));
    assert_int_equal(off, 0);
    assert_int_equal(crawllog_producer_destroy(p), 0);

    /* producer.id: a file-backend feature. */
    crawllog_conf_t *conf = NULL;
    char es[CRAWLLOG_ERRSTR_SIZE];
    crawllog_producer_t *q = (crawllog_producer_t *)&q;
    assert_int_equal(crawllog_conf_new(&conf), 0);
    assert_int_equal(crawllog_conf_set(conf, "producer.id", "pid1", es,
                                       sizeof(es)), 0);
    assert_int_equal(crawllog_producer_new(f.log, conf, &q, es, sizeof(es)),
                     CRAWLLOG_ENOTSUP);
    assert_null(q);
    assert_non_null(strstr(es, "transactional.id"));
    /* Kafka's idempotence needs acks=all: the default yields to acks=1,
     * an explicit enable.idempotence=true is refused. */
    assert_int_equal(crawllog_conf_set(conf, "producer.id", "", es,
                                       sizeof(es)), 0);
    assert_int_equal(crawllog_conf_set(conf, "acks", "1", es, sizeof(es)), 0);
    assert_int_equal(crawllog_producer_new(f.log, conf, &q, es, sizeof(es)),
                     0);
    assert_int_equal(crawllog_producer_destroy(q), 0);
    assert_int_equal(crawllog_conf_set(conf, "enable.idempotence", "true", es,
                                       sizeof(es)), 0);
    assert_int_equal(crawllog_producer_new(f.log, conf, &q, es, sizeof(es)),
                     CRAWLLOG_EINVAL);
    assert_non_null(strstr(es, "acks=all"));
    /* A bad pass-through property fails producer_new. */
    assert_int_equal(crawllog_conf_set(conf, "producer.id", "", es,
                                       sizeof(es)), 0);
    assert_int_equal(crawllog_conf_set(conf, "kafka.no.such.thing", "1", es,
                                       sizeof(es)), 0);
    assert_int_equal(crawllog_producer_new(f.log, conf, &q, es, sizeof(es)),
                     CRAWLLOG_EINVAL);
    crawllog_conf_destroy(conf);
    fx_close(&f);
}

/* ---- threads --------------------------------------------------------------- */

#define THREADS 4
#define PER_THREAD 50
struct sender {
    crawllog_producer_t *p;
    int id;
    int rc;
    int32_t part[PER_THREAD];
    int64_t off[PER_THREAD];
};

static void *sender_main(void *arg)
{
    struct sender *s = arg;
    char key[16];
    for (int i = 0; i < PER_THREAD && s->rc == 0; i++) {
        snprintf(key, sizeof(key), "t%d-%d", s->id, i);
        s->part[i] = i % 3;
        s->rc = crawllog_producer_send(s->p, "mt", s->part[i], key,
                                       strlen(key), "v", 1, NULL, 0,
                                       &s->off[i]);
    }
    return NULL;
}

static void test_kafka_concurrent_senders(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f);
    fx_topic(&f, "mt", 3);
    crawllog_producer_t *p = fx_producer(&f, NULL);
    struct sender s[THREADS];
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) {
        s[i] = (struct sender){.p = p, .id = i};
        assert_int_equal(pthread_create(&th[i], NULL, sender_main, &s[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
    }
    /* Offsets unique per partition and dense: 0 .. count-1. */
    static uint8_t seen[3][THREADS * PER_THREAD];
    memset(seen, 0, sizeof(seen));
    int count[3] = {0};
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(s[i].rc, 0);
        for (int j = 0; j < PER_THREAD; j++) {
            int64_t o = s[i].off[j];
            assert_true(o >= 0 && o < THREADS * PER_THREAD);
            assert_int_equal(seen[s[i].part[j]][o], 0);
            seen[s[i].part[j]][o] = 1;
            count[s[i].part[j]]++;
            /* One thread's records to a partition keep their order. */
            if (j >= 3) {
                assert_true(o > s[i].off[j - 3]);
            }
        }
    }
    for (int q = 0; q < 3; q++) {
        for (int o = 0; o < count[q]; o++) {
            assert_int_equal(seen[q][o], 1);
        }
    }
    assert_int_equal(crawllog_producer_destroy(p), 0);
    fx_close(&f);
}

/* ---- transactions ----------------------------------------------------------- */

static crawllog_producer_t *txn_producer(struct fx *f, const char *id)
{
    /* log_level 0: the injected errors below are expected. */
    const char *props[] = {"transactional.id", id, "kafka.log_level", "0",
                           NULL};
    return fx_producer(f, props);
}

static void test_kafka_txn_commit_abort(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f);
    fx_topic(&f, "x", 1);
    crawllog_producer_t *p = txn_producer(&f, "tx-1");
    /* Outside a transaction: misuse. */
    EXPECT(p, CRAWLLOG_EMISUSE,
           crawllog_producer_send(p, "x", 0, NULL, 0, "v", 1, NULL, 0, NULL));
    EXPECT(p, CRAWLLOG_EMISUSE, crawllog_txn_commit(p));
    OK(p, crawllog_txn_begin(p));
    EXPECT(p, CRAWLLOG_EMISUSE, crawllog_txn_begin(p));
    OK(p, crawllog_producer_send(p, "x", 0, NULL, 0, "c1", 2, NULL, 0, NULL));
    OK(p, crawllog_producer_send(p, "x", 0, NULL, 0, "c2", 2, NULL, 0, NULL));
    OK(p, crawllog_txn_commit(p));
    OK(p, crawllog_txn_begin(p));
    OK(p, crawllog_producer_send(p, "x", 0, NULL, 0, "a1", 2, NULL, 0, NULL));
    OK(p, crawllog_txn_abort(p));
    OK(p, crawllog_txn_begin(p));
    OK(p, crawllog_producer_send(p, "x", 0, NULL, 0, "c3", 2, NULL, 0, NULL));
    OK(p, crawllog_txn_commit(p));
    /* A failed send dooms the transaction: commit says EABORT. */
    OK(p, crawllog_txn_begin(p));
    EXPECT(p, CRAWLLOG_ENOTOPIC,
           crawllog_producer_send(p, "nope", 0, NULL, 0, "v", 1, NULL, 0,
                                  NULL));
    EXPECT(p, CRAWLLOG_EABORT, crawllog_txn_commit(p));
    OK(p, crawllog_txn_abort(p));

    /* Committed records are visible to read_committed, in order.  The
     * mock of librdkafka 2.0.2 writes no transaction markers (its EndTxn
     * only checks the producer id), so a1's invisibility after the abort
     * shows on a real broker only (tests/test_conformance.c there). */
    struct raw rr;
    raw_read(&f, "x", 0, 1, &rr);
    const char *want[] = {"c1", "c2", "c3"};
    size_t w = 0;
    for (size_t i = 0; i < rr.n; i++) {
        assert_int_equal(rr.m[i]->len, 2);
        if (w < 3 && memcmp(rr.m[i]->payload, want[w], 2) == 0) {
            w++;
        } else {
            assert_memory_equal(rr.m[i]->payload, "a1", 2);
        }
    }
    assert_int_equal(w, 3);
    raw_done(&rr);
    assert_int_equal(crawllog_producer_destroy(p), 0);
    fx_close(&f);
}

static void test_kafka_txn_send_offsets(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f);
    fx_topic(&f, "in", 2);
    fx_topic(&f, "out", 1);
    crawllog_producer_t *p = txn_producer(&f, "tx-offsets");
    struct crawllog_group_metadata_s md;
    memset(&md, 0, sizeof(md));
    md.kafka = rd_kafka_consumer_group_metadata_new("grp");
    crawllog_topic_partition_t offs[2] = {{"in", 0, 42, NULL},
                                          {"in", 1, 7, "meta"}};
    EXPECT(p, CRAWLLOG_EMISUSE, crawllog_txn_send_offsets(p, &md, offs, 2));
    OK(p, crawllog_txn_begin(p));
    OK(p, crawllog_producer_send(p, "out", 0, NULL, 0, "v", 1, NULL, 0,
                                 NULL));
    EXPECT(p, CRAWLLOG_EINVAL, crawllog_txn_send_offsets(p, NULL, offs, 2));
    struct crawllog_group_metadata_s file_md;
    memset(&file_md, 0, sizeof(file_md));
    EXPECT(p, CRAWLLOG_EINVAL,
           crawllog_txn_send_offsets(p, &file_md, offs, 2));
    OK(p, crawllog_txn_send_offsets(p, &md, offs, 2));
    OK(p, crawllog_txn_commit(p));

    /* The group coordinator refused the offsets: the error class maps
     * (TxnOffsetCommit = ApiKey 28; librdkafka makes it abortable). */
    OK(p, crawllog_txn_begin(p));
    OK(p, crawllog_producer_send(p, "out", 0, NULL, 0, "v", 1, NULL, 0,
                                 NULL));
    rd_kafka_mock_push_request_errors(
        f.mc, 28, 1, RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED);
    int rc = crawllog_txn_send_offsets(p, &md, offs, 2);
    assert_true(rc == CRAWLLOG_EABORT || rc == CRAWLLOG_EIO);
    EXPECT(p, CRAWLLOG_EABORT, crawllog_txn_commit(p));
    OK(p, crawllog_txn_abort(p));
    /* And the producer goes on. */
    OK(p, crawllog_txn_begin(p));
    OK(p, crawllog_txn_send_offsets(p, &md, offs, 1));
    OK(p, crawllog_txn_commit(p));
    rd_kafka_consumer_group_metadata_destroy(md.kafka);
    /* (The mock of librdkafka 2.0.2 accepts TxnOffsetCommit but stores
     * nothing, so rd_kafka_committed cannot show the offsets here; the
     * conformance tests check them on the file backend and a broker.) */
    assert_int_equal(crawllog_producer_destroy(p), 0);
    fx_close(&f);
}

static void test_kafka_txn_fencing(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f);
    fx_topic(&f, "fz", 1);
    crawllog_producer_t *a = txn_producer(&f, "tx-fence");
    OK(a, crawllog_txn_begin(a));
    OK(a, crawllog_producer_send(a, "fz", 0, NULL, 0, "a", 1, NULL, 0, NULL));
    /* A second instance takes over.  The 2.0.2 mock does not bump the
     * epoch for it, so the coordinator's answer to the older instance's
     * EndTxn (ApiKey 26) is injected: PRODUCER_FENCED, as a broker says. */
    crawllog_producer_t *b = txn_producer(&f, "tx-fence");
    rd_kafka_mock_push_request_errors(f.mc, 26, 1,
                                      RD_KAFKA_RESP_ERR_PRODUCER_FENCED);
    int rc = crawllog_txn_commit(a);
    if (rc != CRAWLLOG_EFENCED) {
        fail_msg("commit of the fenced instance = %s: %s",
                 crawllog_err_name(rc), crawllog_producer_errmsg(a));
    }
    /* Final: every later call fails the same way. */
    EXPECT(a, CRAWLLOG_EFENCED, crawllog_txn_begin(a));
    EXPECT(a, CRAWLLOG_EFENCED,
           crawllog_producer_send(a, "fz", 0, NULL, 0, "a", 1, NULL, 0, NULL));
    OK(b, crawllog_txn_begin(b));
    OK(b, crawllog_producer_send(b, "fz", 0, NULL, 0, "b", 1, NULL, 0, NULL));
    OK(b, crawllog_txn_commit(b));
    struct raw rr;
    raw_read(&f, "fz", 0, 1, &rr);
    assert_true(rr.n >= 1); /* "a" too on the mock: no markers (above) */
    assert_memory_equal(rr.m[rr.n - 1]->payload, "b", 1);
    raw_done(&rr);
    crawllog_producer_destroy(a);
    assert_int_equal(crawllog_producer_destroy(b), 0);
    fx_close(&f);
}

/* ---- crawllog_append / flush on kafka://mock ------------------------------- */

static void test_kafka_append_mock(void **state)
{
    (void)state;
    crawllog_t *log = NULL;
    char es[CRAWLLOG_ERRSTR_SIZE];
    int rc = crawllog_open(&log, "kafka://mock", NULL, es, sizeof(es));
    if (rc != 0) {
        fail_msg("crawllog_open(kafka://mock) = %s: %s",
                 crawllog_err_name(rc), es);
    }
    assert_int_equal(crawllog_topic_create(log, "ap", 2, NULL), 0);
    assert_int_equal(crawllog_flush(log, CRAWLLOG_SYNC_DURABLE), 0);
    crawllog_record_t recs[3] = {{"k", 1, "a", 1, -1, NULL, 0},
                                 {NULL, 0, "b", 1, -1, NULL, 0},
                                 {"k", 1, NULL, 0, 5, NULL, 0}};
    int64_t base = -7;
    rc = crawllog_append(log, "ap", 1, recs, 3, CRAWLLOG_SYNC_NONE, &base);
    if (rc != 0) {
        fail_msg("append = %s: %s", crawllog_err_name(rc),
                 crawllog_errmsg(log));
    }
    assert_int_equal(base, 0);
    assert_int_equal(crawllog_append(log, "ap", 1, recs, 2,
                                     CRAWLLOG_SYNC_DURABLE, &base), 0);
    assert_int_equal(base, 3);
    assert_int_equal(crawllog_append(log, "ap", 0, recs, 1,
                                     CRAWLLOG_SYNC_WRITTEN, &base), 0);
    assert_int_equal(base, 0);
    /* The file backend's append rules for partitions. */
    assert_int_equal(crawllog_append(log, "ap", 2, recs, 1,
                                     CRAWLLOG_SYNC_WRITTEN, &base),
                     CRAWLLOG_ENOTOPIC);
    assert_int_equal(crawllog_append(log, "ap", -1, recs, 1,
                                     CRAWLLOG_SYNC_WRITTEN, &base),
                     CRAWLLOG_EINVAL);
    assert_int_equal(crawllog_append(log, "nope", 0, recs, 1,
                                     CRAWLLOG_SYNC_WRITTEN, &base),
                     CRAWLLOG_ENOTOPIC);
    assert_non_null(strstr(crawllog_errmsg(log), "nope"));
    assert_int_equal(crawllog_flush(log, CRAWLLOG_SYNC_DURABLE), 0);
    assert_int_equal(crawllog_close(log), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kafka_acks_offsets),
        cmocka_unit_test(test_kafka_order_and_batch),
        cmocka_unit_test(test_kafka_keyed_partitions),
        cmocka_unit_test(test_kafka_custom_partitioner),
        cmocka_unit_test(test_kafka_record_round_trip),
        cmocka_unit_test(test_kafka_errors),
        cmocka_unit_test(test_kafka_concurrent_senders),
        cmocka_unit_test(test_kafka_txn_commit_abort),
        cmocka_unit_test(test_kafka_txn_send_offsets),
        cmocka_unit_test(test_kafka_txn_fencing),
        cmocka_unit_test(test_kafka_append_mock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
