/*
 * group.c - consumer-group membership and assignment without a broker.
 *
 * On disk: <root>/groups/<group>/group.state, CL_GROUP_STATE_SIZE bytes
 * holding a struct cl_group_shm in host byte order, mapped MAP_SHARED by
 * every member in every process.  Like partition.state it is a cache of
 * live facts, never fsync'd: members exist only while their processes
 * run, so a state from another boot is simply reset.  (The durable part of
 * a group, its committed offsets, is offsets.c's file beside it.)
 *
 * What it holds: the member table (slot, incarnation, ids, subscription,
 * last poll time), the topic table (subscribed topics and their partition
 * counts), and per partition its target member (the assignor's answer)
 * and its owner (the member fetching it now), plus the generation, bumped
 * by every rebalance, and change_seq, bumped by every change.
 *
 * Protocol (Kafka's group coordinator, done by whoever holds the lock):
 *  - join: take a free slot, hold an OFD lock on byte LIVE_BASE + slot of
 *    the state file for the member's lifetime, rebalance.  The kernel
 *    drops that lock when the process dies, so any member can tell a dead
 *    member from a live one with F_OFD_GETLK in microseconds; members do
 *    so every heartbeat.interval.ms from poll (cl_group_check).
 *  - rebalance: recompute targets with the assignor (assignor.c) from the
 *    present members and the current partition counts; generation++.
 *  - ownership moves in two phases: a member gives up (revokes) an owned
 *    partition whose target is someone else at its next poll - after its
 *    revoke callback, so it can commit - and only then can the target
 *    take it.  A partition thus never has two owners, and a commit is
 *    accepted only from its owner (cl_group_check_owner_locked).  Members
 *    that die or stop polling are swept: their partitions lose their owner
 *    at once.  Static members (group.instance.id) that go away keep their
 *    targets for session.timeout.ms and get them back when they return.
 *
 * Invariants: parts[i].owner, when valid (an ACTIVE member with the same
 * incarnation), is a member whose target was that partition when it took
 * it; an owner is never set on a partition that has a different valid
 * owner.  Only lock holders write anything but members[].last_poll_ns.
 * A deleted group (crawllog_group_delete, group_admin.c: its directory is
 * renamed away, then its state marked retired, under the lock) is never
 * used through an old handle: a lock taken by a non-member, or on a
 * retired state, first checks that the handle's file is still
 * groups/<name>/group.state, and fails with CRAWLLOG_ENOENT (marking the
 * state retired) if not; the consumer then opens the group afresh.
 *
 * The poll side (liveness checks, the two-phase sync, the ownership check
 * of commits) is group_sync.c.
 *
 * Locks: flock on the state file (per member open file description, so
 * threads of one process exclude each other too), held for microseconds;
 * never held while a callback runs or while waiting.  updating is set
 * while the lock is held and cleared at unlock: a lock holder that finds
 * it set knows the last holder died mid-update and re-validates every
 * entry, then rebalances.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "assignor.h"
#include "group.h"
#include "io.h"
#include "log.h"
#include "names.h"
#include "topic.h"
#include "tree.h"

_Static_assert(CL_GROUP_MAX_MEMBERS < INT16_MAX, "slots fit in int16");
_Static_assert(sizeof(_Atomic int32_t) == sizeof(int32_t),
               "retired replaced a plain int32_t: same layout");

/* ---------------------------------------------------------------------- */
/* Opening                                                                 */
/* ---------------------------------------------------------------------- */

/* Open (creating if asked) dirfd/name as a directory, fsyncing dirfd
 * after a creation. */
static int open_subdir(int dirfd, const char *name, const char *rel,
                       int create, unsigned dmode, struct cl_err *err)
{
    int fd = cl_tree_open_dir(dirfd, name);
    if (fd == -ENOENT && create) {
        int rc = cl_io_mkdirat("group.mkdir", dirfd, name, (mode_t)dmode);
        if (rc != 0 && rc != -EEXIST) {
            return cl_err_sys(err, -rc, rel, "mkdir");
        }
        if (rc == 0 && (rc = cl_io_fsync("group.mkdir.dirsync", dirfd)) != 0) {
            return cl_err_sys(err, -rc, rel, "fsync parent");
        }
        fd = cl_tree_open_dir(dirfd, name);
    }
    if (fd < 0) {
        if (fd == -ENOENT) {
            return cl_errf(err, CRAWLLOG_ENOENT, "%s: no such group", rel);
        }
        return cl_err_sys(err, -fd, rel, "open");
    }
    return fd;
}

int cl_group_open(struct cl_group *g, crawllog_t *log, const char *name,
                  int create, struct cl_err *err)
{
    struct stat st;
    memset(g, 0, sizeof(*g));
    g->dirfd = g->fd = -1;
    g->slot = -1;
    g->generation = -1;
    g->log = log;
    if (name == NULL || !cl_names_topic_valid(name)) {
        return cl_errf(err, CRAWLLOG_EINVAL,
                       "group.id \"%.64s\" is not a valid name (1 to %d of "
                       "[A-Za-z0-9._-], not . or ..)",
                       name ? name : "", CRAWLLOG_TOPIC_NAME_MAX);
    }
    snprintf(g->name, sizeof(g->name), "%s", name);
    snprintf(g->reldir, sizeof(g->reldir), "%s/%s", CL_GROUPS_DIR, name);
    int top = open_subdir(log->rootfd, CL_GROUPS_DIR, CL_GROUPS_DIR, create,
                          log->dmode, err);
    if (top < 0) {
        return top;
    }
    g->dirfd = open_subdir(top, name, g->reldir, create, log->dmode, err);
    cl_io_close(top);
    if (g->dirfd < 0) {
        int rc = g->dirfd;
        g->dirfd = -1;
        return rc;
    }
    int fd = cl_io_openat("group.open", g->dirfd, CL_GROUP_STATE_NAME,
                          O_RDWR | (create ? O_CREAT : 0), (mode_t)log->fmode);
    char path[CL_GROUP_NAME_SIZE + 64];
    snprintf(path, sizeof(path), "%s/%s", g->reldir, CL_GROUP_STATE_NAME);
    if (fd < 0) {
        cl_group_close(g);
        if (fd == -ENOENT) {
            return cl_errf(err, CRAWLLOG_ENOENT, "%s: no such group",
                           g->reldir);
        }
        return cl_err_sys(err, -fd, path, "open");
    }
    g->fd = fd;
    int rc = cl_io_fstat("group.stat", fd, &st);
    if (rc == 0 && !S_ISREG(st.st_mode)) {
        rc = -EINVAL;
    }
    if (rc == 0 && (uint64_t)st.st_size < CL_GROUP_STATE_SIZE) {
        rc = cl_io_ftruncate("group.truncate", fd, CL_GROUP_STATE_SIZE);
    }
    void *addr = NULL;
    /* Blocks reserved (when some are missing: a file just grown, or one
     * left sparse): a full disk is ENOSPC here, never SIGBUS. */
    if (rc == 0 && (uint64_t)st.st_blocks * 512 < CL_GROUP_STATE_SIZE) {
        rc = cl_io_fallocate("group.reserve", fd, CL_GROUP_STATE_SIZE);
    }
    if (rc == 0) {
        rc = cl_io_mmap_shared("group.mmap", fd, CL_GROUP_STATE_SIZE, &addr);
    }
    if (rc != 0) {
        cl_group_close(g);
        return cl_err_sys(err, -rc, path, "open state");
    }
    g->shm = addr;
    g->dev = (uint64_t)st.st_dev;
    g->ino = (uint64_t)st.st_ino;
    cl_io_boot_id(g->boot_id, sizeof(g->boot_id));
    return 0;
}

void cl_group_close(struct cl_group *g)
{
    if (g->shm != NULL) {
        cl_io_munmap(g->shm, CL_GROUP_STATE_SIZE);
        g->shm = NULL;
    }
    if (g->fd >= 0) {
        cl_io_close(g->fd); /* drops the liveness lock too */
        g->fd = -1;
    }
    if (g->dirfd >= 0) {
        cl_io_close(g->dirfd);
        g->dirfd = -1;
    }
}

/* ---------------------------------------------------------------------- */
/* Helpers over the shared state (lock held unless said otherwise)         */
/* ---------------------------------------------------------------------- */

int cl_group_member_valid(const struct cl_group_shm *s, int slot, uint64_t inc)
{
    return slot >= 0 && slot < CL_GROUP_MAX_MEMBERS &&
           s->members[slot].state == CL_GM_ACTIVE &&
           s->members[slot].incarnation == inc;
}

int cl_group_owner_valid(const struct cl_group_shm *s, const struct cl_gpart *p)
{
    return p->owner >= 0 && cl_group_member_valid(s, p->owner, p->owner_inc);
}

static int present(const struct cl_gmember *m)
{
    return m->state == CL_GM_ACTIVE || m->state == CL_GM_AWAY;
}

int cl_group_find_topic(const struct cl_group_shm *s, const char *topic)
{
    for (int t = 0; t < s->ntopics && t < CL_GROUP_MAX_TOPICS; t++) {
        if (strcmp(s->topics[t].name, topic) == 0) {
            return t;
        }
    }
    return -1;
}

/* Index of (topic, partition) in parts[], or -1. */
int cl_group_find_part(const struct cl_group_shm *s, const char *topic,
                     int32_t partition)
{
    int t = cl_group_find_topic(s, topic);
    if (t < 0 || partition < 0 || partition >= s->topics[t].partitions) {
        return -1;
    }
    return s->topics[t].base + partition;
}

/* The topic index of partition-table entry i. */
int cl_group_topic_of(const struct cl_group_shm *s, int i)
{
    for (int t = 0; t < s->ntopics; t++) {
        if (i >= s->topics[t].base &&
            i < s->topics[t].base + s->topics[t].partitions) {
            return t;
        }
    }
    return -1;
}

void cl_group_bump(struct cl_group_shm *s)
{
    atomic_fetch_add(&s->change_seq, 1);
}

static void reset_state(struct cl_group_shm *s, const char *boot)
{
    int32_t gen = atomic_load(&s->generation);
    memset(s, 0, sizeof(*s));
    memcpy(s->magic, CL_GROUP_MAGIC, 8);
    s->version = CL_GROUP_VERSION;
    snprintf(s->boot_id, sizeof(s->boot_id), "%s", boot);
    s->strategy = -1;
    atomic_store(&s->generation, gen > 0 ? gen : 0);
    atomic_store(&s->change_seq, 1);
    for (int i = 0; i < CL_GROUP_MAX_MEMBERS; i++) {
        s->members[i].notify_slot = -1;
    }
    for (int i = 0; i < CL_GROUP_MAX_PARTS; i++) {
        s->parts[i].owner = s->parts[i].target = -1;
        s->parts[i].pill_offset = -1;
        s->parts[i].deliveries = 0;
    }
}


/* 1 if groups/<name>/group.state is still the file this handle maps, 0
 * if the group was deleted (and maybe created again) since it was opened,
 * or a negative code. */
static int still_live(struct cl_group *g, struct cl_err *err)
{
    struct stat st;
    char path[CL_GROUP_NAME_SIZE + 64];
    snprintf(path, sizeof(path), "%s/%s", g->reldir, CL_GROUP_STATE_NAME);
    int rc = cl_io_fstatat("group.stat", g->log->rootfd, path, &st);
    if (rc == -ENOENT || rc == -ENOTDIR) {
        return 0;
    }
    if (rc != 0) {
        return cl_err_sys(err, -rc, path, "stat");
    }
    return (uint64_t)st.st_dev == g->dev && (uint64_t)st.st_ino == g->ino;
}

int cl_group_retired(const struct cl_group *g)
{
    return g->shm != NULL && atomic_load(&g->shm->retired) != 0;
}

void cl_group_retire_locked(struct cl_group *g)
{
    atomic_store(&g->shm->retired, 1);
    cl_group_bump(g->shm);
}

int cl_group_lock(struct cl_group *g, struct cl_err *err)
{
    struct cl_group_shm *s = g->shm;
    const char *boot = g->boot_id;
    int rc = cl_io_lock("group.lock", g->fd, 1, 1);
    if (rc != 0) {
        return cl_err_sys(err, -rc, g->reldir, "lock group state");
    }
    if (g->slot < 0 || atomic_load(&s->retired)) {
        /* A join, a describe, a standalone commit, an admin call, or a
         * handle told its group was deleted: never act on a file that is
         * no longer the group's (a member's own file cannot be deleted:
         * crawllog_group_delete refuses a group with members). */
        rc = still_live(g, err);
        if (rc <= 0) {
            if (rc == 0) {
                cl_group_retire_locked(g);
                rc = cl_errf(err, CRAWLLOG_ENOENT,
                             "%s: the group was deleted", g->reldir);
            }
            cl_io_unlock(g->fd);
            return rc;
        }
        if (atomic_load(&s->retired)) {
            reset_state(s, boot); /* its deletion was lost with the power */
        }
    }
    if (memcmp(s->magic, CL_GROUP_MAGIC, 8) != 0 ||
        s->version != CL_GROUP_VERSION ||
        strncmp(s->boot_id, boot, sizeof(s->boot_id)) != 0 ||
        s->ntopics < 0 || s->ntopics > CL_GROUP_MAX_TOPICS ||
        s->nparts < 0 || s->nparts > CL_GROUP_MAX_PARTS) {
        reset_state(s, boot); /* new, damaged, or from another boot */
        return 0;
    }
    if (s->updating) {
        /* The last holder died mid-update: drop whatever it left half
         * done (dead members, owners that do not match) and start a new
         * generation from what is certainly true. */
        int changed = 0;
        s->updating = 1;
        rc = cl_group_sweep(g, cl_io_mono_ns(), &changed);
        if (rc == 0) {
            rc = cl_group_rebalance(g, err);
        }
        if (rc != 0) {
            cl_group_unlock(g);
            return rc;
        }
    }
    s->updating = 1;
    return 0;
}

void cl_group_unlock(struct cl_group *g)
{
    g->shm->updating = 0;
    cl_io_unlock(g->fd);
}

void cl_group_ring(struct cl_group *g)
{
    struct cl_notify *n = cl_log_notify(g->log);
    struct cl_group_shm *s = g->shm;
    for (int i = 0; i < CL_GROUP_MAX_MEMBERS; i++) {
        int32_t slot = s->members[i].notify_slot;
        if (s->members[i].state == CL_GM_ACTIVE && slot >= 0 &&
            slot < CL_NOTIFY_SLOTS) {
            cl_notify_ring(n, slot);
        }
    }
}

/* ---------------------------------------------------------------------- */
/* Rebalance                                                               */
/* ---------------------------------------------------------------------- */

/* A topic's partition count now (0 if it does not exist). */
int32_t cl_group_topic_partitions(struct cl_group *g, const char *topic)
{
    struct cl_topic_meta meta = {0};
    struct cl_err e = {{0}};
    int32_t n = 0;
    if (cl_topic_meta_read(g->log->rootfd, topic, &meta, &e) == 0) {
        n = meta.partitions;
    }
    cl_topic_meta_free(&meta);
    return n;
}

int cl_group_rebalance(struct cl_group *g, struct cl_err *err)
{
    struct cl_group_shm *s = g->shm;
    struct cl_gtopic topics[CL_GROUP_MAX_TOPICS];
    struct cl_asg_topic at[CL_GROUP_MAX_TOPICS];
    struct cl_asg_member am[CL_GROUP_MAX_MEMBERS];
    int remap[CL_GROUP_MAX_TOPICS], slot_of[CL_GROUP_MAX_MEMBERS];
    int idx_of[CL_GROUP_MAX_MEMBERS];
    uint64_t used = 0;
    int nt = 0, nm = 0;
    int32_t total = 0;

    for (int i = 0; i < CL_GROUP_MAX_MEMBERS; i++) {
        idx_of[i] = -1;
        if (present(&s->members[i])) {
            used |= s->members[i].topics;
        }
    }
    /* The topic table keeps the subscribed topics, with fresh counts. */
    for (int t = 0; t < s->ntopics; t++) {
        remap[t] = -1;
        if (!(used & ((uint64_t)1 << t))) {
            continue;
        }
        topics[nt] = s->topics[t];
        topics[nt].partitions = cl_group_topic_partitions(g, s->topics[t].name);
        if (topics[nt].partitions > CL_GROUP_MAX_PARTS - total) {
            return cl_errf(err, CRAWLLOG_EINVAL,
                           "%s: the subscribed topics have more than %d "
                           "partitions",
                           g->reldir, CL_GROUP_MAX_PARTS);
        }
        topics[nt].base = total;
        total += topics[nt].partitions;
        remap[t] = nt++;
    }
    struct cl_gpart *np = cl_io_malloc(sizeof(*np) * (size_t)(total + 1));
    int32_t *owned = cl_io_malloc(sizeof(int32_t) * (size_t)(total + 1));
    int32_t *target = cl_io_malloc(sizeof(int32_t) * (size_t)(total + 1));
    if (np == NULL || owned == NULL || target == NULL) {
        cl_io_free(np);
        cl_io_free(owned);
        cl_io_free(target);
        return cl_errf(err, CRAWLLOG_ENOMEM, "out of memory");
    }
    /* Members for the assignor, subscriptions in the new numbering. */
    for (int i = 0; i < CL_GROUP_MAX_MEMBERS; i++) {
        struct cl_gmember *m = &s->members[i];
        if (!present(m)) {
            continue;
        }
        uint64_t mask = 0;
        for (int t = 0; t < s->ntopics; t++) {
            if ((m->topics & ((uint64_t)1 << t)) && remap[t] >= 0) {
                mask |= (uint64_t)1 << remap[t];
            }
        }
        m->topics = mask;
        am[nm].member_id = m->member_id;
        am[nm].instance_id = m->instance_id;
        am[nm].topics = mask;
        at[0].name = NULL;
        slot_of[nm] = i;
        idx_of[i] = nm++;
    }
    /* Carry owners over to the new table; "owned" for the sticky
     * assignor: the owner, else the member it was moving to. */
    for (int t = 0; t < nt; t++) {
        at[t].name = topics[t].name;
        at[t].partitions = topics[t].partitions;
        int old = cl_group_find_topic(s, topics[t].name);
        for (int32_t p = 0; p < topics[t].partitions; p++) {
            struct cl_gpart *e = &np[topics[t].base + p];
            int32_t *o = &owned[topics[t].base + p];
            e->owner = e->target = -1;
            e->deliveries = 0;
            e->owner_inc = 0;
            e->pill_offset = -1;
            *o = -1;
            if (old >= 0 && p < s->topics[old].partitions) {
                const struct cl_gpart *q = &s->parts[s->topics[old].base + p];
                e->deliveries = q->deliveries;
                e->pill_offset = q->pill_offset;
                if (cl_group_owner_valid(s, q)) {
                    *e = *q;
                    e->target = -1;
                    *o = idx_of[q->owner];
                } else if (q->target >= 0 && q->target < CL_GROUP_MAX_MEMBERS &&
                           idx_of[q->target] >= 0) {
                    *o = idx_of[q->target];
                }
            }
        }
    }
    int rc = cl_asg_assign(s->strategy < 0 ? CL_ASG_COOPERATIVE_STICKY
                                            : s->strategy,
                           am, (size_t)nm, at, (size_t)nt, owned, target,
                           err);
    if (rc == 0) {
        for (int32_t i = 0; i < total; i++) {
            np[i].target = (int16_t)(target[i] >= 0 ? slot_of[target[i]] : -1);
        }
        memcpy(s->topics, topics, sizeof(topics[0]) * (size_t)nt);
        memset(s->topics + nt, 0,
               sizeof(topics[0]) * (size_t)(CL_GROUP_MAX_TOPICS - nt));
        s->ntopics = nt;
        memcpy(s->parts, np, sizeof(np[0]) * (size_t)total);
        for (int32_t i = total; i < s->nparts; i++) {
            s->parts[i].owner = s->parts[i].target = -1;
            s->parts[i].pill_offset = -1;
            s->parts[i].deliveries = 0;
            s->parts[i].owner_inc = 0;
        }
        s->nparts = total;
        atomic_fetch_add(&s->generation, 1);
        cl_group_bump(s);
    }
    cl_io_free(np);
    cl_io_free(owned);
    cl_io_free(target);
    return rc;
}

/* Release every partition slot owns. */
static void release_all(struct cl_group_shm *s, int slot)
{
    for (int i = 0; i < s->nparts; i++) {
        if (s->parts[i].owner == slot) {
            s->parts[i].owner = -1;
            s->parts[i].owner_inc = 0;
        }
    }
}

/* Remove a member that died or stopped polling: a static one goes AWAY
 * (keeps its targets), a dynamic one is freed (*rebalp = 1). */
static void remove_member(struct cl_group_shm *s, int slot, int64_t now,
                          int *rebalp)
{
    struct cl_gmember *m = &s->members[slot];
    release_all(s, slot);
    if (m->instance_id[0] != '\0') {
        m->state = CL_GM_AWAY;
        m->away_since_ns = now;
    } else {
        m->state = CL_GM_FREE;
        m->incarnation = 0;
        *rebalp = 1;
    }
    cl_group_bump(s);
}

/* Sweep dead, expired and long-away members; *changedp = 1 if the group
 * must be rebalanced (lock held). */
int cl_group_sweep(struct cl_group *g, int64_t now, int *changedp)
{
    struct cl_group_shm *s = g->shm;
    for (int i = 0; i < CL_GROUP_MAX_MEMBERS; i++) {
        struct cl_gmember *m = &s->members[i];
        if (m->state == CL_GM_ACTIVE && i != g->slot) {
            int held = cl_io_ofd_held(g->fd, CL_GROUP_LIVE_BASE + (uint64_t)i);
            int64_t idle = now - atomic_load(&m->last_poll_ns);
            if (held == 0 || idle > m->max_poll_ms * 1000000) {
                remove_member(s, i, now, changedp);
            }
        } else if (m->state == CL_GM_AWAY &&
                   now - m->away_since_ns > m->session_ms * 1000000) {
            m->state = CL_GM_FREE;
            m->incarnation = 0;
            *changedp = 1;
            cl_group_bump(s);
        }
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Join and leave                                                          */
/* ---------------------------------------------------------------------- */

static int count_present(const struct cl_group_shm *s)
{
    int n = 0;
    for (int i = 0; i < CL_GROUP_MAX_MEMBERS; i++) {
        n += present(&s->members[i]);
    }
    return n;
}

int cl_group_mask(struct cl_group *g, const char *const *topics, size_t n,
                  uint64_t *maskp, struct cl_err *err)
{
    struct cl_group_shm *s = g->shm;
    uint64_t mask = 0;
    for (size_t k = 0; k < n; k++) {
        int t = cl_group_find_topic(s, topics[k]);
        if (t < 0) {
            if (s->ntopics >= CL_GROUP_MAX_TOPICS) {
                return cl_errf(err, CRAWLLOG_EINVAL,
                               "%s: more than %d subscribed topics",
                               g->reldir, CL_GROUP_MAX_TOPICS);
            }
            t = s->ntopics++;
            memset(&s->topics[t], 0, sizeof(s->topics[t]));
            snprintf(s->topics[t].name, sizeof(s->topics[t].name), "%s",
                     topics[k]);
            s->topics[t].base = s->nparts;
        }
        mask |= (uint64_t)1 << t;
    }
    *maskp = mask;
    return 0;
}

int cl_group_join(struct cl_group *g, const struct cl_group_join *j,
                  struct cl_err *err)
{
    struct cl_group_shm *s = g->shm;
    int rc = cl_group_lock(g, err);
    if (rc != 0) {
        return rc;
    }
    int64_t now = cl_io_mono_ns();
    int changed = 0, old = -1, slot = -1;
    cl_group_sweep(g, now, &changed);
    if (count_present(s) > 0 && s->strategy >= 0 &&
        s->strategy != j->strategy) {
        rc = cl_errf(err, CRAWLLOG_EINVAL,
                     "%s: the group uses partition.assignment.strategy=%s, "
                     "this consumer asks for %s",
                     g->reldir, cl_asg_name(s->strategy),
                     cl_asg_name(j->strategy));
        goto out;
    }
    uint64_t mask = 0;
    if ((rc = cl_group_mask(g, j->topics, j->ntopics, &mask, err)) != 0) {
        goto out;
    }
    for (int i = 0; i < CL_GROUP_MAX_MEMBERS && j->instance_id[0]; i++) {
        if (present(&s->members[i]) &&
            strcmp(s->members[i].instance_id, j->instance_id) == 0) {
            old = i;
        }
    }
    int lrc = 0; /* a lock failure other than "held": not a full group */
    for (int i = 0; i < CL_GROUP_MAX_MEMBERS && slot < 0; i++) {
        if (s->members[i].state == CL_GM_FREE) {
            lrc = cl_io_ofd_lock("group.member.lock", g->fd,
                                 CL_GROUP_LIVE_BASE + (uint64_t)i, 0);
            if (lrc == 0) {
                slot = i;
            } else if (lrc != -EWOULDBLOCK) {
                break;
            }
        }
    }
    if (slot < 0 && lrc != 0 && lrc != -EWOULDBLOCK) {
        rc = cl_err_sys(err, -lrc, g->reldir, "lock a member slot");
        goto out;
    }
    if (slot < 0) {
        rc = cl_errf(err, CRAWLLOG_EBUSY, "%s: all %d member slots are taken",
                     g->reldir, CL_GROUP_MAX_MEMBERS);
        goto out;
    }
    struct cl_gmember *m = &s->members[slot];
    uint8_t rnd[8];
    cl_io_random(rnd, sizeof(rnd));
    memset(m, 0, sizeof(*m));
    m->incarnation = ++s->next_incarnation;
    m->max_poll_ms = j->max_poll_ms;
    m->session_ms = j->session_ms;
    m->pid = (int64_t)getpid();
    m->topics = mask;
    m->notify_slot = j->notify_slot;
    m->synced_gen = -1;
    const char *client = j->client_id[0] ? j->client_id : "crawllog";
    snprintf(m->client_id, sizeof(m->client_id), "%s", client);
    snprintf(m->instance_id, sizeof(m->instance_id), "%s", j->instance_id);
    snprintf(m->member_id, sizeof(m->member_id),
             "%s-%02x%02x%02x%02x%02x%02x%02x%02x", client, rnd[0],
             rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
    atomic_store(&m->last_poll_ns, now);
    m->state = CL_GM_ACTIVE;
    if (s->strategy < 0 || count_present(s) == 1) {
        s->strategy = j->strategy;
    }
    if (old >= 0) {
        /* The same group.instance.id again: take over its targets (a
         * restart) and fence the older instance if it still runs. */
        uint64_t old_topics = s->members[old].topics;
        for (int i = 0; i < s->nparts; i++) {
            if (s->parts[i].target == old) {
                s->parts[i].target = (int16_t)slot;
            }
        }
        release_all(s, old);
        s->members[old].state = CL_GM_FREE;
        s->members[old].incarnation = 0;
        changed |= old_topics != mask;
        cl_group_bump(s);
    } else {
        changed = 1;
    }
    if (changed) {
        rc = cl_group_rebalance(g, err);
    }
    if (rc != 0) {
        m->state = CL_GM_FREE;
        m->incarnation = 0;
        cl_io_ofd_unlock(g->fd, CL_GROUP_LIVE_BASE + (uint64_t)slot);
        goto out;
    }
    cl_group_bump(s);
    g->slot = slot;
    memcpy(g->member_id, m->member_id, sizeof(g->member_id));
    g->incarnation = m->incarnation;
    g->seen_seq = 0;
    g->generation = -1;
    g->next_check_ns = 0;
out:
    cl_group_unlock(g);
    if (rc == 0) {
        cl_group_ring(g);
    }
    return rc;
}

void cl_group_leave(struct cl_group *g)
{
    struct cl_group_shm *s = g->shm;
    struct cl_err err = {{0}};
    if (g->slot < 0) {
        return;
    }
    if (cl_group_lock(g, &err) == 0) {
        if (cl_group_member_valid(s, g->slot, g->incarnation)) {
            int rebal = 0;
            remove_member(s, g->slot, cl_io_mono_ns(), &rebal);
            if (rebal) {
                cl_group_rebalance(g, &err); /* on failure the next check redoes it */
            }
        }
        cl_group_unlock(g);
        cl_group_ring(g);
    }
    cl_io_ofd_unlock(g->fd, CL_GROUP_LIVE_BASE + (uint64_t)g->slot);
    g->slot = -1;
    g->incarnation = 0;
}

