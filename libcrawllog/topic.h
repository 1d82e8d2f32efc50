/*
 * topic.h - topics on disk: metadata, atomic create, delete, partition
 * growth, listing and leftover cleanup (layer 2).
 *
 * Layout under the data directory <root> (see topic.c for the details;
 * staging/ and trash/ are managed by tree.c):
 *
 *     topics/<topic>/topic.meta          metadata (metafile kind
 *                                        "crawllog-topic")
 *     topics/<topic>/<partition>/        "0" .. "<partitions-1>"
 *     staging/<pid>.<counter>.<rand>/    a topic being created
 *     trash/<name>.<pid>.<counter>/      a topic being deleted
 *
 * Every function takes rootfd, an open directory fd of <root>, and builds
 * messages with paths relative to <root> ("topics/crawl/topic.meta: ...").
 * Metadata changes (create, delete, add_partitions) must be serialized by
 * the caller across threads and processes (log.c holds crawllog.lock).
 */
#ifndef CL_TOPIC_H
#define CL_TOPIC_H

#include <stddef.h>
#include <stdint.h>

#include "crawllog.h"
#include "errors.h"

/* Metafile kind of topic.meta. */
#define CL_TOPIC_META_KIND "crawllog-topic"
#define CL_TOPIC_META_NAME "topic.meta"

struct cl_topic_meta {
    int32_t partitions;    /* 1 .. CRAWLLOG_PARTITIONS_MAX */
    crawllog_conf_t *conf; /* effective topic-scope properties; owned */
};

/* Read and verify topics/<name>/topic.meta.  Returns 0, CRAWLLOG_EINVAL
 * (bad name), CRAWLLOG_ENOTOPIC, CRAWLLOG_ELOOP, CRAWLLOG_ECORRUPT,
 * CRAWLLOG_EVERSION, CRAWLLOG_ENOMEM, CRAWLLOG_EIO.  On failure meta is
 * zeroed (conf NULL). */
int cl_topic_meta_read(int rootfd, const char *name, struct cl_topic_meta *meta,
                       struct cl_err *err);

/* Release meta->conf (meta may be zeroed or NULL). */
void cl_topic_meta_free(struct cl_topic_meta *meta);

/* Create a topic atomically: it appears under topics/ whole (topic.meta
 * with partitions=N and the serialized conf, and N empty partition dirs)
 * or not at all.  Built in staging/, then renamed.  conf is the already
 * merged effective topic conf.  Returns 0, CRAWLLOG_EINVAL (bad name or
 * count; nothing written), CRAWLLOG_EEXIST (the existing topic is
 * untouched), CRAWLLOG_EIO, CRAWLLOG_ENOSPC, CRAWLLOG_ENOMEM, ... */
int cl_topic_create(int rootfd, const char *name, int32_t partitions,
                    const crawllog_conf_t *conf, unsigned dmode, unsigned fmode,
                    struct cl_err *err);

/* Delete a topic: rename it into trash/ (durably), then remove the tree.
 * A failure while removing the tree is not reported: the remains stay in
 * trash/ and cl_topic_cleanup finishes them.  Returns 0, CRAWLLOG_EINVAL,
 * CRAWLLOG_ENOTOPIC, CRAWLLOG_ELOOP (topics/<name> is a symlink; it is
 * left alone), CRAWLLOG_EIO, ... */
int cl_topic_delete(int rootfd, const char *name, struct cl_err *err);

/* Raise the partition count to total: create the missing partition dirs
 * (an existing empty leftover dir is reused), fsync the topic dir, then
 * rewrite topic.meta atomically.  Returns 0, CRAWLLOG_EINVAL (total <=
 * current or > CRAWLLOG_PARTITIONS_MAX), CRAWLLOG_ENOTOPIC,
 * CRAWLLOG_ECORRUPT (a leftover partition dir is not empty), ... */
int cl_topic_add_partitions(int rootfd, const char *name, int32_t total,
                            unsigned dmode, unsigned fmode, struct cl_err *err);

/* Sorted names of the topic directories under topics/ (entries that are
 * not valid topic names or not directories are skipped; a missing topics/
 * gives an empty list with *namesp NULL).  Free with cl_io_listdir_free. */
int cl_topic_list(int rootfd, char ***namesp, size_t *countp,
                  struct cl_err *err);

/* Remove staging/ entries of dead processes, everything in trash/, and
 * stale topic.meta tmp files of dead processes in every topic dir.  Keeps
 * going after a failure and returns the first error. */
int cl_topic_cleanup(int rootfd, struct cl_err *err);

/* Open topics/<name> as a directory fd (*fdp, -1 on failure).  Returns 0,
 * CRAWLLOG_EINVAL (bad name), CRAWLLOG_ENOTOPIC, CRAWLLOG_ELOOP (topics or
 * topics/<name> is a symlink), CRAWLLOG_EIO, CRAWLLOG_EMFILE, ... */
int cl_topic_open_dir(int rootfd, const char *name, int *fdp,
                      struct cl_err *err);

#endif /* CL_TOPIC_H */
