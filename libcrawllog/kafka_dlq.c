/*
 * kafka_dlq.c - the Kafka consumer's dead letters and retry policy:
 * crawllog_consumer_dead_letter and crawllog_consumer_process on Kafka
 * (the file backend's are consumer_dlq.c and consumer_retry.c: same
 * headers, same policy).
 *
 * Owns nothing on disk.  Owns the consumer's dead-letter producer
 * (struct cl_kafka_consumer.dlq, a crawllog producer of this log with
 * acks=all and enable.idempotence=true, made on first use; the consumer's
 * destroy frees it).
 *
 * A dead letter goes to `<topic>.dlt` (or dead.letter.topic), created on
 * demand with the source topic's partition count (an existing one is
 * used as it is), partition = the source partition modulo the DLT's
 * count, with the original key, value and headers plus Spring Kafka's DLT
 * headers: kafka_dlt-original-topic, -original-partition (int32 BE),
 * -original-offset (int64 BE), -original-timestamp (int64 BE),
 * -original-consumer-group, kafka_dlt-exception-message (the reason), and
 * crawllog_dlt-attempts (int32 BE) - the record is dlt.c's, byte for byte
 * the file backend's, as is the retry loop.  Once the broker acknowledged it
 * (acks=all), the partition is committed past the message, never
 * backwards.
 *
 * Invariants / limits: NOT atomic on Kafka (unlike the file backend,
 * which records an intent first): a crash or an error between the
 * acknowledged dead letter and the commit leaves the message uncommitted,
 * so it is delivered again and dead-lettered a second time - at least
 * once, as Spring Kafka's DeadLetterPublishingRecoverer.  The message is
 * never lost: the commit happens only after the acknowledgement.
 * Poison-pill counting (max.deliveries) is a file-backend feature.
 *
 * Retries: process() waits retry.backoff.ms (doubling, at most
 * retry.backoff.max.ms) between attempts in the calling thread.
 * librdkafka's background thread keeps heartbeating meanwhile, but
 * nothing is polled: the whole retry loop must stay below
 * max.poll.interval.ms or the member leaves the group (its later commit
 * then fails with CRAWLLOG_EGENERATION).
 *
 * Locks: none.  Threads: the caller's; the dead-letter producer's
 * acknowledgement is awaited inside crawllog_producer_send_record.
 */
#include <stdio.h>
#include <time.h>

#include "conf.h"
#include "consumer.h"
#include "dlt.h"
#include "io.h"
#include "kafka.h"
#include "names.h"

/* The dead-letter producer, made on first use. */
static int dlq_producer(crawllog_consumer_t *cons, crawllog_producer_t **pp)
{
    struct cl_kafka_consumer *k = cons->kafka;
    crawllog_conf_t *pc = NULL;
    char es[CRAWLLOG_ERRSTR_SIZE] = "";
    if (k->dlq != NULL) {
        *pp = k->dlq;
        return 0;
    }
    int rc = crawllog_conf_new(&pc);
    if (rc == 0) {
        rc = crawllog_conf_set(pc, "acks", "all", es, sizeof(es));
    }
    if (rc == 0) {
        rc =
            crawllog_conf_set(pc, "enable.idempotence", "true", es, sizeof(es));
    }
    if (rc == 0) {
        rc = cl_kafka_producer_new(k->log, pc, &k->dlq, es, sizeof(es));
    }
    crawllog_conf_destroy(pc);
    if (rc != 0) {
        return cl_kafka_cons_fail(cons, rc,
                                  "crawllog_consumer_dead_letter: dead-letter "
                                  "producer: %s",
                                  es[0] ? es : crawllog_strerror(rc));
    }
    *pp = k->dlq;
    return 0;
}

/* The DLT name into dlt, created if missing; *dpp = its partition for
 * msg's. */
static int dlq_topic(crawllog_consumer_t *cons, const crawllog_msg_t *msg,
                     char *dlt, size_t size, int32_t *dpp)
{
    struct cl_kafka_consumer *k = cons->kafka;
    const char *conf_dlt = cl_conf_str(k->conf, CL_CONF_DEAD_LETTER_TOPIC);
    int32_t n = 0, dn = 0;
    int len = conf_dlt[0] ? snprintf(dlt, size, "%s", conf_dlt)
                          : snprintf(dlt, size, "%s.dlt", msg->topic);
    if (len < 0 || (size_t)len >= size || !cl_names_topic_valid(dlt)) {
        return cl_kafka_cons_fail(cons, CRAWLLOG_EINVAL,
                                  "crawllog_consumer_dead_letter: dead-letter "
                                  "topic name for \"%s\" is too long; set "
                                  "dead.letter.topic",
                                  msg->topic);
    }
    int rc = cl_kafka_topic_partitions(k->log, msg->topic, &n);
    if (rc == 0) {
        rc = cl_kafka_topic_create(k->log, dlt, n, NULL);
        if (rc == CRAWLLOG_EEXIST) {
            rc = 0;
        }
    }
    if (rc == 0) {
        rc = cl_kafka_topic_partitions(k->log, dlt, &dn);
    }
    if (rc != 0) {
        return cl_kafka_cons_fail(cons, rc,
                                  "crawllog_consumer_dead_letter: %s/%d -> "
                                  "%s: %s",
                                  msg->topic, (int)msg->partition, dlt,
                                  crawllog_errmsg(k->log));
    }
    *dpp = msg->partition < dn ? msg->partition : msg->partition % dn;
    return 0;
}

/* Produce the dead letter of msg to dlt/dp and wait for its ack. */
static int dlq_send(crawllog_consumer_t *cons, const crawllog_msg_t *msg,
                    const char *dlt, int32_t dp, const char *reason,
                    int32_t attempts)
{
    struct cl_kafka_consumer *k = cons->kafka;
    crawllog_producer_t *prod = NULL;
    const char *group = cl_conf_str(k->conf, CL_CONF_GROUP_ID);
    struct cl_dlt_rec d;
    int rc = dlq_producer(cons, &prod);
    if (rc != 0) {
        return rc;
    }
    if (cl_dlt_record(msg, group, reason, attempts, &d) != 0) {
        return cl_kafka_cons_fail(cons, CRAWLLOG_ENOMEM, "out of memory");
    }
    int64_t off = -1;
    rc = cl_kafka_producer_send_record(prod, dlt, dp, &d.rec, &off);
    cl_dlt_rec_free(&d);
    if (rc != 0) {
        return cl_kafka_cons_fail(cons, rc,
                                  "crawllog_consumer_dead_letter: %s/%d "
                                  "offset %lld -> %s/%d: %s",
                                  msg->topic, (int)msg->partition,
                                  (long long)msg->rv.offset, dlt, (int)dp,
                                  cl_kafka_producer_errmsg(prod));
    }
    return 0;
}

/* Dead-letter msg (already checked) and commit past it. */
static int dead_letter(crawllog_consumer_t *cons, const crawllog_msg_t *msg,
                       const char *reason, int32_t attempts)
{
    char dlt[CRAWLLOG_TOPIC_NAME_MAX + 1];
    int32_t dp = 0;
    int64_t committed = -1;
    int rc = dlq_topic(cons, msg, dlt, sizeof(dlt), &dp);
    if (rc == 0) {
        rc = dlq_send(cons, msg, dlt, dp, reason ? reason : "", attempts);
    }
    /* A crash from here to the commit means a second dead letter of the
     * message later (at least once, see the header comment). */
    if (rc == 0) {
        rc = cl_kafka_consumer_committed(cons, msg->topic, msg->partition,
                                         &committed);
    }
    if (rc == 0 && committed < msg->rv.offset + 1) {
        crawllog_topic_partition_t tp = {msg->topic, msg->partition,
                                         msg->rv.offset + 1, NULL};
        rc = cl_kafka_consumer_commit_offsets(cons, &tp, 1,
                                              CRAWLLOG_SYNC_DURABLE);
    }
    return rc;
}

int cl_kafka_consumer_dead_letter(crawllog_consumer_t *cons,
                                  const crawllog_msg_t *msg, const char *reason)
{
    int rc = cl_kafka_cons_check_msg(cons, msg, 0, "consumer_dead_letter");
    return rc != 0 ? rc : dead_letter(cons, msg, reason, 1);
}

static void backoff(void *arg, int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};
    (void)arg;
    while (nanosleep(&ts, &ts) != 0) {
        /* interrupted: sleep the rest */
    }
}

int cl_kafka_consumer_process(crawllog_consumer_t *cons,
                              const crawllog_msg_t *msg,
                              crawllog_process_cb *fn, void *opaque,
                              int *outcomep)
{
    struct cl_kafka_consumer *k = cons->kafka;
    char reason[CL_RETRY_REASON_SIZE];
    int32_t attempts = 0;
    if (outcomep) {
        *outcomep = 0;
    }
    if (fn == NULL) {
        return cl_kafka_cons_fail(cons, CRAWLLOG_EINVAL,
                                  "crawllog_consumer_process: fn is NULL");
    }
    int rc = cl_kafka_cons_check_msg(cons, msg, 1, "consumer_process");
    if (rc != 0) {
        return rc;
    }
    if (cl_retry_run(k->conf, msg, fn, opaque, backoff, NULL, reason,
                     sizeof(reason), &attempts)) {
        if (outcomep) {
            *outcomep = CRAWLLOG_PROCESSED;
        }
        return 0;
    }
    rc = dead_letter(cons, msg, reason, attempts);
    if (rc == 0 && outcomep) {
        *outcomep = CRAWLLOG_DEAD_LETTERED;
    }
    return rc;
}
