/*
 * crawllog_txn.h - libcrawllog public API: transactions (exactly-once
 * consume-transform-produce).
 * Part of crawllog.h, which includes it: include crawllog.h, not this file.
 * MIT licence, see LICENSE.
 */
#ifndef CRAWLLOG_TXN_H
#define CRAWLLOG_TXN_H

#ifndef CRAWLLOG_H
#error "include crawllog.h, not crawllog_txn.h"
#endif

/* ====================================================================== */
/* Transactions (exactly-once)                                             */
/* ====================================================================== */

/*
 * A producer created with transactional.id is transactional (Kafka's
 * KIP-98 without a broker).  Its sends happen inside transactions:
 *
 *   crawllog_txn_begin(prod);
 *   ... crawllog_producer_send*() to any topics and partitions ...
 *   crawllog_txn_send_offsets(prod, group_md, offsets, n);   (optional)
 *   crawllog_txn_commit(prod);        (or crawllog_txn_abort(prod))
 *
 * Every record of a transaction and the consumer-group offsets given to
 * crawllog_txn_send_offsets() become visible together or not at all, in
 * every partition and topic: read_committed readers and consumers
 * (isolation.level, the default) see the records after the commit, never
 * if it aborted; the group's committed offsets move at the commit.  That
 * makes a consume-transform-produce loop exactly-once: a crash anywhere
 * repeats nothing and loses nothing.
 *
 * State, durably in <dir>/transactions/<transactional.id>
 * (docs/FORMAT.md section 11).  crawllog_producer_new() with a
 * transactional.id (Kafka's initTransactions) makes the producer the only
 * live instance of that id - any older instance, in any process, gets
 * CRAWLLOG_EFENCED from then on (zombie fencing) - and finishes the
 * transaction an earlier instance left open: aborted, or completed if its
 * commit had been decided (the durable PREPARE_COMMIT state).  A
 * transaction whose producer died is also finished by the next
 * crawllog_open() of the data directory, by a read_committed reader that
 * waits behind it (after a second), by a consumer of the group whose
 * offsets it staged when it starts one of those partitions, and by
 * crawllog_txn_recover(); one open longer than its transaction.timeout.ms
 * is aborted by them too, fencing its producer.
 *
 * Durability: crawllog_txn_commit() returns after the records, the
 * commit decision, the transaction markers and the group offsets are
 * durable (whatever acks says; acks only decides what each send waits
 * for).
 *
 * Errors: a send that fails inside a transaction leaves it needing an
 * abort: crawllog_txn_commit() then fails with CRAWLLOG_EABORT (nothing
 * committed) and crawllog_txn_abort() is the way out.  CRAWLLOG_EFENCED
 * is final: destroy the producer.  Calls out of order (begin twice,
 * commit without begin, a send outside a transaction) are
 * CRAWLLOG_EMISUSE.  The calls below are for one thread at a time; sends
 * of one transaction may come from several threads.
 */

/**
 * @brief Start a transaction (local: nothing is written until the first
 *        send or crawllog_txn_send_offsets()).
 * @return CRAWLLOG_OK, CRAWLLOG_EINVAL (prod NULL), CRAWLLOG_EMISUSE (not
 *         transactional, or one is open), CRAWLLOG_EFENCED.
 */
CRAWLLOG_API int crawllog_txn_begin(crawllog_producer_t *prod);

/**
 * @brief Make the group's offsets (each the NEXT offset to read) part of
 *        the transaction: committed with its records, or not at all.
 * @param md      from crawllog_consumer_group_metadata() of the consumer
 *                that read the input (same process); the member must own
 *                every partition of offsets, checked here and again at the
 *                commit: a member that lost its partitions (moved, or it
 *                was expelled) cannot commit them (Kafka's KIP-447).  A
 *                consumer without a subscription may stage them only while
 *                the group has no active member.
 * @param offsets count >= 1 entries (topic, partition, offset >= 0,
 *                metadata optional).  The same partition again replaces
 *                its earlier offset.
 * @return CRAWLLOG_OK, CRAWLLOG_EMISUSE (no open transaction),
 *         CRAWLLOG_EINVAL (NULL argument, count 0, a bad topic name,
 *         partition, negative offset or metadata of 4096 bytes or more;
 *         another group than the transaction's earlier offsets),
 *         CRAWLLOG_EABORT (a step of the transaction failed: abort it),
 *         CRAWLLOG_EGENERATION (the member does not own a partition of
 *         offsets: the transaction must be aborted), CRAWLLOG_EFENCED,
 *         CRAWLLOG_EIO, CRAWLLOG_ENOSPC.
 */
CRAWLLOG_API int crawllog_txn_send_offsets(
    crawllog_producer_t *prod, const crawllog_group_metadata_t *md,
    const crawllog_topic_partition_t *offsets, size_t count);

/**
 * @brief Commit: flush the transaction's records, make them durable,
 *        decide (durably), write a COMMIT marker to every partition it
 *        wrote to and commit its group offsets.
 * @return CRAWLLOG_OK; CRAWLLOG_EINVAL (prod NULL); CRAWLLOG_EABORT (a
 *         send of it failed: call crawllog_txn_abort()); CRAWLLOG_EMISUSE
 *         (none open); CRAWLLOG_EFENCED (a newer instance took over: it
 *         finishes the transaction); CRAWLLOG_EGENERATION (the member lost
 *         a partition of the staged offsets: abort);
 *         I/O errors - before the decision the transaction can be aborted;
 *         after it (the message says so) it is committed, the producer
 *         fails every later call, and the next instance (or a recoverer,
 *         see above) completes the markers.
 */
CRAWLLOG_API int crawllog_txn_commit(crawllog_producer_t *prod);

/**
 * @brief Abort: write an ABORT marker to every partition the transaction
 *        wrote to (its records stay in the log, invisible to
 *        read_committed) and drop its staged offsets.
 * @return CRAWLLOG_OK, CRAWLLOG_EINVAL (prod NULL), CRAWLLOG_EMISUSE
 *         (none open), CRAWLLOG_EFENCED,
 *         I/O errors (the transaction stays open on disk, the producer
 *         fails every later call, and the next instance or a recoverer
 *         aborts it).
 */
CRAWLLOG_API int crawllog_txn_abort(crawllog_producer_t *prod);

/**
 * @brief Finish every transaction of the log whose producer is dead (no
 *        live instance of its transactional.id in any process) or open
 *        longer than its transaction.timeout.ms (its producer is fenced
 *        first): aborted, or completed if its commit was decided.  What a
 *        blocked read_committed reader and crawllog_open() do by
 *        themselves; for long-running processes that want it sooner.
 * @param finishedp out, optional: how many were finished.
 * @return CRAWLLOG_OK, or the first error (every transaction is tried).
 */
CRAWLLOG_API int crawllog_txn_recover(crawllog_t *log, int *finishedp);

#endif /* CRAWLLOG_TXN_H */
