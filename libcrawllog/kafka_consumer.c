/*
 * kafka_consumer.c - crawllog_consumer_t on Kafka: a librdkafka high-level
 * consumer behind the consumer_* members of the backend table; this file
 * has creation (crawllog properties translated to librdkafka's: group.id,
 * group.instance.id, client.id, auto.offset.reset, enable.auto.commit,
 * the timeouts, partition.assignment.strategy, isolation.level,
 * max.partition.fetch.bytes; a kafka.<name> pass-through of the consumer's
 * or the log's conf wins), membership, rebalances, poll and close.
 * Commits and positions are in kafka_offsets.c,
 * dead letters and the retry policy in kafka_dlq.c; the struct they share
 * is in kafka.h.  See docs/SCALING.md.
 *
 * Owns nothing on disk.  Owns: the shell (a zeroed struct
 * crawllog_consumer_s whose only set field is kafka), its struct
 * cl_kafka_consumer, the rd_kafka_t, the dead-letter producer (created by
 * kafka_dlq.c on first use), and the rd_kafka_message_t's of the last
 * poll, which the messages handed out point into.
 *
 * Invariants:
 *  - The messages of a poll stay alive (and their header buffers
 *    untouched) until the next poll, close or destroy.
 *  - parts[] is the assignment as this consumer knows it: what it gave to
 *    rd_kafka_assign / incremental_assign (manual assign, rebalance
 *    callback).  Ownership checks (seek, position, pause, resume: ENOTOPIC;
 *    commits and dead letters in group mode: EGENERATION) look there; a
 *    lost assignment (rd_kafka_assignment_lost) owns nothing.
 *  - pos in parts[] is the next offset poll hands out: set by assign with
 *    an explicit offset, by seek, and by every message handed out; -1
 *    while unknown (librdkafka resolves BEGINNING/END/committed itself).
 *  - The Kafka broker does not check which member owns a partition when
 *    offsets are committed; crawllog's contract (EGENERATION for a
 *    partition not owned) is enforced here against parts[].
 *  - A consumer without group.id still needs one for librdkafka's
 *    assign(): a fixed placeholder that is never committed to (commits
 *    and committed() fail with CRAWLLOG_EINVAL "no group.id" first).
 *  - Rebalance callback order: ASSIGNED after rd_kafka_(incremental_)
 *    assign, so seek/position/pause work inside it; REVOKED and LOST
 *    before the unassign, so commits inside REVOKED still count.  With
 *    the eager strategies (range, roundrobin) every rebalance revokes
 *    everything, pauses included (as in Kafka); cooperative-sticky keeps
 *    the pause of partitions it keeps.
 *  - Poison-pill counting (max.deliveries) is a file-backend feature;
 *    max.poll.records caps every poll.
 *
 * Locks: none.  A consumer is used by one thread at a time (public
 * contract).  Threads: librdkafka's own threads run inside the rd_kafka_t
 * (fetch, heartbeats); every callback of ours (rebalance, error) and the
 * application's rebalance callback run from rd_kafka_consumer_poll or
 * rd_kafka_consumer_close, i.e. inside crawllog_consumer_poll / _close in
 * the caller's thread, with no lock held.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "consumer.h"
#include "io.h"
#include "kafka.h"
#include "names.h"

#define REQUEST_TIMEOUT_MS 10000
#define NO_GROUP "crawllog-no-group" /* placeholder, never committed to */

#define K(cons) ((cons)->kafka)

int cl_kafka_cons_fail(crawllog_consumer_t *cons, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(K(cons)->errmsg, sizeof(K(cons)->errmsg), fmt, ap);
    va_end(ap);
    return rc;
}

/* rc for a librdkafka error err, recorded as "<what>: NAME: string". */
int cl_kafka_cons_kfail(crawllog_consumer_t *cons, rd_kafka_resp_err_t err,
                        const char *what)
{
    return cl_kafka_cons_fail(cons, cl_kafka_err(err), "%s: %s: %s", what,
                              rd_kafka_err2name(err), rd_kafka_err2str(err));
}

/* ---- partitions owned ------------------------------------------------- */

struct cl_kafka_part *cl_kafka_cons_find(struct cl_kafka_consumer *k,
                                         const char *topic, int32_t partition)
{
    if (rd_kafka_assignment_lost(k->rk)) {
        return NULL;
    }
    for (size_t i = 0; i < k->nparts; i++) {
        if (k->parts[i].partition == partition &&
            strcmp(k->parts[i].topic, topic) == 0) {
            return &k->parts[i];
        }
    }
    return NULL;
}

static int add_part(struct cl_kafka_consumer *k, const char *topic,
                    int32_t partition, int64_t pos)
{
    struct cl_kafka_part *p = cl_kafka_cons_find(k, topic, partition);
    if (p != NULL) {
        p->pos = pos;
        return 0;
    }
    if (cl_io_grow((void **)&k->parts, &k->partcap, k->nparts + 1,
                   sizeof(*k->parts)) != 0) {
        return CRAWLLOG_ENOMEM;
    }
    p = &k->parts[k->nparts];
    if ((p->topic = cl_io_strdup(topic)) == NULL) {
        return CRAWLLOG_ENOMEM;
    }
    p->partition = partition;
    p->pos = pos;
    p->paused = 0;
    k->nparts++;
    return 0;
}

static void remove_part(struct cl_kafka_consumer *k, const char *topic,
                        int32_t partition)
{
    for (size_t i = 0; i < k->nparts; i++) {
        if (k->parts[i].partition == partition &&
            strcmp(k->parts[i].topic, topic) == 0) {
            cl_io_free(k->parts[i].topic);
            k->parts[i] = k->parts[--k->nparts];
            return;
        }
    }
}

static void clear_parts(struct cl_kafka_consumer *k)
{
    for (size_t i = 0; i < k->nparts; i++) {
        cl_io_free(k->parts[i].topic);
    }
    k->nparts = 0;
}

/* Position of an owned partition: ours, else librdkafka's, else -1. */
int64_t cl_kafka_cons_pos(struct cl_kafka_consumer *k,
                          const struct cl_kafka_part *p)
{
    if (p->pos >= 0) {
        return p->pos;
    }
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, p->topic, p->partition);
    int64_t pos = -1;
    if (rd_kafka_position(k->rk, l) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        l->elems[0].offset >= 0) {
        pos = l->elems[0].offset;
    }
    rd_kafka_topic_partition_list_destroy(l);
    return pos;
}

/* ---- creation ---------------------------------------------------------- */

static int passed(const crawllog_conf_t *conf, const char *name)
{
    for (size_t i = 0; i < cl_conf_kafka_count(conf); i++) {
        const char *n, *v;
        cl_conf_kafka_at(conf, i, &n, &v);
        if (strcmp(n, name) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Set name=value on kc unless the consumer's conf or the log's conf lc
 * passes kafka.<name> through (an explicit librdkafka setting wins). */
static int kset(rd_kafka_conf_t *kc, const crawllog_conf_t *conf,
                const crawllog_conf_t *lc, const char *name, const char *value,
                char *errstr, size_t errstr_size)
{
    char why[256];
    if (passed(conf, name) || passed(lc, name)) {
        return 0;
    }
    if (rd_kafka_conf_set(kc, name, value, why, sizeof(why)) !=
        RD_KAFKA_CONF_OK) {
        snprintf(errstr, errstr_size, "%s=%s: %s", name, value, why);
        return CRAWLLOG_EINVAL;
    }
    return 0;
}

static int translate(rd_kafka_conf_t *kc, const crawllog_conf_t *conf,
                     const crawllog_conf_t *lc, char *errstr, size_t n)
{
    static const char *const reset[] = {"earliest", "latest", "error"};
    static const char *const strategy[] = {"range", "roundrobin",
                                           "cooperative-sticky"};
    static const enum cl_conf_key ints[] = {
        CL_CONF_AUTO_COMMIT_INTERVAL_MS, CL_CONF_MAX_POLL_INTERVAL_MS,
        CL_CONF_SESSION_TIMEOUT_MS, CL_CONF_HEARTBEAT_INTERVAL_MS,
        CL_CONF_MAX_PARTITION_FETCH_BYTES};
    const char *group = cl_conf_str(conf, CL_CONF_GROUP_ID);
    const char *inst = cl_conf_str(conf, CL_CONF_GROUP_INSTANCE_ID);
    const char *client = cl_conf_str(conf, CL_CONF_CLIENT_ID);
    int64_t r = cl_conf_int(conf, CL_CONF_AUTO_OFFSET_RESET);
    int64_t s = cl_conf_int(conf, CL_CONF_PARTITION_ASSIGNMENT_STRATEGY);
    char num[32];
    int rc =
        kset(kc, conf, lc, "group.id", group[0] ? group : NO_GROUP, errstr, n);
    if (rc == 0 && inst[0]) {
        rc = kset(kc, conf, lc, "group.instance.id", inst, errstr, n);
    }
    if (rc == 0 && client[0]) {
        rc = kset(kc, conf, lc, "client.id", client, errstr, n);
    }
    if (rc == 0) {
        rc = kset(kc, conf, lc, "auto.offset.reset",
                  reset[r >= 0 && r <= 2 ? r : 0], errstr, n);
    }
    if (rc == 0) {
        rc = kset(kc, conf, lc, "enable.auto.commit",
                  group[0] && cl_conf_int(conf, CL_CONF_ENABLE_AUTO_COMMIT)
                      ? "true"
                      : "false",
                  errstr, n);
    }
    if (rc == 0) {
        rc = kset(kc, conf, lc, "partition.assignment.strategy",
                  strategy[s >= 0 && s <= 2 ? s : 2], errstr, n);
    }
    if (rc == 0) {
        rc = kset(kc, conf, lc, "isolation.level",
                  cl_conf_int(conf, CL_CONF_ISOLATION_LEVEL) ==
                          CL_CONF_ISOLATION_READ_UNCOMMITTED
                      ? "read_uncommitted"
                      : "read_committed",
                  errstr, n);
    }
    for (size_t i = 0; rc == 0 && i < sizeof(ints) / sizeof(ints[0]); i++) {
        if (cl_conf_is_set(conf, ints[i])) {
            snprintf(num, sizeof(num), "%" PRId64, cl_conf_int(conf, ints[i]));
            rc = kset(kc, conf, lc, cl_conf_name(ints[i]), num, errstr, n);
        }
    }
    if (rc == 0) {
        rc = kset(kc, conf, lc, "enable.partition.eof", "false", errstr, n);
    }
    return rc;
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *list, void *opaque);

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    struct cl_kafka_consumer *k = opaque;
    char fatal[256];
    (void)rk;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        rd_kafka_resp_err_t orig =
            rd_kafka_fatal_error(k->rk, fatal, sizeof(fatal));
        k->fatal = cl_kafka_err(orig) ? cl_kafka_err(orig) : CRAWLLOG_EIO;
        snprintf(k->errmsg, sizeof(k->errmsg), "fatal consumer error: %s: %s",
                 rd_kafka_err2name(orig), fatal);
    }
    /* Other errors (brokers down, ...) are transient: librdkafka retries;
     * requests that fail because of them report their own error. */
    (void)reason;
}

int cl_kafka_consumer_new(crawllog_t *log, const crawllog_conf_t *conf,
                          crawllog_consumer_t **consp, char *errstr,
                          size_t errstr_size)
{
    rd_kafka_conf_t *kc = NULL;
    char dummy[8];
    if (errstr == NULL || errstr_size == 0) {
        errstr = dummy;
        errstr_size = sizeof(dummy);
    }
    errstr[0] = '\0';
    if (consp == NULL) {
        snprintf(errstr, errstr_size, "consp must not be NULL");
        return CRAWLLOG_EINVAL;
    }
    *consp = NULL;
    crawllog_consumer_t *shell = cl_io_calloc(1, sizeof(*shell));
    struct cl_kafka_consumer *k = cl_io_calloc(1, sizeof(*k));
    int rc = shell && k ? 0 : CRAWLLOG_ENOMEM;
    if (rc == 0 && conf != NULL && crawllog_conf_dup(&k->conf, conf) != 0) {
        rc = CRAWLLOG_ENOMEM;
    }
    if (rc == CRAWLLOG_ENOMEM) {
        snprintf(errstr, errstr_size, "out of memory");
    }
    if (rc == 0) {
        rc = cl_kafka_client_conf(log, conf, &kc, errstr, errstr_size);
    }
    if (rc == 0) {
        rc = translate(kc, conf, cl_kafka_log_conf(log), errstr, errstr_size);
    }
    if (rc == 0) {
        k->shell = shell;
        k->log = log;
        k->has_group = cl_conf_str(conf, CL_CONF_GROUP_ID)[0] != '\0';
        rd_kafka_conf_set_opaque(kc, k);
        rd_kafka_conf_set_rebalance_cb(kc, rebalance_cb);
        rd_kafka_conf_set_error_cb(kc, error_cb);
        k->rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, errstr, errstr_size);
        if (k->rk == NULL) {
            rc = CRAWLLOG_EINVAL;
        } else {
            kc = NULL; /* owned by rk now */
            rd_kafka_poll_set_consumer(k->rk);
        }
    }
    if (rc != 0) {
        if (kc) {
            rd_kafka_conf_destroy(kc);
        }
        if (k) {
            crawllog_conf_destroy(k->conf);
        }
        cl_io_free(k);
        cl_io_free(shell);
        return rc;
    }
    shell->kafka = k;
    *consp = shell;
    return 0;
}

/* ---- the rebalance callback -------------------------------------------- */

static void call_user(crawllog_consumer_t *cons, int event,
                      const rd_kafka_topic_partition_list_t *list)
{
    struct cl_kafka_consumer *k = K(cons);
    if (k->cb == NULL) {
        return;
    }
    crawllog_topic_partition_t *tp =
        cl_io_calloc((size_t)list->cnt + 1, sizeof(*tp));
    if (tp == NULL) {
        k->cb_err = CRAWLLOG_ENOMEM;
        return;
    }
    for (int i = 0; i < list->cnt; i++) {
        struct cl_kafka_part *p = cl_kafka_cons_find(k, list->elems[i].topic,
                                                     list->elems[i].partition);
        tp[i].topic = list->elems[i].topic;
        tp[i].partition = list->elems[i].partition;
        tp[i].offset = p && event != CRAWLLOG_REBALANCE_ASSIGNED
                           ? cl_kafka_cons_pos(k, p)
                           : -1;
        tp[i].metadata = NULL;
    }
    k->in_cb = 1;
    k->cb(cons, event, tp, (size_t)list->cnt, k->cb_opaque);
    k->in_cb = 0;
    cl_io_free(tp);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *list, void *opaque)
{
    struct cl_kafka_consumer *k = opaque;
    crawllog_consumer_t *cons = k->shell;
    int coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    rd_kafka_error_t *e = NULL;
    rd_kafka_resp_err_t ae = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        if (coop) {
            e = rd_kafka_incremental_assign(rk, list);
        } else {
            ae = rd_kafka_assign(rk, list);
        }
        for (int i = 0; i < list->cnt; i++) {
            if (add_part(k, list->elems[i].topic, list->elems[i].partition,
                         -1) != 0) {
                k->cb_err = CRAWLLOG_ENOMEM;
            }
        }
        if (e == NULL && ae == RD_KAFKA_RESP_ERR_NO_ERROR) {
            call_user(cons, CRAWLLOG_REBALANCE_ASSIGNED, list);
        }
    } else {
        int lost = err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS ||
                   rd_kafka_assignment_lost(rk);
        call_user(cons,
                  lost ? CRAWLLOG_REBALANCE_LOST : CRAWLLOG_REBALANCE_REVOKED,
                  list);
        if (coop && err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
            e = rd_kafka_incremental_unassign(rk, list);
        } else {
            ae = rd_kafka_assign(rk, NULL);
        }
        for (int i = 0; i < list->cnt; i++) {
            remove_part(k, list->elems[i].topic, list->elems[i].partition);
        }
        if (!coop || err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
            clear_parts(k);
        }
    }
    if (e != NULL) {
        ae = rd_kafka_error_code(e);
        rd_kafka_error_destroy(e);
    }
    if (ae != RD_KAFKA_RESP_ERR_NO_ERROR) {
        cl_kafka_cons_kfail(cons, ae, "rebalance: assign");
        k->cb_err = cl_kafka_err(ae);
    }
}

/* ---- state checks -------------------------------------------------------- */

/* 0 or the error (recorded): closed, fatal, inside the callback when
 * no_callback. */
int cl_kafka_cons_state(crawllog_consumer_t *cons, int no_callback,
                        const char *fn)
{
    struct cl_kafka_consumer *k = K(cons);
    if (k->closed) {
        return cl_kafka_cons_fail(cons, CRAWLLOG_ECLOSED,
                                  "crawllog_%s: the consumer is closed", fn);
    }
    if (k->fatal) {
        return k->fatal; /* errmsg set by error_cb */
    }
    if (no_callback && k->in_cb) {
        return cl_kafka_cons_fail(
            cons, CRAWLLOG_EMISUSE,
            "crawllog_%s: not allowed inside the rebalance callback", fn);
    }
    return 0;
}

int cl_kafka_cons_need_group(crawllog_consumer_t *cons, const char *fn)
{
    if (!K(cons)->has_group) {
        return cl_kafka_cons_fail(cons, CRAWLLOG_EINVAL,
                                  "crawllog_%s: the consumer has no group.id",
                                  fn);
    }
    return 0;
}

int cl_kafka_cons_check_msg(crawllog_consumer_t *cons,
                            const crawllog_msg_t *msg, int no_callback,
                            const char *fn)
{
    struct cl_kafka_consumer *k = K(cons);
    int rc = cl_kafka_cons_state(cons, no_callback, fn);
    if (rc == 0) {
        rc = cl_kafka_cons_need_group(cons, fn);
    }
    if (rc != 0) {
        return rc;
    }
    if (msg == NULL || k->nheld == 0 || msg < k->msgs ||
        msg >= k->msgs + k->nheld) {
        return cl_kafka_cons_fail(
            cons, CRAWLLOG_EINVAL,
            "crawllog_%s: the message is not from this consumer's last poll",
            fn);
    }
    if (cl_kafka_cons_find(k, msg->topic, msg->partition) == NULL) {
        return cl_kafka_cons_fail(
            cons, CRAWLLOG_EGENERATION,
            "crawllog_%s: %s/%d is no longer owned by this consumer", fn,
            msg->topic, (int)msg->partition);
    }
    return 0;
}

int cl_kafka_consumer_set_rebalance_cb(crawllog_consumer_t *cons,
                                       crawllog_rebalance_cb *cb, void *opaque)
{
    int rc = cl_kafka_cons_state(cons, 1, "consumer_set_rebalance_cb");
    if (rc == 0) {
        K(cons)->cb = cb;
        K(cons)->cb_opaque = opaque;
    }
    return rc;
}

/* ---- subscribe / assign ------------------------------------------------ */

int cl_kafka_consumer_subscribe(crawllog_consumer_t *cons,
                                const char *const *topics, size_t count)
{
    struct cl_kafka_consumer *k = K(cons);
    int rc = cl_kafka_cons_state(cons, 1, "consumer_subscribe");
    if (rc != 0 ||
        (rc = cl_kafka_cons_need_group(cons, "consumer_subscribe")) != 0) {
        return rc;
    }
    if (k->mode == CL_CONS_ASSIGNED) {
        return cl_kafka_cons_fail(cons, CRAWLLOG_EMISUSE,
                                  "crawllog_consumer_subscribe: the consumer "
                                  "uses crawllog_consumer_assign()");
    }
    if ((topics == NULL && count > 0) || count > 64) {
        return cl_kafka_cons_fail(cons, CRAWLLOG_EINVAL,
                                  "crawllog_consumer_subscribe: %zu topics "
                                  "(1 to 64 needed)",
                                  count);
    }
    for (size_t i = 0; i < count; i++) {
        if (topics[i] == NULL || !cl_names_topic_valid(topics[i])) {
            return cl_kafka_cons_fail(
                cons, CRAWLLOG_EINVAL,
                "crawllog_consumer_subscribe: invalid topic name \"%s\"",
                topics[i] ? topics[i] : "(null)");
        }
    }
    rd_kafka_topic_partition_list_t *l =
        rd_kafka_topic_partition_list_new((int)count);
    for (size_t i = 0; i < count; i++) {
        rd_kafka_topic_partition_list_add(l, topics[i], RD_KAFKA_PARTITION_UA);
    }
    rd_kafka_resp_err_t err = rd_kafka_subscribe(k->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return cl_kafka_cons_kfail(cons, err, "crawllog_consumer_subscribe");
    }
    k->mode = CL_CONS_SUBSCRIBED;
    return 0;
}

int cl_kafka_consumer_assign(crawllog_consumer_t *cons,
                             const crawllog_topic_partition_t *parts,
                             size_t count)
{
    struct cl_kafka_consumer *k = K(cons);
    int32_t n;
    int rc = cl_kafka_cons_state(cons, 1, "consumer_assign");
    if (rc != 0) {
        return rc;
    }
    if (k->mode == CL_CONS_SUBSCRIBED) {
        return cl_kafka_cons_fail(cons, CRAWLLOG_EMISUSE,
                                  "crawllog_consumer_assign: the consumer is "
                                  "subscribed");
    }
    if (parts == NULL && count > 0) {
        return cl_kafka_cons_fail(cons, CRAWLLOG_EINVAL,
                                  "crawllog_consumer_assign: parts is NULL");
    }
    for (size_t i = 0; i < count; i++) {
        int64_t o = parts[i].offset;
        if (parts[i].topic == NULL || !cl_names_topic_valid(parts[i].topic) ||
            (o < 0 && o != CRAWLLOG_OFFSET_BEGINNING &&
             o != CRAWLLOG_OFFSET_END && o != CRAWLLOG_OFFSET_COMMITTED)) {
            return cl_kafka_cons_fail(
                cons, CRAWLLOG_EINVAL,
                "crawllog_consumer_assign: entry %zu: invalid topic or "
                "offset %" PRId64,
                i, o);
        }
        rc = cl_kafka_topic_partitions(k->log, parts[i].topic, &n);
        if (rc == 0 && (parts[i].partition < 0 || parts[i].partition >= n)) {
            rc = CRAWLLOG_ENOTOPIC;
        }
        if (rc != 0) {
            return cl_kafka_cons_fail(
                cons, rc, "crawllog_consumer_assign: %s/%d: %s", parts[i].topic,
                (int)parts[i].partition,
                rc == CRAWLLOG_ENOTOPIC ? "no such topic or partition"
                                        : crawllog_errmsg(k->log));
        }
    }
    rd_kafka_topic_partition_list_t *l =
        rd_kafka_topic_partition_list_new((int)count);
    for (size_t i = 0; i < count; i++) {
        int64_t o = parts[i].offset;
        rd_kafka_topic_partition_list_add(l, parts[i].topic, parts[i].partition)
            ->offset = o == CRAWLLOG_OFFSET_COMMITTED
                           ? (k->has_group ? RD_KAFKA_OFFSET_STORED
                                           : RD_KAFKA_OFFSET_INVALID)
                       : o == CRAWLLOG_OFFSET_BEGINNING
                           ? RD_KAFKA_OFFSET_BEGINNING
                       : o == CRAWLLOG_OFFSET_END ? RD_KAFKA_OFFSET_END
                                                  : o;
    }
    rd_kafka_resp_err_t err = rd_kafka_assign(k->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return cl_kafka_cons_kfail(cons, err, "crawllog_consumer_assign");
    }
    clear_parts(k);
    for (size_t i = 0; i < count; i++) {
        if (add_part(k, parts[i].topic, parts[i].partition,
                     parts[i].offset >= 0 ? parts[i].offset : -1) != 0) {
            return cl_kafka_cons_fail(cons, CRAWLLOG_ENOMEM, "out of memory");
        }
    }
    k->mode = CL_CONS_ASSIGNED;
    return 0;
}

/* ---- poll ---------------------------------------------------------------- */

static void release_held(struct cl_kafka_consumer *k)
{
    for (size_t i = 0; i < k->nheld; i++) {
        rd_kafka_message_destroy(k->held[i]);
    }
    k->nheld = 0;
}

/* Room for max messages in held/msgs/hbufs/hcaps. */
static int reserve(struct cl_kafka_consumer *k, size_t max)
{
    if (max <= k->msgcap) {
        return 0;
    }
    rd_kafka_message_t **held = cl_io_realloc(k->held, max * sizeof(*held));
    if (held == NULL) {
        return CRAWLLOG_ENOMEM;
    }
    k->held = held;
    struct crawllog_msg_s *msgs = cl_io_realloc(k->msgs, max * sizeof(*msgs));
    if (msgs == NULL) {
        return CRAWLLOG_ENOMEM;
    }
    k->msgs = msgs;
    uint8_t **hbufs = cl_io_realloc(k->hbufs, max * sizeof(*hbufs));
    if (hbufs == NULL) {
        return CRAWLLOG_ENOMEM;
    }
    k->hbufs = hbufs;
    size_t *hcaps = cl_io_realloc(k->hcaps, max * sizeof(*hcaps));
    if (hcaps == NULL) {
        return CRAWLLOG_ENOMEM;
    }
    k->hcaps = hcaps;
    for (size_t i = k->msgcap; i < max; i++) {
        k->hbufs[i] = NULL;
        k->hcaps[i] = 0;
    }
    k->msgcap = max;
    return 0;
}

/* A consumer error event m (m->err set): 0 to ignore it, else the error
 * (recorded). */
static int poll_error(crawllog_consumer_t *cons, const rd_kafka_message_t *m)
{
    struct cl_kafka_consumer *k = K(cons);
    const char *topic = m->rkt ? rd_kafka_topic_name(m->rkt) : NULL;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        return 0;
    }
    /* A subscribed topic that does not exist yet is picked up when it is
     * created (public contract). */
    if (k->mode == CL_CONS_SUBSCRIBED &&
        (m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
         m->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC)) {
        return 0;
    }
    if (topic != NULL) {
        return cl_kafka_cons_fail(
            cons, cl_kafka_err(m->err),
            "crawllog_consumer_poll: %s/%d at offset %" PRId64 ": %s: %s",
            topic, (int)m->partition, m->offset, rd_kafka_err2name(m->err),
            rd_kafka_message_errstr(m));
    }
    return cl_kafka_cons_fail(
        cons, cl_kafka_err(m->err), "crawllog_consumer_poll: %s: %s",
        rd_kafka_err2name(m->err), rd_kafka_message_errstr(m));
}

int cl_kafka_consumer_poll(crawllog_consumer_t *cons, int timeout_ms,
                           const crawllog_msg_t **msgs, size_t max,
                           size_t *countp)
{
    struct cl_kafka_consumer *k = K(cons);
    if (countp) {
        *countp = 0;
    }
    int rc = cl_kafka_cons_state(cons, 1, "consumer_poll");
    if (rc != 0) {
        return rc;
    }
    if (msgs == NULL || countp == NULL || max == 0) {
        return cl_kafka_cons_fail(cons, CRAWLLOG_EINVAL,
                                  "crawllog_consumer_poll: msgs, countp and "
                                  "max > 0 are needed");
    }
    release_held(k);
    if (k->pending != 0) {
        rc = k->pending;
        k->pending = 0;
        return cl_kafka_cons_fail(cons, rc, "%s", k->pending_msg);
    }
    int64_t mpr = cl_conf_int(k->conf, CL_CONF_MAX_POLL_RECORDS);
    if (max > (uint64_t)mpr) { /* not (int64_t)max: SIZE_MAX is -1 */
        max = (size_t)mpr;
    }
    if (reserve(k, max) != 0) {
        return cl_kafka_cons_fail(cons, CRAWLLOG_ENOMEM, "out of memory");
    }
    int64_t deadline = cl_io_mono_ns() + (int64_t)timeout_ms * 1000000;
    size_t n = 0;
    k->cb_err = 0;
    for (;;) {
        int wait = 0;
        if (n == 0 && timeout_ms != 0) {
            int64_t left = (deadline - cl_io_mono_ns()) / 1000000;
            wait = timeout_ms < 0 ? 1000
                   : left <= 0    ? 0
                   : left > 1000  ? 1000
                                  : (int)left;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(k->rk, wait);
        if (k->cb_err != 0) {
            rc = k->cb_err;
        }
        if (m != NULL && m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            int e = poll_error(cons, m);
            rd_kafka_message_destroy(m);
            if (e != 0 && n == 0) {
                return e;
            }
            if (e != 0) { /* hand out what we have, the error next time */
                k->pending = e;
                snprintf(k->pending_msg, sizeof(k->pending_msg), "%s",
                         k->errmsg);
                break;
            }
            continue;
        }
        if (m != NULL) {
            struct cl_kafka_part *p = cl_kafka_cons_find(
                k, rd_kafka_topic_name(m->rkt), m->partition);
            k->held[n] = m;
            k->nheld = n + 1;
            if (cl_kafka_msg_fill(&k->msgs[n], m, rd_kafka_topic_name(m->rkt),
                                  &k->hbufs[n], &k->hcaps[n]) != 0) {
                return cl_kafka_cons_fail(cons, CRAWLLOG_ENOMEM,
                                          "crawllog_consumer_poll: %s/%d: "
                                          "out of memory decoding headers",
                                          rd_kafka_topic_name(m->rkt),
                                          (int)m->partition);
            }
            if (p != NULL) {
                p->pos = m->offset + 1;
            }
            msgs[n] = &k->msgs[n];
            n++;
            if (n >= max) {
                break;
            }
            continue;
        }
        if (rc != 0 || k->fatal || n > 0 || timeout_ms == 0 ||
            (timeout_ms > 0 && cl_io_mono_ns() >= deadline)) {
            break;
        }
    }
    *countp = n;
    if (k->fatal) {
        return k->fatal;
    }
    return rc;
}

/* ---- close, destroy ------------------------------------------------------- */

int cl_kafka_consumer_close(crawllog_consumer_t *cons)
{
    struct cl_kafka_consumer *k = K(cons);
    if (k->closed) {
        return 0;
    }
    if (k->in_cb) {
        return cl_kafka_cons_fail(cons, CRAWLLOG_EMISUSE,
                                  "crawllog_consumer_close: not allowed "
                                  "inside the rebalance callback");
    }
    release_held(k);
    k->cb_err = 0;
    /* Leaves the group: the rebalance callback (REVOKED) runs from here,
     * and with enable.auto.commit librdkafka commits the positions. */
    rd_kafka_resp_err_t err = rd_kafka_consumer_close(k->rk);
    k->closed = 1;
    clear_parts(k);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return cl_kafka_cons_kfail(cons, err, "crawllog_consumer_close");
    }
    return k->cb_err;
}

void cl_kafka_consumer_destroy(crawllog_consumer_t *cons)
{
    struct cl_kafka_consumer *k = K(cons);
    if (!k->closed && !k->in_cb) {
        cl_kafka_consumer_close(cons);
    }
    release_held(k);
    for (size_t i = 0; i < k->msgcap; i++) {
        cl_io_free(k->hbufs[i]);
    }
    cl_io_free(k->held);
    cl_io_free(k->msgs);
    cl_io_free(k->hbufs);
    cl_io_free(k->hcaps);
    clear_parts(k);
    cl_io_free(k->parts);
    if (k->dlq != NULL) {
        cl_kafka_producer_destroy(k->dlq);
    }
    rd_kafka_destroy(k->rk);
    crawllog_conf_destroy(k->conf);
    cl_io_free(k);
    cl_io_free(cons);
}

const char *cl_kafka_consumer_errmsg(const crawllog_consumer_t *cons)
{
    return K(cons)->errmsg;
}
