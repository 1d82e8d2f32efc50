/*
 * txn_recover.c - finishing transactions: markers, transactional offset
 * commits, and the recovery of transactions whose producer died, hung or
 * was replaced (layer 3; the producer side is txn.c).
 *
 * On disk it owns transactions/~live.<id> and transactions/~lock.<id>
 * (empty lock files, created on first use, never removed) and changes
 * transactions/<id> (txn_file.c, FORMAT section 11) only under the
 * state lock.  It appends control batches (markers, control.c) to
 * partitions and offsets records to groups/<g>/offsets (group_admin.c).
 *
 * Invariants:
 *  - A transaction is finished the same way by whoever finishes it:
 *    ONGOING / PREPARE_ABORT -> ABORT markers, PREPARE_COMMIT -> COMMIT
 *    markers and the staged offsets; the markers are durable before the
 *    COMPLETE_* state is written, so a complete state never hides a
 *    partition whose marker could be lost.  Finishing again (a crash
 *    before COMPLETE_* was written) writes a second marker where one
 *    exists: harmless, a marker only decides the data of its producer id
 *    BEFORE it (reader.c), and none follows the first.  Offsets are
 *    re-applied never backwards.
 *  - A recoverer that is not an instance of the id finishes a transaction
 *    only when no instance is alive (it got ~live.<id> exclusively) or
 *    after fencing the live one (its timeout passed: a new instance of
 *    the producer id is registered, prodid.c, so the owner's appends and
 *    state changes fail with CRAWLLOG_EFENCED from then on).
 *
 * Locks: ~live.<id> (flock; exclusive by recoverers, shared by
 * instances) is taken before ~lock.<id> (flock, exclusive), never the
 * other way round.  Partition and group locks are taken inside (by the
 * appends and the offsets commit), never the reverse.  No callback runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "backend.h"
#include "control.h"
#include "group.h"
#include "io.h"
#include "log.h"
#include "offsets.h"
#include "partition.h"
#include "prodid.h"
#include "txn.h"
#include "txn_file.h"

int cl_txn_lockfile_open(int dfd, const char *prefix, const char *id,
                         unsigned fmode, int *fdp, struct cl_err *err)
{
    char name[CL_TXN_NAME_MAX + 16];
    snprintf(name, sizeof(name), "%s%s", prefix, id);
    int fd = cl_io_openat("txn.lockfile.open", dfd, name,
                          O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
                          (mode_t)fmode);
    if (fd < 0) {
        char rel[CL_TXN_NAME_MAX + 32];
        snprintf(rel, sizeof(rel), CL_TXN_DIR "/%s", name);
        return cl_err_sys(err, -fd, rel, "open");
    }
    *fdp = fd;
    return 0;
}

/* ---- markers ------------------------------------------------------------ */

struct marker_arg {
    int64_t pid;
    int16_t epoch;
    int type;
};

static int marker_op(struct cl_partition *part, void *arg, struct cl_err *err)
{
    struct marker_arg *a = arg;
    unsigned char *buf = NULL;
    size_t len = 0;
    int64_t base = -1;
    int rc = cl_control_encode(0, a->pid, a->epoch, a->type, 0,
                               cl_io_now_ms(), &buf, &len, err);
    if (rc == 0) {
        rc = cl_partition_append(part, buf, len, 1, CRAWLLOG_SYNC_WRITTEN,
                                 &base, err);
    }
    cl_io_free(buf);
    return rc;
}

int cl_txn_write_markers(crawllog_t *log, const struct cl_txn_state *st,
                         int type, struct cl_err *err)
{
    struct marker_arg a = {st->producer_id, st->epoch, type};
    struct cl_partition **parts = NULL;
    size_t n = 0;
    int rc = 0;
    if (st->nparts == 0) {
        return 0;
    }
    parts = cl_io_calloc(st->nparts, sizeof(*parts));
    if (parts == NULL) {
        return cl_errf(err, CRAWLLOG_ENOMEM, "out of memory");
    }
    for (size_t i = 0; rc == 0 && i < st->nparts; i++) {
        const struct cl_txn_part *p = &st->parts[i];
        rc = cl_log_with_partition(log, p->topic, p->partition, marker_op,
                                   &a, err);
        if (rc == CRAWLLOG_ENOTOPIC) {
            err->msg[0] = '\0'; /* deleted meanwhile: nothing to mark */
            rc = 0;
            continue;
        }
        if (rc == 0) {
            rc = cl_log_partition(log, p->topic, p->partition, &parts[n],
                                  err);
            n += rc == 0;
        }
    }
    if (rc == 0) {
        rc = cl_log_flush_parts(log, parts, n, CRAWLLOG_SYNC_DURABLE, err);
    }
    cl_io_free(parts);
    return rc;
}

/* ---- offsets ------------------------------------------------------------ */

int cl_txn_apply_offsets(crawllog_t *log, const struct cl_txn_state *st,
                         int never_back, struct cl_err *err)
{
    if (st->group[0] == '\0' || st->noffsets == 0) {
        return 0;
    }
    struct cl_offset_entry *e = cl_io_calloc(st->noffsets, sizeof(*e));
    if (e == NULL) {
        return cl_errf(err, CRAWLLOG_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < st->noffsets; i++) {
        e[i].topic = st->offsets[i].topic;
        e[i].partition = st->offsets[i].partition;
        e[i].offset = st->offsets[i].offset;
        e[i].metadata = st->offsets[i].metadata;
        /* Past markers: an exactly-once stage reading a transactional
         * topic stages the offset of the marker that ended its input. */
        struct cl_partition *part = NULL;
        struct cl_err scratch = {{0}};
        if (cl_log_partition(log, e[i].topic, e[i].partition, &part,
                             &scratch) == 0) {
            (void)cl_partition_skip_markers(part, e[i].offset, &e[i].offset,
                                            &scratch);
        }
    }
    int rc = cl_group_txn_commit(log, st->group, e, st->noffsets, never_back,
                                 err);
    cl_io_free(e);
    return rc;
}

/* ---- finishing ---------------------------------------------------------- */

static int is_open(enum cl_txn_status s)
{
    return s == CL_TXN_ONGOING || s == CL_TXN_PREPARE_COMMIT ||
           s == CL_TXN_PREPARE_ABORT;
}

/* Drop the offsets of a finished state; its partitions stay listed (the
 * producer's next transaction names them again: txn.c). */
static void clear_txn(struct cl_txn_state *st)
{
    for (size_t i = 0; i < st->noffsets; i++) {
        cl_io_free(st->offsets[i].metadata);
    }
    st->noffsets = 0;
    st->group[0] = st->member[0] = '\0';
    st->generation = -1;
    st->start_ms = -1;
}

int cl_txn_finish(crawllog_t *log, const char *id, struct cl_txn_state *st,
                  int *didp, struct cl_err *err)
{
    *didp = 0;
    if (!is_open(st->status)) {
        return 0;
    }
    *didp = 1;
    int commit = st->status == CL_TXN_PREPARE_COMMIT;
    int rc = cl_txn_write_markers(
        log, st, commit ? CL_CONTROL_COMMIT : CL_CONTROL_ABORT, err);
    if (rc == 0 && commit) {
        rc = cl_txn_apply_offsets(log, st, 1, err);
    }
    if (rc == 0) {
        st->status = commit ? CL_TXN_COMPLETE_COMMIT : CL_TXN_COMPLETE_ABORT;
        clear_txn(st);
        /* Not synced: the markers and offsets are durable already; if
         * this is lost, finishing again repeats them harmlessly. */
        rc = cl_txn_file_write(log->rootfd, id, st, 0, log->fmode,
                               log->dmode, err);
    }
    return rc;
}

/* ---- recovery by other processes ---------------------------------------- */

/* Fence every instance of id: register a new one and let it go. */
static int fence(crawllog_t *log, const char *id, struct cl_err *err)
{
    struct cl_prodid pid;
    int rc = cl_prodid_acquire(&pid, log->rootfd, id, log->dmode, log->fmode,
                               err);
    if (rc == 0) {
        cl_prodid_release(&pid);
    }
    return rc;
}

/* 1 if st stages an offset for group/topic/partition (topic NULL: any). */
static int stages(const struct cl_txn_state *st, const char *group,
                  const char *topic, int32_t partition)
{
    if (group == NULL || strcmp(st->group, group) != 0) {
        return 0;
    }
    for (size_t i = 0; topic != NULL && i < st->noffsets; i++) {
        if (st->offsets[i].partition == partition &&
            strcmp(st->offsets[i].topic, topic) == 0) {
            return 1;
        }
    }
    return topic == NULL;
}

/* Read id's state holding its state lock shared: a writer holds it
 * exclusively while it rewrites a slot in place, so the state read is
 * never one being written.  *st is initialised here. */
static int read_shared(crawllog_t *log, int dfd, const char *id,
                       struct cl_txn_state *st, struct cl_err *err)
{
    int fd = -1;
    cl_txn_state_init(st);
    int rc = cl_txn_lockfile_open(dfd, CL_TXN_LOCK_PREFIX, id, log->fmode,
                                  &fd, err);
    if (rc == 0 && (rc = cl_io_lock("txn.state.lock", fd, 0, 1)) != 0) {
        rc = cl_err_sys(err, -rc, CL_TXN_DIR, "lock ~lock");
    }
    if (rc == 0) {
        cl_txn_state_free(st);
        rc = cl_txn_file_read(log->rootfd, id, st, err);
    }
    if (fd >= 0) {
        cl_io_close(fd); /* drops the flock */
    }
    return rc;
}

/* What to do with one transactional.id (see recover_one). */
enum { ONLY_STALE, DECIDED_OR_STALE };

/* Finish id's transaction if it is open and (mode) its owner is dead or
 * timed out, or (DECIDED_OR_STALE) its commit or abort was decided.
 * *pendingp = 1 if it stays open with a live owner. */
static int recover_one(crawllog_t *log, int dfd, const char *id, int mode,
                       int *pendingp, int *finishedp, struct cl_err *err)
{
    struct cl_txn_state st;
    int live = -1, lock = -1, did = 0;
    *pendingp = 0;
    int rc = read_shared(log, dfd, id, &st, err);
    if (rc == CRAWLLOG_ENOENT) {
        err->msg[0] = '\0';
        cl_txn_state_free(&st);
        return 0; /* removed meanwhile */
    }
    if (rc != 0 || !is_open(st.status)) {
        cl_txn_state_free(&st);
        return rc;
    }
    int decided = st.status != CL_TXN_ONGOING;
    rc = cl_txn_lockfile_open(dfd, CL_TXN_LIVE_PREFIX, id, log->fmode, &live,
                              err);
    if (rc == 0) {
        rc = cl_io_lock("txn.live.lock", live, 1, 0);
        if (rc == -EWOULDBLOCK || rc == -EAGAIN) {
            /* An instance is alive. */
            int64_t age = cl_io_now_ms() - st.start_ms;
            rc = 0;
            if (st.start_ms >= 0 && age > st.timeout_ms) {
                rc = fence(log, id, err); /* timed out: abort it */
            } else if (!(mode == DECIDED_OR_STALE && decided)) {
                *pendingp = 1;
                goto out;
            }
        } else if (rc != 0) {
            rc = cl_err_sys(err, -rc, CL_TXN_DIR, "lock ~live");
            goto out;
        }
    }
    if (rc == 0) {
        rc = cl_txn_lockfile_open(dfd, CL_TXN_LOCK_PREFIX, id, log->fmode,
                                  &lock, err);
    }
    if (rc == 0 && (rc = cl_io_lock("txn.state.lock", lock, 1, 1)) != 0) {
        rc = cl_err_sys(err, -rc, CL_TXN_DIR, "lock ~lock");
    }
    if (rc == 0) {
        cl_txn_state_free(&st); /* read again under the lock */
        rc = cl_txn_file_read(log->rootfd, id, &st, err);
        if (rc == 0) {
            rc = cl_txn_finish(log, id, &st, &did, err);
        }
        if (rc == 0 && did && finishedp != NULL) {
            (*finishedp)++;
        }
    }
out:
    if (lock >= 0) {
        cl_io_close(lock); /* drops the flock */
    }
    if (live >= 0) {
        cl_io_close(live);
    }
    cl_txn_state_free(&st);
    return rc;
}

/* Run recover_one on every transactional.id that wants (filter). */
static int for_each(crawllog_t *log, int mode, const char *group,
                    const char *topic, int32_t partition, int *pendingp,
                    int *finishedp, struct cl_err *err)
{
    char **names = NULL;
    size_t count = 0;
    int first = 0, dfd = -1;
    int rc = cl_txn_file_list(log->rootfd, &names, &count, err);
    if (rc != 0 || count == 0) {
        cl_io_listdir_free(names, count);
        return rc;
    }
    rc = cl_txn_dir_open(log->rootfd, log->dmode, &dfd, err);
    for (size_t i = 0; rc == 0 && i < count; i++) {
        struct cl_err e1;
        int pending = 0, r = 0;
        e1.msg[0] = '\0';
        if (group != NULL) {
            /* Only transactions staging offsets for the group. */
            struct cl_txn_state st;
            r = read_shared(log, dfd, names[i], &st, &e1);
            int want = r == 0 && is_open(st.status) &&
                       stages(&st, group, NULL, -1);
            int here = r == 0 && stages(&st, group, topic, partition);
            int decided = r == 0 && st.status != CL_TXN_ONGOING;
            cl_txn_state_free(&st);
            if (r == CRAWLLOG_ENOENT) {
                r = 0;
            }
            if (r != 0 || !want || (!here && !decided)) {
                if (r != 0 && first == 0) {
                    first = r;
                    *err = e1;
                }
                continue;
            }
        }
        r = recover_one(log, dfd, names[i], mode, &pending, finishedp, &e1);
        if (pending && pendingp != NULL) {
            *pendingp = 1;
        }
        if (r != 0 && first == 0) {
            first = r;
            *err = e1;
        }
    }
    if (dfd >= 0) {
        cl_io_close(dfd);
    }
    cl_io_listdir_free(names, count);
    return rc != 0 ? rc : first;
}

int cl_txn_recover_stale(crawllog_t *log, int *finishedp, struct cl_err *err)
{
    int finished = 0;
    int rc = for_each(log, ONLY_STALE, NULL, NULL, -1, NULL, &finished, err);
    if (finishedp != NULL) {
        *finishedp = finished;
    }
    return rc;
}

int cl_txn_stabilize(crawllog_t *log, const char *group, const char *topic,
                     int32_t partition, int *pendingp, struct cl_err *err)
{
    *pendingp = 0;
    return for_each(log, DECIDED_OR_STALE, group, topic, partition,
                    pendingp, NULL, err);
}

int crawllog_txn_recover(crawllog_t *log, int *finishedp)
{
    CL_BACKEND(log, txn_recover, log, finishedp);
    struct cl_err err = {""};
    if (finishedp != NULL) {
        *finishedp = 0;
    }
    if (log == NULL) {
        return CRAWLLOG_EINVAL;
    }
    int rc = cl_txn_recover_stale(log, finishedp, &err);
    return rc != 0 ? cl_log_fail(log, rc, &err) : 0;
}
