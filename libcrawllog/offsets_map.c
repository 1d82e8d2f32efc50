/*
 * offsets_map.c - the in-memory view of a consumer group's committed
 * offsets (layer 2): (topic, partition) -> the newest entry, as read from
 * the commit log by offsets.c.  A hash table over an array of entries,
 * plus the live entries sorted by (topic, partition) for cl_offsets_at
 * and compaction.
 *
 * Owns nothing on disk (offsets.c owns groups/<group>/offsets and parses
 * its records into staged entries).
 *
 * Invariants:
 *  - ents[0, n) holds every key ever seen by the map, live (offset >= 0)
 *    or removed (offset -1, metadata NULL: a tombstone, so that the key's
 *    index and topic string stay); an entry never moves to another index
 *    and never goes away while the map lives.
 *  - slots is open addressing with linear probing holding index + 1 (0:
 *    empty); nslots is 0 or a power of two > 2 * n, so a probe always
 *    reaches an empty slot.  Capacity for ents, order and slots is reserved
 *    before a record is applied.
 *  - live_bytes is the sum of cl_omap_ent_bytes over the live entries.
 *  - When order_dirty is 0, order[0, nlive) holds the indexes of the live
 *    entries sorted by topic (strcmp) then partition.  Only
 *    cl_omap_stage_commit sets it, only cl_omap_finish clears it.
 *  - The map changes only by whole records: cl_omap_stage_alloc makes
 *    every allocation the record needs (and fails with the map's content
 *    unchanged), then cl_omap_stage_commit applies it and cannot fail.
 *
 * Locks: none.  A map belongs to one offsets handle, used by one thread at
 * a time.
 */
#include <stdlib.h>
#include <string.h>

#include "crawllog.h"
#include "io.h"
#include "offsets_map.h"

uint32_t cl_omap_hash(const uint8_t *topic, size_t len, int32_t partition)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h = (h ^ topic[i]) * 16777619u;
    }
    for (int i = 0; i < 4; i++) {
        h = (h ^ (uint8_t)((uint32_t)partition >> (8 * i))) * 16777619u;
    }
    return h ^ (h >> 15);
}

size_t cl_omap_ent_bytes(const struct cl_omap_ent *e)
{
    return CL_OMAP_ENT_FIXED + (size_t)e->topic_len + e->meta_len;
}

size_t cl_omap_find(const struct cl_omap *m, const uint8_t *topic,
                    size_t len, int32_t partition, uint32_t hash)
{
    if (m->nslots == 0) {
        return SIZE_MAX;
    }
    size_t mask = m->nslots - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        uint32_t s = m->slots[i];
        if (s == 0) {
            return SIZE_MAX;
        }
        const struct cl_omap_ent *e = &m->ents[s - 1];
        if (e->hash == hash && e->partition == partition &&
            e->topic_len == len && memcmp(e->topic, topic, len) == 0) {
            return s - 1;
        }
    }
}

const struct cl_omap_ent *cl_omap_get(const struct cl_omap *m,
                                      const char *topic, int32_t partition)
{
    size_t len = strlen(topic);
    size_t idx = cl_omap_find(m, (const uint8_t *)topic, len, partition,
                              cl_omap_hash((const uint8_t *)topic, len,
                                           partition));
    if (idx == SIZE_MAX || m->ents[idx].offset < 0) {
        return NULL;
    }
    return &m->ents[idx];
}

const struct cl_omap_ent *cl_omap_at(const struct cl_omap *m, size_t i)
{
    return &m->ents[m->order[i].idx];
}

static void slot_put(uint32_t *slots, size_t nslots, uint32_t hash,
                     size_t idx)
{
    size_t mask = nslots - 1;
    size_t i = hash & mask;
    while (slots[i] != 0) {
        i = (i + 1) & mask;
    }
    slots[i] = (uint32_t)(idx + 1);
}

/* Room for need entries: ents, slots (load <= 1/2) and order. */
static int reserve(struct cl_omap *m, size_t need)
{
    if (need > UINT32_MAX / 4) {
        return CRAWLLOG_ENOMEM;
    }
    if (cl_io_grow((void **)&m->ents, &m->cap, need, sizeof(*m->ents)) !=
            0 ||
        cl_io_grow((void **)&m->order, &m->ordercap, need,
                   sizeof(*m->order)) != 0) {
        return CRAWLLOG_ENOMEM;
    }
    if (need * 2 >= m->nslots) {
        size_t ns = 64;
        while (ns <= need * 2) {
            ns *= 2;
        }
        uint32_t *slots = cl_io_calloc(ns, sizeof(*slots));
        if (!slots) {
            return CRAWLLOG_ENOMEM;
        }
        for (size_t i = 0; i < m->n; i++) {
            slot_put(slots, ns, m->ents[i].hash, i);
        }
        cl_io_free(m->slots);
        m->slots = slots;
        m->nslots = ns;
    }
    return 0;
}

void cl_omap_free(struct cl_omap *m)
{
    for (size_t i = 0; i < m->n; i++) {
        cl_io_free(m->ents[i].topic);
        cl_io_free(m->ents[i].meta);
    }
    cl_io_free(m->ents);
    cl_io_free(m->slots);
    cl_io_free(m->order);
    memset(m, 0, sizeof(*m));
}

static int ent_cmp(const void *a, const void *b)
{
    const struct cl_omap_ent *x = ((const union cl_omap_ord *)a)->p;
    const struct cl_omap_ent *y = ((const union cl_omap_ord *)b)->p;
    int c = strcmp(x->topic, y->topic);
    if (c != 0) {
        return c;
    }
    return (x->partition > y->partition) - (x->partition < y->partition);
}

/* Cannot fail: reserve sized order for every entry. */
void cl_omap_finish(struct cl_omap *m)
{
    if (!m->order_dirty) {
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < m->n; i++) {
        if (m->ents[i].offset >= 0) {
            m->order[k++].p = &m->ents[i];
        }
    }
    if (k > 1) {
        qsort(m->order, k, sizeof(*m->order), ent_cmp);
    }
    for (size_t i = 0; i < k; i++) {
        m->order[i].idx = (size_t)(m->order[i].p - m->ents);
    }
    m->nlive = k;
    m->order_dirty = 0;
}

void cl_omap_unstage(struct cl_omap_staged *s, size_t k)
{
    for (size_t i = 0; i < k; i++) {
        cl_io_free(s[i].topic_copy);
        cl_io_free(s[i].meta_copy);
        s[i].topic_copy = s[i].meta_copy = NULL;
    }
}

static char *copy_str(const uint8_t *p, size_t len)
{
    char *s = cl_io_malloc(len + 1);
    if (s) {
        memcpy(s, p, len);
        s[len] = '\0';
    }
    return s;
}

int cl_omap_stage_alloc(struct cl_omap *m, struct cl_omap_staged *s,
                        size_t k)
{
    if (reserve(m, m->n + k) != 0) {
        return CRAWLLOG_ENOMEM;
    }
    for (size_t i = 0; i < k; i++) {
        s[i].topic_copy = s[i].meta_copy = NULL;
    }
    for (size_t i = 0; i < k; i++) {
        if (s[i].offset < 0) {
            continue;
        }
        if (s[i].meta_len > 0 &&
            !(s[i].meta_copy = copy_str(s[i].meta, s[i].meta_len))) {
            cl_omap_unstage(s, i + 1);
            return CRAWLLOG_ENOMEM;
        }
        if (cl_omap_find(m, s[i].topic, s[i].topic_len, s[i].partition,
                         s[i].hash) == SIZE_MAX &&
            !(s[i].topic_copy = copy_str(s[i].topic, s[i].topic_len))) {
            cl_omap_unstage(s, i + 1);
            return CRAWLLOG_ENOMEM;
        }
    }
    return 0;
}

void cl_omap_stage_commit(struct cl_omap *m, struct cl_omap_staged *s,
                          size_t k)
{
    for (size_t i = 0; i < k; i++) {
        struct cl_omap_staged *x = &s[i];
        size_t idx = cl_omap_find(m, x->topic, x->topic_len, x->partition,
                                  x->hash);
        if (idx == SIZE_MAX) {
            if (x->offset < 0) {
                continue; /* removing what was never there */
            }
            struct cl_omap_ent *e = &m->ents[m->n];
            e->topic = x->topic_copy;
            e->meta = x->meta_copy;
            e->hash = x->hash;
            e->topic_len = x->topic_len;
            e->meta_len = x->meta_len;
            e->partition = x->partition;
            e->offset = x->offset;
            e->commit_ms = x->commit_ms;
            slot_put(m->slots, m->nslots, x->hash, m->n);
            m->n++;
            m->live_bytes += cl_omap_ent_bytes(e);
            m->order_dirty = 1;
            x->topic_copy = x->meta_copy = NULL;
            continue;
        }
        struct cl_omap_ent *e = &m->ents[idx];
        cl_io_free(x->topic_copy); /* the key came earlier in the record */
        x->topic_copy = NULL;
        if (e->offset >= 0) {
            m->live_bytes -= cl_omap_ent_bytes(e);
        } else if (x->offset >= 0) {
            m->order_dirty = 1; /* back from removed */
        }
        cl_io_free(e->meta);
        e->commit_ms = x->commit_ms;
        if (x->offset < 0) {
            if (e->offset >= 0) {
                m->order_dirty = 1;
            }
            e->offset = -1;
            e->meta = NULL;
            e->meta_len = 0;
            continue;
        }
        e->offset = x->offset;
        e->meta = x->meta_copy;
        e->meta_len = x->meta_len;
        x->meta_copy = NULL;
        m->live_bytes += cl_omap_ent_bytes(e);
    }
}
