/*
 * crawllog_admin.h - libcrawllog public API: consumer-group administration
 * (deleting a group, setting its committed offsets).
 * Part of crawllog.h, which includes it: include crawllog.h, not this file.
 * MIT licence, see LICENSE.
 */
#ifndef CRAWLLOG_ADMIN_H
#define CRAWLLOG_ADMIN_H

#ifndef CRAWLLOG_H
#error "include crawllog.h, not crawllog_admin.h"
#endif

/* ====================================================================== */
/* Consumer-group administration                                           */
/* ====================================================================== */

/*
 * What `kafka-consumer-groups --delete` and `--reset-offsets` do, for a
 * group of this data directory.  Both need an inactive group: they are
 * refused with CRAWLLOG_EBUSY ("the group is not empty") while the group
 * has a member - an active consumer subscribed to it in any process, or a
 * static member (group.instance.id) gone for less than its
 * session.timeout.ms, which may still come back to its partitions.  Dead
 * members, members that stopped polling for max.poll.interval.ms and
 * static members away for longer than session.timeout.ms are removed
 * first, as any member would.  The check and the change are atomic with
 * respect to joins: a consumer subscribing at the same time either joins
 * first (the call fails with CRAWLLOG_EBUSY, nothing changed) or after it,
 * and then starts from the offsets set, or from auto.offset.reset in a
 * fresh group after a delete.
 *
 * Standalone consumers (crawllog_consumer_assign with a group.id) are not
 * members: they do not stop these calls; after a delete, their next commit
 * goes to a fresh group.
 */

/**
 * @brief Delete consumer group `group`: its committed offsets, its lag
 *        history and its live state - the directory groups/<group>,
 *        removed durably (renamed into trash/, both directories fsync'd,
 *        then deleted, as a topic is).  Afterwards the group is gone from
 *        crawllog_group_list() and crawllog_group_describe() says
 *        CRAWLLOG_ENOENT.  A consumer that subscribes or commits later, in
 *        any process - even one that had the group open before - creates a
 *        fresh group with no committed offset (so it starts from
 *        auto.offset.reset).
 * @param group  a group name ([A-Za-z0-9._-]{1,249}, not . or ..).
 * @return CRAWLLOG_OK; CRAWLLOG_EINVAL (log or group NULL, bad name);
 *         CRAWLLOG_ENOENT (no such group); CRAWLLOG_EBUSY (the group has a
 *         member, see above: nothing deleted); CRAWLLOG_EIO,
 *         CRAWLLOG_ENOSPC, CRAWLLOG_EPERM, CRAWLLOG_EMFILE,
 *         CRAWLLOG_ENOMEM (nothing deleted, or - if the failure came
 *         after the rename, when making it durable - the group is already
 *         gone but its removal may not survive a power loss: a second
 *         call then says CRAWLLOG_ENOENT).  crawllog_errmsg() names the
 *         group.
 * @note Thread-safety: any thread, any process (the move into trash/ is
 *       serialized with topic creation and deletion by crawllog.lock).
 */
CRAWLLOG_API int crawllog_group_delete(crawllog_t *log, const char *group);

/**
 * @brief Set committed offsets of an inactive group, atomically: ONE
 *        commit record, so either every entry of the list takes effect or
 *        none does, even across a crash.  list[i].offset >= 0 sets the
 *        committed offset of (list[i].topic, list[i].partition) - the next
 *        offset a member will read - to it, with list[i].metadata
 *        (optional, < 4096 bytes); a negative offset removes that
 *        partition's committed offset (a member then starts it from
 *        auto.offset.reset).  A (topic, partition) listed twice gets its
 *        last entry.  Topics need not exist.  The group is created if it
 *        does not exist.  Durable when it returns (fdatasync).  The lag
 *        history of the changed partitions is emptied, so that an
 *        operator's rewind is not reported as the consumers' REWIND
 *        (their lag status reads NOTFOUND until the group commits again).
 * @param list   count entries; nothing is changed unless every one is
 *               valid: topic a valid topic name, partition in
 *               0 .. CRAWLLOG_PARTITIONS_MAX - 1.
 * @return CRAWLLOG_OK; CRAWLLOG_EINVAL (log, group or list NULL, count 0,
 *         bad group or topic name, partition out of range, metadata too
 *         long: nothing changed, nothing created); CRAWLLOG_EBUSY (the
 *         group has a member, see above: nothing changed);
 *         CRAWLLOG_ETOOBIG (the list needs a record over 64 MiB);
 *         CRAWLLOG_ECORRUPT, CRAWLLOG_EVERSION (the group's offsets file);
 *         CRAWLLOG_EIO, CRAWLLOG_ENOSPC, CRAWLLOG_EPERM, CRAWLLOG_EMFILE,
 *         CRAWLLOG_ENOMEM (nothing changed - or, for a failure of the
 *         final fdatasync, the whole change made but maybe not durable;
 *         either way never part of it; a group that did not exist may
 *         have been created empty); CRAWLLOG_ENOENT (only if the group
 *         was deleted again each time this call recreated it, three
 *         times).  crawllog_errmsg() names the group.
 * @note Thread-safety: any thread, any process.
 */
CRAWLLOG_API int crawllog_group_set_offsets(
    crawllog_t *log, const char *group,
    const crawllog_topic_partition_t *list, size_t count);

#endif /* CRAWLLOG_ADMIN_H */
