/*
 * record_read.c - Kafka RecordBatch v2 (magic 2): decode, validate, iterate.
 *
 * Layer 1 (format): pure functions over caller-owned buffers.  No I/O, no
 * allocation, no locks, no global state; every function is thread-safe.
 * The batch layout, and the checks on the CL_BATCH_OFF_* offsets used here,
 * are in record.c, which also encodes; record.h declares both halves.
 *
 * Owns on disk: nothing of its own; it reads the batches record.c writes
 * (parsing a header, checking a CRC, validating a whole batch, iterating
 * its records and their headers as views into the buffer).
 *
 * Invariants (input is hostile: any bytes, read from a damaged or
 * malicious file):
 *  - No read outside [batch, batch + total), nor outside the first len
 *    bytes for a header: lengths are checked against what remains before
 *    any use, varints are read with a byte limit (5 / 10) and an end
 *    pointer, and a record's fields must end exactly at its length.
 *  - No arithmetic overflow on hostile values: base offset + last offset
 *    delta and base timestamp + timestamp delta are checked first.
 *  - A header passes only if magic == 2, records_count >= 1 fits the batch
 *    length (MIN_RECORD_SIZE bytes a record) and last_offset_delta ==
 *    records_count - 1; record i must have offsetDelta i, and no byte may
 *    follow the last record.
 *  - A failed decode leaves the iterator where it was.
 *  - Compressed batches are recognised (CRAWLLOG_EVERSION) but never
 *    decoded.
 */
#include "record.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "bytes.h"
#include "crc32c.h"

/* batchLength of a batch with no records: the header after the 12 bytes. */
#define MIN_BATCH_LENGTH (CL_BATCH_HEADER_SIZE - CL_LOG_OVERHEAD)

/* Smallest record: one byte each for length, attributes, timestampDelta,
 * offsetDelta, keyLength, valueLength and headerCount. */
#define MIN_RECORD_SIZE 7

/* ---- Header and CRC ------------------------------------------------------ */

static void get_header(const uint8_t *buf, struct cl_batch_hdr *h)
{
    h->base_offset = cl_get_i64(buf + CL_BATCH_OFF_BASE_OFFSET);
    h->batch_length = cl_get_i32(buf + CL_BATCH_OFF_BATCH_LENGTH);
    h->leader_epoch = cl_get_i32(buf + CL_BATCH_OFF_LEADER_EPOCH);
    h->magic = (int8_t)buf[CL_BATCH_OFF_MAGIC];
    h->crc = cl_get_u32(buf + CL_BATCH_OFF_CRC);
    h->attributes = cl_get_i16(buf + CL_BATCH_OFF_ATTRIBUTES);
    h->last_offset_delta = cl_get_i32(buf + CL_BATCH_OFF_LAST_OFFSET_DELTA);
    h->base_timestamp = cl_get_i64(buf + CL_BATCH_OFF_BASE_TIMESTAMP);
    h->max_timestamp = cl_get_i64(buf + CL_BATCH_OFF_MAX_TIMESTAMP);
    h->producer_id = cl_get_i64(buf + CL_BATCH_OFF_PRODUCER_ID);
    h->producer_epoch = cl_get_i16(buf + CL_BATCH_OFF_PRODUCER_EPOCH);
    h->base_sequence = cl_get_i32(buf + CL_BATCH_OFF_BASE_SEQUENCE);
    h->records_count = cl_get_i32(buf + CL_BATCH_OFF_RECORDS_COUNT);
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
    if ((hdr->attributes & CL_BATCH_ATTR_COMPRESSION) != 0) {
        return CRAWLLOG_EVERSION;
    }
    return 0;
}

/* CRC-32C of the bytes the CRC covers; total >= CL_BATCH_HEADER_SIZE. */
static uint32_t batch_crc(const uint8_t *batch, size_t total)
{
    return cl_crc32c(0, batch + CL_BATCH_OFF_ATTRIBUTES,
                     total - CL_BATCH_OFF_ATTRIBUTES);
}

int cl_record_batch_check_crc(const uint8_t *batch, size_t total)
{
    int32_t length;

    if (batch == NULL || total < CL_BATCH_HEADER_SIZE) {
        return CRAWLLOG_ECORRUPT;
    }
    length = cl_get_i32(batch + CL_BATCH_OFF_BATCH_LENGTH);
    if (length < MIN_BATCH_LENGTH ||
        (size_t)length + CL_LOG_OVERHEAD != total) {
        return CRAWLLOG_ECORRUPT;
    }
    if (cl_get_u32(batch + CL_BATCH_OFF_CRC) != batch_crc(batch, total)) {
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
    if ((h.attributes & CL_BATCH_ATTR_COMPRESSION) != 0) {
        return fail(errbuf, errsize, CRAWLLOG_EVERSION,
                    "compressed batch (codec %d) is not supported",
                    h.attributes & CL_BATCH_ATTR_COMPRESSION);
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
