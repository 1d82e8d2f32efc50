/*
 * group.h - consumer-group membership, generation and assignment shared by
 * every thread and process of a data directory (layer 3).  See group.c.
 */
#ifndef CL_GROUP_H
#define CL_GROUP_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "crawllog.h"
#include "errors.h"
#include "notify.h"

#define CL_GROUPS_DIR "groups"
#define CL_GROUP_STATE_NAME "group.state"
#define CL_GROUP_MAGIC "CLGROUP1"
#define CL_GROUP_VERSION 2
#define CL_GROUP_MAX_MEMBERS 256
#define CL_GROUP_MAX_TOPICS 64
#define CL_GROUP_MAX_PARTS 8192
#define CL_GROUP_ID_SIZE 272       /* member id: client.id + '-' + 16 hex */
#define CL_GROUP_NAME_SIZE 256     /* instance id, client id, topic names */
/* Byte of the state file whose OFD lock says "member slot i is alive". */
#define CL_GROUP_LIVE_BASE ((uint64_t)1 << 30)

/* Slot states. */
#define CL_GM_FREE 0
#define CL_GM_ACTIVE 1
#define CL_GM_AWAY 2   /* a static member whose process is gone: keeps its
                          target partitions for session.timeout.ms */

struct cl_gmember {
    _Atomic int64_t last_poll_ns; /* CLOCK_MONOTONIC of its last poll;
                                     stored by the member without the lock */
    uint64_t incarnation;        /* unique per join; 0 when free */
    int64_t away_since_ns;       /* CL_GM_AWAY: when it was found gone */
    int64_t max_poll_ms;         /* its max.poll.interval.ms */
    int64_t session_ms;          /* its session.timeout.ms */
    int64_t pid;
    uint64_t topics;             /* subscription: bits of the topic table */
    int32_t state;               /* CL_GM_* */
    int32_t notify_slot;         /* its doorbell, -1 none */
    int32_t synced_gen;          /* generation it last synchronised to */
    int32_t pad;
    char member_id[CL_GROUP_ID_SIZE];
    char instance_id[CL_GROUP_NAME_SIZE]; /* "" dynamic */
    char client_id[CL_GROUP_NAME_SIZE];
};

struct cl_gtopic {
    char name[CL_GROUP_NAME_SIZE];
    int32_t partitions;          /* count at the last rebalance */
    int32_t base;                /* first index in the partition table */
};

struct cl_gpart {
    int16_t owner;               /* member slot fetching it, -1 none */
    int16_t target;              /* member slot it is assigned to, -1 */
    uint32_t deliveries;         /* times pill_offset was handed out as
                                    the first message of an ownership */
    uint64_t owner_inc;          /* owner's incarnation */
    int64_t pill_offset;         /* offset deliveries counts, -1 none */
};

struct cl_group_shm {
    char magic[8];
    uint32_t version;
    uint32_t updating;           /* non-zero while a lock holder writes */
    char boot_id[48];
    _Atomic uint64_t change_seq; /* bumped by every change */
    _Atomic int32_t generation;  /* bumped by every rebalance */
    int32_t strategy;            /* CL_ASG_*, -1 before the first join */
    uint64_t next_incarnation;
    int32_t ntopics;
    int32_t nparts;
    int32_t nmembers_hint;       /* slots in use below this index */
    _Atomic int32_t retired;     /* 1: this file is no longer the group's
                                    (crawllog_group_delete moved it away):
                                    set under the lock, read without it */
    struct cl_gtopic topics[CL_GROUP_MAX_TOPICS];
    struct cl_gmember members[CL_GROUP_MAX_MEMBERS];
    struct cl_gpart parts[CL_GROUP_MAX_PARTS];
};

#define CL_GROUP_STATE_SIZE                                                   \
    ((sizeof(struct cl_group_shm) + 4095) & ~(size_t)4095)

/* One topic-partition as the sync hands it to the consumer. */
struct cl_gtp {
    char topic[CL_GROUP_NAME_SIZE];
    int32_t partition;
};

/* A member's handle on a group (one per consumer). */
struct cl_group {
    crawllog_t *log;
    int dirfd;                   /* groups/<group> */
    int fd;                      /* group.state: flock + OFD liveness */
    struct cl_group_shm *shm;
    char name[CL_GROUP_NAME_SIZE];
    char reldir[CL_GROUP_NAME_SIZE + 16];
    int slot;                    /* -1: not a member */
    char member_id[CL_GROUP_ID_SIZE]; /* of the last join */
    char boot_id[48];            /* this boot's id (read once at open) */
    uint64_t incarnation;
    uint64_t seen_seq;           /* change_seq at the last sync */
    int32_t generation;          /* generation of the last sync */
    int64_t next_check_ns;       /* next liveness / metadata check */
    uint64_t dev, ino;           /* group.state's identity, at open */
};

/* What a member asks for when it joins. */
struct cl_group_join {
    const char *client_id;       /* "" -> "crawllog" */
    const char *instance_id;     /* "" dynamic */
    int strategy;                /* CL_ASG_* */
    int64_t max_poll_ms, session_ms;
    int notify_slot;
    const char *const *topics;
    size_t ntopics;
};

/* Open (creating groups/<name>/ and its state file) the group. */
int cl_group_open(struct cl_group *g, crawllog_t *log, const char *name,
                  int create, struct cl_err *err);
void cl_group_close(struct cl_group *g);

/* The group's cross-process lock (flock on group.state); lock also
 * repairs a state a dead process left half-written.  A handle that is not
 * a member (slot < 0), or whose state is marked retired, first checks
 * that its file is still groups/<name>/group.state: if not - the group
 * was deleted (group_admin.c) since it was opened - the state is marked
 * retired and the lock fails with CRAWLLOG_ENOENT (not held): close the
 * handle and open the group again, which creates a fresh one. */
int cl_group_lock(struct cl_group *g, struct cl_err *err);
void cl_group_unlock(struct cl_group *g);

/* 1 if the state this handle maps was retired (no lock: an atomic load). */
int cl_group_retired(const struct cl_group *g);

/* With the lock held, after groups/<name> was moved away (group_admin.c):
 * mark the state retired, so that every handle still mapping it - in any
 * process - learns that the group is gone at its next lock. */
void cl_group_retire_locked(struct cl_group *g);

/* Join as a new member (or take over this static member's slot) and
 * rebalance.  CRAWLLOG_EINVAL (strategy differs from the group's, too many
 * topics), CRAWLLOG_EBUSY (no free slot). */
int cl_group_join(struct cl_group *g, const struct cl_group_join *j,
                  struct cl_err *err);

/* Leave: release partitions; a dynamic member's slot is freed and the
 * group rebalanced; a static member stays AWAY. */
void cl_group_leave(struct cl_group *g);

/* Record a poll (lock-free). */
void cl_group_touch(struct cl_group *g);

/* 1 if the shared state changed since the last sync. */
int cl_group_changed(const struct cl_group *g);

/* Liveness, poll-deadline, session and partition-count checks (each
 * heartbeat interval, from poll); rebalances when something changed. */
int cl_group_check(struct cl_group *g, int64_t interval_ms,
                   struct cl_err *err);

/* Result of a synchronisation step.  Arrays are allocated (cl_io_free). */
struct cl_group_sync {
    int lost;                    /* this member is no longer in the group */
    int fenced;                  /* ... because a newer instance took its
                                    group.instance.id */
    struct cl_gtp *revoke;       /* phase 1: to give up */
    size_t nrevoke;
    struct cl_gtp *owned;        /* phase 2: everything owned now */
    size_t nowned;
};
void cl_group_sync_free(struct cl_group_sync *s);

/* Phase 1 (lock taken and released): is this member still in, and what
 * must it give up?  The caller then calls the revoke callback. */
int cl_group_sync_begin(struct cl_group *g, struct cl_group_sync *s,
                        struct cl_err *err);

/* Phase 2: release s->revoke, acquire free targets, fill s->owned. */
int cl_group_sync_end(struct cl_group *g, struct cl_group_sync *s,
                      struct cl_err *err);

/* With the lock held: 0 if this member owns every (topic, partition) in
 * the list, else CRAWLLOG_EGENERATION with a message.  member -1 (manual
 * assignment): 0 only if the group has no member. */
int cl_group_check_owner_locked(struct cl_group *g,
                                const crawllog_topic_partition_t *list,
                                size_t n, struct cl_err *err);
/* The same for the member (slot, incarnation) of another handle (slot -1:
 * a consumer without a subscription); the lock must be held. */
int cl_group_check_owner_as(struct cl_group *g, int slot, uint64_t inc,
                            const crawllog_topic_partition_t *list, size_t n,
                            struct cl_err *err);

/* Count a hand-out of the message at offset, the first of this member's
 * ownership of (topic, partition) (poison-pill detection): *countp = how
 * many times that offset has been handed out so at the start of an
 * ownership without being committed past (1 the first time).  0 if this
 * member owns the partition, else CRAWLLOG_EGENERATION. */
int cl_group_count_delivery(struct cl_group *g, const char *topic,
                            int32_t partition, int64_t offset,
                            uint32_t *countp, struct cl_err *err);

/* Topic migration (group_sync.c).  With the lock held: in every present
 * member's subscription replace topic from by to (the group switched to a
 * migration's target) and rebalance if any changed. */
int cl_group_switch_topic_locked(struct cl_group *g, const char *from,
                                 const char *to, struct cl_err *err);

/* Set this member's subscription to topics (lock taken here), rebalancing
 * if it changed. */
int cl_group_resubscribe(struct cl_group *g, const char *const *topics,
                         size_t n, struct cl_err *err);

/* *usedp = 1 if a present member (this one included) subscribes to
 * topic (lock taken here). */
int cl_group_topic_subscribed(struct cl_group *g, const char *topic,
                              int *usedp, struct cl_err *err);

/* Ring every member's doorbell. */
void cl_group_ring(struct cl_group *g);

/* ---- shared by group.c and group_sync.c (lock held unless said) ---- */

/* Slot is an ACTIVE member with incarnation inc. */
int cl_group_member_valid(const struct cl_group_shm *s, int slot,
                          uint64_t inc);
/* p's owner is a valid member. */
int cl_group_owner_valid(const struct cl_group_shm *s,
                         const struct cl_gpart *p);
/* Index of (topic, partition) in parts[], or -1. */
int cl_group_find_part(const struct cl_group_shm *s, const char *topic,
                       int32_t partition);
/* Index of topic in the topic table, or -1. */
int cl_group_find_topic(const struct cl_group_shm *s, const char *topic);
/* Subscription mask of n topics, adding missing ones to the topic table
 * (CRAWLLOG_EINVAL when it is full). */
int cl_group_mask(struct cl_group *g, const char *const *topics, size_t n,
                  uint64_t *maskp, struct cl_err *err);
/* Topic index of parts[] entry i, or -1. */
int cl_group_topic_of(const struct cl_group_shm *s, int i);
/* Bump change_seq. */
void cl_group_bump(struct cl_group_shm *s);
/* Remove dead, expired and long-away members; *changedp = 1 if the group
 * must be rebalanced. */
int cl_group_sweep(struct cl_group *g, int64_t now, int *changedp);
/* Recompute targets, generation + 1. */
int cl_group_rebalance(struct cl_group *g, struct cl_err *err);
/* A topic's partition count now (0 if it does not exist; no lock). */
int32_t cl_group_topic_partitions(struct cl_group *g, const char *topic);

/* Transactions (txn.c, in group_admin.c): commit n offsets of a decided
 * transaction to group (created if needed) as one record, durable before
 * return, with no membership check (the transaction checked the
 * generation before its decision).  With never_back, entries below the
 * committed offset are dropped first (e is reordered).  An empty set
 * writes nothing. */
struct cl_offset_entry;
int cl_group_txn_commit(crawllog_t *log, const char *group,
                        struct cl_offset_entry *e, size_t n, int never_back,
                        struct cl_err *err);
/* Under the group lock: member (slot, inc) owns every partition of list
 * (cl_group_check_owner_as): 0 or CRAWLLOG_EGENERATION. */
int cl_group_txn_check_owner(crawllog_t *log, const char *group, int slot,
                             uint64_t inc,
                             const crawllog_topic_partition_t *list, size_t n,
                             struct cl_err *err);

#endif /* CL_GROUP_H */
