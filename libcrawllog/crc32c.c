/*
 * crc32c.c - CRC-32C (Castagnoli) with a hardware and a software path.
 *
 * Purpose: the checksum that RecordBatch v2 stores over everything after its
 * CRC field, and that libcrawllog metadata files use too.  Two
 * implementations compute the same function:
 *
 *   hardware  x86_64 with SSE4.2: the crc32 instruction (_mm_crc32_u64 on
 *             8-byte words, _mm_crc32_u8 on the head and tail), chosen at run
 *             time with __builtin_cpu_supports("sse4.2").
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

static void crc32c_init(void)
{
    tables_init();
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
