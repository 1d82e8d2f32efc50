/*
 * append.c - the public data-path calls on a crawllog_t: append a batch,
 * flush buffered and unsynced data, read a partition's offsets (layer 2).
 *
 * Owns nothing on disk itself: it encodes the records into one RecordBatch
 * (record.c) outside any lock and hands it to the partition (partition.c),
 * which assigns offsets and writes under the partition's locks.
 *
 * Invariants: records are validated and the batch is checked against
 * max.message.bytes before any lock is taken, so a refused append writes
 * nothing.  A partition whose topic was deleted (and maybe re-created) by
 * another process is forgotten and looked up once more (log.c,
 * cl_log_with_partition).
 *
 * Locks: none held here; partition.c takes the partition's.
 */
#include <inttypes.h>
#include <stdio.h>

#include "io.h"
#include "log.h"
#include "record.h"

/* ---- append, flush, offsets ------------------------------------------- */

static int check_records(const crawllog_record_t *records, size_t count,
                         struct cl_err *err)
{
    if (records == NULL || count == 0 || count > INT32_MAX) {
        return cl_errf(err, CRAWLLOG_EINVAL, "need 1..2^31-1 records");
    }
    for (size_t i = 0; i < count; i++) {
        const crawllog_record_t *r = &records[i];
        if (r->header_count > 0 && r->headers == NULL) {
            return cl_errf(err, CRAWLLOG_EINVAL,
                           "record %zu: headers is NULL", i);
        }
        for (size_t h = 0; h < r->header_count; h++) {
            if (r->headers[h].name == NULL) {
                return cl_errf(err, CRAWLLOG_EINVAL,
                               "record %zu: header %zu has no name", i, h);
            }
        }
    }
    return 0;
}

struct append_args {
    const crawllog_record_t *records;
    size_t count;
    int sync;
    int64_t base;
};

static int append_one(struct cl_partition *part, void *arg,
                      struct cl_err *err)
{
    struct append_args *a = arg;
    size_t size = cl_record_batch_size(a->records, a->count);
    if (size == 0 || size > (size_t)part->conf.max_message_bytes) {
        return cl_errf(err, CRAWLLOG_ETOOBIG,
                       "%s: batch of %zu bytes exceeds max.message.bytes "
                       "%" PRId64,
                       part->reldir, size, part->conf.max_message_bytes);
    }
    uint8_t *buf = cl_io_malloc(size);
    if (buf == NULL) {
        return cl_errf(err, CRAWLLOG_ENOMEM, "out of memory");
    }
    int rc = CRAWLLOG_EINVAL;
    if (cl_record_batch_encode(buf, size, a->records, a->count,
                               cl_io_now_ms(), NULL) != size) {
        cl_errf(err, rc, "records could not be encoded");
    } else {
        rc = cl_partition_append(part, buf, size, 1, a->sync, &a->base, err);
    }
    cl_io_free(buf);
    return rc;
}

int crawllog_append(crawllog_t *log, const char *topic, int32_t partition,
                    const crawllog_record_t *records, size_t count, int sync,
                    int64_t *base_offsetp)
{
    struct cl_err err;
    err.msg[0] = '\0'; /* not {0}: 512 bytes per record */
    struct append_args args = {records, count, sync, -1};
    int rc;
    if (base_offsetp) {
        *base_offsetp = -1;
    }
    if (log == NULL) {
        return CRAWLLOG_EINVAL;
    }
    if (topic == NULL || sync < CRAWLLOG_SYNC_NONE ||
        sync > CRAWLLOG_SYNC_DURABLE) {
        cl_errf(&err, CRAWLLOG_EINVAL, "topic and a valid sync mode needed");
        return cl_log_fail(log, CRAWLLOG_EINVAL, &err);
    }
    if ((rc = check_records(records, count, &err)) != 0) {
        return cl_log_fail(log, rc, &err);
    }
    rc = cl_log_with_partition(log, topic, partition, append_one, &args, &err);
    if (rc != 0) {
        return cl_log_fail(log, rc, &err);
    }
    if (base_offsetp) {
        *base_offsetp = args.base;
    }
    return 0;
}

int crawllog_flush(crawllog_t *log, int sync)
{
    struct cl_err err = {{0}};
    struct cl_partition **parts;
    size_t n;
    int first = 0;
    if (log == NULL || sync < CRAWLLOG_SYNC_NONE ||
        sync > CRAWLLOG_SYNC_DURABLE) {
        return CRAWLLOG_EINVAL;
    }
    int rc = cl_log_open_partitions(log, &parts, &n);
    if (rc != 0) {
        cl_errf(&err, rc, "out of memory");
        return cl_log_fail(log, rc, &err);
    }
    /* Partition objects live until close, so no lock is needed now. */
    for (size_t i = 0; i < n; i++) {
        struct cl_err e2 = {{0}};
        rc = cl_partition_flush(parts[i], sync, &e2);
        if (rc != 0 && first == 0) {
            first = rc;
            err = e2;
        }
    }
    cl_io_free(parts);
    return first ? cl_log_fail(log, first, &err) : 0;
}

struct offsets_args {
    int64_t start, end;
};

static int offsets_one(struct cl_partition *part, void *arg,
                       struct cl_err *err)
{
    struct offsets_args *a = arg;
    /* The offsets come from the shared state without the lock: check that
     * the topic was not deleted (maybe re-created) under a cached handle,
     * so that cl_log_with_partition() reloads it instead of reporting stale
     * offsets. */
    if (cl_pstate_unlinked(&part->ps)) {
        return cl_errf(err, CRAWLLOG_ENOTOPIC, "%s: partition was deleted",
                       part->reldir);
    }
    return cl_partition_offsets(part, &a->start, &a->end, err);
}

int crawllog_partition_offsets(crawllog_t *log, const char *topic,
                               int32_t partition, int64_t *startp,
                               int64_t *endp)
{
    struct cl_err err = {{0}};
    struct offsets_args args = {-1, -1};
    if (startp) {
        *startp = -1;
    }
    if (endp) {
        *endp = -1;
    }
    if (log == NULL || topic == NULL) {
        return CRAWLLOG_EINVAL;
    }
    int rc = cl_log_with_partition(log, topic, partition, offsets_one, &args, &err);
    if (rc != 0) {
        return cl_log_fail(log, rc, &err);
    }
    if (startp) {
        *startp = args.start;
    }
    if (endp) {
        *endp = args.end;
    }
    return 0;
}

