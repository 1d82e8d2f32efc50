/*
 * producer.c - the producer: acks levels, acks=0 batching with linger,
 * acks=all group commit, partitioning and delivery reports (layer 3).
 *
 * The acks=0 buffers and the report queue are in producer_buf.c.
 * Owns nothing on disk: records are encoded into RecordBatch v2 batches
 * (record.c) and appended through the partition (partition.c), as
 * crawllog_append() does (append.c).
 *
 * acks=0: each send copies the record into the batch being collected for
 * its topic partition (struct cl_pbuf).  A batch is written with
 * CRAWLLOG_SYNC_WRITTEN when it would pass min(batch.size,
 * max.message.bytes), when its oldest message is older than linger.ms (seen
 * by send, poll and flush: no thread), on flush and on destroy.  Writes of
 * buffered batches happen under prod->lock, so the batches of one
 * partition reach the file in send order.
 *
 * acks=1: one batch per send, written before return.
 * acks=all: the same, then group commit: the sender adds its partition to
 * the dirty set and takes a ticket = the next sync round.  When no round
 * runs, a waiting thread starts one: the round takes the dirty set, and
 * every waiting thread claims one of its partitions not yet claimed and
 * fdatasyncs it (cl_partition_flush, DURABLE) with no producer lock held,
 * so several files are synced in parallel; whoever finishes the last one
 * marks the round done and wakes the others.  A failed round fails every
 * waiter of that round and of every later one (sticky: after a failed
 * fdatasync the partition refuses writes anyway - fsyncgate).
 *
 * Delivery reports: acks=0 reports are queued under prod->lock and handed
 * to the callback after the lock is released, by one draining thread at a
 * time (so one partition's reports keep their order); acks=1/all reports
 * are called by the sending thread after its send completed.
 *
 * Locks: prod->lock, then the partition's locks (inside
 * cl_partition_append).  gc.lock is never held with another lock.  No
 * callback runs under any lock; the custom partitioner runs under none.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "backend.h"
#include "conf.h"
#include "io.h"
#include "log.h"
#include "partitioner.h"
#include "producer.h"
#include "record.h"
#include "txn.h"

int cl_producer_fail(crawllog_producer_t *prod, int rc,
                     const struct cl_err *err)
{
    pthread_mutex_lock(&prod->lock);
    snprintf(prod->errmsg, sizeof(prod->errmsg), "%s", err->msg);
    pthread_mutex_unlock(&prod->lock);
    return rc;
}

/* ---- group commit (acks=all) ------------------------------------------- */

static int gc_add_dirty(struct cl_gcommit *gc, struct cl_partition *part)
{
    for (size_t i = 0; i < gc->dirty.n; i++) {
        if (gc->dirty.v[i] == part) {
            return 0;
        }
    }
    if (gc->dirty.n == gc->dirty.cap) {
        size_t ncap = gc->dirty.cap ? gc->dirty.cap * 2 : 16;
        void *p = cl_io_realloc(gc->dirty.v, ncap * sizeof(*gc->dirty.v));
        if (p == NULL) {
            return CRAWLLOG_ENOMEM;
        }
        gc->dirty.v = p;
        gc->dirty.cap = ncap;
    }
    gc->dirty.v[gc->dirty.n++] = part;
    return 0;
}

/* Start a round over the dirty set; gc->lock held. */
static void gc_start(struct cl_gcommit *gc)
{
    gc->round = gc->dirty;
    gc->dirty = gc->spare;
    gc->dirty.n = 0;
    gc->spare = (struct cl_partset){NULL, 0, 0};
    gc->claimed = 0;
    gc->pending = gc->round.n;
    gc->started++;
    gc->active = 1;
}

/* Sync one unclaimed partition of the running round; gc->lock held (and
 * released during the fdatasync).  The thread that finishes the last one
 * ends the round and wakes the waiters. */
static void gc_help(struct cl_gcommit *gc)
{
    struct cl_partition *part = gc->round.v[gc->claimed++];
    uint64_t round = gc->started;
    struct cl_err err;
    err.msg[0] = '\0';
    pthread_mutex_unlock(&gc->lock);
    int rc = cl_partition_flush(part, CRAWLLOG_SYNC_DURABLE, &err);
    pthread_mutex_lock(&gc->lock);
    if (rc != 0 && gc->fail_round == 0) {
        gc->failed_rc = rc;
        gc->fail_round = round;
        snprintf(gc->failmsg, sizeof(gc->failmsg), "%s", err.msg);
    }
    if (--gc->pending == 0) {
        gc->spare = gc->round;
        gc->round = (struct cl_partset){NULL, 0, 0};
        gc->done = round;
        gc->active = 0;
        pthread_cond_broadcast(&gc->cond);
    }
}

/*
 * Wait until part's data written so far is fdatasync'd.  Rounds run one
 * at a time; every waiting thread helps the running round by syncing one
 * of its partitions not yet claimed, so the fdatasyncs of different
 * partitions run in parallel and each covers every write made before it.
 */
static int gc_commit(struct cl_gcommit *gc, struct cl_partition *part,
                     struct cl_err *err)
{
    pthread_mutex_lock(&gc->lock);
    if (gc->fail_round == 0 && gc_add_dirty(gc, part) != 0) {
        pthread_mutex_unlock(&gc->lock); /* no memory: sync alone */
        return cl_partition_flush(part, CRAWLLOG_SYNC_DURABLE, err);
    }
    uint64_t ticket = gc->started + 1;
    while (gc->done < ticket && gc->fail_round == 0) {
        if (!gc->active) {
            gc_start(gc);
        }
        if (gc->claimed < gc->round.n) {
            gc_help(gc);
        } else {
            pthread_cond_wait(&gc->cond, &gc->lock);
        }
    }
    int rc = 0;
    if (gc->fail_round != 0 && ticket >= gc->fail_round) {
        rc = cl_errf(err, gc->failed_rc, "group fdatasync failed: %s",
                     gc->failmsg);
    }
    pthread_mutex_unlock(&gc->lock);
    return rc;
}

int cl_producer_gc_commit(crawllog_producer_t *prod,
                          struct cl_partition *part, struct cl_err *err)
{
    return gc_commit(&prod->gc, part, err);
}

int cl_producer_check_fenced(crawllog_producer_t *prod, struct cl_err *err)
{
    if (atomic_load_explicit(&prod->fenced, memory_order_relaxed)) {
        return cl_errf(err, CRAWLLOG_EFENCED,
                       "producer %" PRId64 " epoch %d was fenced by a newer "
                       "instance with the same producer.id; destroy it",
                       prod->id.pid, prod->id.epoch);
    }
    return 0;
}

/* ---- send -------------------------------------------------------------- */

int cl_producer_check_record(const crawllog_record_t *rec,
                             struct cl_err *err)
{
    if (rec->header_count > 0 && rec->headers == NULL) {
        return cl_errf(err, CRAWLLOG_EINVAL, "headers is NULL");
    }
    for (size_t h = 0; h < rec->header_count; h++) {
        if (rec->headers[h].name == NULL) {
            return cl_errf(err, CRAWLLOG_EINVAL, "header %zu has no name", h);
        }
    }
    if ((rec->key && rec->key_len > INT32_MAX) ||
        (rec->value && rec->value_len > INT32_MAX)) {
        return cl_errf(err, CRAWLLOG_ETOOBIG, "key or value over 2 GiB");
    }
    return 0;
}

/* splitmix64 of a shared counter: lock-free randomness for murmur2_random. */
static uint64_t next_random(crawllog_producer_t *prod)
{
    uint64_t z = atomic_fetch_add_explicit(&prod->rnd, 0x9e3779b97f4a7c15u,
                                           memory_order_relaxed);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

int cl_producer_choose(crawllog_producer_t *prod, const char *topic,
                       int32_t partition, const crawllog_record_t *rec,
                       int32_t *outp, struct cl_err *err)
{
    int32_t n;
    int rc = cl_log_topic_partitions(prod->log, topic, &n, err);
    if (rc != 0) {
        return rc;
    }
    if (partition == CRAWLLOG_PARTITION_ANY && rec->key == NULL &&
        prod->custom == NULL &&
        prod->keyless == CL_CONF_PARTITIONER_MURMUR2_RANDOM) {
        partition = (int32_t)(next_random(prod) % (uint64_t)n);
    }
    rc = cl_partitioner_choose(prod->custom, prod->custom_opaque,
                               prod->pstate, topic, partition, rec->key,
                               rec->key_len, n,
                               prod->keyless == CL_CONF_PARTITIONER_STICKY,
                               outp);
    if (rc != 0) {
        return cl_errf(err, rc, "topic %s: no valid partition (%" PRId32
                       " asked, %" PRId32 " partitions)",
                       topic, partition, n);
    }
    return 0;
}

/* The topic's max.message.bytes, learnt once per partition batch (it is
 * fixed when the topic is created). */
static int learn_max_bytes(crawllog_producer_t *prod, const char *topic,
                           int32_t p, const crawllog_record_t *rec,
                           size_t *maxp, struct cl_err *err)
{
    struct write_args a = CL_WRITE_ARGS(prod, rec, 1, 0);
    a.check_only = 1;
    int rc = cl_log_with_partition(prod->log, topic, p, cl_producer_write_op,
                                   &a, err);
    if (rc == 0 || rc == CRAWLLOG_ETOOBIG) {
        *maxp = a.max_bytes;
    }
    return rc;
}

/* acks=0: copy the record into its partition's batch.  prod->lock is
 * taken once; the topic's size limit is cached in the batch. */
static int send_buffered(crawllog_producer_t *prod, const char *topic,
                         int32_t p, const crawllog_record_t *rec,
                         struct cl_err *err)
{
    size_t size = cl_record_batch_size(rec, 1);
    if (size == 0) {
        return cl_errf(err, CRAWLLOG_EINVAL, "record cannot be encoded");
    }
    /* In a batch, offset and timestamp deltas take up to 5 + 10 bytes
     * more than in a batch of one. */
    size_t est = size - CL_BATCH_HEADER_SIZE + 16;
    int64_t now = cl_io_now_ms();
    crawllog_record_t r = *rec;
    if (r.timestamp < 0) {
        r.timestamp = now;
    }
    pthread_mutex_lock(&prod->lock);
    struct cl_pbuf *pb = cl_producer_buf_get(prod, topic, p);
    int rc = 0, wrc = 0;
    struct cl_err e2;
    if (pb == NULL) {
        rc = cl_errf(err, CRAWLLOG_ENOMEM, "out of memory");
    } else if (pb->max_bytes == 0) {
        pthread_mutex_unlock(&prod->lock); /* no I/O under prod->lock */
        size_t max = 0;
        rc = learn_max_bytes(prod, topic, p, rec, &max, err);
        pthread_mutex_lock(&prod->lock);
        pb->max_bytes = max;
    }
    if (rc == 0 && size > pb->max_bytes) {
        rc = cl_errf(err, CRAWLLOG_ETOOBIG,
                     "topic %s: record of %zu bytes exceeds "
                     "max.message.bytes %zu",
                     topic, size, pb->max_bytes);
    }
    if (rc == 0) {
        size_t limit = (size_t)prod->batch_size < pb->max_bytes
                           ? (size_t)prod->batch_size : pb->max_bytes;
        if (pb->n > 0 && CL_BATCH_HEADER_SIZE + pb->est + est > limit) {
            wrc = cl_producer_buf_write(prod, pb, &e2);
        }
        if (pb->n == 0) {
            pb->first_ms = now;
        }
        /* A report slot for every buffered message (see
         * cl_producer_reserve_reports). */
        rc = cl_producer_reserve_reports(prod, prod->nbuffered + 1);
        if (rc == 0) {
            rc = cl_producer_buf_add(pb, &r, est);
        }
        if (rc == 0) {
            prod->nbuffered++;
            if (CL_BATCH_HEADER_SIZE + pb->est >= limit) {
                wrc = wrc ? wrc : cl_producer_buf_write(prod, pb, &e2);
            }
        } else {
            cl_errf(err, rc, "out of memory");
        }
        if (wrc == 0) {
            wrc = cl_producer_write_due(prod, 0, now, &e2);
        }
        if (wrc != 0 && prod->async_rc == 0) {
            prod->async_rc = wrc;
            snprintf(prod->errmsg, sizeof(prod->errmsg), "%s", e2.msg);
        }
    }
    pthread_mutex_unlock(&prod->lock);
    cl_producer_drain(prod);
    return rc;
}

/* Errors a send returns without a delivery report: the message was
 * refused before any write. */
static int refused(int rc)
{
    return rc == CRAWLLOG_EINVAL || rc == CRAWLLOG_ETOOBIG ||
           rc == CRAWLLOG_ENOTOPIC || rc == CRAWLLOG_EPARTITION ||
           rc == CRAWLLOG_ENOMEM;
}

/* acks=1/all: write now (and with all, wait for the group fdatasync). */
static int send_direct(crawllog_producer_t *prod, const char *topic,
                       int32_t p, const crawllog_record_t *rec,
                       int64_t *offsetp, struct cl_err *err)
{
    struct write_args a = CL_WRITE_ARGS(prod, rec, 1, CRAWLLOG_SYNC_WRITTEN);
    int rc = cl_log_with_partition(prod->log, topic, p, cl_producer_write_op,
                                   &a, err);
    if (rc == 0 && prod->acks == CL_CONF_ACKS_ALL) {
        rc = gc_commit(&prod->gc, a.part, err);
    }
    if (rc == 0) {
        *offsetp = a.base;
    }
    if (prod->dr_cb != NULL && !refused(rc)) {
        prod->dr_cb(prod->dr_opaque, topic, p, rc == 0 ? a.base : -1, rc);
    }
    return rc;
}

CRAWLLOG_API int crawllog_producer_send_record(crawllog_producer_t *prod,
                                               const char *topic,
                                               int32_t partition,
                                               const crawllog_record_t *rec,
                                               int64_t *offsetp)
{
    CL_BACKEND(prod, producer_send_record, prod, topic, partition, rec,
               offsetp);
    struct cl_err err;
    int64_t off = -1;
    int32_t p = -1;
    int rc;
    err.msg[0] = '\0';
    if (offsetp != NULL) {
        *offsetp = -1;
    }
    if (prod == NULL) {
        return CRAWLLOG_EINVAL;
    }
    if (topic == NULL || rec == NULL) {
        rc = cl_errf(&err, CRAWLLOG_EINVAL, "topic and record needed");
    } else if ((rc = cl_producer_check_fenced(prod, &err)) == 0 &&
               (rc = cl_producer_check_record(rec, &err)) == 0 &&
               (rc = cl_producer_choose(prod, topic, partition, rec, &p,
                                        &err)) == 0 &&
               (rc = cl_txn_on_send(prod, topic, p, &err)) == 0) {
        rc = prod->acks == CL_CONF_ACKS_0
                 ? send_buffered(prod, topic, p, rec, &err)
                 : send_direct(prod, topic, p, rec, &off, &err);
    }
    if (rc != 0) {
        cl_producer_fail(prod, rc, &err);
        cl_txn_send_failed(prod, rc); /* dooms an open transaction */
        return rc;
    }
    if (offsetp != NULL) {
        *offsetp = off;
    }
    return 0;
}

CRAWLLOG_API int crawllog_producer_send(crawllog_producer_t *prod,
                                        const char *topic, int32_t partition,
                                        const void *key, size_t keylen,
                                        const void *value, size_t vlen,
                                        const crawllog_header_t *headers,
                                        size_t nheaders, int64_t *offsetp)
{
    CL_BACKEND(prod, producer_send, prod, topic, partition, key, keylen, value,
               vlen, headers, nheaders, offsetp);
    crawllog_record_t rec = {key, keylen, value, vlen, -1, headers, nheaders};
    return crawllog_producer_send_record(prod, topic, partition, &rec,
                                         offsetp);
}

/* ---- poll, flush ------------------------------------------------------- */

CRAWLLOG_API int crawllog_producer_poll(crawllog_producer_t *prod)
{
    CL_BACKEND(prod, producer_poll, prod);
    struct cl_err err;
    err.msg[0] = '\0';
    if (prod == NULL) {
        return CRAWLLOG_EINVAL;
    }
    pthread_mutex_lock(&prod->lock);
    int rc = cl_producer_write_due(prod, 0, cl_io_now_ms(), &err);
    if (rc != 0 && prod->async_rc == 0) {
        prod->async_rc = rc;
    }
    if (rc != 0) {
        snprintf(prod->errmsg, sizeof(prod->errmsg), "%s", err.msg);
    }
    pthread_mutex_unlock(&prod->lock);
    int n = cl_producer_drain(prod);
    return rc != 0 ? rc : n;
}

CRAWLLOG_API int crawllog_producer_flush(crawllog_producer_t *prod,
                                         int timeout_ms)
{
    CL_BACKEND(prod, producer_flush, prod, timeout_ms);
    struct cl_err err;
    err.msg[0] = '\0';
    (void)timeout_ms;
    if (prod == NULL) {
        return CRAWLLOG_EINVAL;
    }
    pthread_mutex_lock(&prod->lock);
    int rc = cl_producer_write_due(prod, 1, cl_io_now_ms(), &err);
    if (rc != 0) {
        snprintf(prod->errmsg, sizeof(prod->errmsg), "%s", err.msg);
    } else {
        rc = prod->async_rc;
    }
    prod->async_rc = 0;
    pthread_mutex_unlock(&prod->lock);
    cl_producer_drain(prod);
    return rc;
}

/* ---- lifecycle --------------------------------------------------------- */

static int producer_init(crawllog_producer_t *prod, const crawllog_conf_t *conf)
{
    prod->id.fd = -1;
    prod->idempotent = (int)cl_conf_int(conf, CL_CONF_ENABLE_IDEMPOTENCE);
    atomic_init(&prod->fenced, 0);
    prod->acks = (int)cl_conf_int(conf, CL_CONF_ACKS);
    prod->linger_ms = cl_conf_int(conf, CL_CONF_LINGER_MS);
    atomic_init(&prod->queued, 0);
    prod->batch_size = cl_conf_int(conf, CL_CONF_BATCH_SIZE);
    prod->keyless = (int)cl_conf_int(conf, CL_CONF_PARTITIONER);
    atomic_init(&prod->rnd, (uint64_t)cl_io_mono_ns());
    int rc = crawllog_partitioner_state_new(&prod->pstate, 0);
    if (rc != 0) {
        return rc;
    }
    if (pthread_mutex_init(&prod->lock, NULL) != 0) {
        return CRAWLLOG_ENOMEM;
    }
    if (pthread_mutex_init(&prod->gc.lock, NULL) != 0) {
        pthread_mutex_destroy(&prod->lock);
        return CRAWLLOG_ENOMEM;
    }
    if (pthread_cond_init(&prod->gc.cond, NULL) != 0) {
        pthread_mutex_destroy(&prod->gc.lock);
        pthread_mutex_destroy(&prod->lock);
        return CRAWLLOG_ENOMEM;
    }
    return 0;
}

CRAWLLOG_API int crawllog_producer_new(crawllog_t *log,
                                       const crawllog_conf_t *conf,
                                       crawllog_producer_t **prodp,
                                       char *errstr, size_t errstr_size)
{
    CL_BACKEND(log, producer_new, log, conf, prodp, errstr, errstr_size);
    if (prodp != NULL) {
        *prodp = NULL;
    }
    if (log == NULL || prodp == NULL) {
        cl_err_copy(errstr, errstr_size, "log and prodp needed");
        return CRAWLLOG_EINVAL;
    }
    const char *name = cl_conf_str(conf, CL_CONF_PRODUCER_ID);
    const char *txnid = cl_conf_str(conf, CL_CONF_TRANSACTIONAL_ID);
    if (name[0] != '\0' &&
        !cl_conf_int(conf, CL_CONF_ENABLE_IDEMPOTENCE)) {
        cl_err_copy(errstr, errstr_size,
                    "producer.id: needs enable.idempotence=true");
        return CRAWLLOG_EINVAL;
    }
    if (txnid[0] != '\0') {
        const char *why = NULL;
        if (!cl_conf_int(conf, CL_CONF_ENABLE_IDEMPOTENCE)) {
            why = "transactional.id: needs enable.idempotence=true";
        } else if (name[0] != '\0' && strcmp(name, txnid) != 0) {
            why = "transactional.id: producer.id must be empty or the "
                  "same name";
        }
        if (why != NULL) {
            cl_err_copy(errstr, errstr_size, why);
            return CRAWLLOG_EINVAL;
        }
        name = txnid; /* the id's registry entry fences older instances */
    }
    crawllog_producer_t *prod = cl_io_calloc(1, sizeof(*prod));
    int rc = prod != NULL ? producer_init(prod, conf) : CRAWLLOG_ENOMEM;
    if (rc != 0) {
        if (prod != NULL) {
            crawllog_partitioner_state_destroy(prod->pstate);
        }
        cl_io_free(prod);
        cl_err_copy(errstr, errstr_size, "out of memory");
        return rc;
    }
    prod->log = log;
    if (prod->idempotent) {
        struct cl_err err;
        rc = cl_prodid_acquire(&prod->id, log->rootfd, name, log->dmode,
                               log->fmode, &err);
        if (rc != 0) {
            cl_err_copy(errstr, errstr_size, err.msg);
            prod->idempotent = 0; /* nothing to flush */
            crawllog_producer_destroy(prod);
            return rc;
        }
        if (txnid[0] != '\0' &&
            (rc = cl_txn_init(prod, txnid,
                              cl_conf_int(conf, CL_CONF_TRANSACTION_TIMEOUT_MS),
                              &err)) != 0) {
            cl_err_copy(errstr, errstr_size, err.msg);
            crawllog_producer_destroy(prod);
            return rc;
        }
    }
    *prodp = prod;
    cl_err_copy(errstr, errstr_size, "");
    return 0;
}

CRAWLLOG_API int crawllog_producer_destroy(crawllog_producer_t *prod)
{
    CL_BACKEND(prod, producer_destroy, prod);
    if (prod == NULL) {
        return 0;
    }
    cl_txn_destroy(prod); /* aborts an open transaction */
    int rc = crawllog_producer_flush(prod, -1);
    cl_producer_bufs_free(prod);
    cl_io_free(prod->reports);
    cl_io_free(prod->gc.dirty.v);
    cl_io_free(prod->gc.round.v);
    cl_io_free(prod->gc.spare.v);
    crawllog_partitioner_state_destroy(prod->pstate);
    cl_prodid_release(&prod->id);
    pthread_cond_destroy(&prod->gc.cond);
    pthread_mutex_destroy(&prod->gc.lock);
    pthread_mutex_destroy(&prod->lock);
    cl_io_free(prod);
    return rc;
}

CRAWLLOG_API int crawllog_producer_set_partitioner(crawllog_producer_t *prod,
                                                   crawllog_partitioner_fn *fn,
                                                   void *opaque)
{
    CL_BACKEND(prod, producer_set_partitioner, prod, fn, opaque);
    if (prod == NULL) {
        return CRAWLLOG_EINVAL;
    }
    prod->custom = fn;
    prod->custom_opaque = opaque;
    return 0;
}

CRAWLLOG_API int crawllog_producer_set_delivery_cb(crawllog_producer_t *prod,
                                                   crawllog_delivery_cb *cb,
                                                   void *opaque)
{
    CL_BACKEND(prod, producer_set_delivery_cb, prod, cb, opaque);
    if (prod == NULL) {
        return CRAWLLOG_EINVAL;
    }
    prod->dr_cb = cb;
    prod->dr_opaque = opaque;
    return 0;
}

CRAWLLOG_API const char *
crawllog_producer_errmsg(const crawllog_producer_t *prod)
{
    CL_BACKEND(prod, producer_errmsg, prod);
    return prod != NULL ? prod->errmsg : "";
}
