/*
 * group_desc.c - crawllog_group_describe / crawllog_group_list: a group's
 * members, ownership, committed offsets, log end offsets and lag, the
 * numbers `kafka-consumer-groups --describe` shows.
 *
 * With the lag history (groups/<g>/lag.history, lagstore.c) it also gives
 * each partition's lag status and the group's, by Burrow's rules
 * (lagstatus.c): the partition's window of commit points, the time now
 * (wall clock, the clock of the points), its lag now (log end now -
 * committed) and the smallest log end seen recently, taken as the
 * smallest log end among the window's points (offset + lag).
 *
 * On disk: reads groups/<g>/group.state (group.c), groups/<g>/offsets
 * (offsets.c) and groups/<g>/lag.history if it exists; writes nothing,
 * except that taking the group lock resets a state left by another boot,
 * as any member would.
 *
 * Invariants: the membership snapshot is taken under the group lock (a
 * consistent generation); committed offsets are read after it, so a lag is
 * never computed from an offset older than the snapshot's commits.  The
 * lag history is read after the offsets: its newest point may be newer
 * than the committed offset shown (a commit in between), never older.
 * The statuses are monitoring: no lag history (never written, unreadable,
 * other boot) gives NOTFOUND, never an error.
 *
 * Locks: the group lock, for the copy of the shared state only; the lag
 * history is read without it (lagstore.c's per-slot seqlock).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assignor.h"
#include "backend.h"
#include "group.h"
#include "group_desc.h"
#include "io.h"
#include "lagstatus.h"
#include "lagstore.h"
#include "log.h"
#include "names.h"
#include "offsets.h"
#include "tree.h"

struct desc_priv {
    crawllog_group_desc_t pub;   /* first: the public pointer is ours */
    char group[CL_GROUP_NAME_SIZE];
    char strategy[32];
};

void crawllog_group_desc_free(crawllog_group_desc_t *desc)
{
    if (desc == NULL) {
        return;
    }
    for (size_t i = 0; i < desc->member_count; i++) {
        cl_io_free((char *)desc->members[i].member_id);
        cl_io_free((char *)desc->members[i].instance_id);
        cl_io_free((char *)desc->members[i].client_id);
    }
    for (size_t i = 0; i < desc->partition_count; i++) {
        cl_io_free((char *)desc->partitions[i].topic);
    }
    cl_io_free(desc->members);
    cl_io_free(desc->partitions);
    cl_io_free(desc);
}

int cl_group_desc_part_cmp(const void *a, const void *b)
{
    const crawllog_group_partition_t *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    return c ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

/* Add (topic, partition) unless present; returns its index or -1. */
long cl_group_desc_add_part(crawllog_group_desc_t *d, size_t *cap,
                            const char *topic, int32_t partition)
{
    for (size_t i = 0; i < d->partition_count; i++) {
        if (d->partitions[i].partition == partition &&
            strcmp(d->partitions[i].topic, topic) == 0) {
            return (long)i;
        }
    }
    if (cl_io_grow((void **)&d->partitions, cap, d->partition_count + 1,
                   sizeof(*d->partitions)) != 0) {
        return -1;
    }
    crawllog_group_partition_t *p = &d->partitions[d->partition_count];
    memset(p, 0, sizeof(*p));
    if ((p->topic = cl_io_strdup(topic)) == NULL) {
        return -1;
    }
    p->partition = partition;
    p->committed = p->log_end = p->lag = p->commit_time_ms = -1;
    return (long)d->partition_count++;
}

/* Copy the shared state: members and each partition's owner. */
static int snapshot(struct cl_group *g, crawllog_group_desc_t *d,
                    size_t *pcap, struct cl_err *err)
{
    struct cl_group_shm *s = g->shm;
    int slot_idx[CL_GROUP_MAX_MEMBERS];
    int64_t now = cl_io_mono_ns();
    int rc = cl_group_lock(g, err), pending = 0, present = 0;
    if (rc != 0) {
        return rc;
    }
    d->generation = atomic_load(&s->generation);
    d->members = cl_io_calloc(CL_GROUP_MAX_MEMBERS, sizeof(*d->members));
    rc = d->members ? 0 : CRAWLLOG_ENOMEM;
    for (int i = 0; rc == 0 && i < CL_GROUP_MAX_MEMBERS; i++) {
        const struct cl_gmember *m = &s->members[i];
        slot_idx[i] = -1;
        if (m->state != CL_GM_ACTIVE && m->state != CL_GM_AWAY) {
            continue;
        }
        crawllog_group_member_t *o = &d->members[d->member_count];
        o->member_id = cl_io_strdup(m->member_id);
        o->instance_id = cl_io_strdup(m->instance_id);
        o->client_id = cl_io_strdup(m->client_id);
        o->pid = (long)m->pid;
        o->alive = m->state == CL_GM_ACTIVE;
        o->last_poll_age_ms = (now - atomic_load(&m->last_poll_ns)) / 1000000;
        slot_idx[i] = (int)d->member_count++;
        present++;
        if (!o->member_id || !o->instance_id || !o->client_id) {
            rc = CRAWLLOG_ENOMEM;
        }
    }
    for (int t = 0; rc == 0 && t < s->ntopics; t++) {
        for (int32_t p = 0; rc == 0 && p < s->topics[t].partitions; p++) {
            const struct cl_gpart *gp = &s->parts[s->topics[t].base + p];
            long k = cl_group_desc_add_part(d, pcap, s->topics[t].name, p);
            if (k < 0) {
                rc = CRAWLLOG_ENOMEM;
                break;
            }
            int owner = gp->owner >= 0 && gp->owner < CL_GROUP_MAX_MEMBERS &&
                                s->members[gp->owner].state == CL_GM_ACTIVE &&
                                s->members[gp->owner].incarnation ==
                                    gp->owner_inc
                            ? gp->owner
                            : -1;
            if (owner >= 0 && slot_idx[owner] >= 0) {
                d->partitions[k].member_id =
                    d->members[slot_idx[owner]].member_id;
                d->members[slot_idx[owner]].partitions++;
            }
            if (gp->target >= 0 && gp->target < CL_GROUP_MAX_MEMBERS &&
                s->members[gp->target].state == CL_GM_ACTIVE &&
                owner != gp->target) {
                pending = 1;
            }
        }
    }
    snprintf(((struct desc_priv *)d)->strategy,
             sizeof(((struct desc_priv *)d)->strategy), "%s",
             s->strategy >= 0 ? cl_asg_name(s->strategy) : "");
    cl_group_unlock(g);
    d->state = present == 0 ? "Empty" : pending ? "PreparingRebalance"
                                                : "Stable";
    if (rc == CRAWLLOG_ENOMEM) {
        cl_errf(err, rc, "out of memory");
    }
    return rc;
}

/* The lag status of partition p from its window in store (NULL: none). */
static int part_status(struct cl_lagstore *store,
                       const crawllog_group_partition_t *p, int64_t now)
{
    struct cl_lag_window w;
    if (store == NULL || p->lag < 0 ||
        !cl_lagstore_lookup(store, p->topic, p->partition, &w)) {
        return CL_LAG_NOTFOUND;
    }
    int64_t min_head = CL_LAG_HEAD_UNKNOWN;
    for (size_t i = 0; i < cl_lag_window_len(&w); i++) {
        const struct cl_lag_point *pt = cl_lag_window_at(&w, i);
        if (pt->lag >= 0 && pt->offset <= INT64_MAX - pt->lag &&
            pt->offset + pt->lag < min_head) {
            min_head = pt->offset + pt->lag;
        }
    }
    return cl_lag_evaluate(&w, NULL, now, p->lag, min_head);
}

/* Fill every partition's status and the group's. */
static int lag_statuses(crawllog_group_desc_t *d, struct cl_lagstore *store)
{
    int64_t now = cl_io_now_ms();
    int *st = cl_io_calloc(d->partition_count + 1, sizeof(*st));
    if (st == NULL) {
        return CRAWLLOG_ENOMEM;
    }
    for (size_t i = 0; i < d->partition_count; i++) {
        st[i] = part_status(store, &d->partitions[i], now);
        d->partitions[i].status = cl_lag_status_name(st[i]);
    }
    d->lag_status =
        cl_lag_status_name(cl_lag_group_status(st, d->partition_count));
    cl_io_free(st);
    return 0;
}

int crawllog_group_describe(crawllog_t *log, const char *group,
                            crawllog_group_desc_t **descp)
{
    CL_BACKEND(log, group_describe, log, group, descp);
    struct cl_err err = {{0}};
    struct cl_group g;
    struct cl_offsets *o = NULL;
    struct cl_lagstore *store = NULL;
    size_t pcap = 0;
    if (descp) {
        *descp = NULL;
    }
    if (log == NULL || group == NULL || descp == NULL) {
        return log ? cl_log_fail(log, cl_errf(&err, CRAWLLOG_EINVAL,
                                              "group and descp needed"),
                                 &err)
                   : CRAWLLOG_EINVAL;
    }
    int rc = cl_group_open(&g, log, group, 0, &err);
    if (rc != 0) {
        return cl_log_fail(log, rc, &err);
    }
    struct desc_priv *dp = cl_io_calloc(1, sizeof(*dp));
    if (dp == NULL) {
        cl_group_close(&g);
        cl_errf(&err, CRAWLLOG_ENOMEM, "out of memory");
        return cl_log_fail(log, CRAWLLOG_ENOMEM, &err);
    }
    crawllog_group_desc_t *d = &dp->pub;
    snprintf(dp->group, sizeof(dp->group), "%s", group);
    d->group = dp->group;
    d->strategy = dp->strategy;
    rc = snapshot(&g, d, &pcap, &err);
    if (rc == 0) {
        rc = cl_offsets_open(&o, g.dirfd, g.reldir, log->fmode, &err);
    }
    for (size_t i = 0; rc == 0 && i < cl_offsets_count(o); i++) {
        struct cl_offset_entry e;
        cl_offsets_at(o, i, &e);
        long k = cl_group_desc_add_part(d, &pcap, e.topic, e.partition);
        if (k < 0) {
            rc = cl_errf(&err, CRAWLLOG_ENOMEM, "out of memory");
            break;
        }
        d->partitions[k].committed = e.offset;
        d->partitions[k].commit_time_ms = e.commit_ms;
    }
    cl_offsets_close(o);
    if (rc == 0) {
        /* Best effort: without a history every status is NOTFOUND. */
        struct cl_err lerr = {{0}};
        cl_lagstore_open(&store, g.dirfd, g.reldir, 0, log->fmode, &lerr);
    }
    cl_group_close(&g);
    if (rc != 0) {
        crawllog_group_desc_free(d);
        return cl_log_fail(log, rc, &err);
    }
    for (size_t i = 0; i < d->partition_count; i++) {
        crawllog_group_partition_t *p = &d->partitions[i];
        int64_t start, end;
        if (crawllog_partition_offsets(log, p->topic, p->partition, &start,
                                       &end) == 0) {
            p->log_end = end;
            if (p->committed >= 0) {
                p->lag = end > p->committed ? end - p->committed : 0;
            }
        }
    }
    rc = lag_statuses(d, store);
    cl_lagstore_close(store);
    if (rc != 0) {
        crawllog_group_desc_free(d);
        cl_errf(&err, rc, "out of memory");
        return cl_log_fail(log, rc, &err);
    }
    if (d->partition_count > 1) {
        /* member_id pointers point into members[], not into partitions[],
         * so sorting is safe. */
        qsort(d->partitions, d->partition_count, sizeof(*d->partitions),
              cl_group_desc_part_cmp);
    }
    log->errmsg[0] = '\0';
    *descp = d;
    return 0;
}

int crawllog_group_list(crawllog_t *log, char ***namesp, size_t *countp)
{
    CL_BACKEND(log, group_list, log, namesp, countp);
    struct cl_err err = {{0}};
    char **names = NULL;
    size_t n = 0, keep = 0;
    if (namesp) {
        *namesp = NULL;
    }
    if (countp) {
        *countp = 0;
    }
    if (log == NULL || namesp == NULL || countp == NULL) {
        return log ? cl_log_fail(log, cl_errf(&err, CRAWLLOG_EINVAL,
                                              "namesp and countp needed"),
                                 &err)
                   : CRAWLLOG_EINVAL;
    }
    int fd = cl_tree_open_dir(log->rootfd, CL_GROUPS_DIR);
    if (fd == -ENOENT) {
        return 0;
    }
    if (fd < 0) {
        cl_err_sys(&err, -fd, CL_GROUPS_DIR, "open");
        return cl_log_fail(log, cl_err_from_errno(-fd), &err);
    }
    int rc = cl_io_listdir("group.list", fd, &names, &n);
    cl_io_close(fd);
    if (rc != 0) {
        rc = cl_err_sys(&err, -rc, CL_GROUPS_DIR, "list");
        return cl_log_fail(log, rc, &err);
    }
    for (size_t i = 0; i < n; i++) {
        if (cl_names_topic_valid(names[i])) {
            names[keep++] = names[i];
        } else {
            cl_io_free(names[i]);
        }
    }
    *namesp = names;
    *countp = keep;
    return 0;
}
