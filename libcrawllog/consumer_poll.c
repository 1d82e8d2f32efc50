/*
 * consumer_poll.c - crawllog_consumer_poll: the membership step (last-poll
 * stamp, liveness checks, sync when the group changed), auto-commit, the
 * fetch of records as views into per-partition reader buffers, and the
 * wait on the consumer's doorbell.  See consumer.c for the invariants of
 * the consumer as a whole.
 *
 * On disk: nothing.
 *
 * Invariants: a reader's buffer is refilled at most once per poll, and only
 * before any of its records was handed out in that poll, so every message
 * of one poll stays valid until the next; before sleeping, the consumer is
 * registered in the watch set of every partition it reads and re-checks
 * their log ends (no lost wake-up).
 *
 * Transactions (issue 10): readers follow isolation.level (consumer_commit.c
 * sets it).  A reader that has nothing more now stands past everything not
 * for us (markers; aborted records in read_committed): the position moves
 * there, so commit(NULL) commits past a trailing marker and the group's lag
 * reaches 0.  A read_committed reader stopped at an open transaction counts
 * as "no data" until an append past the log end it saw then (the marker
 * rings the partition's watchers); the sleep is capped at a second so the
 * reader can abort a dead producer's transaction.  A partition whose
 * committed offset is not stable (an undecided transaction staged one:
 * cl_cons_start leaves it pending) is not read; its start is tried again at
 * the start of every poll and every 100 ms within one.
 *
 * Locks: none of its own; the group lock only inside group.c calls.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "backend.h"
#include "conf.h"
#include "consumer.h"
#include "io.h"
#include "log.h"
#include "notify.h"
#include "partition.h"

/* ---------------------------------------------------------------------- */
/* Poll                                                                    */
/* ---------------------------------------------------------------------- */

/* A group member hands out the message at the committed offset: count it
 * (once per hand-out; a commit past it starts the count again).  Past
 * max.deliveries it is a poison pill - the consumers it was handed to died
 * or gave the partition up before committing past it: dead-letter it
 * (*pillp = 1) instead of handing it out. */
static int check_pill(crawllog_consumer_t *c, struct cl_cpart *cp,
                      const struct crawllog_msg_s *msg, int *pillp,
                      struct cl_err *err)
{
    int64_t max = cl_conf_int(c->conf, CL_CONF_MAX_DELIVERIES);
    uint32_t count = 0;
    *pillp = 0;
    cp->pill_counted = msg->rv.offset;
    if (max == 0) {
        return 0;
    }
    int rc = cl_group_count_delivery(&c->group, cp->topic, cp->partition,
                                     msg->rv.offset, &count, err);
    if (rc != 0 || (int64_t)count <= max) {
        return rc;
    }
    char reason[160];
    snprintf(reason, sizeof(reason),
             "poison pill: handed out %u times without being committed "
             "(max.deliveries=%lld)",
             (unsigned)count - 1, (long long)max);
    rc = cl_cons_dead_letter(c, msg, reason, (int32_t)(count - 1), err);
    *pillp = rc == 0;
    return rc;
}

/* A partition whose committed offset is not stable yet (cl_cons_start left
 * it pending) is tried again this often within one poll (and at the start
 * of every poll). */
#define PENDING_RETRY_NS (100 * 1000000LL)

/* Longest sleep while a reader is blocked behind an open transaction: its
 * next call may abort the transaction if its producer died (the reader
 * does that at most once a second), and nothing else would wake us. */
#define BLOCKED_RECHECK_NS (1000 * 1000000LL)

/* The reader of cp has nothing more to return now and stands at rpos:
 * every record before it was handed out or is not for this consumer
 * (transaction markers; aborted records in read_committed).  Move the
 * position there, so that commit(NULL) commits past them and the group's
 * lag can reach 0 (Kafka's consumer does the same); with nothing handed
 * out since the start, the origin moves too (nothing was skipped that
 * the application could have seen). */
static void skipped_to(struct cl_cpart *cp, int64_t rpos)
{
    if (rpos > cp->position && cp->position >= 0) {
        if (cp->origin == cp->position) {
            cp->origin = rpos;
        }
        if (cp->position == cp->committed) {
            cp->skipped_committed = 1;
        }
        cp->position = rpos;
    }
}

/* Is msg the first record handed out at or after the committed offset
 * (poison-pill counting, once per commit)?  Usually it is at the committed
 * offset; with transactions the records there may be skipped (markers,
 * aborted ones): then the first record after them, whether the reader
 * skipped them within this poll (the position is still the committed
 * offset) or in an earlier one (skipped_to). */
static int pill_due(const struct cl_cpart *cp, const struct crawllog_msg_s *msg)
{
    int64_t off = msg->rv.offset;
    if (cp->pill_counted == cp->committed || cp->committed < 0) {
        return 0;
    }
    return off == cp->committed ||
           (off > cp->committed &&
            (cp->position == cp->committed || cp->skipped_committed));
}

/* Hand out up to max records; *np gets how many. */
static int fetch(crawllog_consumer_t *c, const crawllog_msg_t **msgs,
                 size_t max, size_t *np, struct cl_err *err)
{
    size_t n = 0;
    int rc = 0;
    if (cl_io_grow((void **)&c->msgs, &c->msgcap, max, sizeof(*c->msgs)) !=
        0) {
        return cl_errf(err, CRAWLLOG_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < c->nparts; i++) {
        c->parts[i].handed = c->parts[i].filled = 0;
    }
    for (size_t k = 0; k < c->nparts && n < max && rc == 0; k++) {
        struct cl_cpart *cp = &c->parts[(c->rr + k) % c->nparts];
        if (cp->paused) {
            continue;
        }
        if (cp->gone) {
            continue;
        }
        if (cp->rd == NULL && cp->pending &&
            cl_io_mono_ns() < cp->retry_ns) {
            continue; /* its committed offset is not stable yet */
        }
        if (cp->rd == NULL && (rc = cl_cons_start(c, cp, err)) != 0) {
            if (rc == CRAWLLOG_ENOTOPIC && c->mode == CL_CONS_SUBSCRIBED) {
                /* The topic was deleted: the group drops the partition at
                 * its next check; until then it has nothing to read. */
                cp->gone = 1;
                rc = 0;
                continue;
            }
            break;
        }
        if (cp->rd == NULL) {
            /* An undecided transaction staged an offset for it: no error,
             * nothing from it now, tried again later in this poll. */
            cp->retry_ns = cl_io_mono_ns() + PENDING_RETRY_NS;
            continue;
        }
        /* Read before the reader looks: an append after it (the marker
         * of the transaction the reader may stop at) wakes the wait. */
        cl_partition_offsets(cl_reader_partition(cp->rd), NULL,
                             &cp->blocked_end, err);
        cp->blocked = 0;
        while (n < max) {
            int got = 0;
            int may_fill = !cp->handed && !cp->filled;
            rc = cl_reader_next_into(cp->rd, may_fill, (size_t)c->fetch_bytes,
                                     &c->msgs[n], &got);
            cp->filled |= may_fill;
            if (rc == CRAWLLOG_EOFFSET && !cp->handed) {
                /* Deleted by retention under our position. */
                crawllog_reader_destroy(cp->rd);
                cp->rd = NULL;
                cp->start = CL_START_RESET;
                rc = cl_cons_start(c, cp, err);
                if (rc != 0) {
                    break; /* auto.offset.reset=error, or worse */
                }
                continue;
            }
            if (rc != 0) {
                cl_errf(err, rc, "%s", crawllog_reader_errmsg(cp->rd));
                break;
            }
            if (!got) {
                skipped_to(cp, crawllog_reader_position(cp->rd));
                cp->blocked = cl_reader_blocked(cp->rd);
                break;
            }
            if (c->mode == CL_CONS_SUBSCRIBED && pill_due(cp, &c->msgs[n])) {
                int pill = 0;
                rc = check_pill(c, cp, &c->msgs[n], &pill, err);
                if (rc != 0) {
                    /* Not handed out, but the reader is past it: go back,
                     * so that the next poll counts and hands it out (else
                     * it would be skipped - found by test_fault_group). */
                    int64_t at = c->msgs[n].rv.offset;
                    cp->pill_counted = -1;
                    if (crawllog_reader_seek(cp->rd, at) != 0) {
                        crawllog_reader_destroy(cp->rd);
                        cp->rd = NULL;
                        cp->start = at;
                    }
                    break;
                }
                if (pill) {
                    cp->skipped_committed = 0;
                    cp->position = c->msgs[n].rv.offset + 1;
                    continue; /* dead-lettered: not handed out */
                }
            }
            cp->handed = 1;
            cp->skipped_committed = 0;
            cp->position = c->msgs[n].rv.offset + 1;
            msgs[n] = &c->msgs[n];
            n++;
        }
    }
    c->rr = c->nparts ? (c->rr + 1) % c->nparts : 0;
    *np = n;
    return n > 0 ? 0 : rc; /* deliver what we have; the error recurs */
}

/* 1 if an owned, unpaused partition has data at its position. */
static int data_ready(crawllog_consumer_t *c)
{
    for (size_t i = 0; i < c->nparts; i++) {
        struct cl_cpart *cp = &c->parts[i];
        int64_t end = 0;
        struct cl_err err;
        if (cp->paused || cp->gone) {
            continue;
        }
        if (cp->rd == NULL) {
            if (cp->pending) {
                continue; /* waits for its retry time (sleep_cap) */
            }
            return 1; /* start not resolved yet */
        }
        err.msg[0] = '\0';
        cl_partition_offsets(cl_reader_partition(cp->rd), NULL, &end, &err);
        if (cp->blocked) {
            /* Stopped at an open transaction: only an append since then
             * (its marker, or more behind it) can change that. */
            if (end > cp->blocked_end) {
                return 1;
            }
            continue;
        }
        if (end > crawllog_reader_position(cp->rd)) {
            return 1;
        }
    }
    return 0;
}

/* The longest sleep allowed from now (ns) by the partitions waiting on a
 * transaction: a pending start's retry time, a blocked reader's recheck;
 * INT64_MAX if none. */
static int64_t sleep_cap(const crawllog_consumer_t *c, int64_t now)
{
    int64_t cap = INT64_MAX;
    for (size_t i = 0; i < c->nparts; i++) {
        const struct cl_cpart *cp = &c->parts[i];
        int64_t d = INT64_MAX;
        if (cp->paused || cp->gone) {
            continue;
        }
        if (cp->rd == NULL && cp->pending) {
            d = cp->retry_ns > now ? cp->retry_ns - now : 0;
        } else if (cp->rd != NULL && cp->blocked) {
            d = BLOCKED_RECHECK_NS;
        }
        cap = d < cap ? d : cap;
    }
    return cap;
}

/* Sleep until an append to an owned partition, a group change, or
 * timeout_ns. */
static void wait_data(crawllog_consumer_t *c, int64_t timeout_ns)
{
    struct cl_notify *n = cl_log_notify(c->log);
    uint32_t seen = cl_notify_seq(n, c->notify_slot);
    for (size_t i = 0; i < c->nparts; i++) {
        if (!c->parts[i].paused && c->parts[i].rd != NULL) {
            cl_watch_add(cl_partition_watch(cl_reader_partition(c->parts[i].rd)),
                         c->notify_slot);
        }
    }
    int changed = c->mode == CL_CONS_SUBSCRIBED && c->group_open &&
                  cl_group_changed(&c->group);
    if (!changed && !data_ready(c)) {
        cl_notify_wait(n, c->notify_slot, seen, timeout_ns);
    }
    for (size_t i = 0; i < c->nparts; i++) {
        if (c->parts[i].rd != NULL) {
            cl_watch_remove(
                cl_partition_watch(cl_reader_partition(c->parts[i].rd)),
                c->notify_slot);
        }
    }
}

/* The group part of a poll: stay alive, check others, sync. */
static int group_step(crawllog_consumer_t *c, struct cl_err *err)
{
    struct cl_group *g = &c->group;
    int64_t now = cl_io_mono_ns();
    if (!c->group_open || cl_group_retired(g)) {
        /* The group was deleted while this consumer was out of it
         * (expelled: crawllog_group_delete refuses a group with members),
         * or reopening it failed: whatever it held is gone; join the
         * group afresh. */
        cl_cons_lose_all(c);
        if (c->group_open) {
            cl_group_leave(g);
        }
        return cl_cons_join(c, err);
    }
    if (g->slot >= 0 &&
        g->shm->members[g->slot].instance_id[0] == '\0' &&
        now - atomic_load(&g->shm->members[g->slot].last_poll_ns) >
            cl_conf_int(c->conf, CL_CONF_MAX_POLL_INTERVAL_MS) * 1000000) {
        /* We overran max.poll.interval.ms ourselves: whether or not the
         * others noticed, our partitions may be gone. */
        cl_cons_lose_all(c);
        cl_group_leave(g);
        int rc = cl_cons_join(c, err);
        if (rc != 0) {
            return rc;
        }
    }
    cl_group_touch(g);
    int rc = cl_group_check(g, c->heartbeat_ms, err);
    if (rc == 0) {
        /* Before the sync: a switch by another member must be known when
         * the old partitions disappear (revoked, not lost). */
        rc = cl_cons_mig_step(c, cl_group_changed(g), err);
    }
    if (rc == 0 && cl_group_changed(g)) {
        rc = cl_cons_group_sync(c, err);
    }
    return rc;
}

int crawllog_consumer_poll(crawllog_consumer_t *cons, int timeout_ms,
                           const crawllog_msg_t **msgs, size_t max,
                           size_t *countp)
{
    CL_BACKEND(cons, consumer_poll, cons, timeout_ms, msgs, max, countp);
    struct cl_err err;
    err.msg[0] = '\0';
    if (countp) {
        *countp = 0;
    }
    if (cons == NULL || msgs == NULL || countp == NULL || max == 0) {
        return cons ? cl_cons_fail(cons, CRAWLLOG_EINVAL, NULL)
                    : CRAWLLOG_EINVAL;
    }
    int rc0 = cl_cons_check_state(cons, 1);
    if (rc0 != 0) {
        return rc0;
    }
    int64_t limit = cl_conf_int(cons->conf, CL_CONF_MAX_POLL_RECORDS);
    if (max > (uint64_t)limit) { /* not (int64_t)max: SIZE_MAX is -1 */
        max = (size_t)limit;
    }
    int64_t start = cl_io_mono_ns();
    int64_t deadline = timeout_ms < 0 ? INT64_MAX
                                      : start + (int64_t)timeout_ms * 1000000;
    for (size_t i = 0; i < cons->nparts; i++) {
        cons->parts[i].retry_ns = 0; /* pending starts: try again now */
    }
    for (;;) {
        int rc = 0;
        if (cons->mode == CL_CONS_SUBSCRIBED) {
            rc = group_step(cons, &err);
        }
        if (rc == 0 && cons->mode != CL_CONS_NONE &&
            cl_conf_int(cons->conf, CL_CONF_ENABLE_AUTO_COMMIT) &&
            cl_io_mono_ns() >= cons->next_autocommit_ns && cons->group_id[0]) {
            cons->next_autocommit_ns =
                cl_io_mono_ns() +
                cl_conf_int(cons->conf, CL_CONF_AUTO_COMMIT_INTERVAL_MS) *
                    1000000;
            struct cl_err cerr = {{0}};
            cl_cons_commit_positions(cons, NULL, 0, CRAWLLOG_SYNC_WRITTEN,
                                     &cerr);
        }
        if (rc == 0) {
            rc = fetch(cons, msgs, max, countp, &err);
        }
        if (rc != 0) {
            return cl_cons_fail(cons, rc, &err);
        }
        int64_t now = cl_io_mono_ns();
        if (*countp > 0 || now >= deadline) {
            return 0;
        }
        int64_t slice = deadline - now;
        if (cons->mode == CL_CONS_SUBSCRIBED &&
            slice > cons->heartbeat_ms * 1000000) {
            slice = cons->heartbeat_ms * 1000000;
        }
        int64_t cap = sleep_cap(cons, now);
        if (slice > cap) {
            slice = cap;
        }
        wait_data(cons, slice);
    }
}

