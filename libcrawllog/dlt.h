/*
 * dlt.h - the dead-letter record and the retry loop, shared by both
 * backends' crawllog_consumer_dead_letter / crawllog_consumer_process
 * (layer 3, pure).  See dlt.c.  No I/O, no locks; the record's buffers come
 * from cl_io_* and are freed by cl_dlt_rec_free.
 */
#ifndef CL_DLT_H
#define CL_DLT_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "crawllog.h"

/* Headers a dead letter adds to the message's own. */
#define CL_DLT_HEADERS 7
/* kafka_dlt-exception-message keeps the reason's first
 * CL_DLT_REASON_MAX - 1 bytes. */
#define CL_DLT_REASON_MAX 2048
/* The reason buffer handed to a crawllog_process_cb. */
#define CL_RETRY_REASON_SIZE 1024

/* A dead letter ready to append or produce: rec points into this struct
 * (do not copy or move it once filled), into headers, and into the msg,
 * group and reason given to cl_dlt_record, which must outlive it. */
struct cl_dlt_rec {
    crawllog_record_t rec;
    crawllog_header_t *headers; /* msg's headers, then CL_DLT_HEADERS */
    uint8_t partition[4], offset[8], timestamp[8], attempts[4]; /* BE */
};

/*
 * The dead letter of msg into *out: msg's key, value and headers, then
 * Spring Kafka's DLT headers kafka_dlt-original-topic (the topic name),
 * -original-partition (int32 BE), -original-offset (int64 BE),
 * -original-timestamp (int64 BE), -original-consumer-group (group),
 * kafka_dlt-exception-message (reason, NULL = "", at most
 * CL_DLT_REASON_MAX - 1 bytes) and crawllog_dlt-attempts (int32 BE);
 * timestamp -1 (the time of the append).  Returns 0 or CRAWLLOG_ENOMEM
 * (*out then needs no cl_dlt_rec_free).
 */
int cl_dlt_record(const crawllog_msg_t *msg, const char *group,
                  const char *reason, int32_t attempts, struct cl_dlt_rec *out);
/* Free what cl_dlt_record allocated (a zeroed struct: nothing). */
void cl_dlt_rec_free(struct cl_dlt_rec *r);

/* Wait ms milliseconds between two attempts (arg: the caller's). */
typedef void cl_retry_wait_fn(void *arg, int64_t ms);

/*
 * The retry policy of conf (max.attempts, retry.backoff.ms doubling up to
 * retry.backoff.max.ms): call fn(msg, opaque, reason, reason_size) until it
 * returns 0, at most max.attempts times, calling wait(wait_arg, ms) between
 * two attempts.  Returns 1 when an attempt succeeded; 0 when every one
 * failed: reason then holds the last attempt's reason (NUL-terminated; if
 * it was empty, "failed N attempts") and *attemptsp = max.attempts.
 */
int cl_retry_run(const crawllog_conf_t *conf, const crawllog_msg_t *msg,
                 crawllog_process_cb *fn, void *opaque, cl_retry_wait_fn *wait,
                 void *wait_arg, char *reason, size_t reason_size,
                 int32_t *attemptsp);

#endif /* CL_DLT_H */
