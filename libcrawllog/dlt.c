/*
 * dlt.c - the dead-letter record and the retry loop (layer 3, pure), one
 * copy for both backends: consumer_dlq.c / consumer_retry.c (data
 * directory) and kafka_dlq.c (Kafka) build their dead letters and run
 * crawllog_consumer_process's attempts here, and differ only in how they
 * write the record (durable append after an intent / acknowledged produce)
 * and how they wait between attempts (keeping the file membership alive /
 * sleeping while librdkafka heartbeats).
 *
 * On disk: nothing.  No I/O; the record's header array comes from
 * cl_io_calloc (cl_dlt_rec_free frees it).
 *
 * Invariants: the dead letter's bytes are the same on both backends: the
 * message's key, value and headers in order, then Spring Kafka's DLT
 * headers (kafka-reference.md §6.2) in the order of dlt.h, integers
 * big-endian, the reason cut at CL_DLT_REASON_MAX - 1 bytes; the record's
 * timestamp is -1 (the time of the write).  find_dead_letter in
 * consumer_dlq.c matches on the topic, partition, offset and group headers
 * written here.  The retry loop never calls fn again after a success and
 * waits only between two attempts (max.attempts - 1 waits at most).
 *
 * Locks: none; fn and wait run in the caller's thread with whatever the
 * caller holds (both backends: nothing).
 */
#include <stdio.h>
#include <string.h>

#include "bytes.h"
#include "dlt.h"
#include "io.h"

int cl_dlt_record(const crawllog_msg_t *msg, const char *group,
                  const char *reason, int32_t attempts, struct cl_dlt_rec *out)
{
    static const char *const names[CL_DLT_HEADERS] = {
        "kafka_dlt-original-topic",          "kafka_dlt-original-partition",
        "kafka_dlt-original-offset",         "kafka_dlt-original-timestamp",
        "kafka_dlt-original-consumer-group", "kafka_dlt-exception-message",
        "crawllog_dlt-attempts"};
    size_t nh = crawllog_msg_header_count(msg);
    const char *topic = crawllog_msg_topic(msg);
    memset(out, 0, sizeof(*out));
    if (reason == NULL) {
        reason = "";
    }
    crawllog_header_t *h = cl_io_calloc(nh + CL_DLT_HEADERS, sizeof(*h));
    if (h == NULL) {
        return CRAWLLOG_ENOMEM;
    }
    for (size_t i = 0; i < nh; i++) {
        crawllog_msg_header(msg, i, &h[i]);
    }
    cl_put_i32(out->partition, crawllog_msg_partition(msg));
    cl_put_i64(out->offset, crawllog_msg_offset(msg));
    cl_put_i64(out->timestamp, crawllog_msg_timestamp(msg));
    cl_put_i32(out->attempts, attempts);
    const void *vals[CL_DLT_HEADERS] = {topic,         out->partition,
                                        out->offset,   out->timestamp,
                                        group,         reason,
                                        out->attempts};
    size_t lens[CL_DLT_HEADERS] = {strlen(topic),
                                   4,
                                   8,
                                   8,
                                   strlen(group),
                                   strnlen(reason, CL_DLT_REASON_MAX - 1),
                                   4};
    for (size_t k = 0; k < CL_DLT_HEADERS; k++) {
        h[nh + k].name = names[k];
        h[nh + k].name_len = strlen(names[k]);
        h[nh + k].value = vals[k];
        h[nh + k].value_len = lens[k];
    }
    out->headers = h;
    out->rec.key = crawllog_msg_key(msg, &out->rec.key_len);
    out->rec.value = crawllog_msg_value(msg, &out->rec.value_len);
    out->rec.timestamp = -1;
    out->rec.headers = h;
    out->rec.header_count = nh + CL_DLT_HEADERS;
    return 0;
}

void cl_dlt_rec_free(struct cl_dlt_rec *r)
{
    if (r != NULL) {
        cl_io_free(r->headers);
        memset(r, 0, sizeof(*r));
    }
}

int cl_retry_run(const crawllog_conf_t *conf, const crawllog_msg_t *msg,
                 crawllog_process_cb *fn, void *opaque, cl_retry_wait_fn *wait,
                 void *wait_arg, char *reason, size_t reason_size,
                 int32_t *attemptsp)
{
    int64_t attempts = cl_conf_int(conf, CL_CONF_MAX_ATTEMPTS);
    int64_t ms = cl_conf_int(conf, CL_CONF_RETRY_BACKOFF_MS);
    int64_t ms_max = cl_conf_int(conf, CL_CONF_RETRY_BACKOFF_MAX_MS);
    reason[0] = '\0'; /* "" also when attempts < 1 */
    for (int64_t a = 1; a <= attempts; a++) {
        reason[0] = '\0';
        if (fn(msg, opaque, reason, reason_size) == 0) {
            return 1;
        }
        reason[reason_size - 1] = '\0';
        if (a < attempts) {
            wait(wait_arg, ms < ms_max ? ms : ms_max);
            ms = ms > INT64_MAX / 2 ? INT64_MAX : ms * 2;
        }
    }
    if (reason[0] == '\0') {
        snprintf(reason, reason_size, "failed %lld attempts",
                 (long long)attempts);
    }
    *attemptsp = (int32_t)attempts;
    return 0;
}
