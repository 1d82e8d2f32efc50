/*
 * partition.h - one partition: its ordered segments, offsets, append lock,
 * roll and recovery (layer 2).  See partition.c.
 */
#ifndef CL_PARTITION_H
#define CL_PARTITION_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"
#include "idem.h"
#include "notify.h"
#include "pstate.h"
#include "segment.h"

#define CL_LOGSTART_NAME "log-start-offset"
#define CL_LOGSTART_KIND "crawllog-logstart"

/* The effective settings of a partition (from its topic's conf). */
struct cl_part_conf {
    int64_t segment_bytes;
    int64_t segment_ms;
    int64_t retention_ms;
    int64_t retention_bytes;
    int64_t index_interval;
    int64_t segment_index_bytes;
    int64_t max_message_bytes;
    int64_t buffer_bytes;       /* log.buffer.bytes for SYNC_NONE appends */
    unsigned fmode;             /* new files */
};

struct cl_partition;

/* Called by an append or flush that finds the partition's migration word
 * (pstate.h) set, with both locks held; it must release them
 * (cl_partition_unlock) and write buf (len bytes of batches, NULL for a
 * flush) and the buffered batches where they now belong.  Arguments and
 * result as cl_partition_append_idem (req NULL: a plain append). */
typedef int cl_partition_redirect_fn(struct cl_partition *part, uint8_t *buf,
                                     size_t len, struct cl_idem_req *req,
                                     int sync, int64_t *basep,
                                     struct cl_err *err);

struct cl_partition {
    pthread_mutex_t lock;       /* guards every field below */
    struct cl_part_conf conf;
    int32_t id;
    int dirfd;                  /* the partition directory */
    char reldir[320];           /* "topics/<topic>/<id>", for messages */
    struct cl_pstate ps;        /* shared state + cross-process lock */
    struct cl_segment *segs;    /* ascending base offsets; last = active */
    size_t nseg, segcap;
    uint64_t seen_seq;          /* ps.shm->change_seq when segs was built */
    int failed;                 /* an fsync failed: appends refused */
    uint64_t write_gen;         /* appends this handle wrote */
    uint64_t synced_gen;        /* appends up to this one are durable */
    pthread_mutex_t sync_lock;  /* one fdatasync of this partition at a
                                   time (taken before lock, never after) */
    uint8_t *pend;              /* SYNC_NONE batches not yet written */
    size_t pend_len, pend_cap, pend_n;
    struct cl_idem idem;        /* idempotent producers' state (built on
                                   first use) */
    struct cl_notify *notify;   /* the log's doorbells (NULL: none) */
    int ring_due;               /* published since the lock was taken:
                                   ring the watchers at unlock */
    cl_partition_redirect_fn *redirect; /* set by log.c (append.c's hook);
                                           NULL: never redirected */
    void *redirect_ctx;         /* for the hook: the topic (log.h) */
};

/* Open partition id below the topic directory and recover it.  notify
 * (may be NULL, then nobody is woken) is the log's doorbell file: every
 * change of the log end or start offset rings the partition's watchers. */
int cl_partition_open(struct cl_partition **partp, int topic_dirfd,
                      const char *topic, int32_t id,
                      const struct cl_part_conf *conf,
                      struct cl_notify *notify, struct cl_err *err);

/* Close without flushing (the caller flushes first). */
void cl_partition_close(struct cl_partition *part);

/* The handle forgets the partition (its topic was deleted or replaced):
 * close its segment files, so a deleted topic's disk space is freed now
 * rather than at crawllog_close, and drop unwritten SYNC_NONE batches.
 * The object stays valid: a later call either finds the partition deleted
 * (CRAWLLOG_ENOTOPIC) or reopens the segments. */
void cl_partition_release(struct cl_partition *part);

/* Append nbatches encoded batches (back to back in buf, len bytes; their
 * base offsets are patched).  sync: CRAWLLOG_SYNC_*.  With SYNC_NONE they
 * are buffered in memory; *basep gets the first offset, or -1 then. */
int cl_partition_append(struct cl_partition *part, uint8_t *buf, size_t len,
                        size_t nbatches, int sync, int64_t *basep,
                        struct cl_err *err);

/* Append one batch of an idempotent producer (buf: len bytes, encoded
 * with its producer id, epoch and a base sequence that is rewritten if
 * req->seq is -1).  Checked against the partition's producer state under
 * the lock (see idem.c): a duplicate writes nothing and gives the original
 * base offset (-1 if no longer known) with req->dup = 1.  sync:
 * CRAWLLOG_SYNC_WRITTEN or CRAWLLOG_SYNC_DURABLE.  Errors as
 * cl_partition_append, plus CRAWLLOG_EFENCED and CRAWLLOG_ESEQUENCE. */
int cl_partition_append_idem(struct cl_partition *part, uint8_t *buf,
                             size_t len, int sync, struct cl_idem_req *req,
                             int64_t *basep, struct cl_err *err);

/* The next sequence producer pid would write to the partition. */
int cl_partition_idem_next(struct cl_partition *part, int64_t pid,
                           int32_t *seqp, struct cl_err *err);

/* Make durable whatever any process appended (the active segment's
 * fdatasync; sealed segments were synced at their roll).  site: the
 * failpoint site name of that fdatasync.  A migration's cut-over. */
int cl_partition_sync_all(struct cl_partition *part, const char *site,
                          struct cl_err *err);

/* 1 if this handle has buffered or not yet fdatasync'd appends on part. */
int cl_partition_unsynced(struct cl_partition *part);

/* Write buffered batches; with sync == SYNC_DURABLE also fdatasync. */
int cl_partition_flush(struct cl_partition *part, int sync,
                       struct cl_err *err);

/* The partition's watch (in partition.state): a consumer waiting for the
 * log end (or start) to move registers its doorbell slot here
 * (cl_watch_add), then re-checks cl_partition_offsets before sleeping
 * (notify.h).  Valid until the log is closed. */
struct cl_watch *cl_partition_watch(struct cl_partition *part);

/* Log start and end offsets as all processes see them now. */
int cl_partition_offsets(struct cl_partition *part, int64_t *startp,
                         int64_t *endp, struct cl_err *err);

/* Where a reader starting at offset must begin: the segment's base and the
 * byte position of the batch holding offset.  CRAWLLOG_EOFFSET if offset is
 * below the log start or above the log end. */
int cl_partition_locate(struct cl_partition *part, int64_t offset,
                        int64_t *seg_basep, uint64_t *posp,
                        struct cl_err *err);

/* *outp = offset moved past the transaction markers (control batches)
 * that start at it, up to 64 of them (lookup.c): a committed offset at a
 * marker becomes the offset after it, so a group that consumed everything
 * shows no lag of 1 behind the marker that ends a partition.  Offsets it
 * cannot judge (outside the log, inside a batch) stay as they are. */
int cl_partition_skip_markers(struct cl_partition *part, int64_t offset,
                              int64_t *outp, struct cl_err *err);

/* First offset whose record timestamp is >= ts (the log end if none). */
int cl_partition_offset_for_time(struct cl_partition *part, int64_t ts,
                                 int64_t *offsetp, struct cl_err *err);

/* Roll the active segment if it is older than segment.ms and not empty. */
int cl_partition_roll_if_old(struct cl_partition *part, int64_t now_ms,
                             struct cl_err *err);

/* Delete segments beyond retention.ms / retention.bytes (retention.c). */
int cl_partition_retention(struct cl_partition *part, int64_t now_ms,
                           int64_t *deletedp, struct cl_err *err);

/* Internal, for retention.c: with the lock held, bring segs up to date. */
int cl_partition_sync_locked(struct cl_partition *part, struct cl_err *err);
int cl_partition_lock(struct cl_partition *part, struct cl_err *err);
void cl_partition_unlock(struct cl_partition *part);
int cl_partition_write_log_start(struct cl_partition *part, int64_t start,
                                 struct cl_err *err);
int cl_partition_unlink_segment(struct cl_partition *part, int64_t base,
                                struct cl_err *err);
/* With the lock held: store the active segment's state, log_start (if >=
 * 0) and the log end in the shared state; the watchers are rung when the
 * lock is released (cl_partition_unlock). */
void cl_partition_publish(struct cl_partition *part, int64_t log_start,
                          int bump);
int cl_partition_segment_max_ts(struct cl_partition *part,
                                struct cl_segment *seg, int64_t *tsp,
                                struct cl_err *err);

#endif /* CL_PARTITION_H */
