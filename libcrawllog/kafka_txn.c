/*
 * kafka_txn.c - the Kafka backend's transactions (crawllog_txn_begin/
 * send_offsets/commit/abort on a producer with transactional.id) and
 * crawllog_append()/crawllog_flush() of a Kafka log through the log's
 * internal producer (layer 5; see kafka.h, kafka_producer.c).
 *
 * On disk: nothing (the transaction coordinator is a broker).
 *
 * Invariants: kp->txn_open is 1 from a successful begin until a commit or
 * abort that finished (or failed fatally); kp->fatal_rc, once set (a
 * fatal librdkafka error: EFENCED if fenced, else EIO), fails every later
 * send and transactional call.  librdkafka's error classes map as:
 * txn_requires_abort -> CRAWLLOG_EABORT (only crawllog_txn_abort is left),
 * fatal -> EFENCED/EIO, retriable -> retried here within the remaining
 * KP_TXN_TIMEOUT_MS, _STATE -> EMISUSE, others by cl_kafka_err.  Calls
 * out of order are refused here (EMISUSE) before librdkafka sees them.
 *
 * Locks: kp->lock (kafka_producer.c) around the flags only, never across
 * a librdkafka call; append_lock (file static) serialises the lazy
 * creation of a log's internal producer.  Threads: librdkafka's own; the
 * transaction calls are for one application thread at a time.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "io.h"
#include "kafka.h"
#include "producer.h"
#include "txn.h"

#define KP_TXN_TIMEOUT_MS 60000    /* init/commit/abort/send_offsets bound */
#define KP_APPEND_FLUSH_MS 30000   /* crawllog_flush: bound of the flush */
#define KP_TXN_RETRY_MS 100        /* pause between retriable failures */

/* ---- transactions ------------------------------------------------------------ */

/* The class of a failed transactional call (librdkafka's error object),
 * recorded as errmsg; destroys e.  Fatal errors stick. */
static int kp_txn_error(struct cl_kafka_producer *kp, const char *fn,
                        rd_kafka_error_t *e)
{
    rd_kafka_resp_err_t code = rd_kafka_error_code(e);
    int rc;
    if (rd_kafka_error_is_fatal(e)) {
        rc = cl_kafka_err(code) == CRAWLLOG_EFENCED ? CRAWLLOG_EFENCED
                                                    : CRAWLLOG_EIO;
        pthread_mutex_lock(&kp->lock);
        kp->fatal_rc = rc;
        pthread_mutex_unlock(&kp->lock);
    } else if (rd_kafka_error_txn_requires_abort(e)) {
        rc = CRAWLLOG_EABORT;
    } else if (code == RD_KAFKA_RESP_ERR__STATE) {
        rc = CRAWLLOG_EMISUSE;
    } else {
        rc = cl_kafka_err(code);
        rc = rc != 0 ? rc : CRAWLLOG_EIO;
    }
    cl_kafka_producer_fail(kp, rc, "%s: %s (%s)", fn, rd_kafka_error_string(e),
            rd_kafka_error_name(e));
    rd_kafka_error_destroy(e);
    return rc;
}

int cl_kafka_txn_call(struct cl_kafka_producer *kp, const char *fn,
                       rd_kafka_error_t *(*call)(rd_kafka_t *, int))
{
    int64_t deadline = cl_io_now_ms() + KP_TXN_TIMEOUT_MS;
    for (;;) {
        int left = (int)(deadline - cl_io_now_ms());
        rd_kafka_error_t *e = call(kp->rk, left > 0 ? left : 1);
        if (e == NULL) {
            return 0;
        }
        if (!rd_kafka_error_is_retriable(e) || left <= 0) {
            return kp_txn_error(kp, fn, e);
        }
        rd_kafka_error_destroy(e);
        /* Back off a little; serves delivery reports (no lock held). */
        rd_kafka_poll(kp->rk, KP_TXN_RETRY_MS);
    }
}

/* The common entry: not fatal, transactional, open == need_open. */
static int kp_txn_enter(struct cl_kafka_producer *kp, const char *fn,
                        int need_open)
{
    pthread_mutex_lock(&kp->lock);
    int fatal = kp->fatal_rc, open = kp->txn_open;
    pthread_mutex_unlock(&kp->lock);
    if (fatal != 0) {
        return cl_kafka_producer_fail(kp, fatal, "%s: the producer failed fatally earlier "
                       "(fenced or broken): destroy it", fn);
    }
    if (!kp->transactional) {
        return cl_kafka_producer_fail(kp, CRAWLLOG_EMISUSE,
                       "%s: the producer has no transactional.id", fn);
    }
    if (open != need_open) {
        return cl_kafka_producer_fail(kp, CRAWLLOG_EMISUSE, "%s: %s", fn,
                       open ? "a transaction is open already"
                            : "no open transaction");
    }
    return 0;
}

static void kp_txn_set_open(struct cl_kafka_producer *kp, int open)
{
    pthread_mutex_lock(&kp->lock);
    kp->txn_open = open;
    kp->txn_doomed = 0;
    pthread_mutex_unlock(&kp->lock);
}

int cl_kafka_txn_begin(crawllog_producer_t *prod)
{
    struct cl_kafka_producer *kp = prod->kafka;
    const char *fn = "crawllog_txn_begin";
    int rc = kp_txn_enter(kp, fn, 0);
    if (rc != 0) {
        return rc;
    }
    rd_kafka_error_t *e = rd_kafka_begin_transaction(kp->rk);
    if (e != NULL) {
        return kp_txn_error(kp, fn, e);
    }
    kp_txn_set_open(kp, 1);
    return 0;
}

int cl_kafka_txn_send_offsets(crawllog_producer_t *prod,
                              const crawllog_group_metadata_t *md,
                              const crawllog_topic_partition_t *offsets,
                              size_t count)
{
    struct cl_kafka_producer *kp = prod->kafka;
    const char *fn = "crawllog_txn_send_offsets";
    int rc = kp_txn_enter(kp, fn, 1);
    if (rc != 0) {
        return rc;
    }
    if (md == NULL || md->kafka == NULL || offsets == NULL || count == 0 ||
        count > INT32_MAX) {
        return cl_kafka_producer_fail(kp, CRAWLLOG_EINVAL, "%s: group metadata of a Kafka "
                       "consumer and count >= 1 offsets needed", fn);
    }
    rd_kafka_topic_partition_list_t *l =
        rd_kafka_topic_partition_list_new((int)count);
    for (size_t i = 0; i < count && rc == 0; i++) {
        const crawllog_topic_partition_t *o = &offsets[i];
        if (o->topic == NULL || o->partition < 0 || o->offset < 0) {
            rc = cl_kafka_producer_fail(kp, CRAWLLOG_EINVAL, "%s: entry %zu: topic, "
                         "partition >= 0 and offset >= 0 needed", fn, i);
            break;
        }
        rd_kafka_topic_partition_t *tp =
            rd_kafka_topic_partition_list_add(l, o->topic, o->partition);
        tp->offset = o->offset;
        if (o->metadata != NULL) {
            tp->metadata = cl_io_strdup(o->metadata);
            tp->metadata_size = tp->metadata != NULL ? strlen(o->metadata) : 0;
        }
    }
    if (rc == 0) {
        rd_kafka_error_t *e = rd_kafka_send_offsets_to_transaction(
            kp->rk, l, (const rd_kafka_consumer_group_metadata_t *)md->kafka,
            KP_TXN_TIMEOUT_MS);
        if (e != NULL) {
            /* A step of the transaction failed: only an abort is left
             * (a refused argument above leaves it usable). */
            rc = kp_txn_error(kp, fn, e);
            cl_kafka_producer_doom(kp, rc);
        }
    }
    /* librdkafka frees the metadata with its own free(): release ours. */
    for (int i = 0; i < l->cnt; i++) {
        cl_io_free(l->elems[i].metadata);
        l->elems[i].metadata = NULL;
        l->elems[i].metadata_size = 0;
    }
    rd_kafka_topic_partition_list_destroy(l);
    return rc;
}

int cl_kafka_txn_commit(crawllog_producer_t *prod)
{
    struct cl_kafka_producer *kp = prod->kafka;
    const char *fn = "crawllog_txn_commit";
    int rc = kp_txn_enter(kp, fn, 1);
    if (rc != 0) {
        return rc;
    }
    pthread_mutex_lock(&kp->lock);
    int doomed = kp->txn_doomed;
    pthread_mutex_unlock(&kp->lock);
    if (doomed) {
        return cl_kafka_producer_fail(kp, CRAWLLOG_EABORT, "%s: a send of the transaction "
                       "failed: abort it (crawllog_txn_abort)", fn);
    }
    rc = cl_kafka_txn_call(kp, fn, rd_kafka_commit_transaction);
    if (rc == 0 || rc == CRAWLLOG_EFENCED || rc == CRAWLLOG_EIO) {
        kp_txn_set_open(kp, 0); /* done, or nothing more can be done */
    } else if (rc == CRAWLLOG_EABORT) {
        pthread_mutex_lock(&kp->lock);
        kp->txn_doomed = 1; /* only crawllog_txn_abort is left */
        pthread_mutex_unlock(&kp->lock);
    }
    return rc;
}

int cl_kafka_txn_abort(crawllog_producer_t *prod)
{
    struct cl_kafka_producer *kp = prod->kafka;
    const char *fn = "crawllog_txn_abort";
    int rc = kp_txn_enter(kp, fn, 1);
    if (rc != 0) {
        return rc;
    }
    rc = cl_kafka_txn_call(kp, fn, rd_kafka_abort_transaction);
    if (rc == 0 || rc == CRAWLLOG_EFENCED || rc == CRAWLLOG_EIO) {
        kp_txn_set_open(kp, 0);
    }
    return rc;
}

/* ---- crawllog_append / crawllog_flush on a Kafka log ------------------------- */

/* Serialises the lazy creation of a log's internal producer. */
static pthread_mutex_t append_lock = PTHREAD_MUTEX_INITIALIZER;

int cl_kafka_append(crawllog_t *log, const char *topic, int32_t partition,
                    const crawllog_record_t *records, size_t count, int sync,
                    int64_t *base_offsetp)
{
    if (base_offsetp != NULL) {
        *base_offsetp = -1;
    }
    if (topic == NULL || records == NULL || count == 0 ||
        count > INT32_MAX || sync < CRAWLLOG_SYNC_NONE ||
        sync > CRAWLLOG_SYNC_DURABLE) {
        return cl_kafka_log_fail(log, CRAWLLOG_EINVAL, "crawllog_append: "
                                 "topic, 1 .. 2^31-1 records and a sync "
                                 "mode needed");
    }
    /* The file backend's append rules: a negative partition is EINVAL,
     * one past the topic's count ENOTOPIC (the producer says EPARTITION). */
    int32_t n = 0;
    int rc = partition < 0 ? CRAWLLOG_EINVAL
                           : cl_kafka_topic_partitions(log, topic, &n);
    if (rc == 0 && partition >= n) {
        rc = CRAWLLOG_ENOTOPIC;
    }
    if (rc != 0) {
        return cl_kafka_log_fail(log, rc, "crawllog_append: topic %s: %s "
                                 "partition %" PRId32 " (%" PRId32
                                 " partitions)", topic,
                                 rc == CRAWLLOG_EINVAL ? "negative"
                                                       : "no such",
                                 partition, n);
    }
    crawllog_producer_t **slot = cl_kafka_log_producer(log);
    char es[CRAWLLOG_ERRSTR_SIZE];
    pthread_mutex_lock(&append_lock);
    if (*slot == NULL) {
        /* NULL conf: acks=all, enable.idempotence=true (the defaults). */
        rc = cl_kafka_producer_new(log, NULL, slot, es, sizeof(es));
    }
    crawllog_producer_t *prod = *slot;
    pthread_mutex_unlock(&append_lock);
    if (rc != 0) {
        return cl_kafka_log_fail(log, rc, "crawllog_append: %s", es);
    }
    /* Every sync level waits for acks=all: Kafka's durability is the
     * replicas', and the offset is known at return. */
    rc = cl_kafka_producer_send_batch(prod, topic, partition, records, count,
                                      base_offsetp);
    if (rc != 0) {
        return cl_kafka_log_fail(log, rc, "crawllog_append: %s",
                                 cl_kafka_producer_errmsg(prod));
    }
    return 0;
}

int cl_kafka_flush(crawllog_t *log, int sync)
{
    (void)sync;
    crawllog_producer_t **slot = cl_kafka_log_producer(log);
    pthread_mutex_lock(&append_lock);
    crawllog_producer_t *prod = *slot;
    pthread_mutex_unlock(&append_lock);
    if (prod == NULL) {
        return 0;
    }
    int rc = cl_kafka_producer_flush(prod, KP_APPEND_FLUSH_MS);
    if (rc != 0) {
        return cl_kafka_log_fail(log, rc, "crawllog_flush: %s",
                                 cl_kafka_producer_errmsg(prod));
    }
    return 0;
}
