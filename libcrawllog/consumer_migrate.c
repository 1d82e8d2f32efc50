/*
 * consumer_migrate.c - step 4 of a topic migration, done by the members of
 * each consumer group (docs/MIGRATION.md): a group subscribed to <old>
 * finishes <old> up to the cut-over, then switches to <new>.
 *
 * On disk: nothing of its own.  The switch is one record of the group's
 * offsets file (offsets.c, docs/FORMAT.md section 8): the committed offset
 * start.<q> for EVERY partition q of <new>, metadata
 * "crawllog-migrated/1 <old>".  That record is the durable fact "this
 * group switched": a group has switched from <old> to <new> iff it has a
 * committed offset for every partition of <new> (the switch writes them
 * all at once, and committed offsets are never removed but by the reset
 * tools).
 *
 * What a member does, from poll (each heartbeat.interval.ms, and at once
 * when the group state changed), for each subscribed topic whose migration
 * file says it was cut over (state redirect or done):
 *  1. If the group has switched (above): read the target instead (eff[i])
 *     and set this member's subscription to it.
 *  2. For each old partition it owns where it handed nothing out since it
 *     started (position == origin) and stands at or past cut.<p> without
 *     a committed offset there: commit cut.<p>.  (A member that starts at
 *     the log end by auto.offset.reset=latest has nothing to commit
 *     otherwise, and the group would never finish <old>.)  No record is
 *     skipped: there is none between its position and the cut.
 *  3. If every old partition p with cut.<p> > 0 has a committed offset >=
 *     cut.<p>: take the group lock, check again, append the switch record
 *     and replace <old> by <new> in every member's subscription in
 *     group.state (one rebalance), release, make the record durable, then
 *     try step 5 (cl_migrate_finish).
 * Guarantees: no partition of <new> is fetched by the group before every
 * record of <old> was committed by it (per-key order across the cut-over:
 * every record of a key appended before the cut is in <old>, every later
 * one in <new> at or after start.<q>); the copies below start.<q> are
 * never handed out to a group that switched (it committed their originals
 * in <old>); a commit to <old> after the switch is refused (the group no
 * longer lists its partitions: CRAWLLOG_EGENERATION).
 *
 * Invariants: eff[i] is topics[i] or a topic reached from it through
 * migrations this group has switched; migs[i] is eff[i]'s migration once
 * seen cut over (its cut and start offsets never change after that).
 *
 * Locks: the group lock (through group.c and the commit path) for the
 * switch, for microseconds; none across a callback.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "consumer.h"
#include "io.h"
#include "log.h"
#include "migrate.h"
#include "topic.h"

#define MIGRATED_META "crawllog-migrated/1 "
#define MAX_HOPS 8

void cl_cons_mig_free(crawllog_consumer_t *c)
{
    for (size_t i = 0; i < c->ntopics; i++) {
        if (c->eff != NULL) {
            cl_io_free(c->eff[i]);
        }
        if (c->migs != NULL) {
            cl_migrate_file_free(&c->migs[i]);
        }
    }
    cl_io_free(c->eff);
    cl_io_free(c->migs);
    c->eff = NULL;
    c->migs = NULL;
}

/* migs[i] := eff[i]'s migration if it was cut over; else state 0. */
static int load(crawllog_consumer_t *c, size_t i, struct cl_err *err)
{
    struct cl_mig_cache mc;
    struct cl_mig *m = &c->migs[i];
    if (m->state != 0) {
        return 0;
    }
    int rc = cl_log_migration(c->log, c->eff[i], 1, &mc, err);
    if (rc == CRAWLLOG_ENOTOPIC) {
        err->msg[0] = '\0';
        return 0; /* not created yet (or deleted): nothing to follow */
    }
    if (rc != 0 || mc.state < CRAWLLOG_MIGRATION_REDIRECT) {
        return rc;
    }
    int dirfd = -1;
    char rel[CL_MIGRATE_REL_SIZE];
    snprintf(rel, sizeof(rel), "topics/%s/%s", c->eff[i], CL_MIGRATE_NAME);
    rc = cl_topic_open_dir(c->log->rootfd, c->eff[i], &dirfd, err);
    if (rc == 0) {
        rc = cl_migrate_file_read(dirfd, rel, m, err);
        cl_io_close(dirfd);
    }
    if (rc == 0 && m->state < CRAWLLOG_MIGRATION_REDIRECT) {
        cl_migrate_file_free(m); /* cut over again? cannot go back */
        memset(m, 0, sizeof(*m));
    }
    return rc;
}

/* How many of topic's partitions 0..n-1 the group committed: with min,
 * at an offset >= min[p] (a partition with min[p] <= 0 counts anyway). */
static int32_t committed(const crawllog_consumer_t *c, const char *topic,
                         int32_t n, const int64_t *min)
{
    struct cl_offset_entry e;
    int32_t count = 0;
    for (int32_t p = 0; p < n; p++) {
        count += (min != NULL && min[p] <= 0) ||
                 (cl_offsets_get(c->offsets, topic, p, &e) &&
                  (min == NULL || e.offset >= min[p]));
    }
    return count;
}

/* Switched: an offset committed on every partition of the target. */
static int switched(const crawllog_consumer_t *c, const struct cl_mig *m)
{
    return committed(c, m->target, m->n, NULL) == m->n;
}

/* Drained: every old partition committed up to its cut. */
static int drained(const crawllog_consumer_t *c, const char *old,
                   const struct cl_mig *m)
{
    return committed(c, old, m->m, m->cut) == m->m;
}

/* Untouched: nothing committed on any old partition. */
static int untouched(const crawllog_consumer_t *c, const char *old,
                     const struct cl_mig *m)
{
    return committed(c, old, m->m, NULL) == 0;
}

/* eff[i] := the target of its migration. */
static int follow(crawllog_consumer_t *c, size_t i, struct cl_err *err)
{
    char *t = cl_io_strdup(c->migs[i].target);
    if (t == NULL) {
        return cl_errf(err, CRAWLLOG_ENOMEM, "out of memory");
    }
    cl_io_free(c->eff[i]);
    c->eff[i] = t;
    cl_migrate_file_free(&c->migs[i]);
    memset(&c->migs[i], 0, sizeof(c->migs[i]));
    return 0;
}

int cl_cons_mig_init(crawllog_consumer_t *c, struct cl_err *err)
{
    c->eff = cl_io_calloc(c->ntopics + 1, sizeof(*c->eff));
    c->migs = cl_io_calloc(c->ntopics + 1, sizeof(*c->migs));
    int rc = c->eff && c->migs ? 0
                               : cl_errf(err, CRAWLLOG_ENOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < c->ntopics; i++) {
        if ((c->eff[i] = cl_io_strdup(c->topics[i])) == NULL) {
            rc = cl_errf(err, CRAWLLOG_ENOMEM, "out of memory");
        }
    }
    if (rc == 0) {
        rc = cl_cons_group(c, err);
    }
    if (rc == 0) {
        rc = cl_offsets_refresh(c->offsets, err);
    }
    for (size_t i = 0; rc == 0 && i < c->ntopics; i++) {
        for (int hop = 0; rc == 0 && hop < MAX_HOPS; hop++) {
            int used = 1;
            if ((rc = load(c, i, err)) != 0 || c->migs[i].state == 0) {
                break;
            }
            /* Switched; or nothing of <old> committed and no member on
             * it (nobody has consumed it): start on <new> directly, from
             * auto.offset.reset there (<new> holds the same records). */
            if (!switched(c, &c->migs[i]) &&
                (!untouched(c, c->eff[i], &c->migs[i]) ||
                 (rc = cl_group_topic_subscribed(&c->group, c->eff[i],
                                                 &used, err)) != 0 ||
                 used)) {
                break;
            }
            rc = follow(c, i, err);
        }
    }
    c->next_mig_ns = 0;
    if (rc != 0) {
        cl_cons_mig_free(c);
    }
    return rc;
}

int cl_cons_mig_left(const crawllog_consumer_t *c, const char *topic)
{
    /* The group stops listing a cut-over topic's partitions only when it
     * switches, which it does once they are all committed to the cut. */
    struct cl_mig_cache mc;
    struct cl_err e = {{0}};
    return c->eff != NULL && cl_log_migration(c->log, topic, 1, &mc, &e) == 0 &&
           mc.state >= CRAWLLOG_MIGRATION_REDIRECT;
}

/* Step 2: commit cut.<p> of owned old partitions where nothing was handed
 * out and the position is at or past the cut. */
static int commit_empty(crawllog_consumer_t *c, size_t i, struct cl_err *err)
{
    const struct cl_mig *m = &c->migs[i];
    struct cl_offset_entry *e = cl_io_calloc(c->nparts + 1, sizeof(*e));
    size_t n = 0;
    if (e == NULL) {
        return cl_errf(err, CRAWLLOG_ENOMEM, "out of memory");
    }
    for (size_t k = 0; k < c->nparts; k++) {
        struct cl_cpart *cp = &c->parts[k];
        struct cl_offset_entry ce;
        if (strcmp(cp->topic, c->eff[i]) != 0 || cp->partition >= m->m ||
            cp->rd == NULL || cp->position != cp->origin ||
            cp->position < m->cut[cp->partition] ||
            (cl_offsets_get(c->offsets, cp->topic, cp->partition, &ce) &&
             ce.offset >= m->cut[cp->partition])) {
            continue;
        }
        e[n].topic = cp->topic;
        e[n].partition = cp->partition;
        e[n].offset = m->cut[cp->partition];
        n++;
    }
    int rc = n > 0 ? cl_cons_commit(c, e, n, CRAWLLOG_SYNC_DURABLE, err) : 0;
    cl_io_free(e);
    return rc == CRAWLLOG_EGENERATION ? 0 : rc; /* a rebalance: next time */
}

/* Step 3: switch the group from eff[i] to its target.  *didp = 1 if this
 * call (or another member meanwhile) switched it. */
static int switch_group(crawllog_consumer_t *c, size_t i, int *didp,
                        struct cl_err *err)
{
    const struct cl_mig *m = &c->migs[i];
    struct cl_offset_entry *e = cl_io_calloc((size_t)m->n, sizeof(*e));
    char meta[CRAWLLOG_TOPIC_NAME_MAX + sizeof(MIGRATED_META)];
    uint64_t token = 0;
    if (e == NULL) {
        return cl_errf(err, CRAWLLOG_ENOMEM, "out of memory");
    }
    size_t n = 0;
    snprintf(meta, sizeof(meta), "%s%s", MIGRATED_META, c->eff[i]);
    int rc = cl_group_lock(&c->group, err);
    if (rc == 0) {
        rc = cl_offsets_refresh(c->offsets, err);
        if (rc == 0 && switched(c, m)) {
            *didp = 1; /* another member did it */
        } else if (rc == 0 && drained(c, c->eff[i], m)) {
            /* A partition of <new> with a committed offset keeps it (a
             * member that started on <new> directly). */
            for (int32_t q = 0; q < m->n; q++) {
                struct cl_offset_entry ce;
                if (!cl_offsets_get(c->offsets, m->target, q, &ce)) {
                    e[n].topic = m->target;
                    e[n].partition = q;
                    e[n].offset = m->start[q];
                    e[n++].metadata = meta;
                }
            }
            rc = cl_offsets_append(c->offsets, e, n, c->group.generation,
                                   c->group.slot, &token, err);
            if (rc == 0) {
                *didp = 1;
                /* The record is the switch; a failure to update the
                 * members now is repaired by their own checks (1.). */
                struct cl_err e2 = {{0}};
                cl_group_switch_topic_locked(&c->group, c->eff[i],
                                             m->target, &e2);
            }
        }
        cl_group_unlock(&c->group);
        cl_group_ring(&c->group);
    }
    if (rc == 0 && token != 0) {
        rc = cl_offsets_sync(c->offsets, token, err);
    }
    cl_io_free(e);
    return rc;
}

int cl_cons_mig_step(crawllog_consumer_t *c, int force, struct cl_err *err)
{
    int64_t now = cl_io_mono_ns();
    int changed = 0, rc = 0, refreshed = 0;
    if (c->eff == NULL || (!force && now < c->next_mig_ns)) {
        return 0;
    }
    c->next_mig_ns = now + c->heartbeat_ms * 1000000;
    for (size_t i = 0; rc == 0 && i < c->ntopics; i++) {
        if (force && c->migs[i].state == 0) {
            continue; /* new migrations are looked for on the timer */
        }
        if ((rc = load(c, i, err)) != 0 || c->migs[i].state == 0) {
            continue;
        }
        if (!refreshed && (rc = cl_offsets_refresh(c->offsets, err)) != 0) {
            break;
        }
        refreshed = 1;
        int did = switched(c, &c->migs[i]);
        if (!did && (rc = commit_empty(c, i, err)) == 0 &&
            drained(c, c->eff[i], &c->migs[i])) {
            rc = switch_group(c, i, &did, err);
        }
        if (rc == 0 && did) {
            char old[CRAWLLOG_TOPIC_NAME_MAX + 1];
            snprintf(old, sizeof(old), "%s", c->eff[i]);
            rc = follow(c, i, err);
            changed = 1;
            if (rc == 0) {
                /* Step 5, best effort: the migration call retries it. */
                struct cl_err e2 = {{0}};
                cl_migrate_finish(c->log, old, NULL, &e2);
            }
        }
    }
    if (rc == 0 && changed) {
        rc = cl_group_resubscribe(&c->group, (const char *const *)c->eff,
                                  c->ntopics, err);
        c->next_mig_ns = 0; /* the target may itself be migrated */
    }
    return rc;
}
