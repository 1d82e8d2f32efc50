/*
 * partitioner.c - the partitioners: which partition a record goes to
 * (layer 3).
 *
 * Purpose: Kafka's key -> partition rules, exposed as pure functions a user
 * can unit-test without a log: murmur2 for keyed records (byte for byte the
 * Java client's default), round robin and sticky for NULL keys, a custom
 * callback, and crawllog_partitioner_stats() to measure how a partitioner
 * spreads a set of keys.  cl_partitioner_choose() applies the producer's
 * whole rule (explicit > custom > murmur2 > keyless strategy).
 *
 * On disk: nothing.
 *
 * Invariants: a partition handed out is always in [0, n); a callback's
 * result outside that range is CRAWLLOG_EPARTITION, never taken modulo n.
 * Sticky state is one 64-bit word, (partition + 1) << 32 | records on it,
 * so the partition and its count change together; 0 means "no partition
 * yet".
 *
 * Locks: none.  The keyless state is shared by the producer's threads and
 * changed only with C11 atomics (relaxed: it orders nothing else).
 */
#include <stdatomic.h>
#include <string.h>

#include "io.h"
#include "murmur2.h"
#include "partitioner.h"

struct crawllog_partitioner_state_s {
    atomic_uint_least64_t rr;     /* round-robin counter: records so far */
    atomic_uint_least64_t sticky; /* (partition + 1) << 32 | count */
    uint32_t sticky_batch;        /* records per sticky partition */
};

/* ---- state ------------------------------------------------------------ */

int crawllog_partitioner_state_new(crawllog_partitioner_state_t **sp,
                                   int32_t sticky_batch)
{
    if (sp == NULL) {
        return CRAWLLOG_EINVAL;
    }
    *sp = NULL;
    if (sticky_batch < 0) {
        return CRAWLLOG_EINVAL;
    }
    crawllog_partitioner_state_t *s = cl_io_malloc(sizeof(*s));
    if (s == NULL) {
        return CRAWLLOG_ENOMEM;
    }
    atomic_init(&s->rr, 0);
    atomic_init(&s->sticky, 0);
    s->sticky_batch = sticky_batch == 0
                          ? CRAWLLOG_PARTITIONER_STICKY_BATCH_DEFAULT
                          : (uint32_t)sticky_batch;
    *sp = s;
    return CRAWLLOG_OK;
}

void crawllog_partitioner_state_destroy(crawllog_partitioner_state_t *s)
{
    cl_io_free(s);
}

/* ---- partitioners ----------------------------------------------------- */

uint32_t crawllog_murmur2(const void *key, size_t len)
{
    if (key == NULL) {
        len = 0;
    }
    return cl_murmur2(key, len);
}

int32_t crawllog_partitioner_murmur2(const char *topic, const void *key,
                                     size_t keylen, int32_t partition_count,
                                     void *opaque)
{
    (void)topic;
    (void)opaque;
    if (key == NULL || partition_count < 1) {
        return CRAWLLOG_PARTITION_ANY;
    }
    return cl_murmur2_partition(key, keylen, partition_count);
}

int32_t crawllog_partitioner_round_robin(const char *topic, const void *key,
                                         size_t keylen, int32_t partition_count,
                                         void *opaque)
{
    (void)topic;
    (void)key;
    (void)keylen;
    crawllog_partitioner_state_t *s = opaque;
    if (s == NULL || partition_count < 1) {
        return CRAWLLOG_PARTITION_ANY;
    }
    uint64_t k = atomic_fetch_add_explicit(&s->rr, 1, memory_order_relaxed);
    return (int32_t)(k % (uint64_t)partition_count);
}

/* The sticky word for partition p with count records on it. */
static uint64_t sticky_word(int32_t p, uint32_t count)
{
    return ((uint64_t)(uint32_t)p + 1) << 32 | count;
}

int32_t crawllog_partitioner_sticky(const char *topic, const void *key,
                                    size_t keylen, int32_t partition_count,
                                    void *opaque)
{
    (void)topic;
    (void)key;
    (void)keylen;
    crawllog_partitioner_state_t *s = opaque;
    if (s == NULL || partition_count < 1) {
        return CRAWLLOG_PARTITION_ANY;
    }
    uint64_t n = (uint64_t)partition_count;
    uint64_t old = atomic_load_explicit(&s->sticky, memory_order_relaxed);
    for (;;) {
        uint64_t cur = old >> 32; /* partition + 1, 0 if none */
        uint32_t count = (uint32_t)old;
        int32_t p;
        uint64_t next;
        if (cur == 0 || cur > n) {
            /* First record, or the partition count shrank. */
            uint64_t k = atomic_load_explicit(&s->rr, memory_order_relaxed);
            p = (int32_t)(k % n);
            next = sticky_word(p, 1);
        } else if (count >= s->sticky_batch) {
            p = (int32_t)(cur % n); /* (cur - 1 + 1) % n: the next one */
            next = sticky_word(p, 1);
        } else {
            p = (int32_t)(cur - 1);
            next = sticky_word(p, count + 1);
        }
        if (atomic_compare_exchange_weak_explicit(&s->sticky, &old, next,
                                                  memory_order_relaxed,
                                                  memory_order_relaxed)) {
            return p;
        }
    }
}

/* ---- measuring -------------------------------------------------------- */

int crawllog_partitioner_stats(crawllog_partitioner_fn *fn, void *opaque,
                               const char *topic, const void *const *keys,
                               const size_t *keylens, size_t nkeys,
                               int32_t partitions, uint64_t *counts,
                               double *skewp)
{
    if (fn == NULL || counts == NULL || (nkeys > 0 && keys == NULL) ||
        partitions < 1 || partitions > CRAWLLOG_PARTITIONS_MAX) {
        return CRAWLLOG_EINVAL;
    }
    memset(counts, 0, (size_t)partitions * sizeof(*counts));
    if (skewp != NULL) {
        *skewp = 0.0;
    }
    uint64_t max = 0;
    for (size_t i = 0; i < nkeys; i++) {
        size_t len = 0;
        if (keys[i] != NULL) {
            len = keylens != NULL ? keylens[i] : strlen(keys[i]);
        }
        int32_t p = fn(topic, keys[i], len, partitions, opaque);
        if (p < 0 || p >= partitions) {
            return CRAWLLOG_EPARTITION;
        }
        if (++counts[p] > max) {
            max = counts[p];
        }
    }
    if (skewp != NULL && nkeys > 0) {
        *skewp = (double)max * (double)partitions / (double)nkeys;
    }
    return CRAWLLOG_OK;
}

/* ---- the producer's rule ---------------------------------------------- */

int cl_partitioner_choose(crawllog_partitioner_fn *custom, void *opaque,
                          crawllog_partitioner_state_t *state,
                          const char *topic, int32_t explicit_partition,
                          const void *key, size_t keylen, int32_t n,
                          int keyless_sticky, int32_t *outp)
{
    if (outp == NULL || n < 1) {
        return CRAWLLOG_EINVAL;
    }
    int32_t p;
    if (explicit_partition != CRAWLLOG_PARTITION_ANY) {
        p = explicit_partition;
    } else if (custom != NULL) {
        p = custom(topic, key, keylen, n, opaque);
    } else if (key != NULL) {
        p = cl_murmur2_partition(key, keylen, n);
    } else if (state == NULL) {
        return CRAWLLOG_EINVAL;
    } else if (keyless_sticky) {
        p = crawllog_partitioner_sticky(topic, key, keylen, n, state);
    } else {
        p = crawllog_partitioner_round_robin(topic, key, keylen, n, state);
    }
    if (p < 0 || p >= n) {
        return CRAWLLOG_EPARTITION;
    }
    *outp = p;
    return CRAWLLOG_OK;
}
