/*
 * control.h - Kafka control batches: the transaction markers (COMMIT /
 * ABORT) that end a transaction in each partition it wrote to (layer 1:
 * format only, no I/O besides the one allocation of cl_control_encode).
 * Byte layout and invariants: control.c.  Nothing calls it yet (issue 10).
 */
#ifndef CL_CONTROL_H
#define CL_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#include "errors.h"
#include "record.h"

/* Batch attributes bits (Kafka's RecordBatch.java); record.h names only the
 * compression bits so far.  Guarded so they can move there unchanged. */
#ifndef CL_BATCH_ATTR_TRANSACTIONAL
#define CL_BATCH_ATTR_TRANSACTIONAL 0x10 /* bit 4 isTransactional */
#endif
#ifndef CL_BATCH_ATTR_CONTROL
#define CL_BATCH_ATTR_CONTROL 0x20 /* bit 5 isControl */
#endif

/* Control record types (Kafka's ControlRecordType; 2..6 are KRaft's and
 * never appear in a libcrawllog log). */
#define CL_CONTROL_ABORT 0
#define CL_CONTROL_COMMIT 1

/* The attributes of every marker libcrawllog writes: transactional +
 * control, no compression, CreateTime, no delete horizon. */
#define CL_CONTROL_ATTRIBUTES                                                  \
    (CL_BATCH_ATTR_TRANSACTIONAL | CL_BATCH_ATTR_CONTROL)

/* A marker is always exactly this many bytes (61-byte header + a 17-byte
 * record); see control.c. */
#define CL_CONTROL_BATCH_SIZE 78

/* A decoded marker. */
struct cl_control {
    int64_t base_offset;       /* the marker's offset (uses one offset) */
    int64_t pid;               /* producerId of the transaction, >= 0 */
    int16_t epoch;             /* its producerEpoch, >= 0 */
    int type;                  /* CL_CONTROL_ABORT or CL_CONTROL_COMMIT */
    int32_t coordinator_epoch; /* EndTransactionMarker.coordinatorEpoch */
    int64_t timestamp;         /* marker time, ms since the epoch, >= 0 */
};

/*
 * Encode a marker into a new buffer of CL_CONTROL_BATCH_SIZE bytes
 * (cl_io_malloc'd: free it with cl_io_free) at *bufp, its size at *lenp.
 * base_offset, pid, epoch and timestamp_ms must be >= 0, type ABORT or
 * COMMIT; coordinator_epoch is any int32.  The base offset may be patched
 * later with cl_record_batch_set_base_offset() (not covered by the CRC).
 * Returns 0, CRAWLLOG_EINVAL (bad argument; nothing allocated) or
 * CRAWLLOG_ENOMEM.  *bufp and *lenp are written only on success.
 */
int cl_control_encode(int64_t base_offset, int64_t pid, int16_t epoch, int type,
                      int32_t coordinator_epoch, int64_t timestamp_ms,
                      unsigned char **bufp, size_t *lenp, struct cl_err *err);

/*
 * Decode the marker of len bytes at batch (exactly one batch) into *out.
 * Accepts only what cl_control_encode() writes (any base offset >= 0):
 * everything else, including an intact data batch, is CRAWLLOG_ECORRUPT
 * with the reason in err ("control batch: ...").  *out is written only on
 * success.  Safe on hostile input (reads only [batch, batch + len)).
 */
int cl_control_parse(const unsigned char *batch, size_t len,
                     struct cl_control *out, struct cl_err *err);

/* 1 if a batch with these attributes is a control batch (bit 5), else 0. */
int cl_control_is_control(int16_t attributes);

/* 1 if a batch with these attributes is transactional (bit 4), else 0. */
int cl_control_is_transactional(int16_t attributes);

#endif /* CL_CONTROL_H */
