/*
 * assignor.h - partition assignors of a consumer group (layer 3, pure).
 * See assignor.c.  No I/O, no locks, no allocation visible to the caller:
 * a deterministic function of its inputs, so every member of a group that
 * computes it gets the same answer.
 */
#ifndef CL_ASSIGNOR_H
#define CL_ASSIGNOR_H

#include <stddef.h>
#include <stdint.h>

#include "errors.h"

enum cl_asg_strategy {
    CL_ASG_RANGE = 0,              /* "range" (eager) */
    CL_ASG_ROUNDROBIN = 1,         /* "roundrobin" (eager) */
    CL_ASG_COOPERATIVE_STICKY = 2  /* "cooperative-sticky" (cooperative) */
};

/* Most topics one group may subscribe to (a member's subscription is a
 * bitmask over the group's topic table). */
#define CL_ASG_MAX_TOPICS 64

struct cl_asg_member {
    const char *member_id;    /* unique, non-empty */
    const char *instance_id;  /* group.instance.id; NULL or "" if dynamic */
    uint64_t topics;          /* bit t set: subscribes to topics[t]; bits
                               * t >= ntopics are ignored */
};

struct cl_asg_topic {
    const char *name;         /* unique, non-empty */
    int32_t partitions;       /* >= 0 */
};

/* "range" / "roundrobin" / "cooperative-sticky" -> strategy, or -1. */
int cl_asg_parse(const char *name);
/* The name of a strategy ("range", ...); "unknown" for anything else. */
const char *cl_asg_name(int strategy);
/* 1 for cooperative strategies (only moved partitions are revoked). */
int cl_asg_cooperative(int strategy);

/*
 * Compute the assignment.
 *
 * Partitions are numbered globally in the order of the topics array:
 * partition p of topics[t] has index base(t) + p, where base(t) is the sum
 * of topics[0..t-1].partitions.  (The topics array may be in any order;
 * the rules below order topics by name themselves.)
 *
 * members:   nmembers entries (any order; the assignors sort them by
 *            Kafka's MemberInfo order: both static -> by instance_id;
 *            static before dynamic; else by member_id, strcmp; two static
 *            members with the same instance_id are then ordered by
 *            member_id).  The result does not depend on the array order.
 * owned:     for sticky strategies, per global partition the index (into
 *            members) of its current owner, or -1 (NULL: nothing owned).
 *            Ignored by range and roundrobin.  An owner that does not
 *            subscribe to the partition's topic is treated as -1.
 * target:    out, per global partition: index of the member it is
 *            assigned to, or -1 when no member subscribes to its topic.
 *
 * range:      per topic, subscribers in member order; member i of k gets
 *             the contiguous run starting at q*i + min(i, r), q = n/k,
 *             r = n%k, of length q + (i < r).
 * roundrobin: partitions by (topic name, partition), each to the next
 *             member in circular member order that subscribes to it.
 * cooperative-sticky: balance first (counts differ by at most one, or no
 *             member with 2 fewer partitions may take any of a richer
 *             member's), then keep as many owned partitions as possible;
 *             a member with more than its share keeps its lowest (topic
 *             name, partition) ones.  With nothing owned and equal
 *             subscriptions the result is roundrobin's.  The algorithm is
 *             described in assignor.c.
 *
 * Returns 0, CRAWLLOG_EINVAL (bad strategy, more than CL_ASG_MAX_TOPICS
 * topics, a negative partition count, a NULL/empty member_id or topic
 * name, a topic name listed twice, two members equal in member order
 * (same member_id, and same instance_id if static), more than INT32_MAX
 * members, a NULL array that must hold entries, or for cooperative-sticky
 * an owned entry that is neither -1 nor a member index) or
 * CRAWLLOG_ENOMEM, with a message in err.  On EINVAL target is untouched
 * or all -1; on ENOMEM it is all -1.
 */
int cl_asg_assign(int strategy, const struct cl_asg_member *members,
                  size_t nmembers, const struct cl_asg_topic *topics,
                  size_t ntopics, const int32_t *owned, int32_t *target,
                  struct cl_err *err);

#endif /* CL_ASSIGNOR_H */
