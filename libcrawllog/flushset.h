/*
 * flushset.h - flush a set of partitions; a durable flush syncs them
 * concurrently with a per-handle worker pool (see flushset.c).
 */
#ifndef CL_FLUSHSET_H
#define CL_FLUSHSET_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"
#include "partition.h"

#define CL_FLUSHPOOL_MAX 63 /* log.flush.parallelism max (64) - 1 */

/* The sync workers of one crawllog_t (created on first need). */
struct cl_flushpool {
    pthread_mutex_t mu;
    pthread_cond_t work, idle;
    pthread_t threads[CL_FLUSHPOOL_MAX];
    size_t nthreads;
    struct flushset *job; /* the set being synced, or NULL */
    uint64_t gen;         /* bumped for every job */
    size_t active;        /* workers inside the current job */
    int stop;
};

void cl_flushpool_init(struct cl_flushpool *pool);

/* Stop and join the workers (crawllog_close). */
void cl_flushpool_destroy(struct cl_flushpool *pool);

/* Write every partition's buffered batches, and with sync ==
 * CRAWLLOG_SYNC_DURABLE fdatasync each one this handle wrote, up to
 * parallelism (log.flush.parallelism) at a time with pool's help (NULL:
 * one after the other).  Tries every partition; returns 0 or the first
 * failure (message in err). */
int cl_flushset_run(struct cl_flushpool *pool, struct cl_partition **parts,
                    size_t n, int sync, int parallelism, struct cl_err *err);

#endif
