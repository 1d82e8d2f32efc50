/*
 * consumer.h - crawllog_consumer_t, internal view shared by consumer.c
 * (membership, poll) and consumer_commit.c (commits, positions) (layer 3).
 */
#ifndef CL_CONSUMER_H
#define CL_CONSUMER_H

#include <stddef.h>
#include <stdint.h>

#include "crawllog.h"
#include "errors.h"
#include "group.h"
#include "lagstore.h"
#include "migrate.h"
#include "offsets.h"
#include "reader.h"

#define CL_CONS_NONE 0
#define CL_CONS_SUBSCRIBED 1
#define CL_CONS_ASSIGNED 2

/* cl_cpart.start: apply auto.offset.reset (position lost to retention). */
#define CL_START_RESET (-1002)

/* One partition the consumer owns (group) or was assigned (manual). */
struct cl_cpart {
    char *topic;
    int32_t partition;
    crawllog_reader_t *rd;     /* NULL until the start is resolved */
    int64_t position;          /* next offset to hand out; -1 unknown */
    int64_t start;             /* unresolved start: offset or special */
    int64_t committed;         /* last offset known committed for it by
                                  this consumer (-1: none): commit(NULL)
                                  skips partitions whose position is it */
    int64_t pill_counted;      /* committed offset whose hand-out was
                                  last counted (poison pills), -1 */
    int64_t origin;            /* position where it started: nothing was
                                  handed out while position == origin */
    int paused;
    int gone;                  /* its topic was deleted (group mode) */
    int pending;               /* start deferred: an undecided transaction
                                  staged an offset for it (cl_txn_stabilize);
                                  rd stays NULL, retried at retry_ns */
    int64_t retry_ns;          /* pending: next start attempt (mono ns; 0
                                  at the start of every poll) */
    int blocked;               /* its reader stopped at an open transaction
                                  (read_committed) in the last fetch */
    int64_t blocked_end;       /* blocked: the log end read before that
                                  fetch (an append past it may end it) */
    int skipped_committed;     /* the position moved from the committed
                                  offset past records not for us (markers,
                                  aborted): the next record handed out is
                                  counted as the committed one's (pills) */
    int handed;                /* messages handed out in this poll */
    int filled;                /* reader refilled in this poll */
};

struct crawllog_consumer_s {
    struct cl_kafka_consumer *kafka; /* Kafka backend (backend.h), NULL */
    crawllog_t *log;
    crawllog_conf_t *conf;
    int mode;                  /* CL_CONS_* */
    int closed;
    int fatal;                 /* sticky error (CRAWLLOG_EFENCED), 0 */
    char group_id[CL_GROUP_NAME_SIZE];
    int group_open;
    struct cl_group group;
    struct cl_offsets *offsets;
    struct cl_lagstore *lag;   /* groups/<g>/lag.history (monitoring;
                                  NULL if it could not be opened) */
    uint64_t unsynced_token;   /* last WRITTEN commit not yet synced, 0 */
    char **topics;             /* subscription, as given */
    size_t ntopics;
    char **eff;                /* [ntopics]: what the group reads for
                                  topics[i]: the topic itself, or the
                                  target of a migration the group switched
                                  to (consumer_migrate.c) */
    struct cl_mig *migs;       /* [ntopics]: eff[i]'s migration once cut
                                  over (state 0: none seen) */
    int64_t next_mig_ns;       /* next migration check */
    struct cl_cpart *parts;
    size_t nparts, partcap;
    size_t rr;                 /* first partition of the next fetch */
    struct crawllog_msg_s *msgs;
    size_t msgcap;
    int notify_slot;
    crawllog_rebalance_cb *cb;
    void *cb_opaque;
    int in_cb;                 /* a rebalance callback is running */
    int64_t next_autocommit_ns;
    int64_t heartbeat_ms;
    int64_t fetch_bytes;
    int reset;                 /* auto.offset.reset */
    char errmsg[CL_ERRMSG_SIZE];
};

/* Record err as the consumer's message; returns rc. */
int cl_cons_fail(crawllog_consumer_t *c, int rc, const struct cl_err *err);

/* 0, or CRAWLLOG_ECLOSED / the sticky fatal error / (no_callback and
 * inside a rebalance callback) CRAWLLOG_EMISUSE, recorded. */
int cl_cons_check_state(crawllog_consumer_t *c, int no_callback);

/* 0 if msg is one of this consumer's last poll, else CRAWLLOG_EINVAL
 * (recorded). */
int cl_cons_check_msg(crawllog_consumer_t *c, const crawllog_msg_t *msg);

/* Open the group (and its offsets, and its lag history, best effort:
 * c->lag stays NULL if that fails) on first need. */
int cl_cons_group(crawllog_consumer_t *c, struct cl_err *err);

/* The partition entry, or NULL. */
struct cl_cpart *cl_cons_find(crawllog_consumer_t *c, const char *topic,
                              int32_t partition);

/* Commit n entries: ownership checked and one record appended under the
 * group lock, synced if sync is CRAWLLOG_SYNC_DURABLE.  Each entry's
 * point (offset, now, log end) also goes to the lag history, under the
 * same lock. */
int cl_cons_commit(crawllog_consumer_t *c, const struct cl_offset_entry *e,
                   size_t n, int sync, struct cl_err *err);

/* Commit the positions of the listed owned partitions (NULL: all). */
int cl_cons_commit_positions(crawllog_consumer_t *c,
                             const struct cl_gtp *only, size_t nonly,
                             int sync, struct cl_err *err);

/* Resolve a partition's start (committed offset or auto.offset.reset)
 * and open its reader, with the consumer's isolation.level.  Before a
 * start from the committed offset, decided transactions that staged
 * offsets for the group are completed (cl_txn_stabilize); if an undecided
 * one staged an offset for this partition, it returns 0 with cp->rd still
 * NULL and cp->pending = 1 (start it later). */
int cl_cons_start(crawllog_consumer_t *c, struct cl_cpart *cp,
                  struct cl_err *err);

/* Make durable every WRITTEN commit of this consumer. */
int cl_cons_sync_commits(crawllog_consumer_t *c, struct cl_err *err);

/* Join the group with the consumer's subscription (consumer.c). */
int cl_cons_join(crawllog_consumer_t *c, struct cl_err *err);

/* Give up every partition without a chance to commit (LOST callback). */
void cl_cons_lose_all(crawllog_consumer_t *c);

/* Synchronise with the group: revoke, release, acquire, callbacks. */
int cl_cons_group_sync(crawllog_consumer_t *c, struct cl_err *err);

/* consumer_dlq.c: dead-letter msg (a view of this consumer) with reason
 * and an attempt count, atomically with the commit past it. */
int cl_cons_dead_letter(crawllog_consumer_t *c, const crawllog_msg_t *msg,
                        const char *reason, int32_t attempts,
                        struct cl_err *err);

/* consumer_dlq.c: 1 if meta is a dead-letter intent (parsed into out, an
 * internal struct, when not NULL). */
int cl_cons_dlq_parse(const char *meta, void *out);

/* consumer_dlq.c: the partition starts at committed entry ce; if it carries
 * a dead-letter intent, finish it (dead letter written once, commit past
 * it).  *nextp = where to start. */
int cl_cons_dlq_recover(crawllog_consumer_t *c, const char *topic,
                        int32_t partition, const struct cl_offset_entry *ce,
                        int64_t *nextp, struct cl_err *err);

/* consumer_migrate.c: set eff (a copy of topics, then following every
 * migration this group has already switched over) before joining. */
int cl_cons_mig_init(crawllog_consumer_t *c, struct cl_err *err);
void cl_cons_mig_free(crawllog_consumer_t *c);

/* consumer_migrate.c, from poll (each heartbeat interval, or now with
 * force): for each subscribed topic cut over by a migration, commit the
 * cut of owned old partitions where nothing was handed out, and once the
 * group committed every old partition up to its cut, switch the group to
 * the target (docs/MIGRATION.md step 4). */
int cl_cons_mig_step(crawllog_consumer_t *c, int force, struct cl_err *err);

/* consumer_migrate.c: 1 if topic is one this consumer's group switched
 * away from (its partitions were fully committed: revoked, not lost). */
int cl_cons_mig_left(const crawllog_consumer_t *c, const char *topic);

#endif /* CL_CONSUMER_H */
