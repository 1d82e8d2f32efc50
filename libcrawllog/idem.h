/*
 * idem.h - a partition's idempotent-producer state: per producer id, its
 * epoch, last sequence and its last CL_IDEM_RETAIN batches; checks a new
 * batch against it and rebuilds it from the segments (layer 2).
 * See idem.c.
 */
#ifndef CL_IDEM_H
#define CL_IDEM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"
#include "segment.h"

/* Batches remembered per producer and partition (Kafka's
 * NUM_BATCHES_TO_RETAIN): a re-sent batch among them gets its original
 * offset back. */
#define CL_IDEM_RETAIN 5

struct cl_idem_batch {
    int32_t first_seq, last_seq;
    int64_t base_offset;
};

struct cl_idem_entry {
    int64_t pid;                /* -1: empty slot */
    int16_t epoch;              /* newest epoch seen */
    int32_t last_seq;           /* sequence of its last record */
    uint32_t nring, head;       /* ring[head] is the oldest */
    struct cl_idem_batch ring[CL_IDEM_RETAIN];
};

struct cl_idem {
    struct cl_idem_entry *slots; /* open addressing, cap a power of 2 */
    size_t cap, n;
    int built;                   /* rebuilt from the segments */
    int64_t at_base;             /* the state covers the batches up to */
    uint64_t at_pos;             /* byte at_pos of segment at_base */
};

/* One idempotent append, as the producer asks for it. */
struct cl_idem_req {
    int64_t pid;
    int16_t epoch;
    int32_t seq;                 /* base sequence, or -1: the next one */
    int32_t count;               /* records in the batch */
    const _Atomic uint32_t *live; /* optional: the producer.id's current */
    uint32_t live_epoch;         /* instance; != live_epoch: fenced */
    int dup;                     /* out: 1 = already written, not again */
    int64_t dup_offset;          /* out: its base offset (-1: not kept) */
    int32_t seq_out;             /* out: the base sequence to write */
};

void cl_idem_init(struct cl_idem *st);
void cl_idem_free(struct cl_idem *st);

/* Decide an append (pure): 0 with req->seq_out set (write it), 0 with
 * req->dup = 1 (write nothing, req->dup_offset is the original),
 * CRAWLLOG_EFENCED, CRAWLLOG_ESEQUENCE.  reldir names the partition in
 * messages. */
int cl_idem_check(const struct cl_idem *st, struct cl_idem_req *req,
                  const char *reldir, struct cl_err *err);

/* Remember a batch written (or found in the log).  0 or CRAWLLOG_ENOMEM. */
int cl_idem_record(struct cl_idem *st, int64_t pid, int16_t epoch,
                   int32_t first_seq, int32_t count, int64_t base_offset);

/* The next base sequence of pid here (0 if it has written nothing). */
int32_t cl_idem_next_seq(const struct cl_idem *st, int64_t pid);

/* Bring the state up to the end of the last segment (partition lock held):
 * the first call reads every batch header of the partition, later ones
 * only what was appended (by other processes) since.  segs ascend; the
 * last is the active one, whose file ends at segs[nseg-1].size. */
int cl_idem_catch_up(struct cl_idem *st, struct cl_segment *segs,
                     size_t nseg, const char *reldir, struct cl_err *err);

/* Whether the state covers exactly [.., base:pos) (so a write there can be
 * recorded directly), and move its mark. */
static inline int cl_idem_at(const struct cl_idem *st, int64_t base,
                             uint64_t pos)
{
    return st->built && st->at_base == base && st->at_pos == pos;
}
static inline void cl_idem_move(struct cl_idem *st, int64_t base,
                                uint64_t pos)
{
    st->at_base = base;
    st->at_pos = pos;
}

/* Sequence arithmetic (Kafka: sequences wrap from INT32_MAX to 0). */
int32_t cl_idem_seq_add(int32_t seq, int64_t n);

/* 1 if epoch a is newer than b (15-bit serial-number arithmetic, so an
 * epoch counter may wrap). */
int cl_idem_epoch_newer(int16_t a, int16_t b);

#endif /* CL_IDEM_H */
