/*
 * log.h - the data-directory handle, internal view (layer 2 top).
 * See log.c.
 */
#ifndef CL_LOG_H
#define CL_LOG_H

#include <pthread.h>

#include "crawllog.h"
#include "errors.h"
#include "notify.h"
#include "partition.h"

/* One topic as this process knows it. */
struct cl_topic_rt {
    char *name;
    int dirfd;                      /* <root>/topics/<name> */
    int32_t nparts;                 /* partition count from topic.meta */
    crawllog_conf_t *conf;          /* effective topic properties */
    struct cl_part_conf pconf;
    struct cl_partition **parts;    /* nparts slots, opened lazily */
    struct cl_topic_rt *next;
};

struct crawllog_s {
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
};

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

#endif /* CL_LOG_H */
