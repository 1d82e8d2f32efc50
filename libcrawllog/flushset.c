/*
 * flushset.c - flush a set of partitions, with the fdatasyncs of a durable
 * flush issued concurrently by a small per-handle thread pool (layer 2,
 * above partition.c).
 *
 * crawllog_flush() and the topic flush of a migration (cl_log_topic_flush:
 * migrate.c's copy loop, append.c's redirect) must write every
 * partition's buffered batches and, for CRAWLLOG_SYNC_DURABLE, fdatasync
 * every partition file this handle wrote.
 * One after the other, each fdatasync of a growing file is its own journal
 * commit (8 partitions: ~2 ms on the reference VM, docs/BENCHMARKS.md);
 * issued at the same time they share commits (~1 ms).  So:
 *
 *   1. in the calling thread, every partition writes its buffered batches
 *      (cl_partition_flush with SYNC_WRITTEN);
 *   2. the partitions that still have appends this handle has not
 *      fdatasync'd are synced by the caller plus the pool's workers, each
 *      taking the next partition from a shared index.
 *
 * The pool (struct cl_flushpool, one per crawllog_t) is the library's only
 * use of threads: up to log.flush.parallelism - 1 workers, created on the
 * first durable flush that has two or more partitions to sync, blocked on
 * a condition variable between flushes, joined by crawllog_close().  They
 * run nothing but cl_partition_flush() for the flush that woke them and
 * never call back into the application.  A worker that cannot be created
 * (site "flush.thread") only lowers the parallelism; a flush that finds
 * the pool busy with another thread's flush syncs its own set alone.
 * Never an error either way.
 *
 * Owns nothing on disk.
 * Invariant: returns 0 only when every partition of the set has had
 * cl_partition_flush(part, sync) succeed after the call began, so each of
 * the handle's appends made before the call is written (and, for
 * SYNC_DURABLE, durable).  Every partition is tried even after a failure;
 * the first failure (in set order for step 1, in completion order for
 * step 2) is reported.  A worker touches a set only between picking it up
 * (pool->job, under pool->mu) and dropping pool->active; the caller
 * clears pool->job and waits for active == 0 before its set goes away.
 * Locks: pool->mu, then fs->mu; neither is held across a
 * cl_partition_flush, which takes the partition's own locks.
 */
#include <string.h>

#include "flushset.h"
#include "io.h"

struct flushset {
    pthread_mutex_t mu;
    struct cl_partition **v; /* the partitions to sync */
    size_t n, next;
    int rc;
    struct cl_err err;
};

/* Sync partitions of fs until none is left (caller and workers). */
static void sync_set(struct flushset *fs)
{
    for (;;) {
        pthread_mutex_lock(&fs->mu);
        size_t i = fs->next < fs->n ? fs->next++ : fs->n;
        pthread_mutex_unlock(&fs->mu);
        if (i == fs->n) {
            return;
        }
        struct cl_err e;
        e.msg[0] = '\0';
        int rc = cl_partition_flush(fs->v[i], CRAWLLOG_SYNC_DURABLE, &e);
        if (rc != 0) {
            pthread_mutex_lock(&fs->mu);
            if (fs->rc == 0) {
                fs->rc = rc;
                fs->err = e;
            }
            pthread_mutex_unlock(&fs->mu);
        }
    }
}

static void *worker_main(void *arg)
{
    struct cl_flushpool *pool = arg;
    uint64_t seen = 0;
    pthread_mutex_lock(&pool->mu);
    for (;;) {
        while (!pool->stop && (pool->job == NULL || pool->gen == seen)) {
            pthread_cond_wait(&pool->work, &pool->mu);
        }
        if (pool->stop) {
            break;
        }
        seen = pool->gen;
        struct flushset *fs = pool->job;
        pool->active++;
        pthread_mutex_unlock(&pool->mu);
        sync_set(fs);
        pthread_mutex_lock(&pool->mu);
        if (--pool->active == 0) {
            pthread_cond_broadcast(&pool->idle);
        }
    }
    pthread_mutex_unlock(&pool->mu);
    return NULL;
}

void cl_flushpool_init(struct cl_flushpool *pool)
{
    memset(pool, 0, sizeof(*pool));
    pthread_mutex_init(&pool->mu, NULL);
    pthread_cond_init(&pool->work, NULL);
    pthread_cond_init(&pool->idle, NULL);
}

void cl_flushpool_destroy(struct cl_flushpool *pool)
{
    pthread_mutex_lock(&pool->mu);
    pool->stop = 1;
    pthread_cond_broadcast(&pool->work);
    pthread_mutex_unlock(&pool->mu);
    for (size_t i = 0; i < pool->nthreads; i++) {
        pthread_join(pool->threads[i], NULL);
    }
    pool->nthreads = 0;
    pthread_cond_destroy(&pool->idle);
    pthread_cond_destroy(&pool->work);
    pthread_mutex_destroy(&pool->mu);
}

/* Sync fs with the pool's help; 0, or -1 when the pool is busy (the
 * caller then syncs fs alone). */
static int pool_run(struct cl_flushpool *pool, struct flushset *fs,
                    size_t want)
{
    pthread_mutex_lock(&pool->mu);
    if (pool->job != NULL || pool->active != 0) {
        pthread_mutex_unlock(&pool->mu);
        return -1;
    }
    if (want > CL_FLUSHPOOL_MAX) {
        want = CL_FLUSHPOOL_MAX;
    }
    while (pool->nthreads < want &&
           cl_io_thread_create("flush.thread",
                               &pool->threads[pool->nthreads], worker_main,
                               pool) == 0) {
        pool->nthreads++;
    }
    pool->job = fs;
    pool->gen++;
    pthread_cond_broadcast(&pool->work);
    pthread_mutex_unlock(&pool->mu);
    sync_set(fs);
    pthread_mutex_lock(&pool->mu);
    pool->job = NULL; /* late workers must not pick fs up any more */
    while (pool->active != 0) {
        pthread_cond_wait(&pool->idle, &pool->mu);
    }
    pthread_mutex_unlock(&pool->mu);
    return 0;
}

static void flush_each(struct cl_partition **parts, size_t n, int sync,
                       int *first, struct cl_err *err)
{
    for (size_t i = 0; i < n; i++) {
        struct cl_err e;
        e.msg[0] = '\0';
        int rc = cl_partition_flush(parts[i], sync, &e);
        if (rc != 0 && *first == 0) {
            *first = rc;
            *err = e;
        }
    }
}

int cl_flushset_run(struct cl_flushpool *pool, struct cl_partition **parts,
                    size_t n, int sync, int parallelism, struct cl_err *err)
{
    int first = 0;
    if (sync != CRAWLLOG_SYNC_DURABLE || parallelism <= 1 || n <= 1 ||
        pool == NULL) {
        flush_each(parts, n, sync, &first, err);
        return first;
    }
    flush_each(parts, n, CRAWLLOG_SYNC_WRITTEN, &first, err);
    struct flushset fs;
    memset(&fs, 0, sizeof(fs));
    fs.v = cl_io_calloc(n, sizeof(*fs.v));
    if (fs.v == NULL) { /* no memory for the set: one after the other */
        flush_each(parts, n, sync, &first, err);
        return first;
    }
    for (size_t i = 0; i < n; i++) {
        if (cl_partition_unsynced(parts[i])) {
            fs.v[fs.n++] = parts[i];
        }
    }
    pthread_mutex_init(&fs.mu, NULL);
    size_t want = fs.n < (size_t)parallelism ? fs.n : (size_t)parallelism;
    if (want < 2 || pool_run(pool, &fs, want - 1) != 0) {
        sync_set(&fs);
    }
    pthread_mutex_destroy(&fs.mu);
    cl_io_free(fs.v);
    if (first == 0 && fs.rc != 0) {
        first = fs.rc;
        *err = fs.err;
    }
    return first;
}
