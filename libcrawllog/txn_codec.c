/*
 * txn_codec.c - the in-memory transaction state of a transactional
 * producer and its encoding (layer 2, pure: no I/O, allocations only):
 * one encoded state is what a slot of transactions/<transactional.id>
 * holds.  The byte layout (FORMAT.md section 11) and the file's slots,
 * invariants and locks are in txn_file.c, which reads and writes it.
 *
 * Hostile input: the decoder checks the magic, the length field against
 * the bytes given, then the CRC, before believing any field; NP and NO
 * are checked against their bounds and against the bytes left (their
 * smallest entries must fit) before the arrays are allocated, so a
 * hostile state cannot cause a huge allocation; a damaged byte anywhere
 * is CRAWLLOG_ECORRUPT ("<rel>: byte <off>: <field>: <what>"), an intact
 * state of another version CRAWLLOG_EVERSION.
 */
#include <string.h>

#include "bytes.h"
#include "crc32c.h"
#include "io.h"
#include "names.h"
#include "txn_file.h"

#define PART_MIN (1 + 1 + 4 + 8)      /* smallest partition entry */
#define OFF_MIN (1 + 1 + 4 + 8 + 2)   /* smallest offset entry */
#define FILE_MIN CL_TXN_STATE_MIN

/* ---------------------------------------------------------------------- */
/* In-memory state                                                         */
/* ---------------------------------------------------------------------- */

void cl_txn_state_init(struct cl_txn_state *st)
{
    memset(st, 0, sizeof(*st));
    st->status = CL_TXN_EMPTY;
    st->start_ms = -1;
    st->timeout_ms = 60000;
    st->generation = -1;
}

void cl_txn_state_free(struct cl_txn_state *st)
{
    for (size_t i = 0; i < st->noffsets; i++) {
        cl_io_free(st->offsets[i].metadata);
    }
    cl_io_free(st->offsets);
    cl_io_free(st->parts);
    cl_txn_state_init(st);
}

int cl_txn_id_valid(const char *name)
{
    return cl_names_topic_valid(name);
}

static int part_ok(int32_t partition)
{
    return partition >= 0 && partition < CRAWLLOG_PARTITIONS_MAX;
}

int cl_txn_state_add_part(struct cl_txn_state *st, const char *topic,
                          int32_t partition, int64_t first_offset)
{
    if (!cl_names_topic_valid(topic) || !part_ok(partition) ||
        first_offset < 0 || st->nparts >= CL_TXN_PARTS_MAX) {
        return CRAWLLOG_EINVAL;
    }
    if (cl_io_grow((void **)&st->parts, &st->parts_cap, st->nparts + 1,
                   sizeof(*st->parts)) != 0) {
        return CRAWLLOG_ENOMEM;
    }
    struct cl_txn_part *p = &st->parts[st->nparts++];
    memset(p, 0, sizeof(*p));
    strcpy(p->topic, topic);
    p->partition = partition;
    p->first_offset = first_offset;
    return 0;
}

int cl_txn_state_add_offset(struct cl_txn_state *st, const char *topic,
                            int32_t partition, int64_t offset,
                            const char *metadata)
{
    const char *m = metadata != NULL ? metadata : "";
    if (!cl_names_topic_valid(topic) || !part_ok(partition) || offset < 0 ||
        strlen(m) > CL_TXN_META_MAX || st->noffsets >= CL_TXN_OFFSETS_MAX) {
        return CRAWLLOG_EINVAL;
    }
    char *dup = cl_io_strdup(m);
    if (dup == NULL ||
        cl_io_grow((void **)&st->offsets, &st->offsets_cap, st->noffsets + 1,
                   sizeof(*st->offsets)) != 0) {
        cl_io_free(dup);
        return CRAWLLOG_ENOMEM;
    }
    struct cl_txn_offset *o = &st->offsets[st->noffsets++];
    memset(o, 0, sizeof(*o));
    strcpy(o->topic, topic);
    o->partition = partition;
    o->offset = offset;
    o->metadata = dup;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Encoding                                                                */
/* ---------------------------------------------------------------------- */

static int member_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x20 || s[i] > 0x7e) {
            return 0;
        }
    }
    return 1;
}

/* Checks every field; *sizep = the encoded size. */
static int check_state(const struct cl_txn_state *st, size_t *sizep,
                       struct cl_err *err)
{
    size_t size = FILE_MIN, glen = strnlen(st->group, sizeof(st->group));
    size_t mlen = strnlen(st->member, sizeof(st->member));
    if (st->producer_id < 0 || st->epoch < 0 || st->start_ms < -1 ||
        st->timeout_ms < 1 || (unsigned)st->status > CL_TXN_COMPLETE_ABORT) {
        return cl_errf(err, CRAWLLOG_EINVAL, "transaction state: bad "
                       "producer id, epoch, start time, timeout or state");
    }
    if (st->nparts > CL_TXN_PARTS_MAX || st->noffsets > CL_TXN_OFFSETS_MAX) {
        return cl_errf(err, CRAWLLOG_EINVAL, "transaction state: %zu "
                       "partitions, %zu offsets (at most %u each)",
                       st->nparts, st->noffsets, CL_TXN_PARTS_MAX);
    }
    if (glen == 0 ? (mlen != 0 || st->noffsets != 0 || st->generation != -1)
                  : !cl_names_topic_valid(st->group)) {
        return cl_errf(err, CRAWLLOG_EINVAL,
                       "transaction state: bad group id \"%.*s\"", (int)glen,
                       st->group);
    }
    if (mlen > CL_TXN_MEMBER_MAX || !member_ok(st->member, mlen)) {
        return cl_errf(err, CRAWLLOG_EINVAL,
                       "transaction state: bad member id");
    }
    size += glen + mlen;
    for (size_t i = 0; i < st->nparts; i++) {
        const struct cl_txn_part *p = &st->parts[i];
        if (!cl_names_topic_valid(p->topic) || !part_ok(p->partition) ||
            p->first_offset < 0) {
            return cl_errf(err, CRAWLLOG_EINVAL,
                           "transaction state: bad partition entry %zu", i);
        }
        size += PART_MIN - 1 + strlen(p->topic);
    }
    for (size_t i = 0; i < st->noffsets; i++) {
        const struct cl_txn_offset *o = &st->offsets[i];
        size_t ml = o->metadata != NULL ? strlen(o->metadata) : 0;
        if (!cl_names_topic_valid(o->topic) || !part_ok(o->partition) ||
            o->offset < 0 || ml > CL_TXN_META_MAX) {
            return cl_errf(err, CRAWLLOG_EINVAL,
                           "transaction state: bad offset entry %zu", i);
        }
        size += OFF_MIN - 1 + strlen(o->topic) + ml;
        if (size > CL_TXN_FILE_MAX) {
            break;
        }
    }
    if (size > CL_TXN_FILE_MAX) {
        return cl_errf(err, CRAWLLOG_EINVAL, "transaction state: larger "
                       "than %u bytes", CL_TXN_FILE_MAX);
    }
    *sizep = size;
    return 0;
}

static uint8_t *put_str8(uint8_t *p, const char *s, size_t n)
{
    *p++ = (uint8_t)n;
    memcpy(p, s, n);
    return p + n;
}

int cl_txn_encode(const struct cl_txn_state *st, uint8_t **bufp,
                  size_t *lenp, struct cl_err *err)
{
    size_t size = 0;
    int rc = check_state(st, &size, err);
    if (rc != 0) {
        return rc;
    }
    uint8_t *buf = cl_io_malloc(size);
    if (buf == NULL) {
        return cl_errf(err, CRAWLLOG_ENOMEM, "transaction state: out of "
                       "memory");
    }
    uint8_t *p = buf + CL_TXN_HDR_SIZE;
    memcpy(buf, CL_TXN_MAGIC, 8);
    cl_put_u32(buf + 8, CL_TXN_VERSION);
    cl_put_u32(buf + 12, (uint32_t)size);
    cl_put_i64(buf + 16, st->producer_id);
    cl_put_i16(buf + 24, st->epoch);
    buf[26] = (uint8_t)st->status;
    buf[27] = (uint8_t)((st->wcount & CL_TXN_WCOUNT_MASK) |
                        (st->durable ? CL_TXN_WDURABLE : 0));
    cl_put_u32(buf + 28, (uint32_t)st->nparts);
    cl_put_u64(buf + 32, st->txn_seq);
    cl_put_i64(buf + 40, st->start_ms);
    cl_put_u32(buf + 48, (uint32_t)st->noffsets);
    cl_put_i32(buf + 52, st->generation);
    cl_put_i32(buf + 56, st->timeout_ms);
    for (size_t i = 0; i < st->nparts; i++) {
        p = put_str8(p, st->parts[i].topic, strlen(st->parts[i].topic));
        cl_put_i32(p, st->parts[i].partition);
        cl_put_i64(p + 4, st->parts[i].first_offset);
        p += 12;
    }
    p = put_str8(p, st->group, strlen(st->group));
    p = put_str8(p, st->member, strlen(st->member));
    for (size_t i = 0; i < st->noffsets; i++) {
        const struct cl_txn_offset *o = &st->offsets[i];
        const char *m = o->metadata != NULL ? o->metadata : "";
        size_t ml = strlen(m);
        p = put_str8(p, o->topic, strlen(o->topic));
        cl_put_i32(p, o->partition);
        cl_put_i64(p + 4, o->offset);
        cl_put_u16(p + 12, (uint16_t)ml);
        memcpy(p + 14, m, ml);
        p += 14 + ml;
    }
    cl_put_u32(p, cl_crc32c(0, buf, size - 4));
    *bufp = buf;
    *lenp = size;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Decoding                                                                */
/* ---------------------------------------------------------------------- */

struct cur {
    const uint8_t *b;
    size_t off, end; /* end: where the CRC starts */
    const char *rel;
    struct cl_err *err;
};

static int bad(struct cur *c, size_t off, const char *field, const char *what)
{
    return cl_errf(c->err, CRAWLLOG_ECORRUPT, "%s: byte %zu: %s: %s", c->rel,
                   off, field, what);
}

/* n more bytes of field must be there. */
static int need(struct cur *c, size_t n, const char *field)
{
    return c->end - c->off < n ? bad(c, c->off, field, "past the end") : 0;
}

/* A u8-length-prefixed name into out (NUL added); kind: 't' topic/group
 * rule (at most CL_TXN_NAME_MAX bytes), 'm' member bytes (at most 255,
 * out holds 256); min: smallest length. */
static int get_name(struct cur *c, char *out, size_t min, int kind,
                    const char *field)
{
    int rc = need(c, 1, field);
    size_t at = c->off, n = rc == 0 ? c->b[c->off] : 0;
    if (rc == 0 && kind == 't' && n > CL_TXN_NAME_MAX) {
        return bad(c, at, field, "longer than 249 bytes");
    }
    if (rc == 0 && (rc = (c->off++, need(c, n, field))) == 0) {
        memcpy(out, c->b + c->off, n);
        out[n] = '\0';
        c->off += n;
        if (n < min || (kind == 't' && n > 0 &&
             (strlen(out) != n || !cl_names_topic_valid(out))) ||
            (kind == 'm' && !member_ok(out, n))) {
            rc = bad(c, at, field, "invalid name");
        }
    }
    return rc;
}

/* partition int32 + offset int64 (>= 0). */
static int get_tp(struct cur *c, int32_t *pp, int64_t *op, const char *field)
{
    int rc = need(c, 12, field);
    if (rc == 0) {
        *pp = cl_get_i32(c->b + c->off);
        *op = cl_get_i64(c->b + c->off + 4);
        if (!part_ok(*pp)) {
            return bad(c, c->off, field, "partition out of range");
        }
        if (*op < 0) {
            return bad(c, c->off + 4, field, "negative offset");
        }
        c->off += 12;
    }
    return rc;
}

static int decode_header(struct cur *c, const uint8_t *b, size_t len,
                         struct cl_txn_state *out, uint32_t *npp,
                         uint32_t *nop)
{
    if (len < FILE_MIN) {
        return bad(c, len, "header", "file too short");
    }
    if (memcmp(b, CL_TXN_MAGIC, 8) != 0) {
        return bad(c, 0, "magic", "not a transaction state file");
    }
    if (cl_get_u32(b + 12) != len) {
        return bad(c, 12, "length", "differs from the state's size");
    }
    uint32_t crc = cl_crc32c(0, b, len - 4);
    if (cl_get_u32(b + len - 4) != crc) {
        return bad(c, len - 4, "crc32c", "checksum mismatch");
    }
    if (cl_get_u32(b + 8) != CL_TXN_VERSION) {
        return cl_errf(c->err, CRAWLLOG_EVERSION, "%s: format version %u, "
                       "this library reads %u", c->rel, cl_get_u32(b + 8),
                       CL_TXN_VERSION);
    }
    out->producer_id = cl_get_i64(b + 16);
    out->epoch = cl_get_i16(b + 24);
    out->txn_seq = cl_get_u64(b + 32);
    out->start_ms = cl_get_i64(b + 40);
    out->generation = cl_get_i32(b + 52);
    out->timeout_ms = cl_get_i32(b + 56);
    *npp = cl_get_u32(b + 28);
    *nop = cl_get_u32(b + 48);
    if (out->producer_id < 0) {
        return bad(c, 16, "producer id", "negative");
    }
    if (out->epoch < 0) {
        return bad(c, 24, "epoch", "negative");
    }
    if (b[26] > CL_TXN_COMPLETE_ABORT) {
        return bad(c, 26, "state", "unknown value");
    }
    out->status = (enum cl_txn_status)b[26];
    out->wcount = b[27] & CL_TXN_WCOUNT_MASK;
    out->durable = (b[27] & CL_TXN_WDURABLE) != 0;
    if (out->start_ms < -1) {
        return bad(c, 40, "start time", "below -1");
    }
    if (out->timeout_ms < 1) {
        return bad(c, 56, "timeout", "below 1 ms");
    }
    /* Counts against the bounds and the bytes left, before any alloc. */
    if (*npp > CL_TXN_PARTS_MAX ||
        (uint64_t)*npp * PART_MIN > len - FILE_MIN) {
        return bad(c, 28, "partition count", "too large");
    }
    if (*nop > CL_TXN_OFFSETS_MAX ||
        (uint64_t)*nop * OFF_MIN + (uint64_t)*npp * PART_MIN >
            len - FILE_MIN) {
        return bad(c, 48, "offset count", "too large");
    }
    return 0;
}

static int decode_offsets(struct cur *c, struct cl_txn_state *out,
                          uint32_t no)
{
    int rc = 0;
    out->offsets = cl_io_calloc(no ? no : 1, sizeof(*out->offsets));
    if (out->offsets == NULL) {
        return cl_errf(c->err, CRAWLLOG_ENOMEM, "%s: out of memory", c->rel);
    }
    out->offsets_cap = no;
    for (uint32_t i = 0; i < no && rc == 0; i++) {
        struct cl_txn_offset *o = &out->offsets[i];
        size_t at;
        rc = get_name(c, o->topic, 1, 't', "offset topic");
        if (rc == 0) {
            rc = get_tp(c, &o->partition, &o->offset, "offset entry");
        }
        if (rc == 0 && (rc = need(c, 2, "metadata length")) == 0) {
            size_t ml = cl_get_u16(c->b + c->off);
            at = c->off;
            c->off += 2;
            if (ml > CL_TXN_META_MAX) {
                rc = bad(c, at, "metadata length", "over 4095");
            } else if ((rc = need(c, ml, "metadata")) == 0) {
                if (memchr(c->b + c->off, 0, ml) != NULL) {
                    rc = bad(c, c->off, "metadata", "NUL byte");
                } else if ((o->metadata = cl_io_malloc(ml + 1)) == NULL) {
                    rc = cl_errf(c->err, CRAWLLOG_ENOMEM, "%s: out of memory",
                                 c->rel);
                } else {
                    memcpy(o->metadata, c->b + c->off, ml);
                    o->metadata[ml] = '\0';
                    c->off += ml;
                    out->noffsets = i + 1;
                }
            }
        }
    }
    return rc;
}

int cl_txn_decode(const uint8_t *buf, size_t len, const char *rel,
                  struct cl_txn_state *out, struct cl_err *err)
{
    struct cur c = {buf, CL_TXN_HDR_SIZE, len >= 4 ? len - 4 : 0, rel, err};
    uint32_t np = 0, no = 0;
    cl_txn_state_init(out);
    int rc = decode_header(&c, buf, len, out, &np, &no);
    if (rc == 0) {
        out->parts = cl_io_malloc((np ? np : 1) * sizeof(*out->parts));
        if (out->parts == NULL) {
            rc = cl_errf(err, CRAWLLOG_ENOMEM, "%s: out of memory", rel);
        }
        out->parts_cap = np;
    }
    for (uint32_t i = 0; i < np && rc == 0; i++) {
        struct cl_txn_part *p = &out->parts[i];
        rc = get_name(&c, p->topic, 1, 't', "partition topic");
        if (rc == 0) {
            rc = get_tp(&c, &p->partition, &p->first_offset,
                        "partition entry");
        }
        out->nparts = i + (rc == 0);
    }
    size_t gat = c.off;
    if (rc == 0) {
        rc = get_name(&c, out->group, 0, 't', "group id");
    }
    if (rc == 0) {
        rc = get_name(&c, out->member, 0, 'm', "member id");
    }
    if (rc == 0 && out->group[0] == '\0' &&
        (out->member[0] != '\0' || no != 0 || out->generation != -1)) {
        rc = bad(&c, gat, "group id", "empty, yet offsets are staged");
    }
    if (rc == 0) {
        rc = decode_offsets(&c, out, no);
    }
    if (rc == 0 && c.off != c.end) {
        rc = bad(&c, c.off, "end", "bytes after the last entry");
    }
    if (rc != 0) {
        cl_txn_state_free(out);
    }
    return rc;
}

