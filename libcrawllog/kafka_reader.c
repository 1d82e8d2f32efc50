/*
 * kafka_reader.c - crawllog_reader_t on Kafka: one partition read from
 * the log start by a librdkafka consumer that is assigned that partition
 * and never joins or commits to a group (the reader_* members of the
 * backend table).  See kafka.h and docs/SCALING.md.
 *
 * Owns nothing on disk.  Owns the shell (a zeroed struct crawllog_reader_s
 * with kafka set; its `next` field is kept equal to the position because
 * crawllog_reader_position reads it directly), its struct
 * cl_kafka_reader, the rd_kafka_t, and the last message handed out (the
 * view points into it until the next call).
 *
 * End of the log: reader_next returns *msgp = NULL promptly when the
 * position has reached the partition's end - librdkafka's partition-EOF
 * event at the position (enable.partition.eof: emitted once per end
 * offset, at the last stable offset in read_committed), or, when nothing
 * is queued, a watermark query showing high watermark <= position.  When
 * the end moved on (an append since), it polls until the new message
 * arrives (a fetch round trip), at most the log's timeout.
 *
 * Invariants: pos is the offset of the next message handed out (the log
 * start at creation; after a message its offset + 1; after an EOF event
 * at or past it, the event's offset, which skips transaction markers).
 * seek / seek_time / set_isolation reposition without handing out
 * anything fetched before (librdkafka drops messages of an older seek
 * version).  reader_fetch (raw batches) is CRAWLLOG_ENOTSUP: the brokers
 * own the batches.
 *
 * Locks: none (a reader is used by one thread at a time).  Threads:
 * librdkafka's own inside the rd_kafka_t; no application callback.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "io.h"
#include "kafka.h"

#define READER_GROUP "crawllog-reader" /* librdkafka needs one: never used */
#define QUIET_MS 1000 /* at the end already, new data not arriving: end */
#define CHECK_MS 500  /* watermark check interval while waiting */

struct cl_kafka_reader {
    crawllog_reader_t *shell;
    crawllog_t *log;
    rd_kafka_t *rk;
    char *topic;
    int32_t partition;
    int isolation; /* CRAWLLOG_READ_* */
    int64_t pos;
    int64_t eof_at;           /* offset of the last EOF event, -1 */
    rd_kafka_message_t *held; /* the message handed out last */
    struct crawllog_msg_s msg;
    uint8_t *hbuf;
    size_t hcap;
    char errmsg[CL_ERRMSG_SIZE];
};

static int rfail(struct cl_kafka_reader *r, int rc, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static int rfail(struct cl_kafka_reader *r, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->errmsg, sizeof(r->errmsg), fmt, ap);
    va_end(ap);
    return rc;
}

static int rkfail(struct cl_kafka_reader *r, rd_kafka_resp_err_t err,
                  const char *what)
{
    return rfail(r, cl_kafka_err(err), "%s: %s/%d: %s: %s", what, r->topic,
                 (int)r->partition, rd_kafka_err2name(err),
                 rd_kafka_err2str(err));
}

static void set_pos(struct cl_kafka_reader *r, int64_t pos)
{
    r->pos = pos;
    r->shell->next = pos;
}

static void release(struct cl_kafka_reader *r)
{
    if (r->held != NULL) {
        rd_kafka_message_destroy(r->held);
        r->held = NULL;
    }
}

/* A consumer handle for r with r->isolation, assigned r->pos. */
static int connect_at(struct cl_kafka_reader *r, char *es, size_t esz)
{
    rd_kafka_conf_t *kc = NULL;
    static const char *const props[][2] = {
        {"group.id", READER_GROUP},
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"enable.partition.eof", "true"},
        {"auto.offset.reset", "error"},
        {"fetch.wait.max.ms", "100"}};
    int rc = cl_kafka_client_conf(r->log, NULL, &kc, es, esz);
    for (size_t i = 0; rc == 0 && i < sizeof(props) / sizeof(props[0]); i++) {
        if (rd_kafka_conf_set(kc, props[i][0], props[i][1], es, esz) !=
            RD_KAFKA_CONF_OK) {
            rc = CRAWLLOG_EINVAL;
        }
    }
    if (rc == 0 && rd_kafka_conf_set(kc, "isolation.level",
                                     r->isolation == CRAWLLOG_READ_UNCOMMITTED
                                         ? "read_uncommitted"
                                         : "read_committed",
                                     es, esz) != RD_KAFKA_CONF_OK) {
        rc = CRAWLLOG_EINVAL;
    }
    if (rc == 0) {
        r->rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, es, esz);
        rc = r->rk ? 0 : CRAWLLOG_EINVAL;
    }
    if (rc != 0) {
        if (kc != NULL && r->rk == NULL) {
            rd_kafka_conf_destroy(kc);
        }
        return rc;
    }
    rd_kafka_poll_set_consumer(r->rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, r->topic, r->partition)->offset =
        r->pos >= 0 ? r->pos : RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_resp_err_t err = rd_kafka_assign(r->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(es, esz, "%s/%d: assign: %s: %s", r->topic, (int)r->partition,
                 rd_kafka_err2name(err), rd_kafka_err2str(err));
        return cl_kafka_err(err);
    }
    r->eof_at = -1;
    return 0;
}

static void disconnect(struct cl_kafka_reader *r)
{
    release(r);
    if (r->rk != NULL) {
        rd_kafka_consumer_close(r->rk);
        rd_kafka_destroy(r->rk);
        r->rk = NULL;
    }
}

static int watermarks(struct cl_kafka_reader *r, int64_t *lowp, int64_t *highp,
                      const char *fn)
{
    rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
        r->rk, r->topic, r->partition, lowp, highp,
        cl_kafka_log_timeout_ms(r->log));
    return err == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : rkfail(r, err, fn);
}

int cl_kafka_reader_new(crawllog_reader_t **rdp, crawllog_t *log,
                        const char *topic, int32_t partition)
{
    char es[CL_ERRMSG_SIZE] = "";
    int32_t n = 0;
    int64_t low = 0, high = 0;
    if (rdp != NULL) {
        *rdp = NULL;
    }
    if (rdp == NULL || topic == NULL) {
        return cl_kafka_log_fail(log, CRAWLLOG_EINVAL,
                                 "crawllog_reader_new: rdp and topic needed");
    }
    int rc = cl_kafka_topic_partitions(log, topic, &n);
    if (rc == 0 && (partition < 0 || partition >= n)) {
        rc = cl_kafka_log_fail(log, CRAWLLOG_ENOTOPIC,
                               "crawllog_reader_new: %s/%d: no such "
                               "partition (the topic has %d)",
                               topic, (int)partition, (int)n);
    }
    if (rc != 0) {
        return rc;
    }
    crawllog_reader_t *shell = cl_io_calloc(1, sizeof(*shell));
    struct cl_kafka_reader *r = cl_io_calloc(1, sizeof(*r));
    if (shell == NULL || r == NULL ||
        (r->topic = cl_io_strdup(topic)) == NULL) {
        if (r != NULL) {
            cl_io_free(r->topic);
        }
        cl_io_free(r);
        cl_io_free(shell);
        return cl_kafka_log_fail(log, CRAWLLOG_ENOMEM, "out of memory");
    }
    r->shell = shell;
    r->log = log;
    r->partition = partition;
    r->isolation = CRAWLLOG_READ_COMMITTED;
    shell->fd = -1;
    shell->partition = partition;
    set_pos(r, -1);
    rc = connect_at(r, es, sizeof(es));
    if (rc == 0 &&
        (rc = watermarks(r, &low, &high, "crawllog_reader_new")) != 0) {
        snprintf(es, sizeof(es), "%s", r->errmsg);
    }
    if (rc != 0) {
        disconnect(r);
        cl_io_free(r->topic);
        cl_io_free(r);
        cl_io_free(shell);
        return cl_kafka_log_fail(log, rc, "crawllog_reader_new: %s/%d: %s",
                                 topic, (int)partition, es);
    }
    set_pos(r, low);
    shell->kafka = r;
    *rdp = shell;
    return 0;
}

void cl_kafka_reader_destroy(crawllog_reader_t *rd)
{
    struct cl_kafka_reader *r = rd->kafka;
    disconnect(r);
    cl_io_free(r->hbuf);
    cl_io_free(r->topic);
    cl_io_free(r);
    cl_io_free(rd);
}

/* Reposition to offset (>= 0, checked by the caller). */
static int reposition(struct cl_kafka_reader *r, int64_t offset, const char *fn)
{
    release(r);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, r->topic, r->partition)->offset =
        offset;
    rd_kafka_error_t *e =
        rd_kafka_seek_partitions(r->rk, l, cl_kafka_log_timeout_ms(r->log));
    rd_kafka_resp_err_t err = e ? rd_kafka_error_code(e) : l->elems[0].err;
    if (e != NULL) {
        rd_kafka_error_destroy(e);
    }
    rd_kafka_topic_partition_list_destroy(l);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return rkfail(r, err, fn);
    }
    set_pos(r, offset);
    r->eof_at = -1;
    return 0;
}

int cl_kafka_reader_seek(crawllog_reader_t *rd, int64_t offset)
{
    struct cl_kafka_reader *r = rd->kafka;
    int64_t low, high;
    int rc = watermarks(r, &low, &high, "crawllog_reader_seek");
    if (rc != 0) {
        return rc;
    }
    if (offset < low || offset > high) {
        return rfail(r, CRAWLLOG_EOFFSET,
                     "crawllog_reader_seek: %s/%d: offset %" PRId64
                     " is outside [%" PRId64 ", %" PRId64 "]",
                     r->topic, (int)r->partition, offset, low, high);
    }
    return reposition(r, offset, "crawllog_reader_seek");
}

int cl_kafka_reader_seek_time(crawllog_reader_t *rd, int64_t timestamp_ms,
                              int64_t *offsetp)
{
    struct cl_kafka_reader *r = rd->kafka;
    int64_t low, high;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, r->topic, r->partition)->offset =
        timestamp_ms;
    rd_kafka_resp_err_t err =
        rd_kafka_offsets_for_times(r->rk, l, cl_kafka_log_timeout_ms(r->log));
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        err = l->elems[0].err;
    }
    int64_t offset = l->elems[0].offset;
    rd_kafka_topic_partition_list_destroy(l);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return rkfail(r, err, "crawllog_reader_seek_time");
    }
    int rc = 0;
    if (offset < 0) { /* no message that late: the log end */
        rc = watermarks(r, &low, &high, "crawllog_reader_seek_time");
        offset = high;
    }
    if (rc == 0) {
        rc = reposition(r, offset, "crawllog_reader_seek_time");
    }
    if (rc == 0 && offsetp != NULL) {
        *offsetp = offset;
    }
    return rc;
}

int cl_kafka_reader_set_isolation(crawllog_reader_t *rd, int level)
{
    struct cl_kafka_reader *r = rd->kafka;
    char es[CL_ERRMSG_SIZE] = "";
    if (level != CRAWLLOG_READ_COMMITTED &&
        level != CRAWLLOG_READ_UNCOMMITTED) {
        return rfail(r, CRAWLLOG_EINVAL,
                     "crawllog_reader_set_isolation: unknown isolation level "
                     "%d",
                     level);
    }
    if (level == r->isolation) {
        return 0;
    }
    /* isolation.level is a property of the librdkafka handle: a new one
     * at the same position. */
    disconnect(r);
    r->isolation = level;
    int rc = connect_at(r, es, sizeof(es));
    if (rc != 0) {
        disconnect(r);
        return rfail(r, rc, "crawllog_reader_set_isolation: %s/%d: %s",
                     r->topic, (int)r->partition, es);
    }
    return 0;
}

static int64_t ms_since(int64_t t0)
{
    return (cl_io_mono_ns() - t0) / 1000000;
}

int cl_kafka_reader_next(crawllog_reader_t *rd, const crawllog_msg_t **msgp)
{
    struct cl_kafka_reader *r = rd->kafka;
    if (msgp == NULL) {
        return rfail(r, CRAWLLOG_EINVAL, "crawllog_reader_next: msgp is NULL");
    }
    *msgp = NULL;
    release(r);
    if (r->rk == NULL) {
        return rfail(r, CRAWLLOG_ECLOSED,
                     "crawllog_reader_next: %s/%d: the reader lost its "
                     "connection (set_isolation failed)",
                     r->topic, (int)r->partition);
    }
    int64_t t0 = cl_io_mono_ns(), checked = -1, low, high;
    int limit = cl_kafka_log_timeout_ms(r->log), wait = 0;
    for (;;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(r->rk, wait);
        wait = 50;
        if (m != NULL && m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            /* Maybe stale (appends since): confirmed below by the queue
             * being empty and a watermark check. */
            r->eof_at = m->offset;
            rd_kafka_message_destroy(m);
            if (r->eof_at >= r->pos) {
                set_pos(r, r->eof_at);
            }
            checked = -1;
            wait = 0;
            continue;
        }
        if (m != NULL && m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            int rc = rfail(
                r, cl_kafka_err(m->err),
                "crawllog_reader_next: %s/%d at offset %" PRId64 ": %s: %s",
                r->topic, (int)r->partition, r->pos, rd_kafka_err2name(m->err),
                rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            return rc;
        }
        if (m != NULL) {
            if (m->partition != r->partition) {
                rd_kafka_message_destroy(m);
                continue;
            }
            if (cl_kafka_msg_fill(&r->msg, m, r->topic, &r->hbuf, &r->hcap) !=
                0) {
                rd_kafka_message_destroy(m);
                return rfail(r, CRAWLLOG_ENOMEM,
                             "crawllog_reader_next: "
                             "out of memory");
            }
            r->held = m;
            set_pos(r, m->offset + 1);
            *msgp = &r->msg;
            return 0;
        }
        /* Nothing queued: is there anything past the position? */
        if (checked < 0 || ms_since(checked) >= CHECK_MS) {
            int rc = watermarks(r, &low, &high, "crawllog_reader_next");
            if (rc != 0) {
                return rc;
            }
            checked = cl_io_mono_ns();
            if (high <= r->pos) {
                return 0; /* the end */
            }
        }
        /* Behind the high watermark, but librdkafka reported the end at
         * the position and nothing comes: an open transaction holds the
         * rest back (read_committed: the end is the last stable offset). */
        if ((r->eof_at == r->pos && ms_since(t0) >= QUIET_MS) ||
            ms_since(t0) >= limit) {
            return 0;
        }
    }
}

int cl_kafka_reader_fetch(crawllog_reader_t *rd, size_t max_bytes,
                          const void **bufp, size_t *lenp)
{
    struct cl_kafka_reader *r = rd->kafka;
    (void)max_bytes;
    if (bufp != NULL) {
        *bufp = NULL;
    }
    if (lenp != NULL) {
        *lenp = 0;
    }
    return rfail(r, CRAWLLOG_ENOTSUP,
                 "crawllog_reader_fetch: not supported by the Kafka backend "
                 "(raw record batches stay on the brokers; read messages "
                 "with crawllog_reader_next)");
}

const char *cl_kafka_reader_errmsg(const crawllog_reader_t *rd)
{
    return rd->kafka->errmsg;
}
