/*
 * producer_buf.c - the producer's acks=0 batches and its delivery-report
 * queue, and the one function that encodes and appends a batch (layer 3).
 * See producer.c for the design.
 *
 * Owns nothing on disk.  Invariants: a buffered message is a copy (the
 * caller's bytes are never kept); a batch is written whole or not at all
 * (one cl_partition_append) and then emptied, its reports queued.
 *
 * Locks: every cl_producer_buf_* and cl_producer_write_due() function runs
 * with prod->lock held (writes then take the partition's locks);
 * cl_producer_drain() takes prod->lock itself and releases it around every
 * callback.
 */
#include <stdio.h>
#include <string.h>

#include "control.h"
#include "io.h"
#include "log.h"
#include "producer.h"
#include "record.h"

/* ---- writing one encoded batch ----------------------------------------- */

int cl_producer_write_op(struct cl_partition *part, void *arg,
                         struct cl_err *err)
{
    struct write_args *a = arg;
    a->part = part;
    a->max_bytes = (size_t)part->conf.max_message_bytes;
    size_t size = cl_record_batch_size(a->recs, a->n);
    if (size == 0 || size > a->max_bytes) {
        return cl_errf(err, size == 0 ? CRAWLLOG_EINVAL : CRAWLLOG_ETOOBIG,
                       "%s: batch of %zu bytes exceeds max.message.bytes "
                       "%zu",
                       part->reldir, size, a->max_bytes);
    }
    if (a->check_only) {
        return 0;
    }
    uint8_t *buf = cl_io_malloc(size);
    if (buf == NULL) {
        return cl_errf(err, CRAWLLOG_ENOMEM, "out of memory");
    }
    int rc = CRAWLLOG_EINVAL;
    crawllog_producer_t *prod = a->prod;
    struct cl_batch_meta meta = CL_BATCH_META_NONE;
    if (prod->idempotent) {
        meta.producer_id = prod->id.pid;
        meta.producer_epoch = prod->id.epoch;
        meta.base_sequence = a->seq >= 0 ? a->seq : 0;
        if (prod->txn != NULL) {
            meta.attributes = CL_BATCH_ATTR_TRANSACTIONAL;
        }
    }
    if (cl_record_batch_encode(buf, size, a->recs, a->n, cl_io_now_ms(),
                               &meta) != size) {
        cl_errf(err, rc, "records could not be encoded");
    } else if (prod->idempotent) {
        struct cl_idem_req req = {
            .pid = prod->id.pid, .epoch = prod->id.epoch, .seq = a->seq,
            .count = (int32_t)a->n, .live = prod->id.live,
            .live_epoch = prod->id.instance};
        rc = cl_partition_append_idem(part, buf, size, a->sync, &req,
                                      &a->base, err);
        a->dup = req.dup;
        if (rc == CRAWLLOG_EFENCED) {
            atomic_store(&prod->fenced, 1);
        }
    } else {
        rc = cl_partition_append(part, buf, size, 1, a->sync, &a->base, err);
    }
    cl_io_free(buf);
    return rc;
}

/* ---- delivery reports -------------------------------------------------- */

int cl_producer_reserve_reports(crawllog_producer_t *prod, size_t more)
{
    if (prod->dr_cb == NULL || prod->rcap - prod->nreports >= more) {
        return 0;
    }
    size_t ncap = prod->rcap ? prod->rcap : 256;
    while (ncap - prod->nreports < more) {
        ncap *= 2;
    }
    void *p = cl_io_realloc(prod->reports, ncap * sizeof(*prod->reports));
    if (p == NULL) {
        return CRAWLLOG_ENOMEM;
    }
    prod->reports = p;
    prod->rcap = ncap;
    return 0;
}

/* Queue a report; prod->lock held.  A report that cannot be queued (no
 * memory) is dropped: the error still reaches flush's return code. */
static void queue_report(crawllog_producer_t *prod, const char *topic,
                         int32_t partition, int64_t offset, int err)
{
    if (prod->dr_cb == NULL) {
        return;
    }
    if (prod->nreports == prod->rcap) {
        size_t ncap = prod->rcap ? prod->rcap * 2 : 256;
        void *p = cl_io_realloc(prod->reports, ncap * sizeof(*prod->reports));
        if (p == NULL) {
            return;
        }
        prod->reports = p;
        prod->rcap = ncap;
    }
    struct cl_report *r = &prod->reports[prod->nreports++];
    atomic_store_explicit(&prod->queued, prod->nreports,
                          memory_order_relaxed);
    r->topic = topic;
    r->partition = partition;
    r->offset = offset;
    r->err = err;
}

/* Hand queued reports to the callback, with no lock held.  Returns how
 * many were delivered by this call. */
int cl_producer_drain(crawllog_producer_t *prod)
{
    int delivered = 0;
    if (atomic_load_explicit(&prod->queued, memory_order_relaxed) == 0) {
        return 0; /* a report queued by another thread is its to drain */
    }
    pthread_mutex_lock(&prod->lock);
    if (prod->draining) {
        pthread_mutex_unlock(&prod->lock);
        return 0;
    }
    prod->draining = 1;
    while (prod->nreports > 0) {
        struct cl_report one[64];
        size_t n = prod->nreports < 64 ? prod->nreports : 64;
        memcpy(one, prod->reports, n * sizeof(one[0]));
        memmove(prod->reports, prod->reports + n,
                (prod->nreports - n) * sizeof(one[0]));
        prod->nreports -= n;
        atomic_store_explicit(&prod->queued, prod->nreports,
                              memory_order_relaxed);
        pthread_mutex_unlock(&prod->lock);
        for (size_t i = 0; i < n; i++) {
            prod->dr_cb(prod->dr_opaque, one[i].topic, one[i].partition,
                        one[i].offset, one[i].err);
        }
        delivered += (int)n;
        pthread_mutex_lock(&prod->lock);
    }
    prod->draining = 0;
    pthread_mutex_unlock(&prod->lock);
    return delivered;
}

/* ---- acks=0 buffers ----------------------------------------------------- */

static struct cl_ptopic *ptopic_get(crawllog_producer_t *prod,
                                    const char *topic)
{
    struct cl_ptopic *t;
    for (t = prod->ptopics; t != NULL; t = t->next) {
        if (strcmp(t->name, topic) == 0) {
            return t;
        }
    }
    t = cl_io_calloc(1, sizeof(*t));
    if (t == NULL || (t->name = cl_io_strdup(topic)) == NULL) {
        cl_io_free(t);
        return NULL;
    }
    t->next = prod->ptopics;
    prod->ptopics = t;
    return t;
}

struct cl_pbuf *cl_producer_buf_get(crawllog_producer_t *prod,
                                    const char *topic, int32_t partition)
{
    struct cl_ptopic *t = ptopic_get(prod, topic);
    if (t == NULL) {
        return NULL;
    }
    if (partition >= t->n) {
        size_t cap = (size_t)t->n;
        if (cl_io_grow((void **)&t->pb, &cap, (size_t)partition + 1,
                       sizeof(*t->pb)) != 0) {
            return NULL;
        }
        memset(t->pb + t->n, 0, (cap - (size_t)t->n) * sizeof(*t->pb));
        t->n = (int32_t)cap;
    }
    struct cl_pbuf *pb = t->pb[partition];
    if (pb != NULL) {
        return pb;
    }
    pb = cl_io_calloc(1, sizeof(*pb));
    if (pb == NULL) {
        return NULL;
    }
    pb->topic = t->name;
    pb->partition = partition;
    pb->next = prod->bufs;
    prod->bufs = pb;
    t->pb[partition] = pb;
    return pb;
}

void cl_producer_bufs_free(crawllog_producer_t *prod)
{
    while (prod->bufs != NULL) {
        struct cl_pbuf *pb = prod->bufs;
        prod->bufs = pb->next;
        cl_io_free(pb->msgs);
        cl_io_free(pb->hdrs);
        cl_io_free(pb->data);
        cl_io_free(pb);
    }
    while (prod->ptopics != NULL) {
        struct cl_ptopic *t = prod->ptopics;
        prod->ptopics = t->next;
        cl_io_free(t->pb);
        cl_io_free(t->name);
        cl_io_free(t);
    }
}

/* Copy len bytes (NULL: null) into pb->data; *offp, *lenp describe them. */
static void put_bytes(struct cl_pbuf *pb, const void *b, size_t len,
                      size_t *offp, int32_t *lenp)
{
    *offp = pb->len;
    *lenp = b == NULL ? -1 : (int32_t)len;
    if (b != NULL && len > 0) {
        memcpy(pb->data + pb->len, b, len);
        pb->len += len;
    }
}

/* Append a copy of rec (already checked) to pb; est = its size bound. */
int cl_producer_buf_add(struct cl_pbuf *pb, const crawllog_record_t *rec,
                    size_t est)
{
    size_t bytes = (rec->key ? rec->key_len : 0) +
                   (rec->value ? rec->value_len : 0);
    for (size_t i = 0; i < rec->header_count; i++) {
        bytes += rec->headers[i].name_len +
                 (rec->headers[i].value ? rec->headers[i].value_len : 0);
    }
    if (cl_io_grow((void **)&pb->msgs, &pb->ncap, pb->n + 1, sizeof(*pb->msgs)) ||
        cl_io_grow((void **)&pb->hdrs, &pb->hcap, pb->nh + rec->header_count + 1,
             sizeof(*pb->hdrs)) ||
        cl_io_grow((void **)&pb->data, &pb->dcap, pb->len + bytes + 1, 1)) {
        return CRAWLLOG_ENOMEM;
    }
    struct cl_pmsg *m = &pb->msgs[pb->n++];
    put_bytes(pb, rec->key, rec->key_len, &m->koff, &m->klen);
    put_bytes(pb, rec->value, rec->value_len, &m->voff, &m->vlen);
    m->ts = rec->timestamp;
    m->hfirst = pb->nh;
    m->hcount = rec->header_count;
    for (size_t i = 0; i < rec->header_count; i++) {
        const crawllog_header_t *h = &rec->headers[i];
        struct cl_phdr *ph = &pb->hdrs[pb->nh++];
        int32_t nlen;
        put_bytes(pb, h->name, h->name_len, &ph->noff, &nlen);
        ph->nlen = h->name_len;
        put_bytes(pb, h->value, h->value_len, &ph->voff, &ph->vlen);
    }
    pb->est += est;
    return 0;
}

/* Records viewing pb's copies, in recs (n) and hdrs (nh). */
static void pbuf_view(const struct cl_pbuf *pb, crawllog_record_t *recs,
                      crawllog_header_t *hdrs)
{
    static const char empty[1] = {0};
    const uint8_t *d = pb->data != NULL ? pb->data : (const uint8_t *)empty;
    for (size_t i = 0; i < pb->nh; i++) {
        const struct cl_phdr *ph = &pb->hdrs[i];
        hdrs[i].name = (const char *)d + ph->noff;
        hdrs[i].name_len = ph->nlen;
        hdrs[i].value = ph->vlen < 0 ? NULL : d + ph->voff;
        hdrs[i].value_len = ph->vlen < 0 ? 0 : (size_t)ph->vlen;
    }
    for (size_t i = 0; i < pb->n; i++) {
        const struct cl_pmsg *m = &pb->msgs[i];
        recs[i].key = m->klen < 0 ? NULL : d + m->koff;
        recs[i].key_len = m->klen < 0 ? 0 : (size_t)m->klen;
        recs[i].value = m->vlen < 0 ? NULL : d + m->voff;
        recs[i].value_len = m->vlen < 0 ? 0 : (size_t)m->vlen;
        recs[i].timestamp = m->ts;
        recs[i].headers = m->hcount ? hdrs + m->hfirst : NULL;
        recs[i].header_count = m->hcount;
    }
}

/* Write pb's batch (prod->lock held), queue its reports and empty it. */
int cl_producer_buf_write(crawllog_producer_t *prod, struct cl_pbuf *pb,
                      struct cl_err *err)
{
    if (pb->n == 0) {
        return 0;
    }
    /* Room for every report first (normally reserved when the messages
     * were buffered): a batch written whose success report cannot be
     * queued would be acknowledged to nobody (found by
     * test_fault_producer).  Without it the batch stays buffered. */
    if (cl_producer_reserve_reports(prod, pb->n) != 0) {
        return cl_errf(err, CRAWLLOG_ENOMEM,
                       "out of memory for delivery reports");
    }
    crawllog_record_t *recs = cl_io_malloc(pb->n * sizeof(*recs));
    crawllog_header_t *hdrs = cl_io_malloc((pb->nh + 1) * sizeof(*hdrs));
    struct write_args a = CL_WRITE_ARGS(prod, recs, pb->n,
                                        CRAWLLOG_SYNC_WRITTEN);
    int rc;
    if (recs == NULL || hdrs == NULL) {
        rc = cl_errf(err, CRAWLLOG_ENOMEM, "out of memory");
    } else {
        pbuf_view(pb, recs, hdrs);
        rc = cl_log_with_partition(prod->log, pb->topic, pb->partition,
                                   cl_producer_write_op, &a, err);
    }
    for (size_t i = 0; i < pb->n; i++) {
        queue_report(prod, pb->topic, pb->partition,
                     rc == 0 ? a.base + (int64_t)i : -1, rc);
    }
    prod->nbuffered -= pb->n;
    pb->n = pb->nh = pb->len = pb->est = 0;
    cl_io_free(recs);
    cl_io_free(hdrs);
    return rc;
}

/* Write the batches older than linger.ms (all of them if all); prod->lock
 * held.  Returns the first error. */
int cl_producer_write_due(crawllog_producer_t *prod, int all, int64_t now_ms,
                          struct cl_err *err)
{
    int first = 0;
    if (prod->nbuffered == 0 || (!all && now_ms == prod->due_ms)) {
        return 0;
    }
    prod->due_ms = now_ms;
    for (struct cl_pbuf *pb = prod->bufs; pb != NULL; pb = pb->next) {
        /* A clock stepped back (now < first) counts as due. */
        if (pb->n > 0 && (all || now_ms < pb->first_ms ||
                          now_ms - pb->first_ms >= prod->linger_ms)) {
            struct cl_err e2;
            e2.msg[0] = '\0';
            int rc = cl_producer_buf_write(prod, pb, &e2);
            if (rc != 0 && first == 0) {
                first = rc;
                *err = e2;
            }
        }
    }
    return first;
}

