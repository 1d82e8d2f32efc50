/*
 * partitioner.h - choosing a record's partition (layer 3).
 *
 * The public partitioners (crawllog_partitioner_murmur2, _round_robin,
 * _sticky, crawllog_partitioner_stats) are declared in crawllog.h; this
 * header adds the producer's single entry point, which applies the whole
 * rule in one place.
 */
#ifndef CL_PARTITIONER_H
#define CL_PARTITIONER_H

#include <stddef.h>
#include <stdint.h>

#include "crawllog.h"

/*
 * The partition of one record of a topic with n partitions, in *outp:
 *  1. explicit_partition >= 0: that partition; it must be < n, else
 *     CRAWLLOG_EPARTITION.  Any other negative than CRAWLLOG_PARTITION_ANY
 *     is CRAWLLOG_EPARTITION too.
 *  2. custom != NULL: custom(topic, key, keylen, n, opaque), for keyed and
 *     NULL keys alike; a result outside [0, n) (CRAWLLOG_PARTITION_ANY
 *     included) is CRAWLLOG_EPARTITION, never a modulo.
 *  3. key != NULL (an empty key too): Kafka's murmur2 partition.
 *  4. NULL key: round robin over state, or sticky (state's batch) when
 *     keyless_sticky is non-zero.  state is required here (CRAWLLOG_EINVAL
 *     if NULL).
 * Returns 0, CRAWLLOG_EPARTITION, or CRAWLLOG_EINVAL (n < 1, outp NULL, or
 * no state for a NULL key).  *outp is set only on success.  Thread-safe as
 * long as custom is (the state uses atomics); takes no lock.
 */
int cl_partitioner_choose(crawllog_partitioner_fn *custom, void *opaque,
                          crawllog_partitioner_state_t *state,
                          const char *topic, int32_t explicit_partition,
                          const void *key, size_t keylen, int32_t n,
                          int keyless_sticky, int32_t *outp);

#endif /* CL_PARTITIONER_H */
