/*
 * kafka_backend.c - the Kafka backend's table (backend.h) and the public
 * functions Kafka has no equivalent for (layer 5).
 *
 * Owns nothing on disk and no state: cl_backend_kafka is a constant table
 * of the cl_kafka_* functions (kafka.h), linked by `make kafka` in place of
 * backend_none.c.  The functions here fail with CRAWLLOG_ENOTSUP and a
 * message "crawllog_<fn>: not supported by the Kafka backend (<why>)" in
 * the log's errmsg, their out-parameters set as on any failure.
 * Invariants: every member of the table is set.  Locks: none.  Threads:
 * none of its own.
 */
#include <stddef.h>

#include "kafka.h"

static int enotsup(crawllog_t *log, const char *fn, const char *why)
{
    return cl_kafka_log_fail(log, CRAWLLOG_ENOTSUP,
                             "crawllog_%s: not supported by the Kafka backend "
                             "(%s)",
                             fn, why);
}

int cl_kafka_maintain(crawllog_t *log, int64_t *deletedp)
{
    if (deletedp != NULL) {
        *deletedp = 0;
    }
    return enotsup(log, "maintain",
                   "Kafka's brokers roll segments and apply retention "
                   "themselves (topic configs retention.ms, retention.bytes, "
                   "segment.ms)");
}

int cl_kafka_partition_segments(crawllog_t *log, const char *topic,
                                int32_t partition,
                                crawllog_segment_info_t **segsp, size_t *countp)
{
    (void)topic;
    (void)partition;
    if (segsp != NULL) {
        *segsp = NULL;
    }
    if (countp != NULL) {
        *countp = 0;
    }
    return enotsup(log, "partition_segments",
                   "no segment files: they live on the brokers");
}

int cl_kafka_partition_batches(crawllog_t *log, const char *topic,
                               int32_t partition, int64_t from_offset,
                               crawllog_batch_cb *cb, void *opaque)
{
    (void)topic;
    (void)partition;
    (void)from_offset;
    (void)cb;
    (void)opaque;
    return enotsup(log, "partition_batches",
                   "no segment files: they live on the brokers; read records "
                   "with a reader or a consumer");
}

int cl_kafka_topic_migrate(crawllog_t *log, const char *old,
                           const char *new_topic, int32_t partitions,
                           crawllog_migrate_progress_cb *cb, void *opaque)
{
    (void)old;
    (void)new_topic;
    (void)partitions;
    (void)cb;
    (void)opaque;
    return enotsup(log, "topic_migrate",
                   "use `crawllog mirror` to copy the topic into a new topic, "
                   "then move producers and consumer groups to it");
}

int cl_kafka_topic_migration(crawllog_t *log, const char *topic,
                             crawllog_migration_t **infop)
{
    (void)topic;
    if (infop != NULL) {
        *infop = NULL;
    }
    return enotsup(log, "topic_migration",
                   "no topic migrations on Kafka: use `crawllog mirror` to a "
                   "new topic");
}

int cl_kafka_txn_recover(crawllog_t *log, int *finishedp)
{
    if (finishedp != NULL) {
        *finishedp = 0;
    }
    return enotsup(log, "txn_recover",
                   "Kafka's transaction coordinator finishes the transactions "
                   "of dead producers (transaction.timeout.ms)");
}

static const struct cl_backend_ops table = {
    .name = "kafka",
    .open = cl_kafka_open,
    .close = cl_kafka_close,
    .errmsg = cl_kafka_errmsg,
    .location = cl_kafka_location,
    .topic_create = cl_kafka_topic_create,
    .topic_delete_flags = cl_kafka_topic_delete_flags,
    .topic_add_partitions = cl_kafka_topic_add_partitions,
    .topic_list = cl_kafka_topic_list,
    .topic_describe = cl_kafka_topic_describe,
    .partition_offsets = cl_kafka_partition_offsets,
    .append = cl_kafka_append,
    .flush = cl_kafka_flush,
    .maintain = cl_kafka_maintain,
    .group_list = cl_kafka_group_list,
    .group_delete = cl_kafka_group_delete,
    .group_set_offsets = cl_kafka_group_set_offsets,
    .group_describe = cl_kafka_group_describe,
    .partition_segments = cl_kafka_partition_segments,
    .partition_batches = cl_kafka_partition_batches,
    .topic_migrate = cl_kafka_topic_migrate,
    .topic_migration = cl_kafka_topic_migration,
    .txn_recover = cl_kafka_txn_recover,
    .reader_new = cl_kafka_reader_new,
    .reader_destroy = cl_kafka_reader_destroy,
    .reader_seek = cl_kafka_reader_seek,
    .reader_seek_time = cl_kafka_reader_seek_time,
    .reader_set_isolation = cl_kafka_reader_set_isolation,
    .reader_next = cl_kafka_reader_next,
    .reader_fetch = cl_kafka_reader_fetch,
    .reader_errmsg = cl_kafka_reader_errmsg,
    .producer_new = cl_kafka_producer_new,
    .producer_destroy = cl_kafka_producer_destroy,
    .producer_send = cl_kafka_producer_send,
    .producer_send_record = cl_kafka_producer_send_record,
    .producer_send_batch = cl_kafka_producer_send_batch,
    .producer_next_sequence = cl_kafka_producer_next_sequence,
    .producer_send_sequenced = cl_kafka_producer_send_sequenced,
    .producer_identity = cl_kafka_producer_identity,
    .producer_poll = cl_kafka_producer_poll,
    .producer_flush = cl_kafka_producer_flush,
    .producer_set_partitioner = cl_kafka_producer_set_partitioner,
    .producer_set_delivery_cb = cl_kafka_producer_set_delivery_cb,
    .producer_errmsg = cl_kafka_producer_errmsg,
    .txn_begin = cl_kafka_txn_begin,
    .txn_send_offsets = cl_kafka_txn_send_offsets,
    .txn_commit = cl_kafka_txn_commit,
    .txn_abort = cl_kafka_txn_abort,
    .consumer_new = cl_kafka_consumer_new,
    .consumer_set_rebalance_cb = cl_kafka_consumer_set_rebalance_cb,
    .consumer_subscribe = cl_kafka_consumer_subscribe,
    .consumer_assign = cl_kafka_consumer_assign,
    .consumer_poll = cl_kafka_consumer_poll,
    .consumer_commit = cl_kafka_consumer_commit,
    .consumer_commit_offsets = cl_kafka_consumer_commit_offsets,
    .consumer_dead_letter = cl_kafka_consumer_dead_letter,
    .consumer_process = cl_kafka_consumer_process,
    .consumer_committed = cl_kafka_consumer_committed,
    .consumer_group_metadata = cl_kafka_consumer_group_metadata,
    .group_metadata_destroy = cl_kafka_group_metadata_destroy,
    .consumer_seek = cl_kafka_consumer_seek,
    .consumer_seek_to_time = cl_kafka_consumer_seek_to_time,
    .consumer_position = cl_kafka_consumer_position,
    .consumer_pause = cl_kafka_consumer_pause,
    .consumer_resume = cl_kafka_consumer_resume,
    .consumer_assignment = cl_kafka_consumer_assignment,
    .consumer_generation = cl_kafka_consumer_generation,
    .consumer_member_id = cl_kafka_consumer_member_id,
    .consumer_close = cl_kafka_consumer_close,
    .consumer_destroy = cl_kafka_consumer_destroy,
    .consumer_errmsg = cl_kafka_consumer_errmsg,
};

const struct cl_backend_ops *const cl_backend_kafka = &table;
