/*
 * murmur2.h - Kafka's key hash (layer 0).
 *
 * MurmurHash2, 32-bit, seed 0x9747b28c, bytes read little-endian: exactly
 * org.apache.kafka.common.utils.Utils.murmur2(), so keyed records land on
 * the same partition as with Kafka's Java producer (and librdkafka's
 * murmur2 / murmur2_random partitioners).
 */
#ifndef CL_MURMUR2_H
#define CL_MURMUR2_H

#include <stddef.h>
#include <stdint.h>

/* Hash len bytes at key.  key may be NULL when len is 0 (the result is then
 * the empty key's hash, 0x106e08d9).  Independent of alignment and host
 * endianness.  The uint32_t holds the same 32 bits as Kafka's Java int. */
uint32_t cl_murmur2(const void *key, size_t len);

/* Kafka's partitionForKey: (murmur2 & 0x7fffffff) % n (a mask, not abs()).
 * n must be >= 1; returns -1 if it is not. */
int32_t cl_murmur2_partition(const void *key, size_t len, int32_t n);

#endif /* CL_MURMUR2_H */
