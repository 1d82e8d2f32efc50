/*
 * crc32c.h - CRC-32C (Castagnoli), the checksum of RecordBatch v2 (layer 0).
 *
 * Reflected polynomial 0x82F63B78, init and xorout 0xFFFFFFFF: the same
 * function as Kafka's Crc32C, librdkafka's crc32c() and the SSE4.2 crc32
 * instruction.  crc32c("123456789") == 0xE3069283.
 */
#ifndef CL_CRC32C_H
#define CL_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* zlib-style incremental CRC: start with crc = 0, then feed the previous
 * result back in: cl_crc32c(cl_crc32c(0, a, n), b, m) is the CRC of a||b.
 * buf may be NULL when len is 0.  Uses the SSE4.2 instruction when the CPU
 * has it, else slicing-by-8 tables.  Thread-safe. */
uint32_t cl_crc32c(uint32_t crc, const void *buf, size_t len);

/* The portable table-driven path, whatever the CPU (for tests and
 * benchmarks).  Same contract as cl_crc32c(). */
uint32_t cl_crc32c_sw(uint32_t crc, const void *buf, size_t len);

/* 1 if cl_crc32c() uses a hardware instruction on this machine, else 0. */
int cl_crc32c_hw(void);

#endif /* CL_CRC32C_H */
