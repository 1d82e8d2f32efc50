/*
 * kafka_group.c - consumer-group administration of the Kafka backend
 * (layer 5): crawllog_group_list, _delete, _set_offsets and _describe on a
 * Kafka log.  See kafka.h.
 *
 * Owns nothing on disk and no state.  Listing and deleting use the admin
 * API (ListConsumerGroups, DeleteGroups; CRAWLLOG_ENOTSUP at once on
 * librdkafka's mock cluster, which has neither - and a coordinator
 * request it refuses makes librdkafka 2.0.2 abort, librdkafka issue
 * #4605).  Setting offsets commits them from a temporary consumer handle
 * in the group that never joins it (a "simple" commit: Kafka refuses it
 * while the group has members, which is crawllog's CRAWLLOG_EBUSY rule).
 * Describing fetches the group's committed offsets for every partition of
 * every topic (OffsetFetch from such a handle), the high watermarks as log
 * ends, and - except on the mock - members, state and strategy from
 * DescribeConsumerGroups.  There is no lag history on Kafka: every status
 * is "NOTFOUND".
 *
 * Invariants: the description is allocated as crawllog_group_desc_free
 * (group_desc.c) frees it: the struct first in one cl_io_calloc block
 * with its strings, members' and partitions' strings each cl_io_strdup,
 * partitions' member_id pointing into members.  Locks: none of its own.
 * Threads: librdkafka's, inside the temporary handle.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "group_desc.h"
#include "io.h"
#include "kafka.h"
#include "names.h"

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int check_group_name(crawllog_t *log, const char *fn, const char *group)
{
    if (group == NULL || !cl_names_topic_valid(group)) {
        return cl_kafka_log_fail(log, CRAWLLOG_EINVAL,
                                 "%s: group \"%.64s\": not a valid group name",
                                 fn, group ? group : "(null)");
    }
    return 0;
}

static int mock_enotsup(crawllog_t *log, const char *fn, const char *api)
{
    return cl_kafka_log_fail(log, CRAWLLOG_ENOTSUP,
                             "crawllog_%s: not supported by the Kafka backend "
                             "on librdkafka's mock cluster (it has no %s)",
                             fn, api);
}

static void start_list_groups(rd_kafka_t *rk, const rd_kafka_AdminOptions_t *o,
                              rd_kafka_queue_t *q, void *arg)
{
    (void)arg;
    rd_kafka_ListConsumerGroups(rk, o, q);
}

int cl_kafka_group_list(crawllog_t *log, char ***namesp, size_t *countp)
{
    rd_kafka_event_t *ev = NULL;
    if (namesp)
        *namesp = NULL;
    if (countp)
        *countp = 0;
    if (namesp == NULL || countp == NULL) {
        return cl_kafka_log_fail(log, CRAWLLOG_EINVAL,
                                 "crawllog_group_list: namesp and countp "
                                 "needed");
    }
    if (cl_kafka_log_is_mock(log)) {
        return mock_enotsup(log, "group_list", "ListGroups");
    }
    int rc = cl_kafka_admin_run(log, start_list_groups, NULL,
                                "ListConsumerGroups", &ev);
    if (rc != 0) {
        return rc;
    }
    size_t cnt = 0, n = 0;
    const rd_kafka_ConsumerGroupListing_t **g =
        rd_kafka_ListConsumerGroups_result_valid(
            rd_kafka_event_ListConsumerGroups_result(ev), &cnt);
    char **names = cl_io_malloc((cnt + 1) * sizeof(*names));
    for (size_t i = 0; names != NULL && i < cnt; i++) {
        const char *id = rd_kafka_ConsumerGroupListing_group_id(g[i]);
        if (!cl_names_topic_valid(id)) {
            continue;
        }
        if ((names[n] = cl_io_strdup(id)) == NULL) {
            cl_io_listdir_free(names, n);
            names = NULL;
            break;
        }
        n++;
    }
    rd_kafka_event_destroy(ev);
    if (names == NULL) {
        return cl_kafka_log_fail(log, CRAWLLOG_ENOMEM, "out of memory");
    }
    if (n == 0) {
        cl_io_free(names);
        return 0;
    }
    qsort(names, n, sizeof(*names), cmp_name);
    *namesp = names;
    *countp = n;
    return 0;
}

static void start_delete_group(rd_kafka_t *rk, const rd_kafka_AdminOptions_t *o,
                               rd_kafka_queue_t *q, void *arg)
{
    rd_kafka_DeleteGroup_t *d = arg;
    rd_kafka_DeleteGroups(rk, &d, 1, o, q);
}

int cl_kafka_group_delete(crawllog_t *log, const char *group)
{
    char what[300];
    rd_kafka_event_t *ev = NULL;
    int rc = check_group_name(log, "crawllog_group_delete", group);
    if (rc != 0) {
        return rc;
    }
    if (cl_kafka_log_is_mock(log)) {
        return mock_enotsup(log, "group_delete", "DeleteGroups");
    }
    rd_kafka_DeleteGroup_t *d = rd_kafka_DeleteGroup_new(group);
    if (d == NULL) {
        return cl_kafka_log_fail(log, CRAWLLOG_ENOMEM, "out of memory");
    }
    snprintf(what, sizeof(what), "group %s: DeleteGroups", group);
    rc = cl_kafka_admin_run(log, start_delete_group, d, what, &ev);
    rd_kafka_DeleteGroup_destroy(d);
    if (rc != 0) {
        return rc;
    }
    size_t cnt = 0;
    const rd_kafka_group_result_t **g = rd_kafka_DeleteGroups_result_groups(
        rd_kafka_event_DeleteGroups_result(ev), &cnt);
    const rd_kafka_error_t *e = cnt ? rd_kafka_group_result_error(g[0]) : NULL;
    if (cnt == 0) {
        rc = cl_kafka_log_fail(log, CRAWLLOG_EIO, "%s: empty answer", what);
    } else if (e != NULL) {
        rd_kafka_resp_err_t err = rd_kafka_error_code(e);
        rc = cl_kafka_log_fail_rd(log, err, rd_kafka_error_string(e), what);
        if (err == RD_KAFKA_RESP_ERR_NON_EMPTY_GROUP) {
            rc = cl_kafka_log_fail(log, CRAWLLOG_EBUSY,
                                   "group %s: the group is not empty (%s)",
                                   group, rd_kafka_err2name(err));
        }
    }
    rd_kafka_event_destroy(ev);
    return rc;
}

/* A consumer handle in group (never subscribes, never auto-commits). */
static int temp_consumer(crawllog_t *log, const char *group, rd_kafka_t **rkp)
{
    char why[512];
    rd_kafka_conf_t *c = NULL;
    int rc = cl_kafka_client_conf(log, NULL, &c, why, sizeof(why));
    *rkp = NULL;
    if (rc != 0) {
        return cl_kafka_log_fail(log, rc, "group %s: %s", group, why);
    }
    if (rd_kafka_conf_set(c, "group.id", group, why, sizeof(why)) ||
        rd_kafka_conf_set(c, "enable.auto.commit", "false", why, sizeof(why)) ||
        rd_kafka_conf_set(c, "enable.auto.offset.store", "false", why,
                          sizeof(why)) ||
        (*rkp = rd_kafka_new(RD_KAFKA_CONSUMER, c, why, sizeof(why))) == NULL) {
        rd_kafka_conf_destroy(c);
        return cl_kafka_log_fail(log, CRAWLLOG_EINVAL, "group %s: %s", group,
                                 why);
    }
    return 0;
}

static void temp_consumer_destroy(rd_kafka_t *rk)
{
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

int cl_kafka_group_set_offsets(crawllog_t *log, const char *group,
                               const crawllog_topic_partition_t *list,
                               size_t count)
{
    const char *fn = "crawllog_group_set_offsets";
    int rc = check_group_name(log, fn, group);
    if (rc != 0) {
        return rc;
    }
    if (list == NULL || count == 0) {
        return cl_kafka_log_fail(log, CRAWLLOG_EINVAL,
                                 "group %s: no offsets given", group);
    }
    for (size_t i = 0; i < count; i++) {
        const crawllog_topic_partition_t *tp = &list[i];
        if (tp->topic == NULL || !cl_names_topic_valid(tp->topic)) {
            return cl_kafka_log_fail(log, CRAWLLOG_EINVAL,
                                     "group %s: list[%zu]: \"%.64s\" is not a "
                                     "valid topic name; nothing set",
                                     group, i,
                                     tp->topic ? tp->topic : "(null)");
        }
        if (tp->partition < 0 || tp->partition >= CRAWLLOG_PARTITIONS_MAX) {
            return cl_kafka_log_fail(log, CRAWLLOG_EINVAL,
                                     "group %s: list[%zu]: partition %d not "
                                     "in 0..%d; nothing set",
                                     group, i, (int)tp->partition,
                                     CRAWLLOG_PARTITIONS_MAX - 1);
        }
        if (tp->offset >= 0 && tp->metadata != NULL &&
            strlen(tp->metadata) >= 4096) {
            return cl_kafka_log_fail(log, CRAWLLOG_EINVAL,
                                     "group %s: list[%zu]: metadata longer "
                                     "than 4095 bytes; nothing set",
                                     group, i);
        }
        if (tp->offset < 0) {
            return cl_kafka_log_fail(
                log, CRAWLLOG_ENOTSUP,
                "%s: group %s: list[%zu]: removing a committed offset "
                "(offset < 0) is not supported by the Kafka backend (delete "
                "the group, or use kafka-consumer-groups --delete-offsets); "
                "nothing set",
                fn, group, i);
        }
    }
    rd_kafka_t *rk = NULL;
    if ((rc = temp_consumer(log, group, &rk)) != 0) {
        return rc;
    }
    rd_kafka_topic_partition_list_t *l =
        rd_kafka_topic_partition_list_new((int)count);
    for (size_t i = 0; i < count; i++) {
        /* A pair listed twice gets its last entry. */
        rd_kafka_topic_partition_t *p = rd_kafka_topic_partition_list_find(
            l, list[i].topic, list[i].partition);
        if (p == NULL) {
            p = rd_kafka_topic_partition_list_add(l, list[i].topic,
                                                  list[i].partition);
        }
        p->offset = list[i].offset;
        p->metadata = (void *)list[i].metadata; /* ours: cleared below */
        p->metadata_size = list[i].metadata ? strlen(list[i].metadata) : 0;
    }
    rd_kafka_resp_err_t err = rd_kafka_commit(rk, l, 0);
    const char *where = "";
    char what[400];
    for (int i = 0; i < l->cnt; i++) {
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR && l->elems[i].err) {
            err = l->elems[i].err;
            where = l->elems[i].topic;
        }
        l->elems[i].metadata = NULL;
        l->elems[i].metadata_size = 0;
    }
    snprintf(what, sizeof(what), "group %s%s%s: OffsetCommit", group,
             where[0] ? ": topic " : "", where);
    rd_kafka_topic_partition_list_destroy(l);
    temp_consumer_destroy(rk);
    if (err == RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID ||
        err == RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION ||
        err == RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS) {
        return cl_kafka_log_fail(log, CRAWLLOG_EBUSY,
                                 "%s: the group is not empty (%s)", what,
                                 rd_kafka_err2name(err));
    }
    return err ? cl_kafka_log_fail_rd(log, err, NULL, what) : 0;
}

/* ---- consumer groups: description ---------------------------------------- */

struct kl_desc {
    crawllog_group_desc_t pub; /* first: crawllog_group_desc_free frees it */
    char group[CRAWLLOG_TOPIC_NAME_MAX + 1];
    char state[32];
    char strategy[64];
};

/* Committed offsets of every partition of every topic into d. */
static int desc_committed(crawllog_t *log, const char *group,
                          crawllog_group_desc_t *d, size_t *cap)
{
    char **names = NULL;
    int32_t *counts = NULL;
    size_t n = 0;
    rd_kafka_t *rk = NULL;
    int rc = cl_kafka_topic_snapshot(log, &names, &counts, &n);
    if (rc == 0) {
        rc = temp_consumer(log, group, &rk);
    }
    if (rc != 0) {
        cl_io_listdir_free(names, n);
        cl_io_free(counts);
        return rc;
    }
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(16);
    for (size_t i = 0; i < n; i++) {
        for (int32_t p = 0; p < counts[i]; p++) {
            rd_kafka_topic_partition_list_add(l, names[i], p);
        }
    }
    cl_io_listdir_free(names, n);
    cl_io_free(counts);
    rd_kafka_resp_err_t err =
        l->cnt ? rd_kafka_committed(rk, l, cl_kafka_log_timeout_ms(log)) : 0;
    for (int i = 0; err == 0 && rc == 0 && i < l->cnt; i++) {
        const rd_kafka_topic_partition_t *p = &l->elems[i];
        if (p->err != 0 || p->offset < 0) {
            continue;
        }
        long x = cl_group_desc_add_part(d, cap, p->topic, p->partition);
        if (x < 0) {
            rc = cl_kafka_log_fail(log, CRAWLLOG_ENOMEM, "out of memory");
        } else {
            d->partitions[x].committed = p->offset;
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
    temp_consumer_destroy(rk);
    if (err != 0) {
        char what[300];
        snprintf(what, sizeof(what), "group %s: OffsetFetch", group);
        rc = cl_kafka_log_fail_rd(log, err, NULL, what);
    }
    return rc;
}

static void start_describe_group(rd_kafka_t *rk,
                                 const rd_kafka_AdminOptions_t *o,
                                 rd_kafka_queue_t *q, void *arg)
{
    const char *group = arg;
    rd_kafka_DescribeConsumerGroups(rk, &group, 1, o, q);
}

static int desc_member(crawllog_group_desc_t *d, size_t *cap,
                       const rd_kafka_MemberDescription_t *m)
{
    crawllog_group_member_t *o = &d->members[d->member_count++];
    const char *inst = rd_kafka_MemberDescription_group_instance_id(m);
    const rd_kafka_topic_partition_list_t *a =
        rd_kafka_MemberAssignment_partitions(
            rd_kafka_MemberDescription_assignment(m));
    o->member_id = cl_io_strdup(rd_kafka_MemberDescription_consumer_id(m));
    o->instance_id = cl_io_strdup(inst ? inst : "");
    o->client_id = cl_io_strdup(rd_kafka_MemberDescription_client_id(m));
    o->pid = 0; /* Kafka does not know it (host only) */
    o->alive = 1;
    o->last_poll_age_ms = -1;
    if (!o->member_id || !o->instance_id || !o->client_id) {
        return CRAWLLOG_ENOMEM;
    }
    for (int i = 0; a != NULL && i < a->cnt; i++) {
        long x = cl_group_desc_add_part(d, cap, a->elems[i].topic,
                                        a->elems[i].partition);
        if (x < 0) {
            return CRAWLLOG_ENOMEM;
        }
        d->partitions[x].member_id = o->member_id;
        o->partitions++;
    }
    return 0;
}

/* Members, state and strategy from DescribeConsumerGroups. */
static int desc_members(crawllog_t *log, struct kl_desc *kd, size_t *cap)
{
    crawllog_group_desc_t *d = &kd->pub;
    rd_kafka_event_t *ev = NULL;
    char what[300];
    snprintf(what, sizeof(what), "group %s: DescribeConsumerGroups", kd->group);
    int rc =
        cl_kafka_admin_run(log, start_describe_group, kd->group, what, &ev);
    if (rc != 0) {
        return rc;
    }
    size_t cnt = 0;
    const rd_kafka_ConsumerGroupDescription_t **g =
        rd_kafka_DescribeConsumerGroups_result_groups(
            rd_kafka_event_DescribeConsumerGroups_result(ev), &cnt);
    const rd_kafka_error_t *e =
        cnt ? rd_kafka_ConsumerGroupDescription_error(g[0]) : NULL;
    if (cnt == 0) {
        rc = cl_kafka_log_fail(log, CRAWLLOG_EIO, "%s: empty answer", what);
    } else if (e != NULL && rd_kafka_error_code(e) ==
                                RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE) {
        rc = 0; /* a broker without DescribeGroups: state "Unknown" */
    } else if (e != NULL) {
        rc = cl_kafka_log_fail_rd(log, rd_kafka_error_code(e),
                                  rd_kafka_error_string(e), what);
    } else {
        size_t n = rd_kafka_ConsumerGroupDescription_member_count(g[0]);
        const char *as =
            rd_kafka_ConsumerGroupDescription_partition_assignor(g[0]);
        snprintf(kd->state, sizeof(kd->state), "%s",
                 rd_kafka_consumer_group_state_name(
                     rd_kafka_ConsumerGroupDescription_state(g[0])));
        snprintf(kd->strategy, sizeof(kd->strategy), "%s", as ? as : "");
        d->members = cl_io_calloc(n + 1, sizeof(*d->members));
        rc = d->members ? 0 : CRAWLLOG_ENOMEM;
        for (size_t i = 0; rc == 0 && i < n; i++) {
            rc = desc_member(d, cap,
                             rd_kafka_ConsumerGroupDescription_member(g[0], i));
        }
        if (rc != 0) {
            rc = cl_kafka_log_fail(log, rc, "out of memory");
        }
    }
    rd_kafka_event_destroy(ev);
    return rc;
}

int cl_kafka_group_describe(crawllog_t *log, const char *group,
                            crawllog_group_desc_t **descp)
{
    size_t cap = 0;
    if (descp)
        *descp = NULL;
    int rc = check_group_name(log, "crawllog_group_describe", group);
    if (rc != 0) {
        return rc;
    }
    if (descp == NULL) {
        return cl_kafka_log_fail(log, CRAWLLOG_EINVAL,
                                 "crawllog_group_describe: descp needed");
    }
    struct kl_desc *kd = cl_io_calloc(1, sizeof(*kd));
    if (kd == NULL) {
        return cl_kafka_log_fail(log, CRAWLLOG_ENOMEM, "out of memory");
    }
    crawllog_group_desc_t *d = &kd->pub;
    snprintf(kd->group, sizeof(kd->group), "%s", group);
    snprintf(kd->state, sizeof(kd->state), "Unknown");
    d->group = kd->group;
    d->state = kd->state;
    d->strategy = kd->strategy;
    d->generation = -1;
    d->lag_status = "NOTFOUND";
    rc = desc_committed(log, group, d, &cap);
    if (rc == 0 && !cl_kafka_log_is_mock(log)) {
        rc = desc_members(log, kd, &cap);
    }
    if (rc == 0 && d->partition_count == 0 && d->member_count == 0) {
        rc = cl_kafka_log_fail(log, CRAWLLOG_ENOENT,
                               "group %s: no such group in %s (no committed "
                               "offsets, no members)",
                               group, cl_kafka_log_location(log));
    }
    for (size_t i = 0; rc == 0 && i < d->partition_count; i++) {
        crawllog_group_partition_t *p = &d->partitions[i];
        int64_t lo, hi;
        p->status = "NOTFOUND"; /* no lag history on Kafka */
        if (rd_kafka_query_watermark_offsets(
                cl_kafka_log_handle(log), p->topic, p->partition, &lo, &hi,
                cl_kafka_log_timeout_ms(log)) == 0) {
            p->log_end = hi;
            if (p->committed >= 0) {
                p->lag = hi > p->committed ? hi - p->committed : 0;
            }
        }
    }
    if (rc != 0) {
        crawllog_group_desc_free(d);
        return rc;
    }
    if (d->partition_count > 1) {
        qsort(d->partitions, d->partition_count, sizeof(*d->partitions),
              cl_group_desc_part_cmp);
    }
    *descp = d;
    return 0;
}
