/*
 * murmur2.c - Kafka's murmur2 key hash and key -> partition mapping.
 *
 * Purpose: the Kafka-compatible default partitioner for keyed records
 * (kafka-reference.md section 1.1).  Port of the algorithm of
 * Utils.murmur2(byte[]): seed 0x9747b28c, m 0x5bd1e995, r 24, h = seed ^
 * length, a little-endian 4-byte body, a fall-through 1..3-byte tail and a
 * final avalanche.  Java's int arithmetic wraps and its >>> is a logical
 * shift, so everything here is uint32_t.
 *
 * On disk: nothing (pure function).  Invariants: the result depends only on
 * the bytes, never on alignment or host endianness (bytes are assembled one
 * at a time).  Locks: none; allocates nothing.
 */
#include "murmur2.h"

#define MURMUR2_SEED 0x9747b28cu
#define MURMUR2_M 0x5bd1e995u
#define MURMUR2_R 24

uint32_t cl_murmur2(const void *key, size_t len)
{
    const unsigned char *p = key;
    /* Kafka hashes a Java array, whose length is an int: 32 bits. */
    uint32_t h = MURMUR2_SEED ^ (uint32_t)len;
    size_t body = len & ~(size_t)3;

    for (size_t i = 0; i < body; i += 4) {
        uint32_t k = (uint32_t)p[i] | (uint32_t)p[i + 1] << 8 |
                     (uint32_t)p[i + 2] << 16 | (uint32_t)p[i + 3] << 24;
        k *= MURMUR2_M;
        k ^= k >> MURMUR2_R;
        k *= MURMUR2_M;
        h *= MURMUR2_M;
        h ^= k;
    }

    switch (len & 3) {
    case 3:
        h ^= (uint32_t)p[body + 2] << 16;
        /* fall through */
    case 2:
        h ^= (uint32_t)p[body + 1] << 8;
        /* fall through */
    case 1:
        h ^= (uint32_t)p[body];
        h *= MURMUR2_M;
        break;
    default:
        break;
    }

    h ^= h >> 13;
    h *= MURMUR2_M;
    h ^= h >> 15;
    return h;
}

int32_t cl_murmur2_partition(const void *key, size_t len, int32_t n)
{
    if (n < 1) {
        return -1;
    }
    uint32_t positive = cl_murmur2(key, len) & 0x7fffffffu;
    return (int32_t)(positive % (uint32_t)n);
}
