/*
 * idem.c - a partition's idempotent-producer state (layer 2), Kafka's
 * ProducerStateManager without the snapshot files.
 *
 * Owns nothing on disk: the state is derived from the batch headers
 * (producerId, producerEpoch, baseSequence, recordsCount, baseOffset) of
 * the partition's segments, which is what makes it survive restarts and
 * agree between processes.  A process builds it the first time it makes an
 * idempotent append to the partition (reading every batch header, CRC
 * checked), then keeps it current: its own writes are recorded as they are
 * made (partition.c), and batches other processes appended since are read
 * before the next check (cl_idem_catch_up, under the partition lock).
 *
 * Per producer id: the newest epoch, the last sequence written and the
 * (first, last, base offset) of its last CL_IDEM_RETAIN batches.
 * Sequences of one producer id continue across its epochs (a producer
 * re-created with the same producer.id continues them); an epoch only
 * fences older instances.
 *
 * Rules of cl_idem_check (kafka-reference.md section 5.2, with the
 * difference above):
 *  - the producer's live epoch moved on, or an older epoch than the
 *    newest seen here: CRAWLLOG_EFENCED;
 *  - the next sequence (or -1, "assign it"): written;
 *  - exactly the range of a retained batch: a duplicate, its offset back;
 *  - behind the last sequence but older than every retained batch: a
 *    duplicate whose offset is no longer known (-1), as Kafka's
 *    DUPLICATE_SEQUENCE_NUMBER;
 *  - anything else (a gap, or a range overlapping retained batches
 *    differently): CRAWLLOG_ESEQUENCE;
 *  - a producer id with no state here accepts any sequence (its batches
 *    were deleted by retention, or it never wrote here).
 *
 * Locks: none of its own; every call is made under the partition's lock
 * (cl_idem_check and cl_idem_next_seq only read).
 */
#include <inttypes.h>
#include <string.h>

#include "idem.h"
#include "io.h"
#include "record.h"

#define SEQ_SPACE ((int64_t)INT32_MAX + 1)

int32_t cl_idem_seq_add(int32_t seq, int64_t n)
{
    int64_t v = ((int64_t)seq + n) % SEQ_SPACE;
    return (int32_t)(v < 0 ? v + SEQ_SPACE : v);
}

/* Distance from b forward to a in sequence space. */
static int64_t seq_dist(int32_t a, int32_t b)
{
    int64_t d = ((int64_t)a - b) % SEQ_SPACE;
    return d < 0 ? d + SEQ_SPACE : d;
}

int cl_idem_epoch_newer(int16_t a, int16_t b)
{
    unsigned d = ((unsigned)(uint16_t)a - (unsigned)(uint16_t)b) & 0x7fffu;
    return d != 0 && d < 0x4000u;
}

void cl_idem_init(struct cl_idem *st)
{
    memset(st, 0, sizeof(*st));
}

void cl_idem_free(struct cl_idem *st)
{
    cl_io_free(st->slots);
    cl_idem_init(st);
}

static size_t slot_of(int64_t pid, size_t cap)
{
    uint64_t z = (uint64_t)pid + 0x9e3779b97f4a7c15u;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return (size_t)((z ^ (z >> 31)) & (cap - 1));
}

static struct cl_idem_entry *find(const struct cl_idem *st, int64_t pid)
{
    if (st->cap == 0) {
        return NULL;
    }
    for (size_t i = slot_of(pid, st->cap);; i = (i + 1) & (st->cap - 1)) {
        if (st->slots[i].pid == pid) {
            return &st->slots[i];
        }
        if (st->slots[i].pid < 0) {
            return NULL;
        }
    }
}

static int grow(struct cl_idem *st)
{
    size_t ncap = st->cap ? st->cap * 2 : 16;
    struct cl_idem_entry *ns = cl_io_calloc(ncap, sizeof(*ns));
    if (ns == NULL) {
        return CRAWLLOG_ENOMEM;
    }
    for (size_t i = 0; i < ncap; i++) {
        ns[i].pid = -1;
    }
    for (size_t i = 0; i < st->cap; i++) {
        if (st->slots[i].pid >= 0) {
            size_t j = slot_of(st->slots[i].pid, ncap);
            while (ns[j].pid >= 0) {
                j = (j + 1) & (ncap - 1);
            }
            ns[j] = st->slots[i];
        }
    }
    cl_io_free(st->slots);
    st->slots = ns;
    st->cap = ncap;
    return 0;
}

int cl_idem_record(struct cl_idem *st, int64_t pid, int16_t epoch,
                   int32_t first_seq, int32_t count, int64_t base_offset)
{
    struct cl_idem_entry *e = find(st, pid);
    if (e == NULL) {
        if ((st->n + 1) * 2 > st->cap && grow(st) != 0) {
            return CRAWLLOG_ENOMEM;
        }
        size_t i = slot_of(pid, st->cap);
        while (st->slots[i].pid >= 0) {
            i = (i + 1) & (st->cap - 1);
        }
        e = &st->slots[i];
        memset(e, 0, sizeof(*e));
        e->pid = pid;
        e->epoch = epoch;
        st->n++;
    } else if (cl_idem_epoch_newer(epoch, e->epoch)) {
        e->epoch = epoch;
    }
    struct cl_idem_batch b = {first_seq, cl_idem_seq_add(first_seq, count - 1),
                              base_offset};
    e->last_seq = b.last_seq;
    if (e->nring < CL_IDEM_RETAIN) {
        e->ring[(e->head + e->nring++) % CL_IDEM_RETAIN] = b;
    } else {
        e->ring[e->head] = b;
        e->head = (e->head + 1) % CL_IDEM_RETAIN;
    }
    return 0;
}

int32_t cl_idem_next_seq(const struct cl_idem *st, int64_t pid)
{
    const struct cl_idem_entry *e = find(st, pid);
    return e != NULL ? cl_idem_seq_add(e->last_seq, 1) : 0;
}

/* A re-sent batch [first, last]: 0 duplicate (req filled), or ESEQUENCE. */
static int check_resend(const struct cl_idem_entry *e,
                        struct cl_idem_req *req, const char *reldir,
                        struct cl_err *err)
{
    int32_t last = cl_idem_seq_add(req->seq, req->count - 1);
    for (uint32_t i = 0; i < e->nring; i++) {
        const struct cl_idem_batch *b = &e->ring[(e->head + i) %
                                                 CL_IDEM_RETAIN];
        if (b->first_seq == req->seq && b->last_seq == last) {
            req->dup = 1;
            req->dup_offset = b->base_offset;
            return 0;
        }
    }
    const struct cl_idem_batch *oldest = &e->ring[e->head];
    int64_t behind = seq_dist(e->last_seq, req->seq);
    if (behind < SEQ_SPACE / 2 && e->nring == CL_IDEM_RETAIN &&
        seq_dist(oldest->first_seq, last) > 0 &&
        seq_dist(oldest->first_seq, last) < SEQ_SPACE / 2) {
        req->dup = 1; /* older than every retained batch */
        req->dup_offset = -1;
        return 0;
    }
    return cl_errf(err, CRAWLLOG_ESEQUENCE,
                   "%s: producer %" PRId64 " sent sequences %" PRId32
                   "..%" PRId32 " but %" PRId32 " is next%s",
                   reldir, req->pid, req->seq, last,
                   cl_idem_seq_add(e->last_seq, 1),
                   behind < SEQ_SPACE / 2
                       ? " (they overlap written batches differently)"
                       : " (a gap: records were lost)");
}

int cl_idem_check(const struct cl_idem *st, struct cl_idem_req *req,
                  const char *reldir, struct cl_err *err)
{
    req->dup = 0;
    req->dup_offset = -1;
    if (req->live != NULL &&
        atomic_load_explicit(req->live, memory_order_acquire) !=
            req->live_epoch) {
        return cl_errf(err, CRAWLLOG_EFENCED,
                       "producer %" PRId64 ": a newer instance with the "
                       "same producer.id exists",
                       req->pid);
    }
    const struct cl_idem_entry *e = find(st, req->pid);
    if (e == NULL) {
        req->seq_out = req->seq < 0 ? 0 : req->seq;
        return 0;
    }
    if (cl_idem_epoch_newer(e->epoch, req->epoch)) {
        return cl_errf(err, CRAWLLOG_EFENCED,
                       "%s: producer %" PRId64 " epoch %d is fenced by "
                       "epoch %d (a newer instance with the same "
                       "producer.id)",
                       reldir, req->pid, req->epoch, e->epoch);
    }
    int32_t next = cl_idem_seq_add(e->last_seq, 1);
    if (req->seq < 0 || req->seq == next) {
        req->seq_out = next;
        return 0;
    }
    return check_resend(e, req, reldir, err);
}

/* ---- rebuilding from the segments -------------------------------------- */

struct scan_ctx {
    struct cl_idem *st;
};

static int scan_fn(void *opaque, const uint8_t *batch,
                   const struct cl_batch_hdr *h, uint64_t pos)
{
    (void)batch;
    (void)pos;
    struct scan_ctx *c = opaque;
    if (h->producer_id < 0 || h->base_sequence < 0) {
        return 0;
    }
    return cl_idem_record(c->st, h->producer_id, h->producer_epoch,
                          h->base_sequence, h->records_count,
                          h->base_offset);
}

int cl_idem_catch_up(struct cl_idem *st, struct cl_segment *segs,
                     size_t nseg, const char *reldir, struct cl_err *err)
{
    struct cl_segment *a = &segs[nseg - 1];
    if (cl_idem_at(st, a->base, a->size)) {
        return 0;
    }
    size_t i = 0;
    if (st->built) {
        /* Resume in the segment holding the mark; if it is gone or
         * shorter than the mark (never for a live partition), rebuild. */
        while (i < nseg && segs[i].base < st->at_base) {
            i++;
        }
        if (i == nseg || segs[i].base != st->at_base ||
            segs[i].size < st->at_pos) {
            cl_idem_free(st);
            i = 0;
        }
    }
    if (!st->built) {
        st->built = 1;
        st->at_base = segs[0].base;
        st->at_pos = CL_SEG_HEADER_SIZE;
    }
    struct scan_ctx c = {st};
    for (; i < nseg; i++) {
        struct cl_segment *s = &segs[i];
        uint64_t pos = s->base == st->at_base ? st->at_pos
                                              : CL_SEG_HEADER_SIZE;
        if (pos < s->size) {
            struct cl_scan res = {.max_ts = -1}; /* start value: none */
            int rc = cl_segment_scan(s, reldir, pos, -1, 0, scan_fn, &c,
                                     &res, err);
            if (rc == 0 && res.end < s->size) {
                rc = cl_errf(err, CRAWLLOG_ECORRUPT,
                             "%s: segment %" PRId64 " byte %" PRIu64
                             ": %s",
                             reldir, s->base, res.end, res.why);
            }
            if (rc != 0) {
                cl_idem_free(st); /* rebuilt on the next call */
                return rc;
            }
        }
        cl_idem_move(st, s->base, s->size);
    }
    return 0;
}
