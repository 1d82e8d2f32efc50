/*
 * kafka.h - the Kafka backend's internal interface (layer 5: above the
 * whole file backend; the only code that includes librdkafka).  Built and
 * linked only by `make kafka` (Makefile: KAFKA_SRCS).  See backend.h for
 * how the public functions reach it, docs/SCALING.md for what maps to what.
 *
 * Modules:
 *   kafka_backend.c   the cl_backend_ops table; the ENOTSUP functions
 *   kafka_log.c       crawllog_t: location, client confs, error mapping,
 *                     metadata cache, admin requests
 *   kafka_topic.c     topics admin, watermarks
 *   kafka_group.c     groups admin: list, delete, set offsets, describe
 *   kafka_producer.c  crawllog_producer_t
 *   kafka_txn.c       transactions, crawllog_append / crawllog_flush
 *   kafka_consumer.c  crawllog_consumer_t: create, subscribe / assign,
 *                     rebalance callback, poll, close
 *   kafka_offsets.c   commits, committed, seek, position, pause / resume,
 *                     assignment, group metadata
 *   kafka_dlq.c       dead letters and the retry policy
 *   kafka_reader.c    crawllog_reader_t (one partition, no group)
 *   kafka_msg.c       rd_kafka_message_t -> crawllog_msg_t (headers in
 *                     Kafka's record-header encoding)
 *
 * Threads: librdkafka runs its own threads inside each rd_kafka_t (the
 * one documented exception to "the library starts no threads").  Every
 * callback the application registered (delivery, rebalance) runs from a
 * crawllog call in the application's thread (rd_kafka_poll /
 * rd_kafka_consumer_poll inside it), never under a lock of this backend.
 */
#ifndef CL_KAFKA_H
#define CL_KAFKA_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "backend.h"
#include "reader.h"

/* ---- Every backend function (backend.h), crawllog_<name> -> cl_kafka_<name> */
int cl_kafka_open(crawllog_t **logp, const char *dir,
                  const crawllog_conf_t *conf, char *errstr,
                  size_t errstr_size);
int cl_kafka_close(crawllog_t *log);
const char *cl_kafka_errmsg(const crawllog_t *log);
const char *cl_kafka_location(const crawllog_t *log);
int cl_kafka_topic_create(crawllog_t *log, const char *topic,
                          int32_t partitions,
                          const crawllog_conf_t *topic_conf);
int cl_kafka_topic_delete_flags(crawllog_t *log, const char *topic,
                                unsigned flags);
int cl_kafka_topic_add_partitions(crawllog_t *log, const char *topic,
                                  int32_t total);
int cl_kafka_topic_list(crawllog_t *log, char ***namesp, size_t *countp);
int cl_kafka_topic_describe(crawllog_t *log, const char *topic,
                            int32_t *partitionsp, crawllog_conf_t **confp);
int cl_kafka_partition_offsets(crawllog_t *log, const char *topic,
                               int32_t partition, int64_t *startp,
                               int64_t *endp);
int cl_kafka_append(crawllog_t *log, const char *topic, int32_t partition,
                    const crawllog_record_t *records, size_t count, int sync,
                    int64_t *base_offsetp);
int cl_kafka_flush(crawllog_t *log, int sync);
int cl_kafka_maintain(crawllog_t *log, int64_t *deletedp);
int cl_kafka_group_list(crawllog_t *log, char ***namesp, size_t *countp);
int cl_kafka_group_delete(crawllog_t *log, const char *group);
int cl_kafka_group_set_offsets(crawllog_t *log, const char *group,
                               const crawllog_topic_partition_t *list,
                               size_t count);
int cl_kafka_group_describe(crawllog_t *log, const char *group,
                            crawllog_group_desc_t **descp);
int cl_kafka_partition_segments(crawllog_t *log, const char *topic,
                                int32_t partition,
                                crawllog_segment_info_t **segsp,
                                size_t *countp);
int cl_kafka_partition_batches(crawllog_t *log, const char *topic,
                               int32_t partition, int64_t from_offset,
                               crawllog_batch_cb *cb, void *opaque);
int cl_kafka_topic_migrate(crawllog_t *log, const char *old,
                           const char *new_topic, int32_t partitions,
                           crawllog_migrate_progress_cb *cb, void *opaque);
int cl_kafka_topic_migration(crawllog_t *log, const char *topic,
                             crawllog_migration_t **infop);
int cl_kafka_txn_recover(crawllog_t *log, int *finishedp);
int cl_kafka_reader_new(crawllog_reader_t **rdp, crawllog_t *log,
                        const char *topic, int32_t partition);
void cl_kafka_reader_destroy(crawllog_reader_t *rd);
int cl_kafka_reader_seek(crawllog_reader_t *rd, int64_t offset);
int cl_kafka_reader_seek_time(crawllog_reader_t *rd, int64_t timestamp_ms,
                              int64_t *offsetp);
int cl_kafka_reader_set_isolation(crawllog_reader_t *rd, int level);
int cl_kafka_reader_next(crawllog_reader_t *rd, const crawllog_msg_t **msgp);
int cl_kafka_reader_fetch(crawllog_reader_t *rd, size_t max_bytes,
                          const void **bufp, size_t *lenp);
const char *cl_kafka_reader_errmsg(const crawllog_reader_t *rd);
int cl_kafka_producer_new(crawllog_t *log, const crawllog_conf_t *conf,
                          crawllog_producer_t **prodp, char *errstr,
                          size_t errstr_size);
int cl_kafka_producer_destroy(crawllog_producer_t *prod);
int cl_kafka_producer_send(crawllog_producer_t *prod, const char *topic,
                           int32_t partition, const void *key, size_t keylen,
                           const void *value, size_t vlen,
                           const crawllog_header_t *headers, size_t nheaders,
                           int64_t *offsetp);
int cl_kafka_producer_send_record(crawllog_producer_t *prod, const char *topic,
                                  int32_t partition,
                                  const crawllog_record_t *rec,
                                  int64_t *offsetp);
int cl_kafka_producer_send_batch(crawllog_producer_t *prod, const char *topic,
                                 int32_t partition,
                                 const crawllog_record_t *recs, size_t n,
                                 int64_t *base_offsetp);
int cl_kafka_producer_next_sequence(crawllog_producer_t *prod,
                                    const char *topic, int32_t partition,
                                    int32_t *seqp);
int cl_kafka_producer_send_sequenced(crawllog_producer_t *prod,
                                     const char *topic, int32_t partition,
                                     int32_t base_sequence,
                                     const crawllog_record_t *recs, size_t n,
                                     int64_t *base_offsetp, int *duplicatep);
int cl_kafka_producer_identity(const crawllog_producer_t *prod, int64_t *pidp,
                               int16_t *epochp);
int cl_kafka_producer_poll(crawllog_producer_t *prod);
int cl_kafka_producer_flush(crawllog_producer_t *prod, int timeout_ms);
int cl_kafka_producer_set_partitioner(crawllog_producer_t *prod,
                                      crawllog_partitioner_fn *fn,
                                      void *opaque);
int cl_kafka_producer_set_delivery_cb(crawllog_producer_t *prod,
                                      crawllog_delivery_cb *cb, void *opaque);
const char *cl_kafka_producer_errmsg(const crawllog_producer_t *prod);
int cl_kafka_txn_begin(crawllog_producer_t *prod);
int cl_kafka_txn_send_offsets(crawllog_producer_t *prod,
                              const crawllog_group_metadata_t *md,
                              const crawllog_topic_partition_t *offsets,
                              size_t count);
int cl_kafka_txn_commit(crawllog_producer_t *prod);
int cl_kafka_txn_abort(crawllog_producer_t *prod);
int cl_kafka_consumer_new(crawllog_t *log, const crawllog_conf_t *conf,
                          crawllog_consumer_t **consp, char *errstr,
                          size_t errstr_size);
int cl_kafka_consumer_set_rebalance_cb(crawllog_consumer_t *cons,
                                       crawllog_rebalance_cb *cb, void *opaque);
int cl_kafka_consumer_subscribe(crawllog_consumer_t *cons,
                                const char *const *topics, size_t count);
int cl_kafka_consumer_assign(crawllog_consumer_t *cons,
                             const crawllog_topic_partition_t *parts,
                             size_t count);
int cl_kafka_consumer_poll(crawllog_consumer_t *cons, int timeout_ms,
                           const crawllog_msg_t **msgs, size_t max,
                           size_t *countp);
int cl_kafka_consumer_commit(crawllog_consumer_t *cons,
                             const crawllog_msg_t *msg, int sync);
int cl_kafka_consumer_commit_offsets(crawllog_consumer_t *cons,
                                     const crawllog_topic_partition_t *list,
                                     size_t count, int sync);
int cl_kafka_consumer_dead_letter(crawllog_consumer_t *cons,
                                  const crawllog_msg_t *msg,
                                  const char *reason);
int cl_kafka_consumer_process(crawllog_consumer_t *cons,
                              const crawllog_msg_t *msg,
                              crawllog_process_cb *fn, void *opaque,
                              int *outcomep);
int cl_kafka_consumer_committed(crawllog_consumer_t *cons, const char *topic,
                                int32_t partition, int64_t *offsetp);
int cl_kafka_consumer_group_metadata(crawllog_consumer_t *cons,
                                     crawllog_group_metadata_t **mdp);
void cl_kafka_group_metadata_destroy(crawllog_group_metadata_t *md);
int cl_kafka_consumer_seek(crawllog_consumer_t *cons, const char *topic,
                           int32_t partition, int64_t offset);
int cl_kafka_consumer_seek_to_time(crawllog_consumer_t *cons, const char *topic,
                                   int32_t partition, int64_t timestamp_ms);
int cl_kafka_consumer_position(crawllog_consumer_t *cons, const char *topic,
                               int32_t partition, int64_t *offsetp);
int cl_kafka_consumer_pause(crawllog_consumer_t *cons,
                            const crawllog_topic_partition_t *parts,
                            size_t count);
int cl_kafka_consumer_resume(crawllog_consumer_t *cons,
                             const crawllog_topic_partition_t *parts,
                             size_t count);
int cl_kafka_consumer_assignment(crawllog_consumer_t *cons,
                                 crawllog_topic_partition_t **listp,
                                 size_t *countp);
int32_t cl_kafka_consumer_generation(const crawllog_consumer_t *cons);
const char *cl_kafka_consumer_member_id(const crawllog_consumer_t *cons);
int cl_kafka_consumer_close(crawllog_consumer_t *cons);
void cl_kafka_consumer_destroy(crawllog_consumer_t *cons);
const char *cl_kafka_consumer_errmsg(const crawllog_consumer_t *cons);

/* ---- kafka_log.c: shared services of the log ------------------------- */

/* A librdkafka conf for a new client of log: bootstrap.servers (or the
 * log's own mock cluster), client.id, then every `kafka.<name>` property
 * of the log's conf and of extra (extra wins), with the prefix removed.
 * On error *confp = NULL and errstr names the property. */
int cl_kafka_client_conf(crawllog_t *log, const crawllog_conf_t *extra,
                         rd_kafka_conf_t **confp, char *errstr,
                         size_t errstr_size);

/* CRAWLLOG_E* for a librdkafka error (CRAWLLOG_OK for NO_ERROR). */
int cl_kafka_err(rd_kafka_resp_err_t err);

/* The partition count of topic from cluster metadata (cached for a few
 * seconds; a miss refreshes at once).  Never creates the topic (asks for
 * all topics: a cluster with auto.create.topics.enable would create a
 * topic named in a metadata request).  CRAWLLOG_ENOTOPIC if absent. */
int cl_kafka_topic_partitions(crawllog_t *log, const char *topic, int32_t *np);

/* The log's own producer handle: metadata, admin requests, watermarks. */
rd_kafka_t *cl_kafka_log_handle(crawllog_t *log);

/* The log's lazily created internal producer for crawllog_append (slot
 * owned by the log, destroyed by crawllog_close; kafka_producer.c fills
 * it). */
crawllog_producer_t **cl_kafka_log_producer(crawllog_t *log);

/* Record a message as the log's errmsg (printf format); returns rc. */
int cl_kafka_log_fail(crawllog_t *log, int rc, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* cl_kafka_log_fail(log, cl_kafka_err(err), "<what>: <ERR_NAME>: <text>")
 * (text NULL or "": rd_kafka_err2str). */
int cl_kafka_log_fail_rd(crawllog_t *log, rd_kafka_resp_err_t err,
                         const char *text, const char *what);

/* "kafka://host:port,..." or "kafka://mock", for messages. */
const char *cl_kafka_log_location(const crawllog_t *log);

/* The bound of any one wait on the cluster, ms (10 s, or a smaller
 * kafka.socket.timeout.ms). */
int cl_kafka_log_timeout_ms(const crawllog_t *log);

/* The log's open conf (never NULL). */
const crawllog_conf_t *cl_kafka_log_conf(const crawllog_t *log);

/* 1 if the cluster is librdkafka's mock cluster: the log's own
 * (kafka://mock) or another one (its cluster id starts "mockCluster"),
 * else 0.  The mock lacks CreateTopics, DeleteTopics, CreatePartitions,
 * DescribeConfigs, ListGroups, DescribeGroups, DeleteGroups. */
int cl_kafka_log_is_mock(const crawllog_t *log);

/* 1 if the log runs its own mock cluster (kafka://mock), else 0. */
int cl_kafka_log_owns_mock(const crawllog_t *log);

/* With all-topics metadata fetched now: 0 and *np (0 while the topic is
 * being created), or CRAWLLOG_ENOTOPIC (errmsg not set), or the
 * metadata request's error (errmsg set). */
int cl_kafka_topic_lookup(crawllog_t *log, const char *topic, int32_t *np);

/* Every topic (internal __* ones skipped) with its partition count, from
 * all-topics metadata fetched now: *namesp (free with cl_io_listdir_free)
 * and *countsp (cl_io_free), *np entries, unsorted. */
int cl_kafka_topic_snapshot(crawllog_t *log, char ***namesp, int32_t **countsp,
                            size_t *np);

/* On the log's own mock: create the topic and remember topic_conf (the
 * mock keeps no configs) for cl_kafka_log_mock_topic_conf. */
int cl_kafka_log_mock_topic_create(crawllog_t *log, const char *topic,
                                   int32_t partitions,
                                   const crawllog_conf_t *topic_conf);

/* On the log's own mock: the topic's effective conf (what this handle
 * created it with over the log's conf), new in *confp. */
int cl_kafka_log_mock_topic_conf(crawllog_t *log, const char *topic,
                                 crawllog_conf_t **confp);

/* Run one admin request: start queues it on q with options o (request
 * timeout set); *evp = the result event (destroy it), or an error (the
 * event's error, or ETIMEDOUT) recorded as "<what>: ...". */
typedef void cl_kafka_admin_start_fn(rd_kafka_t *rk,
                                     const rd_kafka_AdminOptions_t *o,
                                     rd_kafka_queue_t *q, void *arg);
int cl_kafka_admin_run(crawllog_t *log, cl_kafka_admin_start_fn *start,
                       void *arg, const char *what, rd_kafka_event_t **evp);

/* ---- kafka_producer.c (+ kafka_txn.c) -------------------------------- */

/* crawllog headers -> a new rd_kafka_headers_t (NULL if n == 0);
 * CRAWLLOG_EINVAL for a NULL name or array, CRAWLLOG_ENOMEM. */
int cl_kafka_headers_new(const crawllog_header_t *h, size_t n,
                         rd_kafka_headers_t **outp);

#include <pthread.h>
#include <stdatomic.h>

#include "errors.h"

/* A Kafka producer (prod->kafka), shared by kafka_producer.c (sending,
 * lifecycle) and kafka_txn.c (transactions, crawllog_append); no other
 * module touches it.  Locks: see kafka_producer.c. */
struct cl_kafka_producer {
    crawllog_t *log;
    crawllog_producer_t *shell; /* the public handle */
    rd_kafka_t *rk;
    int acks;                   /* CL_CONF_ACKS_* */
    int keyless;                /* CL_CONF_PARTITIONER_* */
    crawllog_partitioner_state_t *pstate;
    atomic_uint_least64_t rnd;  /* murmur2_random: splitmix64 counter */
    crawllog_partitioner_fn *custom; /* set before sending */
    void *custom_opaque;
    crawllog_delivery_cb *dr_cb;     /* set before sending */
    void *dr_opaque;
    int transactional;
    pthread_mutex_t enq;        /* around the produceva calls of one send */
    pthread_mutex_t lock;       /* guards the fields below */
    int txn_open;               /* begin succeeded, no commit/abort yet */
    int txn_doomed;             /* a send of the open txn failed */
    int fatal_rc;               /* EFENCED/EIO after a fatal error, sticky */
    int async_rc;               /* first delivery error since a flush */
    char errmsg[CL_ERRMSG_SIZE];
};

/* Record a message as kp's errmsg (printf format); returns rc. */
int cl_kafka_producer_fail(struct cl_kafka_producer *kp, int rc,
                           const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* A send of kp's open transaction failed with rc: only an abort is left
 * (as the file backend's cl_txn_send_failed; EMISUSE/EABORT/EFENCED do
 * not doom it). */
void cl_kafka_producer_doom(struct cl_kafka_producer *kp, int rc);

/* Call a timeout-taking librdkafka transactional function (init, commit,
 * abort), retrying retriable errors within one bounded timeout; maps the
 * error classes (kafka_txn.c). */
int cl_kafka_txn_call(struct cl_kafka_producer *kp, const char *fn,
                      rd_kafka_error_t *(*call)(rd_kafka_t *, int));

/* ---- kafka_consumer.c (+ kafka_offsets.c, kafka_dlq.c) ---------------- */

/* One partition a Kafka consumer owns. */
struct cl_kafka_part {
    char *topic;
    int32_t partition;
    int64_t pos; /* next offset poll hands out; -1 unknown */
    int paused;
};

/* A Kafka consumer (crawllog_consumer_t.kafka).  Shared by the three
 * consumer modules only: kafka_consumer.c (creation, membership,
 * rebalance, poll, close), kafka_offsets.c (commits, positions, pause,
 * group metadata) and kafka_dlq.c (dead letters, retries). */
struct cl_kafka_consumer {
    crawllog_consumer_t *shell;
    crawllog_t *log;
    crawllog_conf_t *conf;     /* copy of the consumer's conf (NULL) */
    rd_kafka_t *rk;
    crawllog_producer_t *dlq;  /* dead-letter producer (kafka_dlq.c) */
    int has_group;             /* group.id set */
    int mode;                  /* CL_CONS_NONE/SUBSCRIBED/ASSIGNED */
    int closed;
    int in_cb;                 /* the application's callback runs */
    int cb_err;                /* error inside the rebalance callback */
    int fatal;                 /* librdkafka fatal error (sticky) */
    int pending;               /* poll error kept for the next poll */
    char pending_msg[CL_ERRMSG_SIZE];
    crawllog_rebalance_cb *cb;
    void *cb_opaque;
    struct cl_kafka_part *parts; /* owned partitions */
    size_t nparts, partcap;
    rd_kafka_message_t **held; /* the last poll's messages */
    size_t nheld;
    struct crawllog_msg_s *msgs; /* views of held[i] */
    uint8_t **hbufs;           /* header buffer of msgs[i] */
    size_t *hcaps;
    size_t msgcap;
    char member_id[256];
    char errmsg[CL_ERRMSG_SIZE];
};

/* Record a message as the consumer's errmsg (printf format); returns rc. */
int cl_kafka_cons_fail(crawllog_consumer_t *cons, int rc, const char *fmt,
                       ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* The same for a librdkafka error: "<what>: NAME: description". */
int cl_kafka_cons_kfail(crawllog_consumer_t *cons, rd_kafka_resp_err_t err,
                        const char *what);

/* 0, or (recorded) CRAWLLOG_ECLOSED, the sticky fatal error, or with
 * no_callback inside the rebalance callback CRAWLLOG_EMISUSE.  fn: the
 * public name without "crawllog_", for the message. */
int cl_kafka_cons_state(crawllog_consumer_t *cons, int no_callback,
                        const char *fn);

/* 0 or CRAWLLOG_EINVAL (recorded) when the consumer has no group.id. */
int cl_kafka_cons_need_group(crawllog_consumer_t *cons, const char *fn);

/* cl_kafka_cons_state + need_group, then msg must be one of the last
 * poll's (CRAWLLOG_EINVAL) of a partition still owned
 * (CRAWLLOG_EGENERATION). */
int cl_kafka_cons_check_msg(crawllog_consumer_t *cons,
                            const crawllog_msg_t *msg, int no_callback,
                            const char *fn);

/* The owned partition, or NULL (also once librdkafka reports the
 * assignment lost, before the LOST callback ran). */
struct cl_kafka_part *cl_kafka_cons_find(struct cl_kafka_consumer *k,
                                         const char *topic,
                                         int32_t partition);

/* Its position: p->pos, else librdkafka's, else -1. */
int64_t cl_kafka_cons_pos(struct cl_kafka_consumer *k,
                          const struct cl_kafka_part *p);

/* ---- kafka_msg.c ------------------------------------------------------ */

/* A delivered message as crawllog sees it: msg's views point into m (and
 * into *hbuf, where the headers are re-encoded; grown with realloc, free
 * it with cl_io_free).  topic: kept by the caller as long as msg. */
int cl_kafka_msg_fill(struct crawllog_msg_s *msg, const rd_kafka_message_t *m,
                      const char *topic, uint8_t **hbuf, size_t *hcap);

#endif /* CL_KAFKA_H */
