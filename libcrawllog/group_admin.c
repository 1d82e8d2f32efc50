/*
 * group_admin.c - consumer-group administration: crawllog_group_delete and
 * crawllog_group_set_offsets, Kafka's `kafka-consumer-groups --delete` and
 * `--reset-offsets`.  Both are refused while the group has a member.
 *
 * On disk: nothing of its own.  set_offsets appends one record to
 * groups/<g>/offsets (offsets.c, creating the group if needed) and empties
 * the lag windows of the partitions it changes in groups/<g>/lag.history
 * (lagstore.c); delete renames groups/<g> into trash/ and removes it there
 * (tree.c), as a topic is deleted.
 *
 * A member is what group.c says is present after a sweep: an active member
 * in any process (its OFD liveness lock held, polled within its
 * max.poll.interval.ms), or a static member away for less than its
 * session.timeout.ms.  The sweep first drops the others, as any member's
 * liveness check would (and rebalances if it changed something).
 *
 * Invariants:
 *  - The emptiness check and the change are made under one hold of the
 *    group lock.  A consumer joining meanwhile either got the lock first
 *    (then it is a member: CRAWLLOG_EBUSY, nothing changed) or gets it
 *    after the change: it then reads the new offsets, or finds the group
 *    deleted and creates a fresh one.
 *  - set_offsets is ONE offsets record (all entries or none become
 *    visible, even after a crash mid-write), validated before anything is
 *    opened or created, appended under the lock, fdatasync'd before
 *    return (with the directory, by offsets.c).  Everything that can fail
 *    (the lag history is opened before the append) fails before the
 *    append; after it, the windows of the changed partitions are emptied
 *    (no system call), so an operator's rewind is not taken for a
 *    consumer's REWIND.  A negative offset removes the committed offset.
 *  - delete: groups/<g> is renamed into trash/ and both directories are
 *    fsync'd (tree.c), so after a crash the group is either whole in
 *    groups/ or garbage in trash/ (removed at the next crawllog_open);
 *    then the tree is removed.  After the rename - whether or not a later
 *    step failed - the state is marked retired (cl_group_retire_locked).
 *  - Handles that still map the deleted group.state (a consumer that left
 *    or was expelled, a standalone committer, a describe, in any process)
 *    are never corrupted: the file is unlinked, never truncated, so their
 *    mapping stays valid memory (no SIGBUS) until they unmap it.  At their
 *    next lock they find it retired (or, for a non-member, no longer
 *    groups/<g>/group.state: this also catches a handle that opened the
 *    directory just before the rename and created a file in it after) and
 *    get CRAWLLOG_ENOENT (group.c).  A consumer (consumer.c) then drops
 *    its handles on the old files and reopens the group by name, which
 *    creates a fresh directory, and joins or commits there.  Commits and
 *    joins need the lock, so nothing lands in the deleted group.
 *
 * Locks: the group lock, for the check and the change (set_offsets'
 * fdatasync runs after it is released); no member can be waiting for it,
 * only joiners.  Inside it delete takes crawllog.lock around the move into
 * trash/ and the removal (trash/ is shared with topic deletion and the
 * clean-up at open, which crawllog.lock serializes): the group lock is
 * still taken after no other lock, and nothing takes a group lock while
 * holding crawllog.lock.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "backend.h"
#include "group.h"
#include "io.h"
#include "lagstore.h"
#include "log.h"
#include "migrate.h"
#include "names.h"
#include "offsets.h"
#include "tree.h"

/* Attempts when the group is deleted between our open and our lock. */
#define OPEN_TRIES 3

static int no_group(const char *group, struct cl_err *err)
{
    return cl_errf(err, CRAWLLOG_ENOENT, "%s/%s: no such group",
                   CL_GROUPS_DIR, group);
}

/* Record the failure as the log's message, naming the group if the
 * message does not already (those of tree.c and crawllog.lock do not). */
static int fail(crawllog_t *log, const char *group, int rc,
                const struct cl_err *err)
{
    char rel[CL_GROUP_NAME_SIZE + 16];
    struct cl_err named;
    snprintf(rel, sizeof(rel), "%s/%s", CL_GROUPS_DIR, group);
    if (strstr(err->msg, rel) != NULL) {
        return cl_log_fail(log, rc, err);
    }
    cl_errf(&named, rc, "group %s: %s", group,
            err->msg[0] ? err->msg : crawllog_strerror(rc));
    return cl_log_fail(log, rc, &named);
}

/* With the lock held: sweep the members that are gone (rebalancing if
 * that changed anything; *ringp = 1 then, ring after the unlock), then
 * CRAWLLOG_EBUSY if one is left. */
static int check_empty_locked(struct cl_group *g, const char *what,
                              int *ringp, struct cl_err *err)
{
    struct cl_group_shm *s = g->shm;
    int changed = 0, n = 0, first = -1;
    cl_group_sweep(g, cl_io_mono_ns(), &changed);
    if (changed) {
        struct cl_err scratch = {{0}};
        (void)cl_group_rebalance(g, &scratch); /* else the next check */
        *ringp = 1;
    }
    for (int i = 0; i < CL_GROUP_MAX_MEMBERS; i++) {
        int st = s->members[i].state;
        if (st == CL_GM_ACTIVE || st == CL_GM_AWAY) {
            first = first < 0 ? i : first;
            n++;
        }
    }
    if (n == 0) {
        return 0;
    }
    const struct cl_gmember *m = &s->members[first];
    return cl_errf(err, CRAWLLOG_EBUSY,
                   "%s: the group is not empty (%d member%s, e.g. %s, pid "
                   "%" PRId64 "%s): %s needs an inactive group",
                   g->reldir, n, n > 1 ? "s" : "", m->member_id, m->pid,
                   m->state == CL_GM_AWAY ? ", a static member away" : "",
                   what);
}

/* ---------------------------------------------------------------------- */
/* Set offsets                                                             */
/* ---------------------------------------------------------------------- */

/* Everything about the arguments, before anything is opened. */
static int check_list(const char *group, const crawllog_topic_partition_t *list,
                      size_t count, struct cl_err *err)
{
    if (group == NULL || !cl_names_topic_valid(group)) {
        return cl_errf(err, CRAWLLOG_EINVAL,
                       "group \"%.64s\": not a valid group name",
                       group ? group : "(null)");
    }
    if (list == NULL || count == 0) {
        return cl_errf(err, CRAWLLOG_EINVAL, "group %s: no offsets given",
                       group);
    }
    for (size_t i = 0; i < count; i++) {
        const crawllog_topic_partition_t *tp = &list[i];
        if (tp->topic == NULL || !cl_names_topic_valid(tp->topic)) {
            return cl_errf(err, CRAWLLOG_EINVAL,
                           "group %s: list[%zu]: \"%.64s\" is not a valid "
                           "topic name; nothing set",
                           group, i, tp->topic ? tp->topic : "(null)");
        }
        if (tp->partition < 0 || tp->partition >= CRAWLLOG_PARTITIONS_MAX) {
            return cl_errf(err, CRAWLLOG_EINVAL,
                           "group %s: list[%zu]: partition %" PRId32
                           " not in 0..%d; nothing set",
                           group, i, tp->partition,
                           CRAWLLOG_PARTITIONS_MAX - 1);
        }
        if (tp->offset >= 0 && tp->metadata != NULL &&
            strlen(tp->metadata) >= CL_OFFSETS_META_MAX) {
            return cl_errf(err, CRAWLLOG_EINVAL,
                           "group %s: list[%zu]: metadata longer than %d "
                           "bytes; nothing set",
                           group, i, CL_OFFSETS_META_MAX - 1);
        }
    }
    return 0;
}

/* With the lock held and the group empty: the lag history (if the group
 * has one) is opened first, so that nothing fails after the append. */
static int append_locked(struct cl_group *g, const struct cl_offset_entry *e,
                         size_t n, struct cl_offsets **op, uint64_t *tokenp,
                         struct cl_err *err)
{
    struct cl_lagstore *lag = NULL;
    unsigned fmode = g->log->fmode;
    int rc = cl_offsets_open(op, g->dirfd, g->reldir, fmode, err);
    if (rc == 0) {
        rc = cl_offsets_cleanup(*op, err);
    }
    if (rc == 0) {
        rc = cl_lagstore_open(&lag, g->dirfd, g->reldir, 0, fmode, err);
        if (rc == CRAWLLOG_ENOENT) {
            err->msg[0] = '\0'; /* no history: nothing to forget */
            rc = 0;
        }
    }
    if (rc == 0) {
        rc = cl_offsets_append(*op, e, n, atomic_load(&g->shm->generation),
                               -1, tokenp, err);
    }
    for (size_t i = 0; rc == 0 && lag != NULL && i < n; i++) {
        cl_lagstore_forget(lag, e[i].topic, e[i].partition);
    }
    cl_lagstore_close(lag);
    return rc;
}

/* Open (creating) the group, lock it, check it is empty, append, unlock,
 * sync. */
static int set_offsets(crawllog_t *log, const char *group,
                       const struct cl_offset_entry *e, size_t n,
                       struct cl_err *err)
{
    struct cl_group g;
    struct cl_offsets *o = NULL;
    uint64_t token = 0;
    int rc, ring = 0;
    for (int t = 1;; t++) {
        rc = cl_group_open(&g, log, group, 1, err);
        if (rc != 0) {
            return rc;
        }
        rc = cl_group_lock(&g, err);
        if (rc != CRAWLLOG_ENOENT || !cl_group_retired(&g) || t == OPEN_TRIES) {
            break;
        }
        cl_group_close(&g); /* deleted meanwhile: create it again */
    }
    if (rc == 0) {
        rc = check_empty_locked(&g, "setting offsets", &ring, err);
        if (rc == 0) {
            rc = append_locked(&g, e, n, &o, &token, err);
        }
        cl_group_unlock(&g);
    }
    if (ring) {
        cl_group_ring(&g);
    }
    if (rc == 0) {
        rc = cl_offsets_sync(o, token, err);
    }
    cl_offsets_close(o);
    cl_group_close(&g);
    return rc;
}

/* ---- transactional offset commits (txn.c) ------------------------------ */

int cl_group_txn_commit(crawllog_t *log, const char *group,
                        struct cl_offset_entry *e, size_t n, int never_back,
                        struct cl_err *err)
{
    struct cl_group g;
    struct cl_offsets *o = NULL;
    uint64_t token = 0;
    int rc = cl_group_open(&g, log, group, 1, err);
    if (rc != 0) {
        return rc;
    }
    rc = cl_group_lock(&g, err);
    if (rc == 0) {
        rc = cl_offsets_open(&o, g.dirfd, g.reldir, g.log->fmode, err);
        if (rc == 0) {
            rc = cl_offsets_refresh(o, err);
        }
        size_t keep = 0;
        for (size_t i = 0; rc == 0 && i < n; i++) {
            struct cl_offset_entry cur;
            if (never_back &&
                cl_offsets_get(o, e[i].topic, e[i].partition, &cur) &&
                cur.offset > e[i].offset) {
                continue; /* a later commit moved past it */
            }
            e[keep++] = e[i];
        }
        if (rc == 0 && keep > 0) {
            rc = cl_offsets_append(o, e, keep,
                                   atomic_load(&g.shm->generation), -1,
                                   &token, err);
        }
        cl_group_unlock(&g);
        if (rc == 0 && keep > 0) {
            rc = cl_offsets_sync(o, token, err);
        }
    }
    cl_offsets_close(o);
    cl_group_close(&g);
    return rc;
}

int cl_group_txn_check_owner(crawllog_t *log, const char *group, int slot,
                             uint64_t inc,
                             const crawllog_topic_partition_t *list, size_t n,
                             struct cl_err *err)
{
    struct cl_group g;
    int rc = cl_group_open(&g, log, group, 1, err);
    if (rc != 0) {
        return rc;
    }
    rc = cl_group_lock(&g, err);
    if (rc == 0) {
        rc = cl_group_check_owner_as(&g, slot, inc, list, n, err);
        cl_group_unlock(&g);
    }
    cl_group_close(&g);
    return rc;
}

int crawllog_group_set_offsets(crawllog_t *log, const char *group,
                               const crawllog_topic_partition_t *list,
                               size_t count)
{
    CL_BACKEND(log, group_set_offsets, log, group, list, count);
    struct cl_err err = {{0}};
    struct cl_offset_entry *e = NULL;
    if (log == NULL) {
        return CRAWLLOG_EINVAL;
    }
    int rc = check_list(group, list, count, &err);
    if (rc == 0 && (e = cl_io_calloc(count, sizeof(*e))) == NULL) {
        rc = cl_errf(&err, CRAWLLOG_ENOMEM, "group %s: out of memory", group);
    }
    for (size_t i = 0; rc == 0 && i < count; i++) {
        e[i].topic = list[i].topic;
        e[i].partition = list[i].partition;
        e[i].offset = list[i].offset < 0 ? -1 : list[i].offset;
        e[i].metadata = list[i].offset < 0 ? NULL : list[i].metadata;
    }
    if (rc == 0) {
        rc = set_offsets(log, group, e, count, &err);
    }
    cl_io_free(e);
    if (rc != 0 && group != NULL && cl_names_topic_valid(group)) {
        return fail(log, group, rc, &err);
    }
    return rc ? cl_log_fail(log, rc, &err) : 0;
}

/* ---------------------------------------------------------------------- */
/* Delete                                                                  */
/* ---------------------------------------------------------------------- */

/* 1 if groups/<name> (gfd: groups/) is no longer the directory dirfd, or
 * if that cannot be told: a live state marked retired is only reset by
 * its next lock, while a deleted one left unmarked could be joined. */
static int moved_away(int gfd, const char *name, int dirfd)
{
    struct stat a, b;
    if (cl_io_fstatat("group.admin.stat", gfd, name, &a) != 0 ||
        cl_io_fstat("group.admin.stat", dirfd, &b) != 0) {
        return 1;
    }
    return a.st_dev != b.st_dev || a.st_ino != b.st_ino;
}

/* With both locks held and the group empty: rename groups/<name> into
 * trash/ and remove it there (tree.c), then mark the state retired if it
 * is gone from groups/ - even if a step after the rename failed. */
static int remove_locked(struct cl_group *g, int gfd, struct cl_err *err)
{
    struct stat st;
    crawllog_t *log = g->log;
    int rc = cl_io_fstat("group.admin.stat", gfd, &st);
    if (rc != 0) {
        return cl_err_sys(err, -rc, CL_GROUPS_DIR, "fstat");
    }
    /* trash/, if it is made here, gets the mode of groups/. */
    rc = cl_tree_trash(log->rootfd, gfd, CL_GROUPS_DIR, g->name,
                       (unsigned)(st.st_mode & 07777), err);
    if (rc == 1) {
        rc = no_group(g->name, err); /* removed by hand meanwhile */
    }
    if (rc == 0 || moved_away(gfd, g->name, g->dirfd)) {
        cl_group_retire_locked(g);
    }
    return rc;
}

/* Open the group if groups/<name> is a directory (a directory whose state
 * file a crash kept from being created gets one, so it can be locked),
 * into *g, with groups/ into *gfdp.  (Deleted by someone else just before
 * the open, it is created again, empty, and deleted by this call.) */
static int open_existing(crawllog_t *log, const char *group,
                         struct cl_group *g, int *gfdp, struct cl_err *err)
{
    struct stat st;
    int gfd = cl_tree_open_dir(log->rootfd, CL_GROUPS_DIR);
    if (gfd < 0) {
        return gfd == -ENOENT ? no_group(group, err)
                              : cl_err_sys(err, -gfd, CL_GROUPS_DIR, "open");
    }
    int rc = cl_io_fstatat("group.admin.stat", gfd, group, &st);
    if (rc == -ENOENT || (rc == 0 && !S_ISDIR(st.st_mode))) {
        rc = no_group(group, err);
    } else if (rc != 0) {
        rc = cl_err_sys(err, -rc, CL_GROUPS_DIR, "fstatat");
    } else {
        rc = cl_group_open(g, log, group, 1, err);
    }
    if (rc != 0) {
        cl_io_close(gfd);
        return rc;
    }
    *gfdp = gfd;
    return 0;
}

int crawllog_group_delete(crawllog_t *log, const char *group)
{
    CL_BACKEND(log, group_delete, log, group);
    struct cl_err err = {{0}};
    struct cl_group g;
    int metafd = -1, gfd = -1, ring = 0;
    if (log == NULL) {
        return CRAWLLOG_EINVAL;
    }
    if (group == NULL || !cl_names_topic_valid(group)) {
        cl_errf(&err, CRAWLLOG_EINVAL,
                "group \"%.64s\": not a valid group name",
                group ? group : "(null)");
        return cl_log_fail(log, CRAWLLOG_EINVAL, &err);
    }
    int rc = open_existing(log, group, &g, &gfd, &err);
    if (rc == 0) {
        rc = cl_group_lock(&g, &err);
        if (rc == 0) {
            rc = check_empty_locked(&g, "deleting it", &ring, &err);
            if (rc == 0 &&
                (rc = cl_migrate_meta_lock(log, &metafd, &err)) == 0) {
                rc = remove_locked(&g, gfd, &err);
                cl_migrate_meta_unlock(metafd);
            }
            cl_group_unlock(&g);
        }
        if (ring) {
            cl_group_ring(&g);
        }
        cl_group_close(&g);
        cl_io_close(gfd);
    }
    return rc ? fail(log, group, rc, &err) : 0;
}
