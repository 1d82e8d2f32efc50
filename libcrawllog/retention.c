/*
 * retention.c - delete a partition's old segments, and crawllog_maintain(),
 * which runs retention and time-based rolls over every topic (layer 4,
 * policy).
 *
 * Owns on disk: nothing new; it rewrites <partition>/log-start-offset and
 * deletes whole segments (<base>.log, .index, .timeindex).
 *
 * Rules (Kafka's): only whole segments go, oldest first, and never the
 * active one.  By time: a segment whose largest record timestamp is older
 * than now - retention.ms.  By size: while the partition minus the oldest
 * segment is still at least retention.bytes.  Either rule is off at -1.
 *
 * Crash safety: the new log start offset is written durably (tmp file,
 * fsync, rename, directory fsync) before the first unlink, so a crash
 * between the two leaves segments that the next recovery deletes
 * (partition.c, build_segments) instead of a log start that goes back.
 * The directory is fsync'd after the unlinks.
 *
 * Locks: the partition mutex and flock, held throughout.
 */
#include <string.h>

#include "backend.h"
#include "io.h"
#include "log.h"
#include "partition.h"
#include "topic.h"

/* How many of the oldest segments the rules allow deleting. */
static int count_expired(struct cl_partition *part, int64_t now_ms,
                         size_t *kp, struct cl_err *err)
{
    const struct cl_part_conf *c = &part->conf;
    size_t n = part->nseg - 1, k = 0;
    if (c->retention_ms >= 0) {
        while (k < n) {
            int64_t max_ts;
            int rc = cl_partition_segment_max_ts(part, &part->segs[k],
                                                 &max_ts, err);
            if (rc != 0) {
                return rc;
            }
            if (max_ts >= now_ms - c->retention_ms) {
                break;
            }
            k++;
        }
    }
    if (c->retention_bytes >= 0) {
        uint64_t total = 0;
        for (size_t i = k; i < part->nseg; i++) {
            total += part->segs[i].size;
        }
        while (k < n &&
               total - part->segs[k].size >= (uint64_t)c->retention_bytes) {
            total -= part->segs[k].size;
            k++;
        }
    }
    *kp = k;
    return 0;
}

static int delete_prefix(struct cl_partition *part, size_t k,
                         struct cl_err *err)
{
    int64_t start = part->segs[k].base;
    int rc = cl_partition_write_log_start(part, start, err);
    if (rc != 0) {
        return rc; /* nothing changed */
    }
    for (size_t i = 0; rc == 0 && i < k; i++) {
        rc = cl_partition_unlink_segment(part, part->segs[i].base, err);
    }
    if (rc == 0) {
        rc = cl_io_fsync("seg.delete.dirsync", part->dirfd);
        rc = rc < 0 ? cl_err_sys(err, -rc, part->reldir, "fsync directory")
                    : 0;
    }
    /* The checkpoint is durable, so the log start has moved even if an
     * unlink failed: recovery finishes those later. */
    for (size_t i = 0; i < k; i++) {
        cl_segment_close(&part->segs[i]);
    }
    memmove(part->segs, part->segs + k,
            (part->nseg - k) * sizeof(*part->segs));
    part->nseg -= k;
    cl_partition_publish(part, start, 1);
    return rc;
}

int cl_partition_retention(struct cl_partition *part, int64_t now_ms,
                           int64_t *deletedp, struct cl_err *err)
{
    size_t k = 0;
    *deletedp = 0;
    int rc = cl_partition_lock(part, err);
    if (rc != 0) {
        return rc;
    }
    rc = cl_partition_sync_locked(part, err);
    if (rc == 0) {
        rc = count_expired(part, now_ms, &k, err);
    }
    if (rc == 0 && k > 0) {
        rc = delete_prefix(part, k, err);
        if (rc == 0) {
            *deletedp = (int64_t)k;
        }
    }
    cl_partition_unlock(part);
    return rc;
}

/* ---- maintenance -------------------------------------------------------- */

struct maintain_args {
    int64_t now;
    int64_t deleted;
};

static int maintain_one(struct cl_partition *part, void *arg,
                        struct cl_err *err)
{
    struct maintain_args *a = arg;
    int64_t n = 0;
    int rc = cl_partition_roll_if_old(part, a->now, err);
    if (rc == 0) {
        rc = cl_partition_retention(part, a->now, &n, err);
    }
    a->deleted += n;
    return rc;
}

int crawllog_maintain(crawllog_t *log, int64_t *deletedp)
{
    CL_BACKEND(log, maintain, log, deletedp);
    struct cl_err err = {{0}};
    char **names;
    size_t count;
    struct maintain_args args = {cl_io_now_ms(), 0};
    if (deletedp) {
        *deletedp = 0;
    }
    if (log == NULL) {
        return CRAWLLOG_EINVAL;
    }
    int rc = cl_topic_list(log->rootfd, &names, &count, &err);
    if (rc != 0) {
        return cl_log_fail(log, rc, &err);
    }
    for (size_t i = 0; rc == 0 && i < count; i++) {
        int32_t nparts = 0;
        cl_log_topic_partitions(log, names[i], &nparts, &err);
        err.msg[0] = '\0';
        for (int32_t p = 0; rc == 0 && p < nparts; p++) {
            rc = cl_log_with_partition(log, names[i], p, maintain_one, &args, &err);
            if (rc == CRAWLLOG_ENOTOPIC) {
                rc = 0; /* deleted meanwhile */
                break;
            }
        }
    }
    cl_io_listdir_free(names, count);
    if (deletedp) {
        *deletedp = args.deleted;
    }
    return rc ? cl_log_fail(log, rc, &err) : 0;
}
