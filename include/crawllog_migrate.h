/*
 * crawllog_migrate.h - libcrawllog public API: topic migration (changing a partition count).
 * Part of crawllog.h, which includes it: include crawllog.h, not this file.
 * MIT licence, see LICENSE.
 */
#ifndef CRAWLLOG_MIGRATE_H
#define CRAWLLOG_MIGRATE_H

#ifndef CRAWLLOG_H
#error "include crawllog.h, not crawllog_migrate.h"
#endif

/* ====================================================================== */
/* Topic migration                                                         */
/* ====================================================================== */

/*
 * Migrating a topic <old> to a new topic <new> with another partition count,
 * down as well as up, while producers and consumer groups keep running
 * (docs/MIGRATION.md).
 *  1. <new> is created with N partitions and <old>'s topic properties, and
 *     topics/<old>/migration (docs/FORMAT.md section 5) records the
 *     migration (state "copying").
 *  2. Every record of <old> is copied to <new>, keys, values, headers and
 *     timestamps kept: a keyed record to partition murmur2(key) % N
 *     (Kafka's rule), a keyless one from old partition p to p % N (so a
 *     keyless partition keeps its order).  The copy of old partition p is
 *     written by an idempotent producer "migrate.<old>.<p>" whose sequence
 *     in new partition q is the number of records copied from p to q, and
 *     the progress is recorded after each durable batch: after a crash the
 *     copy resumes without writing any record twice.
 *  3. Cut-over (state "redirect"), under crawllog.lock: every old partition
 *     is fenced under its append lock (appends to it wait), the tail is
 *     copied, cut.<p> (old log ends) and start.<q> (new log ends) are
 *     recorded durably, and the partitions are marked redirected.
 * Redirect: from then on every append to <old> (crawllog_append, every
 * producer send, buffered batches flushed later), from any process,
 * including one that had <old> open before, goes to <new>: a keyed record
 * to murmur2(key) % N whatever partition it was sent to, a keyless record
 * sent to (or chosen as) old partition p to p % N.  A batch whose records
 * go to several new partitions is written as one batch per new partition
 * (each all-or-nothing, in the records' order).  The offsets returned
 * (base offset, delivery reports) are offsets in <new> (of the first
 * record's batch); the partition reported is still the one sent to.
 * Idempotent producers keep their id and epoch, but sequences in <new> are
 * assigned there: a batch re-sent with crawllog_producer_send_sequenced()
 * after the cut-over is not recognised as a duplicate.
 * Per-key order: every record of a key appended to <old> before the
 * cut-over precedes, in <new>, every one appended after it.
 * Buffered (CRAWLLOG_SYNC_NONE) batches reach <new> when written (flush),
 * so they are never lost behind the cut.
 *  4. Consumer groups switch by themselves (nothing to call): a group
 *     subscribed to <old> keeps reading it up to the cut; once it has
 *     committed every old partition up to cut.<p>, one of its members
 *     commits start.<q> for every partition of <new> and replaces <old> by
 *     <new> in the group's subscriptions (the old partitions are revoked,
 *     the new ones assigned; crawllog_msg_topic() says "new").  So no
 *     record of <new> reaches a group before it committed all of <old>
 *     (per-key order), and the copies below start.<q> are never handed out
 *     again.  A member subscribing to <old> later reads <new>.  A group
 *     that never committed on <old> starts on <new> directly.
 *  5. Done (state "done"): every group that committed offsets on <old> has
 *     switched; checked after each switch and by every
 *     crawllog_topic_migrate() call.  Only then can <old> be deleted
 *     (crawllog_topic_delete refuses before, see CRAWLLOG_DELETE_FORCE).
 */

/** The state of a topic's migration (topics/<old>/migration). */
typedef enum crawllog_migration_state {
    CRAWLLOG_MIGRATION_NONE = 0,     /* not migrated */
    CRAWLLOG_MIGRATION_COPYING = 1,  /* steps 1-2: appends still go here */
    CRAWLLOG_MIGRATION_REDIRECT = 2, /* cut over: appends go to the target */
    CRAWLLOG_MIGRATION_DONE = 3      /* every group switched (step 5);
                                        appends still redirected */
} crawllog_migration_state_t;

/** What crawllog_topic_migrate() reports to its progress callback. */
typedef struct crawllog_migrate_progress {
    crawllog_migration_state_t state; /* COPYING, then REDIRECT at the end */
    int cutover;       /* 1: the cut-over starts now */
    int32_t partition; /* old partition being copied; -1: none */
    int64_t copied;    /* records copied to <new> so far (every call) */
    int64_t total;     /* copied + records of <old> not copied yet (grows
                          while producers append) */
} crawllog_migrate_progress_t;

/** Progress callback: runs in the calling thread, under no lock (never
 *  while the cut-over holds crawllog.lock: it is called with cutover = 1
 *  just before), so it may append to <old>. */
typedef void crawllog_migrate_progress_cb(
    void *opaque, const crawllog_migrate_progress_t *progress);

/**
 * @brief Run steps 1-3 of migrating topic old to new_topic with partitions
 *        partitions, to completion: create, copy, cut over; then check
 *        step 5 (state done if no consumer group has to switch).
 *        Resumable: after a crash (of any process, at any point), call it
 *        again with the same arguments; it continues from
 *        topics/<old>/migration.  On a topic already cut over it only
 *        re-marks the old partitions, re-checks the groups and returns
 *        CRAWLLOG_OK.
 * @param cb  optional: called after every durable batch and at the
 *            cut-over.
 * @return CRAWLLOG_OK, or CRAWLLOG_EINVAL (bad names or count, old ==
 *         new_topic), CRAWLLOG_ENOTOPIC (no old), CRAWLLOG_EEXIST (old is
 *         being migrated to another topic or count, or new_topic exists
 *         and is not an empty topic of that count), CRAWLLOG_EFENCED
 *         (another process is migrating the same topic),
 *         CRAWLLOG_ETOOBIG (the migration file would pass 1 MiB: about
 *         old partitions x new partitions > 60000 with keyed records),
 *         CRAWLLOG_EBUSY (a transaction with records in old stayed open
 *         for 2 s of retries: the cut-over waits for it; call again),
 *         I/O errors.  After an error the migration is left resumable.
 *         The copy is read_committed: records of aborted transactions and
 *         transaction markers are not copied, committed transactional
 *         records become plain ones.  After the cut-over a transactional
 *         producer cannot send to old (CRAWLLOG_EBUSY: send to new_topic).
 * @note Thread-safety: any thread; appends to old may continue meanwhile
 *       (they wait during the cut-over).  Do not run two migrations of one
 *       topic at once.
 */
CRAWLLOG_API int crawllog_topic_migrate(crawllog_t *log, const char *old,
                                        const char *new_topic,
                                        int32_t partitions,
                                        crawllog_migrate_progress_cb *cb,
                                        void *opaque);

/** A topic's migration, as crawllog_topic_migration() reads it. */
typedef struct crawllog_migration {
    crawllog_migration_state_t state;
    char *target;           /* <new>; NULL with CRAWLLOG_MIGRATION_NONE */
    int32_t partitions;     /* N, of <new>; 0 with NONE */
    int32_t old_partitions; /* M, of <old> when the migration started */
    int64_t *copied;        /* [old_partitions]: next old offset to copy */
    int64_t *cut;           /* [old_partitions]: old log end at the cut-over
                               (-1 before REDIRECT) */
    int64_t *start;         /* [partitions]: new log end at the cut-over,
                               where groups start reading <new> (-1 before
                               REDIRECT) */
    int64_t records_copied; /* records copied so far */
    char **pending_groups;  /* with REDIRECT: the consumer groups that
                               committed offsets on <old> and have not
                               switched to <new> yet (step 4) */
    size_t pending_group_count;
} crawllog_migration_t;

/**
 * @brief Read topics/<topic>/migration.
 * @param infop  out: a new description (state CRAWLLOG_MIGRATION_NONE, no
 *               arrays, if the topic has no migration); free it with
 *               crawllog_migration_free().
 * @return CRAWLLOG_OK, CRAWLLOG_EINVAL, CRAWLLOG_ENOTOPIC,
 *         CRAWLLOG_ECORRUPT, CRAWLLOG_EVERSION, CRAWLLOG_ENOMEM,
 *         CRAWLLOG_EIO.
 */
CRAWLLOG_API int crawllog_topic_migration(crawllog_t *log, const char *topic,
                                          crawllog_migration_t **infop);

/** @brief Free what crawllog_topic_migration() returned.  NULL is fine. */
CRAWLLOG_API void crawllog_migration_free(crawllog_migration_t *info);

#endif /* CRAWLLOG_MIGRATE_H */
