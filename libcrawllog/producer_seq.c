/*
 * producer_seq.c - sending a caller-made batch, with the next sequence or
 * an explicit one (re-sends after a crash), and the producer's identity
 * (layer 3).  See producer.c for the acks levels and idem.c for the
 * sequence rules.
 *
 * Owns nothing on disk.  A batch is one RecordBatch: all its records are
 * written, or none.  With acks=0 it is written (to the OS) at once, after
 * the partition's buffered messages, under prod->lock, so that one
 * thread's records to one partition keep their order.
 *
 * Locks: prod->lock around acks=0 writes (then the partition's locks);
 * acks=1/all write with no producer lock, then acks=all waits in the
 * group commit.  Delivery reports run with no lock held.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "backend.h"
#include "conf.h"
#include "log.h"
#include "producer.h"
#include "txn.h"

struct batch_send {
    const char *topic;
    int32_t partition;       /* resolved */
    int32_t seq;             /* -1: next */
    const crawllog_record_t *recs;
    size_t n;
};

/* acks=0: write the partition's buffered messages, then the batch. */
static int write_after_buffered(crawllog_producer_t *prod,
                                struct batch_send *b, struct write_args *a,
                                struct cl_err *err)
{
    int rc = 0;
    pthread_mutex_lock(&prod->lock);
    struct cl_pbuf *pb = cl_producer_buf_get(prod, b->topic, b->partition);
    if (pb == NULL) {
        rc = cl_errf(err, CRAWLLOG_ENOMEM, "out of memory");
    } else if (pb->n > 0) {
        rc = cl_producer_buf_write(prod, pb, err);
    }
    if (rc == 0) {
        rc = cl_log_with_partition(prod->log, b->topic, b->partition,
                                   cl_producer_write_op, a, err);
    }
    pthread_mutex_unlock(&prod->lock);
    cl_producer_drain(prod);
    return rc;
}

static int send_batch(crawllog_producer_t *prod, struct batch_send *b,
                      int64_t *basep, int *dupp, struct cl_err *err)
{
    struct write_args a = CL_WRITE_ARGS(prod, b->recs, b->n,
                                        CRAWLLOG_SYNC_WRITTEN);
    a.seq = b->seq;
    int rc;
    if (prod->acks == CL_CONF_ACKS_0) {
        rc = write_after_buffered(prod, b, &a, err);
    } else {
        rc = cl_log_with_partition(prod->log, b->topic, b->partition,
                                   cl_producer_write_op, &a, err);
        if (rc == 0 && prod->acks == CL_CONF_ACKS_ALL) {
            rc = cl_producer_gc_commit(prod, a.part, err);
        }
    }
    if (rc == 0) {
        *basep = a.base;
        *dupp = a.dup;
    }
    if (prod->dr_cb != NULL && rc != CRAWLLOG_EINVAL &&
        rc != CRAWLLOG_ETOOBIG && rc != CRAWLLOG_ENOTOPIC &&
        rc != CRAWLLOG_ENOMEM) {
        for (size_t i = 0; i < b->n; i++) {
            int64_t off = rc == 0 && a.base >= 0 ? a.base + (int64_t)i : -1;
            prod->dr_cb(prod->dr_opaque, b->topic, b->partition, off, rc);
        }
    }
    return rc;
}

/* Check the arguments, resolve the partition and send. */
static int batch_entry(crawllog_producer_t *prod, const char *topic,
                       int32_t partition, int32_t seq,
                       const crawllog_record_t *recs, size_t n,
                       int64_t *basep, int *dupp)
{
    struct cl_err err;
    int64_t base = -1;
    int dup = 0, rc = 0;
    err.msg[0] = '\0';
    if (basep != NULL) {
        *basep = -1;
    }
    if (dupp != NULL) {
        *dupp = 0;
    }
    if (prod == NULL) {
        return CRAWLLOG_EINVAL;
    }
    if (topic == NULL || recs == NULL || n == 0 || n > INT32_MAX) {
        rc = cl_errf(&err, CRAWLLOG_EINVAL,
                     "topic and 1 or more records needed");
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = cl_producer_check_record(&recs[i], &err);
    }
    struct batch_send b = {topic, partition, seq, recs, n};
    if (rc == 0 && (rc = cl_producer_check_fenced(prod, &err)) == 0 &&
        (rc = cl_producer_choose(prod, topic, partition, &recs[0],
                                 &b.partition, &err)) == 0 &&
        (rc = cl_txn_on_send(prod, topic, b.partition, &err)) == 0) {
        rc = send_batch(prod, &b, &base, &dup, &err);
    }
    if (rc != 0) {
        cl_producer_fail(prod, rc, &err);
        cl_txn_send_failed(prod, rc); /* dooms an open transaction */
        return rc;
    }
    if (basep != NULL) {
        *basep = base;
    }
    if (dupp != NULL) {
        *dupp = dup;
    }
    return 0;
}

CRAWLLOG_API int crawllog_producer_send_batch(crawllog_producer_t *prod,
                                              const char *topic,
                                              int32_t partition,
                                              const crawllog_record_t *recs,
                                              size_t n, int64_t *base_offsetp)
{
    CL_BACKEND(prod, producer_send_batch, prod, topic, partition, recs, n,
               base_offsetp);
    return batch_entry(prod, topic, partition, -1, recs, n, base_offsetp,
                       NULL);
}

CRAWLLOG_API int crawllog_producer_send_sequenced(
    crawllog_producer_t *prod, const char *topic, int32_t partition,
    int32_t base_sequence, const crawllog_record_t *recs, size_t n,
    int64_t *base_offsetp, int *duplicatep)
{
    CL_BACKEND(prod, producer_send_sequenced, prod, topic, partition,
               base_sequence, recs, n, base_offsetp, duplicatep);
    struct cl_err err;
    if (prod != NULL && (!prod->idempotent || base_sequence < 0 ||
                         partition == CRAWLLOG_PARTITION_ANY)) {
        if (base_offsetp != NULL) {
            *base_offsetp = -1;
        }
        if (duplicatep != NULL) {
            *duplicatep = 0;
        }
        return cl_producer_fail(
            prod,
            cl_errf(&err, CRAWLLOG_EINVAL, "%s",
                    !prod->idempotent ? "explicit sequences need "
                                        "enable.idempotence=true"
                    : base_sequence < 0
                        ? "base_sequence must be >= 0"
                        : "explicit sequences need an explicit partition"),
            &err);
    }
    return batch_entry(prod, topic, partition, base_sequence, recs, n,
                       base_offsetp, duplicatep);
}

struct next_args {
    int64_t pid;
    int32_t seq;
};

static int next_op(struct cl_partition *part, void *arg, struct cl_err *err)
{
    struct next_args *a = arg;
    return cl_partition_idem_next(part, a->pid, &a->seq, err);
}

CRAWLLOG_API int crawllog_producer_next_sequence(crawllog_producer_t *prod,
                                                 const char *topic,
                                                 int32_t partition,
                                                 int32_t *seqp)
{
    CL_BACKEND(prod, producer_next_sequence, prod, topic, partition, seqp);
    struct cl_err err;
    int32_t n;
    if (seqp != NULL) {
        *seqp = -1;
    }
    if (prod == NULL) {
        return CRAWLLOG_EINVAL;
    }
    if (topic == NULL || seqp == NULL || !prod->idempotent) {
        return cl_producer_fail(
            prod,
            cl_errf(&err, CRAWLLOG_EINVAL, "%s",
                    prod->idempotent ? "topic and seqp needed"
                                     : "sequences need enable.idempotence"),
            &err);
    }
    int rc = cl_log_topic_partitions(prod->log, topic, &n, &err);
    if (rc == 0 && (partition < 0 || partition >= n)) {
        rc = cl_errf(&err, CRAWLLOG_EPARTITION,
                     "topic %s has no partition %" PRId32, topic, partition);
    }
    struct next_args a = {prod->id.pid, -1};
    if (rc == 0) {
        rc = cl_log_with_partition(prod->log, topic, partition, next_op, &a,
                                   &err);
    }
    if (rc != 0) {
        return cl_producer_fail(prod, rc, &err);
    }
    *seqp = a.seq;
    return 0;
}

CRAWLLOG_API int crawllog_producer_identity(const crawllog_producer_t *prod,
                                            int64_t *pidp, int16_t *epochp)
{
    CL_BACKEND(prod, producer_identity, prod, pidp, epochp);
    if (prod == NULL) {
        return CRAWLLOG_EINVAL;
    }
    if (pidp != NULL) {
        *pidp = prod->idempotent ? prod->id.pid : -1;
    }
    if (epochp != NULL) {
        *epochp = (int16_t)(prod->idempotent ? prod->id.epoch : -1);
    }
    return 0;
}
