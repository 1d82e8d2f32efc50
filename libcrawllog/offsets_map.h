/*
 * offsets_map.h - the in-memory view of a consumer group's committed
 * offsets: (topic, partition) -> newest entry, changed a whole record at a
 * time through staged entries (layer 2).  Internal to offsets.c; see
 * offsets_map.c.
 */
#ifndef CL_OFFSETS_MAP_H
#define CL_OFFSETS_MAP_H

#include <stddef.h>
#include <stdint.h>

/* Bytes of an encoded entry besides its topic and metadata (the record
 * format of offsets.c, docs/FORMAT.md section 8): live_bytes counts the
 * live entries in that encoding. */
#define CL_OMAP_ENT_FIXED 24

struct cl_omap_ent {
    char *topic; /* owned, NUL-terminated; kept while the map lives */
    char *meta;  /* owned; NULL when empty or removed */
    uint32_t hash;
    uint16_t topic_len, meta_len;
    int32_t partition;
    int64_t offset; /* -1: removed (kept as a tombstone in the hash) */
    int64_t commit_ms;
};

/* order[] is filled with pointers, sorted, then turned into indexes. */
union cl_omap_ord {
    size_t idx;
    const struct cl_omap_ent *p;
};

/* All zero is an empty map. */
struct cl_omap {
    struct cl_omap_ent *ents; /* every key seen, live or removed */
    size_t n, cap;
    uint32_t *slots; /* open addressing: index + 1, 0 = empty */
    size_t nslots;   /* 0 or a power of two, > 2 * n */
    union cl_omap_ord *order; /* live entries sorted by topic, partition */
    size_t nlive, ordercap;
    int order_dirty;
    uint64_t live_bytes; /* encoded size of the live entries */
};

/* One entry of a parsed record, with what applying it needs allocated.
 * The parser fills every field up to hash; cl_omap_stage_alloc the
 * copies. */
struct cl_omap_staged {
    const uint8_t *topic, *meta; /* into the record's buffer */
    uint16_t topic_len, meta_len;
    int32_t partition;
    int64_t offset, commit_ms; /* offset -1: remove the key */
    uint32_t hash;             /* cl_omap_hash(topic, topic_len, partition) */
    char *topic_copy; /* set if the key was unknown and offset >= 0 */
    char *meta_copy;  /* set if meta_len > 0 and offset >= 0 */
};

/* Hash of a key (FNV-1a over the topic bytes and the partition). */
uint32_t cl_omap_hash(const uint8_t *topic, size_t len, int32_t partition);

/* Encoded size of an entry (CL_OMAP_ENT_FIXED + topic + metadata). */
size_t cl_omap_ent_bytes(const struct cl_omap_ent *e);

/* Index into m->ents of the entry of the key (live or removed), or
 * SIZE_MAX. */
size_t cl_omap_find(const struct cl_omap *m, const uint8_t *topic,
                    size_t len, int32_t partition, uint32_t hash);

/* The live entry of (topic, partition), or NULL if never seen or
 * removed. */
const struct cl_omap_ent *cl_omap_get(const struct cl_omap *m,
                                      const char *topic, int32_t partition);

/* Live entry i (< m->nlive) in (topic, partition) order, as of the last
 * cl_omap_finish. */
const struct cl_omap_ent *cl_omap_at(const struct cl_omap *m, size_t i);

/* Free everything the map holds and leave it empty (all zero). */
void cl_omap_free(struct cl_omap *m);

/* Make every allocation applying s[0, k) to m needs: 0 (then
 * cl_omap_stage_commit or cl_omap_unstage must follow), or
 * CRAWLLOG_ENOMEM with nothing held and m unchanged in content. */
int cl_omap_stage_alloc(struct cl_omap *m, struct cl_omap_staged *s,
                        size_t k);

/* Free the copies cl_omap_stage_alloc made for s[0, k). */
void cl_omap_unstage(struct cl_omap_staged *s, size_t k);

/* Apply s[0, k), allocated by cl_omap_stage_alloc, in entry order (a later
 * entry of a key wins).  Cannot fail; takes over the staged copies.  The
 * sorted order is stale until cl_omap_finish. */
void cl_omap_stage_commit(struct cl_omap *m, struct cl_omap_staged *s,
                          size_t k);

/* Rebuild the sorted list of live entries (and nlive) if keys came or
 * went.  Cannot fail. */
void cl_omap_finish(struct cl_omap *m);

#endif /* CL_OFFSETS_MAP_H */
