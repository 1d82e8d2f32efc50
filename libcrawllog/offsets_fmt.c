/*
 * offsets_fmt.c - encoding of groups/<group>/offsets (docs/FORMAT.md
 * section 8; all integers big-endian): the 64-byte header with its two
 * durable mark slots, commit records and entries, and the header check
 * shared with verify.  Owns no file and takes no lock: offsets.c does the
 * I/O.
 *
 * Invariants: the header CRC never covers the mark slots (bytes [24, 48)
 * count as zeros), so a file whose slots are zero (every file written
 * before the mark existed) has the same CRC as before, and a slot write
 * (offsets.c, after an fdatasync) never invalidates the header.
 */
#include <string.h>

#include "bytes.h"
#include "crc32c.h"
#include "offsets.h"
#include "offsets_fmt.h"

static const uint8_t zeros[HDR_SLOTS_END - HDR_SLOT_A];

/* The header CRC: bytes [0, 60) with the mark slots taken as zeros, so
 * writing a slot never invalidates the header. */
uint32_t cl_ofmt_header_crc(const uint8_t *h)
{
    uint32_t c = cl_crc32c(0, h, HDR_SLOT_A);
    c = cl_crc32c(c, zeros, HDR_SLOTS_END - HDR_SLOT_A);
    return cl_crc32c(c, h + HDR_SLOTS_END, HDR_CRC_OFF - HDR_SLOTS_END);
}

void cl_ofmt_slot_put(uint8_t *s, uint64_t mark)
{
    cl_put_u64(s, mark);
    cl_put_u32(s + 8, cl_crc32c(0, s, 8));
}

/* The value of a slot: 0 if it fails its CRC (all zero: never written). */
uint64_t cl_ofmt_slot_get(const uint8_t *s)
{
    return cl_get_u32(s + 8) == cl_crc32c(0, s, 8) ? cl_get_u64(s) : 0;
}

/* The durable mark of slots [24, 48) at s: the larger valid value. */
uint64_t cl_ofmt_mark(const uint8_t *s)
{
    uint64_t a = cl_ofmt_slot_get(s), b = cl_ofmt_slot_get(s + SLOT_SIZE);
    return a > b ? a : b;
}

void cl_ofmt_header(uint8_t *h, uint64_t base_seq, uint64_t mark)
{
    memset(h, 0, HDR_SIZE);
    memcpy(h, HDR_MAGIC, 8);
    cl_put_u32(h + 8, HDR_VERSION);
    cl_put_u32(h + 12, 0);
    cl_put_u64(h + 16, base_seq);
    if (mark > 0) {
        cl_ofmt_slot_put(h + HDR_SLOT_A, mark);
    }
    cl_put_u32(h + HDR_CRC_OFF, cl_ofmt_header_crc(h));
}

void cl_ofmt_rec_begin(uint8_t *p, uint64_t seq, int64_t ts, int32_t gen,
                       int32_t member, uint16_t flags, uint32_t count)
{
    cl_put_u64(p + 8, seq);
    cl_put_i64(p + 16, ts);
    cl_put_i32(p + 24, gen);
    cl_put_i32(p + 28, member);
    cl_put_u16(p + 32, flags);
    cl_put_u16(p + 34, 0);
    cl_put_u32(p + 36, count);
}

void cl_ofmt_rec_end(uint8_t *p, uint32_t len)
{
    cl_put_u32(p, len);
    cl_put_u32(p + 4, cl_crc32c(0, p + 8, len - 8));
}

size_t cl_ofmt_ent_put(uint8_t *p, const char *topic, size_t tlen,
                       int32_t partition, int64_t offset, int64_t commit_ms,
                       const char *meta, size_t mlen)
{
    size_t n = 0;
    cl_put_u16(p, (uint16_t)tlen);
    memcpy(p + 2, topic, tlen);
    n = 2 + tlen;
    cl_put_i32(p + n, partition);
    cl_put_i64(p + n + 4, offset);
    cl_put_i64(p + n + 12, commit_ms);
    cl_put_u16(p + n + 20, (uint16_t)mlen);
    n += 22;
    if (mlen > 0) {
        memcpy(p + n, meta, mlen);
    }
    return n + mlen;
}

int cl_offsets_check_header(const uint8_t *h, size_t len, char *why,
                            size_t why_size)
{
    _Static_assert(HDR_SIZE == CL_OFFSETS_HEADER_SIZE, "header size");
    const char *bad = NULL;
    int rc = CRAWLLOG_ECORRUPT;
    if (len < HDR_SIZE) {
        bad = "shorter than its 64-byte header";
    } else if (cl_get_u32(h + HDR_CRC_OFF) != cl_ofmt_header_crc(h)) {
        bad = "header checksum mismatch";
    } else if (memcmp(h, HDR_MAGIC, 8) != 0) {
        bad = "bad magic (not an offsets file)";
    } else if (cl_get_u32(h + 8) != HDR_VERSION || cl_get_u32(h + 12) != 0) {
        bad = "unsupported format version or flags";
        rc = CRAWLLOG_EVERSION;
    } else if (cl_get_u64(h + 16) > CL_OFFSETS_SEQ_MAX) {
        bad = "base seq out of range";
    }
    cl_err_copy(why, why_size, bad ? bad : "");
    return bad ? rc : 0;
}
