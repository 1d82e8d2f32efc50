/*
 * group_desc.h - helpers of crawllog_group_describe's partition list,
 * shared with the Kafka backend's describe (layer 3).  See group_desc.c.
 * No I/O, no locks; allocation through cl_io_*.
 */
#ifndef CL_GROUP_DESC_H
#define CL_GROUP_DESC_H

#include <stddef.h>
#include <stdint.h>

#include "crawllog.h"

/*
 * The index of (topic, partition) in d->partitions, added if missing (the
 * array grown with cl_io_grow, *cap its capacity; the topic copied; the
 * new entry zeroed with committed, log_end, lag and commit_time_ms -1 and
 * status NULL).  -1: out of memory (d unchanged but for capacity).
 */
long cl_group_desc_add_part(crawllog_group_desc_t *d, size_t *cap,
                            const char *topic, int32_t partition);

/* qsort comparator of crawllog_group_partition_t: topic, then partition. */
int cl_group_desc_part_cmp(const void *a, const void *b);

#endif /* CL_GROUP_DESC_H */
