/*
 * txn.c - the transactional producer: crawllog_txn_begin / _send_offsets /
 * _commit / _abort, Kafka's transaction coordinator for one
 * transactional.id, without a broker (layer 3).  Recovery and the shared
 * finishing steps are in txn_recover.c.
 *
 * On disk: transactions/<transactional.id> (txn_file.c, FORMAT section
 * 11), written only under the state lock transactions/~lock.<id>; each
 * instance holds transactions/~live.<id> shared for its life.  The
 * producer's identity is producers/<transactional.id> (prodid.c): making
 * a new instance fences the older ones (their appends fail under the
 * partition lock, their state changes below).
 *
 * A transaction (durable: fdatasync'd before the step goes on; the state
 * file is two slots written in place, txn_file.c, so a durable write is
 * one fdatasync and a not-durable one none):
 *  1. begin: local only.
 *  2. its first send, and the first send to a partition not listed,
 *     writes the state ONGOING naming the partition, durably, BEFORE the
 *     record is written (AddPartitionsToTxn): whoever finishes the
 *     transaction later knows every partition that may hold its records.
 *     The list is kept from one transaction to the next (sticky), so a
 *     steady pipeline makes that write once per transaction.  Its batches
 *     carry the transactional attribute.
 *  3. send_offsets: the group's offsets are staged in the state file (not
 *     durable, visible to every process at once), then the consumer's
 *     ownership of their partitions is checked under the group lock (after
 *     the write: a later owner of the partitions reads the staged offsets
 *     and waits, cl_txn_stabilize, or the check fails here:
 *     CRAWLLOG_EGENERATION, KIP-447's fencing).
 *  4. commit: the producer's buffers are written and every partition it
 *     wrote to fdatasync'd; under the state lock, not fenced, the
 *     ownership checked again, the list cut to the partitions written to,
 *     PREPARE_COMMIT is written (durable: the decision); COMMIT markers
 *     (durable), the offsets (durable), and COMPLETE_COMMIT (not durable:
 *     if it is lost, finishing again repeats the markers and offsets
 *     harmlessly) follow (cl_txn_finish's steps).  A failure after the
 *     decision leaves the producer failed (every call fails): the next
 *     instance or crawllog_open() completes the transaction.  A new
 *     transaction on top of missing markers would let its marker decide
 *     the old records, so the producer must not go on.
 *  5. abort: ABORT markers (durable) to the partitions written to, then
 *     COMPLETE_ABORT; a failure leaves the producer failed for the same
 *     reason.
 *
 * Invariants: at most one transaction open per producer; the in-memory
 * state equals the last state written by this instance (nobody else
 * writes the file while this instance is the live one, except a
 * recoverer that fenced it first).
 *
 * Locks: t->mu (one transaction step at a time, and the partition set of
 * concurrent sends), then the state flock, then the producer's and the
 * partitions' locks (flush, appends).  Sends call cl_txn_on_send with no
 * producer lock held.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "backend.h"
#include "consumer.h"
#include "control.h"
#include "group.h"
#include "io.h"
#include "log.h"
#include "names.h"
#include "producer.h"
#include "txn.h"
#include "txn_file.h"

struct cl_txn {
    crawllog_producer_t *prod;
    char id[CL_TXN_NAME_MAX + 1];
    int live_fd, lock_fd;      /* ~live.<id> (held shared), ~lock.<id> */
    int32_t timeout_ms;
    pthread_mutex_t mu;        /* guards the fields below */
    int open;                  /* begun, not committed or aborted */
    int abort_rc;              /* a step failed: only abort is possible */
    char abort_msg[CL_ERRMSG_SIZE];
    unsigned char *touched;    /* per st.parts entry: written to by the
                                  open transaction (the others are kept
                                  from the last one: sticky) */
    size_t touched_cap;
    int ongoing_durable;       /* this transaction's ONGOING state (with
                                  every partition it may write) is durable */
    int md_slot;               /* the staged offsets' member (slot, */
    uint64_t md_inc;           /* incarnation): checked at the commit */
    int fatal_rc;              /* failed after a decision: nothing works */
    char fatal_msg[CL_ERRMSG_SIZE];
    struct cl_txn_state st;    /* as last written by this instance */
};

/* ---- helpers ------------------------------------------------------------ */

static int fenced(crawllog_producer_t *prod, struct cl_err *err)
{
    if (prod->id.live != NULL &&
        atomic_load_explicit(prod->id.live, memory_order_acquire) !=
            prod->id.instance) {
        atomic_store(&prod->fenced, 1);
    }
    return cl_producer_check_fenced(prod, err);
}

static int state_lock(struct cl_txn *t, struct cl_err *err)
{
    int rc = cl_io_lock("txn.state.lock", t->lock_fd, 1, 1);
    return rc != 0 ? cl_err_sys(err, -rc, CL_TXN_DIR, "lock ~lock") : 0;
}

/* Write the state under the state lock, unless fenced; durable: synced
 * before return, else only visible to every process (txn_file.c: a lost
 * not-durable write leaves the last durable state). */
static int write_state(struct cl_txn *t, int durable, struct cl_err *err)
{
    int rc = state_lock(t, err);
    if (rc != 0) {
        return rc;
    }
    rc = fenced(t->prod, err);
    if (rc == 0) {
        crawllog_t *log = t->prod->log;
        rc = cl_txn_file_write(log->rootfd, t->id, &t->st, durable,
                               log->fmode, log->dmode, err);
    }
    cl_io_unlock(t->lock_fd);
    return rc;
}

/* Checks every step makes first (t->mu held). */
static int check_usable(struct cl_txn *t, int need_open, struct cl_err *err)
{
    if (t->fatal_rc != 0) {
        return cl_errf(err, t->fatal_rc, "%s", t->fatal_msg);
    }
    int rc = fenced(t->prod, err);
    if (rc != 0) {
        return rc;
    }
    if (need_open && !t->open) {
        return cl_errf(err, CRAWLLOG_EMISUSE,
                       "transactional.id %s: no transaction is open (call "
                       "crawllog_txn_begin() first)", t->id);
    }
    return 0;
}

static void set_fatal(struct cl_txn *t, int rc, const struct cl_err *err,
                      const char *what)
{
    t->fatal_rc = rc;
    if (snprintf(t->fatal_msg, sizeof(t->fatal_msg),
                 "transactional.id %.64s: %s failed (%.200s); destroy the "
                 "producer: the next instance or crawllog_open() finishes "
                 "the transaction", t->id, what, err->msg) < 0) {
        t->fatal_msg[0] = '\0';
    }
}

static void set_abortable(struct cl_txn *t, int rc, const char *msg)
{
    if (t->abort_rc == 0) {
        t->abort_rc = rc;
        snprintf(t->abort_msg, sizeof(t->abort_msg), "%s", msg);
    }
}

/* CRAWLLOG_EABORT if a step of the open transaction failed. */
static int check_abortable(const struct cl_txn *t, struct cl_err *err)
{
    if (t->abort_rc == 0) {
        return 0;
    }
    return cl_errf(err, CRAWLLOG_EABORT, "transactional.id %s: %s; abort "
                   "the transaction", t->id, t->abort_msg);
}

/* Reset the in-memory transaction after it ended.  Its partitions stay
 * listed (sticky): the next transaction's ONGOING state names them again,
 * so a steady pipeline registers its partitions once per transaction,
 * in one write. */
static void end_txn(struct cl_txn *t, enum cl_txn_status status)
{
    for (size_t i = 0; i < t->st.noffsets; i++) {
        cl_io_free(t->st.offsets[i].metadata);
    }
    if (t->touched != NULL) {
        memset(t->touched, 0, t->touched_cap);
    }
    t->ongoing_durable = 0;
    t->st.noffsets = 0;
    t->st.group[0] = t->st.member[0] = '\0';
    t->st.generation = -1;
    t->st.start_ms = -1;
    t->st.status = status;
    t->open = 0;
    t->abort_rc = 0;
}

static int api_fail(crawllog_producer_t *prod, int rc,
                    const struct cl_err *err)
{
    return prod != NULL ? cl_producer_fail(prod, rc, err) : rc;
}

/* ---- life --------------------------------------------------------------- */

int cl_txn_is_transactional(const crawllog_producer_t *prod)
{
    return prod->txn != NULL;
}

static void txn_free(struct cl_txn *t)
{
    if (t->lock_fd >= 0) {
        cl_io_close(t->lock_fd);
    }
    if (t->live_fd >= 0) {
        cl_io_close(t->live_fd);
    }
    cl_txn_state_free(&t->st);
    cl_io_free(t->touched);
    pthread_mutex_destroy(&t->mu);
    cl_io_free(t);
}

int cl_txn_init(crawllog_producer_t *prod, const char *txnid,
                int64_t timeout_ms, struct cl_err *err)
{
    crawllog_t *log = prod->log;
    int dfd = -1, did = 0;
    if (!cl_txn_id_valid(txnid)) {
        return cl_errf(err, CRAWLLOG_EINVAL, "transactional.id \"%.64s\": "
                       "not a valid name", txnid);
    }
    struct cl_txn *t = cl_io_calloc(1, sizeof(*t));
    if (t == NULL || pthread_mutex_init(&t->mu, NULL) != 0) {
        cl_io_free(t);
        return cl_errf(err, CRAWLLOG_ENOMEM, "out of memory");
    }
    t->prod = prod;
    t->live_fd = t->lock_fd = -1;
    t->timeout_ms = (int32_t)timeout_ms;
    snprintf(t->id, sizeof(t->id), "%s", txnid);
    cl_txn_state_init(&t->st);
    int rc = cl_txn_dir_open(log->rootfd, log->dmode, &dfd, err);
    if (rc == 0) {
        rc = cl_txn_lockfile_open(dfd, CL_TXN_LIVE_PREFIX, txnid, log->fmode,
                                  &t->live_fd, err);
    }
    if (rc == 0 && (rc = cl_io_lock("txn.live.lock", t->live_fd, 0, 1)) != 0) {
        rc = cl_err_sys(err, -rc, CL_TXN_DIR, "lock ~live");
    }
    if (rc == 0) {
        rc = cl_txn_lockfile_open(dfd, CL_TXN_LOCK_PREFIX, txnid, log->fmode,
                                  &t->lock_fd, err);
    }
    if (dfd >= 0) {
        cl_io_close(dfd);
    }
    if (rc == 0) {
        rc = state_lock(t, err);
        if (rc == 0) {
            /* Finish what an earlier instance left open. */
            rc = cl_txn_file_read(log->rootfd, txnid, &t->st, err);
            if (rc == CRAWLLOG_ENOENT) {
                err->msg[0] = '\0';
                rc = 0;
            } else if (rc == 0) {
                rc = cl_txn_finish(log, txnid, &t->st, &did, err);
            }
            cl_io_unlock(t->lock_fd);
        }
    }
    if (rc != 0) {
        txn_free(t);
        return rc;
    }
    t->st.producer_id = prod->id.pid;
    t->st.epoch = prod->id.epoch;
    t->st.timeout_ms = t->timeout_ms;
    end_txn(t, t->st.status);
    prod->txn = t;
    return 0;
}

void cl_txn_destroy(crawllog_producer_t *prod)
{
    struct cl_txn *t = prod->txn;
    if (t == NULL) {
        return;
    }
    if (t->open && t->fatal_rc == 0) {
        (void)crawllog_txn_abort(prod); /* best effort */
    }
    prod->txn = NULL;
    txn_free(t);
}

/* ---- sends -------------------------------------------------------------- */

/* Index of topic/partition in st->parts, or -1. */
static long find_part(const struct cl_txn_state *st, const char *topic,
                      int32_t partition)
{
    for (size_t i = 0; i < st->nparts; i++) {
        if (st->parts[i].partition == partition &&
            strcmp(st->parts[i].topic, topic) == 0) {
            return (long)i;
        }
    }
    return -1;
}

/* Room for a touched flag per listed partition: 0 or CRAWLLOG_ENOMEM. */
static int touched_room(struct cl_txn *t, size_t n)
{
    size_t old = t->touched_cap;
    if (n <= old) {
        return 0;
    }
    void *p = t->touched;
    int rc = cl_io_grow(&p, &t->touched_cap, n, 1);
    if (rc == 0) {
        t->touched = p;
        memset(t->touched + old, 0, t->touched_cap - old);
    }
    return rc;
}

/* Keep only the partitions the transaction wrote to (before its decision
 * or abort: its markers go there and nowhere else). */
static void keep_touched(struct cl_txn *t)
{
    size_t k = 0;
    for (size_t i = 0; i < t->st.nparts; i++) {
        if (t->touched != NULL && i < t->touched_cap && t->touched[i]) {
            t->st.parts[k] = t->st.parts[i];
            t->touched[k++] = 1;
        }
    }
    t->st.nparts = k;
    if (t->touched != NULL && t->touched_cap > k) {
        memset(t->touched + k, 0, t->touched_cap - k);
    }
}

/* Mark the state ONGOING (start time now) if it is not yet. */
static void make_ongoing(struct cl_txn *t)
{
    if (t->st.status != CL_TXN_ONGOING) {
        t->st.status = CL_TXN_ONGOING;
        t->st.txn_seq++;
        t->st.start_ms = cl_io_now_ms();
    }
}

int cl_txn_on_send(crawllog_producer_t *prod, const char *topic,
                   int32_t partition, struct cl_err *err)
{
    struct cl_txn *t = prod->txn;
    if (t == NULL) {
        return 0;
    }
    pthread_mutex_lock(&t->mu);
    int rc = check_usable(t, 1, err);
    if (rc == 0) {
        rc = check_abortable(t, err);
    }
    long idx = rc == 0 ? find_part(&t->st, topic, partition) : -1;
    if (rc != 0 || (idx >= 0 && t->ongoing_durable && t->touched[idx])) {
        pthread_mutex_unlock(&t->mu);
        return rc; /* recorded already: the common case */
    }
    /* The first write of the transaction, or to a partition not listed:
     * the ONGOING state naming it must be durable before the record can
     * be (AddPartitionsToTxn). */
    struct cl_partition *part = NULL;
    int64_t end = 0;
    rc = cl_log_partition(prod->log, topic, partition, &part, err);
    if (rc == 0) {
        rc = cl_partition_offsets(part, NULL, &end, err);
    }
    int added = 0;
    if (rc == 0 && idx < 0) {
        rc = cl_txn_state_add_part(&t->st, topic, partition, end);
        if (rc != 0) {
            cl_errf(err, rc, "transactional.id %s: cannot add %s/%d", t->id,
                    topic, (int)partition);
        } else {
            idx = (long)t->st.nparts - 1;
            added = 1;
        }
    }
    if (rc == 0 && (rc = touched_room(t, t->st.nparts)) != 0) {
        cl_errf(err, rc, "out of memory");
    }
    if (rc == 0) {
        enum cl_txn_status was = t->st.status;
        int64_t start = t->st.start_ms, first = t->st.parts[idx].first_offset;
        uint64_t seq = t->st.txn_seq;
        unsigned char was_touched = t->touched[idx];
        t->touched[idx] = 1;
        if (!was_touched) {
            t->st.parts[idx].first_offset = end;
        }
        if (added || !t->ongoing_durable) {
            make_ongoing(t);
            rc = write_state(t, 1, err);
        }
        if (rc != 0) { /* not recorded: the send writes nothing */
            t->touched[idx] = was_touched;
            t->st.parts[idx].first_offset = first;
            t->st.nparts -= (size_t)added;
            t->st.status = was;
            t->st.start_ms = start;
            t->st.txn_seq = seq;
        } else {
            t->ongoing_durable = 1;
        }
    }
    pthread_mutex_unlock(&t->mu);
    return rc;
}

void cl_txn_send_failed(crawllog_producer_t *prod, int rc)
{
    struct cl_txn *t = prod->txn;
    if (t == NULL || rc == CRAWLLOG_EMISUSE || rc == CRAWLLOG_EABORT ||
        rc == CRAWLLOG_EFENCED) {
        return;
    }
    pthread_mutex_lock(&t->mu);
    if (t->open) {
        char msg[CL_ERRMSG_SIZE];
        snprintf(msg, sizeof(msg), "a send of it failed (%s: %.300s)",
                 crawllog_err_name(rc), prod->errmsg);
        set_abortable(t, CRAWLLOG_EABORT, msg);
    }
    pthread_mutex_unlock(&t->mu);
}

/* ---- public calls ------------------------------------------------------- */

/* The start of every public step: *tp locked and usable (need_open: with
 * a transaction open).  On failure nothing is held. */
static int enter(crawllog_producer_t *prod, int need_open, struct cl_txn **tp,
                 struct cl_err *err)
{
    if (prod == NULL) {
        return CRAWLLOG_EINVAL;
    }
    struct cl_txn *t = prod->txn;
    if (t == NULL) {
        return cl_errf(err, CRAWLLOG_EMISUSE, "the producer is not "
                       "transactional (no transactional.id)");
    }
    pthread_mutex_lock(&t->mu);
    int rc = check_usable(t, need_open, err);
    if (rc != 0) {
        pthread_mutex_unlock(&t->mu);
        return rc;
    }
    *tp = t;
    return 0;
}

int crawllog_txn_begin(crawllog_producer_t *prod)
{
    CL_BACKEND(prod, txn_begin, prod);
    struct cl_err err = {""};
    struct cl_txn *t = NULL;
    int rc = enter(prod, 0, &t, &err);
    if (rc != 0) {
        return api_fail(prod, rc, &err);
    }
    if (t->open) {
        rc = cl_errf(&err, CRAWLLOG_EMISUSE, "transactional.id %s: a "
                     "transaction is already open", t->id);
    } else {
        t->open = 1;
        t->abort_rc = 0;
    }
    pthread_mutex_unlock(&t->mu);
    return rc != 0 ? api_fail(prod, rc, &err) : 0;
}

int crawllog_consumer_group_metadata(crawllog_consumer_t *cons,
                                     crawllog_group_metadata_t **mdp)
{
    CL_BACKEND(cons, consumer_group_metadata, cons, mdp);
    if (mdp != NULL) {
        *mdp = NULL;
    }
    struct cl_err err = {""};
    if (cons == NULL) {
        return CRAWLLOG_EINVAL;
    }
    if (mdp == NULL || cons->group_id[0] == '\0') {
        return cl_cons_fail(cons, cl_errf(&err, CRAWLLOG_EINVAL, "%s",
                                          mdp == NULL ? "mdp is NULL"
                                                      : "no group.id"),
                            &err);
    }
    crawllog_group_metadata_t *md = cl_io_calloc(1, sizeof(*md));
    if (md == NULL) {
        return cl_cons_fail(cons, cl_errf(&err, CRAWLLOG_ENOMEM,
                                          "out of memory"),
                            &err);
    }
    size_t glen = strnlen(cons->group_id, sizeof(md->group) - 1);
    memcpy(md->group, cons->group_id, glen);
    md->group[glen] = '\0';
    md->generation = crawllog_consumer_generation(cons);
    md->slot = cons->mode == CL_CONS_SUBSCRIBED ? cons->group.slot : -1;
    md->inc = md->slot >= 0 ? cons->group.incarnation : 0;
    snprintf(md->member, sizeof(md->member), "%s",
             crawllog_consumer_member_id(cons));
    *mdp = md;
    return 0;
}

void crawllog_group_metadata_destroy(crawllog_group_metadata_t *md)
{
    CL_BACKEND_VOID(md, group_metadata_destroy, md);
    cl_io_free(md);
}

/* Stage one offset (replacing an earlier one of the partition). */
static int stage(struct cl_txn_state *st, const crawllog_topic_partition_t *o)
{
    for (size_t i = 0; i < st->noffsets; i++) {
        struct cl_txn_offset *x = &st->offsets[i];
        if (x->partition == o->partition && strcmp(x->topic, o->topic) == 0) {
            char *m = cl_io_strdup(o->metadata != NULL ? o->metadata : "");
            if (m == NULL) {
                return CRAWLLOG_ENOMEM;
            }
            cl_io_free(x->metadata);
            x->metadata = m;
            x->offset = o->offset;
            return 0;
        }
    }
    return cl_txn_state_add_offset(st, o->topic, o->partition, o->offset,
                                   o->metadata);
}

static int check_offsets(const crawllog_group_metadata_t *md,
                         const crawllog_topic_partition_t *offsets,
                         size_t count, struct cl_err *err)
{
    if (md == NULL || offsets == NULL || count == 0) {
        return cl_errf(err, CRAWLLOG_EINVAL,
                       "group metadata and 1 or more offsets needed");
    }
    for (size_t i = 0; i < count; i++) {
        const crawllog_topic_partition_t *o = &offsets[i];
        if (o->topic == NULL || !cl_names_topic_valid(o->topic) ||
            o->partition < 0 || o->partition >= CRAWLLOG_PARTITIONS_MAX ||
            o->offset < 0 ||
            (o->metadata != NULL && strlen(o->metadata) > CL_TXN_META_MAX)) {
            return cl_errf(err, CRAWLLOG_EINVAL, "offsets[%zu]: bad topic, "
                           "partition, offset or metadata", i);
        }
    }
    return 0;
}

/* The member (slot, inc) still owns every partition of the staged
 * offsets (KIP-447: a member that lost them cannot commit them): 0 or
 * CRAWLLOG_EGENERATION. */
static int check_owner(crawllog_t *log, const struct cl_txn_state *st,
                       int slot, uint64_t inc, struct cl_err *err)
{
    crawllog_topic_partition_t *list =
        cl_io_calloc(st->noffsets + 1, sizeof(*list));
    if (list == NULL) {
        return cl_errf(err, CRAWLLOG_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < st->noffsets; i++) {
        list[i].topic = st->offsets[i].topic;
        list[i].partition = st->offsets[i].partition;
    }
    int rc = cl_group_txn_check_owner(log, st->group, slot, inc, list,
                                      st->noffsets, err);
    cl_io_free(list);
    if (rc == CRAWLLOG_EGENERATION) {
        char msg[CL_ERRMSG_SIZE];
        snprintf(msg, sizeof(msg), "%s", err->msg);
        cl_errf(err, rc, "%.400s: abort the transaction", msg);
    }
    return rc;
}

int crawllog_txn_send_offsets(crawllog_producer_t *prod,
                              const crawllog_group_metadata_t *md,
                              const crawllog_topic_partition_t *offsets,
                              size_t count)
{
    CL_BACKEND(prod, txn_send_offsets, prod, md, offsets, count);
    struct cl_err err = {""};
    struct cl_txn *t = NULL;
    int rc = prod == NULL ? CRAWLLOG_EINVAL
                          : check_offsets(md, offsets, count, &err);
    if (rc == 0) {
        rc = enter(prod, 1, &t, &err);
    }
    if (rc != 0) {
        return api_fail(prod, rc, &err);
    }
    rc = check_abortable(t, &err);
    if (rc == 0 && t->st.group[0] != '\0' &&
        strcmp(t->st.group, md->group) != 0) {
        rc = cl_errf(&err, CRAWLLOG_EINVAL, "transactional.id %s: offsets "
                     "of group %s are staged already; one group per "
                     "transaction", t->id, t->st.group);
    }
    for (size_t i = 0; rc == 0 && i < count; i++) {
        rc = stage(&t->st, &offsets[i]);
        if (rc != 0) {
            cl_errf(&err, rc, "out of memory");
        }
    }
    if (rc == 0) {
        snprintf(t->st.group, sizeof(t->st.group), "%s", md->group);
        snprintf(t->st.member, sizeof(t->st.member), "%s", md->member);
        t->st.generation = md->generation;
        t->md_slot = md->slot;
        t->md_inc = md->inc;
        make_ongoing(t);
        rc = write_state(t, 0, &err); /* visible: a new owner waits */
    }
    if (rc == 0) {
        rc = check_owner(prod->log, &t->st, md->slot, md->inc, &err);
    }
    if (rc != 0 && rc != CRAWLLOG_EFENCED) {
        set_abortable(t, rc, err.msg); /* staged in memory, maybe on disk */
    }
    pthread_mutex_unlock(&t->mu);
    return rc != 0 ? api_fail(prod, rc, &err) : 0;
}

/* Every partition of the transaction, opened (NULL-free array of *np). */
static int txn_parts(struct cl_txn *t, struct cl_partition ***pp, size_t *np,
                     struct cl_err *err)
{
    struct cl_partition **parts = cl_io_calloc(t->st.nparts + 1,
                                               sizeof(*parts));
    size_t n = 0;
    if (parts == NULL) {
        return cl_errf(err, CRAWLLOG_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < t->st.nparts; i++) {
        const struct cl_txn_part *p = &t->st.parts[i];
        int rc = cl_log_partition(t->prod->log, p->topic, p->partition,
                                  &parts[n], err);
        if (rc != 0) {
            cl_io_free(parts);
            return rc;
        }
        n++;
    }
    *pp = parts;
    *np = n;
    return 0;
}

/* Steps 4 before the decision: data written and durable. */
static int make_data_durable(struct cl_txn *t, struct cl_err *err)
{
    crawllog_producer_t *prod = t->prod;
    struct cl_partition **parts = NULL;
    size_t n = 0;
    int rc = crawllog_producer_flush(prod, -1);
    if (rc != 0) {
        return cl_errf(err, CRAWLLOG_EABORT, "transactional.id %s: writing "
                       "its buffered records failed (%s: %.300s); abort the "
                       "transaction", t->id, crawllog_err_name(rc),
                       prod->errmsg);
    }
    rc = txn_parts(t, &parts, &n, err);
    if (rc == 0) {
        rc = cl_log_flush_parts(prod->log, parts, n, CRAWLLOG_SYNC_DURABLE,
                                err);
    }
    cl_io_free(parts);
    return rc;
}

int crawllog_txn_commit(crawllog_producer_t *prod)
{
    CL_BACKEND(prod, txn_commit, prod);
    struct cl_err err = {""};
    struct cl_txn *t = NULL;
    int rc = enter(prod, 1, &t, &err);
    if (rc != 0) {
        return api_fail(prod, rc, &err);
    }
    rc = check_abortable(t, &err);
    if (rc == 0 && t->st.status != CL_TXN_ONGOING) {
        end_txn(t, t->st.status); /* nothing was sent: nothing to do */
        pthread_mutex_unlock(&t->mu);
        return 0;
    }
    if (rc == 0) {
        keep_touched(t); /* its markers go where it wrote, nowhere else */
    }
    if (rc == 0 && (rc = make_data_durable(t, &err)) != 0) {
        set_abortable(t, rc == CRAWLLOG_EABORT ? rc : CRAWLLOG_EABORT,
                      err.msg);
    }
    int decided = 0;
    if (rc == 0 && (rc = state_lock(t, &err)) == 0) {
        crawllog_t *log = prod->log;
        rc = fenced(prod, &err);
        if (rc == 0 && t->st.group[0] != '\0') {
            rc = check_owner(log, &t->st, t->md_slot, t->md_inc, &err);
            if (rc != 0) {
                set_abortable(t, rc, err.msg);
            }
        }
        if (rc == 0) {
            t->st.status = CL_TXN_PREPARE_COMMIT;
            rc = cl_txn_file_write(log->rootfd, t->id, &t->st, 1, log->fmode,
                                   log->dmode, &err);
            if (rc != 0) {
                /* Maybe decided (a failed directory fsync), maybe not:
                 * only an abort or the next instance can tell. */
                t->st.status = CL_TXN_ONGOING;
                set_fatal(t, rc, &err, "writing the commit decision");
            }
            decided = rc == 0;
        }
        if (decided) {
            int did = 0;
            rc = cl_txn_finish(log, t->id, &t->st, &did, &err);
            if (rc != 0) {
                set_fatal(t, rc, &err, "completing the committed "
                          "transaction");
            }
        }
        cl_io_unlock(t->lock_fd);
    }
    if (rc == 0) {
        end_txn(t, CL_TXN_COMPLETE_COMMIT);
    } else if (t->fatal_rc != 0) {
        cl_errf(&err, rc, "%s", t->fatal_msg);
    }
    pthread_mutex_unlock(&t->mu);
    return rc != 0 ? api_fail(prod, rc, &err) : 0;
}

int crawllog_txn_abort(crawllog_producer_t *prod)
{
    CL_BACKEND(prod, txn_abort, prod);
    struct cl_err err = {""};
    struct cl_txn *t = NULL;
    int rc = enter(prod, 1, &t, &err);
    if (rc != 0) {
        return api_fail(prod, rc, &err);
    }
    /* Buffered records go out first, so the markers follow them; a failed
     * write leaves nothing to hide. */
    (void)crawllog_producer_flush(prod, -1);
    if (t->st.status == CL_TXN_ONGOING &&
        (rc = state_lock(t, &err)) == 0) {
        rc = fenced(prod, &err);
        if (rc == 0) {
            int did = 0;
            keep_touched(t);
            rc = cl_txn_finish(prod->log, t->id, &t->st, &did, &err);
            if (rc != 0) {
                set_fatal(t, rc, &err, "aborting");
                cl_errf(&err, rc, "%s", t->fatal_msg);
            }
        }
        cl_io_unlock(t->lock_fd);
    }
    if (rc == 0) {
        end_txn(t, t->st.status == CL_TXN_ONGOING ? CL_TXN_COMPLETE_ABORT
                                                  : t->st.status);
    }
    pthread_mutex_unlock(&t->mu);
    return rc != 0 ? api_fail(prod, rc, &err) : 0;
}
