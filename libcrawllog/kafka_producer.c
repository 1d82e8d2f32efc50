/*
 * kafka_producer.c - the Kafka backend's producer: crawllog_producer_*
 * over one librdkafka producer handle (layer 5; see kafka.h, backend.h).
 * Transactions and crawllog_append()/crawllog_flush() are in kafka_txn.c.
 *
 * Purpose: the same contract as the file backend's producer (producer.c)
 * on a Kafka cluster.  Partitions are chosen by crawllog itself with the
 * core's rule (cl_partitioner_choose: explicit > custom > murmur2 >
 * keyless policy) over the topic's partition count from the cluster
 * metadata, and every message is produced to that explicit partition, so
 * a key lands in the same partition on both backends (and as with the
 * Java client).  acks=0 returns at once (offset -1; the report comes from
 * poll/flush/destroy); acks=1/all produce and then wait, polling the
 * handle in the calling thread, until THIS message's delivery report has
 * arrived (the report's completion record is the message's msg_opaque).
 *
 * On disk: nothing (the data lives on the brokers).
 *
 * Invariants: a Kafka producer handle is a zeroed shell of struct
 * crawllog_producer_s with only ->kafka set (allocated and freed here);
 * nothing of the file backend runs on it.  The rd_kafka_t lives exactly as
 * long as the shell.  A message produced with a completion record is
 * reported exactly once by librdkafka, and its sender does not return
 * before that report (the record lives on the sender's stack).
 *
 * Locks: kp->lock guards errmsg, the first-delivery-error slot and the
 * transaction flags; kp->enq is held only around the rd_kafka_produceva
 * calls of one send or batch, so a batch's messages are enqueued back to
 * back (consecutive offsets when nobody else writes the partition).  No
 * lock is held while polling librdkafka: the user's delivery callback
 * (called from dr_msg_cb, inside rd_kafka_poll/flush in a crawllog call,
 * in the caller's thread) and the custom partitioner never run under a
 * lock of ours.
 *
 * The struct is in kafka.h (shared with kafka_txn.c only).
 *
 * Threads: librdkafka's own threads inside the rd_kafka_t; none of ours.
 * Any number of application threads may send at once; the transaction
 * calls are for one thread at a time (as in crawllog_txn.h).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "io.h"
#include "kafka.h"
#include "partitioner.h"
#include "producer.h"

#define KP_DESTROY_FLUSH_MS 30000 /* destroy: bound of the final flush */
#define KP_POLL_MS 10             /* wait loops: one rd_kafka_poll */
#define KP_QUEUE_FULL_MS 30000    /* a full local queue: retry this long */


/* Completion record of one acks=1/all message (on its sender's stack). */
struct kp_done {
    atomic_int done;
    int64_t offset;
    rd_kafka_resp_err_t err;
};

static struct cl_kafka_producer *kp_of(const crawllog_producer_t *prod)
{
    return prod->kafka;
}

int cl_kafka_producer_fail(struct cl_kafka_producer *kp, int rc,
                           const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&kp->lock);
    vsnprintf(kp->errmsg, sizeof(kp->errmsg), fmt, ap);
    pthread_mutex_unlock(&kp->lock);
    va_end(ap);
    return rc;
}

/* "NAME: description" of a librdkafka error, for messages. */
#define KP_ERRFMT "%s: %s"
#define KP_ERRARG(e) rd_kafka_err2name(e), rd_kafka_err2str(e)

/* ---- delivery reports ---------------------------------------------------- */

/* librdkafka's per-message report, from rd_kafka_poll/flush in some
 * crawllog call's thread (never under one of our locks). */
static void kp_dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m,
                         void *opaque)
{
    (void)rk;
    struct cl_kafka_producer *kp = opaque;
    int rc = cl_kafka_err(m->err);
    int64_t off = m->err == RD_KAFKA_RESP_ERR_NO_ERROR ? m->offset : -1;
    if (off < 0) {
        off = -1; /* acks=0: the broker tells no offset */
    }
    const char *topic = rd_kafka_topic_name(m->rkt);
    struct kp_done *d = m->_private;
    if (d != NULL) {
        d->offset = off;
        d->err = m->err;
        atomic_store_explicit(&d->done, 1, memory_order_release);
        /* d may be gone from here on: its sender returns. */
    } else if (rc != 0) {
        pthread_mutex_lock(&kp->lock);
        if (kp->async_rc == 0) {
            kp->async_rc = rc;
            snprintf(kp->errmsg, sizeof(kp->errmsg),
                     "topic %s [%" PRId32 "]: delivery failed: " KP_ERRFMT,
                     topic, m->partition, KP_ERRARG(m->err));
        }
        pthread_mutex_unlock(&kp->lock);
    }
    if (kp->dr_cb != NULL) {
        kp->dr_cb(kp->dr_opaque, topic, m->partition, off, rc);
    }
}

/* Poll until every record of d[0..n) is reported. */
static void kp_wait(struct cl_kafka_producer *kp, struct kp_done *d, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        while (!atomic_load_explicit(&d[i].done, memory_order_acquire)) {
            rd_kafka_poll(kp->rk, KP_POLL_MS);
        }
    }
}

/* ---- headers ------------------------------------------------------------- */

int cl_kafka_headers_new(const crawllog_header_t *h, size_t n,
                         rd_kafka_headers_t **outp)
{
    *outp = NULL;
    if (n == 0) {
        return 0;
    }
    if (h == NULL) {
        return CRAWLLOG_EINVAL;
    }
    rd_kafka_headers_t *hs = rd_kafka_headers_new(n);
    if (hs == NULL) {
        return CRAWLLOG_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        if (h[i].name == NULL || h[i].name_len > INT32_MAX ||
            (h[i].value != NULL && h[i].value_len > INT32_MAX)) {
            rd_kafka_headers_destroy(hs);
            return CRAWLLOG_EINVAL;
        }
        rd_kafka_resp_err_t e = rd_kafka_header_add(
            hs, h[i].name, (ssize_t)h[i].name_len, h[i].value,
            h[i].value != NULL ? (ssize_t)h[i].value_len : 0);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            rd_kafka_headers_destroy(hs);
            return cl_kafka_err(e);
        }
    }
    *outp = hs;
    return 0;
}

/* ---- sending ------------------------------------------------------------- */

/* splitmix64 of a shared counter (murmur2_random's keyless choice), as
 * the file backend's producer does. */
static uint64_t kp_random(struct cl_kafka_producer *kp)
{
    uint64_t z = atomic_fetch_add_explicit(&kp->rnd, 0x9e3779b97f4a7c15u,
                                           memory_order_relaxed);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* The partition of rec: the file backend's rule (cl_producer_choose). */
static int kp_choose(struct cl_kafka_producer *kp, const char *topic,
                     int32_t partition, const crawllog_record_t *rec,
                     int32_t *outp)
{
    int32_t n = 0;
    int rc = cl_kafka_topic_partitions(kp->log, topic, &n);
    if (rc != 0) {
        return cl_kafka_producer_fail(kp, rc, "topic %s: %s", topic,
                       rc == CRAWLLOG_ENOTOPIC ? "no such topic"
                                               : cl_kafka_errmsg(kp->log));
    }
    if (partition == CRAWLLOG_PARTITION_ANY && rec->key == NULL &&
        kp->custom == NULL &&
        kp->keyless == CL_CONF_PARTITIONER_MURMUR2_RANDOM) {
        partition = (int32_t)(kp_random(kp) % (uint64_t)n);
    }
    rc = cl_partitioner_choose(kp->custom, kp->custom_opaque, kp->pstate,
                               topic, partition, rec->key, rec->key_len, n,
                               kp->keyless == CL_CONF_PARTITIONER_STICKY,
                               outp);
    if (rc != 0) {
        return cl_kafka_producer_fail(kp, rc,
                       "topic %s: no valid partition (%" PRId32
                       " asked, %" PRId32 " partitions)",
                       topic, partition, n);
    }
    return 0;
}

/* Refuse a send the producer's state forbids (fatal error, or outside a
 * transaction of a transactional producer). */
static int kp_check_send(struct cl_kafka_producer *kp, const char *fn)
{
    pthread_mutex_lock(&kp->lock);
    int fatal = kp->fatal_rc, open = kp->txn_open;
    pthread_mutex_unlock(&kp->lock);
    if (fatal != 0) {
        return cl_kafka_producer_fail(kp, fatal, "%s: the producer failed fatally earlier "
                       "(fenced or broken): destroy it", fn);
    }
    if (kp->transactional && !open) {
        return cl_kafka_producer_fail(kp, CRAWLLOG_EMISUSE, "%s: transactional producer "
                       "outside a transaction (call crawllog_txn_begin)", fn);
    }
    return 0;
}

void cl_kafka_producer_doom(struct cl_kafka_producer *kp, int rc)
{
    if (rc == CRAWLLOG_EMISUSE || rc == CRAWLLOG_EABORT ||
        rc == CRAWLLOG_EFENCED) {
        return;
    }
    pthread_mutex_lock(&kp->lock);
    if (kp->txn_open) {
        kp->txn_doomed = 1;
    }
    pthread_mutex_unlock(&kp->lock);
}

/* Enqueue one record to topic/p (kp->enq held by the caller); d: its
 * completion record (NULL with acks=0). */
static rd_kafka_resp_err_t kp_produce(struct cl_kafka_producer *kp,
                                      const char *topic, int32_t p,
                                      const crawllog_record_t *rec,
                                      struct kp_done *d)
{
    rd_kafka_headers_t *hs = NULL;
    if (cl_kafka_headers_new(rec->headers, rec->header_count, &hs) != 0) {
        return RD_KAFKA_RESP_ERR__INVALID_ARG; /* checked before: no memory */
    }
    /* rd_kafka_produceva, not the producev macros: those use GNU
     * statement expressions (not C11).  The bytes are copied (F_COPY). */
    rd_kafka_vu_t vu[8];
    size_t n = 0;
    vu[n].vtype = RD_KAFKA_VTYPE_TOPIC;
    vu[n++].u.cstr = topic;
    vu[n].vtype = RD_KAFKA_VTYPE_PARTITION;
    vu[n++].u.i32 = p;
    vu[n].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
    vu[n++].u.i = RD_KAFKA_MSG_F_COPY;
    vu[n].vtype = RD_KAFKA_VTYPE_KEY;
    vu[n].u.mem.ptr = (void *)(uintptr_t)rec->key; /* read only (F_COPY) */
    vu[n++].u.mem.size = rec->key != NULL ? rec->key_len : 0;
    vu[n].vtype = RD_KAFKA_VTYPE_VALUE;
    vu[n].u.mem.ptr = (void *)(uintptr_t)rec->value;
    vu[n++].u.mem.size = rec->value != NULL ? rec->value_len : 0;
    vu[n].vtype = RD_KAFKA_VTYPE_TIMESTAMP;
    vu[n++].u.i64 = rec->timestamp >= 0 ? rec->timestamp : 0; /* 0: now */
    vu[n].vtype = RD_KAFKA_VTYPE_OPAQUE;
    vu[n++].u.ptr = d;
    if (hs != NULL) {
        vu[n].vtype = RD_KAFKA_VTYPE_HEADERS;
        vu[n++].u.headers = hs;
    }
    rd_kafka_error_t *e = rd_kafka_produceva(kp->rk, vu, n);
    if (e == NULL) {
        return RD_KAFKA_RESP_ERR_NO_ERROR; /* hs now librdkafka's */
    }
    rd_kafka_resp_err_t code = rd_kafka_error_code(e);
    rd_kafka_error_destroy(e);
    if (hs != NULL) {
        rd_kafka_headers_destroy(hs);
    }
    return code;
}

/* After a failed send: if librdkafka raised a fatal error (fenced, or an
 * idempotence failure), make it sticky (every later call fails with it)
 * and return it; else rc. */
static int kp_fatal(struct cl_kafka_producer *kp, int rc)
{
    char why[256];
    rd_kafka_resp_err_t fe = rd_kafka_fatal_error(kp->rk, why, sizeof(why));
    if (fe == RD_KAFKA_RESP_ERR_NO_ERROR) {
        return rc;
    }
    int frc = cl_kafka_err(fe) == CRAWLLOG_EFENCED ? CRAWLLOG_EFENCED
                                                   : CRAWLLOG_EIO;
    pthread_mutex_lock(&kp->lock);
    if (kp->fatal_rc == 0) {
        kp->fatal_rc = frc;
    }
    pthread_mutex_unlock(&kp->lock);
    return cl_kafka_producer_fail(kp, frc, "fatal producer error: %s: %s",
                                  rd_kafka_err2name(fe), why);
}

/* Check the records of one send (the file backend's rules). */
static int kp_check_records(struct cl_kafka_producer *kp, const char *fn,
                            const crawllog_record_t *recs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const crawllog_record_t *r = &recs[i];
        if (r->header_count > 0 && r->headers == NULL) {
            return cl_kafka_producer_fail(kp, CRAWLLOG_EINVAL, "%s: headers is NULL", fn);
        }
        for (size_t h = 0; h < r->header_count; h++) {
            if (r->headers[h].name == NULL) {
                return cl_kafka_producer_fail(kp, CRAWLLOG_EINVAL,
                               "%s: header %zu has no name", fn, h);
            }
        }
        if ((r->key && r->key_len > INT32_MAX) ||
            (r->value && r->value_len > INT32_MAX)) {
            return cl_kafka_producer_fail(kp, CRAWLLOG_ETOOBIG,
                           "%s: key or value over 2 GiB", fn);
        }
    }
    return 0;
}

/*
 * Send n records to one partition (chosen for recs[0]) and, with acks=1/
 * all, wait for all their reports.  *basep: the first one's offset (-1
 * with acks=0).  A queue-full produce is retried after a poll with no
 * lock held; other refusals fail the send (records of the batch already
 * enqueued are still delivered: Kafka has no all-or-nothing batch outside
 * a transaction; docs/SCALING.md should say so).
 */
static int kp_send(struct cl_kafka_producer *kp, const char *fn,
                   const char *topic, int32_t partition,
                   const crawllog_record_t *recs, size_t n, int64_t *basep)
{
    int32_t p = -1;
    int rc;
    if ((rc = kp_check_send(kp, fn)) != 0 ||
        (rc = kp_check_records(kp, fn, recs, n)) != 0 ||
        (rc = kp_choose(kp, topic, partition, &recs[0], &p)) != 0) {
        cl_kafka_producer_doom(kp, rc);
        return rc;
    }
    int wait = kp->acks != CL_CONF_ACKS_0;
    struct kp_done one = {0}, *d = NULL;
    if (wait) {
        d = n == 1 ? &one : cl_io_calloc(n, sizeof(*d));
        if (d == NULL) {
            return cl_kafka_producer_fail(kp, CRAWLLOG_ENOMEM, "%s: out of memory", fn);
        }
        for (size_t i = 0; i < n; i++) {
            atomic_init(&d[i].done, 0);
            d[i].offset = -1;
            d[i].err = RD_KAFKA_RESP_ERR_NO_ERROR;
        }
    }
    size_t queued = 0;
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
    int64_t t0 = cl_io_now_ms();
    while (queued < n) {
        pthread_mutex_lock(&kp->enq);
        while (queued < n &&
               (e = kp_produce(kp, topic, p, &recs[queued],
                               wait ? &d[queued] : NULL)) ==
                   RD_KAFKA_RESP_ERR_NO_ERROR) {
            queued++;
        }
        pthread_mutex_unlock(&kp->enq);
        if (queued == n || e != RD_KAFKA_RESP_ERR__QUEUE_FULL ||
            cl_io_now_ms() - t0 > KP_QUEUE_FULL_MS) {
            break;
        }
        rd_kafka_poll(kp->rk, KP_POLL_MS); /* make room, no lock held */
    }
    if (queued < n) {
        rc = cl_kafka_producer_fail(kp, cl_kafka_err(e),
                     "topic %s [%" PRId32 "]: produce refused: " KP_ERRFMT,
                     topic, p, KP_ERRARG(e));
    }
    if (wait) {
        kp_wait(kp, d, queued);
        for (size_t i = 0; i < queued && rc == 0; i++) {
            if (d[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
                rc = cl_kafka_producer_fail(kp, cl_kafka_err(d[i].err),
                             "topic %s [%" PRId32 "]: delivery failed: "
                             KP_ERRFMT, topic, p, KP_ERRARG(d[i].err));
            }
        }
        if (rc == 0 && basep != NULL) {
            *basep = d[0].offset;
        }
        if (d != &one) {
            cl_io_free(d);
        }
    } else {
        rd_kafka_poll(kp->rk, 0); /* serve reports that are ready */
    }
    if (rc != 0) {
        rc = kp_fatal(kp, rc);
        cl_kafka_producer_doom(kp, rc);
    }
    return rc;
}

int cl_kafka_producer_send_record(crawllog_producer_t *prod, const char *topic,
                                  int32_t partition,
                                  const crawllog_record_t *rec,
                                  int64_t *offsetp)
{
    struct cl_kafka_producer *kp = kp_of(prod);
    if (offsetp != NULL) {
        *offsetp = -1;
    }
    if (topic == NULL || rec == NULL) {
        return cl_kafka_producer_fail(kp, CRAWLLOG_EINVAL,
                       "crawllog_producer_send: topic and record needed");
    }
    return kp_send(kp, "crawllog_producer_send", topic, partition, rec, 1,
                   offsetp);
}

int cl_kafka_producer_send(crawllog_producer_t *prod, const char *topic,
                           int32_t partition, const void *key, size_t keylen,
                           const void *value, size_t vlen,
                           const crawllog_header_t *headers, size_t nheaders,
                           int64_t *offsetp)
{
    crawllog_record_t rec = {key, keylen, value, vlen, -1, headers, nheaders};
    return cl_kafka_producer_send_record(prod, topic, partition, &rec,
                                         offsetp);
}

int cl_kafka_producer_send_batch(crawllog_producer_t *prod, const char *topic,
                                 int32_t partition,
                                 const crawllog_record_t *recs, size_t n,
                                 int64_t *base_offsetp)
{
    struct cl_kafka_producer *kp = kp_of(prod);
    if (base_offsetp != NULL) {
        *base_offsetp = -1;
    }
    if (topic == NULL || recs == NULL || n == 0) {
        return cl_kafka_producer_fail(kp, CRAWLLOG_EINVAL, "crawllog_producer_send_batch: "
                       "topic and n >= 1 records needed");
    }
    return kp_send(kp, "crawllog_producer_send_batch", topic, partition, recs,
                   n, base_offsetp);
}

/* ---- what Kafka lacks ------------------------------------------------------ */

int cl_kafka_producer_next_sequence(crawllog_producer_t *prod,
                                    const char *topic, int32_t partition,
                                    int32_t *seqp)
{
    (void)topic;
    (void)partition;
    if (seqp != NULL) {
        *seqp = -1;
    }
    return cl_kafka_producer_fail(kp_of(prod), CRAWLLOG_ENOTSUP,
                   "crawllog_producer_next_sequence: not supported by the "
                   "Kafka backend (sequences belong to librdkafka's "
                   "idempotent producer session)");
}

int cl_kafka_producer_send_sequenced(crawllog_producer_t *prod,
                                     const char *topic, int32_t partition,
                                     int32_t base_sequence,
                                     const crawllog_record_t *recs, size_t n,
                                     int64_t *base_offsetp, int *duplicatep)
{
    (void)topic;
    (void)partition;
    (void)base_sequence;
    (void)recs;
    (void)n;
    if (base_offsetp != NULL) {
        *base_offsetp = -1;
    }
    if (duplicatep != NULL) {
        *duplicatep = 0;
    }
    return cl_kafka_producer_fail(kp_of(prod), CRAWLLOG_ENOTSUP,
                   "crawllog_producer_send_sequenced: not supported by the "
                   "Kafka backend (application-given sequences need durable "
                   "producer ids; use transactional.id)");
}

int cl_kafka_producer_identity(const crawllog_producer_t *prod, int64_t *pidp,
                               int16_t *epochp)
{
    if (pidp != NULL) {
        *pidp = -1;
    }
    if (epochp != NULL) {
        *epochp = -1;
    }
    return cl_kafka_producer_fail(kp_of(prod), CRAWLLOG_ENOTSUP,
                   "crawllog_producer_identity: not supported by the Kafka "
                   "backend (librdkafka does not expose its producer id)");
}

/* ---- poll, flush, settings, errmsg ---------------------------------------- */

int cl_kafka_producer_poll(crawllog_producer_t *prod)
{
    int n = rd_kafka_poll(kp_of(prod)->rk, 0);
    return n > 0 ? n : 0;
}

int cl_kafka_producer_flush(crawllog_producer_t *prod, int timeout_ms)
{
    struct cl_kafka_producer *kp = kp_of(prod);
    rd_kafka_resp_err_t e = rd_kafka_flush(kp->rk, timeout_ms < 0 ? -1
                                                                  : timeout_ms);
    pthread_mutex_lock(&kp->lock);
    int rc = kp->async_rc;
    kp->async_rc = 0;
    pthread_mutex_unlock(&kp->lock);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return cl_kafka_producer_fail(kp, cl_kafka_err(e),
                       "crawllog_producer_flush: %d message(s) still "
                       "queued: " KP_ERRFMT,
                       rd_kafka_outq_len(kp->rk), KP_ERRARG(e));
    }
    return rc;
}

int cl_kafka_producer_set_partitioner(crawllog_producer_t *prod,
                                      crawllog_partitioner_fn *fn,
                                      void *opaque)
{
    struct cl_kafka_producer *kp = kp_of(prod);
    kp->custom = fn;
    kp->custom_opaque = opaque;
    return 0;
}

int cl_kafka_producer_set_delivery_cb(crawllog_producer_t *prod,
                                      crawllog_delivery_cb *cb, void *opaque)
{
    struct cl_kafka_producer *kp = kp_of(prod);
    kp->dr_cb = cb;
    kp->dr_opaque = opaque;
    return 0;
}

const char *cl_kafka_producer_errmsg(const crawllog_producer_t *prod)
{
    return kp_of(prod)->errmsg;
}

/* ---- lifecycle -------------------------------------------------------------- */

/* Set name=value on c unless the producer conf passes kafka.<name> (the
 * user's explicit librdkafka setting wins). */
static int kp_set(rd_kafka_conf_t *c, const crawllog_conf_t *conf,
                  const char *name, const char *value, char *errstr,
                  size_t errstr_size)
{
    for (size_t i = 0; i < cl_conf_kafka_count(conf); i++) {
        const char *n, *v;
        cl_conf_kafka_at(conf, i, &n, &v);
        if (strcmp(n, name) == 0) {
            return 0;
        }
    }
    char es[256];
    if (rd_kafka_conf_set(c, name, value, es, sizeof(es)) != RD_KAFKA_CONF_OK) {
        snprintf(errstr, errstr_size, "%s=%s: %s", name, value, es);
        return CRAWLLOG_EINVAL;
    }
    return 0;
}

/* The librdkafka conf of a producer: the log's client conf plus the
 * mapped producer properties (spec: "Producer" mapping). */
static int kp_conf(struct cl_kafka_producer *kp, const crawllog_conf_t *conf,
                   rd_kafka_conf_t **cp, char *es, size_t esz)
{
    int rc = cl_kafka_client_conf(kp->log, conf, cp, es, esz);
    if (rc != 0) {
        return rc;
    }
    rd_kafka_conf_t *c = *cp;
    char buf[32];
    const char *txnid = cl_conf_str(conf, CL_CONF_TRANSACTIONAL_ID);
    int idem = (int)cl_conf_int(conf, CL_CONF_ENABLE_IDEMPOTENCE);
    if (kp->acks != CL_CONF_ACKS_ALL && idem) {
        if (cl_conf_is_set(conf, CL_CONF_ENABLE_IDEMPOTENCE)) {
            snprintf(es, esz, "enable.idempotence=true needs acks=all on "
                     "the Kafka backend");
            rc = CRAWLLOG_EINVAL;
        }
        idem = 0; /* the Java client's rule: the default yields to acks */
    }
    static const char *const acks[] = {"0", "1", "all"};
    if (rc == 0) {
        rc = kp_set(c, conf, "acks", acks[kp->acks], es, esz);
    }
    if (rc == 0) {
        rc = kp_set(c, conf, "enable.idempotence", idem ? "true" : "false",
                    es, esz);
    }
    if (rc == 0) {
        snprintf(buf, sizeof(buf), "%" PRId64,
                 cl_conf_int(conf, CL_CONF_LINGER_MS));
        rc = kp_set(c, conf, "linger.ms", buf, es, esz);
    }
    if (rc == 0) {
        snprintf(buf, sizeof(buf), "%" PRId64,
                 cl_conf_int(conf, CL_CONF_BATCH_SIZE));
        rc = kp_set(c, conf, "batch.size", buf, es, esz);
    }
    if (rc == 0 && cl_conf_is_set(conf, CL_CONF_CLIENT_ID)) {
        rc = kp_set(c, conf, "client.id",
                    cl_conf_str(conf, CL_CONF_CLIENT_ID), es, esz);
    }
    if (rc == 0 && txnid[0] != '\0') {
        rc = kp_set(c, conf, "transactional.id", txnid, es, esz);
        snprintf(buf, sizeof(buf), "%" PRId64,
                 cl_conf_int(conf, CL_CONF_TRANSACTION_TIMEOUT_MS));
        if (rc == 0) {
            rc = kp_set(c, conf, "transaction.timeout.ms", buf, es, esz);
        }
    }
    if (rc != 0) {
        rd_kafka_conf_destroy(c);
        *cp = NULL;
        return rc;
    }
    rd_kafka_conf_set_dr_msg_cb(c, kp_dr_msg_cb);
    rd_kafka_conf_set_opaque(c, kp);
    return 0;
}

static void kp_free(struct cl_kafka_producer *kp)
{
    if (kp->rk != NULL) {
        rd_kafka_destroy(kp->rk);
    }
    crawllog_partitioner_state_destroy(kp->pstate);
    pthread_mutex_destroy(&kp->lock);
    pthread_mutex_destroy(&kp->enq);
    cl_io_free(kp->shell);
    cl_io_free(kp);
}

int cl_kafka_producer_new(crawllog_t *log, const crawllog_conf_t *conf,
                          crawllog_producer_t **prodp, char *errstr,
                          size_t errstr_size)
{
    char es[512] = "";
    if (prodp == NULL) {
        cl_err_copy(errstr, errstr_size, "log and prodp needed");
        return CRAWLLOG_EINVAL;
    }
    *prodp = NULL;
    if (cl_conf_str(conf, CL_CONF_PRODUCER_ID)[0] != '\0') {
        cl_err_copy(errstr, errstr_size,
                    "crawllog_producer_new: producer.id is not supported by "
                    "the Kafka backend (durable producer ids are a "
                    "file-backend feature: Kafka's idempotence is per "
                    "producer session; use transactional.id)");
        return CRAWLLOG_ENOTSUP;
    }
    struct cl_kafka_producer *kp = cl_io_calloc(1, sizeof(*kp));
    if (kp == NULL) {
        cl_err_copy(errstr, errstr_size, "out of memory");
        return CRAWLLOG_ENOMEM;
    }
    if (pthread_mutex_init(&kp->lock, NULL) != 0) {
        cl_io_free(kp);
        cl_err_copy(errstr, errstr_size, "out of memory");
        return CRAWLLOG_ENOMEM;
    }
    if (pthread_mutex_init(&kp->enq, NULL) != 0) {
        pthread_mutex_destroy(&kp->lock);
        cl_io_free(kp);
        cl_err_copy(errstr, errstr_size, "out of memory");
        return CRAWLLOG_ENOMEM;
    }
    kp->log = log;
    kp->acks = (int)cl_conf_int(conf, CL_CONF_ACKS);
    kp->keyless = (int)cl_conf_int(conf, CL_CONF_PARTITIONER);
    kp->transactional = cl_conf_str(conf, CL_CONF_TRANSACTIONAL_ID)[0] != 0;
    atomic_init(&kp->rnd, (uint64_t)cl_io_mono_ns());
    kp->shell = cl_io_calloc(1, sizeof(*kp->shell));
    int rc = kp->shell != NULL ? crawllog_partitioner_state_new(&kp->pstate, 0)
                               : CRAWLLOG_ENOMEM;
    if (rc != 0) {
        snprintf(es, sizeof(es), "out of memory");
    }
    rd_kafka_conf_t *c = NULL;
    if (rc == 0 && (rc = kp_conf(kp, conf, &c, es, sizeof(es))) == 0) {
        kp->rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, es, sizeof(es));
        if (kp->rk == NULL) {
            rd_kafka_conf_destroy(c); /* kept only on success */
            rc = CRAWLLOG_EINVAL;
        }
    }
    if (rc == 0 && kp->transactional) {
        kp->shell->kafka = kp; /* cl_kafka_txn_call reports into kp->errmsg */
        rc = cl_kafka_txn_call(kp, "crawllog_producer_new (init transactions)",
                         rd_kafka_init_transactions);
        snprintf(es, sizeof(es), "%s", kp->errmsg);
    }
    if (rc != 0) {
        cl_err_copy(errstr, errstr_size, es);
        kp_free(kp);
        return rc;
    }
    kp->shell->kafka = kp;
    *prodp = kp->shell;
    cl_err_copy(errstr, errstr_size, "");
    return 0;
}

int cl_kafka_producer_destroy(crawllog_producer_t *prod)
{
    struct cl_kafka_producer *kp = kp_of(prod);
    if (kp->txn_open) {
        (void)cl_kafka_txn_abort(prod); /* as the file backend: abort */
    }
    int rc = cl_kafka_producer_flush(prod, KP_DESTROY_FLUSH_MS);
    kp_free(kp);
    return rc;
}

