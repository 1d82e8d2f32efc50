/*
 * consumer_retry.c - crawllog_consumer_process: the retry policy helper.
 * Run the application's processing function on one message up to
 * max.attempts times, waiting retry.backoff.ms before the second attempt
 * and twice as long before each later one (at most retry.backoff.max.ms),
 * then dead-letter the message (consumer_dlq.c) with the last reason.  The
 * loop is dlt.c's cl_retry_run (shared with the Kafka backend); this file
 * gives it the wait that keeps the membership alive.
 *
 * On disk: nothing of its own (the dead letter and the commit past it are
 * consumer_dlq.c's).
 *
 * Invariants: a message whose processing succeeded is never dead-lettered;
 * one that failed every attempt is dead-lettered exactly once (G17), with
 * crawllog_dlt-attempts = max.attempts.  While it waits between attempts
 * the member keeps stamping its last-poll time, so a retry loop shorter
 * than max.poll.interval.ms never gets the member expelled.
 *
 * Locks: none; the callback runs with no internal lock held.
 */
#include <time.h>

#include "backend.h"
#include "consumer.h"
#include "dlt.h"
#include "io.h"

/* Sleep ms milliseconds in slices, stamping the membership as alive. */
static void backoff(void *arg, int64_t ms)
{
    crawllog_consumer_t *c = arg;
    int64_t until = cl_io_mono_ns() + ms * 1000000;
    for (;;) {
        if (c->mode == CL_CONS_SUBSCRIBED) {
            cl_group_touch(&c->group);
        }
        int64_t left = until - cl_io_mono_ns();
        if (left <= 0) {
            return;
        }
        if (left > 50000000) {
            left = 50000000; /* stamp every 50 ms */
        }
        struct timespec ts = {(time_t)(left / 1000000000),
                              (long)(left % 1000000000)};
        nanosleep(&ts, NULL);
    }
}

int crawllog_consumer_process(crawllog_consumer_t *cons,
                              const crawllog_msg_t *msg,
                              crawllog_process_cb *fn, void *opaque,
                              int *outcomep)
{
    CL_BACKEND(cons, consumer_process, cons, msg, fn, opaque, outcomep);
    struct cl_err err = {{0}};
    char reason[CL_RETRY_REASON_SIZE];
    int32_t attempts = 0;
    if (outcomep) {
        *outcomep = 0;
    }
    if (cons == NULL || msg == NULL || fn == NULL) {
        return cons ? cl_cons_fail(cons, CRAWLLOG_EINVAL, NULL)
                    : CRAWLLOG_EINVAL;
    }
    int rc = cl_cons_check_state(cons, 1);
    if (rc != 0 || (rc = cl_cons_check_msg(cons, msg)) != 0) {
        return rc;
    }
    if (cl_retry_run(cons->conf, msg, fn, opaque, backoff, cons, reason,
                     sizeof(reason), &attempts)) {
        if (outcomep) {
            *outcomep = CRAWLLOG_PROCESSED;
        }
        return 0;
    }
    rc = cl_cons_dead_letter(cons, msg, reason, attempts, &err);
    if (rc != 0) {
        return cl_cons_fail(cons, rc, &err);
    }
    if (outcomep) {
        *outcomep = CRAWLLOG_DEAD_LETTERED;
    }
    return 0;
}
