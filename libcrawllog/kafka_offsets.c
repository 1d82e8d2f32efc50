/*
 * kafka_offsets.c - the Kafka consumer's commits and positions: commit,
 * commit_offsets, committed, seek, seek_to_time, position, pause, resume,
 * assignment, group metadata, generation and member id (the rest of the
 * consumer is kafka_consumer.c; struct cl_kafka_consumer is in kafka.h).
 *
 * Owns nothing on disk and no state of its own (it works on the
 * consumer's).
 *
 * Invariants:
 *  - A commit is one OffsetCommit request (rd_kafka_commit with the whole
 *    list, synchronous): all of it or none.  The broker accepts commits
 *    from any member for any partition, so in group mode each partition
 *    is checked against the owned set first: CRAWLLOG_EGENERATION and
 *    nothing sent if one is not owned (crawllog's contract); the
 *    coordinator's own refusals (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID,
 *    REBALANCE_IN_PROGRESS) map to CRAWLLOG_EGENERATION too.
 *  - After such a refusal every refused partition this member still holds
 *    is rewound to the group's committed offset (rewind_refused): what a
 *    new owner would deliver.  Applications take CRAWLLOG_EGENERATION as
 *    "the partition moved, its new owner redoes the uncommitted messages"
 *    (the file backend only says it when the partition did move), but a
 *    cooperative-sticky rebalance usually leaves the partition where it
 *    was, at its position past the refused messages: without the rewind
 *    the last message of a partition whose commit was refused stayed
 *    uncommitted for good (group lag stuck at 1, crawl-demo on Kafka).
 *  - seek checks the offset against the partition's watermarks
 *    (CRAWLLOG_EOFFSET outside) and seeks to a concrete offset, which
 *    becomes the position at once.
 *
 * Locks: none (one thread at a time per consumer).  Threads: the calls
 * here block on librdkafka requests (timeout REQUEST_TIMEOUT_MS) in the
 * caller's thread; no callback of the application runs from here.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "consumer.h"
#include "io.h"
#include "kafka.h"
#include "names.h"
#include "txn.h"

#define REQUEST_TIMEOUT_MS 10000
#define K(cons) ((cons)->kafka)

/* ---- commits -------------------------------------------------------------- */

/* The coordinator refused a commit of l: nothing of it moved.  Rewind
 * each partition of l still held to the group's committed offset (if it
 * is behind the position), so the refused messages are delivered again;
 * with no committed offset, to the log start under auto.offset.reset
 * earliest.  Best effort: a failure leaves the positions as they were. */
static void rewind_refused(crawllog_consumer_t *cons,
                           const rd_kafka_topic_partition_list_t *l)
{
    struct cl_kafka_consumer *k = K(cons);
    rd_kafka_topic_partition_list_t *c =
        rd_kafka_topic_partition_list_new(l->cnt);
    for (int i = 0; i < l->cnt; i++) {
        if (cl_kafka_cons_find(k, l->elems[i].topic, l->elems[i].partition)) {
            rd_kafka_topic_partition_list_add(c, l->elems[i].topic,
                                              l->elems[i].partition);
        }
    }
    if (c->cnt == 0 ||
        rd_kafka_committed(k->rk, c, REQUEST_TIMEOUT_MS) !=
            RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_topic_partition_list_destroy(c);
        return;
    }
    int earliest = cl_conf_int(k->conf, CL_CONF_AUTO_OFFSET_RESET) == 0;
    for (int i = 0; i < c->cnt; i++) {
        rd_kafka_topic_partition_t *e = &c->elems[i];
        struct cl_kafka_part *p = cl_kafka_cons_find(k, e->topic, e->partition);
        int64_t pos = p ? cl_kafka_cons_pos(k, p) : -1;
        int64_t to = e->err != RD_KAFKA_RESP_ERR_NO_ERROR ? -1
                     : e->offset >= 0                      ? e->offset
                     : earliest ? RD_KAFKA_OFFSET_BEGINNING
                                : -1;
        if (p == NULL || to == -1 || (to >= 0 && pos >= 0 && to >= pos)) {
            continue;
        }
        rd_kafka_topic_partition_list_t *s =
            rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(s, e->topic, e->partition)->offset =
            to;
        rd_kafka_error_t *err =
            rd_kafka_seek_partitions(k->rk, s, REQUEST_TIMEOUT_MS);
        if (err == NULL && s->elems[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            p->pos = to >= 0 ? to : -1; /* BEGINNING: librdkafka resolves */
        }
        if (err != NULL) {
            rd_kafka_error_destroy(err);
        }
        rd_kafka_topic_partition_list_destroy(s);
    }
    rd_kafka_topic_partition_list_destroy(c);
}

/* One OffsetCommit of l (synchronous).  In group mode every partition must
 * be owned (the broker would accept it from any member).  A refusal of the
 * coordinator rewinds the refused partitions (rewind_refused). */
static int commit_list(crawllog_consumer_t *cons,
                       rd_kafka_topic_partition_list_t *l, const char *fn)
{
    struct cl_kafka_consumer *k = K(cons);
    if (k->mode == CL_CONS_SUBSCRIBED) {
        for (int i = 0; i < l->cnt; i++) {
            if (cl_kafka_cons_find(k, l->elems[i].topic,
                                   l->elems[i].partition) == NULL) {
                return cl_kafka_cons_fail(
                    cons, CRAWLLOG_EGENERATION,
                    "crawllog_%s: %s/%d is not owned by this member "
                    "(generation %d): nothing committed",
                    fn, l->elems[i].topic, (int)l->elems[i].partition,
                    (int)cl_kafka_consumer_generation(cons));
            }
        }
    }
    if (l->cnt == 0) {
        return 0;
    }
    rd_kafka_resp_err_t err = rd_kafka_commit(k->rk, l, 0);
    for (int i = 0; err == RD_KAFKA_RESP_ERR_NO_ERROR && i < l->cnt; i++) {
        if (l->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            err = l->elems[i].err;
        }
    }
    if (err == RD_KAFKA_RESP_ERR__NO_OFFSET) {
        return 0;
    }
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR &&
        cl_kafka_err(err) == CRAWLLOG_EGENERATION) {
        rewind_refused(cons, l);
    }
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        char what[300];
        snprintf(what, sizeof(what), "crawllog_%s: %s/%d%s", fn,
                 l->elems[0].topic, (int)l->elems[0].partition,
                 l->cnt > 1 ? " and others" : "");
        return cl_kafka_cons_kfail(cons, err, what);
    }
    return 0;
}

int cl_kafka_consumer_commit(crawllog_consumer_t *cons,
                             const crawllog_msg_t *msg, int sync)
{
    struct cl_kafka_consumer *k = K(cons);
    (void)sync; /* a Kafka commit is acknowledged by the coordinator */
    int rc = cl_kafka_cons_state(cons, 0, "consumer_commit");
    if (rc != 0 ||
        (rc = cl_kafka_cons_need_group(cons, "consumer_commit")) != 0) {
        return rc;
    }
    if (msg != NULL && (msg < k->msgs || msg >= k->msgs + k->nheld)) {
        return cl_kafka_cons_fail(cons, CRAWLLOG_EINVAL,
                                  "crawllog_consumer_commit: the message is "
                                  "not from this consumer's last poll");
    }
    rd_kafka_topic_partition_list_t *l =
        rd_kafka_topic_partition_list_new(msg ? 1 : (int)k->nparts + 1);
    if (msg != NULL) {
        rd_kafka_topic_partition_list_add(l, msg->topic, msg->partition)
            ->offset = msg->rv.offset + 1;
    } else {
        for (size_t i = 0; i < k->nparts; i++) {
            int64_t pos = cl_kafka_cons_pos(k, &k->parts[i]);
            if (pos >= 0) {
                rd_kafka_topic_partition_list_add(l, k->parts[i].topic,
                                                  k->parts[i].partition)
                    ->offset = pos;
            }
        }
    }
    rc = commit_list(cons, l, "consumer_commit");
    rd_kafka_topic_partition_list_destroy(l);
    return rc;
}

int cl_kafka_consumer_commit_offsets(crawllog_consumer_t *cons,
                                     const crawllog_topic_partition_t *list,
                                     size_t count, int sync)
{
    (void)sync;
    int rc = cl_kafka_cons_state(cons, 0, "consumer_commit_offsets");
    if (rc != 0 ||
        (rc = cl_kafka_cons_need_group(cons, "consumer_commit_offsets")) != 0) {
        return rc;
    }
    if (list == NULL && count > 0) {
        return cl_kafka_cons_fail(cons, CRAWLLOG_EINVAL,
                                  "crawllog_consumer_commit_offsets: list is "
                                  "NULL");
    }
    for (size_t i = 0; i < count; i++) {
        if (list[i].topic == NULL || !cl_names_topic_valid(list[i].topic) ||
            list[i].partition < 0 || list[i].offset < 0 ||
            (list[i].metadata && strlen(list[i].metadata) >= 4096)) {
            return cl_kafka_cons_fail(
                cons, CRAWLLOG_EINVAL,
                "crawllog_consumer_commit_offsets: entry %zu: invalid topic, "
                "partition, offset or metadata",
                i);
        }
    }
    rd_kafka_topic_partition_list_t *l =
        rd_kafka_topic_partition_list_new((int)count);
    for (size_t i = 0; i < count; i++) {
        rd_kafka_topic_partition_t *e = rd_kafka_topic_partition_list_add(
            l, list[i].topic, list[i].partition);
        e->offset = list[i].offset;
        if (list[i].metadata != NULL) {
            e->metadata_size = strlen(list[i].metadata);
            e->metadata = cl_io_malloc(e->metadata_size + 1);
            if (e->metadata == NULL) {
                e->metadata_size = 0;
                rd_kafka_topic_partition_list_destroy(l);
                return cl_kafka_cons_fail(cons, CRAWLLOG_ENOMEM,
                                          "out of memory");
            }
            memcpy(e->metadata, list[i].metadata, e->metadata_size + 1);
        }
    }
    rc = commit_list(cons, l, "consumer_commit_offsets");
    /* metadata is freed by librdkafka's list destroy (plain free): it was
     * cl_io_malloc'd, which is malloc. */
    rd_kafka_topic_partition_list_destroy(l);
    return rc;
}

int cl_kafka_consumer_committed(crawllog_consumer_t *cons, const char *topic,
                                int32_t partition, int64_t *offsetp)
{
    struct cl_kafka_consumer *k = K(cons);
    if (offsetp) {
        *offsetp = -1;
    }
    int rc = cl_kafka_cons_state(cons, 0, "consumer_committed");
    if (rc != 0 ||
        (rc = cl_kafka_cons_need_group(cons, "consumer_committed")) != 0) {
        return rc;
    }
    if (topic == NULL || offsetp == NULL || !cl_names_topic_valid(topic)) {
        return cl_kafka_cons_fail(cons, CRAWLLOG_EINVAL,
                                  "crawllog_consumer_committed: invalid "
                                  "topic or NULL offsetp");
    }
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, partition);
    rd_kafka_resp_err_t err = rd_kafka_committed(k->rk, l, REQUEST_TIMEOUT_MS);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        err = l->elems[0].err;
    }
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        *offsetp = l->elems[0].offset >= 0 ? l->elems[0].offset : -1;
    }
    rd_kafka_topic_partition_list_destroy(l);
    if (err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
        err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
        err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION) {
        return 0; /* public contract: -1 for a topic that does not exist */
    }
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        char what[300];
        snprintf(what, sizeof(what), "crawllog_consumer_committed: %s/%d",
                 topic, (int)partition);
        return cl_kafka_cons_kfail(cons, err, what);
    }
    return 0;
}

/* ---- group metadata, generation, member id ------------------------------- */

int cl_kafka_consumer_group_metadata(crawllog_consumer_t *cons,
                                     crawllog_group_metadata_t **mdp)
{
    if (mdp) {
        *mdp = NULL;
    }
    int rc = cl_kafka_cons_state(cons, 0, "consumer_group_metadata");
    if (rc != 0 ||
        (rc = cl_kafka_cons_need_group(cons, "consumer_group_metadata")) != 0) {
        return rc;
    }
    if (mdp == NULL) {
        return cl_kafka_cons_fail(cons, CRAWLLOG_EINVAL,
                                  "crawllog_consumer_group_metadata: mdp is "
                                  "NULL");
    }
    crawllog_group_metadata_t *md = cl_io_calloc(1, sizeof(*md));
    rd_kafka_consumer_group_metadata_t *cg =
        md ? rd_kafka_consumer_group_metadata(K(cons)->rk) : NULL;
    if (cg == NULL) {
        cl_io_free(md);
        return cl_kafka_cons_fail(cons, CRAWLLOG_ENOMEM,
                                  "crawllog_consumer_group_metadata: out of "
                                  "memory");
    }
    md->kafka = cg;
    md->generation = -1;
    md->slot = -1;
    *mdp = md;
    return 0;
}

void cl_kafka_group_metadata_destroy(crawllog_group_metadata_t *md)
{
    if (md == NULL) {
        return;
    }
    rd_kafka_consumer_group_metadata_destroy(md->kafka);
    cl_io_free(md);
}

/* librdkafka has no getter for the generation: its serialised group
 * metadata (rd_kafka_consumer_group_metadata_write) starts with the magic
 * "CGMDv2:" followed by the generation id in host order.  Anything else
 * (another version) gives -1. */
int32_t cl_kafka_consumer_generation(const crawllog_consumer_t *cons)
{
    struct cl_kafka_consumer *k = K(cons);
    static const char magic[] = "CGMDv2:";
    int32_t gen = -1;
    void *buf = NULL;
    size_t size = 0;
    if (k->mode != CL_CONS_SUBSCRIBED || k->closed) {
        return -1;
    }
    rd_kafka_consumer_group_metadata_t *cg =
        rd_kafka_consumer_group_metadata(k->rk);
    if (cg == NULL) {
        return -1;
    }
    rd_kafka_error_t *e =
        rd_kafka_consumer_group_metadata_write(cg, &buf, &size);
    if (e == NULL && size >= sizeof(magic) - 1 + sizeof(gen) &&
        memcmp(buf, magic, sizeof(magic) - 1) == 0) {
        memcpy(&gen, (const char *)buf + sizeof(magic) - 1, sizeof(gen));
    }
    if (e != NULL) {
        rd_kafka_error_destroy(e);
    }
    rd_kafka_mem_free(NULL, buf);
    rd_kafka_consumer_group_metadata_destroy(cg);
    return gen;
}

const char *cl_kafka_consumer_member_id(const crawllog_consumer_t *cons)
{
    struct cl_kafka_consumer *k = K(cons);
    if (k->mode != CL_CONS_SUBSCRIBED || k->closed) {
        return "";
    }
    char *id = rd_kafka_memberid(k->rk);
    snprintf(k->member_id, sizeof(k->member_id), "%s", id ? id : "");
    rd_kafka_mem_free(k->rk, id);
    return k->member_id;
}

/* ---- positions ------------------------------------------------------------ */

/* The owned partition, or NULL with *rcp set (CRAWLLOG_ENOTOPIC, or the
 * consumer's state error) and recorded. */
static struct cl_kafka_part *owned(crawllog_consumer_t *cons,
                                   const char *topic, int32_t partition,
                                   const char *fn, int *rcp)
{
    struct cl_kafka_part *p = NULL;
    if ((*rcp = cl_kafka_cons_state(cons, 0, fn)) != 0) {
        return NULL;
    }
    if (topic == NULL) {
        *rcp = cl_kafka_cons_fail(cons, CRAWLLOG_EINVAL,
                                  "crawllog_%s: topic is NULL", fn);
        return NULL;
    }
    if ((p = cl_kafka_cons_find(K(cons), topic, partition)) == NULL) {
        *rcp = cl_kafka_cons_fail(cons, CRAWLLOG_ENOTOPIC,
                                  "crawllog_%s: %s/%d is not owned by this "
                                  "consumer",
                                  fn, topic, (int)partition);
    }
    return p;
}

/* Seek p to offset (resolved: >= 0, within the log) and make it the
 * position. */
static int seek_to(crawllog_consumer_t *cons, struct cl_kafka_part *p,
                   int64_t offset, const char *fn)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, p->topic, p->partition)->offset =
        offset;
    rd_kafka_error_t *e =
        rd_kafka_seek_partitions(K(cons)->rk, l, REQUEST_TIMEOUT_MS);
    rd_kafka_resp_err_t err = e ? rd_kafka_error_code(e) : l->elems[0].err;
    if (e != NULL) {
        rd_kafka_error_destroy(e);
    }
    rd_kafka_topic_partition_list_destroy(l);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        char what[300];
        snprintf(what, sizeof(what), "crawllog_%s: %s/%d to %" PRId64, fn,
                 p->topic, (int)p->partition, offset);
        return cl_kafka_cons_kfail(cons, err, what);
    }
    p->pos = offset;
    return 0;
}

static int watermarks(crawllog_consumer_t *cons, const struct cl_kafka_part *p,
                      int64_t *lowp, int64_t *highp, const char *fn)
{
    rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
        K(cons)->rk, p->topic, p->partition, lowp, highp, REQUEST_TIMEOUT_MS);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        char what[300];
        snprintf(what, sizeof(what), "crawllog_%s: %s/%d: log offsets", fn,
                 p->topic, (int)p->partition);
        return cl_kafka_cons_kfail(cons, err, what);
    }
    return 0;
}

int cl_kafka_consumer_seek(crawllog_consumer_t *cons, const char *topic,
                           int32_t partition, int64_t offset)
{
    struct cl_kafka_part *p = NULL;
    int64_t low, high;
    int rc = 0;
    if ((p = owned(cons, topic, partition, "consumer_seek", &rc)) == NULL) {
        return rc;
    }
    if (offset < 0 && offset != CRAWLLOG_OFFSET_BEGINNING &&
        offset != CRAWLLOG_OFFSET_END) {
        return cl_kafka_cons_fail(cons, CRAWLLOG_EINVAL,
                                  "crawllog_consumer_seek: bad offset %" PRId64,
                                  offset);
    }
    if ((rc = watermarks(cons, p, &low, &high, "consumer_seek")) != 0) {
        return rc;
    }
    if (offset == CRAWLLOG_OFFSET_BEGINNING) {
        offset = low;
    } else if (offset == CRAWLLOG_OFFSET_END) {
        offset = high;
    } else if (offset < low || offset > high) {
        return cl_kafka_cons_fail(cons, CRAWLLOG_EOFFSET,
                                  "crawllog_consumer_seek: %s/%d: offset "
                                  "%" PRId64 " is outside [%" PRId64
                                  ", %" PRId64 "]",
                                  topic, (int)partition, offset, low, high);
    }
    return seek_to(cons, p, offset, "consumer_seek");
}

int cl_kafka_consumer_seek_to_time(crawllog_consumer_t *cons, const char *topic,
                                   int32_t partition, int64_t timestamp_ms)
{
    struct cl_kafka_part *p = NULL;
    int64_t low, high;
    int rc = 0;
    if ((p = owned(cons, topic, partition, "consumer_seek_to_time", &rc)) == NULL) {
        return rc;
    }
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, partition)->offset =
        timestamp_ms;
    rd_kafka_resp_err_t err =
        rd_kafka_offsets_for_times(K(cons)->rk, l, REQUEST_TIMEOUT_MS);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        err = l->elems[0].err;
    }
    int64_t offset = l->elems[0].offset;
    rd_kafka_topic_partition_list_destroy(l);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        char what[300];
        snprintf(what, sizeof(what),
                 "crawllog_consumer_seek_to_time: %s/%d: offsets for time "
                 "%" PRId64,
                 topic, (int)partition, timestamp_ms);
        return cl_kafka_cons_kfail(cons, err, what);
    }
    if (offset < 0) { /* no message that late: the log end */
        if ((rc = watermarks(cons, p, &low, &high, "consumer_seek_to_time")) !=
            0) {
            return rc;
        }
        offset = high;
    }
    return seek_to(cons, p, offset, "consumer_seek_to_time");
}

int cl_kafka_consumer_position(crawllog_consumer_t *cons, const char *topic,
                               int32_t partition, int64_t *offsetp)
{
    struct cl_kafka_part *p = NULL;
    if (offsetp) {
        *offsetp = -1;
    }
    int rc = 0;
    if ((p = owned(cons, topic, partition, "consumer_position", &rc)) ==
        NULL) {
        return rc;
    }
    if (offsetp == NULL) {
        return cl_kafka_cons_fail(cons, CRAWLLOG_EINVAL,
                                  "crawllog_consumer_position: offsetp is "
                                  "NULL");
    }
    *offsetp = cl_kafka_cons_pos(K(cons), p);
    return 0;
}

static int pause_resume(crawllog_consumer_t *cons,
                        const crawllog_topic_partition_t *parts, size_t count,
                        int pause)
{
    const char *fn = pause ? "consumer_pause" : "consumer_resume";
    if (parts == NULL && count > 0) {
        return cl_kafka_cons_fail(cons, CRAWLLOG_EINVAL,
                                  "crawllog_%s: parts "
                                  "is NULL",
                                  fn);
    }
    for (size_t i = 0; i < count; i++) {
        int rc = 0;
        if (owned(cons, parts[i].topic, parts[i].partition, fn, &rc) == NULL) {
            return rc; /* nothing changed */
        }
    }
    rd_kafka_topic_partition_list_t *l =
        rd_kafka_topic_partition_list_new((int)count);
    for (size_t i = 0; i < count; i++) {
        rd_kafka_topic_partition_list_add(l, parts[i].topic,
                                          parts[i].partition);
    }
    rd_kafka_resp_err_t err = pause
                                  ? rd_kafka_pause_partitions(K(cons)->rk, l)
                                  : rd_kafka_resume_partitions(K(cons)->rk, l);
    for (int i = 0; err == RD_KAFKA_RESP_ERR_NO_ERROR && i < l->cnt; i++) {
        err = l->elems[i].err;
    }
    rd_kafka_topic_partition_list_destroy(l);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        char what[64];
        snprintf(what, sizeof(what), "crawllog_%s", fn);
        return cl_kafka_cons_kfail(cons, err, what);
    }
    for (size_t i = 0; i < count; i++) {
        cl_kafka_cons_find(K(cons), parts[i].topic, parts[i].partition)
            ->paused = pause;
    }
    return 0;
}

int cl_kafka_consumer_pause(crawllog_consumer_t *cons,
                            const crawllog_topic_partition_t *parts,
                            size_t count)
{
    return pause_resume(cons, parts, count, 1);
}

int cl_kafka_consumer_resume(crawllog_consumer_t *cons,
                             const crawllog_topic_partition_t *parts,
                             size_t count)
{
    return pause_resume(cons, parts, count, 0);
}

int cl_kafka_consumer_assignment(crawllog_consumer_t *cons,
                                 crawllog_topic_partition_t **listp,
                                 size_t *countp)
{
    struct cl_kafka_consumer *k = K(cons);
    if (listp) {
        *listp = NULL;
    }
    if (countp) {
        *countp = 0;
    }
    if (listp == NULL || countp == NULL) {
        return cl_kafka_cons_fail(cons, CRAWLLOG_EINVAL,
                                  "crawllog_consumer_assignment: listp and "
                                  "countp are needed");
    }
    size_t n = rd_kafka_assignment_lost(k->rk) ? 0 : k->nparts;
    size_t bytes = (n + 1) * sizeof(crawllog_topic_partition_t);
    for (size_t i = 0; i < n; i++) {
        bytes += strlen(k->parts[i].topic) + 1;
    }
    /* One block (array, then the topic strings): the caller free()s it
     * (cl_io_malloc is malloc). */
    crawllog_topic_partition_t *list = cl_io_malloc(bytes);
    if (list == NULL) {
        return cl_kafka_cons_fail(cons, CRAWLLOG_ENOMEM, "out of memory");
    }
    char *str = (char *)(list + n + 1);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(k->parts[i].topic) + 1;
        memcpy(str, k->parts[i].topic, len);
        list[i].topic = str;
        list[i].partition = k->parts[i].partition;
        list[i].offset = cl_kafka_cons_pos(k, &k->parts[i]);
        list[i].metadata = NULL;
        str += len;
    }
    *listp = list;
    *countp = n;
    return 0;
}
