/*
 * consumer.c - crawllog_consumer_t: creation, subscribe / assign, the
 * group synchronisation run from poll, close.  Poll itself is
 * consumer_poll.c, commits and positions consumer_commit.c.
 *
 * On disk: nothing of its own (group.c owns groups/<g>/group.state,
 * offsets.c groups/<g>/offsets, lagstore.c groups/<g>/lag.history,
 * notify.c the doorbell it claims).
 *
 * Poll: keep the membership alive (last-poll stamp, liveness checks each
 * heartbeat.interval.ms), synchronise with the group when its state
 * changed (revoke -> callback -> release -> acquire -> callback), then
 * hand out records of the owned, unpaused partitions as views into their
 * readers' buffers.  A reader's buffer is refilled at most once per poll
 * and only before any of its records was handed out in that poll, so
 * every message of one poll stays valid until the next.  With nothing to
 * read it sleeps on its doorbell after registering in each partition's
 * watch set (and the group rings every member on a change): woken within
 * microseconds by an append in any process, never sleep-polling.
 *
 * Invariants: cparts lists exactly what the member owns after its last
 * sync (group mode) or what was assigned (manual); a partition is handed
 * out only from its position, which moves past each message handed out.
 *
 * Locks: a consumer is used by one thread at a time and has no mutex; it
 * takes the group lock inside group.c / commits for microseconds, never
 * across a callback or a wait.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "assignor.h"
#include "backend.h"
#include "conf.h"
#include "consumer.h"
#include "io.h"
#include "log.h"
#include "names.h"
#include "notify.h"
#include "partition.h"

int cl_cons_fail(crawllog_consumer_t *c, int rc, const struct cl_err *err)
{
    cl_err_copy(c->errmsg, sizeof(c->errmsg),
                err && err->msg[0] ? err->msg : crawllog_strerror(rc));
    return rc;
}

int cl_cons_check_state(crawllog_consumer_t *c, int no_callback)
{
    if (c->closed || c->fatal || (no_callback && c->in_cb)) {
        return cl_cons_fail(c,
                            c->fatal       ? c->fatal
                            : c->closed    ? CRAWLLOG_ECLOSED
                                           : CRAWLLOG_EMISUSE,
                            NULL);
    }
    return 0;
}

int cl_cons_check_msg(crawllog_consumer_t *c, const crawllog_msg_t *msg)
{
    if (c->msgs == NULL || msg < c->msgs || msg >= c->msgs + c->msgcap) {
        struct cl_err err = {{0}};
        cl_errf(&err, CRAWLLOG_EINVAL,
                "msg was not returned by this consumer's poll");
        return cl_cons_fail(c, CRAWLLOG_EINVAL, &err);
    }
    return 0;
}

const char *crawllog_consumer_errmsg(const crawllog_consumer_t *cons)
{
    CL_BACKEND(cons, consumer_errmsg, cons);
    return cons ? cons->errmsg : "";
}

int cl_cons_group(crawllog_consumer_t *c, struct cl_err *err)
{
    if (c->group_id[0] == '\0') {
        return cl_errf(err, CRAWLLOG_EINVAL, "group.id is not set");
    }
    if (c->group_open && cl_group_retired(&c->group)) {
        /* crawllog_group_delete removed the group since this handle opened
         * it (this consumer was not a member then): drop the old files'
         * handles; the group is opened - created - afresh below. */
        cl_offsets_close(c->offsets);
        c->offsets = NULL;
        c->unsynced_token = 0;
        cl_lagstore_close(c->lag);
        c->lag = NULL;
        cl_group_close(&c->group);
        c->group_open = 0;
    }
    if (!c->group_open) {
        int rc = cl_group_open(&c->group, c->log, c->group_id, 1, err);
        if (rc != 0) {
            return rc;
        }
        c->group_open = 1;
    }
    if (c->offsets == NULL) {
        /* First use, or reopened after a failed sync: offsets.c refuses
         * further work on a handle whose sync failed. */
        c->unsynced_token = 0;
        int rc = cl_offsets_open(&c->offsets, c->group.dirfd,
                                 c->group.reldir, c->log->fmode, err);
        if (rc == 0 && c->lag == NULL) {
            /* Monitoring only: a commit never fails for it.  Tried again
             * only when the offsets handle is reopened, so a store that
             * cannot be opened costs nothing per commit. */
            struct cl_err lerr = {{0}};
            cl_lagstore_open(&c->lag, c->group.dirfd, c->group.reldir, 1,
                             c->log->fmode, &lerr);
        }
        return rc;
    }
    return 0;
}

struct cl_cpart *cl_cons_find(crawllog_consumer_t *c, const char *topic,
                              int32_t partition)
{
    for (size_t i = 0; topic != NULL && i < c->nparts; i++) {
        if (c->parts[i].partition == partition &&
            strcmp(c->parts[i].topic, topic) == 0) {
            return &c->parts[i];
        }
    }
    return NULL;
}

int crawllog_consumer_new(crawllog_t *log, const crawllog_conf_t *conf,
                          crawllog_consumer_t **consp, char *errstr,
                          size_t errstr_size)
{
    CL_BACKEND(log, consumer_new, log, conf, consp, errstr, errstr_size);
    struct cl_err err = {{0}};
    int rc = 0;
    if (consp) {
        *consp = NULL;
    }
    if (log == NULL || consp == NULL) {
        cl_err_copy(errstr, errstr_size, "log or consp is NULL");
        return CRAWLLOG_EINVAL;
    }
    crawllog_consumer_t *c = cl_io_calloc(1, sizeof(*c));
    if (c == NULL) {
        cl_err_copy(errstr, errstr_size, "out of memory");
        return CRAWLLOG_ENOMEM;
    }
    c->log = log;
    c->notify_slot = -1;
    if ((conf ? crawllog_conf_dup(&c->conf, conf)
              : crawllog_conf_new(&c->conf)) != 0) {
        rc = cl_errf(&err, CRAWLLOG_ENOMEM, "out of memory");
        goto fail;
    }
    snprintf(c->group_id, sizeof(c->group_id), "%s",
             cl_conf_str(c->conf, CL_CONF_GROUP_ID));
    c->heartbeat_ms = cl_conf_int(c->conf, CL_CONF_HEARTBEAT_INTERVAL_MS);
    c->fetch_bytes = cl_conf_int(c->conf, CL_CONF_MAX_PARTITION_FETCH_BYTES);
    c->reset = (int)cl_conf_int(c->conf, CL_CONF_AUTO_OFFSET_RESET);
    rc = cl_notify_claim(cl_log_notify(log), &c->notify_slot, &err);
    if (rc != 0) {
        c->notify_slot = -1;
        goto fail;
    }
    *consp = c;
    cl_err_copy(errstr, errstr_size, "");
    return 0;
fail:
    cl_err_copy(errstr, errstr_size, err.msg);
    crawllog_consumer_destroy(c);
    return rc;
}

int crawllog_consumer_set_rebalance_cb(crawllog_consumer_t *cons,
                                       crawllog_rebalance_cb *cb,
                                       void *opaque)
{
    CL_BACKEND(cons, consumer_set_rebalance_cb, cons, cb, opaque);
    if (cons == NULL) {
        return CRAWLLOG_EINVAL;
    }
    cons->cb = cb;
    cons->cb_opaque = opaque;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* The partition list                                                      */
/* ---------------------------------------------------------------------- */

static void drop_part(crawllog_consumer_t *c, size_t i)
{
    crawllog_reader_destroy(c->parts[i].rd);
    cl_io_free(c->parts[i].topic);
    c->parts[i] = c->parts[--c->nparts];
}

/* Drop the listed partitions from the consumer's list. */
static void drop_listed(crawllog_consumer_t *c, const struct cl_gtp *tps,
                        size_t n)
{
    for (size_t k = 0; k < n; k++) {
        for (size_t i = 0; i < c->nparts; i++) {
            if (c->parts[i].partition == tps[k].partition &&
                strcmp(c->parts[i].topic, tps[k].topic) == 0) {
                drop_part(c, i);
                break;
            }
        }
    }
}

static void drop_all(crawllog_consumer_t *c)
{
    while (c->nparts > 0) {
        drop_part(c, c->nparts - 1);
    }
}

static int add_part(crawllog_consumer_t *c, const char *topic,
                    int32_t partition, int64_t start, struct cl_err *err)
{
    if (cl_io_grow((void **)&c->parts, &c->partcap, c->nparts + 1,
                   sizeof(*c->parts)) != 0) {
        return cl_errf(err, CRAWLLOG_ENOMEM, "out of memory");
    }
    struct cl_cpart *cp = &c->parts[c->nparts];
    memset(cp, 0, sizeof(*cp));
    cp->topic = cl_io_strdup(topic);
    if (cp->topic == NULL) {
        return cl_errf(err, CRAWLLOG_ENOMEM, "out of memory");
    }
    cp->partition = partition;
    cp->position = -1;
    cp->committed = -1;
    cp->pill_counted = -1;
    cp->origin = -1;
    cp->start = start;
    c->nparts++;
    return 0;
}

/* Call the rebalance callback with a list of (topic, partition). */
static void callback(crawllog_consumer_t *c, int event,
                     const struct cl_gtp *tps, size_t n)
{
    if (c->cb == NULL || n == 0) {
        return;
    }
    crawllog_topic_partition_t *list = cl_io_calloc(n, sizeof(*list));
    if (list == NULL) {
        return; /* the rebalance itself goes on */
    }
    for (size_t i = 0; i < n; i++) {
        struct cl_cpart *cp = cl_cons_find(c, tps[i].topic, tps[i].partition);
        list[i].topic = tps[i].topic;
        list[i].partition = tps[i].partition;
        list[i].offset = cp ? cp->position : -1;
    }
    c->in_cb = 1;
    c->cb(c, event, list, n, c->cb_opaque);
    c->in_cb = 0;
    cl_io_free(list);
}

/* Our owned partitions as (topic, partition) pairs. */
static int owned_tps(crawllog_consumer_t *c, struct cl_gtp **tpsp,
                     struct cl_err *err)
{
    *tpsp = cl_io_calloc(c->nparts + 1, sizeof(**tpsp));
    if (*tpsp == NULL) {
        return cl_errf(err, CRAWLLOG_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < c->nparts; i++) {
        snprintf((*tpsp)[i].topic, sizeof((*tpsp)[i].topic), "%s",
                 c->parts[i].topic);
        (*tpsp)[i].partition = c->parts[i].partition;
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Membership                                                              */
/* ---------------------------------------------------------------------- */

int cl_cons_join(crawllog_consumer_t *c, struct cl_err *err)
{
    struct cl_group_join j;
    j.client_id = cl_conf_str(c->conf, CL_CONF_CLIENT_ID);
    j.instance_id = cl_conf_str(c->conf, CL_CONF_GROUP_INSTANCE_ID);
    j.strategy =
        (int)cl_conf_int(c->conf, CL_CONF_PARTITION_ASSIGNMENT_STRATEGY);
    j.max_poll_ms = cl_conf_int(c->conf, CL_CONF_MAX_POLL_INTERVAL_MS);
    j.session_ms = cl_conf_int(c->conf, CL_CONF_SESSION_TIMEOUT_MS);
    j.notify_slot = c->notify_slot;
    j.topics = (const char *const *)c->eff;
    j.ntopics = c->ntopics;
    /* A group deleted since this handle opened it (or while joining:
     * the join's lock says so) is opened - created - afresh. */
    int rc = CRAWLLOG_ENOENT;
    for (int tries = 0; tries < 3 && rc == CRAWLLOG_ENOENT; tries++) {
        rc = cl_cons_group(c, err);
        if (rc == 0) {
            rc = cl_group_join(&c->group, &j, err);
        }
        if (rc == CRAWLLOG_ENOENT &&
            !(c->group_open && cl_group_retired(&c->group))) {
            break;
        }
    }
    return rc;
}

/* Give up everything without a chance to commit (expelled or fenced). */
void cl_cons_lose_all(crawllog_consumer_t *c)
{
    struct cl_gtp *tps = NULL;
    struct cl_err err = {{0}};
    if (c->nparts > 0 && owned_tps(c, &tps, &err) == 0) {
        callback(c, CRAWLLOG_REBALANCE_LOST, tps, c->nparts);
    }
    cl_io_free(tps);
    drop_all(c);
}

/* Revoke (callback, auto-commit) and drop the listed partitions. */
/* Returns the auto-commit's code (0 without one): close reports it. */
static int revoke(crawllog_consumer_t *c, const struct cl_gtp *tps,
                  size_t n, struct cl_err *err)
{
    int rc = 0;
    if (n == 0) {
        return 0;
    }
    if (cl_conf_int(c->conf, CL_CONF_ENABLE_AUTO_COMMIT)) {
        rc = cl_cons_commit_positions(c, tps, n, CRAWLLOG_SYNC_DURABLE, err);
    }
    callback(c, CRAWLLOG_REBALANCE_REVOKED, tps, n);
    drop_listed(c, tps, n);
    return rc;
}

/* Synchronise with the group: revoke, release, acquire, callbacks. */
int cl_cons_group_sync(crawllog_consumer_t *c, struct cl_err *err)
{
    struct cl_group_sync sy;
    int rc = cl_group_sync_begin(&c->group, &sy, err);
    if (rc != 0) {
        return rc;
    }
    /* Partitions revoked in an eager rebalance but assigned again keep
     * their pause state. */
    struct cl_gtp *paused = NULL;
    size_t npaused = 0;
    if (!sy.lost && sy.nrevoke > 0 &&
        (paused = cl_io_calloc(sy.nrevoke, sizeof(*paused))) != NULL) {
        for (size_t k = 0; k < sy.nrevoke; k++) {
            struct cl_cpart *cp =
                cl_cons_find(c, sy.revoke[k].topic, sy.revoke[k].partition);
            if (cp != NULL && cp->paused) {
                paused[npaused++] = sy.revoke[k];
            }
        }
    }
    if (!sy.lost) {
        struct cl_err cerr = {{0}}; /* a rebalance's auto-commit is best
                                       effort: the next owner re-reads */
        (void)revoke(c, sy.revoke, sy.nrevoke, &cerr);
        rc = cl_group_sync_end(&c->group, &sy, err);
    }
    if (rc == 0 && sy.lost) {
        cl_io_free(paused);
        cl_cons_lose_all(c);
        cl_group_leave(&c->group);
        if (sy.fenced) {
            c->fatal = CRAWLLOG_EFENCED;
            rc = cl_errf(err, CRAWLLOG_EFENCED,
                         "%s: a newer consumer with group.instance.id=%s "
                         "joined; this one is fenced",
                         c->group.reldir,
                         cl_conf_str(c->conf, CL_CONF_GROUP_INSTANCE_ID));
        } else {
            rc = cl_cons_join(c, err); /* expelled: rejoin as a new member */
        }
        cl_group_sync_free(&sy);
        return rc;
    }
    /* Partitions we hold that the group no longer lists: their topic was
     * deleted or shrank under a re-created name (already gone, so LOST),
     * or the group switched away from it after a migration (every one
     * committed up to its cut: REVOKED, with nothing left to commit). */
    if (rc == 0) {
        struct cl_gtp *gone = cl_io_calloc(c->nparts + 1, sizeof(*gone));
        struct cl_gtp *left = cl_io_calloc(c->nparts + 1, sizeof(*left));
        size_t ngone = 0, nleft = 0;
        for (size_t i = 0; gone != NULL && i < c->nparts; i++) {
            int listed = 0;
            for (size_t k = 0; !listed && k < sy.nowned; k++) {
                listed = sy.owned[k].partition == c->parts[i].partition &&
                         strcmp(sy.owned[k].topic, c->parts[i].topic) == 0;
            }
            struct cl_gtp *to = NULL;
            if (!listed && left != NULL) {
                to = cl_cons_mig_left(c, c->parts[i].topic) ? &left[nleft++]
                                                            : &gone[ngone++];
            }
            if (to != NULL) {
                snprintf(to->topic, sizeof(to->topic), "%s",
                         c->parts[i].topic);
                to->partition = c->parts[i].partition;
            }
        }
        callback(c, CRAWLLOG_REBALANCE_REVOKED, left, nleft);
        drop_listed(c, left, nleft);
        callback(c, CRAWLLOG_REBALANCE_LOST, gone, ngone);
        drop_listed(c, gone, ngone);
        cl_io_free(gone);
        cl_io_free(left);
    }
    size_t nnew = 0;
    for (size_t k = 0; rc == 0 && k < sy.nowned; k++) {
        if (cl_cons_find(c, sy.owned[k].topic, sy.owned[k].partition) ==
            NULL) {
            rc = add_part(c, sy.owned[k].topic, sy.owned[k].partition,
                          CRAWLLOG_OFFSET_COMMITTED, err);
            sy.owned[nnew++] = sy.owned[k]; /* k >= nnew: safe */
        }
    }
    for (size_t k = 0; k < npaused; k++) {
        struct cl_cpart *cp = cl_cons_find(c, paused[k].topic,
                                           paused[k].partition);
        if (cp != NULL) {
            cp->paused = 1;
        }
    }
    cl_io_free(paused);
    if (rc == 0) {
        callback(c, CRAWLLOG_REBALANCE_ASSIGNED, sy.owned, nnew);
    }
    cl_group_sync_free(&sy);
    return rc;
}

int crawllog_consumer_subscribe(crawllog_consumer_t *cons,
                                const char *const *topics, size_t count)
{
    CL_BACKEND(cons, consumer_subscribe, cons, topics, count);
    struct cl_err err = {{0}};
    if (cons == NULL || (topics == NULL && count > 0)) {
        return cons ? cl_cons_fail(cons, CRAWLLOG_EINVAL, NULL)
                    : CRAWLLOG_EINVAL;
    }
    if (cons->closed || cons->fatal) {
        return cl_cons_fail(cons, cons->fatal ? cons->fatal : CRAWLLOG_ECLOSED,
                            NULL);
    }
    if (cons->mode == CL_CONS_ASSIGNED) {
        cl_errf(&err, CRAWLLOG_EMISUSE,
                "the consumer uses assign(); it cannot also subscribe");
        return cl_cons_fail(cons, CRAWLLOG_EMISUSE, &err);
    }
    if (count == 0 || count > CL_GROUP_MAX_TOPICS) {
        cl_errf(&err, CRAWLLOG_EINVAL, "subscribe to 1 .. %d topics, not %zu",
                CL_GROUP_MAX_TOPICS, count);
        return cl_cons_fail(cons, CRAWLLOG_EINVAL, &err);
    }
    for (size_t i = 0; i < count; i++) {
        if (topics[i] == NULL || !cl_names_topic_valid(topics[i])) {
            cl_errf(&err, CRAWLLOG_EINVAL, "topics[%zu] is not a valid topic "
                    "name", i);
            return cl_cons_fail(cons, CRAWLLOG_EINVAL, &err);
        }
    }
    int rc = cl_cons_group(cons, &err);
    if (rc != 0) {
        return cl_cons_fail(cons, rc, &err);
    }
    char **copy = cl_io_calloc(count, sizeof(*copy));
    for (size_t i = 0; copy != NULL && i < count; i++) {
        if ((copy[i] = cl_io_strdup(topics[i])) == NULL) {
            for (size_t k = 0; k < i; k++) {
                cl_io_free(copy[k]);
            }
            cl_io_free(copy);
            copy = NULL;
        }
    }
    if (copy == NULL) {
        cl_errf(&err, CRAWLLOG_ENOMEM, "out of memory");
        return cl_cons_fail(cons, CRAWLLOG_ENOMEM, &err);
    }
    if (cons->mode == CL_CONS_SUBSCRIBED) {
        struct cl_gtp *tps = NULL;
        struct cl_err cerr = {{0}};
        if (owned_tps(cons, &tps, &cerr) == 0) {
            (void)revoke(cons, tps, cons->nparts, &cerr);
        }
        cl_io_free(tps);
        drop_all(cons);
        cl_group_leave(&cons->group);
    }
    for (size_t i = 0; i < cons->ntopics; i++) {
        cl_io_free(cons->topics[i]);
    }
    cl_io_free(cons->topics);
    cl_cons_mig_free(cons);
    cons->topics = copy;
    cons->ntopics = count;
    rc = cl_cons_mig_init(cons, &err);
    if (rc == 0) {
        rc = cl_cons_join(cons, &err);
    }
    if (rc != 0) {
        return cl_cons_fail(cons, rc, &err);
    }
    cons->mode = CL_CONS_SUBSCRIBED;
    cons->next_autocommit_ns =
        cl_io_mono_ns() +
        cl_conf_int(cons->conf, CL_CONF_AUTO_COMMIT_INTERVAL_MS) * 1000000;
    return 0;
}

int crawllog_consumer_assign(crawllog_consumer_t *cons,
                             const crawllog_topic_partition_t *parts,
                             size_t count)
{
    CL_BACKEND(cons, consumer_assign, cons, parts, count);
    struct cl_err err = {{0}};
    if (cons == NULL || (parts == NULL && count > 0)) {
        return cons ? cl_cons_fail(cons, CRAWLLOG_EINVAL, NULL)
                    : CRAWLLOG_EINVAL;
    }
    if (cons->closed) {
        return cl_cons_fail(cons, CRAWLLOG_ECLOSED, NULL);
    }
    if (cons->mode == CL_CONS_SUBSCRIBED) {
        cl_errf(&err, CRAWLLOG_EMISUSE,
                "the consumer is subscribed; it cannot also assign()");
        return cl_cons_fail(cons, CRAWLLOG_EMISUSE, &err);
    }
    for (size_t i = 0; i < count; i++) {
        int32_t n = 0;
        int64_t o = parts[i].offset;
        if (!cl_names_topic_valid(parts[i].topic)) { /* NULL too */
            cl_errf(&err, CRAWLLOG_EINVAL, "parts[%zu]: %s topic name", i,
                    parts[i].topic == NULL ? "no" : "invalid");
            return cl_cons_fail(cons, CRAWLLOG_EINVAL, &err);
        }
        if (crawllog_topic_describe(cons->log, parts[i].topic, &n, NULL) !=
                0 ||
            parts[i].partition < 0 || parts[i].partition >= n) {
            cl_errf(&err, CRAWLLOG_ENOTOPIC, "parts[%zu]: no partition %s/%d",
                    i, parts[i].topic, (int)parts[i].partition);
            return cl_cons_fail(cons, CRAWLLOG_ENOTOPIC, &err);
        }
        if (o < 0 && o != CRAWLLOG_OFFSET_BEGINNING &&
            o != CRAWLLOG_OFFSET_END && o != CRAWLLOG_OFFSET_COMMITTED) {
            cl_errf(&err, CRAWLLOG_EINVAL, "parts[%zu]: bad offset %" PRId64,
                    i, o);
            return cl_cons_fail(cons, CRAWLLOG_EINVAL, &err);
        }
    }
    drop_all(cons);
    for (size_t i = 0; i < count; i++) {
        if (cl_cons_find(cons, parts[i].topic, parts[i].partition) != NULL) {
            continue;
        }
        int rc = add_part(cons, parts[i].topic, parts[i].partition,
                          parts[i].offset, &err);
        if (rc != 0) {
            drop_all(cons);
            return cl_cons_fail(cons, rc, &err);
        }
    }
    cons->mode = count > 0 ? CL_CONS_ASSIGNED : CL_CONS_NONE;
    cons->next_autocommit_ns =
        cl_io_mono_ns() +
        cl_conf_int(cons->conf, CL_CONF_AUTO_COMMIT_INTERVAL_MS) * 1000000;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Close                                                                   */
/* ---------------------------------------------------------------------- */

int crawllog_consumer_close(crawllog_consumer_t *cons)
{
    CL_BACKEND(cons, consumer_close, cons);
    struct cl_err err = {{0}};
    int rc = 0;
    if (cons == NULL) {
        return CRAWLLOG_EINVAL;
    }
    if (cons->closed) {
        return 0;
    }
    if (cons->in_cb) {
        return cl_cons_fail(cons, CRAWLLOG_EMISUSE, NULL);
    }
    int autoc = (int)cl_conf_int(cons->conf, CL_CONF_ENABLE_AUTO_COMMIT);
    if (cons->mode == CL_CONS_SUBSCRIBED && !cons->fatal) {
        struct cl_gtp *tps = NULL;
        /* Auto-commits if enabled; a failure (or no memory to list the
         * partitions) is close's result, not silently dropped. */
        rc = owned_tps(cons, &tps, &err);
        if (rc == 0) {
            rc = revoke(cons, tps, cons->nparts, &err);
        }
        cl_io_free(tps);
        cl_group_leave(&cons->group);
    } else if (cons->mode == CL_CONS_ASSIGNED && autoc && cons->group_id[0]) {
        rc = cl_cons_commit_positions(cons, NULL, 0, CRAWLLOG_SYNC_DURABLE,
                                      &err);
    }
    if (cons->offsets != NULL) {
        int src = cl_cons_sync_commits(cons, &err);
        rc = rc ? rc : src;
    }
    drop_all(cons);
    cons->closed = 1;
    return rc ? cl_cons_fail(cons, rc, &err) : 0;
}

void crawllog_consumer_destroy(crawllog_consumer_t *cons)
{
    CL_BACKEND_VOID(cons, consumer_destroy, cons);
    if (cons == NULL) {
        return;
    }
    if (!cons->closed && cons->conf != NULL) {
        cons->in_cb = 0;
        crawllog_consumer_close(cons);
    }
    drop_all(cons);
    cl_io_free(cons->parts);
    cl_io_free(cons->msgs);
    cl_cons_mig_free(cons);
    for (size_t i = 0; i < cons->ntopics; i++) {
        cl_io_free(cons->topics[i]);
    }
    cl_io_free(cons->topics);
    cl_offsets_close(cons->offsets);
    cl_lagstore_close(cons->lag);
    if (cons->group_open) {
        cl_group_close(&cons->group);
    }
    if (cons->notify_slot >= 0) {
        cl_notify_release(cl_log_notify(cons->log), cons->notify_slot);
    }
    crawllog_conf_destroy(cons->conf);
    cl_io_free(cons);
}
