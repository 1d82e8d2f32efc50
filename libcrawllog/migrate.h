/*
 * migrate.h - migrating a topic to a new topic with another partition
 * count: the copy and the cut-over (migrate.c), the migration file
 * (migrate_file.c) (layer 3).  See docs/MIGRATION.md.
 *
 * The public calls (crawllog_topic_migrate, crawllog_topic_migration) are
 * declared in crawllog.h; this header adds what log.c and append.c need:
 * the cached view of a topic's migration, the routing rule, and the wait
 * of an append that finds a partition fenced by a cut-over.
 */
#ifndef CL_MIGRATE_H
#define CL_MIGRATE_H

#include <stddef.h>
#include <stdint.h>

#include "crawllog.h"
#include "errors.h"

#define CL_MIGRATE_NAME "migration"
#define CL_MIGRATE_KIND "crawllog-migration"
/* Holds "topics/<topic>/migration". */
#define CL_MIGRATE_REL_SIZE (CRAWLLOG_TOPIC_NAME_MAX + 32)

struct cl_partition;

/* What an append needs to know of a topic's migration (log.c caches it
 * per topic). */
struct cl_mig_cache {
    int state;      /* CRAWLLOG_MIGRATION_* */
    int32_t nparts; /* N, the target's partition count; 0 with NONE */
    char target[CRAWLLOG_TOPIC_NAME_MAX + 1]; /* "" with NONE */
};

/* Read topics/<topic>/migration (dirfd: the topic's directory) into *c;
 * a missing file is state NONE.  Returns 0, CRAWLLOG_ECORRUPT,
 * CRAWLLOG_EVERSION, CRAWLLOG_ENOMEM, I/O errors. */
int cl_migrate_cache_load(int dirfd, const char *topic,
                          struct cl_mig_cache *c, struct cl_err *err);

/* The target partition of a record of old partition oldp: murmur2(key) %
 * n for a key (an empty one too), oldp % n for a NULL key. */
int32_t cl_migrate_route(const void *key, size_t keylen, int32_t oldp,
                         int32_t n);

/* The migration file, parsed (migrate_file.c). */
struct cl_mig {
    int state;       /* CRAWLLOG_MIGRATION_* (not NONE) */
    char target[CRAWLLOG_TOPIC_NAME_MAX + 1];
    int32_t n, m;    /* new and old partition counts */
    int64_t *copied; /* [m]: next old offset to copy */
    int64_t *counts; /* [m * n]: records copied from p to q */
    int64_t *cut;    /* [m], -1 before redirect */
    int64_t *start;  /* [n], -1 before redirect */
};

/* Allocate m's arrays for m->m and m->n (counts 0, cut and start -1). */
int cl_migrate_file_alloc(struct cl_mig *m, struct cl_err *err);
void cl_migrate_file_free(struct cl_mig *m);

/* Read and parse dirfd/migration (rel: its path for messages): 0,
 * CRAWLLOG_ENOENT, CRAWLLOG_ECORRUPT, CRAWLLOG_EVERSION, CRAWLLOG_ENOMEM,
 * I/O errors.  m is zeroed on failure. */
int cl_migrate_file_read(int dirfd, const char *rel, struct cl_mig *m,
                         struct cl_err *err);

/* Replace dirfd/migration atomically and durably with m. */
int cl_migrate_file_write(int dirfd, const char *rel, const struct cl_mig *m,
                          unsigned fmode, struct cl_err *err);

/* crawllog.lock on a descriptor of its own (migrate.c): excludes this
 * process's other threads and handles too. */
int cl_migrate_meta_lock(crawllog_t *log, int *fdp, struct cl_err *err);
void cl_migrate_meta_unlock(int fd);

/* Step 5 (migrate_status.c): if old was cut over and every consumer group
 * that committed offsets on old has switched to the target, set the
 * migration's state to done.  *pendingp (may be NULL) gets the number of
 * groups that have not switched.  0 also when old has no migration. */
int cl_migrate_finish(crawllog_t *log, const char *old, size_t *pendingp,
                      struct cl_err *err);

/* An append found part (of topic) fenced by a cut-over, or with a
 * migration word the handle's cache does not explain: wait for any
 * cut-over to end (crawllog.lock), re-read the migration into *c (and the
 * log's cache) and settle part's migration word from it: REDIRECT if the
 * topic was cut over, else NONE (a dead cut-over's fence, a damaged
 * partition.state).  Call with no lock held. */
int cl_migrate_wait_cutover(crawllog_t *log, const char *topic,
                            struct cl_partition *part, struct cl_mig_cache *c,
                            struct cl_err *err);

#endif /* CL_MIGRATE_H */
