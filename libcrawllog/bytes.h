/*
 * bytes.h - big-endian loads/stores and Kafka's zig-zag varints.
 *
 * Every on-disk integer in libcrawllog is big-endian (as in Kafka's
 * RecordBatch v2); record fields use protobuf-style zig-zag varints.  Pure
 * inline functions, no I/O, no allocation.
 */
#ifndef CL_BYTES_H
#define CL_BYTES_H

#include <stddef.h>
#include <stdint.h>

static inline void cl_put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void cl_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline void cl_put_u64(uint8_t *p, uint64_t v)
{
    cl_put_u32(p, (uint32_t)(v >> 32));
    cl_put_u32(p + 4, (uint32_t)v);
}

static inline uint16_t cl_get_u16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | (unsigned)p[1]);
}

static inline uint32_t cl_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
           (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline uint64_t cl_get_u64(const uint8_t *p)
{
    return (uint64_t)cl_get_u32(p) << 32 | (uint64_t)cl_get_u32(p + 4);
}

/* Signed views: the two's-complement bit pattern is what is stored. */
static inline void cl_put_i16(uint8_t *p, int16_t v) { cl_put_u16(p, (uint16_t)v); }
static inline void cl_put_i32(uint8_t *p, int32_t v) { cl_put_u32(p, (uint32_t)v); }
static inline void cl_put_i64(uint8_t *p, int64_t v) { cl_put_u64(p, (uint64_t)v); }
static inline int16_t cl_get_i16(const uint8_t *p) { return (int16_t)cl_get_u16(p); }
static inline int32_t cl_get_i32(const uint8_t *p) { return (int32_t)cl_get_u32(p); }
static inline int64_t cl_get_i64(const uint8_t *p) { return (int64_t)cl_get_u64(p); }

/* Largest encoded size of a varint (int32) and a varlong (int64). */
#define CL_VARINT_MAX 5
#define CL_VARLONG_MAX 10

/* Bytes needed to encode v as a zig-zag varlong. */
static inline size_t cl_varlong_size(int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (0 - ((uint64_t)v >> 63));
    size_t n = 1;
    while (z >= 0x80) {
        z >>= 7;
        n++;
    }
    return n;
}

/* Encode v as a zig-zag varlong at p; returns the bytes written.  A varint
 * (int32) has the same encoding as a varlong of the same value. */
static inline size_t cl_put_varlong(uint8_t *p, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (0 - ((uint64_t)v >> 63));
    size_t n = 0;
    while (z >= 0x80) {
        p[n++] = (uint8_t)(z | 0x80);
        z >>= 7;
    }
    p[n++] = (uint8_t)z;
    return n;
}

/* Decode a zig-zag varlong from [*pp, end).  At most maxlen bytes
 * (CL_VARINT_MAX or CL_VARLONG_MAX) are read.  Returns 0 and advances *pp,
 * or -1 if the input ends early or is longer than maxlen. */
static inline int cl_get_varlong(const uint8_t **pp, const uint8_t *end,
                                 size_t maxlen, int64_t *out)
{
    const uint8_t *p = *pp;
    uint64_t z = 0;
    unsigned shift = 0;
    for (size_t i = 0; i < maxlen; i++) {
        if (p >= end)
            return -1;
        uint8_t b = *p++;
        z |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
            *pp = p;
            return 0;
        }
        shift += 7;
    }
    return -1;
}

/* Decode a varint (int32).  Also fails when the value does not fit. */
static inline int cl_get_varint(const uint8_t **pp, const uint8_t *end,
                                int32_t *out)
{
    int64_t v;
    const uint8_t *p = *pp;
    if (cl_get_varlong(&p, end, CL_VARINT_MAX, &v) != 0 || v < INT32_MIN ||
        v > INT32_MAX)
        return -1;
    *pp = p;
    *out = (int32_t)v;
    return 0;
}

#endif /* CL_BYTES_H */
