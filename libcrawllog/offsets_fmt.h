/*
 * offsets_fmt.h - the byte layout of groups/<group>/offsets (layer 2):
 * header, durable mark slots, records, entries (docs/FORMAT.md section 8).
 * Internal to offsets.c; see offsets_fmt.c.
 */
#ifndef CL_OFFSETS_FMT_H
#define CL_OFFSETS_FMT_H

#include <stddef.h>
#include <stdint.h>

#define HDR_SIZE 64
#define HDR_MAGIC "CLOFFSET"
#define HDR_VERSION 1u
#define HDR_CRC_OFF 60
#define HDR_SLOT_A 24 /* mark slots: u64 seq + u32 CRC-32C of it */
#define HDR_SLOTS_END 48
#define SLOT_SIZE 12
#define REC_HDR 40 /* record bytes before the first entry */
/* The largest base seq a valid header holds (2^62): seqs never wrap. */
#define CL_OFFSETS_SEQ_MAX (UINT64_C(1) << 62)

/* The header CRC: bytes [0, 60) with the mark slots [24, 48) taken as
 * zeros, so writing a slot never invalidates the header. */
uint32_t cl_ofmt_header_crc(const uint8_t *h);
/* A whole header; mark 0 leaves both slots zero, else slot A holds it. */
void cl_ofmt_header(uint8_t *h, uint64_t base_seq, uint64_t mark);
void cl_ofmt_slot_put(uint8_t *s, uint64_t mark);
/* The value of one slot: 0 if it fails its CRC (all zero: never written). */
uint64_t cl_ofmt_slot_get(const uint8_t *s);
/* The durable mark of the two slots at s: the larger valid value. */
uint64_t cl_ofmt_mark(const uint8_t *s);

void cl_ofmt_rec_begin(uint8_t *p, uint64_t seq, int64_t ts, int32_t gen,
                       int32_t member, uint16_t flags, uint32_t count);
void cl_ofmt_rec_end(uint8_t *p, uint32_t len);
size_t cl_ofmt_ent_put(uint8_t *p, const char *topic, size_t tlen,
                       int32_t partition, int64_t offset, int64_t commit_ms,
                       const char *meta, size_t mlen);

#endif
