/*
 * txn.h - transactions: the coordinator of a transactional producer and
 * the recovery of other processes' transactions (layer 3).  See txn.c.
 */
#ifndef CL_TXN_H
#define CL_TXN_H

#include <stdint.h>

#include "crawllog.h"
#include "errors.h"
#include "txn_file.h"

struct cl_txn;

/* Group metadata (crawllog_group_metadata_t): defined here for the
 * backends (backend.h). */
struct crawllog_group_metadata_s {
    void *kafka;        /* the Kafka backend's metadata, NULL: this one */
    char group[CL_TXN_NAME_MAX + 1];
    int32_t generation; /* -1: not a subscribed member */
    char member[CL_TXN_MEMBER_MAX + 1];
    int slot;           /* the member's slot in group.state, -1: none */
    uint64_t inc;       /* its incarnation */
};


/* With the producer's identity acquired (prodid: transactional.id is the
 * registry name, so the older instances are fenced already): take the
 * id's live lock, finish the transaction an earlier instance left (abort
 * it, or complete it if its commit was decided) and keep the coordinator
 * in prod->txn.  timeout_ms: transaction.timeout.ms. */
int cl_txn_init(crawllog_producer_t *prod, const char *txnid,
                int64_t timeout_ms, struct cl_err *err);

/* Free the coordinator (the producer is being destroyed): an open
 * transaction is aborted first (best effort; if that fails it stays open
 * on disk and the next instance or crawllog_open() aborts it). */
void cl_txn_destroy(crawllog_producer_t *prod);

/* Before a send of a transactional producer writes to topic/partition:
 * CRAWLLOG_EMISUSE outside a transaction; a partition new to the
 * transaction is recorded durably first (AddPartitionsToTxn).  Not
 * transactional: 0 at once. */
int cl_txn_on_send(crawllog_producer_t *prod, const char *topic,
                   int32_t partition, struct cl_err *err);

/* A send of the open transaction failed with rc: it must be aborted
 * (crawllog_txn_commit gives CRAWLLOG_EABORT). */
void cl_txn_send_failed(crawllog_producer_t *prod, int rc);

/* 1 if the producer is transactional (its batches carry the
 * transactional attribute). */
int cl_txn_is_transactional(const crawllog_producer_t *prod);

/* Finish every transaction of the log that no live producer instance
 * owns (its live lock is free) or that is open longer than its timeout
 * (then its producer is fenced first): abort it, or complete it if its
 * commit was decided.  crawllog_open and readers blocked behind an open
 * transaction call it.  Best effort: tries every one, returns the first
 * failure.  *finishedp (optional): how many were finished. */
int cl_txn_recover_stale(crawllog_t *log, int *finishedp,
                         struct cl_err *err);

/* Before a consumer of group starts topic/partition from its committed
 * offset: complete every decided transaction that staged offsets for the
 * group (so the committed offset read next includes it), abort stale
 * ones (as cl_txn_recover_stale) that staged one for this partition.
 * *pendingp = 1 if a live, undecided transaction staged an offset for
 * this partition: the committed offset is not stable yet; start it
 * later. */
int cl_txn_stabilize(crawllog_t *log, const char *group, const char *topic,
                     int32_t partition, int *pendingp, struct cl_err *err);

/* ---- shared by txn.c and txn_recover.c -------------------------------- */

struct cl_txn_state;

/* Lock files of transactional.id id in transactions/ (dfd): "~live.<id>"
 * (LOCK_SH by every producer instance for its life: an exclusive try
 * that succeeds proves no instance is alive) and "~lock.<id>" (LOCK_EX
 * around every change of the state file).  '~' is not a name character:
 * cl_txn_file_list never returns them.  Created on first use, never
 * removed; their content is empty.  0 or a code; *fdp: the open file. */
int cl_txn_lockfile_open(int dfd, const char *prefix, const char *id,
                         unsigned fmode, int *fdp, struct cl_err *err);

/* With id's state lock held: finish st (read from its file) if it is not
 * complete: markers (ABORT for ONGOING / PREPARE_ABORT, COMMIT for
 * PREPARE_COMMIT) into every partition it lists, made durable, then for a
 * commit its staged offsets (never moving a committed offset backwards),
 * then the COMPLETE_* state written.  *didp = 1 if there was something
 * to do.  Deleted topics are skipped. */
int cl_txn_finish(crawllog_t *log, const char *id, struct cl_txn_state *st,
                  int *didp, struct cl_err *err);

/* Append a marker of type (CL_CONTROL_*) for pid/epoch to each partition
 * of st (SYNC_WRITTEN), then fdatasync them all.  0 or the first error. */
int cl_txn_write_markers(crawllog_t *log, const struct cl_txn_state *st,
                         int type, struct cl_err *err);

/* Commit st's staged offsets to its group; with never_back, an offset
 * below the group's committed one is left alone. */
int cl_txn_apply_offsets(crawllog_t *log, const struct cl_txn_state *st,
                         int never_back, struct cl_err *err);

#endif /* CL_TXN_H */
