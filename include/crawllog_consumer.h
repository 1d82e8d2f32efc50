/*
 * crawllog_consumer.h - libcrawllog public API: consumers, consumer groups, commits, dead letters and lag.
 * Part of crawllog.h, which includes it: include crawllog.h, not this file.
 * MIT licence, see LICENSE.
 */
#ifndef CRAWLLOG_CONSUMER_H
#define CRAWLLOG_CONSUMER_H

#ifndef CRAWLLOG_H
#error "include crawllog.h, not crawllog_consumer.h"
#endif

/* ====================================================================== */
/* Consumers and consumer groups                                           */
/* ====================================================================== */

/*
 * A consumer reads messages from partitions and commits how far it got.
 * Two modes:
 *  - group (crawllog_consumer_subscribe, needs group.id): the consumer is a
 *    member of a consumer group.  Members are consumers in any thread or
 *    process that opened the same data directory; the group's membership,
 *    generation and assignment live in groups/<group.id>/ and every member
 *    sees them.  Partitions of the subscribed topics are divided among the
 *    members by partition.assignment.strategy.  A member that dies is
 *    detected within heartbeat.interval.ms (the kernel drops the lock the
 *    member held) by any member that polls, and its partitions move; a live
 *    member that stops calling poll for max.poll.interval.ms is expelled.
 *  - manual (crawllog_consumer_assign): the consumer reads exactly the
 *    given partitions; with a group.id it can still commit, but only while
 *    the group has no active members (Kafka's rule for standalone commits).
 *
 * Ownership and fencing.  A partition is owned by at most one member at a
 * time.  When the assignment moves a partition, its old owner revokes it
 * at its next poll (rebalance callback CRAWLLOG_REBALANCE_REVOKED: commit
 * there) and only then does the new owner get it (cooperative, two-phase,
 * like Kafka's CooperativeStickyAssignor; with the eager strategies range
 * and roundrobin a member revokes all its partitions at every rebalance).
 * A commit for a partition the member does not own any more - it was
 * expelled, or a dead-looking member came back - is refused with
 * CRAWLLOG_EGENERATION and moves no offset.
 *
 * Delivery is at-least-once: messages are handed out from the committed
 * offset of a newly owned partition; anything delivered but not committed
 * before a crash or a move is delivered again.
 *
 * Threads: a consumer is used by one thread at a time (like Kafka's); use
 * one consumer per thread.  It starts no thread: everything happens inside
 * its calls, poll mostly (on the Kafka backend, librdkafka's own threads
 * fetch and heartbeat in the background).  Callbacks run from poll (and
 * close), in the calling thread, never under an internal lock.
 *
 * Consumer properties (docs/CONFIGURATION.md, scope "consumer"): group.id,
 * group.instance.id, client.id, auto.offset.reset, enable.auto.commit
 * (default false), auto.commit.interval.ms, max.poll.interval.ms,
 * session.timeout.ms, heartbeat.interval.ms, partition.assignment.strategy,
 * max.poll.records, max.partition.fetch.bytes, isolation.level
 * (read_committed, the default, or read_uncommitted: see
 * crawllog_reader_set_isolation()).
 */
typedef struct crawllog_consumer_s crawllog_consumer_t;

/** A consumer's group, generation and member id, for
 *  crawllog_txn_send_offsets() (crawllog_consumer_group_metadata()). */
typedef struct crawllog_group_metadata_s crawllog_group_metadata_t;

/* Special offsets for crawllog_consumer_assign() and _seek(). */
#define CRAWLLOG_OFFSET_BEGINNING (-2) /* the log start offset */
#define CRAWLLOG_OFFSET_END (-1)       /* the log end offset */
#define CRAWLLOG_OFFSET_COMMITTED (-1001) /* the committed offset, else
                                             auto.offset.reset */

/** A partition of a topic, with an offset where one is needed. */
typedef struct crawllog_topic_partition {
    const char *topic;
    int32_t partition;
    int64_t offset;       /* meaning depends on the call; -1 if none */
    const char *metadata; /* commit metadata (NULL: none), < 4096 bytes */
} crawllog_topic_partition_t;

/* Events of the rebalance callback. */
#define CRAWLLOG_REBALANCE_ASSIGNED 1 /* these partitions are now owned */
#define CRAWLLOG_REBALANCE_REVOKED 2  /* about to be given up: commit now */
#define CRAWLLOG_REBALANCE_LOST 3     /* already owned by others (this
                                         member was expelled): commits for
                                         them would fail */

/**
 * Rebalance callback: event and the partitions it concerns (offset is the
 * consumer's position, -1 if unknown).  Called from poll / close, outside
 * every internal lock; the callback may call commit, position, pause,
 * seek on cons, not poll or close.
 */
typedef void crawllog_rebalance_cb(crawllog_consumer_t *cons, int event,
                                   const crawllog_topic_partition_t *parts,
                                   size_t count, void *opaque);

/**
 * @brief Create a consumer on log.
 * @param conf  consumer-scope properties (NULL: defaults); copied.
 * @return CRAWLLOG_OK, CRAWLLOG_EINVAL (bad argument; errstr says which),
 *         CRAWLLOG_ENOMEM, CRAWLLOG_EBUSY (1024 consumers wait on this
 *         data directory already), CRAWLLOG_EIO.
 * @note The log must outlive the consumer.
 */
CRAWLLOG_API int crawllog_consumer_new(crawllog_t *log,
                                       const crawllog_conf_t *conf,
                                       crawllog_consumer_t **consp,
                                       char *errstr, size_t errstr_size);

/** @brief Set the rebalance callback (before subscribe). */
CRAWLLOG_API int crawllog_consumer_set_rebalance_cb(crawllog_consumer_t *cons,
                                                    crawllog_rebalance_cb *cb,
                                                    void *opaque);

/**
 * @brief Join group.id as a member subscribed to topics (replacing an
 *        earlier subscription).  Topics that do not exist yet are picked
 *        up when they are created.  The assignment arrives in poll.  A
 *        subscribed topic that is migrated (crawllog_topic_migrate) is
 *        followed: the group finishes it up to the cut-over, then reads
 *        the migration's target instead (messages then name the target;
 *        docs/MIGRATION.md step 4).
 * @return CRAWLLOG_OK, CRAWLLOG_EINVAL (no group.id, bad topic name, more
 *         than 64 topics, the group uses another assignment strategy),
 *         CRAWLLOG_EMISUSE (the consumer uses assign()), CRAWLLOG_EBUSY
 *         (the group has 256 members, or group.instance.id is in use by a
 *         live member), CRAWLLOG_EIO.
 */
CRAWLLOG_API int crawllog_consumer_subscribe(crawllog_consumer_t *cons,
                                             const char *const *topics,
                                             size_t count);

/**
 * @brief Read exactly these partitions, no group (replacing an earlier
 *        assignment).  parts[i].offset: where to start - an offset,
 *        CRAWLLOG_OFFSET_BEGINNING, _END or _COMMITTED.
 * @return CRAWLLOG_OK, CRAWLLOG_EINVAL (NULL parts, an invalid topic
 *         name, a bad offset), CRAWLLOG_ENOTOPIC (no such topic or
 *         partition), CRAWLLOG_EMISUSE (the consumer is subscribed).
 */
CRAWLLOG_API int crawllog_consumer_assign(crawllog_consumer_t *cons,
                                          const crawllog_topic_partition_t
                                              *parts,
                                          size_t count);

/**
 * @brief Up to max messages (and max.poll.records) from the owned,
 *        unpaused partitions, in offset order per partition.  Blocks up to
 *        timeout_ms (0: never; < 0: forever) until at least one message is
 *        there, woken at once by appends from any process.  In group mode
 *        poll also keeps the membership alive, runs rebalances and calls
 *        the rebalance callback.
 * @param msgs  out: max message pointers, valid until the next poll,
 *              close or destroy of this consumer (they point into the
 *              consumer's read buffers: no per-message copy).
 * @param countp out: how many (0 on timeout).
 * @return CRAWLLOG_OK (also on timeout), CRAWLLOG_EOFFSET (no committed
 *         offset and auto.offset.reset=error, or the position was deleted
 *         by retention with reset=error; the message names the partition),
 *         CRAWLLOG_ECORRUPT, CRAWLLOG_EIO, CRAWLLOG_EINVAL.
 */
CRAWLLOG_API int crawllog_consumer_poll(crawllog_consumer_t *cons,
                                        int timeout_ms,
                                        const crawllog_msg_t **msgs,
                                        size_t max, size_t *countp);

/**
 * @brief Commit: the partition of msg at msg's offset + 1, or (msg NULL)
 *        every owned partition at its position.
 * @param sync  CRAWLLOG_SYNC_DURABLE: fdatasync'd before return;
 *              CRAWLLOG_SYNC_WRITTEN: in the file (survives a crash of this
 *              process, made durable by the next durable commit or close).
 * @return CRAWLLOG_OK, CRAWLLOG_EGENERATION (a partition is no longer
 *         owned by this member: nothing of the call is committed),
 *         CRAWLLOG_EINVAL (no group.id; msg not from this consumer),
 *         CRAWLLOG_EIO, CRAWLLOG_ENOSPC.
 */
CRAWLLOG_API int crawllog_consumer_commit(crawllog_consumer_t *cons,
                                          const crawllog_msg_t *msg,
                                          int sync);

/**
 * @brief Commit the given offsets (each the NEXT offset to read), all of
 *        them atomically: after a crash either all are committed or none.
 * @return as crawllog_consumer_commit().
 */
CRAWLLOG_API int crawllog_consumer_commit_offsets(
    crawllog_consumer_t *cons, const crawllog_topic_partition_t *list,
    size_t count, int sync);

/**
 * @brief Dead-letter a message this consumer's last poll returned: append
 *        it (key, value, original headers) durably to the dead-letter
 *        topic - `<topic>.dlt`, or the consumer's dead.letter.topic,
 *        created on demand with the topic's partition count, same
 *        partition - with Spring Kafka's DLT headers
 *        (kafka_dlt-original-topic, -original-partition (int32 BE),
 *        -original-offset (int64 BE), -original-timestamp (int64 BE),
 *        -original-consumer-group, kafka_dlt-exception-message = reason)
 *        and crawllog_dlt-attempts (int32 BE); then commit the partition
 *        past the message (never backwards).  One atomic step: after a
 *        crash anywhere in it, the next owner of the partition finishes it
 *        before delivering anything, and the dead letter exists exactly
 *        once.  Needs group.id; the consumer must own the partition.
 * @param reason  text kept in the dead letter (first 2047 bytes).
 * @return CRAWLLOG_OK, CRAWLLOG_EINVAL (msg not from this consumer's poll,
 *         no group.id, DLT name too long), CRAWLLOG_EGENERATION (not the
 *         owner), CRAWLLOG_EIO, CRAWLLOG_ENOSPC.  After an error, calling
 *         again for the same message finishes the interrupted step.
 */
CRAWLLOG_API int crawllog_consumer_dead_letter(crawllog_consumer_t *cons,
                                               const crawllog_msg_t *msg,
                                               const char *reason);

/** Outcomes of crawllog_consumer_process(). */
#define CRAWLLOG_PROCESSED 1     /* an attempt succeeded */
#define CRAWLLOG_DEAD_LETTERED 2 /* every attempt failed: dead-lettered */

/**
 * Processing function for crawllog_consumer_process(): 0 on success, any
 * other value on failure, with a reason written to reason (reason_size
 * bytes, NUL-terminated) that ends up in the dead letter.
 */
typedef int crawllog_process_cb(const crawllog_msg_t *msg, void *opaque,
                                char *reason, size_t reason_size);

/**
 * @brief The retry policy: call fn on msg up to max.attempts times,
 *        waiting retry.backoff.ms before the second attempt and doubling
 *        the wait each time (at most retry.backoff.max.ms); if every
 *        attempt failed, dead-letter msg with the last reason (as
 *        crawllog_consumer_dead_letter(), crawllog_dlt-attempts =
 *        max.attempts).  The waits happen in this thread; the member stays
 *        alive in its group meanwhile (keep the total wait below
 *        max.poll.interval.ms anyway: nothing else is polled).  On success
 *        nothing is committed: commit as usual.
 * @param outcomep out, optional: CRAWLLOG_PROCESSED or
 *        CRAWLLOG_DEAD_LETTERED.
 * @return CRAWLLOG_OK, or the errors of crawllog_consumer_dead_letter().
 */
CRAWLLOG_API int crawllog_consumer_process(crawllog_consumer_t *cons,
                                           const crawllog_msg_t *msg,
                                           crawllog_process_cb *fn,
                                           void *opaque, int *outcomep);

/**
 * @brief The committed offset of a partition of group.id (-1 if none).
 *        Any partition, owned or not; sees other processes' commits.
 * @return CRAWLLOG_OK (also for a topic that does not exist: -1),
 *         CRAWLLOG_EINVAL (NULL argument, an invalid topic name, no
 *         group.id), or an I/O error reading the group's offsets.
 */
CRAWLLOG_API int crawllog_consumer_committed(crawllog_consumer_t *cons,
                                             const char *topic,
                                             int32_t partition,
                                             int64_t *offsetp);

/**
 * @brief The consumer's group id, generation and member id, for a
 *        transactional producer's crawllog_txn_send_offsets().
 * @param mdp  out: free with crawllog_group_metadata_destroy().
 * @return CRAWLLOG_OK, CRAWLLOG_EINVAL (no group.id), CRAWLLOG_ENOMEM.
 */
CRAWLLOG_API int crawllog_consumer_group_metadata(
    crawllog_consumer_t *cons, crawllog_group_metadata_t **mdp);

/** @brief Free group metadata.  NULL is fine. */
CRAWLLOG_API void crawllog_group_metadata_destroy(
    crawllog_group_metadata_t *md);

/**
 * @brief Make an owned partition's next message the one at offset
 *        (or CRAWLLOG_OFFSET_BEGINNING / _END).
 * @return CRAWLLOG_OK, CRAWLLOG_ENOTOPIC (not owned), CRAWLLOG_EOFFSET.
 */
CRAWLLOG_API int crawllog_consumer_seek(crawllog_consumer_t *cons,
                                        const char *topic, int32_t partition,
                                        int64_t offset);

/**
 * @brief Seek an owned partition to the first message with a timestamp
 *        >= timestamp_ms (the log end if none).
 */
CRAWLLOG_API int crawllog_consumer_seek_to_time(crawllog_consumer_t *cons,
                                                const char *topic,
                                                int32_t partition,
                                                int64_t timestamp_ms);

/**
 * @brief The offset of the next message poll returns for an owned
 *        partition (-1 before its start is known).
 */
CRAWLLOG_API int crawllog_consumer_position(crawllog_consumer_t *cons,
                                            const char *topic,
                                            int32_t partition,
                                            int64_t *offsetp);

/**
 * @brief Stop / restart fetching owned partitions without leaving the
 *        group (a member whose downstream is down keeps its partitions and
 *        keeps polling to stay alive).  Paused partitions stay paused
 *        across rebalances while owned.  offset fields are ignored.
 * @return CRAWLLOG_OK, CRAWLLOG_ENOTOPIC (a partition is not owned;
 *         nothing changed).
 */
CRAWLLOG_API int crawllog_consumer_pause(crawllog_consumer_t *cons,
                                         const crawllog_topic_partition_t
                                             *parts,
                                         size_t count);
CRAWLLOG_API int crawllog_consumer_resume(crawllog_consumer_t *cons,
                                          const crawllog_topic_partition_t
                                              *parts,
                                          size_t count);

/**
 * @brief The partitions the consumer owns now, with their positions in
 *        offset.  *listp is malloc'd (topics point into it): free() it.
 */
CRAWLLOG_API int crawllog_consumer_assignment(crawllog_consumer_t *cons,
                                              crawllog_topic_partition_t
                                                  **listp,
                                              size_t *countp);

/** @brief The group generation the member last synchronised with (-1 if
 *         not in a group). */
CRAWLLOG_API int32_t crawllog_consumer_generation(
    const crawllog_consumer_t *cons);

/** @brief The member id ("" if not in a group). */
CRAWLLOG_API const char *crawllog_consumer_member_id(
    const crawllog_consumer_t *cons);

/**
 * @brief Leave the group (partitions revoked through the callback, then
 *        released at once for the others; a static member keeps them for
 *        session.timeout.ms instead) and, with enable.auto.commit, commit
 *        positions durably.  The consumer can then only be destroyed.
 */
CRAWLLOG_API int crawllog_consumer_close(crawllog_consumer_t *cons);

/** @brief Close (if not closed) and free.  NULL is fine. */
CRAWLLOG_API void crawllog_consumer_destroy(crawllog_consumer_t *cons);

/** @brief Detail of the consumer's last failure, "" if none. */
CRAWLLOG_API const char *crawllog_consumer_errmsg(
    const crawllog_consumer_t *cons);

/** @brief Topic and partition of a message. */
CRAWLLOG_API const char *crawllog_msg_topic(const crawllog_msg_t *msg);
CRAWLLOG_API int32_t crawllog_msg_partition(const crawllog_msg_t *msg);

/* ---------------------------------------------------------------------- */
/* Group description and lag                                               */
/* ---------------------------------------------------------------------- */

/** One partition of a group: what kafka-consumer-groups --describe shows. */
typedef struct crawllog_group_partition {
    const char *topic;
    int32_t partition;
    int64_t committed;      /* CURRENT-OFFSET; -1: never committed */
    int64_t log_end;        /* LOG-END-OFFSET */
    int64_t lag;            /* log_end - committed; -1 if no commit */
    int64_t commit_time_ms; /* wall clock of the last commit; -1 */
    const char *member_id;  /* CONSUMER-ID of the owner; NULL if none */
    const char *status;     /* lag status (Burrow's rules, see below):
                               "OK", "WARN", "STOP", "STALL", "REWIND",
                               or "NOTFOUND" (no commit, log end unknown,
                               or no commit history on this machine) */
} crawllog_group_partition_t;

typedef struct crawllog_group_member {
    const char *member_id;
    const char *instance_id; /* "" for a dynamic member */
    const char *client_id;
    long pid;                /* the member's process */
    int alive;               /* 0: dead static member waiting to return */
    int64_t last_poll_age_ms;/* since its last poll */
    size_t partitions;       /* owned */
} crawllog_group_member_t;

typedef struct crawllog_group_desc {
    const char *group;
    const char *state;     /* "Empty", "Stable", "PreparingRebalance"
                              (partitions waiting to change owner) */
    const char *strategy;  /* assignment strategy ("" if never joined) */
    int32_t generation;
    crawllog_group_member_t *members;
    size_t member_count;
    crawllog_group_partition_t *partitions; /* committed or subscribed,
                                               sorted by topic, partition */
    size_t partition_count;
    const char *lag_status; /* the worst partition status, STOP, STALL and
                               REWIND counting as "ERR": "OK", "WARN",
                               "ERR", or "NOTFOUND" (no partition has one) */
} crawllog_group_desc_t;

/*
 * Lag status (LinkedIn Burrow's evaluation rules).  Every commit also
 * records, in the machine-local cache groups/<group>/lag.history, a point
 * {committed offset, commit time, lag = log end then - offset}; the last
 * 10 per partition form its window.  A partition's status, by the first
 * rule that applies: no window (or no commit, or the log end unknown) ->
 * NOTFOUND; lag now 0 -> OK; no commit for longer than the window spans
 * (now - newest commit > newest - oldest commit), unless the log end of
 * some point of the window was at or below the newest committed offset ->
 * STOP; some commit lower than the one before it and not recovered to it
 * by a later one -> REWIND; if every point lagged (lag > 0): all offsets
 * equal -> STALL, the lag never decreased -> WARN; otherwise OK.  The
 * group's status is the worst of its partitions (NOTFOUND ones skipped),
 * STOP, STALL and REWIND being reported as ERR.  The history is not
 * durable and is lost at a reboot (statuses read NOTFOUND until the next
 * commits); the strings are static (not freed with the description).
 */

/**
 * @brief Describe a consumer group: members, ownership, committed offsets,
 *        log end offsets, lag and lag status, as of now (read-only: no
 *        lock blocks a member).  Free with crawllog_group_desc_free().
 * @return CRAWLLOG_OK, CRAWLLOG_ENOENT (no such group), CRAWLLOG_EINVAL,
 *         CRAWLLOG_ECORRUPT, CRAWLLOG_EIO, CRAWLLOG_ENOMEM.
 */
CRAWLLOG_API int crawllog_group_describe(crawllog_t *log, const char *group,
                                         crawllog_group_desc_t **descp);
CRAWLLOG_API void crawllog_group_desc_free(crawllog_group_desc_t *desc);

/** @brief Names of all groups, sorted; free with crawllog_topic_list_free. */
CRAWLLOG_API int crawllog_group_list(crawllog_t *log, char ***namesp,
                                     size_t *countp);

#endif /* CRAWLLOG_CONSUMER_H */
