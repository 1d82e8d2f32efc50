/*
 * record.c - Kafka RecordBatch v2 (magic 2): the layout, and encoding.
 *
 * Layer 1 (format): pure functions over caller-owned buffers.  No I/O, no
 * allocation, no locks, no global state; every function is thread-safe.
 * This file sizes and encodes batches (cl_record_batch_size, _encode,
 * _set_base_offset); record_read.c decodes, validates and iterates them.
 * The layout below and the _Static_asserts on the CL_BATCH_OFF_* offsets
 * (record.h) are the single reference for both.
 *
 * Owns on disk: the bytes of one batch, the unit that segment files are
 * made of.  All fixed-width integers are big-endian:
 *
 *   offset size field                 notes
 *        0    8 baseOffset            patched in under the append lock
 *        8    4 batchLength           bytes after this field
 *       12    4 partitionLeaderEpoch  -1; not covered by the CRC
 *       16    1 magic                 2
 *       17    4 crc                   CRC-32C of bytes [21, end)
 *       21    2 attributes            bits 0-2 compression: always 0 here
 *       23    4 lastOffsetDelta       recordsCount - 1
 *       27    8 baseTimestamp         first record's timestamp (ms)
 *       35    8 maxTimestamp
 *       43    8 producerId            -1 = none
 *       51    2 producerEpoch         -1 = none
 *       53    4 baseSequence          -1 = none
 *       57    4 recordsCount
 *       61    . records
 *
 *   record = length:varint (bytes that follow), attributes:int8 (0),
 *            timestampDelta:varlong, offsetDelta:varint,
 *            keyLength:varint (-1 null), key, valueLength:varint (-1 null),
 *            value, headerCount:varint,
 *            headerCount x (keyLength:varint (>= 0), key,
 *                           valueLength:varint (-1 null), value)
 *   varints are protobuf zig-zag, at most 5 bytes (varint) / 10 (varlong).
 *
 * Invariants of every batch this module encodes (and that decoding checks):
 *  - recordsCount >= 1 and record i has offsetDelta i;
 *  - each record's length varint covers exactly its fields;
 *  - the last record ends exactly at byte 12 + batchLength of the batch;
 *  - only the base offset and the leader epoch lie outside the CRC.
 * Decoding (record_read.c) treats its input as hostile: it never reads
 * outside [batch, batch + total), whatever the bytes say.
 *
 * One deliberate non-canonical encoding: a timestamp delta that depends on
 * the append time (exactly one of the record and the first record has a
 * timestamp < 0) is written as a padded 10-byte varlong, so that
 * cl_record_batch_size() is exact without knowing now_ms.  Kafka's
 * readVarlong and cl_get_varlong() both accept it.
 */
#include "record.h"

#include <assert.h>
#include <string.h>

#include "bytes.h"
#include "crc32c.h"

/* ---- Layout checks ------------------------------------------------------ */

/* Each field of the header starts where the previous one ends. */
#define FOLLOWS(field, prev, prev_size)                                        \
    (CL_BATCH_OFF_##field == CL_BATCH_OFF_##prev + (prev_size))
_Static_assert(CL_BATCH_OFF_BASE_OFFSET == 0 &&
                   FOLLOWS(BATCH_LENGTH, BASE_OFFSET, 8) &&
                   FOLLOWS(LEADER_EPOCH, BATCH_LENGTH, 4) &&
                   CL_BATCH_OFF_LEADER_EPOCH == CL_LOG_OVERHEAD &&
                   FOLLOWS(MAGIC, LEADER_EPOCH, 4) && FOLLOWS(CRC, MAGIC, 1),
               "batch header layout: baseOffset .. crc");
_Static_assert(FOLLOWS(ATTRIBUTES, CRC, 4) &&
                   FOLLOWS(LAST_OFFSET_DELTA, ATTRIBUTES, 2) &&
                   FOLLOWS(BASE_TIMESTAMP, LAST_OFFSET_DELTA, 4) &&
                   FOLLOWS(MAX_TIMESTAMP, BASE_TIMESTAMP, 8) &&
                   FOLLOWS(PRODUCER_ID, MAX_TIMESTAMP, 8),
               "batch header layout: attributes .. producerId");
_Static_assert(FOLLOWS(PRODUCER_EPOCH, PRODUCER_ID, 8) &&
                   FOLLOWS(BASE_SEQUENCE, PRODUCER_EPOCH, 2) &&
                   FOLLOWS(RECORDS_COUNT, BASE_SEQUENCE, 4) &&
                   CL_BATCH_HEADER_SIZE == CL_BATCH_OFF_RECORDS_COUNT + 4,
               "batch header layout: producerEpoch .. recordsCount");
#undef FOLLOWS

/* Lengths are int32 on disk; a batch is at most batchLength (int32) + 12. */
#define LEN_MAX ((uint64_t)INT32_MAX)
#define BATCH_SIZE_MAX (LEN_MAX + CL_LOG_OVERHEAD)

/* ---- Sizes --------------------------------------------------------------- */

/* Size of a length-prefixed byte field (NULL: the 1-byte length -1); 0 if
 * the length does not fit an int32. */
static uint64_t bytes_field_size(const void *p, size_t len)
{
    if (p == NULL) {
        return 1;
    }
    if ((uint64_t)len > LEN_MAX) {
        return 0;
    }
    return cl_varlong_size((int64_t)len) + (uint64_t)len;
}

/* Size of the header count and headers of rec; 0 if invalid or too big. */
static uint64_t headers_size(const crawllog_record_t *rec)
{
    uint64_t size;

    if ((uint64_t)rec->header_count > LEN_MAX ||
        (rec->header_count > 0 && rec->headers == NULL)) {
        return 0;
    }
    size = cl_varlong_size((int64_t)rec->header_count);
    for (size_t i = 0; i < rec->header_count; i++) {
        const crawllog_header_t *h = &rec->headers[i];
        uint64_t k, v;

        k = bytes_field_size(h->name, h->name_len);
        v = bytes_field_size(h->value, h->value_len);
        if (h->name == NULL || k == 0 || v == 0) {
            return 0;
        }
        size += k + v;
        if (size > BATCH_SIZE_MAX) {
            return 0;
        }
    }
    return size;
}

/* 1 if record i's timestamp delta depends on now_ms: exactly one of it and
 * the first record takes the append time. */
static int delta_needs_now(const crawllog_record_t *recs, size_t i)
{
    return (recs[i].timestamp < 0) != (recs[0].timestamp < 0);
}

/* Bytes of record i after its length varint; 0 if invalid or too big. */
static uint64_t record_body_size(const crawllog_record_t *recs, size_t i)
{
    const crawllog_record_t *rec = &recs[i];
    uint64_t k = bytes_field_size(rec->key, rec->key_len);
    uint64_t v = bytes_field_size(rec->value, rec->value_len);
    uint64_t h = headers_size(rec);
    uint64_t d = delta_needs_now(recs, i) ? CL_VARLONG_MAX
                 : rec->timestamp < 0
                     ? 1 /* now - now */
                     : cl_varlong_size(rec->timestamp - recs[0].timestamp);

    if (k == 0 || v == 0 || h == 0) {
        return 0;
    }
    return 1 + d + cl_varlong_size((int64_t)i) + k + v + h;
}

/* Bytes record i takes (length varint + body), its body size to *bodyp;
 * 0 if invalid or too big. */
static uint64_t record_size(const crawllog_record_t *recs, size_t i,
                            uint64_t *bodyp)
{
    uint64_t body = record_body_size(recs, i);

    *bodyp = body;
    if (body == 0 || body > BATCH_SIZE_MAX) {
        return 0;
    }
    return cl_varlong_size((int64_t)body) + body;
}

size_t cl_record_batch_size(const crawllog_record_t *recs, size_t n)
{
    uint64_t total = CL_BATCH_HEADER_SIZE, body;

    if (recs == NULL || n == 0 || (uint64_t)n > LEN_MAX) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t size = record_size(recs, i, &body);

        total += size;
        if (size == 0 || total > BATCH_SIZE_MAX) {
            return 0;
        }
    }
    return (size_t)total;
}

/* ---- Encoding ------------------------------------------------------------ */

static uint8_t *put_bytes(uint8_t *p, const void *src, size_t len)
{
    if (src == NULL) {
        return p + cl_put_varlong(p, -1);
    }
    p += cl_put_varlong(p, (int64_t)len);
    if (len > 0) {
        memcpy(p, src, len);
    }
    return p + len;
}

/* A zig-zag varlong padded to exactly CL_VARLONG_MAX bytes. */
static uint8_t *put_varlong_padded(uint8_t *p, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (0 - ((uint64_t)v >> 63));

    for (int i = 0; i < CL_VARLONG_MAX - 1; i++) {
        p[i] = (uint8_t)(z | 0x80);
        z >>= 7;
    }
    p[CL_VARLONG_MAX - 1] = (uint8_t)z; /* the one bit left, bit 63 */
    return p + CL_VARLONG_MAX;
}

/* Write record i, whose body (what follows its length) is body bytes. */
static uint8_t *encode_record(uint8_t *p, const crawllog_record_t *recs,
                              size_t i, uint64_t body, int64_t delta)
{
    const crawllog_record_t *rec = &recs[i];

    p += cl_put_varlong(p, (int64_t)body);
    *p++ = 0; /* attributes: unused */
    if (delta_needs_now(recs, i)) {
        p = put_varlong_padded(p, delta);
    } else {
        p += cl_put_varlong(p, delta);
    }
    p += cl_put_varlong(p, (int64_t)i);
    p = put_bytes(p, rec->key, rec->key_len);
    p = put_bytes(p, rec->value, rec->value_len);
    p += cl_put_varlong(p, (int64_t)rec->header_count);
    for (size_t j = 0; j < rec->header_count; j++) {
        const crawllog_header_t *h = &rec->headers[j];

        p = put_bytes(p, h->name, h->name_len);
        p = put_bytes(p, h->value, h->value_len);
    }
    return p;
}

/* Fill the 61-byte header of an encoded batch, CRC last. */
static void put_header(uint8_t *buf, size_t total, int32_t count,
                       int64_t base_ts, int64_t max_ts,
                       const struct cl_batch_meta *meta)
{
    cl_put_i64(buf + CL_BATCH_OFF_BASE_OFFSET, 0);
    cl_put_i32(buf + CL_BATCH_OFF_BATCH_LENGTH,
               (int32_t)(total - CL_LOG_OVERHEAD));
    cl_put_i32(buf + CL_BATCH_OFF_LEADER_EPOCH, -1);
    buf[CL_BATCH_OFF_MAGIC] = CL_BATCH_MAGIC;
    cl_put_i16(buf + CL_BATCH_OFF_ATTRIBUTES, meta->attributes);
    cl_put_i32(buf + CL_BATCH_OFF_LAST_OFFSET_DELTA, count - 1);
    cl_put_i64(buf + CL_BATCH_OFF_BASE_TIMESTAMP, base_ts);
    cl_put_i64(buf + CL_BATCH_OFF_MAX_TIMESTAMP, max_ts);
    cl_put_i64(buf + CL_BATCH_OFF_PRODUCER_ID, meta->producer_id);
    cl_put_i16(buf + CL_BATCH_OFF_PRODUCER_EPOCH, meta->producer_epoch);
    cl_put_i32(buf + CL_BATCH_OFF_BASE_SEQUENCE, meta->base_sequence);
    cl_put_i32(buf + CL_BATCH_OFF_RECORDS_COUNT, count);
    cl_put_u32(buf + CL_BATCH_OFF_CRC,
               cl_crc32c(0, buf + CL_BATCH_OFF_ATTRIBUTES,
                         total - CL_BATCH_OFF_ATTRIBUTES));
}

size_t cl_record_batch_encode(uint8_t *buf, size_t cap,
                              const crawllog_record_t *recs, size_t n,
                              int64_t now_ms, const struct cl_batch_meta *meta)
{
    static const struct cl_batch_meta none = CL_BATCH_META_NONE;
    uint64_t total = CL_BATCH_HEADER_SIZE, body;
    int64_t base_ts, max_ts;
    uint8_t *p;

    if (meta == NULL) {
        meta = &none;
    }
    if (recs == NULL || n == 0 || (uint64_t)n > LEN_MAX || buf == NULL ||
        (meta->attributes & CL_BATCH_ATTR_COMPRESSION) != 0) {
        return 0;
    }
    base_ts = recs[0].timestamp < 0 ? now_ms : recs[0].timestamp;
    max_ts = base_ts;
    p = buf + CL_BATCH_HEADER_SIZE;
    /* One pass, sized as cl_record_batch_size() does: each record is sized
     * and checked against cap just before it is written, so its body size
     * is computed once. */
    for (size_t i = 0; i < n; i++) {
        int64_t ts = recs[i].timestamp < 0 ? now_ms : recs[i].timestamp;
        uint64_t size = record_size(recs, i, &body);

        total += size;
        if (size == 0 || total > BATCH_SIZE_MAX || total > cap || ts < 0) {
            return 0; /* ts < 0: now_ms < 0 but needed; ts >= 0 below */
        }
        if (ts > max_ts) {
            max_ts = ts;
        }
        p = encode_record(p, recs, i, body, ts - base_ts);
    }
    assert((uint64_t)(p - buf) == total);
    put_header(buf, (size_t)total, (int32_t)n, base_ts, max_ts, meta);
    return (size_t)total;
}

void cl_record_batch_set_base_offset(uint8_t *batch, int64_t base_offset)
{
    cl_put_i64(batch + CL_BATCH_OFF_BASE_OFFSET, base_offset);
}

void cl_record_batch_set_sequence(uint8_t *batch, size_t total,
                                  int32_t base_sequence)
{
    cl_put_i32(batch + CL_BATCH_OFF_BASE_SEQUENCE, base_sequence);
    cl_put_u32(batch + CL_BATCH_OFF_CRC,
               cl_crc32c(0, batch + CL_BATCH_OFF_ATTRIBUTES,
                         total - CL_BATCH_OFF_ATTRIBUTES));
}
