/*
 * backend.h - the backend interface (layer 0).
 *
 * libcrawllog's public API has two implementations: the file backend (the
 * data directory: every other module of libcrawllog/) and, in a library
 * built with `make kafka`, the Kafka backend (kafka_*.c over librdkafka).
 * A backend is a table of the public functions that take a handle; the
 * handles (crawllog_t, crawllog_producer_t, crawllog_consumer_t,
 * crawllog_reader_t, crawllog_group_metadata_t) carry a `kafka` pointer,
 * NULL for the file backend.  Each public function checks its handle with
 * CL_BACKEND() first and, for a Kafka handle, returns what the table's
 * function returns; nothing of the file backend runs for it.  A Kafka
 * handle is a zeroed shell of the file backend's struct with only `kafka`
 * set, allocated and freed by the Kafka backend.
 *
 * cl_backend_kafka is NULL in a library built without the backend
 * (backend_none.c): crawllog_open() of a Kafka location then fails with
 * CRAWLLOG_ENOTSUP.  The core never includes a kafka_*.h header and never
 * links librdkafka; the table is the only way in (like SQLite's VFS).
 *
 * Members are named after the public function (crawllog_<name>) and take
 * its arguments; each documents itself in the public header.  A feature
 * Kafka lacks returns CRAWLLOG_ENOTSUP with a message naming the function
 * (docs/SCALING.md lists them).
 */
#ifndef CL_BACKEND_H
#define CL_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "crawllog.h"

struct cl_backend_ops {
    const char *name; /* "kafka" */
    int (*open)(crawllog_t **logp, const char *dir, const crawllog_conf_t *conf,
                char *errstr, size_t errstr_size);
    int (*close)(crawllog_t *log);
    const char *(*errmsg)(const crawllog_t *log);
    const char *(*location)(const crawllog_t *log);
    int (*topic_create)(crawllog_t *log, const char *topic, int32_t partitions,
                        const crawllog_conf_t *topic_conf);
    int (*topic_delete_flags)(crawllog_t *log, const char *topic,
                              unsigned flags);
    int (*topic_add_partitions)(crawllog_t *log, const char *topic,
                                int32_t total);
    int (*topic_list)(crawllog_t *log, char ***namesp, size_t *countp);
    int (*topic_describe)(crawllog_t *log, const char *topic,
                          int32_t *partitionsp, crawllog_conf_t **confp);
    int (*partition_offsets)(crawllog_t *log, const char *topic,
                             int32_t partition, int64_t *startp, int64_t *endp);
    int (*append)(crawllog_t *log, const char *topic, int32_t partition,
                  const crawllog_record_t *records, size_t count, int sync,
                  int64_t *base_offsetp);
    int (*flush)(crawllog_t *log, int sync);
    int (*maintain)(crawllog_t *log, int64_t *deletedp);
    int (*group_list)(crawllog_t *log, char ***namesp, size_t *countp);
    int (*group_delete)(crawllog_t *log, const char *group);
    int (*group_set_offsets)(crawllog_t *log, const char *group,
                             const crawllog_topic_partition_t *list,
                             size_t count);
    int (*group_describe)(crawllog_t *log, const char *group,
                          crawllog_group_desc_t **descp);
    int (*partition_segments)(crawllog_t *log, const char *topic,
                              int32_t partition,
                              crawllog_segment_info_t **segsp, size_t *countp);
    int (*partition_batches)(crawllog_t *log, const char *topic,
                             int32_t partition, int64_t from_offset,
                             crawllog_batch_cb *cb, void *opaque);
    int (*topic_migrate)(crawllog_t *log, const char *old,
                         const char *new_topic, int32_t partitions,
                         crawllog_migrate_progress_cb *cb, void *opaque);
    int (*topic_migration)(crawllog_t *log, const char *topic,
                           crawllog_migration_t **infop);
    int (*txn_recover)(crawllog_t *log, int *finishedp);
    int (*reader_new)(crawllog_reader_t **rdp, crawllog_t *log,
                      const char *topic, int32_t partition);
    void (*reader_destroy)(crawllog_reader_t *rd);
    int (*reader_seek)(crawllog_reader_t *rd, int64_t offset);
    int (*reader_seek_time)(crawllog_reader_t *rd, int64_t timestamp_ms,
                            int64_t *offsetp);
    int (*reader_set_isolation)(crawllog_reader_t *rd, int level);
    int (*reader_next)(crawllog_reader_t *rd, const crawllog_msg_t **msgp);
    int (*reader_fetch)(crawllog_reader_t *rd, size_t max_bytes,
                        const void **bufp, size_t *lenp);
    const char *(*reader_errmsg)(const crawllog_reader_t *rd);
    int (*producer_new)(crawllog_t *log, const crawllog_conf_t *conf,
                        crawllog_producer_t **prodp, char *errstr,
                        size_t errstr_size);
    int (*producer_destroy)(crawllog_producer_t *prod);
    int (*producer_send)(crawllog_producer_t *prod, const char *topic,
                         int32_t partition, const void *key, size_t keylen,
                         const void *value, size_t vlen,
                         const crawllog_header_t *headers, size_t nheaders,
                         int64_t *offsetp);
    int (*producer_send_record)(crawllog_producer_t *prod, const char *topic,
                                int32_t partition, const crawllog_record_t *rec,
                                int64_t *offsetp);
    int (*producer_send_batch)(crawllog_producer_t *prod, const char *topic,
                               int32_t partition, const crawllog_record_t *recs,
                               size_t n, int64_t *base_offsetp);
    int (*producer_next_sequence)(crawllog_producer_t *prod, const char *topic,
                                  int32_t partition, int32_t *seqp);
    int (*producer_send_sequenced)(crawllog_producer_t *prod, const char *topic,
                                   int32_t partition, int32_t base_sequence,
                                   const crawllog_record_t *recs, size_t n,
                                   int64_t *base_offsetp, int *duplicatep);
    int (*producer_identity)(const crawllog_producer_t *prod, int64_t *pidp,
                             int16_t *epochp);
    int (*producer_poll)(crawllog_producer_t *prod);
    int (*producer_flush)(crawllog_producer_t *prod, int timeout_ms);
    int (*producer_set_partitioner)(crawllog_producer_t *prod,
                                    crawllog_partitioner_fn *fn, void *opaque);
    int (*producer_set_delivery_cb)(crawllog_producer_t *prod,
                                    crawllog_delivery_cb *cb, void *opaque);
    const char *(*producer_errmsg)(const crawllog_producer_t *prod);
    int (*txn_begin)(crawllog_producer_t *prod);
    int (*txn_send_offsets)(crawllog_producer_t *prod,
                            const crawllog_group_metadata_t *md,
                            const crawllog_topic_partition_t *offsets,
                            size_t count);
    int (*txn_commit)(crawllog_producer_t *prod);
    int (*txn_abort)(crawllog_producer_t *prod);
    int (*consumer_new)(crawllog_t *log, const crawllog_conf_t *conf,
                        crawllog_consumer_t **consp, char *errstr,
                        size_t errstr_size);
    int (*consumer_set_rebalance_cb)(crawllog_consumer_t *cons,
                                     crawllog_rebalance_cb *cb, void *opaque);
    int (*consumer_subscribe)(crawllog_consumer_t *cons,
                              const char *const *topics, size_t count);
    int (*consumer_assign)(crawllog_consumer_t *cons,
                           const crawllog_topic_partition_t *parts,
                           size_t count);
    int (*consumer_poll)(crawllog_consumer_t *cons, int timeout_ms,
                         const crawllog_msg_t **msgs, size_t max,
                         size_t *countp);
    int (*consumer_commit)(crawllog_consumer_t *cons, const crawllog_msg_t *msg,
                           int sync);
    int (*consumer_commit_offsets)(crawllog_consumer_t *cons,
                                   const crawllog_topic_partition_t *list,
                                   size_t count, int sync);
    int (*consumer_dead_letter)(crawllog_consumer_t *cons,
                                const crawllog_msg_t *msg, const char *reason);
    int (*consumer_process)(crawllog_consumer_t *cons,
                            const crawllog_msg_t *msg, crawllog_process_cb *fn,
                            void *opaque, int *outcomep);
    int (*consumer_committed)(crawllog_consumer_t *cons, const char *topic,
                              int32_t partition, int64_t *offsetp);
    int (*consumer_group_metadata)(crawllog_consumer_t *cons,
                                   crawllog_group_metadata_t **mdp);
    void (*group_metadata_destroy)(crawllog_group_metadata_t *md);
    int (*consumer_seek)(crawllog_consumer_t *cons, const char *topic,
                         int32_t partition, int64_t offset);
    int (*consumer_seek_to_time)(crawllog_consumer_t *cons, const char *topic,
                                 int32_t partition, int64_t timestamp_ms);
    int (*consumer_position)(crawllog_consumer_t *cons, const char *topic,
                             int32_t partition, int64_t *offsetp);
    int (*consumer_pause)(crawllog_consumer_t *cons,
                          const crawllog_topic_partition_t *parts,
                          size_t count);
    int (*consumer_resume)(crawllog_consumer_t *cons,
                           const crawllog_topic_partition_t *parts,
                           size_t count);
    int (*consumer_assignment)(crawllog_consumer_t *cons,
                               crawllog_topic_partition_t **listp,
                               size_t *countp);
    int32_t (*consumer_generation)(const crawllog_consumer_t *cons);
    const char *(*consumer_member_id)(const crawllog_consumer_t *cons);
    int (*consumer_close)(crawllog_consumer_t *cons);
    void (*consumer_destroy)(crawllog_consumer_t *cons);
    const char *(*consumer_errmsg)(const crawllog_consumer_t *cons);
};

/* The Kafka backend, or NULL when built without it. */
extern const struct cl_backend_ops *const cl_backend_kafka;

/* 1 if location (crawllog_open's dir) names a Kafka cluster
 * ("kafka://...") or conf has backend=kafka; else 0. */
int cl_backend_is_kafka(const char *location, const crawllog_conf_t *conf);

/* First statement of a public function whose handle h may belong to the
 * Kafka backend: return the backend's answer for it (h NULL: go on, the
 * function's own checks refuse it). */
#define CL_BACKEND(h, fn, ...)                                                 \
    do {                                                                       \
        if ((h) != NULL && (h)->kafka != NULL)                                 \
            return cl_backend_kafka->fn(__VA_ARGS__);                          \
    } while (0)

/* The same for a function returning void. */
#define CL_BACKEND_VOID(h, fn, ...)                                            \
    do {                                                                       \
        if ((h) != NULL && (h)->kafka != NULL) {                               \
            cl_backend_kafka->fn(__VA_ARGS__);                                 \
            return;                                                            \
        }                                                                      \
    } while (0)

#endif /* CL_BACKEND_H */
