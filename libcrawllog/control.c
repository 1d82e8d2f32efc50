/*
 * control.c - Kafka control batches: the COMMIT / ABORT transaction markers
 * (Kafka's ControlRecordType + EndTransactionMarker; layer 1, format only).
 *
 * Purpose: encode a marker for a partition a transaction wrote to, decode
 * and strictly check one.  Nothing calls it yet (issue 10): the transaction
 * coordinator will append one marker per touched partition, the reader will
 * skip control batches and use them to end (pid, epoch) ranges.
 *
 * Owns on disk: the bytes of one control batch, a RecordBatch v2 (record.c)
 * written like any other batch into a segment.  Text for FORMAT.md §3:
 *
 * ### Attributes (int16 at byte 21)
 *
 * | bits | meaning | libcrawllog |
 * |---:|---|---|
 * | 0-2 | compression codec | 0 (none); anything else is CRAWLLOG_EVERSION |
 * | 3 | timestampType (1 = LogAppendTime) | 0 (CreateTime) |
 * | 4 | isTransactional (0x0010) | set on every batch of a transaction and on its markers |
 * | 5 | isControl (0x0020) | set on markers only; readers must never deliver a control batch to the application |
 * | 6 | hasDeleteHorizon | 0 |
 * | 7-15 | unused | 0 |
 *
 * ### Control batch (transaction marker): always 78 bytes
 *
 * | offset | size | field | value |
 * |---:|---:|---|---|
 * | 0 | 8 | baseOffset | the marker's offset (it uses one offset; consumers see a gap) |
 * | 8 | 4 | batchLength | 66 (0x00000042) |
 * | 12 | 4 | partitionLeaderEpoch | -1 |
 * | 16 | 1 | magic | 2 |
 * | 17 | 4 | crc | CRC-32C of bytes [21, 78) |
 * | 21 | 2 | attributes | 0x0030 (transactional + control) exactly |
 * | 23 | 4 | lastOffsetDelta | 0 |
 * | 27 | 8 | baseTimestamp | marker time (ms, >= 0) |
 * | 35 | 8 | maxTimestamp | the same marker time |
 * | 43 | 8 | producerId | the transactional producer's id (>= 0) |
 * | 51 | 2 | producerEpoch | its epoch (>= 0) |
 * | 53 | 4 | baseSequence | -1 (markers take no sequence number) |
 * | 57 | 4 | recordsCount | 1 |
 * | 61 | 1 | record length | varint 16 (byte 0x20) |
 * | 62 | 1 | record attributes | 0 |
 * | 63 | 1 | timestampDelta | varlong 0 (byte 0x00) |
 * | 64 | 1 | offsetDelta | varint 0 (byte 0x00) |
 * | 65 | 1 | keyLength | varint 4 (byte 0x08) |
 * | 66 | 2 | key: version | int16 0 (ControlRecordType key version) |
 * | 68 | 2 | key: type | int16 0 = ABORT, 1 = COMMIT |
 * | 70 | 1 | valueLength | varint 6 (byte 0x0c) |
 * | 71 | 2 | value: version | int16 0 (EndTransactionMarker version) |
 * | 73 | 4 | value: coordinatorEpoch | int32 (copied from the caller) |
 * | 77 | 1 | headerCount | varint 0 (byte 0x00) |
 *
 * Kafka's own markers have this layout byte for byte, except that a broker
 * writes its partitionLeaderEpoch there instead of -1.  Kafka's readers
 * tolerate key / value versions above 0 (parsed as version 0) and key
 * types 2..6 (KRaft records); libcrawllog is the only writer of its logs,
 * so cl_control_parse() refuses all of them.
 *
 * Invariants:
 *  - cl_control_parse() accepts exactly the byte strings cl_control_encode()
 *    can produce (any base offset >= 0): after the field checks, which give
 *    the precise reason, the batch is re-encoded from the decoded fields and
 *    compared byte for byte, so no other encoding of the same marker
 *    (padded varints, record attributes, extra bits) slips through.
 *  - Every byte but the base offset is checked: bytes [21, 78) by the
 *    CRC, batchLength / magic / partitionLeaderEpoch by value.  The base
 *    offset is any value >= 0 and can only be checked by the caller against
 *    the position the batch was read from.
 *  - Decoding goes through record_read.c (cl_record_batch_validate, the
 *    iterator), which never reads outside [batch, batch + len).
 *
 * Locks: none; no global state, thread-safe.  I/O: one cl_io_malloc in
 * cl_control_encode, failpoint site "malloc".
 */
#include "control.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bytes.h"
#include "io.h"
#include "record.h"

#define KEY_SIZE 4   /* version int16 + type int16 */
#define VALUE_SIZE 6 /* version int16 + coordinatorEpoch int32 */
#define KEY_VERSION 0
#define VALUE_VERSION 0

/* Header 61 + record: length varint (1) + body 16 (attributes, ts delta,
 * offset delta, key length, key 4, value length, value 6, header count). */
_Static_assert(CL_CONTROL_BATCH_SIZE == CL_BATCH_HEADER_SIZE + 1 + 1 + 1 + 1 +
                                            1 + KEY_SIZE + 1 + VALUE_SIZE + 1,
               "control batch size");
_Static_assert(CL_BATCH_ATTR_TRANSACTIONAL == 0x10 &&
                   CL_BATCH_ATTR_CONTROL == 0x20,
               "attributes bits 4 and 5");

int cl_control_is_control(int16_t attributes)
{
    return (attributes & CL_BATCH_ATTR_CONTROL) != 0;
}

int cl_control_is_transactional(int16_t attributes)
{
    return (attributes & CL_BATCH_ATTR_TRANSACTIONAL) != 0;
}

/* Encode into buf (CL_CONTROL_BATCH_SIZE bytes); arguments already
 * checked.  Returns the bytes written: CL_CONTROL_BATCH_SIZE, or 0 if
 * record.c refused (never for checked arguments). */
static size_t encode_into(uint8_t *buf, int64_t base_offset, int64_t pid,
                          int16_t epoch, int type, int32_t coordinator_epoch,
                          int64_t timestamp_ms)
{
    uint8_t key[KEY_SIZE], value[VALUE_SIZE];
    struct cl_batch_meta meta = {pid, epoch, -1, CL_CONTROL_ATTRIBUTES};
    crawllog_record_t rec = {key,          KEY_SIZE, value, VALUE_SIZE,
                             timestamp_ms, NULL,     0};
    size_t n;

    cl_put_i16(key, KEY_VERSION);
    cl_put_i16(key + 2, (int16_t)type);
    cl_put_i16(value, VALUE_VERSION);
    cl_put_i32(value + 2, coordinator_epoch);
    n = cl_record_batch_encode(buf, CL_CONTROL_BATCH_SIZE, &rec, 1,
                               timestamp_ms, &meta);
    if (n != CL_CONTROL_BATCH_SIZE) {
        return 0;
    }
    cl_record_batch_set_base_offset(buf, base_offset);
    return n;
}

int cl_control_encode(int64_t base_offset, int64_t pid, int16_t epoch, int type,
                      int32_t coordinator_epoch, int64_t timestamp_ms,
                      unsigned char **bufp, size_t *lenp, struct cl_err *err)
{
    uint8_t *buf;

    if (bufp == NULL || lenp == NULL) {
        return cl_errf(err, CRAWLLOG_EINVAL,
                       "control batch: NULL output pointer");
    }
    if (base_offset < 0 || pid < 0 || epoch < 0 || timestamp_ms < 0) {
        return cl_errf(err, CRAWLLOG_EINVAL,
                       "control batch: negative argument (base offset %" PRId64
                       ", producer id %" PRId64 ", epoch %d, timestamp %" PRId64
                       ")",
                       base_offset, pid, (int)epoch, timestamp_ms);
    }
    if (type != CL_CONTROL_ABORT && type != CL_CONTROL_COMMIT) {
        return cl_errf(err, CRAWLLOG_EINVAL,
                       "control batch: type %d is neither ABORT (0) nor "
                       "COMMIT (1)",
                       type);
    }
    buf = cl_io_malloc(CL_CONTROL_BATCH_SIZE);
    if (buf == NULL) {
        return cl_errf(err, CRAWLLOG_ENOMEM,
                       "control batch: out of memory (%d bytes)",
                       CL_CONTROL_BATCH_SIZE);
    }
    if (encode_into(buf, base_offset, pid, epoch, type, coordinator_epoch,
                    timestamp_ms) == 0) {
        cl_io_free(buf);
        return cl_errf(err, CRAWLLOG_EINVAL,
                       "control batch: record encoder refused the marker");
    }
    *bufp = buf;
    *lenp = CL_CONTROL_BATCH_SIZE;
    return 0;
}

/* ---- Parsing ------------------------------------------------------------- */

static int corrupt(struct cl_err *err, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* "control batch: <reason>" into err; returns CRAWLLOG_ECORRUPT. */
static int corrupt(struct cl_err *err, const char *fmt, ...)
{
    char why[CL_ERRMSG_SIZE - 32];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    return cl_errf(err, CRAWLLOG_ECORRUPT, "control batch: %s", why);
}

/* Checks of the header fields the marker fixes (after validation). */
static int check_header(const struct cl_batch_hdr *h, struct cl_err *err)
{
    int attr = (uint16_t)h->attributes;

    if (!cl_control_is_control(h->attributes)) {
        return corrupt(err,
                       "attributes 0x%04x: not a control batch (bit 5 "
                       "isControl is clear)",
                       attr);
    }
    if (!cl_control_is_transactional(h->attributes)) {
        return corrupt(err,
                       "attributes 0x%04x: not transactional (bit 4 is "
                       "clear); a transaction marker needs both bits",
                       attr);
    }
    if (attr != CL_CONTROL_ATTRIBUTES) {
        return corrupt(err,
                       "attributes 0x%04x: bits other than 4 and 5 are set "
                       "(compression, timestamp type, delete horizon or "
                       "unused)",
                       attr);
    }
    if (h->records_count != 1) {
        return corrupt(err, "record count %" PRId32 ", a marker has exactly 1",
                       h->records_count);
    }
    if (h->leader_epoch != -1) {
        return corrupt(err, "partitionLeaderEpoch %" PRId32 ", expected -1",
                       h->leader_epoch);
    }
    if (h->producer_id < 0 || h->producer_epoch < 0) {
        return corrupt(err,
                       "producerId %" PRId64 " / epoch %d: a marker needs "
                       "the transactional producer's (>= 0)",
                       h->producer_id, (int)h->producer_epoch);
    }
    if (h->base_sequence != -1) {
        return corrupt(err, "baseSequence %" PRId32 ", expected -1",
                       h->base_sequence);
    }
    return 0;
}

/* Checks of the one record; fills type, coordinator_epoch, timestamp. */
static int check_record(const struct cl_batch_hdr *h,
                        const struct cl_record_view *rv, struct cl_control *c,
                        struct cl_err *err)
{
    int key_version, value_version;

    if (rv->key == NULL || rv->key_len != KEY_SIZE) {
        return corrupt(err,
                       "key length %" PRId32 ", expected 4 (version int16, "
                       "type int16)",
                       rv->key_len);
    }
    if ((key_version = cl_get_i16(rv->key)) != KEY_VERSION) {
        return corrupt(err, "key version %d, expected 0", key_version);
    }
    c->type = cl_get_i16(rv->key + 2);
    if (c->type != CL_CONTROL_ABORT && c->type != CL_CONTROL_COMMIT) {
        return corrupt(
            err, "unknown control record type %d (0 ABORT, 1 COMMIT)", c->type);
    }
    if (rv->value == NULL || rv->value_len != VALUE_SIZE) {
        return corrupt(err,
                       "value length %" PRId32 ", expected 6 (version int16, "
                       "coordinatorEpoch int32)",
                       rv->value_len);
    }
    if ((value_version = cl_get_i16(rv->value)) != VALUE_VERSION) {
        return corrupt(err, "value version %d, expected 0", value_version);
    }
    c->coordinator_epoch = cl_get_i32(rv->value + 2);
    if (rv->header_count != 0) {
        return corrupt(err, "the record has %" PRId32 " headers, expected 0",
                       rv->header_count);
    }
    if (rv->timestamp < 0 || rv->timestamp != h->base_timestamp ||
        h->max_timestamp != h->base_timestamp) {
        return corrupt(err,
                       "timestamps disagree or are negative (base %" PRId64
                       ", max %" PRId64 ", record %" PRId64 ")",
                       h->base_timestamp, h->max_timestamp, rv->timestamp);
    }
    c->timestamp = rv->timestamp;
    return 0;
}

int cl_control_parse(const unsigned char *batch, size_t len,
                     struct cl_control *out, struct cl_err *err)
{
    char why[200];
    uint8_t canon[CL_CONTROL_BATCH_SIZE];
    struct cl_batch_hdr h;
    struct cl_record_iter it;
    struct cl_record_view rv;
    struct cl_control c = {0, 0, 0, 0, 0, 0};
    int rc;

    if (batch == NULL || out == NULL) {
        return cl_errf(err, CRAWLLOG_EINVAL, "control batch: NULL argument");
    }
    /* Lengths, magic, header sanity, CRC, record structure (record_read.c).
     * EVERSION (compressed, CRC right) is explained by check_header. */
    rc = cl_record_batch_validate(batch, len, why, sizeof(why));
    if (rc != 0 && rc != CRAWLLOG_EVERSION) {
        return corrupt(err, "%s", why);
    }
    if (cl_record_batch_header(batch, len, &h) == 1) {
        return corrupt(err, "shorter than its header"); /* validated */
    }
    if ((rc = check_header(&h, err)) != 0) {
        return rc;
    }
    if (cl_record_iter_init(&it, batch, len) != 0 ||
        cl_record_iter_next(&it, &rv) != 0) {
        return corrupt(err, "the record does not decode"); /* validated */
    }
    c.base_offset = h.base_offset;
    c.pid = h.producer_id;
    c.epoch = h.producer_epoch;
    if ((rc = check_record(&h, &rv, &c, err)) != 0) {
        return rc;
    }
    if (len != CL_CONTROL_BATCH_SIZE) {
        return corrupt(err, "%zu bytes, a marker is %d (non-canonical varints)",
                       len, CL_CONTROL_BATCH_SIZE);
    }
    if (encode_into(canon, c.base_offset, c.pid, c.epoch, c.type,
                    c.coordinator_epoch, c.timestamp) == 0) {
        return corrupt(err, "fields out of range");
    }
    /* The CRC field is skipped: validated above, it is a function of the
     * bytes compared, and would otherwise hide the byte that differs. */
    for (size_t i = 0; i < CL_CONTROL_BATCH_SIZE; i++) {
        if ((i < CL_BATCH_OFF_CRC || i >= CL_BATCH_OFF_ATTRIBUTES) &&
            canon[i] != batch[i]) {
            return corrupt(err,
                           "byte %zu is 0x%02x, the canonical encoding has "
                           "0x%02x",
                           i, batch[i], canon[i]);
        }
    }
    *out = c;
    return 0;
}
