/*
 * consumer_commit.c - a consumer's commits, start positions, seeks,
 * pause/resume and introspection.
 *
 * On disk: nothing of its own; commits go to groups/<g>/offsets through
 * offsets.c, and one point per committed partition (offset, time, log end
 * then) to the lag history groups/<g>/lag.history through lagstore.c.
 *
 * Invariants: a commit is one offsets record (all of a call's offsets, or
 * none, become visible - even after a crash); it is appended only while
 * the group lock is held and only after cl_group_check_owner_locked said
 * this member owns every partition in it, so a member that lost a
 * partition (expelled, fenced, moved) can never move its offset
 * (CRAWLLOG_EGENERATION).  The committed offset is the next offset to read.
 * A new owner starts at the committed offset, read after it took the
 * partition - after the previous owner's last commit, which happened
 * before it released the partition.  The lag history gets a commit's
 * points under the same lock hold, right after the append succeeded (so
 * its writers are serialised by the group lock, as lagstore.c requires);
 * it is monitoring only: nothing fails for it, and a partition whose log
 * end cannot be read gets no point.  Before a partition starts from the
 * group's committed offset, cl_txn_stabilize completes the decided
 * transactions that staged offsets for the group; while an undecided one
 * staged an offset for the partition, it stays unstarted (no reader,
 * position -1: commit(NULL) and the revoke's auto-commit skip it; a seek
 * starts it).  Its reader gets the consumer's isolation.level.
 *
 * Locks: the group lock, for the check and the append only; the fdatasync
 * of a durable commit runs after it is released.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "backend.h"
#include "conf.h"
#include "consumer.h"
#include "io.h"
#include "log.h"
#include "names.h"
#include "partition.h"
#include "txn.h"

/* After an I/O failure (a failed write or fsync leaves offsets.c's handle
 * refusing work: CRAWLLOG_ECLOSED) the offsets handle is dropped; the next
 * commit reopens it, re-reading what is really on disk. */
static int closed_check(crawllog_consumer_t *c, int rc)
{
    if (rc == CRAWLLOG_ECLOSED || rc == CRAWLLOG_EIO ||
        rc == CRAWLLOG_ENOSPC) {
        cl_offsets_close(c->offsets);
        c->offsets = NULL;
        c->unsynced_token = 0;
    }
    return rc;
}

int cl_cons_sync_commits(crawllog_consumer_t *c, struct cl_err *err)
{
    if (c->offsets == NULL || c->unsynced_token == 0) {
        return 0;
    }
    int rc = cl_offsets_sync(c->offsets, c->unsynced_token, err);
    if (rc == 0) {
        c->unsynced_token = 0;
    }
    return closed_check(c, rc);
}

static void note_committed(crawllog_consumer_t *c,
                           const struct cl_offset_entry *e, size_t n);

/* Under the group lock: does this member still own every partition of e?
 * (0 or CRAWLLOG_EGENERATION.) */
static int check_owned(crawllog_consumer_t *c, const struct cl_offset_entry *e,
                       size_t n, struct cl_err *err)
{
    crawllog_topic_partition_t *list = cl_io_calloc(n + 1, sizeof(*list));
    if (list == NULL) {
        return cl_errf(err, CRAWLLOG_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        list[i].topic = e[i].topic;
        list[i].partition = e[i].partition;
    }
    int rc = cl_group_lock(&c->group, err);
    if (rc == 0) {
        rc = cl_group_check_owner_locked(&c->group, list, n, err);
        cl_group_unlock(&c->group);
    }
    cl_io_free(list);
    return rc;
}

/* Before taking the group lock: the partition of each entry, for its log
 * end (NULL where unknown; the whole array NULL when there is no lag
 * history or no memory).  The consumer's own reader's partition when it
 * has one, else the log's (opened on first use, outside the lock). */
static struct cl_partition **lag_parts(crawllog_consumer_t *c,
                                       const struct cl_offset_entry *e,
                                       size_t n)
{
    if (c->lag == NULL) {
        return NULL;
    }
    struct cl_partition **parts = cl_io_calloc(n + 1, sizeof(*parts));
    for (size_t i = 0; parts != NULL && i < n; i++) {
        struct cl_cpart *cp = cl_cons_find(c, e[i].topic, e[i].partition);
        if (cp != NULL && cp->rd != NULL) {
            parts[i] = cl_reader_partition(cp->rd);
        } else if (e[i].offset >= 0) {
            struct cl_err scratch = {{0}};
            if (cl_log_partition(c->log, e[i].topic, e[i].partition,
                                 &parts[i], &scratch) != 0) {
                parts[i] = NULL;
            }
        }
    }
    return parts;
}

/* Under the group lock, after a successful append: one lag-history point
 * per entry, with the partition's log end now (an atomic load). */
static void lag_record(crawllog_consumer_t *c,
                       const struct cl_offset_entry *e, size_t n,
                       struct cl_partition *const *parts)
{
    int64_t now = cl_io_now_ms();
    for (size_t i = 0; i < n; i++) {
        struct cl_err scratch = {{0}};
        int64_t end = -1;
        if (parts[i] == NULL || e[i].offset < 0 ||
            cl_partition_offsets(parts[i], NULL, &end, &scratch) != 0 ||
            end < 0) {
            continue;
        }
        cl_lagstore_record(c->lag, e[i].topic, e[i].partition, e[i].offset,
                           now, end);
    }
}

/* A copy of e with each offset moved past the transaction markers that
 * start at it (cl_partition_skip_markers: no lag of 1 behind a marker that
 * ends a partition), or NULL without memory.  Best effort: an offset that
 * cannot be judged is committed as given, which is always correct. */
static struct cl_offset_entry *past_markers(crawllog_consumer_t *c,
                                            const struct cl_offset_entry *e,
                                            size_t n)
{
    struct cl_offset_entry *x = cl_io_malloc((n + 1) * sizeof(*x));
    for (size_t i = 0; x != NULL && i < n; i++) {
        struct cl_partition *part = NULL;
        struct cl_err scratch = {{0}};
        x[i] = e[i];
        if (e[i].offset >= 0 &&
            cl_log_partition(c->log, e[i].topic, e[i].partition, &part,
                             &scratch) == 0) {
            (void)cl_partition_skip_markers(part, e[i].offset, &x[i].offset,
                                            &scratch);
        }
    }
    return x;
}

int cl_cons_commit(crawllog_consumer_t *c, const struct cl_offset_entry *e0,
                   size_t n, int sync, struct cl_err *err)
{
    uint64_t token = 0;
    if (sync != CRAWLLOG_SYNC_WRITTEN && sync != CRAWLLOG_SYNC_DURABLE) {
        return cl_errf(err, CRAWLLOG_EINVAL,
                       "sync must be CRAWLLOG_SYNC_WRITTEN or _DURABLE");
    }
    int rc = cl_cons_group(c, err);
    if (rc != 0) {
        return rc;
    }
    if (c->mode == CL_CONS_SUBSCRIBED && c->group.slot < 0) {
        return cl_errf(err, CRAWLLOG_EGENERATION,
                       "%s: this consumer is not a member right now; poll "
                       "to rejoin",
                       c->group.reldir);
    }
    struct cl_offset_entry *moved = past_markers(c, e0, n);
    const struct cl_offset_entry *e = moved != NULL ? moved : e0;
    crawllog_topic_partition_t *list = cl_io_calloc(n + 1, sizeof(*list));
    if (list == NULL) {
        cl_io_free(moved);
        return cl_errf(err, CRAWLLOG_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        list[i].topic = e[i].topic;
        list[i].partition = e[i].partition;
    }
    struct cl_partition **parts = lag_parts(c, e, n);
    rc = cl_group_lock(&c->group, err);
    if (rc == 0) {
        rc = cl_group_check_owner_locked(&c->group, list, n, err);
        if (rc == 0) {
            rc = cl_offsets_append(c->offsets, e, n, c->group.generation,
                                   c->group.slot, &token, err);
        }
        if (rc == 0 && parts != NULL) {
            lag_record(c, e, n, parts);
        }
        cl_group_unlock(&c->group);
    }
    cl_io_free(parts);
    cl_io_free(list);
    if (rc != 0) {
        cl_io_free(moved);
        return closed_check(c, rc);
    }
    /* Visible to every reader from here on, synced or not. */
    note_committed(c, e, n);
    cl_io_free(moved);
    if (sync == CRAWLLOG_SYNC_DURABLE) {
        rc = cl_offsets_sync(c->offsets, token, err);
        if (rc == 0) {
            c->unsynced_token = 0; /* the sync covered earlier records */
        }
        return closed_check(c, rc);
    }
    c->unsynced_token = token;
    return 0;
}

/* After a successful commit: what this consumer now knows is committed. */
static void note_committed(crawllog_consumer_t *c,
                           const struct cl_offset_entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct cl_cpart *cp = cl_cons_find(c, e[i].topic, e[i].partition);
        if (cp != NULL) {
            cp->committed = e[i].offset;
            cp->skipped_committed = 0;
        }
    }
}

int cl_cons_commit_positions(crawllog_consumer_t *c,
                             const struct cl_gtp *only, size_t nonly,
                             int sync, struct cl_err *err)
{
    struct cl_offset_entry *e = cl_io_calloc(c->nparts + 1, sizeof(*e));
    size_t n = 0;
    if (e == NULL) {
        return cl_errf(err, CRAWLLOG_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < c->nparts; i++) {
        const struct cl_cpart *cp = &c->parts[i];
        int wanted = only == NULL;
        for (size_t k = 0; !wanted && k < nonly; k++) {
            wanted = only[k].partition == cp->partition &&
                     strcmp(only[k].topic, cp->topic) == 0;
        }
        /* Unchanged since our last commit: nothing to write (a caught-up
         * consumer committing after every poll costs nothing). */
        if (wanted && cp->position >= 0 && cp->position != cp->committed) {
            e[n].topic = cp->topic;
            e[n].partition = cp->partition;
            e[n].offset = cp->position;
            n++;
        }
    }
    int rc = 0;
    if (n > 0) {
        rc = cl_cons_commit(c, e, n, sync, err);
    } else if (c->mode == CL_CONS_SUBSCRIBED && c->nparts > 0) {
        /* Nothing new to write, but a member that lost its partitions
         * must still hear it (Kafka's commitSync fails the same way). */
        for (size_t i = 0; i < c->nparts; i++) {
            e[i].topic = c->parts[i].topic;
            e[i].partition = c->parts[i].partition;
        }
        rc = check_owned(c, e, c->nparts, err);
    }
    cl_io_free(e);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Start positions                                                         */
/* ---------------------------------------------------------------------- */

int cl_cons_start(crawllog_consumer_t *c, struct cl_cpart *cp,
                  struct cl_err *err)
{
    crawllog_reader_t *rd = NULL;
    int64_t ls = 0, le = 0, pos = -1;
    int rc;
    if (cp->start == CRAWLLOG_OFFSET_COMMITTED && c->group_id[0] != '\0') {
        /* A transaction that staged an offset for this partition and was
         * decided is completed first (its offset is then the committed
         * one); one still undecided makes the committed offset unstable:
         * not started now, the poll tries again later. */
        int pending = 0;
        rc = cl_txn_stabilize(c->log, c->group_id, cp->topic, cp->partition,
                              &pending, err);
        if (rc != 0) {
            return rc;
        }
        cp->pending = pending;
        if (pending) {
            return 0;
        }
    }
    cp->pending = 0;
    rc = crawllog_reader_new(&rd, c->log, cp->topic, cp->partition);
    if (rc != 0) {
        return cl_errf(err, rc, "%s/%d: %s", cp->topic, (int)cp->partition,
                       crawllog_errmsg(c->log));
    }
    rc = crawllog_reader_set_isolation(
        rd, (int)cl_conf_int(c->conf, CL_CONF_ISOLATION_LEVEL));
    if (rc != 0) {
        crawllog_reader_destroy(rd);
        return cl_errf(err, rc, "%s/%d: isolation.level: %s", cp->topic,
                       (int)cp->partition, crawllog_strerror(rc));
    }
    for (int attempt = 0; attempt < 3; attempt++) {
        const char *why = "no committed offset";
        cl_partition_offsets(cl_reader_partition(rd), &ls, &le, err);
        if (cp->start >= 0) {
            pos = cp->start;
            why = "the offset asked for is outside the log";
        } else if (cp->start == CRAWLLOG_OFFSET_BEGINNING) {
            pos = ls;
        } else if (cp->start == CRAWLLOG_OFFSET_END) {
            pos = le;
        } else if (cp->start == CRAWLLOG_OFFSET_COMMITTED &&
                   c->group_id[0] != '\0' &&
                   (rc = cl_cons_group(c, err)) == 0 &&
                   (rc = cl_offsets_refresh(c->offsets, err)) == 0) {
            struct cl_offset_entry ce;
            if (cl_offsets_get(c->offsets, cp->topic, cp->partition, &ce)) {
                pos = ce.offset;
                if (cl_cons_dlq_parse(ce.metadata, NULL)) {
                    /* A dead-lettering cut short: finish it first. */
                    struct cl_offset_entry copy = ce;
                    char *meta = cl_io_strdup(ce.metadata);
                    copy.metadata = meta;
                    rc = meta ? cl_cons_dlq_recover(c, cp->topic,
                                                    cp->partition, &copy,
                                                    &pos, err)
                              : cl_errf(err, CRAWLLOG_ENOMEM,
                                        "out of memory");
                    cl_io_free(meta);
                    if (rc != 0) {
                        break;
                    }
                }
                cp->committed = pos;
                why = "the committed offset is outside the log";
            }
        } else if (cp->start == CL_START_RESET) {
            why = "the position was deleted by retention";
        }
        if (rc != 0) {
            break;
        }
        if (pos < ls || pos > le) {
            if (c->reset == CL_CONF_RESET_ERROR) {
                rc = cl_errf(err, CRAWLLOG_EOFFSET,
                             "%s/%d: %s (log %" PRId64 " .. %" PRId64
                             ") and auto.offset.reset=error",
                             cp->topic, (int)cp->partition, why, ls, le);
                break;
            }
            pos = c->reset == CL_CONF_RESET_EARLIEST ? ls : le;
        }
        rc = crawllog_reader_seek(rd, pos);
        if (rc != CRAWLLOG_EOFFSET) {
            break; /* else retention moved the start meanwhile: again */
        }
    }
    if (rc != 0) {
        crawllog_reader_destroy(rd);
        return rc;
    }
    cp->rd = rd;
    cp->position = pos;
    cp->origin = pos;
    cp->blocked = cp->skipped_committed = 0;
    return 0;
}

/* Open cp's reader for a seek, which overrides the committed offset: a
 * partition whose committed offset is not stable yet (cp->pending) is
 * started at its log start instead, then moved by the caller. */
static int start_for_seek(crawllog_consumer_t *c, struct cl_cpart *cp,
                          struct cl_err *err)
{
    int rc = cp->rd == NULL ? cl_cons_start(c, cp, err) : 0;
    if (rc == 0 && cp->rd == NULL) {
        cp->start = CRAWLLOG_OFFSET_BEGINNING;
        rc = cl_cons_start(c, cp, err);
    }
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Public calls                                                            */
/* ---------------------------------------------------------------------- */

int crawllog_consumer_commit(crawllog_consumer_t *cons,
                             const crawllog_msg_t *msg, int sync)
{
    CL_BACKEND(cons, consumer_commit, cons, msg, sync);
    struct cl_err err = {{0}};
    if (cons == NULL) {
        return CRAWLLOG_EINVAL;
    }
    int rc = cl_cons_check_state(cons, 0);
    if (rc != 0) {
        return rc;
    }
    if (msg == NULL) {
        /* Checked here too: with nothing new to commit, nothing below
         * would look at them. */
        if ((sync != CRAWLLOG_SYNC_WRITTEN && sync != CRAWLLOG_SYNC_DURABLE) ||
            cons->group_id[0] == '\0') {
            cl_errf(&err, CRAWLLOG_EINVAL, "commit needs a group.id and sync "
                    "CRAWLLOG_SYNC_WRITTEN or _DURABLE");
            return cl_cons_fail(cons, CRAWLLOG_EINVAL, &err);
        }
        rc = cl_cons_commit_positions(cons, NULL, 0, sync, &err);
        return rc ? cl_cons_fail(cons, rc, &err) : 0;
    }
    if ((rc = cl_cons_check_msg(cons, msg)) != 0) {
        return rc;
    }
    struct cl_offset_entry e = {msg->topic, msg->partition,
                                msg->rv.offset + 1, NULL, 0};
    rc = cl_cons_commit(cons, &e, 1, sync, &err);
    return rc ? cl_cons_fail(cons, rc, &err) : 0;
}

int crawllog_consumer_commit_offsets(crawllog_consumer_t *cons,
                                     const crawllog_topic_partition_t *list,
                                     size_t count, int sync)
{
    CL_BACKEND(cons, consumer_commit_offsets, cons, list, count, sync);
    struct cl_err err = {{0}};
    if (cons == NULL || (list == NULL && count > 0)) {
        return cons ? cl_cons_fail(cons, CRAWLLOG_EINVAL, NULL)
                    : CRAWLLOG_EINVAL;
    }
    int rc = cl_cons_check_state(cons, 0);
    if (rc != 0 || count == 0) {
        return rc;
    }
    struct cl_offset_entry *e = cl_io_calloc(count, sizeof(*e));
    if (e == NULL) {
        cl_errf(&err, CRAWLLOG_ENOMEM, "out of memory");
        return cl_cons_fail(cons, CRAWLLOG_ENOMEM, &err);
    }
    for (size_t i = 0; i < count && rc == 0; i++) {
        if (list[i].topic == NULL || !cl_names_topic_valid(list[i].topic) ||
            list[i].partition < 0 || list[i].offset < 0) {
            rc = cl_errf(&err, CRAWLLOG_EINVAL,
                         "list[%zu]: need a valid topic, partition >= 0 and "
                         "offset >= 0",
                         i);
        } else if (list[i].metadata != NULL &&
                   strlen(list[i].metadata) >= CL_OFFSETS_META_MAX) {
            rc = cl_errf(&err, CRAWLLOG_EINVAL,
                         "list[%zu]: metadata longer than %d bytes", i,
                         CL_OFFSETS_META_MAX - 1);
        }
        e[i].topic = list[i].topic;
        e[i].partition = list[i].partition;
        e[i].offset = list[i].offset;
        e[i].metadata = list[i].metadata;
    }
    if (rc == 0) {
        rc = cl_cons_commit(cons, e, count, sync, &err);
    }
    cl_io_free(e);
    return rc ? cl_cons_fail(cons, rc, &err) : 0;
}

int crawllog_consumer_committed(crawllog_consumer_t *cons, const char *topic,
                                int32_t partition, int64_t *offsetp)
{
    CL_BACKEND(cons, consumer_committed, cons, topic, partition, offsetp);
    struct cl_err err = {{0}};
    struct cl_offset_entry e;
    if (offsetp) {
        *offsetp = -1;
    }
    if (cons == NULL || topic == NULL || offsetp == NULL) {
        return cons ? cl_cons_fail(cons, CRAWLLOG_EINVAL, NULL)
                    : CRAWLLOG_EINVAL;
    }
    if (!cl_names_topic_valid(topic)) {
        cl_errf(&err, CRAWLLOG_EINVAL, "invalid topic name");
        return cl_cons_fail(cons, CRAWLLOG_EINVAL, &err);
    }
    int rc = cl_cons_group(cons, &err);
    if (rc == 0) {
        rc = cl_offsets_refresh(cons->offsets, &err);
    }
    if (rc != 0) {
        return cl_cons_fail(cons, rc, &err);
    }
    if (cl_offsets_get(cons->offsets, topic, partition, &e)) {
        *offsetp = e.offset;
    }
    return 0;
}

static struct cl_cpart *owned(crawllog_consumer_t *c, const char *topic,
                              int32_t partition)
{
    struct cl_cpart *cp = cl_cons_find(c, topic, partition);
    if (cp == NULL) {
        struct cl_err err = {{0}};
        cl_errf(&err, CRAWLLOG_ENOTOPIC, "%s/%d is not assigned to this "
                "consumer", topic ? topic : "(null)", (int)partition);
        cl_cons_fail(c, CRAWLLOG_ENOTOPIC, &err);
    }
    return cp;
}

int crawllog_consumer_seek(crawllog_consumer_t *cons, const char *topic,
                           int32_t partition, int64_t offset)
{
    CL_BACKEND(cons, consumer_seek, cons, topic, partition, offset);
    struct cl_err err = {{0}};
    if (cons == NULL) {
        return CRAWLLOG_EINVAL;
    }
    struct cl_cpart *cp = owned(cons, topic, partition);
    if (cp == NULL) {
        return CRAWLLOG_ENOTOPIC;
    }
    if (offset < 0 && offset != CRAWLLOG_OFFSET_BEGINNING &&
        offset != CRAWLLOG_OFFSET_END) {
        cl_errf(&err, CRAWLLOG_EINVAL, "bad offset %" PRId64, offset);
        return cl_cons_fail(cons, CRAWLLOG_EINVAL, &err);
    }
    if (cp->rd == NULL) {
        int rc = start_for_seek(cons, cp, &err);
        if (rc != 0) {
            return cl_cons_fail(cons, rc, &err);
        }
    }
    int64_t ls, le;
    cl_partition_offsets(cl_reader_partition(cp->rd), &ls, &le, &err);
    int64_t pos = offset == CRAWLLOG_OFFSET_BEGINNING ? ls
                  : offset == CRAWLLOG_OFFSET_END     ? le
                                                      : offset;
    int rc = crawllog_reader_seek(cp->rd, pos);
    if (rc != 0) {
        cl_errf(&err, rc, "%s", crawllog_reader_errmsg(cp->rd));
        return cl_cons_fail(cons, rc, &err);
    }
    cp->position = cp->origin = pos;
    cp->blocked = cp->skipped_committed = 0;
    return 0;
}

int crawllog_consumer_seek_to_time(crawllog_consumer_t *cons,
                                   const char *topic, int32_t partition,
                                   int64_t timestamp_ms)
{
    CL_BACKEND(cons, consumer_seek_to_time, cons, topic, partition,
               timestamp_ms);
    struct cl_err err = {{0}};
    if (cons == NULL) {
        return CRAWLLOG_EINVAL;
    }
    struct cl_cpart *cp = owned(cons, topic, partition);
    if (cp == NULL) {
        return CRAWLLOG_ENOTOPIC;
    }
    int rc = start_for_seek(cons, cp, &err);
    int64_t pos = -1;
    if (rc == 0 &&
        (rc = crawllog_reader_seek_time(cp->rd, timestamp_ms, &pos)) != 0) {
        cl_errf(&err, rc, "%s", crawllog_reader_errmsg(cp->rd));
    }
    if (rc != 0) {
        return cl_cons_fail(cons, rc, &err);
    }
    cp->position = cp->origin = pos;
    cp->blocked = cp->skipped_committed = 0;
    return 0;
}

int crawllog_consumer_position(crawllog_consumer_t *cons, const char *topic,
                               int32_t partition, int64_t *offsetp)
{
    CL_BACKEND(cons, consumer_position, cons, topic, partition, offsetp);
    if (offsetp) {
        *offsetp = -1;
    }
    if (cons == NULL || offsetp == NULL) {
        return cons ? cl_cons_fail(cons, CRAWLLOG_EINVAL, NULL)
                    : CRAWLLOG_EINVAL;
    }
    struct cl_cpart *cp = owned(cons, topic, partition);
    if (cp == NULL) {
        return CRAWLLOG_ENOTOPIC;
    }
    *offsetp = cp->position;
    return 0;
}

static int set_paused(crawllog_consumer_t *c,
                      const crawllog_topic_partition_t *parts, size_t n,
                      int paused)
{
    if (c == NULL || (parts == NULL && n > 0)) {
        return c ? cl_cons_fail(c, CRAWLLOG_EINVAL, NULL) : CRAWLLOG_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        if (owned(c, parts[i].topic, parts[i].partition) == NULL) {
            return CRAWLLOG_ENOTOPIC;
        }
    }
    for (size_t i = 0; i < n; i++) {
        cl_cons_find(c, parts[i].topic, parts[i].partition)->paused = paused;
    }
    return 0;
}

int crawllog_consumer_pause(crawllog_consumer_t *cons,
                            const crawllog_topic_partition_t *parts,
                            size_t count)
{
    CL_BACKEND(cons, consumer_pause, cons, parts, count);
    return set_paused(cons, parts, count, 1);
}

int crawllog_consumer_resume(crawllog_consumer_t *cons,
                             const crawllog_topic_partition_t *parts,
                             size_t count)
{
    CL_BACKEND(cons, consumer_resume, cons, parts, count);
    return set_paused(cons, parts, count, 0);
}

int crawllog_consumer_assignment(crawllog_consumer_t *cons,
                                 crawllog_topic_partition_t **listp,
                                 size_t *countp)
{
    CL_BACKEND(cons, consumer_assignment, cons, listp, countp);
    if (listp) {
        *listp = NULL;
    }
    if (countp) {
        *countp = 0;
    }
    if (cons == NULL || listp == NULL || countp == NULL) {
        return cons ? cl_cons_fail(cons, CRAWLLOG_EINVAL, NULL)
                    : CRAWLLOG_EINVAL;
    }
    size_t bytes = (cons->nparts + 1) * sizeof(crawllog_topic_partition_t);
    for (size_t i = 0; i < cons->nparts; i++) {
        bytes += strlen(cons->parts[i].topic) + 1;
    }
    /* One block (array, then the topic strings): the caller free()s it
     * (cl_io_malloc is malloc). */
    crawllog_topic_partition_t *list = cl_io_malloc(bytes);
    if (list == NULL) {
        return cl_cons_fail(cons, CRAWLLOG_ENOMEM, NULL);
    }
    char *str = (char *)(list + cons->nparts + 1);
    for (size_t i = 0; i < cons->nparts; i++) {
        size_t len = strlen(cons->parts[i].topic) + 1;
        memcpy(str, cons->parts[i].topic, len);
        list[i].topic = str;
        list[i].partition = cons->parts[i].partition;
        list[i].offset = cons->parts[i].position;
        list[i].metadata = NULL;
        str += len;
    }
    *listp = list;
    *countp = cons->nparts;
    return 0;
}

int32_t crawllog_consumer_generation(const crawllog_consumer_t *cons)
{
    CL_BACKEND(cons, consumer_generation, cons);
    if (cons == NULL || cons->mode != CL_CONS_SUBSCRIBED ||
        cons->group.slot < 0) {
        return -1;
    }
    return cons->group.generation;
}

const char *crawllog_consumer_member_id(const crawllog_consumer_t *cons)
{
    CL_BACKEND(cons, consumer_member_id, cons);
    if (cons == NULL || cons->mode != CL_CONS_SUBSCRIBED ||
        cons->group.slot < 0) {
        return "";
    }
    return cons->group.member_id;
}
