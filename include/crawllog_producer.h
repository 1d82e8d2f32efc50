/*
 * crawllog_producer.h - libcrawllog public API: the producer (acks, batching, idempotence, partition choice).
 * Part of crawllog.h, which includes it: include crawllog.h, not this file.
 * MIT licence, see LICENSE.
 */
#ifndef CRAWLLOG_PRODUCER_H
#define CRAWLLOG_PRODUCER_H

#ifndef CRAWLLOG_H
#error "include crawllog.h, not crawllog_producer.h"
#endif

/* ====================================================================== */
/* Producer                                                                */
/* ====================================================================== */

/*
 * A producer sends records to topics of one log with a chosen
 * acknowledgement level (conf "acks"), batching and partitioning them.
 * It is thread-safe: many threads may send on one producer at once.  It
 * starts no thread: buffered (acks=0) messages whose linger.ms has passed
 * are written by the next crawllog_producer_send(), crawllog_producer_poll()
 * or crawllog_producer_flush() on the producer, from the calling thread -
 * call poll from your own loop, like librdkafka's rd_kafka_poll().  (On
 * the Kafka backend librdkafka's threads write the messages; delivery
 * reports still come only from these calls.)
 *
 * Producer properties (docs/CONFIGURATION.md, scope "producer"):
 *  acks        0: a send buffers the message in the producer and returns
 *                 at once (offset -1); it is written on linger.ms expiry, a
 *                 full batch (batch.size), flush or destroy, and lost if
 *                 the process dies first (never torn: whole batches only).
 *              1: written to the OS (CRAWLLOG_SYNC_WRITTEN) before return:
 *                 survives a crash of the process.
 *              all (default): fdatasync'd before return (survives a power
 *                 loss).  Concurrent senders share fdatasyncs (group
 *                 commit).
 *  linger.ms, batch.size   acks=0 batching.
 *  partitioner round_robin (default) | sticky | murmur2_random: where a
 *              record with a NULL key and CRAWLLOG_PARTITION_ANY goes.
 *              Keyed records go to Kafka's murmur2 partition, unless a
 *              custom partitioner is set.
 *  max.message.bytes (the topic's): a larger record is CRAWLLOG_ETOOBIG,
 *              nothing is written.
 *  enable.idempotence (default true), producer.id: see Idempotence below.
 * Ordering: the records one thread sends to one partition keep their order.
 *
 * Idempotence (Kafka's idempotent producer, KIP-98, without a broker).
 * Every batch carries the producer's id, epoch and a per-partition base
 * sequence (records are numbered 0, 1, 2, ... per partition and producer
 * id, wrapping after INT32_MAX).  Each partition keeps, per producer id,
 * the last sequence and the last 5 batches, rebuilt from the segments
 * when a process first needs them, so the state survives restarts and is
 * shared by every process.
 *  - producer.id "" (default): a random id; sequences last as long as the
 *    producer.
 *  - producer.id "name": the id is stored in <dir>/producers/name.  A
 *    producer re-created with the same name continues its sequences
 *    (crawllog_producer_next_sequence() tells where), and becomes the only
 *    live instance: every later send of an older instance, in any process,
 *    fails with CRAWLLOG_EFENCED (and so do all its sends after that).
 *  - crawllog_producer_send_sequenced() sends a batch with the sequence
 *    the application gives: the same batch sent again (after a crash or a
 *    failed call) is not written twice and its original offset comes back;
 *    a sequence after a gap is CRAWLLOG_ESEQUENCE.
 * Automatic sequences are assigned under the partition's append lock, so
 * concurrent sends never collide.
 */
typedef struct crawllog_producer_s crawllog_producer_t;

/**
 * @brief Delivery report: called once per message with its offset, or
 *        with err != 0 (offset -1) if it could not be written.
 *
 * Runs in a thread that called crawllog_producer_send(), _poll(),
 * _flush() or _destroy(), never under an internal lock: it may call the
 * log's functions and crawllog_producer_send() (whose own reports then
 * come later).  With acks=0 reports of one partition come in send order.
 * @param topic  valid during the call only.
 */
typedef void crawllog_delivery_cb(void *opaque, const char *topic,
                                  int32_t partition, int64_t offset, int err);

/**
 * @brief Create a producer on an open log.
 * @param conf    optional: producer properties (others are ignored).
 * @param prodp   out: the producer, NULL on failure.
 * @param errstr  out, optional: why it failed.
 * @return CRAWLLOG_OK, CRAWLLOG_EINVAL, CRAWLLOG_ENOMEM.
 * @note Ownership: conf is read, not kept.  The log must outlive the
 *       producer.  Destroy it with crawllog_producer_destroy().
 */
CRAWLLOG_API int crawllog_producer_new(crawllog_t *log,
                                       const crawllog_conf_t *conf,
                                       crawllog_producer_t **prodp,
                                       char *errstr, size_t errstr_size);

/**
 * @brief Flush (write every buffered message, delivering its report),
 *        then free the producer.
 * @return the flush's result (the producer is freed anyway).  NULL is fine.
 * @note No other call may be running on the producer.
 */
CRAWLLOG_API int crawllog_producer_destroy(crawllog_producer_t *prod);

/**
 * @brief Send one record (timestamp: now).
 * @param partition  a partition, or CRAWLLOG_PARTITION_ANY.
 * @param key        NULL for a null key.
 * @param value      NULL for a null value.
 * @param headers    nheaders headers (NULL if 0).
 * @param offsetp    out, optional: the record's offset; -1 with acks=0 (see
 *                   the delivery report).
 * @return CRAWLLOG_OK, or CRAWLLOG_EINVAL, CRAWLLOG_ENOTOPIC,
 *         CRAWLLOG_EPARTITION (partition out of range, or from the custom
 *         partitioner), CRAWLLOG_ETOOBIG (nothing written), CRAWLLOG_ENOMEM,
 *         and with acks=1/all the append's errors (CRAWLLOG_EIO,
 *         CRAWLLOG_ENOSPC, CRAWLLOG_ECLOSED, ...).  With acks=all, after an
 *         fdatasync failure every later send fails too (CRAWLLOG_ECLOSED
 *         or the original error): recreate the log and the producer.  With
 *         acks=0 an error writing an earlier batch is reported through the
 *         delivery callback and crawllog_producer_flush(), not here.
 * @note Thread-safety: any thread.  Bytes are copied before return.
 */
CRAWLLOG_API int crawllog_producer_send(crawllog_producer_t *prod,
                                        const char *topic, int32_t partition,
                                        const void *key, size_t keylen,
                                        const void *value, size_t vlen,
                                        const crawllog_header_t *headers,
                                        size_t nheaders, int64_t *offsetp);

/**
 * @brief Send one record given whole (rec->timestamp < 0 means now).
 * @return as crawllog_producer_send().
 */
CRAWLLOG_API int crawllog_producer_send_record(crawllog_producer_t *prod,
                                               const char *topic,
                                               int32_t partition,
                                               const crawllog_record_t *rec,
                                               int64_t *offsetp);

/**
 * @brief Send n records to one partition as one batch: all of them are
 *        written, at consecutive offsets, or none.
 * @param partition  a partition, or CRAWLLOG_PARTITION_ANY: then the
 *                   partition is chosen once, for recs[0].
 * @param recs       n >= 1 records (timestamp < 0: now).
 * @param base_offsetp out, optional: offset of recs[0] (recs[i] is at
 *                   base + i).
 * @return as crawllog_producer_send(); CRAWLLOG_ETOOBIG if the batch is
 *         larger than max.message.bytes.  With acks=0 the batch is written
 *         (to the OS) at once, after the partition's buffered messages,
 *         and its offset is returned too.  The delivery callback, if set,
 *         gets one report per record.
 * @note Thread-safety: any thread.  Bytes are copied before return.
 */
CRAWLLOG_API int crawllog_producer_send_batch(crawllog_producer_t *prod,
                                              const char *topic,
                                              int32_t partition,
                                              const crawllog_record_t *recs,
                                              size_t n,
                                              int64_t *base_offsetp);

/**
 * @brief Send (or re-send) n records to one partition as one batch whose
 *        first record has sequence base_sequence (idempotent producers).
 *
 * If the batch is the next one (base_sequence ==
 * crawllog_producer_next_sequence()), it is written.  If exactly this
 * sequence range was written before by this producer.id (one of the last
 * 5 batches of the partition), nothing is written, *duplicatep is 1 and
 * *base_offsetp the original offset; a range older than those 5 is also a
 * duplicate, with offset -1 (no longer known).  Records of a duplicate are
 * not compared: the sequence identifies them.
 * @param partition  an explicit partition (sequences are per partition).
 * @param duplicatep out, optional: 1 if nothing was written.
 * @return CRAWLLOG_OK, CRAWLLOG_ESEQUENCE (a gap after the last written
 *         sequence, or a range that overlaps written batches differently:
 *         nothing written), CRAWLLOG_EFENCED, CRAWLLOG_EINVAL (idempotence
 *         off, base_sequence < 0, CRAWLLOG_PARTITION_ANY), and the errors of
 *         crawllog_producer_send_batch().  With acks=all a duplicate is
 *         made durable before return too.
 */
CRAWLLOG_API int crawllog_producer_send_sequenced(
    crawllog_producer_t *prod, const char *topic, int32_t partition,
    int32_t base_sequence, const crawllog_record_t *recs, size_t n,
    int64_t *base_offsetp, int *duplicatep);

/**
 * @brief The sequence the next record this producer.id sends to a
 *        partition will get (0 if it has written nothing there), as the
 *        log shows it now (every process's writes included).
 * @return CRAWLLOG_OK, CRAWLLOG_EINVAL (idempotence off), CRAWLLOG_ENOTOPIC,
 *         CRAWLLOG_EPARTITION, I/O errors (the partition's batches are read
 *         the first time).
 * @note Buffered acks=0 messages are not counted until written.
 */
CRAWLLOG_API int crawllog_producer_next_sequence(crawllog_producer_t *prod,
                                                 const char *topic,
                                                 int32_t partition,
                                                 int32_t *seqp);

/**
 * @brief The producer id and epoch written into this producer's batches
 *        (-1, -1 with enable.idempotence=false).
 * @return CRAWLLOG_OK or CRAWLLOG_EINVAL.
 */
CRAWLLOG_API int crawllog_producer_identity(const crawllog_producer_t *prod,
                                            int64_t *pidp, int16_t *epochp);

/**
 * @brief Write buffered batches whose linger.ms has passed and run pending
 *        delivery reports, in the calling thread.
 * @return number of reports delivered (>= 0), or a negative error of a
 *         write (also reported to the callback of each message).
 * @note Thread-safety: any thread.
 */
CRAWLLOG_API int crawllog_producer_poll(crawllog_producer_t *prod);

/**
 * @brief Write every buffered message now and run their delivery reports.
 * @param timeout_ms  accepted for Kafka compatibility; flush is synchronous
 *                    (the writes are done in this call) and always waits.
 * @return CRAWLLOG_OK or the first write error since the last flush.
 */
CRAWLLOG_API int crawllog_producer_flush(crawllog_producer_t *prod,
                                         int timeout_ms);

/**
 * @brief Use fn for every record sent with CRAWLLOG_PARTITION_ANY, keyed or
 *        not (NULL fn: back to the built-in rule).
 * @return CRAWLLOG_OK or CRAWLLOG_EINVAL.
 * @note Call it before the first send (not concurrently with sends).
 */
CRAWLLOG_API int crawllog_producer_set_partitioner(crawllog_producer_t *prod,
                                                   crawllog_partitioner_fn *fn,
                                                   void *opaque);

/**
 * @brief Set the delivery-report callback (NULL: none).
 * @return CRAWLLOG_OK or CRAWLLOG_EINVAL.
 * @note Call it before the first send (not concurrently with sends).
 */
CRAWLLOG_API int crawllog_producer_set_delivery_cb(crawllog_producer_t *prod,
                                                   crawllog_delivery_cb *cb,
                                                   void *opaque);

/**
 * @brief Detail of the producer's latest failure ("" if none).
 * @return a string owned by the producer, valid until its next call.
 */
CRAWLLOG_API const char *
crawllog_producer_errmsg(const crawllog_producer_t *prod);

#endif /* CRAWLLOG_PRODUCER_H */
