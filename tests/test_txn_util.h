/*
 * test_txn_util.h - helpers shared by the transaction tests of the
 * public API (test_txn*.c; not a test program: the Makefile builds
 * tests/test_*.c only): producers, consumers and group members from
 * confs, sends, plain appends, reading a partition to its end at an
 * isolation level and comparing what came back.  Every helper is safe in
 * a forked child (cl_test_check), none in a thread.  static inline, so a
 * program that uses only some of them gets no unused-function warning.
 */
#ifndef CL_TEST_TXN_UTIL_H
#define CL_TEST_TXN_UTIL_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crawllog.h"
#include "helpers.h"

/* A producer (acks=1) with transactional.id txnid (NULL: none) and the
 * "name", "value" pairs after txnid up to a NULL name. */
static inline crawllog_producer_t *producer(crawllog_t *log, const char *txnid,
                                            ...)
{
    char err[CRAWLLOG_ERRSTR_SIZE] = "";
    crawllog_conf_t *conf = cl_test_conf("acks", "1", NULL);
    if (txnid != NULL) {
        cl_test_check(crawllog_conf_set(conf, "transactional.id", txnid, err,
                                        sizeof(err)) == 0);
    }
    va_list ap;
    va_start(ap, txnid);
    for (const char *k; (k = va_arg(ap, const char *)) != NULL;) {
        const char *v = va_arg(ap, const char *);
        cl_test_checkf(crawllog_conf_set(conf, k, v, err, sizeof(err)) == 0,
                       "conf %s=%s: %s", k, v, err);
    }
    va_end(ap);
    crawllog_producer_t *p = NULL;
    int rc = crawllog_producer_new(log, conf, &p, err, sizeof(err));
    crawllog_conf_destroy(conf);
    cl_test_checkf(rc == 0, "producer_new(%s): %s: %s", txnid ? txnid : "-",
                   crawllog_err_name(rc), err);
    return p;
}

/* A producer call that must return want. */
#define P_RC(p, expr, want)                                                    \
    do {                                                                       \
        int p_rc_ = (expr);                                                    \
        cl_test_checkf(p_rc_ == (want), "%s: %s, expected %s: \"%s\"", #expr,  \
                       crawllog_err_name(p_rc_), crawllog_err_name(want),      \
                       crawllog_producer_errmsg(p));                           \
    } while (0)
#define P_OK(p, expr) P_RC(p, expr, CRAWLLOG_OK)

/* Send the string val to topic/part; the call's code. */
static inline int send_s(crawllog_producer_t *p, const char *topic,
                         int32_t part, const char *val)
{
    int64_t off = -1;
    return crawllog_producer_send(p, topic, part, NULL, 0, val, strlen(val),
                                  NULL, 0, &off);
}

/* A plain (non-transactional) durable append of val. */
static inline void append_s(crawllog_t *log, const char *topic, int32_t part,
                            const char *val)
{
    crawllog_record_t r = {NULL, 0, val, strlen(val), -1, NULL, 0};
    int rc =
        crawllog_append(log, topic, part, &r, 1, CRAWLLOG_SYNC_WRITTEN, NULL);
    cl_test_checkf(rc == 0, "append: %s: %s", crawllog_err_name(rc),
                   crawllog_errmsg(log));
}

static inline int64_t end_of(crawllog_t *log, const char *topic, int32_t part)
{
    int64_t start = -1, end = -1;
    int rc = crawllog_partition_offsets(log, topic, part, &start, &end);
    cl_test_checkf(rc == 0, "partition_offsets %s/%d: %s", topic, part,
                   crawllog_err_name(rc));
    return end;
}

/* What a reader returned, read to the end. */
#define SEEN_MAX 1024
struct seen {
    size_t n;
    int64_t off[SEEN_MAX];
    char val[SEEN_MAX][40];
    int64_t pos;    /* position after the last next() */
    char all[4096]; /* values joined by ',' */
};

static inline void take(struct seen *s, const crawllog_msg_t *m)
{
    size_t len = 0;
    const char *v = crawllog_msg_value(m, &len);
    cl_test_checkf(s->n < SEEN_MAX && len < sizeof(s->val[0]),
                   "too many records or value too long");
    s->off[s->n] = crawllog_msg_offset(m);
    memcpy(s->val[s->n], v, len);
    s->val[s->n][len] = '\0';
    size_t used = strlen(s->all);
    snprintf(s->all + used, sizeof(s->all) - used, "%s%s", used ? "," : "",
             s->val[s->n]);
    s->n++;
}

/* Read topic/part from its start at an isolation level until next()
 * returns nothing. */
static inline void read_all(crawllog_t *log, const char *topic, int32_t part,
                            int level, struct seen *s)
{
    crawllog_reader_t *rd = NULL;
    memset(s, 0, sizeof(*s));
    cl_test_check(crawllog_reader_new(&rd, log, topic, part) == 0);
    cl_test_check(crawllog_reader_set_isolation(rd, level) == 0);
    for (;;) {
        const crawllog_msg_t *m = NULL;
        int rc = crawllog_reader_next(rd, &m);
        cl_test_checkf(rc == 0, "reader_next %s/%d: %s: %s", topic, part,
                       crawllog_err_name(rc), crawllog_reader_errmsg(rd));
        if (m == NULL) {
            break;
        }
        take(s, m);
    }
    s->pos = crawllog_reader_position(rd);
    crawllog_reader_destroy(rd);
}

#define RC CRAWLLOG_READ_COMMITTED
#define RU CRAWLLOG_READ_UNCOMMITTED

/* topic/part read at level must give exactly the values want (joined by
 * ',') and stop at position pos (-1: the log end). */
static inline void expect_read(crawllog_t *log, const char *topic, int32_t part,
                               int level, const char *want, int64_t pos)
{
    struct seen *s = malloc(sizeof(*s));
    cl_test_check(s != NULL);
    read_all(log, topic, part, level, s);
    int64_t end = end_of(log, topic, part);
    int64_t wpos = pos < 0 ? end : pos;
    cl_test_checkf(strcmp(s->all, want) == 0 && s->pos == wpos,
                   "%s %s/%d: got [%s] position %lld, expected [%s] "
                   "position %lld (log end %lld)",
                   level == RC ? "read_committed" : "read_uncommitted", topic,
                   part, s->all, (long long)s->pos, want, (long long)wpos,
                   (long long)end);
    for (size_t i = 1; i < s->n; i++) {
        cl_test_check(s->off[i] > s->off[i - 1]);
    }
    free(s);
}

static inline crawllog_consumer_t *consumer(crawllog_t *log, const char *group,
                                            const char *level)
{
    char err[CRAWLLOG_ERRSTR_SIZE] = "";
    crawllog_conf_t *conf = cl_test_conf("auto.offset.reset", "earliest",
                                         "heartbeat.interval.ms", "20", NULL);
    if (group != NULL) {
        cl_test_check(
            crawllog_conf_set(conf, "group.id", group, err, sizeof(err)) == 0);
    }
    if (level != NULL) {
        cl_test_check(crawllog_conf_set(conf, "isolation.level", level, err,
                                        sizeof(err)) == 0);
    }
    crawllog_consumer_t *c = NULL;
    int rc = crawllog_consumer_new(log, conf, &c, err, sizeof(err));
    crawllog_conf_destroy(conf);
    cl_test_checkf(rc == 0, "consumer_new: %s: %s", crawllog_err_name(rc), err);
    return c;
}

/* The committed offset of group for topic/part (-1: none). */
static inline int64_t committed(crawllog_t *log, const char *group,
                                const char *topic, int32_t part)
{
    crawllog_consumer_t *c = consumer(log, group, NULL);
    int64_t off = -2;
    int rc = crawllog_consumer_committed(c, topic, part, &off);
    cl_test_checkf(rc == 0, "committed: %s: %s", crawllog_err_name(rc),
                   crawllog_consumer_errmsg(c));
    crawllog_consumer_destroy(c);
    return off;
}

/* A member of group subscribed to topic, polled until it owns nparts
 * partitions (messages polled meanwhile are dropped). */
static inline crawllog_consumer_t *member(crawllog_t *log, const char *group,
                                          const char *topic, size_t nparts)
{
    crawllog_consumer_t *c = consumer(log, group, NULL);
    cl_test_check(crawllog_consumer_subscribe(c, &topic, 1) == 0);
    int64_t deadline = cl_test_mono_ms() + 10000;
    for (;;) {
        const crawllog_msg_t *msgs[64];
        size_t n = 0;
        int rc = crawllog_consumer_poll(c, 20, msgs, 64, &n);
        cl_test_checkf(rc == 0, "poll: %s: %s", crawllog_err_name(rc),
                       crawllog_consumer_errmsg(c));
        crawllog_topic_partition_t *list = NULL;
        size_t cnt = 0;
        cl_test_check(crawllog_consumer_assignment(c, &list, &cnt) == 0);
        free(list);
        if (cnt == nparts) {
            return c;
        }
        cl_test_checkf(cl_test_mono_ms() < deadline,
                       "member of %s owns %zu of %zu partitions after 10 s",
                       group, cnt, nparts);
    }
}

static inline crawllog_group_metadata_t *metadata(crawllog_consumer_t *c)
{
    crawllog_group_metadata_t *md = NULL;
    int rc = crawllog_consumer_group_metadata(c, &md);
    cl_test_checkf(rc == 0 && md != NULL, "group_metadata: %s",
                   crawllog_err_name(rc));
    return md;
}

/* send_offsets of one offset of topic/part. */
static inline int offsets1(crawllog_producer_t *p,
                           const crawllog_group_metadata_t *md,
                           const char *topic, int32_t part, int64_t off)
{
    crawllog_topic_partition_t tp = {topic, part, off, NULL};
    return crawllog_txn_send_offsets(p, md, &tp, 1);
}

/* A log in dir with topic "in" (parts_in partitions, 6 records each) and
 * the output topics of the test. */
static inline crawllog_t *setup_log(const char *dir, int32_t parts_in)
{
    crawllog_t *log = cl_test_open(dir, NULL);
    cl_test_create_topic(log, "in", parts_in, NULL);
    for (int32_t p = 0; p < parts_in; p++) {
        for (int i = 0; i < 6; i++) {
            append_s(log, "in", p, "job");
        }
    }
    cl_test_create_topic(log, "out", 2, NULL);
    cl_test_create_topic(log, "out2", 1, NULL);
    return log;
}

/* A test entry run in a fresh directory on tmpfs when there is one. */
#define T(f)                                                                   \
    cmocka_unit_test_setup_teardown(f, cl_test_fast_tmpdir_setup,              \
                                    cl_test_tmpdir_teardown)

#endif /* CL_TEST_TXN_UTIL_H */
