/*
 * reader.h - internal view of crawllog_reader_t / crawllog_msg_t for the
 * consumer (layer 2).  See reader.c.
 */
#ifndef CL_READER_H
#define CL_READER_H

#include <stddef.h>
#include <stdint.h>

#include "crawllog.h"
#include "errors.h"
#include "record.h"

struct crawllog_msg_s {
    struct cl_record_view rv;
    const char *topic;   /* owned by the reader (or consumer) */
    int32_t partition;
};

/* A reader (crawllog_reader_t).  Defined here for the backends' shells
 * (backend.h); only reader.c touches the file-backend fields. */
struct crawllog_reader_s {
    struct cl_kafka_reader *kafka; /* the Kafka backend's reader, NULL:
                                     this file-backend one */
    crawllog_t *log;
    struct cl_partition *part;
    char *topic;
    int32_t partition;
    int fd;                   /* current segment, -1: locate first */
    int64_t seg_base;
    uint64_t pos;             /* file position after the buffered batches */
    int64_t next;             /* offset of the next record to return */
    int64_t expect;           /* base offset the next batch must have */
    uint8_t *buf;
    size_t cap, len, off;     /* buffered batches are buf[off, len) */
    size_t batch_start;       /* buf offset of the batch being iterated */
    int in_batch;
    struct cl_record_iter it;
    struct crawllog_msg_s msg;
    int isolation;            /* CRAWLLOG_READ_* */
    struct cl_txn_scan *scan; /* fates; made on the first transaction */
    int blocked;              /* the last next stopped at an open txn */
    int64_t blocked_at;       /* offset of that batch, -1: none */
    int64_t blocked_since;    /* cl_io_mono_ns when blocked there first */
    int64_t recovered_ns;     /* last cl_txn_recover_stale, 0: never */
    char errmsg[CL_ERRMSG_SIZE];
};

/*
 * The next record into *msg, for a consumer that hands out many messages
 * at once: records already in the reader's buffer are returned without
 * touching it; only with may_fill may the buffer be refilled (up to
 * fill_bytes, at least one batch), which invalidates every view handed out
 * before.  *gotp = 0 when nothing more is available now (log end, or the
 * buffer is used up and !may_fill, or read_committed stopped at an open
 * transaction: cl_reader_blocked).  Markers and skipped aborted batches
 * may make one call refill several times (it returned nothing yet).
 * Errors as crawllog_reader_next.
 */
int cl_reader_next_into(crawllog_reader_t *rd, int may_fill,
                        size_t fill_bytes, struct crawllog_msg_s *msg,
                        int *gotp);

/* 1 if the reader's last next stopped at an open transaction (read
 * committed: nothing more until its marker is written), else 0. */
int cl_reader_blocked(const crawllog_reader_t *rd);

/* The partition object behind the reader. */
struct cl_partition *cl_reader_partition(const crawllog_reader_t *rd);

#endif /* CL_READER_H */
