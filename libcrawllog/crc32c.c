/*
 * crc32c.c - CRC-32C (Castagnoli) with a hardware and a software path.
 *
 * Purpose: the checksum that RecordBatch v2 stores over everything after its
 * CRC field, and that libcrawllog metadata files use too.  Two
 * implementations compute the same function:
 *
 *   hardware  x86_64 with SSE4.2: the crc32 instruction (_mm_crc32_u64 on
 *             8-byte words, _mm_crc32_u8 on the head and tail), chosen at run
 *             time with __builtin_cpu_supports("sse4.2").  The instruction
 *             has a latency of 3 cycles but a throughput of one per cycle,
 *             so buffers of 3 x 256 bytes and more are cut into three
 *             blocks whose CRCs run as three independent chains and are then
 *             combined: the raw (not inverted) CRC is linear, so
 *             raw(s, A||B) = shift_|B|(raw(s, A)) ^ raw(0, B), where
 *             shift_n(s) = raw(s, n zero bytes) is a linear map of the 32
 *             state bits, applied with four 256-entry tables (one set for
 *             blocks of 8 KiB, one for 256 bytes).  About 2.5x faster on
 *             long buffers (docs/BENCHMARKS.md, "message size").
 *   software  slicing-by-8: eight 256-entry tables, 8 input bytes per step,
 *             read byte by byte so it is independent of host endianness and
 *             alignment.
 *
 * On disk: nothing (pure function).
 *
 * Invariants: the CRC is "zlib-style": cl_crc32c(0, "", 0) == 0 and
 * cl_crc32c(cl_crc32c(0, a, n), b, m) == cl_crc32c(0, a||b, n+m).  The
 * pre/post inversion (init and xorout 0xFFFFFFFF) happens inside each call,
 * which is what makes the chaining work.
 *
 * Locks: the tables and the hardware decision are set up once, under
 * pthread_once; after that everything is read-only, so any thread may call
 * any function at any time.  Allocates nothing.
 */
#include <pthread.h>
#include <string.h>

#include "crc32c.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CL_CRC32C_X86 1
#include <nmmintrin.h>
#else
#define CL_CRC32C_X86 0
#endif

/* CRC-32C polynomial 0x1EDC6F41, bit-reversed for the LSB-first algorithm. */
#define CRC32C_POLY 0x82F63B78u

/* table[0] is the classic byte table; table[k][n] is the CRC of byte n
 * followed by k zero bytes, which lets one step fold 8 bytes at once. */
static uint32_t table[8][256];
static int use_hw;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void tables_init(void)
{
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t crc = n;
        for (int bit = 0; bit < 8; bit++) {
            crc = (crc & 1u) ? (crc >> 1) ^ CRC32C_POLY : crc >> 1;
        }
        table[0][n] = crc;
    }
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t crc = table[0][n];
        for (int k = 1; k < 8; k++) {
            crc = table[0][crc & 0xffu] ^ (crc >> 8);
            table[k][n] = crc;
        }
    }
}

#define CRC_LONG 8192 /* block of the 3-way interleaved loop, bytes */
#define CRC_SHORT 256

/* shift_long[k][b] = raw(b << 8k, CRC_LONG zero bytes); shift_short the
 * same for CRC_SHORT. */
static uint32_t shift_long[4][256], shift_short[4][256];

/* raw(crc, n zero bytes), one byte at a time (setup only). */
static uint32_t zeros_raw(uint32_t crc, size_t n)
{
    while (n-- > 0) {
        crc = table[0][crc & 0xffu] ^ (crc >> 8);
    }
    return crc;
}

/* The tables of the linear map shift_n, from its images of the 32 basis
 * states. */
static void shift_init(uint32_t t[4][256], size_t n)
{
    uint32_t basis[32];
    for (int i = 0; i < 32; i++) {
        basis[i] = zeros_raw(1u << i, n);
    }
    for (int k = 0; k < 4; k++) {
        for (uint32_t b = 0; b < 256; b++) {
            uint32_t x = b << (8 * k), v = 0;
            for (int i = 0; i < 32; i++) {
                if ((x >> i) & 1u) {
                    v ^= basis[i];
                }
            }
            t[k][b] = v;
        }
    }
}

static void crc32c_init(void)
{
    tables_init();
    shift_init(shift_long, CRC_LONG);
    shift_init(shift_short, CRC_SHORT);
#if CL_CRC32C_X86
    __builtin_cpu_init();
    use_hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
#else
    use_hw = 0;
#endif
}

static uint32_t load_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

/* Slicing-by-8 on the inverted crc; tables must be initialised. */
static uint32_t crc32c_sw_raw(uint32_t crc, const unsigned char *p,
                              size_t len)
{
    while (len >= 8) {
        uint32_t lo = crc ^ load_le32(p);
        uint32_t hi = load_le32(p + 4);
        crc = table[7][lo & 0xffu] ^ table[6][(lo >> 8) & 0xffu] ^
              table[5][(lo >> 16) & 0xffu] ^ table[4][lo >> 24] ^
              table[3][hi & 0xffu] ^ table[2][(hi >> 8) & 0xffu] ^
              table[1][(hi >> 16) & 0xffu] ^ table[0][hi >> 24];
        p += 8;
        len -= 8;
    }
    while (len > 0) {
        crc = table[0][(crc ^ *p++) & 0xffu] ^ (crc >> 8);
        len--;
    }
    return crc;
}

#if CL_CRC32C_X86
static uint32_t shift(uint32_t t[4][256], uint32_t crc)
{
    return t[0][crc & 0xffu] ^ t[1][(crc >> 8) & 0xffu] ^
           t[2][(crc >> 16) & 0xffu] ^ t[3][crc >> 24];
}

/* Three independent chains over three consecutive blocks of blk bytes
 * (a multiple of 8), combined with the tables of shift_blk. */
__attribute__((target("sse4.2"))) static uint64_t
crc3(uint64_t crc64, const unsigned char **pp, size_t *lenp, size_t blk,
     uint32_t t[4][256])
{
    const unsigned char *p = *pp;
    size_t len = *lenp;
    while (len >= 3 * blk) {
        uint64_t c0 = crc64, c1 = 0, c2 = 0, w0, w1, w2;
        for (size_t i = 0; i < blk; i += 8) {
            memcpy(&w0, p + i, sizeof(w0));
            memcpy(&w1, p + blk + i, sizeof(w1));
            memcpy(&w2, p + 2 * blk + i, sizeof(w2));
            c0 = _mm_crc32_u64(c0, w0);
            c1 = _mm_crc32_u64(c1, w1);
            c2 = _mm_crc32_u64(c2, w2);
        }
        crc64 = shift(t, (uint32_t)c0) ^ (uint32_t)c1;
        crc64 = shift(t, (uint32_t)crc64) ^ (uint32_t)c2;
        p += 3 * blk;
        len -= 3 * blk;
    }
    *pp = p;
    *lenp = len;
    return crc64;
}

/* The SSE4.2 crc32 instruction computes exactly CRC-32C's inner step. */
__attribute__((target("sse4.2"))) static uint32_t
crc32c_hw_raw(uint32_t crc, const unsigned char *p, size_t len)
{
    /* Align to 8 bytes so the 8-byte loads below never split a line. */
    while (len > 0 && ((uintptr_t)p & 7u) != 0) {
        crc = _mm_crc32_u8(crc, *p++);
        len--;
    }
    uint64_t crc64 = crc;
    crc64 = crc3(crc64, &p, &len, CRC_LONG, shift_long);
    crc64 = crc3(crc64, &p, &len, CRC_SHORT, shift_short);
    while (len >= 8) {
        uint64_t word;
        memcpy(&word, p, sizeof(word));
        crc64 = _mm_crc32_u64(crc64, word);
        p += 8;
        len -= 8;
    }
    crc = (uint32_t)crc64;
    while (len > 0) {
        crc = _mm_crc32_u8(crc, *p++);
        len--;
    }
    return crc;
}
#endif

uint32_t cl_crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
    pthread_once(&init_once, crc32c_init);
    if (len == 0) {
        return crc;
    }
    return ~crc32c_sw_raw(~crc, buf, len);
}

uint32_t cl_crc32c(uint32_t crc, const void *buf, size_t len)
{
    pthread_once(&init_once, crc32c_init);
    if (len == 0) {
        return crc;
    }
#if CL_CRC32C_X86
    if (use_hw) {
        return ~crc32c_hw_raw(~crc, buf, len);
    }
#endif
    return ~crc32c_sw_raw(~crc, buf, len);
}

int cl_crc32c_hw(void)
{
    pthread_once(&init_once, crc32c_init);
    return use_hw;
}
