/*
 * partition.c - one partition: ordered segments, offsets, appends from many
 * threads and processes, rolls and recovery.
 *
 * On disk, <data dir>/topics/<topic>/<id>/ holds:
 *   <base>.log, <base>.index, <base>.timeindex   segments (segment.c,
 *                                                index.c); bases ascend and
 *                                                each segment's base is the
 *                                                previous one's end offset
 *   partition.state                              lock + shared cache
 *                                                (pstate.c)
 *   log-start-offset                             checkpoint written by
 *                                                retention before it deletes
 *                                                segments (metafile.c)
 *
 * Invariants:
 *  - Offsets are contiguous from the log start offset to the log end offset
 *    across segments.  Only the last segment (the active one) is appended
 *    to, and it is never deleted.
 *  - A sealed segment was fdatasync'd with its indexes before the next one
 *    was created, and the directory was fsync'd after the creation and
 *    before anything in the new segment was acknowledged (reliability.md
 *    section 2, rules 1-2; LevelDB #193, Badger #153, etcd #6368).
 *  - The log end offset is published (pstate) only after the batch bytes are
 *    in the file; a failed write is truncated away before the lock is
 *    released, so no other process ever sees a partial batch below it.
 *  - After a failed fdatasync the partition refuses appends with
 *    CRAWLLOG_ECLOSED until the log is reopened: the kernel may have dropped
 *    the dirty pages, so a retried fsync proves nothing (fsyncgate).
 *
 * Locks: part->lock (a mutex: threads of this process) is taken first, then
 * the flock of partition.state (other processes).  Both are held for every
 * append, roll, retention and segment-list refresh.  Readers take them only
 * to locate a position; they follow the log end through the shared state's
 * atomics.  No callback runs under either lock.
 *
 * Migration: a write (append or flush of buffered batches) that finds the
 * migration word of partition.state set hands itself, under the lock, to
 * the redirect hook (append.c), which writes it to the migration target.
 *
 * Wake-ups: every store of the log end or start offset goes through
 * cl_partition_publish, which marks the partition; cl_partition_unlock then
 * rings the doorbells registered in partition.state's watch (notify.c),
 * after releasing both locks.  With nobody waiting that is one fence and
 * one atomic load.  Consumers register without any lock.
 *
 * Recovery: on open, under the lock, the active segment's tail is scanned
 * from its last index entry (segment.c); if the shared state comes from
 * another boot - a power loss may have torn any unsynced page - the whole
 * active segment is scanned.  A lock holder that finds the active file
 * larger than the published size recovers the tail a dead writer left.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "bytes.h"
#include "io.h"
#include "metafile.h"
#include "names.h"
#include "partition.h"

/* ---- locking and the segment list ------------------------------------- */

int cl_partition_lock(struct cl_partition *part, struct cl_err *err)
{
    pthread_mutex_lock(&part->lock);
    int rc = cl_pstate_lock(&part->ps, part->reldir, err);
    if (rc != 0) {
        pthread_mutex_unlock(&part->lock);
    }
    return rc;
}

/* Watchers are rung after both locks are released: the FUTEX_WAKE calls
 * (only when someone waits) do not lengthen the critical section. */
void cl_partition_unlock(struct cl_partition *part)
{
    int ring = part->ring_due;
    part->ring_due = 0;
    cl_pstate_unlock(&part->ps);
    pthread_mutex_unlock(&part->lock);
    if (ring) {
        cl_watch_ring(part->notify, &part->ps.shm->watch);
    }
}

static struct cl_segment *active(struct cl_partition *part)
{
    return &part->segs[part->nseg - 1];
}

static void close_segments(struct cl_partition *part)
{
    for (size_t i = 0; i < part->nseg; i++) {
        cl_segment_close(&part->segs[i]);
    }
    part->nseg = 0;
}

static int read_log_start(struct cl_partition *part, int64_t *startp,
                          struct cl_err *err)
{
    char rel[400], *body = NULL;
    snprintf(rel, sizeof(rel), "%s/%s", part->reldir, CL_LOGSTART_NAME);
    *startp = -1;
    int rc = cl_metafile_read(part->dirfd, CL_LOGSTART_NAME, rel,
                              CL_LOGSTART_KIND, &body, err);
    if (rc == CRAWLLOG_ENOENT) {
        err->msg[0] = '\0';
        return 0;
    }
    if (rc != 0) {
        return rc;
    }
    rc = cl_metafile_get_int(body, "log.start.offset", startp);
    cl_io_free(body);
    if (rc != 0 || *startp < 0) {
        return cl_errf(err, CRAWLLOG_ECORRUPT, "%s: bad log.start.offset",
                       rel);
    }
    return 0;
}

int cl_partition_write_log_start(struct cl_partition *part, int64_t start,
                                 struct cl_err *err)
{
    char rel[400], body[64];
    snprintf(rel, sizeof(rel), "%s/%s", part->reldir, CL_LOGSTART_NAME);
    snprintf(body, sizeof(body), "log.start.offset=%" PRId64 "\n", start);
    return cl_metafile_write(part->dirfd, CL_LOGSTART_NAME, rel,
                             CL_LOGSTART_KIND, body, part->conf.fmode, err);
}

int cl_partition_unlink_segment(struct cl_partition *part, int64_t base,
                                struct cl_err *err)
{
    static const char *const sfx[] = {".index", ".timeindex", ".log"};
    for (size_t i = 0; i < 3; i++) {
        char name[64];
        cl_names_segment(name, sizeof(name), base, sfx[i]);
        int rc = cl_io_unlinkat("seg.delete", part->dirfd, name, 0);
        if (rc < 0 && rc != -ENOENT) {
            char path[512];
            snprintf(path, sizeof(path), "%s/%s", part->reldir, name);
            return cl_err_sys(err, -rc, path, "unlink");
        }
    }
    return 0;
}

/* Base offsets of the .log files, ascending (names sort numerically). */
static int list_bases(struct cl_partition *part, int64_t **basesp,
                      size_t *np, struct cl_err *err)
{
    char **names;
    size_t count, n = 0;
    int rc = cl_io_listdir("part.list", part->dirfd, &names, &count);
    if (rc < 0) {
        return cl_err_sys(err, -rc, part->reldir, "list");
    }
    int64_t *bases = cl_io_malloc((count + 1) * sizeof(*bases));
    if (bases == NULL) {
        cl_io_listdir_free(names, count);
        return cl_errf(err, CRAWLLOG_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < count; i++) {
        int64_t base;
        const char *sfx;
        if (cl_names_parse_segment(names[i], &base, &sfx) == 0 &&
            strcmp(sfx, ".log") == 0) {
            bases[n++] = base;
        }
    }
    cl_io_listdir_free(names, count);
    *basesp = bases;
    *np = n;
    return 0;
}

static int push_segment(struct cl_partition *part, struct cl_segment **segp,
                        struct cl_err *err)
{
    if (part->nseg == part->segcap) {
        size_t ncap = part->segcap ? part->segcap * 2 : 8;
        void *p = cl_io_realloc(part->segs, ncap * sizeof(*part->segs));
        if (p == NULL) {
            return cl_errf(err, CRAWLLOG_ENOMEM, "out of memory");
        }
        part->segs = p;
        part->segcap = ncap;
    }
    *segp = &part->segs[part->nseg];
    return 0;
}

/* Open the segments at or above the log start.  With recover, finish an
 * interrupted retention (delete segments wholly below the checkpoint) and
 * repair a last segment whose creation was cut short. */
static int build_segments(struct cl_partition *part, int recover,
                          int64_t *log_startp, struct cl_err *err)
{
    int64_t *bases = NULL, ck;
    size_t n = 0;
    int rc = read_log_start(part, &ck, err);
    if (rc == 0) {
        rc = list_bases(part, &bases, &n, err);
    }
    if (rc != 0) {
        return rc;
    }
    close_segments(part);
    size_t first = 0;
    while (ck >= 0 && first + 1 < n && bases[first + 1] <= ck) {
        if (recover) {
            rc = cl_partition_unlink_segment(part, bases[first], err);
        }
        if (rc != 0) {
            goto out;
        }
        first++;
    }
    for (size_t i = first; i < n; i++) {
        struct cl_segment *seg;
        int empty;
        if ((rc = push_segment(part, &seg, err)) != 0 ||
            (rc = cl_segment_open(seg, part->dirfd, part->reldir, bases[i],
                                  &empty, err)) != 0) {
            goto out;
        }
        part->nseg++;
        if (empty && (i + 1 < n || !recover)) {
            rc = cl_errf(err, CRAWLLOG_ECORRUPT,
                         "%s: segment %020" PRId64 " has no header",
                         part->reldir, bases[i]);
            goto out;
        }
        if (empty) {
            rc = cl_segment_rewrite_header(seg, part->reldir, cl_io_now_ms(),
                                           err);
            if (rc != 0) {
                goto out;
            }
        }
        if (i > first) {
            part->segs[part->nseg - 2].next_offset = bases[i];
        }
    }
    if (part->nseg == 0) {
        struct cl_segment *seg;
        int64_t base = ck > 0 ? ck : 0;
        if ((rc = push_segment(part, &seg, err)) != 0 ||
            (rc = cl_segment_create(seg, part->dirfd, part->reldir, base,
                                    cl_io_now_ms(), part->conf.fmode,
                                    err)) != 0) {
            goto out;
        }
        part->nseg++;
        rc = cl_io_fsync("seg.roll.dirsync", part->dirfd);
        if (rc < 0) {
            rc = cl_err_sys(err, -rc, part->reldir, "fsync directory");
            goto out;
        }
    }
    *log_startp = part->segs[0].base > ck ? part->segs[0].base : ck;
out:
    cl_io_free(bases);
    return rc;
}

/* Publish the active segment's state to the other processes. */
void cl_partition_publish(struct cl_partition *part, int64_t log_start,
                          int bump)
{
    struct cl_pstate_shm *s = part->ps.shm;
    struct cl_segment *a = active(part);
    s->active_base = a->base;
    s->active_size = a->size;
    s->max_ts = a->max_ts;
    s->max_ts_rel = a->max_ts_rel;
    s->idx_n = a->idx.n;
    s->tidx_n = a->idx.tn;
    if (log_start >= 0) {
        atomic_store_explicit(&s->log_start, log_start, memory_order_release);
    }
    if (bump) {
        atomic_fetch_add_explicit(&s->change_seq, 1, memory_order_acq_rel);
        part->seen_seq = atomic_load(&s->change_seq);
    }
    atomic_store_explicit(&s->next_offset, a->next_offset,
                          memory_order_release);
    part->ring_due = 1;
}

/* A process that died in a roll after creating the new segment but before
 * publishing it left a header-only file above the active segment, which
 * others went on appending to: remove it before anything lists the
 * directory, or it would split the offsets (lock held). */
static int drop_dead_roll(struct cl_partition *part, struct cl_err *err)
{
    struct cl_pstate_shm *s = part->ps.shm;
    int64_t base = s->roll_pending - 1;
    if (s->roll_pending > 0 && base > s->active_base) {
        int rc = cl_partition_unlink_segment(part, base, err);
        if (rc == 0 && (rc = cl_io_fsync("seg.roll.undo.dirsync",
                                         part->dirfd)) < 0) {
            rc = cl_err_sys(err, -rc, part->reldir, "fsync directory");
        }
        if (rc != 0) {
            return rc;
        }
    }
    if (s->roll_pending != 0) {
        s->roll_pending = 0;
    }
    return 0;
}

/* Full recovery under the lock: rebuild the segment list and recover the
 * active segment's tail, then rebuild the shared state. */
static int recover_locked(struct cl_partition *part, struct cl_err *err)
{
    int64_t log_start;
    int valid = cl_pstate_valid(&part->ps);
    /* After a reboot nobody appended past a dead roll: keep its segment. */
    int rc = valid ? drop_dead_roll(part, err) : 0;
    if (!valid) {
        cl_pstate_reset_watch(&part->ps);
    }
    if (part->ps.shm->roll_pending != 0) {
        /* Only when needed: a store to the mapping dirties the file (and
         * its mtime) even when the open then fails with ECORRUPT. */
        part->ps.shm->roll_pending = 0;
    }
    if (rc == 0) {
        /* A retention that died writing log-start-offset left a tmp. */
        rc = cl_metafile_cleanup_tmp(part->dirfd, err);
    }
    if (rc == 0) {
        rc = build_segments(part, 1, &log_start, err);
    }
    if (rc != 0) {
        return rc;
    }
    struct cl_segment *a = active(part);
    int full = !valid || part->ps.shm->active_base != a->base;
    uint64_t keep = cl_pstate_synced(&part->ps, a->base);
    rc = cl_segment_recover(a, part->dirfd, part->reldir, full, keep,
                            part->conf.index_interval, part->conf.fmode,
                            NULL, err);
    if (rc != 0) {
        return rc;
    }
    if (full) {
        /* What was read may still be only in the page cache. */
        rc = cl_io_fdatasync("seg.recover.fsync", a->fd);
        if (rc < 0) {
            return cl_err_sys(err, -rc, part->reldir, "fdatasync");
        }
        cl_pstate_set_synced(&part->ps, a->base, a->size);
    }
    cl_pstate_stamp(&part->ps);
    cl_partition_publish(part, log_start, 1);
    return 0;
}

/* Recover the tail a writer that died under the lock left behind. */
static int recover_tail_locked(struct cl_partition *part, struct cl_err *err)
{
    struct cl_segment *a = active(part);
    uint64_t keep = cl_pstate_synced(&part->ps, a->base);
    int rc = cl_segment_recover(a, part->dirfd, part->reldir, 0, keep,
                                part->conf.index_interval, part->conf.fmode,
                                NULL, err);
    if (rc == 0) {
        cl_partition_publish(part, -1, 1);
    }
    return rc;
}

int cl_partition_sync_locked(struct cl_partition *part, struct cl_err *err)
{
    struct cl_pstate_shm *s = part->ps.shm;
    struct stat st;
    if (cl_pstate_unlinked(&part->ps)) {
        close_segments(part); /* free the deleted files' space */
        return cl_errf(err, CRAWLLOG_ENOTOPIC, "%s: partition was deleted",
                       part->reldir);
    }
    if (!cl_pstate_valid(&part->ps)) {
        return recover_locked(part, err);
    }
    if (s->roll_pending != 0) {
        int rc = drop_dead_roll(part, err);
        if (rc != 0) {
            return rc;
        }
    }
    uint64_t seq = atomic_load_explicit(&s->change_seq, memory_order_acquire);
    if (part->nseg == 0 || seq != part->seen_seq ||
        s->active_base != active(part)->base) {
        int64_t log_start;
        int rc = build_segments(part, 0, &log_start, err);
        if (rc != 0) {
            return rc;
        }
        part->seen_seq = seq;
    }
    struct cl_segment *a = active(part);
    if (a->base != s->active_base) {
        return recover_locked(part, err);
    }
    int rc = cl_io_fstat("seg.stat", a->fd, &st);
    if (rc < 0) {
        return cl_err_sys(err, -rc, part->reldir, "fstat");
    }
    a->size = s->active_size;
    a->next_offset = atomic_load(&s->next_offset);
    a->max_ts = s->max_ts;
    a->max_ts_rel = s->max_ts_rel;
    if (!a->idx_loaded || a->idx.n > s->idx_n || a->idx.tn > s->tidx_n) {
        a->idx_loaded = 0;
        rc = cl_segment_load_index(a, part->dirfd, part->reldir,
                                   part->conf.fmode, err);
    } else if (a->idx.n < s->idx_n || a->idx.tn < s->tidx_n) {
        rc = cl_index_refresh(&a->idx, a->size, part->reldir, a->base, err);
    }
    if (rc != 0) {
        return rc;
    }
    if ((uint64_t)st.st_size != a->size) {
        return recover_tail_locked(part, err);
    }
    return 0;
}

/* ---- open / close ----------------------------------------------------- */

int cl_partition_open(struct cl_partition **partp, int topic_dirfd,
                      const char *topic, int32_t id,
                      const struct cl_part_conf *conf,
                      struct cl_notify *notify, struct cl_err *err)
{
    char name[16];
    *partp = NULL;
    struct cl_partition *part = cl_io_calloc(1, sizeof(*part));
    if (part == NULL) {
        return cl_errf(err, CRAWLLOG_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&part->lock, NULL);
    pthread_mutex_init(&part->sync_lock, NULL);
    part->conf = *conf;
    part->id = id;
    part->notify = notify;
    part->ps.fd = -1;
    snprintf(part->reldir, sizeof(part->reldir), "topics/%s/%d", topic,
             (int)id);
    cl_names_partition(name, sizeof(name), id);
    int rc = cl_io_openat("part.open", topic_dirfd, name,
                          O_RDONLY | O_DIRECTORY, 0);
    if (rc < 0) {
        part->dirfd = -1;
        rc = rc == -ENOENT
                 ? cl_errf(err, CRAWLLOG_ENOTOPIC, "%s: no such partition",
                           part->reldir)
                 : cl_err_sys(err, -rc, part->reldir, "open");
        goto fail;
    }
    part->dirfd = rc;
    rc = cl_pstate_open(&part->ps, part->dirfd, part->reldir, conf->fmode,
                        err);
    if (rc == 0) {
        rc = cl_partition_lock(part, err);
    }
    if (rc != 0) {
        goto fail;
    }
    rc = recover_locked(part, err);
    cl_partition_unlock(part);
    if (rc != 0) {
        goto fail;
    }
    /* Stop ringing the slots of waiters that died registered. */
    cl_watch_sweep(notify, &part->ps.shm->watch);
    *partp = part;
    return 0;
fail:
    cl_partition_close(part);
    return rc;
}

void cl_partition_close(struct cl_partition *part)
{
    if (part == NULL) {
        return;
    }
    close_segments(part);
    cl_io_free(part->segs);
    cl_io_free(part->pend);
    cl_idem_free(&part->idem);
    cl_pstate_close(&part->ps);
    if (part->dirfd >= 0) {
        cl_io_close(part->dirfd);
    }
    pthread_mutex_destroy(&part->lock);
    pthread_mutex_destroy(&part->sync_lock);
    cl_io_free(part);
}

void cl_partition_release(struct cl_partition *part)
{
    if (part == NULL) {
        return;
    }
    pthread_mutex_lock(&part->lock);
    close_segments(part);
    part->seen_seq = 0;
    part->pend_len = 0;
    part->pend_n = 0;
    pthread_mutex_unlock(&part->lock);
}

/* ---- append, roll, sync ----------------------------------------------- */

static int roll_locked(struct cl_partition *part, int64_t now_ms,
                       struct cl_err *err)
{
    struct cl_segment *a = active(part), *seg;
    int track = cl_idem_at(&part->idem, a->base, a->size);
    int rc = cl_segment_seal(a, part->reldir, err);
    if (rc != 0) {
        part->failed = 1;
        return rc;
    }
    int64_t base = a->next_offset;
    if ((rc = push_segment(part, &seg, err)) != 0) {
        return rc;
    }
    part->ps.shm->roll_pending = base + 1;
    rc = cl_segment_create(seg, part->dirfd, part->reldir, base, now_ms,
                           part->conf.fmode, err);
    if (rc == CRAWLLOG_EEXIST) {
        /* Left by a roll that crashed before it was published: reuse it
         * if it holds no batches. */
        int empty;
        rc = cl_segment_open(seg, part->dirfd, part->reldir, base, &empty,
                             err);
        if (rc == 0 && (empty || seg->size <= CL_SEG_HEADER_SIZE)) {
            rc = cl_segment_rewrite_header(seg, part->reldir, now_ms, err);
            if (rc == 0) {
                rc = cl_segment_load_index(seg, part->dirfd, part->reldir,
                                           part->conf.fmode, err);
            }
            if (rc == 0) {
                rc = cl_index_reset(&seg->idx, part->reldir, base, err);
            }
        } else if (rc == 0) {
            rc = cl_errf(err, CRAWLLOG_ECORRUPT,
                         "%s: segment %020" PRId64 " exists and is not empty",
                         part->reldir, base);
        }
        if (rc != 0) {
            cl_segment_close(seg);
            return rc;
        }
    } else if (rc != 0) {
        return rc;
    }
    part->nseg++;
    rc = cl_io_fsync("seg.roll.dirsync", part->dirfd);
    if (rc < 0) {
        part->failed = 1;
        return cl_err_sys(err, -rc, part->reldir, "fsync directory");
    }
    cl_pstate_set_synced(&part->ps, base, CL_SEG_HEADER_SIZE);
    cl_partition_publish(part, -1, 1);
    part->ps.shm->roll_pending = 0;
    if (track) {
        cl_idem_move(&part->idem, base, CL_SEG_HEADER_SIZE);
    }
    return 0;
}

static int need_roll(const struct cl_partition *part,
                     const struct cl_segment *a, size_t total, int32_t count,
                     int64_t now_ms)
{
    const struct cl_part_conf *c = &part->conf;
    if (a->size <= CL_SEG_HEADER_SIZE) {
        return 0; /* an empty segment takes any batch */
    }
    int64_t max_entries = c->segment_index_bytes / CL_TIMEINDEX_ENTRY_SIZE;
    return a->size + total > (uint64_t)c->segment_bytes ||
           now_ms - a->created_ms >= c->segment_ms ||
           (int64_t)a->idx.n >= max_entries ||
           (int64_t)a->idx.tn >= max_entries ||
           a->next_offset + count - 1 - a->base > INT32_MAX;
}

/* Write buf[0, len) (whole batches, offsets patched) at the active end. */
static int write_run(struct cl_partition *part, uint8_t *buf, size_t len,
                     struct cl_err *err)
{
    struct cl_segment *a = active(part);
    struct cl_err ierr;
    int rc = cl_io_pwrite_all("seg.append.write", a->fd, buf, len, a->size);
    if (rc < 0) {
        int rc2 = cl_io_ftruncate("seg.append.undo", a->fd, a->size);
        if (rc2 < 0) {
            part->failed = 1; /* a partial batch may remain: reopen */
        }
        return cl_err_sys(err, -rc, part->reldir, "write");
    }
    part->write_gen++;
    int track = cl_idem_at(&part->idem, a->base, a->size);
    for (size_t p = 0; p < len;) {
        struct cl_batch_hdr h;
        cl_record_batch_header(buf + p, len - p, &h);
        size_t total = cl_record_batch_total(&h);
        int64_t last = h.base_offset + h.last_offset_delta;
        if (track && h.producer_id >= 0 && h.base_sequence >= 0 &&
            cl_idem_record(&part->idem, h.producer_id, h.producer_epoch,
                           h.base_sequence, h.records_count,
                           h.base_offset) != 0) {
            cl_idem_free(&part->idem); /* no memory: rebuilt when needed */
            track = 0;
        }
        if (rc == 0) {
            /* An index that failed to grow only makes lookups scan
             * further; recovery re-adds the missing entries. */
            rc = cl_segment_index_batch(a, part->reldir, a->size, total,
                                        h.base_offset, last, h.max_timestamp,
                                        part->conf.index_interval, &ierr);
        } else if (h.max_timestamp > a->max_ts) {
            a->max_ts = h.max_timestamp;
            a->max_ts_rel = (uint32_t)(last - a->base);
        }
        a->size += total;
        a->next_offset = last + 1;
        p += total;
    }
    if (track) {
        cl_idem_move(&part->idem, a->base, a->size);
    }
    cl_partition_publish(part, -1, 0);
    return 0;
}

/* *donep: how many leading bytes of buf were written and published (all
 * of them on success; a prefix of whole batches when a later run or a
 * roll failed). */
static int write_batches_locked(struct cl_partition *part, uint8_t *buf,
                                size_t len, int64_t *basep, size_t *donep,
                                struct cl_err *err)
{
    int64_t now = cl_io_now_ms();
    size_t run = 0, p = 0;
    *donep = 0;
    int64_t next = active(part)->next_offset;
    *basep = next;
    while (p < len) {
        size_t total = (size_t)cl_get_i32(buf + p + CL_BATCH_OFF_BATCH_LENGTH) + CL_LOG_OVERHEAD;
        int32_t count = cl_get_i32(buf + p + CL_BATCH_OFF_RECORDS_COUNT);
        struct cl_segment *a = active(part);
        struct cl_segment probe = *a;
        probe.size += p - run;
        probe.next_offset = next;
        if (need_roll(part, &probe, total, count, now)) {
            int rc = p > run ? write_run(part, buf + run, p - run, err) : 0;
            if (rc == 0) {
                *donep = p;
                rc = roll_locked(part, now, err);
            }
            if (rc != 0) {
                return rc;
            }
            run = p;
        }
        cl_record_batch_set_base_offset(buf + p, next);
        next += count;
        p += total;
    }
    int rc = p > run ? write_run(part, buf + run, p - run, err) : 0;
    if (rc == 0) {
        *donep = len;
    }
    return rc;
}

static int check_failed(struct cl_partition *part, struct cl_err *err)
{
    if (part->failed) {
        return cl_errf(err, CRAWLLOG_ECLOSED,
                       "%s: an earlier write or fsync failed; reopen the log",
                       part->reldir);
    }
    return 0;
}

/* Make every append this handle wrote durable (site NULL), or with site
 * every byte of the active segment, whoever wrote it.  The fdatasync runs
 * without the partition lock, so other threads keep appending meanwhile
 * (their next sync covers them: group commit), on a dup of the active
 * segment's descriptor so that a concurrent roll or retention cannot close
 * it under us.  Syncs of one partition are serialised by sync_lock: with
 * one open file description, a writeback error is reported to one fsync
 * only, and a concurrent second fsync could otherwise succeed for data the
 * kernel has dropped (fsyncgate).  After a failure the partition refuses
 * every append and sync until the log is reopened. */
static int sync_partition(struct cl_partition *part, const char *site,
                          struct cl_err *err)
{
    pthread_mutex_lock(&part->sync_lock);
    int fd = -1, rc = cl_partition_lock(part, err);
    if (rc != 0) {
        pthread_mutex_unlock(&part->sync_lock);
        return rc;
    }
    struct cl_segment *a = active(part);
    int64_t base = a->base;
    uint64_t size = a->size, gen = part->write_gen;
    rc = check_failed(part, err);
    if (rc == 0 && (site != NULL || gen != part->synced_gen)) {
        fd = cl_io_dup("seg.sync.dup", a->fd);
        rc = fd < 0 ? cl_err_sys(err, -fd, part->reldir, "dup") : 0;
    }
    cl_partition_unlock(part);
    if (fd >= 0) {
        int src = cl_io_fdatasync(site ? site : "seg.append.fdatasync", fd);
        cl_io_close(fd);
        pthread_mutex_lock(&part->lock);
        if (src < 0) {
            part->failed = 1;
            rc = cl_err_sys(err, -src, part->reldir, "fdatasync");
        } else if (gen > part->synced_gen) {
            part->synced_gen = gen;
        }
        pthread_mutex_unlock(&part->lock);
        if (src == 0 && cl_partition_lock(part, err) == 0) {
            /* The durable mark recovery trusts after a power loss. */
            if (part->ps.shm->active_base == base &&
                cl_pstate_synced(&part->ps, base) < size) {
                cl_pstate_set_synced(&part->ps, base, size);
            }
            cl_partition_unlock(part);
        }
    }
    pthread_mutex_unlock(&part->sync_lock);
    return rc;
}

int cl_partition_sync_all(struct cl_partition *part, const char *site,
                          struct cl_err *err)
{
    int rc = cl_partition_lock(part, err);
    if (rc == 0) {
        rc = cl_partition_sync_locked(part, err); /* see others' rolls */
        cl_partition_unlock(part);
    }
    return rc == 0 ? sync_partition(part, site, err) : rc;
}

static int write_pending_locked(struct cl_partition *part,
                                struct cl_err *err)
{
    int64_t base;
    size_t done;
    if (part->pend_len == 0) {
        return 0;
    }
    int rc = write_batches_locked(part, part->pend, part->pend_len, &base,
                                  &done, err);
    /* What was not written stays buffered (a failed write left nothing of
     * it visible): the next flush or append retries it, and the error
     * goes to this caller.  Dropping it would lose batches appended with
     * CRAWLLOG_SYNC_NONE while a later flush or close reported success. */
    for (size_t p = 0; p < done && part->pend_n > 0;
         p += (size_t)cl_get_i32(part->pend + p + CL_BATCH_OFF_BATCH_LENGTH) +
              CL_LOG_OVERHEAD) {
        part->pend_n--;
    }
    memmove(part->pend, part->pend + done, part->pend_len - done);
    part->pend_len -= done;
    return rc;
}


static int buffer_batches(struct cl_partition *part, const uint8_t *buf,
                          size_t len, size_t nbatches, struct cl_err *err)
{
    if (part->pend_len + len > part->pend_cap) {
        size_t ncap = part->pend_cap ? part->pend_cap : 64 * 1024;
        while (ncap < part->pend_len + len) {
            ncap *= 2;
        }
        uint8_t *p = cl_io_realloc(part->pend, ncap);
        if (p == NULL) {
            return cl_errf(err, CRAWLLOG_ENOMEM, "out of memory");
        }
        part->pend = p;
        part->pend_cap = ncap;
    }
    memcpy(part->pend + part->pend_len, buf, len);
    part->pend_len += len;
    part->pend_n += nbatches;
    return 0;
}

/* An idempotent batch (req != NULL) is checked against the producer
 * state under the lock: a duplicate writes nothing (see idem.c). */
static int write_idem_locked(struct cl_partition *part, uint8_t *buf,
                             size_t len, struct cl_idem_req *req,
                             int64_t *basep, struct cl_err *err)
{
    int rc = cl_idem_catch_up(&part->idem, part->segs, part->nseg,
                              part->reldir, err);
    if (rc == 0) {
        rc = cl_idem_check(&part->idem, req, part->reldir, err);
    }
    if (rc != 0) {
        return rc;
    }
    if (req->dup) {
        /* The original may not be durable yet (its writer died before its
         * fdatasync): make the next sync of this handle run. */
        *basep = req->dup_offset;
        part->write_gen++;
        return 0;
    }
    if (cl_get_i32(buf + CL_BATCH_OFF_BASE_SEQUENCE) != req->seq_out) {
        cl_record_batch_set_sequence(buf, len, req->seq_out);
    }
    size_t done;
    return write_batches_locked(part, buf, len, basep, &done, err);
}

/* Write now (sync WRITTEN or DURABLE), after any buffered batches. */
static int append_now(struct cl_partition *part, uint8_t *buf, size_t len,
                      int sync, struct cl_idem_req *req, int64_t *basep,
                      struct cl_err *err)
{
    size_t done;
    *basep = -1;
    int rc = cl_partition_lock(part, err);
    if (rc != 0) {
        return rc;
    }
    if (part->redirect && cl_pstate_migration(&part->ps) != 0) {
        return part->redirect(part, buf, len, req, sync, basep, err);
    }
    if ((rc = check_failed(part, err)) == 0 &&
        (rc = cl_partition_sync_locked(part, err)) == 0 &&
        (rc = write_pending_locked(part, err)) == 0) {
        rc = req != NULL ? write_idem_locked(part, buf, len, req, basep, err)
                         : write_batches_locked(part, buf, len, basep, &done,
                                                err);
    }
    cl_partition_unlock(part);
    if (rc == 0 && sync == CRAWLLOG_SYNC_DURABLE) {
        rc = sync_partition(part, NULL, err);
    }
    if (rc != 0) {
        *basep = -1;
    }
    return rc;
}

int cl_partition_append(struct cl_partition *part, uint8_t *buf, size_t len,
                        size_t nbatches, int sync, int64_t *basep,
                        struct cl_err *err)
{
    int rc;
    *basep = -1;
    if (sync == CRAWLLOG_SYNC_NONE) {
        pthread_mutex_lock(&part->lock);
        rc = check_failed(part, err);
        if (rc == 0) {
            rc = buffer_batches(part, buf, len, nbatches, err);
        }
        int full = part->pend_len >= (size_t)part->conf.buffer_bytes;
        pthread_mutex_unlock(&part->lock);
        return rc == 0 && full ? cl_partition_flush(part, sync, err) : rc;
    }
    return append_now(part, buf, len, sync, NULL, basep, err);
}

int cl_partition_append_idem(struct cl_partition *part, uint8_t *buf,
                             size_t len, int sync, struct cl_idem_req *req,
                             int64_t *basep, struct cl_err *err)
{
    return append_now(part, buf, len, sync, req, basep, err);
}

int cl_partition_idem_next(struct cl_partition *part, int64_t pid,
                           int32_t *seqp, struct cl_err *err)
{
    int rc = cl_partition_lock(part, err);
    if (rc != 0) {
        return rc;
    }
    if ((rc = cl_partition_sync_locked(part, err)) == 0 &&
        (rc = cl_idem_catch_up(&part->idem, part->segs, part->nseg,
                               part->reldir, err)) == 0) {
        *seqp = cl_idem_next_seq(&part->idem, pid);
    }
    cl_partition_unlock(part);
    return rc;
}

int cl_partition_unsynced(struct cl_partition *part)
{
    pthread_mutex_lock(&part->lock);
    int r = part->pend_len != 0 || part->write_gen != part->synced_gen;
    pthread_mutex_unlock(&part->lock);
    return r;
}

int cl_partition_flush(struct cl_partition *part, int sync,
                       struct cl_err *err)
{
    pthread_mutex_lock(&part->lock);
    int idle = part->pend_len == 0 &&
               (sync != CRAWLLOG_SYNC_DURABLE ||
                part->write_gen == part->synced_gen);
    pthread_mutex_unlock(&part->lock);
    if (idle) {
        return 0; /* nothing of ours to write or sync */
    }
    int64_t base;
    int rc = cl_partition_lock(part, err);
    if (rc != 0) {
        return rc;
    }
    if (part->redirect && cl_pstate_migration(&part->ps) != 0) {
        return part->redirect(part, NULL, 0, NULL, sync, &base, err);
    }
    if ((rc = check_failed(part, err)) == 0 &&
        (rc = cl_partition_sync_locked(part, err)) == 0) {
        rc = write_pending_locked(part, err);
    }
    cl_partition_unlock(part);
    if (rc == 0 && sync == CRAWLLOG_SYNC_DURABLE) {
        rc = sync_partition(part, NULL, err);
    }
    return rc;
}

int cl_partition_roll_if_old(struct cl_partition *part, int64_t now_ms,
                             struct cl_err *err)
{
    int rc = cl_partition_lock(part, err);
    if (rc != 0) {
        return rc;
    }
    if ((rc = check_failed(part, err)) == 0 &&
        (rc = cl_partition_sync_locked(part, err)) == 0) {
        struct cl_segment *a = active(part);
        if (a->size > CL_SEG_HEADER_SIZE &&
            now_ms - a->created_ms >= part->conf.segment_ms) {
            rc = roll_locked(part, now_ms, err);
        }
    }
    cl_partition_unlock(part);
    return rc;
}

/* ---- offsets and positions -------------------------------------------- */

struct cl_watch *cl_partition_watch(struct cl_partition *part)
{
    return &part->ps.shm->watch;
}

int cl_partition_offsets(struct cl_partition *part, int64_t *startp,
                         int64_t *endp, struct cl_err *err)
{
    (void)err;
    struct cl_pstate_shm *s = part->ps.shm;
    if (endp) {
        *endp = atomic_load_explicit(&s->next_offset, memory_order_acquire);
    }
    if (startp) {
        *startp = atomic_load_explicit(&s->log_start, memory_order_acquire);
    }
    return 0;
}

