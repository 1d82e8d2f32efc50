/*
 * log.h - the data-directory handle, internal view (layer 2 top).
 * See log.c.
 */
#ifndef CL_LOG_H
#define CL_LOG_H

#include <pthread.h>

#include "crawllog.h"
#include "errors.h"
#include "flushset.h"
#include "migrate.h"
#include "notify.h"
#include "partition.h"

/* flock'd around metadata changes and migration cut-overs (log.c). */
#define CL_LOG_LOCK_NAME "crawllog.lock"

/* One topic as this process knows it. */
struct cl_topic_rt {
    char *name;
    int dirfd;                      /* <root>/topics/<name> */
    int32_t nparts;                 /* partition count from topic.meta */
    crawllog_conf_t *conf;          /* effective topic properties */
    struct cl_part_conf pconf;
    struct cl_partition **parts;    /* nparts slots, opened lazily */
    crawllog_t *log;                /* the handle (for the redirect hook) */
    struct cl_mig_cache mig;        /* topics/<name>/migration as last read:
                                       at load, and when an append finds a
                                       partition's migration word set */
    struct cl_topic_rt *next;
};

struct crawllog_s {
    struct cl_kafka_log *kafka;     /* the Kafka backend's log (backend.h);
                                       NULL: this file-backend one */
    pthread_mutex_t lock;           /* guards topics, dead, errmsg */
    char *dir;                      /* as given to crawllog_open */
    int rootfd;                     /* the data directory */
    int lockfd;                     /* crawllog.lock: metadata changes */
    struct cl_notify *notify;       /* crawllog.notify: doorbells */
    crawllog_conf_t *conf;          /* copy of the open conf */
    unsigned dmode, fmode;          /* log.dir.mode, log.file.mode */
    struct cl_topic_rt *topics;     /* known topics */
    struct cl_topic_rt *dead;       /* forgotten; freed at close */
    char errmsg[CL_ERRMSG_SIZE];
    struct cl_flushpool flushpool;  /* durable flush workers (flushset.c) */
};

/* Flush a set of partitions of log (cl_flushset_run with the handle's
 * pool and log.flush.parallelism). */
int cl_log_flush_parts(crawllog_t *log, struct cl_partition **parts,
                       size_t n, int sync, struct cl_err *err);

/* Record err's message as the handle's errmsg; returns rc. */
int cl_log_fail(crawllog_t *log, int rc, const struct cl_err *err);

/* The log's doorbells (crawllog.notify), for consumers: claim a slot,
 * register it with cl_partition_watch(part), wait (notify.h).  Valid until
 * crawllog_close. */
struct cl_notify *cl_log_notify(crawllog_t *log);

/* The partition, opened (and recovered) on first use. */
int cl_log_partition(crawllog_t *log, const char *topic, int32_t partition,
                     struct cl_partition **partp, struct cl_err *err);

/* Run fn on a partition of a topic; if the topic turns out to have been
 * deleted (and maybe re-created) by another process, forget it and run fn
 * once more on the fresh one. */
typedef int cl_part_op_fn(struct cl_partition *part, void *arg,
                          struct cl_err *err);
int cl_log_with_partition(crawllog_t *log, const char *topic, int32_t p,
                          cl_part_op_fn *fn, void *arg, struct cl_err *err);

/* A topic's partition count as this handle knows it. */
int cl_log_topic_partitions(crawllog_t *log, const char *topic,
                            int32_t *np, struct cl_err *err);

/* Every partition this handle has open (an array to cl_io_free). */
int cl_log_open_partitions(crawllog_t *log, struct cl_partition ***pp,
                           size_t *np);

/* Forget a topic whose files were deleted by another process, so that the
 * next call loads it afresh. */
void cl_log_forget(crawllog_t *log, const char *topic);

/* A topic's migration as this handle knows it, into *c; with reload, the
 * migration file is read again first (and the cache updated). */
int cl_log_migration(crawllog_t *log, const char *topic, int reload,
                     struct cl_mig_cache *c, struct cl_err *err);

/* cl_partition_flush(sync) every partition of topic this handle has
 * open; the first error. */
int cl_log_topic_flush(crawllog_t *log, const char *topic, int sync,
                       struct cl_err *err);

/* The redirect hook (cl_partition_redirect_fn, partition.h) installed on
 * every partition this handle opens; in append.c. */
int cl_append_redirect(struct cl_partition *part, uint8_t *buf, size_t len,
                       struct cl_idem_req *req, int sync, int64_t *basep,
                       struct cl_err *err);

#endif /* CL_LOG_H */
