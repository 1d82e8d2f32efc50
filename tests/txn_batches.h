/*
 * txn_batches.h - raw transactional batches and markers for the read-side
 * tests (test_txn_read.c, test_fault_txn_read.c): records "v<n>" encoded
 * with a producer id and the transactional attribute, and control batches
 * (libcrawllog/control.h), appended to partition 0 of a topic through the
 * internal partition API.  Test-only; include after helpers.h.
 */
#ifndef CL_TEST_TXN_BATCHES_H
#define CL_TEST_TXN_BATCHES_H

#include <stdio.h>
#include <string.h>

#include "control.h"
#include "io.h"
#include "log.h"
#include "partition.h"
#include "record.h"

struct txnb_app {
    uint8_t *buf;
    size_t len;
    int64_t base;
};

static inline int txnb_app_op(struct cl_partition *part, void *arg,
                              struct cl_err *err)
{
    struct txnb_app *a = arg;
    return cl_partition_append(part, a->buf, a->len, 1, CRAWLLOG_SYNC_WRITTEN,
                               &a->base, err);
}

/* Append len bytes of encoded batches to topic/0; the base offset. */
static inline int64_t txnb_append_raw(crawllog_t *log, const char *topic,
                                      uint8_t *buf, size_t len)
{
    struct cl_err err = {{0}};
    struct txnb_app a = {buf, len, -1};
    int rc = cl_log_with_partition(log, topic, 0, txnb_app_op, &a, &err);
    if (rc != 0) {
        fail_msg("append: %s", err.msg);
    }
    return a.base;
}

/* n (1..8) records "v<first>".."v<first+n-1>" of producer pid (-1: not
 * transactional) as one batch.  Returns the base offset. */
static inline int64_t txnb_append_data(crawllog_t *log, const char *topic,
                                       int64_t pid, int n, int first)
{
    crawllog_record_t recs[8];
    char vals[8][16];
    uint8_t buf[2048];
    assert_true(n >= 1 && n <= 8);
    for (int i = 0; i < n; i++) {
        snprintf(vals[i], sizeof(vals[i]), "v%d", first + i);
        memset(&recs[i], 0, sizeof(recs[i]));
        recs[i].value = vals[i];
        recs[i].value_len = strlen(vals[i]);
        recs[i].timestamp = 1000;
    }
    struct cl_batch_meta meta = CL_BATCH_META_NONE;
    if (pid >= 0) {
        meta.producer_id = pid;
        meta.producer_epoch = 0;
        meta.attributes = CL_BATCH_ATTR_TRANSACTIONAL;
    }
    size_t len = cl_record_batch_encode(buf, sizeof(buf), recs, (size_t)n,
                                        1000, &meta);
    assert_true(len > 0);
    return txnb_append_raw(log, topic, buf, len);
}

/* A marker (CL_CONTROL_COMMIT or _ABORT) of producer pid; its offset. */
static inline int64_t txnb_append_marker(crawllog_t *log, const char *topic,
                                         int64_t pid, int type)
{
    struct cl_err err = {{0}};
    unsigned char *buf;
    size_t len;
    assert_int_equal(
        cl_control_encode(0, pid, 0, type, 0, 1000, &buf, &len, &err), 0);
    int64_t base = txnb_append_raw(log, topic, buf, len);
    cl_io_free(buf);
    return base;
}

#endif
