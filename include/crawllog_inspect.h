/*
 * crawllog_inspect.h - libcrawllog public API: read-only inspection of a
 * partition's segments and record batches (what `crawllog topics describe`
 * and `crawllog dump` show; Kafka's kafka-log-dirs.sh and
 * kafka-dump-log.sh --print-data-log).
 * Part of crawllog.h, which includes it: include crawllog.h, not this file.
 * MIT licence, see LICENSE.
 */
#ifndef CRAWLLOG_INSPECT_H
#define CRAWLLOG_INSPECT_H

#ifndef CRAWLLOG_H
#error "include crawllog.h, not crawllog_inspect.h"
#endif

/* ====================================================================== */
/* Inspection                                                              */
/* ====================================================================== */

/*
 * Both calls are read-only.  Like a reader's seek, they take the
 * partition's append lock for a moment to read the segment list and the
 * log end as of the call (seeing other processes' appends, rolls and
 * retention); the files are then read without any lock, so appends from
 * any thread or process go on meanwhile.  They write, truncate, create and
 * delete nothing themselves: the only changes are the recovery every call
 * on a partition may do - at the handle's first use of it (as
 * crawllog_open() describes), and when taking the lock finds a batch that
 * a crashed writer left half written.  Memory use is bounded: a read
 * buffer of at most 256 KiB, the list of segments and, to start in the
 * middle of a segment, that segment's index (as a reader loads it); never
 * proportional to a segment or a batch.  A segment deleted by retention
 * while the call runs is left out.
 * Thread-safety: any thread, any process.
 */

/* RecordBatch v2 attribute bits (docs/FORMAT.md section 3). */
#define CRAWLLOG_BATCH_ATTR_COMPRESSION 0x07     /* codec; 0 = none */
#define CRAWLLOG_BATCH_ATTR_LOG_APPEND_TIME 0x08 /* timestamp type */
#define CRAWLLOG_BATCH_ATTR_TRANSACTIONAL 0x10
#define CRAWLLOG_BATCH_ATTR_CONTROL 0x20

/** One segment of a partition (docs/FORMAT.md sections 2 and 4). */
typedef struct crawllog_segment_info {
    int64_t base_offset;  /* the segment's first offset (its file name) */
    int64_t next_offset;  /* offset after its last batch (= base if empty) */
    uint64_t log_bytes;   /* size of <base>.log (header included) */
    uint64_t index_bytes; /* <base>.index, 0 if missing */
    uint64_t timeindex_bytes; /* <base>.timeindex, 0 if missing */
    int64_t max_timestamp;    /* largest record timestamp in it, -1 if empty */
    int active;               /* 1: the segment appends go to (the last) */
    int64_t created_ms;       /* creation time from its header (segment.ms
                                 rolls count from it) */
    int64_t batch_count;      /* record batches in it */
} crawllog_segment_info_t;

/**
 * @brief The segments of a partition, oldest first, as of now (other
 *        processes' appends, rolls and retention seen).
 *
 * The last segment is the active one (active = 1); the others are sealed.
 * Offsets are contiguous: each segment's next_offset is the next one's
 * base_offset (unless retention deleted one while the call ran).  The active segment's sizes and offsets are those of the
 * batches appended before the call (a batch being written by another
 * thread or process is not counted).  next_offset, max_timestamp and
 * batch_count come from the batch headers (the time index is not
 * trusted), so the call reads every batch header of the partition: at
 * most one read (of up to 16 KiB) per batch, no CRC check (see
 * crawllog_partition_batches()).  Segments below the log start offset that
 * retention has not deleted yet are listed.
 * @param segsp   out: *countp entries, malloc'd: free() it.  NULL on
 *                failure.
 * @param countp  out: number of segments (>= 1 unless the partition was
 *                deleted meanwhile); 0 on failure.
 * @return CRAWLLOG_OK, CRAWLLOG_EINVAL (NULL argument, invalid topic name,
 *         negative partition), CRAWLLOG_ENOTOPIC (no such topic, partition
 *         at or beyond the partition count, partition deleted),
 *         CRAWLLOG_ECORRUPT (a batch header that cannot be read: message
 *         "<file>: byte <n>: <why>"), CRAWLLOG_EIO (or another code mapped
 *         from a system error, e.g. CRAWLLOG_EMFILE), CRAWLLOG_ENOMEM.
 *         crawllog_errmsg() tells more.
 * @note Thread-safety: any thread, any process.
 */
CRAWLLOG_API int crawllog_partition_segments(crawllog_t *log, const char *topic,
                                             int32_t partition,
                                             crawllog_segment_info_t **segsp,
                                             size_t *countp);

/** One record batch as stored (docs/FORMAT.md section 3). */
typedef struct crawllog_batch_info {
    int64_t segment_base; /* segment holding it */
    uint64_t position;    /* byte position of the batch in the .log */
    uint32_t size;        /* bytes of the whole batch (header included) */
    int64_t base_offset, last_offset; /* last = base + lastOffsetDelta */
    int32_t record_count;             /* recordsCount as stored */
    int8_t magic;       /* always 2 (another magic ends the walk) */
    int16_t attributes; /* raw: CRAWLLOG_BATCH_ATTR_* bits */
    uint32_t crc;       /* stored CRC-32C */
    int crc_valid;      /* 1 if the stored CRC matches the bytes */
    int64_t first_timestamp, max_timestamp; /* baseTimestamp, maxTimestamp */
    int64_t producer_id;                    /* -1: none */
    int16_t producer_epoch;                 /* -1: none */
    int32_t base_sequence;                  /* -1: none */
    int32_t leader_epoch; /* partitionLeaderEpoch: -1 (not CRC-covered) */
} crawllog_batch_info_t;

/** Called per batch; return non-zero to stop (crawllog_partition_batches
 *  then returns CRAWLLOG_OK).  batch is valid during the call only. */
typedef int crawllog_batch_cb(void *opaque, const crawllog_batch_info_t *batch);

/**
 * @brief Every batch of a partition, in order across segments, from the
 *        batch holding from_offset up to the log end as of the call.
 *
 * from_offset below the log start offset (e.g. 0, or any negative value)
 * starts at the log start; at or past the log end there is no batch (and
 * CRAWLLOG_OK).  Batches appended after the call started are not reported
 * (the walk stops at the log end published when it started).  Fields are
 * the stored ones, not checked against each other; only the CRC is
 * checked (streamed: a batch of any size needs no more memory).
 *
 * Damage: a batch whose CRC does not match is reported with crc_valid = 0
 * and the walk goes on with the next batch (its length field, which the
 * CRC does not cover, is trusted when it fits in the segment).  A batch
 * whose structure is unreadable - fewer than 61 bytes before the end of
 * the segment, a magic other than 2, a batch length below 49 or running
 * past the end of the segment, a file shorter than its published size -
 * ends the walk with CRAWLLOG_ECORRUPT and crawllog_errmsg() naming the
 * file and byte: "topics/t/0/00000000000000000000.log: byte 4242: batch
 * length 99999999 out of range (1042 bytes left in the segment)"; the
 * batches before it were reported.
 *
 * The callback runs without any lock of the library held; it may call the
 * library (even append to this partition: those batches are not reported).
 * @param from_offset  any offset (see above).
 * @param cb           called once per batch, in log order.
 * @return CRAWLLOG_OK (also when cb stopped the walk), CRAWLLOG_EINVAL
 *         (NULL log, topic or cb, invalid topic name, negative partition),
 *         CRAWLLOG_ENOTOPIC (no such topic, partition at or beyond the
 *         partition count, partition deleted), CRAWLLOG_ECORRUPT (see
 *         above; also a damaged batch header met while locating
 *         from_offset), CRAWLLOG_EIO (or another code mapped from a system
 *         error, e.g. CRAWLLOG_EMFILE), CRAWLLOG_ENOMEM.
 * @note Thread-safety: any thread, any process; other threads and
 *       processes may append, roll and run retention meanwhile.
 */
CRAWLLOG_API int crawllog_partition_batches(crawllog_t *log, const char *topic,
                                            int32_t partition,
                                            int64_t from_offset,
                                            crawllog_batch_cb *cb,
                                            void *opaque);

#endif /* CRAWLLOG_INSPECT_H */
