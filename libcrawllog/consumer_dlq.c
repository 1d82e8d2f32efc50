/*
 * consumer_dlq.c - crawllog_consumer_dead_letter: move a message to its
 * dead-letter topic and commit past it, as one atomic step.
 *
 * On disk: records appended to the dead-letter topic (`<topic>.dlt` or
 * dead.letter.topic, created on demand with the source topic's partition
 * count; partition = the source partition, modulo the DLT's count), and an
 * intent in the group's committed-offset metadata (offsets.c).  Each dead
 * letter carries the original key, value and headers plus Spring Kafka's
 * DLT headers (kafka-reference.md §6.2; the record is dlt.c's, shared with
 * the Kafka backend): kafka_dlt-original-topic (bytes),
 * -original-partition (int32 BE), -original-offset (int64 BE),
 * -original-timestamp (int64 BE), -original-consumer-group,
 * kafka_dlt-exception-message (the reason), and crawllog_dlt-attempts
 * (int32 BE).
 *
 * Protocol (each step durable before the next; docs/RELIABILITY.md G17):
 *   1. intent: commit the partition at its current committed offset (never
 *      backwards) with metadata "crawllog-dlq/1 <X> <dlt> <dp> <end>
 *      <attempts> <reason>": message X goes to partition dp of dlt, whose
 *      log end was <end> before the write;
 *   2. append the dead letter to dlt/dp (CRAWLLOG_SYNC_DURABLE);
 *   3. commit max(committed, X + 1) with no metadata.
 * Whoever next starts the partition from a committed offset that carries an
 * intent (this member after an error, the next owner after a crash) finishes
 * it first: it looks for the dead letter in dlt/dp from <end> on (matching
 * group, topic, partition and offset headers), appends it only if it is not
 * there, and does step 3.  So a crash at any point neither loses the message
 * (the committed offset stays at or below X until the dead letter is
 * durable) nor writes it twice (the search finds the first copy).
 *
 * Invariants: step 1 and 3 go through cl_cons_commit, so only the owner of
 * the partition can dead-letter from it (CRAWLLOG_EGENERATION otherwise).
 *
 * Locks: none of its own (the group lock inside commits, partition locks
 * inside appends and reads).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "bytes.h"
#include "conf.h"
#include "consumer.h"
#include "dlt.h"
#include "io.h"
#include "log.h"
#include "names.h"

#define META_PREFIX "crawllog-dlq/1 "
#define REASON_MAX CL_DLT_REASON_MAX /* the reason: first 2047 bytes */

struct intent {
    int64_t offset;            /* X */
    char dlt[CL_GROUP_NAME_SIZE];
    int32_t dp;
    int64_t end;               /* dlt/dp log end before the write */
    int32_t attempts;
    char reason[REASON_MAX];
};

/* Parse "crawllog-dlq/1 X dlt dp end attempts reason": 1 if it is one. */
int cl_cons_dlq_parse(const char *meta, void *out)
{
    struct intent *in = out;
    long long x, end;
    int dp, attempts, used = 0;
    char dlt[CL_GROUP_NAME_SIZE];
    if (meta == NULL || strncmp(meta, META_PREFIX, strlen(META_PREFIX)) != 0) {
        return 0;
    }
    if (sscanf(meta + strlen(META_PREFIX), "%lld %255s %d %lld %d %n", &x, dlt,
               &dp, &end, &attempts, &used) < 5 ||
        used == 0 || x < 0 || dp < 0 || end < 0 ||
        !cl_names_topic_valid(dlt)) {
        return 0;
    }
    if (in != NULL) {
        in->offset = x;
        snprintf(in->dlt, sizeof(in->dlt), "%s", dlt);
        in->dp = dp;
        in->end = end;
        in->attempts = attempts;
        snprintf(in->reason, sizeof(in->reason), "%s",
                 meta + strlen(META_PREFIX) + used);
    }
    return 1;
}

static int header_is(const crawllog_header_t *h, const char *name,
                     const void *val, size_t len)
{
    return h->name_len == strlen(name) && memcmp(h->name, name, h->name_len) == 0 &&
           h->value_len == len && (len == 0 || memcmp(h->value, val, len) == 0);
}

/* 1 if dlt/dp holds, at or after offset from, the dead letter of
 * (group, topic, partition, offset). */
static int find_dead_letter(crawllog_consumer_t *c, const struct intent *in,
                            const char *topic, int32_t partition, int *foundp,
                            struct cl_err *err)
{
    crawllog_reader_t *rd = NULL;
    uint8_t pbuf[4], obuf[8];
    *foundp = 0;
    cl_put_u32(pbuf, (uint32_t)partition);
    cl_put_u64(obuf, (uint64_t)in->offset);
    int rc = crawllog_reader_new(&rd, c->log, in->dlt, in->dp);
    if (rc == 0) {
        rc = crawllog_reader_seek(rd, in->end);
        if (rc == CRAWLLOG_EOFFSET) {
            rc = 0; /* retention moved the start: read from it */
        }
    }
    while (rc == 0 && !*foundp) {
        const crawllog_msg_t *m = NULL;
        if ((rc = crawllog_reader_next(rd, &m)) != 0 || m == NULL) {
            break;
        }
        int match = 0;
        for (size_t i = 0; i < crawllog_msg_header_count(m); i++) {
            crawllog_header_t h;
            if (crawllog_msg_header(m, i, &h) != 0) {
                continue;
            }
            match += header_is(&h, "kafka_dlt-original-topic", topic,
                               strlen(topic)) +
                     header_is(&h, "kafka_dlt-original-partition", pbuf, 4) +
                     header_is(&h, "kafka_dlt-original-offset", obuf, 8) +
                     header_is(&h, "kafka_dlt-original-consumer-group",
                               c->group_id, strlen(c->group_id));
        }
        *foundp = match == 4;
    }
    if (rc != 0) {
        cl_errf(err, rc, "%s/%d: looking for an earlier dead letter: %s",
                in->dlt, (int)in->dp,
                rd ? crawllog_reader_errmsg(rd) : crawllog_errmsg(c->log));
    }
    crawllog_reader_destroy(rd);
    return rc;
}

/* Append the dead letter of msg (offset in->offset of topic/partition). */
static int write_dead_letter(crawllog_consumer_t *c, const struct intent *in,
                             const crawllog_msg_t *msg, struct cl_err *err)
{
    struct cl_dlt_rec d;
    if (cl_dlt_record(msg, c->group_id, in->reason, in->attempts, &d) != 0) {
        return cl_errf(err, CRAWLLOG_ENOMEM, "out of memory");
    }
    int rc = crawllog_append(c->log, in->dlt, in->dp, &d.rec, 1,
                             CRAWLLOG_SYNC_DURABLE, NULL);
    cl_dlt_rec_free(&d);
    if (rc != 0) {
        return cl_errf(err, rc, "%s/%d: dead letter: %s", in->dlt,
                       (int)in->dp, crawllog_errmsg(c->log));
    }
    return 0;
}

static int commit_one(crawllog_consumer_t *c, const char *topic,
                      int32_t partition, int64_t offset, const char *meta,
                      struct cl_err *err)
{
    struct cl_offset_entry e = {topic, partition, offset, meta, 0};
    return cl_cons_commit(c, &e, 1, CRAWLLOG_SYNC_DURABLE, err);
}

/* Steps 2 (unless already done) and 3 for an intent; msg is the message at
 * in->offset.  *nextp = the offset committed. */
static int finish(crawllog_consumer_t *c, const struct intent *in,
                  const char *topic, int32_t partition, int64_t committed,
                  const crawllog_msg_t *msg, int64_t *nextp,
                  struct cl_err *err)
{
    int found = 0;
    int rc = find_dead_letter(c, in, topic, partition, &found, err);
    if (rc == 0 && !found) {
        rc = write_dead_letter(c, in, msg, err);
    }
    int64_t next = committed > in->offset + 1 ? committed : in->offset + 1;
    if (rc == 0) {
        rc = commit_one(c, topic, partition, next, NULL, err);
    }
    if (rc == 0 && nextp) {
        *nextp = next;
    }
    return rc;
}

/* The message at offset of topic/partition, read into a fresh reader
 * (*rdp; destroy it).  *msgp NULL if it no longer exists. */
static int read_at(crawllog_consumer_t *c, const char *topic,
                   int32_t partition, int64_t offset, crawllog_reader_t **rdp,
                   const crawllog_msg_t **msgp)
{
    *msgp = NULL;
    int rc = crawllog_reader_new(rdp, c->log, topic, partition);
    if (rc == 0 && crawllog_reader_seek(*rdp, offset) == 0) {
        rc = crawllog_reader_next(*rdp, msgp);
        if (*msgp != NULL && crawllog_msg_offset(*msgp) != offset) {
            *msgp = NULL;
        }
    }
    return rc;
}

int cl_cons_dlq_recover(crawllog_consumer_t *c, const char *topic,
                        int32_t partition, const struct cl_offset_entry *ce,
                        int64_t *nextp, struct cl_err *err)
{
    struct intent *in = cl_io_malloc(sizeof(*in));
    crawllog_reader_t *rd = NULL;
    const crawllog_msg_t *msg = NULL;
    if (in == NULL) {
        return cl_errf(err, CRAWLLOG_ENOMEM, "out of memory");
    }
    int rc = 0;
    if (!cl_cons_dlq_parse(ce->metadata, in)) {
        *nextp = ce->offset;
    } else if ((rc = read_at(c, topic, partition, in->offset, &rd, &msg)) ==
                   0 &&
               msg == NULL) {
        /* Deleted by retention meanwhile: nothing left to move. */
        int64_t next = ce->offset > in->offset + 1 ? ce->offset
                                                   : in->offset + 1;
        rc = commit_one(c, topic, partition, next, NULL, err);
        *nextp = next;
    } else if (rc == 0) {
        rc = finish(c, in, topic, partition, ce->offset, msg, nextp, err);
    } else {
        cl_errf(err, rc, "%s/%d: %s", topic, (int)partition,
                crawllog_reader_errmsg(rd));
    }
    crawllog_reader_destroy(rd);
    cl_io_free(in);
    return rc;
}

int crawllog_consumer_dead_letter(crawllog_consumer_t *cons,
                                  const crawllog_msg_t *msg,
                                  const char *reason)
{
    CL_BACKEND(cons, consumer_dead_letter, cons, msg, reason);
    struct cl_err err = {{0}};
    if (cons == NULL || msg == NULL) {
        return cons ? cl_cons_fail(cons, CRAWLLOG_EINVAL, NULL)
                    : CRAWLLOG_EINVAL;
    }
    int rc = cl_cons_check_state(cons, 0);
    if (rc != 0 || (rc = cl_cons_check_msg(cons, msg)) != 0) {
        return rc;
    }
    rc = cl_cons_dead_letter(cons, msg, reason, 1, &err);
    return rc ? cl_cons_fail(cons, rc, &err) : 0;
}

int cl_cons_dead_letter(crawllog_consumer_t *cons, const crawllog_msg_t *msg,
                        const char *reason, int32_t attempts,
                        struct cl_err *errp)
{
    struct cl_err err = {{0}};
    struct cl_offset_entry ce;
    int32_t nparts = 0, dn = 0;
    int64_t start, end;
    const char *topic = msg->topic;
    int32_t partition = msg->partition;
    struct intent *in = cl_io_calloc(1, sizeof(*in));
    if (in == NULL) {
        return cl_errf(errp, CRAWLLOG_ENOMEM, "out of memory");
    }
    in->offset = msg->rv.offset;
    in->attempts = attempts;
    snprintf(in->reason, sizeof(in->reason), "%s", reason ? reason : "");
    const char *conf_dlt = cl_conf_str(cons->conf, CL_CONF_DEAD_LETTER_TOPIC);
    int n = conf_dlt[0] ? snprintf(in->dlt, sizeof(in->dlt), "%s", conf_dlt)
                        : snprintf(in->dlt, sizeof(in->dlt), "%s.dlt", topic);
    int rc = cl_cons_group(cons, &err);
    if (rc == 0 && (n >= (int)sizeof(in->dlt) ||
                    !cl_names_topic_valid(in->dlt))) {
        rc = cl_errf(&err, CRAWLLOG_EINVAL,
                     "dead-letter topic name for \"%s\" is too long; set "
                     "dead.letter.topic",
                     topic);
    }
    if (rc == 0 && (rc = crawllog_topic_describe(cons->log, topic, &nparts,
                                                 NULL)) != 0) {
        cl_errf(&err, rc, "%s", crawllog_errmsg(cons->log));
    }
    if (rc == 0) {
        rc = crawllog_topic_create(cons->log, in->dlt, nparts, NULL);
        if (rc == CRAWLLOG_EEXIST) {
            rc = 0;
        }
        if (rc == 0) {
            rc = crawllog_topic_describe(cons->log, in->dlt, &dn, NULL);
        }
        if (rc != 0) {
            cl_errf(&err, rc, "%s", crawllog_errmsg(cons->log));
        }
    }
    if (rc == 0) {
        in->dp = partition < dn ? partition : partition % dn;
        rc = cl_offsets_refresh(cons->offsets, &err);
    }
    int64_t committed = -1;
    if (rc == 0 && cl_offsets_get(cons->offsets, topic, partition, &ce)) {
        committed = ce.offset;
        /* An unfinished intent for this message (an earlier call failed
         * after step 1): finish that one instead of starting another. */
        struct intent old;
        if (cl_cons_dlq_parse(ce.metadata, &old) &&
            old.offset == in->offset) {
            *in = old;
            int64_t next;
            rc = finish(cons, in, topic, partition, committed, msg, &next,
                        &err);
            cl_io_free(in);
            if (rc != 0) {
                cl_errf(errp, rc, "%s", err.msg);
            }
            return rc;
        }
    }
    if (rc == 0 && committed > in->offset &&
        (rc = crawllog_partition_offsets(cons->log, in->dlt, in->dp, &start,
                                         &end)) == 0) {
        /* Already committed past the message: an earlier call may have
         * done step 2 and failed making step 3 durable (its intent is
         * gone).  Look for the dead letter (whole partition) rather than
         * write it twice (found by test_fault_group); if it is there,
         * only make the commit durable again. */
        int found = 0;
        in->end = start;
        rc = find_dead_letter(cons, in, topic, partition, &found, &err);
        if (rc == 0 && found) {
            rc = commit_one(cons, topic, partition, committed, NULL, &err);
            cl_io_free(in);
            if (rc != 0) {
                cl_errf(errp, rc, "%s", err.msg);
            }
            return rc;
        }
    }
    if (rc == 0 && (rc = crawllog_partition_offsets(cons->log, in->dlt,
                                                    in->dp, &start, &end)) ==
                       0) {
        in->end = end;
        char meta[CL_OFFSETS_META_MAX];
        snprintf(meta, sizeof(meta), META_PREFIX "%" PRId64 " %s %d %" PRId64
                 " %d %.*s",
                 in->offset, in->dlt, (int)in->dp, in->end, (int)in->attempts,
                 REASON_MAX - 1, in->reason);
        int64_t hold = committed > in->offset ? committed : in->offset;
        rc = commit_one(cons, topic, partition, hold, meta, &err);
        if (rc == 0) {
            rc = write_dead_letter(cons, in, msg, &err);
        }
        if (rc == 0) {
            rc = commit_one(cons, topic, partition,
                            committed > in->offset + 1 ? committed
                                                       : in->offset + 1,
                            NULL, &err);
        }
    } else if (rc == CRAWLLOG_ENOTOPIC) {
        cl_errf(&err, rc, "%s", crawllog_errmsg(cons->log));
    }
    cl_io_free(in);
    if (rc != 0) {
        cl_errf(errp, rc, "%s", err.msg);
    }
    return rc;
}
