/*
 * record.h - Kafka RecordBatch v2 (magic 2) encode, decode and validate
 * (layer 1: pure functions, no I/O, no allocation).
 *
 * A batch is the on-disk and in-memory unit of a partition: a 61-byte
 * big-endian header followed by the records (see record.c for the layout and
 * kafka-reference.md section 3.5).  libcrawllog never compresses, so the
 * compression bits of the attributes are always 0.
 *
 * record.c encodes (size, encode, set_base_offset); record_read.c decodes,
 * validates and iterates (batch_header, check_crc, validate, iter_*,
 * header_at).  Every decoding function is safe on hostile input: it never
 * reads outside [batch, batch + total) and reports malformed bytes as
 * CRAWLLOG_ECORRUPT.
 */
#ifndef CL_RECORD_H
#define CL_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "crawllog.h"

#define CL_LOG_OVERHEAD 12 /* baseOffset + batchLength */
#define CL_BATCH_HEADER_SIZE 61
#define CL_BATCH_MAGIC 2

/* Byte offsets of the batch header fields (drawn in record.c, whose
 * _Static_asserts check that they follow one another). */
#define CL_BATCH_OFF_BASE_OFFSET 0
#define CL_BATCH_OFF_BATCH_LENGTH 8
#define CL_BATCH_OFF_LEADER_EPOCH 12
#define CL_BATCH_OFF_MAGIC 16
#define CL_BATCH_OFF_CRC 17
#define CL_BATCH_OFF_ATTRIBUTES 21 /* the CRC covers [21, end) */
#define CL_BATCH_OFF_LAST_OFFSET_DELTA 23
#define CL_BATCH_OFF_BASE_TIMESTAMP 27
#define CL_BATCH_OFF_MAX_TIMESTAMP 35
#define CL_BATCH_OFF_PRODUCER_ID 43
#define CL_BATCH_OFF_PRODUCER_EPOCH 51
#define CL_BATCH_OFF_BASE_SEQUENCE 53
#define CL_BATCH_OFF_RECORDS_COUNT 57

/* Attributes bits 0-2: compression codec; 0 = none. */
#define CL_BATCH_ATTR_COMPRESSION 0x07

/* Producer fields and attributes written into a batch header.  The
 * compression bits (0-2) of attributes must be 0. */
struct cl_batch_meta {
    int64_t producer_id;    /* -1: none */
    int16_t producer_epoch; /* -1: none */
    int32_t base_sequence;  /* -1: none */
    int16_t attributes;     /* bit 4 transactional, bit 5 control */
};

/* clang-format off */
#define CL_BATCH_META_NONE {-1, -1, -1, 0}
/* clang-format on */

/* The decoded header fields of a batch. */
struct cl_batch_hdr {
    int64_t base_offset;
    int32_t batch_length; /* bytes after this field */
    int32_t leader_epoch; /* not covered by the CRC */
    int8_t magic;
    uint32_t crc; /* CRC-32C of bytes [21, end) */
    int16_t attributes;
    int32_t last_offset_delta; /* records_count - 1 */
    int64_t base_timestamp;    /* first record's timestamp */
    int64_t max_timestamp;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
    int32_t records_count;
};

/*
 * Exact encoded size of a batch of n records (header included).  0 if n ==
 * 0, recs is NULL, a record is invalid (headers NULL with header_count > 0,
 * a header whose name is NULL) or the batch would overflow (size > INT32_MAX
 * + 12, or any key/value/header length > INT32_MAX).
 *
 * A timestamp delta that depends on the append time (one of the record and
 * the first record has a timestamp < 0 and the other has not) is sized, and
 * later written, as a 10-byte varlong, so the size is exact whatever now_ms
 * cl_record_batch_encode() gets.
 */
size_t cl_record_batch_size(const crawllog_record_t *recs, size_t n);

/*
 * Encode n records into buf (cap >= cl_record_batch_size()).  The base
 * offset is written as 0 (it is assigned later under the append lock, see
 * cl_record_batch_set_base_offset()); partitionLeaderEpoch is -1; record
 * timestamps < 0 become now_ms; baseTimestamp is the first record's
 * timestamp and maxTimestamp the largest; timestampDelta = ts -
 * baseTimestamp (may be negative); offsetDelta = the record's index; the
 * CRC is filled in.  A NULL key, value or header value is written as null
 * (length -1) whatever its length field says.  meta NULL means
 * CL_BATCH_META_NONE.
 *
 * Returns the bytes written (== cl_record_batch_size()), or 0 on invalid
 * input: what cl_record_batch_size() rejects, buf NULL, cap too small,
 * compression bits in meta->attributes, or now_ms < 0 while a record needs
 * it.  After a failure the contents of buf are unspecified (records before
 * the bad one may have been written; never a byte at or past buf + cap).
 */
size_t cl_record_batch_encode(uint8_t *buf, size_t cap,
                              const crawllog_record_t *recs, size_t n,
                              int64_t now_ms, const struct cl_batch_meta *meta);

/* Patch the base offset of an encoded batch (not covered by the CRC). */
void cl_record_batch_set_base_offset(uint8_t *batch, int64_t base_offset);

/* Rewrite the base sequence of an encoded batch of total bytes (an
 * idempotent producer's sequence is assigned under the append lock) and
 * recompute the CRC, which covers it. */
void cl_record_batch_set_sequence(uint8_t *batch, size_t total,
                                  int32_t base_sequence);

/*
 * Parse and sanity-check the 61-byte header at buf (len bytes available).
 * *hdr is filled whenever len >= 61, even when a check fails.
 * Checks: magic == 2, batch_length >= 49, records_count >= 1,
 * last_offset_delta == records_count - 1, records_count small enough for
 * batch_length (a record takes at least 7 bytes), base_offset >= 0 and
 * base_offset + last_offset_delta does not overflow.
 * max_timestamp >= base_timestamp is not required.
 * Returns 0 ok, 1 short input (len < 61: need more bytes), CRAWLLOG_ECORRUPT
 * (a failed check, including any magic != 2), CRAWLLOG_EVERSION (a sane
 * header whose compression bits are not 0).  The CRC is not checked here,
 * and len may be shorter than the whole batch.
 */
int cl_record_batch_header(const uint8_t *buf, size_t len,
                           struct cl_batch_hdr *hdr);

/* Total bytes of the batch = batch_length + 12. */
static inline size_t cl_record_batch_total(const struct cl_batch_hdr *h)
{
    return (size_t)h->batch_length + CL_LOG_OVERHEAD;
}

/* CRC check of a whole batch of total bytes: 0 or CRAWLLOG_ECORRUPT (also
 * when total < 61 or total != batchLength + 12). */
int cl_record_batch_check_crc(const uint8_t *batch, size_t total);

/*
 * Full validation: header + CRC + every record decodes within bounds +
 * count matches + offsetDelta of record i == i + no trailing bytes.
 * Returns 0 or CRAWLLOG_ECORRUPT; CRAWLLOG_EVERSION for a batch whose CRC
 * is right but whose compression bits are not 0.  If errbuf is not NULL, a
 * failure writes a short reason ("record 3: key length past end of
 * record").
 */
int cl_record_batch_validate(const uint8_t *batch, size_t total, char *errbuf,
                             size_t errsize);

/* One record of a batch, as pointers into the batch. */
struct cl_record_view {
    int64_t offset;
    int64_t timestamp;
    const uint8_t *key;
    int32_t key_len; /* key NULL when key_len == -1 (null) */
    const uint8_t *value;
    int32_t value_len; /* NULL when -1 */
    const uint8_t *headers;
    const uint8_t *headers_end;
    int32_t header_count; /* raw header bytes, lazily decoded */
};

struct cl_record_iter {
    const uint8_t *p, *end;
    int64_t base_offset;
    int64_t base_timestamp;
    int32_t index, count;
};

/*
 * Start iterating the records of a batch of total bytes.  The header must
 * be valid: 0, CRAWLLOG_ECORRUPT (bad header, or total != batchLength + 12)
 * or CRAWLLOG_EVERSION (compressed).  The CRC is not checked here.
 */
int cl_record_iter_init(struct cl_record_iter *it, const uint8_t *batch,
                        size_t total);

/*
 * Next record: 0 and fills rv, 1 at the end of the batch, CRAWLLOG_ECORRUPT
 * on malformed bytes (including bytes left over after the last record).
 * Every field is bounds-checked, so this is safe even without a CRC check.
 */
int cl_record_iter_next(struct cl_record_iter *it, struct cl_record_view *rv);

/*
 * Decode header i of a record view into *hdr (pointers into the batch; the
 * value is NULL with value_len 0 for a null value).  0, CRAWLLOG_EINVAL (i
 * out of range), CRAWLLOG_ECORRUPT.
 */
int cl_record_header_at(const struct cl_record_view *rv, size_t i,
                        crawllog_header_t *hdr);

#endif /* CL_RECORD_H */
