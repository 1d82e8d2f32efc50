/*
 * group_sync.c - the poll side of a group member: staying alive, checking
 * the others, and the two-phase synchronisation (revoke, release, acquire),
 * plus the ownership check of commits.  The shared state, joins, leaves and
 * rebalances are group.c's; the protocol is described there.
 *
 * On disk: nothing of its own (it reads and writes group.state through
 * group.c's mapping).
 *
 * Invariants: as group.c's - a partition is taken only when it has no valid
 * owner and is targeted at this member; released only by its owner.
 *
 * Locks: the group lock (cl_group_lock), for microseconds; never held
 * while the caller runs a callback.
 */
#include <stdio.h>
#include <string.h>

#include "assignor.h"
#include "group.h"
#include "io.h"

/* ---------------------------------------------------------------------- */
/* Poll-side                                                               */
/* ---------------------------------------------------------------------- */

void cl_group_touch(struct cl_group *g)
{
    if (g->slot >= 0) {
        atomic_store_explicit(&g->shm->members[g->slot].last_poll_ns,
                              cl_io_mono_ns(), memory_order_relaxed);
    }
}

int cl_group_changed(const struct cl_group *g)
{
    return atomic_load_explicit(&g->shm->change_seq, memory_order_acquire) !=
           g->seen_seq;
}

int cl_group_check(struct cl_group *g, int64_t interval_ms,
                   struct cl_err *err)
{
    struct cl_group_shm *s = g->shm;
    int64_t now = cl_io_mono_ns();
    int found = 0;
    if (now < g->next_check_ns) {
        return 0;
    }
    g->next_check_ns = now + interval_ms * 1000000;
    /* Lock-free look first: most checks find nothing. */
    for (int i = 0; i < CL_GROUP_MAX_MEMBERS && !found; i++) {
        const struct cl_gmember *m = &s->members[i];
        if (m->state == CL_GM_ACTIVE && i != g->slot) {
            found = cl_io_ofd_held(g->fd, CL_GROUP_LIVE_BASE + (uint64_t)i) ==
                        0 ||
                    now - atomic_load(&m->last_poll_ns) >
                        m->max_poll_ms * 1000000;
        } else if (m->state == CL_GM_AWAY) {
            found = now - m->away_since_ns > m->session_ms * 1000000;
        }
    }
    uint64_t mine = g->slot >= 0 ? s->members[g->slot].topics : 0;
    for (int t = 0; t < s->ntopics && t < CL_GROUP_MAX_TOPICS && !found; t++) {
        if (mine & ((uint64_t)1 << t)) {
            found = cl_group_topic_partitions(g, s->topics[t].name) !=
                    s->topics[t].partitions;
        }
    }
    if (!found) {
        return 0;
    }
    int rc = cl_group_lock(g, err);
    if (rc != 0) {
        return rc;
    }
    int changed = 0;
    cl_group_sweep(g, now, &changed);
    for (int t = 0; t < s->ntopics && !changed; t++) {
        changed = cl_group_topic_partitions(g, s->topics[t].name) !=
                  s->topics[t].partitions;
    }
    if (changed) {
        rc = cl_group_rebalance(g, err);
    }
    cl_group_unlock(g);
    cl_group_ring(g);
    return rc;
}

void cl_group_sync_free(struct cl_group_sync *sy)
{
    cl_io_free(sy->revoke);
    cl_io_free(sy->owned);
    memset(sy, 0, sizeof(*sy));
}

/* Append (topic of entry i, partition) to *arr. */
static int push_tp(const struct cl_group_shm *s, int i, struct cl_gtp **arr,
                   size_t *n, size_t *cap, struct cl_err *err)
{
    if (cl_io_grow((void **)arr, cap, *n + 1, sizeof(**arr)) != 0) {
        return cl_errf(err, CRAWLLOG_ENOMEM, "out of memory");
    }
    int t = cl_group_topic_of(s, i);
    snprintf((*arr)[*n].topic, sizeof((*arr)[*n].topic), "%s",
             t >= 0 ? s->topics[t].name : "");
    (*arr)[*n].partition = t >= 0 ? i - s->topics[t].base : -1;
    (*n)++;
    return 0;
}

/* Lost membership: expelled, swept as dead, or fenced by a newer static
 * instance (lock held). */
static int check_lost(struct cl_group *g, struct cl_group_sync *sy)
{
    struct cl_group_shm *s = g->shm;
    if (cl_group_member_valid(s, g->slot, g->incarnation)) {
        return 0;
    }
    sy->lost = 1;
    const char *iid = NULL;
    for (int i = 0; i < CL_GROUP_MAX_MEMBERS; i++) {
        if (i == g->slot) {
            iid = s->members[i].instance_id;
        }
    }
    for (int i = 0; iid && iid[0] && i < CL_GROUP_MAX_MEMBERS; i++) {
        if (i != g->slot && s->members[i].state == CL_GM_ACTIVE &&
            s->members[i].incarnation > g->incarnation &&
            strcmp(s->members[i].instance_id, iid) == 0) {
            sy->fenced = 1;
        }
    }
    return 1;
}

int cl_group_sync_begin(struct cl_group *g, struct cl_group_sync *sy,
                        struct cl_err *err)
{
    struct cl_group_shm *s = g->shm;
    size_t cap = 0;
    memset(sy, 0, sizeof(*sy));
    int rc = cl_group_lock(g, err);
    if (rc != 0) {
        return rc;
    }
    g->seen_seq = atomic_load(&s->change_seq);
    if (!check_lost(g, sy)) {
        struct cl_gmember *m = &s->members[g->slot];
        int eager = !cl_asg_cooperative(s->strategy) &&
                    m->synced_gen != atomic_load(&s->generation);
        for (int i = 0; i < s->nparts && rc == 0; i++) {
            const struct cl_gpart *p = &s->parts[i];
            if (p->owner == g->slot && p->owner_inc == g->incarnation &&
                (eager || p->target != g->slot)) {
                rc = push_tp(s, i, &sy->revoke, &sy->nrevoke, &cap, err);
            }
        }
    }
    cl_group_unlock(g);
    if (rc != 0) {
        cl_group_sync_free(sy);
    }
    return rc;
}

int cl_group_sync_end(struct cl_group *g, struct cl_group_sync *sy,
                      struct cl_err *err)
{
    struct cl_group_shm *s = g->shm;
    size_t cap = 0;
    int released = 0, acquired = 0;
    int rc = cl_group_lock(g, err);
    if (rc != 0) {
        return rc;
    }
    uint64_t begin_seq = g->seen_seq;
    int outside = atomic_load(&s->change_seq) != begin_seq;
    if (check_lost(g, sy)) {
        cl_group_unlock(g);
        return 0;
    }
    for (size_t k = 0; k < sy->nrevoke; k++) {
        int i = cl_group_find_part(s, sy->revoke[k].topic, sy->revoke[k].partition);
        if (i >= 0 && s->parts[i].owner == g->slot &&
            s->parts[i].owner_inc == g->incarnation) {
            s->parts[i].owner = -1;
            s->parts[i].owner_inc = 0;
            released = 1;
        }
    }
    for (int i = 0; i < s->nparts && rc == 0; i++) {
        struct cl_gpart *p = &s->parts[i];
        if (p->target == g->slot && !cl_group_owner_valid(s, p)) {
            p->owner = (int16_t)g->slot;
            p->owner_inc = g->incarnation;
            acquired = 1;
        }
        if (p->owner == g->slot && p->owner_inc == g->incarnation) {
            rc = push_tp(s, i, &sy->owned, &sy->nowned, &cap, err);
        }
    }
    s->members[g->slot].synced_gen = atomic_load(&s->generation);
    g->generation = s->members[g->slot].synced_gen;
    if (released || acquired) {
        cl_group_bump(s);
    }
    /* A change by someone else between the phases: sync again. */
    g->seen_seq = outside ? begin_seq : atomic_load(&s->change_seq);
    cl_group_unlock(g);
    if (released) {
        cl_group_ring(g);
    }
    return rc;
}

int cl_group_check_owner_locked(struct cl_group *g,
                                const crawllog_topic_partition_t *list,
                                size_t n, struct cl_err *err)
{
    return cl_group_check_owner_as(g, g->slot, g->incarnation, list, n, err);
}

int cl_group_check_owner_as(struct cl_group *g, int slot, uint64_t inc,
                            const crawllog_topic_partition_t *list, size_t n,
                            struct cl_err *err)
{
    struct cl_group_shm *s = g->shm;
    if (slot < 0) {
        int live = 0;
        for (int i = 0; i < CL_GROUP_MAX_MEMBERS; i++) {
            live += s->members[i].state == CL_GM_ACTIVE;
        }
        if (live > 0) {
            return cl_errf(err, CRAWLLOG_EGENERATION,
                           "%s: the group has %d active member(s); a "
                           "consumer without a subscription cannot commit "
                           "for it",
                           g->reldir, live);
        }
        return 0;
    }
    if (!cl_group_member_valid(s, slot, inc)) {
        return cl_errf(err, CRAWLLOG_EGENERATION,
                       "%s: this member is no longer in the group (expelled "
                       "or fenced); poll to rejoin",
                       g->reldir);
    }
    for (size_t k = 0; k < n; k++) {
        int i = cl_group_find_part(s, list[k].topic, list[k].partition);
        if (i < 0 || s->parts[i].owner != slot ||
            s->parts[i].owner_inc != inc) {
            return cl_errf(err, CRAWLLOG_EGENERATION,
                           "%s: %s/%d is not owned by this member in "
                           "generation %d",
                           g->reldir, list[k].topic, (int)list[k].partition,
                           (int)atomic_load(&s->generation));
        }
    }
    return 0;
}

int cl_group_count_delivery(struct cl_group *g, const char *topic,
                            int32_t partition, int64_t offset,
                            uint32_t *countp, struct cl_err *err)
{
    struct cl_group_shm *s = g->shm;
    *countp = 0;
    int rc = cl_group_lock(g, err);
    if (rc != 0) {
        return rc;
    }
    int i = cl_group_find_part(s, topic, partition);
    if (i < 0 || s->parts[i].owner != g->slot ||
        s->parts[i].owner_inc != g->incarnation) {
        rc = cl_errf(err, CRAWLLOG_EGENERATION,
                     "%s: %s/%d is not owned by this member", g->reldir,
                     topic, (int)partition);
    } else {
        struct cl_gpart *p = &s->parts[i];
        if (p->pill_offset == offset) {
            p->deliveries++;
        } else {
            p->pill_offset = offset;
            p->deliveries = 1;
        }
        *countp = p->deliveries;
    }
    cl_group_unlock(g);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Subscription changes (topic migration, step 4)                          */
/* ---------------------------------------------------------------------- */

int cl_group_switch_topic_locked(struct cl_group *g, const char *from,
                                 const char *to, struct cl_err *err)
{
    struct cl_group_shm *s = g->shm;
    int f = cl_group_find_topic(s, from), changed = 0;
    if (f < 0) {
        return 0;
    }
    uint64_t bit = (uint64_t)1 << f, tomask = 0;
    int rc = cl_group_mask(g, &to, 1, &tomask, err);
    if (rc != 0) {
        return rc;
    }
    for (int i = 0; i < CL_GROUP_MAX_MEMBERS; i++) {
        struct cl_gmember *m = &s->members[i];
        if ((m->state == CL_GM_ACTIVE || m->state == CL_GM_AWAY) &&
            (m->topics & bit)) {
            m->topics = (m->topics & ~bit) | tomask;
            changed = 1;
        }
    }
    return changed ? cl_group_rebalance(g, err) : 0;
}

int cl_group_resubscribe(struct cl_group *g, const char *const *topics,
                         size_t n, struct cl_err *err)
{
    struct cl_group_shm *s = g->shm;
    uint64_t mask = 0;
    if (g->slot < 0) {
        return 0;
    }
    int rc = cl_group_lock(g, err);
    if (rc != 0) {
        return rc;
    }
    if (cl_group_member_valid(s, g->slot, g->incarnation) &&
        (rc = cl_group_mask(g, topics, n, &mask, err)) == 0 &&
        s->members[g->slot].topics != mask) {
        s->members[g->slot].topics = mask;
        rc = cl_group_rebalance(g, err);
    }
    cl_group_unlock(g);
    cl_group_ring(g);
    return rc;
}

int cl_group_topic_subscribed(struct cl_group *g, const char *topic,
                              int *usedp, struct cl_err *err)
{
    struct cl_group_shm *s = g->shm;
    *usedp = 0;
    int rc = cl_group_lock(g, err);
    if (rc != 0) {
        return rc;
    }
    int t = cl_group_find_topic(s, topic);
    for (int i = 0; t >= 0 && i < CL_GROUP_MAX_MEMBERS && !*usedp; i++) {
        const struct cl_gmember *m = &s->members[i];
        *usedp = (m->state == CL_GM_ACTIVE || m->state == CL_GM_AWAY) &&
                 (m->topics & ((uint64_t)1 << t));
    }
    cl_group_unlock(g);
    return 0;
}
