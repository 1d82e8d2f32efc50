/*
 * record.c - Kafka RecordBatch v2 (magic 2): encode, decode, validate.
 *
 * Layer 1 (format): pure functions over caller-owned buffers.  No I/O, no
 * allocation, no locks, no global state; every function is thread-safe.
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
 * Decoding treats its input as hostile: it never reads outside
 * [batch, batch + total), whatever the bytes say.
 *
 * One deliberate non-canonical encoding: a timestamp delta that depends on
 * the append time (exactly one of the record and the first record has a
 * timestamp < 0) is written as a padded 10-byte varlong, so that
 * cl_record_batch_size() is exact without knowing now_ms.  Kafka's
 * readVarlong and cl_get_varlong() both accept it.
 */
#include "record.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bytes.h"
#include "crc32c.h"

/* ---- Layout constants ---------------------------------------------------- */

#define OFF_BASE_OFFSET 0
#define OFF_BATCH_LENGTH 8
#define OFF_LEADER_EPOCH 12
#define OFF_MAGIC 16
#define OFF_CRC 17
#define OFF_ATTRIBUTES 21
#define OFF_LAST_OFFSET_DELTA 23
#define OFF_BASE_TIMESTAMP 27
#define OFF_MAX_TIMESTAMP 35
#define OFF_PRODUCER_ID 43
#define OFF_PRODUCER_EPOCH 51
#define OFF_BASE_SEQUENCE 53
#define OFF_RECORDS_COUNT 57

/* Each field starts where the previous one ends. */
_Static_assert(OFF_BATCH_LENGTH == OFF_BASE_OFFSET + 8 &&
                   OFF_LEADER_EPOCH == OFF_BATCH_LENGTH + 4 &&
                   OFF_LEADER_EPOCH == CL_LOG_OVERHEAD &&
                   OFF_MAGIC == OFF_LEADER_EPOCH + 4 &&
                   OFF_CRC == OFF_MAGIC + 1,
               "batch header layout: baseOffset .. magic");
_Static_assert(OFF_ATTRIBUTES == OFF_CRC + 4 &&
                   OFF_LAST_OFFSET_DELTA == OFF_ATTRIBUTES + 2 &&
                   OFF_BASE_TIMESTAMP == OFF_LAST_OFFSET_DELTA + 4 &&
                   OFF_MAX_TIMESTAMP == OFF_BASE_TIMESTAMP + 8 &&
                   OFF_PRODUCER_ID == OFF_MAX_TIMESTAMP + 8,
               "batch header layout: crc .. maxTimestamp");
_Static_assert(OFF_PRODUCER_EPOCH == OFF_PRODUCER_ID + 8 &&
                   OFF_BASE_SEQUENCE == OFF_PRODUCER_EPOCH + 2 &&
                   OFF_RECORDS_COUNT == OFF_BASE_SEQUENCE + 4 &&
                   CL_BATCH_HEADER_SIZE == OFF_RECORDS_COUNT + 4,
               "batch header layout: producerId .. recordsCount");

#define ATTR_COMPRESSION_MASK 0x07 /* bits 0-2: codec; 0 = none */

/* batchLength of a batch with no records: the header after the 12 bytes. */
#define MIN_BATCH_LENGTH (CL_BATCH_HEADER_SIZE - CL_LOG_OVERHEAD)

/* Smallest record: one byte each for length, attributes, timestampDelta,
 * offsetDelta, keyLength, valueLength and headerCount. */
#define MIN_RECORD_SIZE 7

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

size_t cl_record_batch_size(const crawllog_record_t *recs, size_t n)
{
    uint64_t total = CL_BATCH_HEADER_SIZE;

    if (recs == NULL || n == 0 || (uint64_t)n > LEN_MAX) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t body = record_body_size(recs, i);

        if (body == 0 || body > BATCH_SIZE_MAX) {
            return 0;
        }
        total += cl_varlong_size((int64_t)body) + body;
        if (total > BATCH_SIZE_MAX) {
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
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);

    for (int i = 0; i < CL_VARLONG_MAX - 1; i++) {
        p[i] = (uint8_t)(z | 0x80);
        z >>= 7;
    }
    p[CL_VARLONG_MAX - 1] = (uint8_t)z; /* the one bit left, bit 63 */
    return p + CL_VARLONG_MAX;
}

static uint8_t *encode_record(uint8_t *p, const crawllog_record_t *recs,
                              size_t i, int64_t delta)
{
    const crawllog_record_t *rec = &recs[i];

    p += cl_put_varlong(p, (int64_t)record_body_size(recs, i));
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
    cl_put_i64(buf + OFF_BASE_OFFSET, 0);
    cl_put_i32(buf + OFF_BATCH_LENGTH, (int32_t)(total - CL_LOG_OVERHEAD));
    cl_put_i32(buf + OFF_LEADER_EPOCH, -1);
    buf[OFF_MAGIC] = CL_BATCH_MAGIC;
    cl_put_i16(buf + OFF_ATTRIBUTES, meta->attributes);
    cl_put_i32(buf + OFF_LAST_OFFSET_DELTA, count - 1);
    cl_put_i64(buf + OFF_BASE_TIMESTAMP, base_ts);
    cl_put_i64(buf + OFF_MAX_TIMESTAMP, max_ts);
    cl_put_i64(buf + OFF_PRODUCER_ID, meta->producer_id);
    cl_put_i16(buf + OFF_PRODUCER_EPOCH, meta->producer_epoch);
    cl_put_i32(buf + OFF_BASE_SEQUENCE, meta->base_sequence);
    cl_put_i32(buf + OFF_RECORDS_COUNT, count);
    cl_put_u32(buf + OFF_CRC,
               cl_crc32c(0, buf + OFF_ATTRIBUTES, total - OFF_ATTRIBUTES));
}

size_t cl_record_batch_encode(uint8_t *buf, size_t cap,
                              const crawllog_record_t *recs, size_t n,
                              int64_t now_ms, const struct cl_batch_meta *meta)
{
    static const struct cl_batch_meta none = CL_BATCH_META_NONE;
    size_t total = cl_record_batch_size(recs, n);
    int64_t base_ts, max_ts;
    uint8_t *p;

    if (meta == NULL) {
        meta = &none;
    }
    if (total == 0 || buf == NULL || cap < total ||
        (meta->attributes & ATTR_COMPRESSION_MASK) != 0) {
        return 0;
    }
    base_ts = recs[0].timestamp < 0 ? now_ms : recs[0].timestamp;
    max_ts = base_ts;
    p = buf + CL_BATCH_HEADER_SIZE;
    for (size_t i = 0; i < n; i++) {
        int64_t ts = recs[i].timestamp < 0 ? now_ms : recs[i].timestamp;

        if (ts < 0) {
            return 0; /* now_ms < 0 but needed; both are >= 0 below */
        }
        if (ts > max_ts) {
            max_ts = ts;
        }
        p = encode_record(p, recs, i, ts - base_ts);
    }
    assert((size_t)(p - buf) == total);
    put_header(buf, total, (int32_t)n, base_ts, max_ts, meta);
    return total;
}

void cl_record_batch_set_base_offset(uint8_t *batch, int64_t base_offset)
{
    cl_put_i64(batch + OFF_BASE_OFFSET, base_offset);
}

/* ---- Header and CRC ------------------------------------------------------ */

static void get_header(const uint8_t *buf, struct cl_batch_hdr *h)
{
    h->base_offset = cl_get_i64(buf + OFF_BASE_OFFSET);
    h->batch_length = cl_get_i32(buf + OFF_BATCH_LENGTH);
    h->leader_epoch = cl_get_i32(buf + OFF_LEADER_EPOCH);
    h->magic = (int8_t)buf[OFF_MAGIC];
    h->crc = cl_get_u32(buf + OFF_CRC);
    h->attributes = cl_get_i16(buf + OFF_ATTRIBUTES);
    h->last_offset_delta = cl_get_i32(buf + OFF_LAST_OFFSET_DELTA);
    h->base_timestamp = cl_get_i64(buf + OFF_BASE_TIMESTAMP);
    h->max_timestamp = cl_get_i64(buf + OFF_MAX_TIMESTAMP);
    h->producer_id = cl_get_i64(buf + OFF_PRODUCER_ID);
    h->producer_epoch = cl_get_i16(buf + OFF_PRODUCER_EPOCH);
    h->base_sequence = cl_get_i32(buf + OFF_BASE_SEQUENCE);
    h->records_count = cl_get_i32(buf + OFF_RECORDS_COUNT);
}

/* NULL if the header is structurally sane, else what is wrong with it.
 * Compression is not looked at. */
static const char *header_problem(const struct cl_batch_hdr *h)
{
    if (h->magic != CL_BATCH_MAGIC) {
        return "magic is not 2";
    }
    if (h->batch_length < MIN_BATCH_LENGTH) {
        return "batch length smaller than the header";
    }
    if (h->records_count < 1) {
        return "record count is not positive";
    }
    if (h->last_offset_delta != h->records_count - 1) {
        return "last offset delta does not match the record count";
    }
    if (h->records_count >
        (h->batch_length - MIN_BATCH_LENGTH) / MIN_RECORD_SIZE) {
        return "record count too large for the batch length";
    }
    if (h->base_offset < 0 ||
        h->base_offset > INT64_MAX - h->last_offset_delta) {
        return "base offset out of range";
    }
    return NULL;
}

int cl_record_batch_header(const uint8_t *buf, size_t len,
                           struct cl_batch_hdr *hdr)
{
    assert(hdr != NULL);
    if (buf == NULL || len < CL_BATCH_HEADER_SIZE) {
        return 1;
    }
    get_header(buf, hdr);
    if (header_problem(hdr) != NULL) {
        return CRAWLLOG_ECORRUPT;
    }
    if ((hdr->attributes & ATTR_COMPRESSION_MASK) != 0) {
        return CRAWLLOG_EVERSION;
    }
    return 0;
}

/* CRC-32C of the bytes the CRC covers; total >= CL_BATCH_HEADER_SIZE. */
static uint32_t batch_crc(const uint8_t *batch, size_t total)
{
    return cl_crc32c(0, batch + OFF_ATTRIBUTES, total - OFF_ATTRIBUTES);
}

int cl_record_batch_check_crc(const uint8_t *batch, size_t total)
{
    int32_t length;

    if (batch == NULL || total < CL_BATCH_HEADER_SIZE) {
        return CRAWLLOG_ECORRUPT;
    }
    length = cl_get_i32(batch + OFF_BATCH_LENGTH);
    if (length < MIN_BATCH_LENGTH ||
        (size_t)length + CL_LOG_OVERHEAD != total) {
        return CRAWLLOG_ECORRUPT;
    }
    if (cl_get_u32(batch + OFF_CRC) != batch_crc(batch, total)) {
        return CRAWLLOG_ECORRUPT;
    }
    return 0;
}

/* ---- Record decoding ----------------------------------------------------- */

enum { F_KEY, F_VALUE, F_HKEY, F_HVALUE };

/* Reasons per field: bad varint, negative length, length too long. */
/* clang-format off */
#define FIELD_PROBLEMS(f)                                                    \
    {f " length is not a valid varint", f " length is negative",             \
     f " length past end of record"}
static const char *const field_problems[4][3] = {
    FIELD_PROBLEMS("key"), FIELD_PROBLEMS("value"),
    FIELD_PROBLEMS("header key"), FIELD_PROBLEMS("header value")};
/* clang-format on */

/* Decode one length-prefixed byte field of kind field from [*pp, end):
 * NULL and advances *pp, or the reason it is malformed.  Length -1 gives
 * *datap NULL, except for a header key (never null). */
static const char *get_bytes(const uint8_t **pp, const uint8_t *end, int field,
                             const uint8_t **datap, int32_t *lenp)
{
    const uint8_t *p = *pp;
    int32_t len;

    if (cl_get_varint(&p, end, &len) != 0) {
        return field_problems[field][0];
    }
    if (len == -1 && field == F_HKEY) {
        return "header key is null";
    }
    if (len < -1) {
        return field_problems[field][1];
    }
    if (len > end - p) {
        return field_problems[field][2];
    }
    *datap = len < 0 ? NULL : p;
    *lenp = len;
    *pp = len < 0 ? p : p + len;
    return NULL;
}

/* Walk count headers from [*pp, end): NULL and advances *pp, or why not. */
static const char *skip_headers(const uint8_t **pp, const uint8_t *end,
                                int32_t count)
{
    const uint8_t *data;
    int32_t len;
    const char *why;

    for (int32_t i = 0; i < count; i++) {
        if ((why = get_bytes(pp, end, F_HKEY, &data, &len)) != NULL ||
            (why = get_bytes(pp, end, F_HVALUE, &data, &len)) != NULL) {
            return why;
        }
    }
    return NULL;
}

static int add_overflows(int64_t a, int64_t b)
{
    return (b > 0 && a > INT64_MAX - b) || (b < 0 && a < INT64_MIN - b);
}

/* Decode the fields after attributes up to the headers of a record whose
 * body ends at end.  NULL or the reason. */
static const char *get_fields(const uint8_t **pp, const uint8_t *end,
                              const struct cl_record_iter *it,
                              struct cl_record_view *v)
{
    int64_t tdelta;
    int32_t odelta;
    const char *why;

    if (cl_get_varlong(pp, end, CL_VARLONG_MAX, &tdelta) != 0) {
        return "timestamp delta is not a valid varlong";
    }
    if (add_overflows(it->base_timestamp, tdelta)) {
        return "timestamp delta overflows";
    }
    v->timestamp = it->base_timestamp + tdelta;
    if (cl_get_varint(pp, end, &odelta) != 0) {
        return "offset delta is not a valid varint";
    }
    if (odelta != it->index) {
        return "offset delta does not match the record's position";
    }
    v->offset = it->base_offset + odelta;
    if ((why = get_bytes(pp, end, F_KEY, &v->key, &v->key_len)) != NULL ||
        (why = get_bytes(pp, end, F_VALUE, &v->value, &v->value_len)) != NULL) {
        return why;
    }
    if (cl_get_varint(pp, end, &v->header_count) != 0) {
        return "header count is not a valid varint";
    }
    if (v->header_count < 0) {
        return "header count is negative";
    }
    return NULL;
}

/* Decode the record at it->p into *rv and advance the iterator: NULL, or
 * why the bytes are malformed (then nothing changes). */
static const char *decode_record(struct cl_record_iter *it,
                                 struct cl_record_view *rv)
{
    const uint8_t *p = it->p, *end;
    struct cl_record_view v;
    const char *why;
    int32_t len;

    if (cl_get_varint(&p, it->end, &len) != 0) {
        return "record length is not a valid varint";
    }
    if (len < 1) {
        return "record length is not positive";
    }
    if (len > it->end - p) {
        return "record length past end of batch";
    }
    end = p + len;
    p++; /* attributes: unused, any value accepted (as Kafka does) */
    if ((why = get_fields(&p, end, it, &v)) != NULL) {
        return why;
    }
    v.headers = p;
    if ((why = skip_headers(&p, end, v.header_count)) != NULL) {
        return why;
    }
    v.headers_end = p;
    if (p != end) {
        return "record length does not match its fields";
    }
    *rv = v;
    it->p = end;
    it->index++;
    return NULL;
}

/* ---- Iteration and validation -------------------------------------------- */

int cl_record_iter_init(struct cl_record_iter *it, const uint8_t *batch,
                        size_t total)
{
    struct cl_batch_hdr h;
    int rc = cl_record_batch_header(batch, total, &h);

    if (rc != 0) {
        return rc == 1 ? CRAWLLOG_ECORRUPT : rc;
    }
    if (cl_record_batch_total(&h) != total) {
        return CRAWLLOG_ECORRUPT;
    }
    it->p = batch + CL_BATCH_HEADER_SIZE;
    it->end = batch + total;
    it->base_offset = h.base_offset;
    it->base_timestamp = h.base_timestamp;
    it->index = 0;
    it->count = h.records_count;
    return 0;
}

int cl_record_iter_next(struct cl_record_iter *it, struct cl_record_view *rv)
{
    if (it->index >= it->count) {
        return it->p == it->end ? 1 : CRAWLLOG_ECORRUPT;
    }
    return decode_record(it, rv) == NULL ? 0 : CRAWLLOG_ECORRUPT;
}

int cl_record_header_at(const struct cl_record_view *rv, size_t i,
                        crawllog_header_t *hdr)
{
    const uint8_t *p = rv->headers, *name = NULL, *value = NULL;
    int32_t name_len = 0, value_len = 0;

    if (rv->header_count < 0 || i >= (size_t)rv->header_count) {
        return CRAWLLOG_EINVAL;
    }
    for (size_t j = 0; j <= i; j++) {
        if (p == NULL ||
            get_bytes(&p, rv->headers_end, F_HKEY, &name, &name_len) ||
            get_bytes(&p, rv->headers_end, F_HVALUE, &value, &value_len)) {
            return CRAWLLOG_ECORRUPT;
        }
    }
    hdr->name = (const char *)name;
    hdr->name_len = (size_t)name_len;
    hdr->value = value;
    hdr->value_len = value_len < 0 ? 0 : (size_t)value_len;
    return 0;
}

/* Write a reason into errbuf (if any) and return rc. */
static int fail(char *errbuf, size_t errsize, int rc, const char *fmt, ...)
{
    va_list ap;

    if (errbuf != NULL && errsize > 0) {
        va_start(ap, fmt);
        vsnprintf(errbuf, errsize, fmt, ap);
        va_end(ap);
    }
    return rc;
}

int cl_record_batch_validate(const uint8_t *batch, size_t total, char *errbuf,
                             size_t errsize)
{
    struct cl_batch_hdr h;
    struct cl_record_iter it;
    struct cl_record_view rv;
    const char *why;
    uint32_t crc;

    if (batch == NULL || total < CL_BATCH_HEADER_SIZE) {
        return fail(errbuf, errsize, CRAWLLOG_ECORRUPT,
                    "batch of %zu bytes is shorter than its header", total);
    }
    get_header(batch, &h);
    if ((why = header_problem(&h)) != NULL) {
        return fail(errbuf, errsize, CRAWLLOG_ECORRUPT, "header: %s", why);
    }
    if (cl_record_batch_total(&h) != total) {
        return fail(errbuf, errsize, CRAWLLOG_ECORRUPT,
                    "batch length %" PRId32 " + 12 is not the %zu bytes given",
                    h.batch_length, total);
    }
    if ((crc = batch_crc(batch, total)) != h.crc) {
        return fail(errbuf, errsize, CRAWLLOG_ECORRUPT,
                    "CRC mismatch: stored 0x%08" PRIx32
                    ", computed 0x%08" PRIx32,
                    h.crc, crc);
    }
    if ((h.attributes & ATTR_COMPRESSION_MASK) != 0) {
        return fail(errbuf, errsize, CRAWLLOG_EVERSION,
                    "compressed batch (codec %d) is not supported",
                    h.attributes & ATTR_COMPRESSION_MASK);
    }
    if (cl_record_iter_init(&it, batch, total) != 0) {
        return fail(errbuf, errsize, CRAWLLOG_ECORRUPT, "bad header");
    }
    while (it.index < it.count) {
        if ((why = decode_record(&it, &rv)) != NULL) {
            return fail(errbuf, errsize, CRAWLLOG_ECORRUPT,
                        "record %" PRId32 ": %s", it.index, why);
        }
    }
    if (it.p != it.end) {
        return fail(errbuf, errsize, CRAWLLOG_ECORRUPT,
                    "%td bytes after the last record", it.end - it.p);
    }
    return fail(errbuf, errsize, 0, "%s", "");
}
