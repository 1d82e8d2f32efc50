/*
 * append.c - the public data-path calls on a crawllog_t: append a batch,
 * flush buffered and unsynced data, read a partition's offsets (layer 2);
 * and the redirect of writes to a migrated topic (cl_append_redirect).
 *
 * Owns nothing on disk itself: it encodes the records into one RecordBatch
 * (record.c) outside any lock and hands it to the partition (partition.c),
 * which assigns offsets and writes under the partition's locks.
 *
 * Invariants: records are validated and the batch is checked against
 * max.message.bytes before any lock is taken, so a refused append writes
 * nothing.  A partition whose topic was deleted (and maybe re-created) by
 * another process is forgotten and looked up once more (log.c,
 * cl_log_with_partition).
 *
 * Redirect (docs/MIGRATION.md): every write to a partition - an append of
 * this file, any producer send, buffered batches being flushed - reaches
 * partition.c, which under the partition's lock checks its migration word
 * (pstate.h) and, if set, calls cl_append_redirect instead of writing.
 * The hook takes the partition's buffered batches with it, releases the
 * lock and, unless the word is REDIRECT and the handle knows the cut-over,
 * waits for any cut-over to end and lets the migration file decide
 * (migrate.c; a stale word - a dead cut-over's fence, a damaged
 * partition.state - is cleared and the batches are written here after
 * all).  Otherwise it decodes the batches and writes their records to
 * the migration target, one batch per target partition (migrate.c's rule:
 * murmur2(key) % N, keyless p % N), in the records' order.  Idempotent
 * batches keep their producer id and epoch; the target partition assigns
 * the sequences.  The partition's write generation is bumped, so that a
 * later durable flush of it (acks=all) comes back here and makes the
 * target partitions durable.
 *
 * Locks: none held here except by the hook, which is entered with the
 * partition's locks and releases them before writing elsewhere.
 */
#include <inttypes.h>
#include <stdio.h>

#include "backend.h"
#include "bytes.h"
#include "control.h"
#include "io.h"
#include "log.h"
#include "migrate.h"
#include "record.h"

/* ---- append, flush, offsets ------------------------------------------- */

static int check_records(const crawllog_record_t *records, size_t count,
                         struct cl_err *err)
{
    if (records == NULL || count == 0 || count > INT32_MAX) {
        return cl_errf(err, CRAWLLOG_EINVAL, "need 1..2^31-1 records");
    }
    for (size_t i = 0; i < count; i++) {
        const crawllog_record_t *r = &records[i];
        if (r->header_count > 0 && r->headers == NULL) {
            return cl_errf(err, CRAWLLOG_EINVAL,
                           "record %zu: headers is NULL", i);
        }
        for (size_t h = 0; h < r->header_count; h++) {
            if (r->headers[h].name == NULL) {
                return cl_errf(err, CRAWLLOG_EINVAL,
                               "record %zu: header %zu has no name", i, h);
            }
        }
    }
    return 0;
}

struct append_args {
    const crawllog_record_t *records;
    size_t count;
    int sync;
    int64_t base;
};

static int append_one(struct cl_partition *part, void *arg,
                      struct cl_err *err)
{
    struct append_args *a = arg;
    size_t size = cl_record_batch_size(a->records, a->count);
    if (size == 0 || size > (size_t)part->conf.max_message_bytes) {
        return cl_errf(err, CRAWLLOG_ETOOBIG,
                       "%s: batch of %zu bytes exceeds max.message.bytes "
                       "%" PRId64,
                       part->reldir, size, part->conf.max_message_bytes);
    }
    uint8_t *buf = cl_io_malloc(size);
    if (buf == NULL) {
        return cl_errf(err, CRAWLLOG_ENOMEM, "out of memory");
    }
    int rc = CRAWLLOG_EINVAL;
    if (cl_record_batch_encode(buf, size, a->records, a->count,
                               cl_io_now_ms(), NULL) != size) {
        cl_errf(err, rc, "records could not be encoded");
    } else {
        rc = cl_partition_append(part, buf, size, 1, a->sync, &a->base, err);
    }
    cl_io_free(buf);
    return rc;
}

int crawllog_append(crawllog_t *log, const char *topic, int32_t partition,
                    const crawllog_record_t *records, size_t count, int sync,
                    int64_t *base_offsetp)
{
    CL_BACKEND(log, append, log, topic, partition, records, count, sync,
               base_offsetp);
    struct cl_err err;
    err.msg[0] = '\0'; /* not {0}: 512 bytes per record */
    struct append_args args = {records, count, sync, -1};
    int rc;
    if (base_offsetp) {
        *base_offsetp = -1;
    }
    if (log == NULL) {
        return CRAWLLOG_EINVAL;
    }
    if (topic == NULL || sync < CRAWLLOG_SYNC_NONE ||
        sync > CRAWLLOG_SYNC_DURABLE) {
        cl_errf(&err, CRAWLLOG_EINVAL, "topic and a valid sync mode needed");
        return cl_log_fail(log, CRAWLLOG_EINVAL, &err);
    }
    if ((rc = check_records(records, count, &err)) != 0) {
        return cl_log_fail(log, rc, &err);
    }
    rc = cl_log_with_partition(log, topic, partition, append_one, &args, &err);
    if (rc != 0) {
        return cl_log_fail(log, rc, &err);
    }
    if (base_offsetp) {
        *base_offsetp = args.base;
    }
    return 0;
}

int crawllog_flush(crawllog_t *log, int sync)
{
    CL_BACKEND(log, flush, log, sync);
    struct cl_err err = {{0}};
    struct cl_partition **parts;
    size_t n;
    int first = 0;
    if (log == NULL || sync < CRAWLLOG_SYNC_NONE ||
        sync > CRAWLLOG_SYNC_DURABLE) {
        return log ? cl_log_fail(log, cl_errf(&err, CRAWLLOG_EINVAL,
                                              "invalid sync mode %d", sync),
                                 &err)
                   : CRAWLLOG_EINVAL;
    }
    int rc = cl_log_open_partitions(log, &parts, &n);
    if (rc != 0) {
        cl_errf(&err, rc, "out of memory");
        return cl_log_fail(log, rc, &err);
    }
    /* Partition objects live until close, so no lock is needed now. */
    first = cl_log_flush_parts(log, parts, n, sync, &err);
    cl_io_free(parts);
    return first ? cl_log_fail(log, first, &err) : 0;
}

struct offsets_args {
    int64_t start, end;
};

static int offsets_one(struct cl_partition *part, void *arg,
                       struct cl_err *err)
{
    struct offsets_args *a = arg;
    /* The offsets come from the shared state without the lock: check that
     * the topic was not deleted (maybe re-created) under a cached handle,
     * so that cl_log_with_partition() reloads it instead of reporting stale
     * offsets. */
    if (cl_pstate_unlinked(&part->ps)) {
        return cl_errf(err, CRAWLLOG_ENOTOPIC, "%s: partition was deleted",
                       part->reldir);
    }
    return cl_partition_offsets(part, &a->start, &a->end, err);
}

int crawllog_partition_offsets(crawllog_t *log, const char *topic,
                               int32_t partition, int64_t *startp,
                               int64_t *endp)
{
    CL_BACKEND(log, partition_offsets, log, topic, partition, startp, endp);
    struct cl_err err = {{0}};
    struct offsets_args args = {-1, -1};
    if (startp) {
        *startp = -1;
    }
    if (endp) {
        *endp = -1;
    }
    if (log == NULL || topic == NULL) {
        return log ? cl_log_fail(log, cl_errf(&err, CRAWLLOG_EINVAL,
                                              "topic is NULL"), &err)
                   : CRAWLLOG_EINVAL;
    }
    int rc = cl_log_with_partition(log, topic, partition, offsets_one, &args, &err);
    if (rc != 0) {
        return cl_log_fail(log, rc, &err);
    }
    if (startp) {
        *startp = args.start;
    }
    if (endp) {
        *endp = args.end;
    }
    return 0;
}


/* ---- redirect to a migration target ------------------------------------ */

struct redirect_args {
    uint8_t *buf;
    size_t size;
    int sync;
    const struct cl_idem_req *req; /* NULL: a plain batch */
    int64_t base;
};

static int redirect_op(struct cl_partition *part, void *arg,
                       struct cl_err *err)
{
    struct redirect_args *a = arg;
    if (a->size > (size_t)part->conf.max_message_bytes) {
        return cl_errf(err, CRAWLLOG_ETOOBIG,
                       "%s: redirected batch of %zu bytes exceeds "
                       "max.message.bytes %" PRId64,
                       part->reldir, a->size, part->conf.max_message_bytes);
    }
    if (a->req == NULL) {
        return cl_partition_append(part, a->buf, a->size, 1, a->sync,
                                   &a->base, err);
    }
    struct cl_idem_req r = {.pid = a->req->pid, .epoch = a->req->epoch,
                            .seq = -1,
                            .count = cl_get_i32(a->buf +
                                                CL_BATCH_OFF_RECORDS_COUNT),
                            .live = a->req->live,
                            .live_epoch = a->req->live_epoch};
    return cl_partition_append_idem(part, a->buf, a->size, a->sync, &r,
                                    &a->base, err);
}

/* The records of one batch as crawllog_record_t views (recs[n], hdrs for
 * every header), each with its target partition in qs. */
struct decoded {
    crawllog_record_t *recs;
    crawllog_header_t *hdrs;
    int32_t *qs;
    size_t n;
};

static int decode_batch(const uint8_t *b, size_t total, int32_t oldp,
                        int32_t nparts, struct decoded *d,
                        struct cl_err *err)
{
    struct cl_record_iter it;
    struct cl_record_view rv;
    size_t nh = 0, i = 0, h = 0;
    int rc = cl_record_iter_init(&it, b, total);
    while (rc == 0 && (rc = cl_record_iter_next(&it, &rv)) == 0) {
        nh += (size_t)rv.header_count;
        i++;
    }
    if (rc < 0) {
        return cl_errf(err, CRAWLLOG_ECORRUPT, "redirect: bad batch");
    }
    d->n = i;
    d->recs = cl_io_calloc(i ? i : 1, sizeof(*d->recs));
    d->qs = cl_io_calloc(i ? i : 1, sizeof(*d->qs));
    d->hdrs = cl_io_calloc(nh ? nh : 1, sizeof(*d->hdrs));
    if (d->recs == NULL || d->qs == NULL || d->hdrs == NULL) {
        return cl_errf(err, CRAWLLOG_ENOMEM, "out of memory");
    }
    cl_record_iter_init(&it, b, total);
    for (i = 0; i < d->n && cl_record_iter_next(&it, &rv) == 0; i++) {
        crawllog_record_t *r = &d->recs[i];
        r->key = rv.key_len < 0 ? NULL : rv.key;
        r->key_len = rv.key_len < 0 ? 0 : (size_t)rv.key_len;
        r->value = rv.value_len < 0 ? NULL : rv.value;
        r->value_len = rv.value_len < 0 ? 0 : (size_t)rv.value_len;
        r->timestamp = rv.timestamp;
        r->headers = rv.header_count > 0 ? &d->hdrs[h] : NULL;
        r->header_count = (size_t)rv.header_count;
        for (int32_t k = 0; k < rv.header_count; k++) {
            if (cl_record_header_at(&rv, (size_t)k, &d->hdrs[h++]) != 0) {
                return cl_errf(err, CRAWLLOG_ECORRUPT, "redirect: bad header");
            }
        }
        d->qs[i] = cl_migrate_route(r->key, r->key_len, oldp, nparts);
    }
    return 0;
}

static void decoded_free(struct decoded *d)
{
    cl_io_free(d->recs);
    cl_io_free(d->hdrs);
    cl_io_free(d->qs);
}

/* Write the records of one decoded batch to the target, one batch per
 * target partition in the order of their first record; *basep: the
 * offset of the batch holding record 0 (if first). */
static int redirect_groups(crawllog_t *log, const struct cl_mig_cache *mig,
                           const struct decoded *d,
                           const struct cl_batch_hdr *h,
                           const struct cl_idem_req *req, int sync,
                           int first, int64_t *basep, struct cl_err *err)
{
    int rc = 0;
    uint8_t *done = cl_io_calloc(d->n ? d->n : 1, 1);
    crawllog_record_t *g = cl_io_calloc(d->n ? d->n : 1, sizeof(*g));
    if (done == NULL || g == NULL) {
        rc = cl_errf(err, CRAWLLOG_ENOMEM, "out of memory");
    }
    for (size_t i = 0; rc == 0 && i < d->n; i++) {
        if (done[i]) {
            continue;
        }
        size_t k = 0;
        for (size_t j = i; j < d->n; j++) {
            if (!done[j] && d->qs[j] == d->qs[i]) {
                g[k++] = d->recs[j];
                done[j] = 1;
            }
        }
        struct cl_batch_meta meta = CL_BATCH_META_NONE;
        if (req != NULL) {
            meta.producer_id = h->producer_id;
            meta.producer_epoch = h->producer_epoch;
            meta.base_sequence = 0;
        }
        struct redirect_args a = {NULL, cl_record_batch_size(g, k), sync,
                                  req, -1};
        a.buf = a.size ? cl_io_malloc(a.size) : NULL;
        if (a.buf == NULL) {
            rc = cl_errf(err, a.size ? CRAWLLOG_ENOMEM : CRAWLLOG_EINVAL,
                         "redirect: cannot encode %zu records", k);
        } else if (cl_record_batch_encode(a.buf, a.size, g, k,
                                          cl_io_now_ms(), &meta) != a.size) {
            rc = cl_errf(err, CRAWLLOG_EINVAL, "redirect: cannot encode");
        } else {
            rc = cl_log_with_partition(log, mig->target, d->qs[i],
                                       redirect_op, &a, err);
        }
        if (rc == 0 && first && i == 0) {
            *basep = a.base;
        }
        cl_io_free(a.buf);
    }
    cl_io_free(done);
    cl_io_free(g);
    return rc;
}

/* Redirect buf (batches back to back) of old partition oldp. */
static int redirect_batches(crawllog_t *log, const struct cl_mig_cache *mig,
                            int32_t oldp, const uint8_t *buf, size_t len,
                            const struct cl_idem_req *req, int sync,
                            int64_t *basep, struct cl_err *err)
{
    for (size_t p = 0; p < len;) {
        struct cl_batch_hdr h;
        struct decoded d = {NULL, NULL, NULL, 0};
        if (cl_record_batch_header(buf + p, len - p, &h) != 0 ||
            cl_record_batch_total(&h) > len - p) {
            return cl_errf(err, CRAWLLOG_ECORRUPT, "redirect: bad batch");
        }
        size_t total = cl_record_batch_total(&h);
        if (cl_control_is_control(h.attributes)) {
            /* A transaction marker decides nothing here: the cut-over
             * waits for every open transaction of the old partitions
             * (migrate.c), and no transactional record is redirected. */
            p += total;
            continue;
        }
        if (cl_control_is_transactional(h.attributes)) {
            return cl_errf(err, CRAWLLOG_EBUSY, "partition %d was migrated: "
                           "a transaction cannot write to it (send to the "
                           "migration's new topic)", (int)oldp);
        }
        int rc = decode_batch(buf + p, total, oldp, mig->nparts, &d, err);
        if (rc == 0) {
            rc = redirect_groups(log, mig, &d, &h, req, sync, p == 0, basep,
                                 err);
        }
        decoded_free(&d);
        if (rc != 0) {
            return rc;
        }
        p += total;
    }
    return 0;
}

/* Write into part itself after all (a stale fence was lifted). */
static int append_here(struct cl_partition *part, uint8_t *pend,
                       size_t plen, size_t npend, uint8_t *buf, size_t len,
                       struct cl_idem_req *req, int sync, int64_t *basep,
                       struct cl_err *err)
{
    int64_t b;
    int rc = plen > 0 ? cl_partition_append(part, pend, plen, npend,
                                            CRAWLLOG_SYNC_WRITTEN, &b, err)
                      : 0;
    if (rc != 0 || buf == NULL) {
        return rc == 0 && sync == CRAWLLOG_SYNC_DURABLE
                   ? cl_partition_flush(part, sync, err)
                   : rc;
    }
    return req != NULL
               ? cl_partition_append_idem(part, buf, len, sync, req, basep,
                                          err)
               : cl_partition_append(part, buf, len, 1, sync, basep, err);
}

int cl_append_redirect(struct cl_partition *part, uint8_t *buf, size_t len,
                       struct cl_idem_req *req, int sync, int64_t *basep,
                       struct cl_err *err)
{
    struct cl_topic_rt *t = part->redirect_ctx;
    struct cl_mig_cache mig;
    uint8_t *pend = part->pend;
    size_t plen = part->pend_len, npend = part->pend_n;
    part->pend = NULL;
    part->pend_len = part->pend_cap = part->pend_n = 0;
    part->write_gen++;
    uint32_t word = cl_pstate_migration(&part->ps);
    cl_partition_unlock(part);
    *basep = -1;
    if (req != NULL) {
        req->dup = 0;
        req->dup_offset = -1;
    }
    /* Fast path: marked REDIRECT and known to be cut over.  Otherwise
     * (a fence, a cut-over this handle has not seen, a damaged state) the
     * migration file decides, read under crawllog.lock. */
    int rc = word == CL_PSTATE_MIG_REDIRECT
                 ? cl_log_migration(t->log, t->name, 0, &mig, err)
                 : 0;
    if (rc == 0 && (word != CL_PSTATE_MIG_REDIRECT ||
                    mig.state < CRAWLLOG_MIGRATION_REDIRECT)) {
        rc = cl_migrate_wait_cutover(t->log, t->name, part, &mig, err);
    }
    if (rc == 0 && mig.state < CRAWLLOG_MIGRATION_REDIRECT) {
        rc = append_here(part, pend, plen, npend, buf, len, req, sync, basep,
                         err);
    } else if (rc == 0) {
        int64_t b;
        int wsync = sync > CRAWLLOG_SYNC_WRITTEN ? sync
                                                 : CRAWLLOG_SYNC_WRITTEN;
        rc = plen > 0 ? redirect_batches(t->log, &mig, part->id, pend, plen,
                                         NULL, wsync, &b, err)
                      : 0;
        if (rc == 0 && buf != NULL) {
            rc = redirect_batches(t->log, &mig, part->id, buf, len, req,
                                  sync, basep, err);
        } else if (rc == 0 && sync == CRAWLLOG_SYNC_DURABLE) {
            rc = cl_log_topic_flush(t->log, mig.target, sync, err);
        }
    }
    cl_io_free(pend);
    if (rc != 0) {
        *basep = -1;
    }
    return rc;
}
