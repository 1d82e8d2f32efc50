/*
 * producer.h - the producer, internal view (layer 3).  See producer.c.
 *
 * The public API (crawllog_producer_*) is declared in crawllog.h.  The
 * struct is shared by producer.c (sending, group commit), producer_buf.c
 * (acks=0 buffers, reports, the write op) and producer_seq.c (batches,
 * explicit sequences).
 */
#ifndef CL_PRODUCER_H
#define CL_PRODUCER_H

#include <pthread.h>
#include <stdatomic.h>

#include "crawllog.h"
#include "errors.h"
#include "partition.h"
#include "prodid.h"

/* One buffered (acks=0) message: offsets into its pbuf's data. */
struct cl_pmsg {
    size_t koff, voff;
    int32_t klen, vlen; /* -1: null */
    size_t hfirst, hcount; /* into pbuf.hdrs */
    int64_t ts;         /* < 0: time of the write */
};

/* One buffered header: offsets into its pbuf's data. */
struct cl_phdr {
    size_t noff, nlen, voff;
    int32_t vlen; /* -1: null */
};

/* The acks=0 batch being collected for one topic partition. */
struct cl_pbuf {
    char *topic;
    int32_t partition;
    struct cl_pmsg *msgs;
    size_t n, ncap;
    struct cl_phdr *hdrs;
    size_t nh, hcap;
    uint8_t *data;
    size_t len, dcap;
    size_t est;        /* upper bound of the encoded batch size */
    int64_t first_ms;  /* wall time of the oldest buffered message */
    size_t max_bytes;  /* the topic's max.message.bytes */
    struct cl_pbuf *next;
};

/* The acks=0 batches of one topic, by partition (lookup by send). */
struct cl_ptopic {
    char *name;
    int32_t n;               /* slots in pb */
    struct cl_pbuf **pb;     /* NULL: no batch for that partition yet */
    struct cl_ptopic *next;
};

/* A delivery report waiting to be handed to the callback. */
struct cl_report {
    const char *topic; /* a pbuf's topic: lives as long as the producer */
    int32_t partition;
    int64_t offset;
    int err;
};

/* A set of partitions (group commit). */
struct cl_partset {
    struct cl_partition **v;
    size_t n, cap;
};

/* acks=all group commit state (producer.c). */
struct cl_gcommit {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct cl_partset dirty; /* written since the running round started */
    struct cl_partset round; /* being synced by the running round */
    struct cl_partset spare; /* an empty array to reuse */
    size_t claimed, pending; /* round: partitions claimed / not finished */
    uint64_t started, done;  /* sync rounds started / finished */
    int active;              /* a round is running */
    int failed_rc;           /* first failed round's error (sticky) */
    uint64_t fail_round;     /* 0: none failed */
    char failmsg[CL_ERRMSG_SIZE];
};

struct crawllog_producer_s {
    struct cl_kafka_producer *kafka; /* Kafka backend (backend.h), NULL */
    crawllog_t *log;
    int acks;                  /* CL_CONF_ACKS_* */
    int64_t linger_ms;
    int64_t batch_size;
    int keyless;               /* CL_CONF_PARTITIONER_* */
    crawllog_partitioner_state_t *pstate;
    crawllog_partitioner_fn *custom; /* set before sending */
    void *custom_opaque;
    crawllog_delivery_cb *dr_cb;     /* set before sending */
    void *dr_opaque;
    atomic_uint_least64_t rnd;       /* murmur2_random: splitmix64 counter */
    int idempotent;            /* enable.idempotence */
    struct cl_prodid id;       /* producer id and epoch (idempotent) */
    atomic_int fenced;         /* a newer instance of producer.id exists */
    struct cl_txn *txn;        /* transactional.id set: txn.c, else NULL */

    pthread_mutex_t lock;      /* guards the fields below and errmsg */
    struct cl_pbuf *bufs;      /* acks=0 batches, one per partition used */
    struct cl_ptopic *ptopics; /* the same, by topic and partition */
    int64_t due_ms;            /* wall ms of the last linger check */
    size_t nbuffered;          /* messages in bufs */
    struct cl_report *reports; /* waiting for the callback */
    size_t nreports, rcap;
    atomic_size_t queued;      /* = nreports, readable without the lock */
    int draining;              /* a thread is calling the callback */
    int async_rc;              /* first acks=0 write error since a flush */
    char errmsg[CL_ERRMSG_SIZE];

    struct cl_gcommit gc;
};

/* Arguments of cl_producer_write_op (a cl_log_with_partition op). */
struct write_args {
    crawllog_producer_t *prod;
    const crawllog_record_t *recs;
    size_t n;
    int sync;
    int check_only;          /* only check the size against the topic */
    int32_t seq;             /* idempotent: base sequence, -1: the next */
    int64_t base;            /* out: base offset */
    int dup;                 /* out: a duplicate, nothing written */
    size_t max_bytes;        /* out: the topic's max.message.bytes */
    struct cl_partition *part; /* out: where it went */
};

/* write_args for n records written with sync (defaults elsewhere). */
#define CL_WRITE_ARGS(prod_, recs_, n_, sync_)                              \
    {.prod = (prod_), .recs = (recs_), .n = (n_), .sync = (sync_),          \
     .check_only = 0, .seq = -1, .base = -1, .dup = 0, .max_bytes = 0,      \
     .part = NULL}

/* Check (check_only) or encode and append recs as one batch. */
int cl_producer_write_op(struct cl_partition *part, void *arg,
                         struct cl_err *err);

/* acks=0 buffers; prod->lock held (producer_buf.c).  buf_get finds or
 * makes the batch of topic/partition (NULL: no memory). */
struct cl_pbuf *cl_producer_buf_get(crawllog_producer_t *prod,
                                    const char *topic, int32_t partition);
/* Free every batch and the topic index. */
void cl_producer_bufs_free(crawllog_producer_t *prod);
/* Append a copy of rec (already checked); est bounds its encoded size. */
int cl_producer_buf_add(struct cl_pbuf *pb, const crawllog_record_t *rec,
                        size_t est);
/* Make room for more delivery reports than are queued now (nothing to
 * do without a delivery callback): 0 or CRAWLLOG_ENOMEM.  Every buffered
 * message holds a slot, so a written batch never loses its reports. */
int cl_producer_reserve_reports(crawllog_producer_t *prod, size_t more);
/* Write pb's batch, queue its reports, empty it. */
int cl_producer_buf_write(crawllog_producer_t *prod, struct cl_pbuf *pb,
                          struct cl_err *err);
/* Write batches older than linger.ms at wall time now_ms (every one if
 * all): first error.  Without all, scans at most once per millisecond. */
int cl_producer_write_due(crawllog_producer_t *prod, int all, int64_t now_ms,
                          struct cl_err *err);

/* Hand queued reports to the callback with no lock held (takes
 * prod->lock itself); returns how many this call delivered. */
int cl_producer_drain(crawllog_producer_t *prod);

/* Refuse to send once fenced: 0 or CRAWLLOG_EFENCED. */
int cl_producer_check_fenced(crawllog_producer_t *prod, struct cl_err *err);

/* Wait until part's writes are durable (acks=all group commit). */
int cl_producer_gc_commit(crawllog_producer_t *prod,
                          struct cl_partition *part, struct cl_err *err);

/* The partition a record goes to (custom / keyed / keyless rules). */
int cl_producer_choose(crawllog_producer_t *prod, const char *topic,
                       int32_t partition, const crawllog_record_t *rec,
                       int32_t *outp, struct cl_err *err);

/* Sanity of a record's headers and sizes. */
int cl_producer_check_record(const crawllog_record_t *rec,
                             struct cl_err *err);

/* Record err's message as the producer's errmsg; returns rc. */
int cl_producer_fail(crawllog_producer_t *prod, int rc,
                     const struct cl_err *err);

#endif /* CL_PRODUCER_H */
