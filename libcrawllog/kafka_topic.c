/*
 * kafka_topic.c - topics of the Kafka backend (layer 5): create, delete,
 * add partitions, list, describe, watermarks (crawllog_topic_*,
 * crawllog_partition_offsets on a Kafka log).  See kafka.h.
 *
 * Owns nothing on disk and no state: each call asks the cluster (admin
 * requests through cl_kafka_admin_run, metadata through kafka_log.c's
 * cache).  On librdkafka's mock cluster (which has no CreateTopics,
 * DeleteTopics, CreatePartitions, DescribeConfigs) a log that runs its own
 * (kafka://mock) creates topics with rd_kafka_mock_topic_create and keeps
 * their confs itself; deleting or growing a topic is CRAWLLOG_ENOTSUP, and
 * so is creating one on another process's mock.
 *
 * Invariants: a topic is never named in a metadata request (the mock and
 * auto.create.topics.enable brokers would create it): existence is checked
 * with all-topics metadata first.  A change returns once metadata shows it
 * (bounded by the log's timeout), so the next call of any client of this
 * log sees it.  Locks: none of its own.  Threads: librdkafka's.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "io.h"
#include "kafka.h"
#include "names.h"

/* Wait until metadata shows topic with want partitions (want 0: gone). */
static int await_topic(crawllog_t *log, const char *topic, int32_t want)
{
    int64_t end =
        cl_io_mono_ns() + (int64_t)cl_kafka_log_timeout_ms(log) * 1000000;
    for (;;) {
        int32_t n = 0;
        int rc = cl_kafka_topic_lookup(log, topic, &n);
        if ((want == 0 && rc == CRAWLLOG_ENOTOPIC) ||
            (want > 0 && rc == 0 && n >= want)) {
            return 0;
        }
        if (rc != 0 && rc != CRAWLLOG_ENOTOPIC) {
            return rc;
        }
        if (cl_io_mono_ns() > end) {
            return cl_kafka_log_fail(
                log, CRAWLLOG_ETIMEDOUT,
                "topic %s: the cluster accepted the change but its metadata "
                "did not show it within %d ms",
                topic, cl_kafka_log_timeout_ms(log));
        }
        rd_kafka_poll(cl_kafka_log_handle(log),
                      100); /* serves nothing: a pause */
    }
}

/* The single topic result of a CreateTopics/DeleteTopics/
 * CreatePartitions event. */
static int topic_result(crawllog_t *log, const rd_kafka_topic_result_t **t,
                        size_t n, const char *what)
{
    if (n < 1) {
        return cl_kafka_log_fail(log, CRAWLLOG_EIO, "%s: empty answer", what);
    }
    rd_kafka_resp_err_t err = rd_kafka_topic_result_error(t[0]);
    return err ? cl_kafka_log_fail_rd(
                     log, err, rd_kafka_topic_result_error_string(t[0]), what)
               : 0;
}

static int check_topic_name(crawllog_t *log, const char *fn, const char *topic)
{
    if (topic == NULL || !cl_names_topic_valid(topic)) {
        return cl_kafka_log_fail(
            log, CRAWLLOG_EINVAL,
            "%s: invalid topic name \"%.64s\": [A-Za-z0-9._-]{1,249}, not . "
            "or ..",
            fn, topic ? topic : "(null)");
    }
    return 0;
}

/* ---- topics -------------------------------------------------------------- */

struct create_args {
    rd_kafka_NewTopic_t *nt;
};

static void start_create(rd_kafka_t *rk, const rd_kafka_AdminOptions_t *o,
                         rd_kafka_queue_t *q, void *arg)
{
    struct create_args *a = arg;
    rd_kafka_CreateTopics(rk, &a->nt, 1, o, q);
}

/* The NewTopic with the topic-scope properties set on eff as configs. */
static int new_topic(crawllog_t *log, const char *topic, int32_t partitions,
                     const crawllog_conf_t *eff, rd_kafka_NewTopic_t **ntp)
{
    char why[512], v[32];
    rd_kafka_NewTopic_t *nt =
        rd_kafka_NewTopic_new(topic, partitions, -1, why, sizeof(why));
    *ntp = NULL;
    if (nt == NULL) {
        return cl_kafka_log_fail(log, CRAWLLOG_EINVAL, "topic %s: %s", topic,
                                 why);
    }
    for (int key = 0; key < CL_CONF__COUNT; key++) {
        if (!cl_conf_is_topic((enum cl_conf_key)key) ||
            !cl_conf_is_set(eff, (enum cl_conf_key)key)) {
            continue;
        }
        snprintf(v, sizeof(v), "%" PRId64,
                 cl_conf_int(eff, (enum cl_conf_key)key));
        rd_kafka_resp_err_t err = rd_kafka_NewTopic_set_config(
            nt, cl_conf_name((enum cl_conf_key)key), v);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            rd_kafka_NewTopic_destroy(nt);
            return cl_kafka_log_fail_rd(log, err, NULL, topic);
        }
    }
    *ntp = nt;
    return 0;
}

int cl_kafka_topic_create(crawllog_t *log, const char *topic,
                          int32_t partitions, const crawllog_conf_t *topic_conf)
{
    char why[CRAWLLOG_ERRSTR_SIZE];
    int32_t n;
    int rc = check_topic_name(log, "crawllog_topic_create", topic);
    if (rc != 0) {
        return rc;
    }
    if (partitions < 1 || partitions > CRAWLLOG_PARTITIONS_MAX) {
        return cl_kafka_log_fail(
            log, CRAWLLOG_EINVAL, "topic %s: partitions: %d is not in 1..%d",
            topic, (int)partitions, CRAWLLOG_PARTITIONS_MAX);
    }
    if (topic_conf && cl_conf_check_topic_only(topic_conf, why, sizeof(why))) {
        return cl_kafka_log_fail(log, CRAWLLOG_EINVAL, "topic %s: %s", topic,
                                 why);
    }
    rc = cl_kafka_topic_lookup(log, topic, &n);
    if (rc == 0) {
        return cl_kafka_log_fail(log, CRAWLLOG_EEXIST,
                                 "topic %s already exists in %s", topic,
                                 cl_kafka_log_location(log));
    }
    if (rc != CRAWLLOG_ENOTOPIC) {
        return rc;
    }
    if (cl_kafka_log_is_mock(log) && !cl_kafka_log_owns_mock(log)) {
        return cl_kafka_log_fail(
            log, CRAWLLOG_ENOTSUP,
            "crawllog_topic_create: topic %s: not supported on librdkafka's "
            "mock cluster of another process (it has no CreateTopics: create "
            "topics where it runs, e.g. kafka_mock --topic %s:%d)",
            topic, topic, (int)partitions);
    }
    if (cl_kafka_log_owns_mock(log)) {
        rc = cl_kafka_log_mock_topic_create(log, topic, partitions, topic_conf);
    } else {
        crawllog_conf_t *eff = NULL;
        struct create_args a = {NULL};
        rd_kafka_event_t *ev = NULL;
        if (cl_conf_merge_topic(&eff, cl_kafka_log_conf(log), topic_conf) !=
            0) {
            return cl_kafka_log_fail(log, CRAWLLOG_ENOMEM, "out of memory");
        }
        rc = new_topic(log, topic, partitions, eff, &a.nt);
        crawllog_conf_destroy(eff);
        if (rc == 0) {
            snprintf(why, sizeof(why), "topic %s: CreateTopics", topic);
            rc = cl_kafka_admin_run(log, start_create, &a, why, &ev);
            rd_kafka_NewTopic_destroy(a.nt);
        }
        if (rc == 0) {
            size_t cnt = 0;
            const rd_kafka_topic_result_t **t =
                rd_kafka_CreateTopics_result_topics(
                    rd_kafka_event_CreateTopics_result(ev), &cnt);
            rc = topic_result(log, t, cnt, why);
            rd_kafka_event_destroy(ev);
        }
    }
    return rc ? rc : await_topic(log, topic, partitions);
}

static void start_delete(rd_kafka_t *rk, const rd_kafka_AdminOptions_t *o,
                         rd_kafka_queue_t *q, void *arg)
{
    rd_kafka_DeleteTopic_t *d = arg;
    rd_kafka_DeleteTopics(rk, &d, 1, o, q);
}

int cl_kafka_topic_delete_flags(crawllog_t *log, const char *topic,
                                unsigned flags)
{
    char what[300];
    int32_t n;
    rd_kafka_event_t *ev = NULL;
    int rc = check_topic_name(log, "crawllog_topic_delete", topic);
    if (rc != 0) {
        return rc;
    }
    if ((flags & ~CRAWLLOG_DELETE_FORCE) != 0) {
        return cl_kafka_log_fail(log, CRAWLLOG_EINVAL,
                                 "crawllog_topic_delete_flags: unknown flags "
                                 "0x%x",
                                 flags);
    }
    if ((rc = cl_kafka_topic_partitions(log, topic, &n)) != 0) {
        return rc;
    }
    if (cl_kafka_log_is_mock(log)) {
        return cl_kafka_log_fail(
            log, CRAWLLOG_ENOTSUP,
            "crawllog_topic_delete: not supported by the Kafka backend on "
            "librdkafka's mock cluster (it cannot delete topics)");
    }
    rd_kafka_DeleteTopic_t *d = rd_kafka_DeleteTopic_new(topic);
    if (d == NULL) {
        return cl_kafka_log_fail(log, CRAWLLOG_ENOMEM, "out of memory");
    }
    snprintf(what, sizeof(what), "topic %s: DeleteTopics", topic);
    rc = cl_kafka_admin_run(log, start_delete, d, what, &ev);
    rd_kafka_DeleteTopic_destroy(d);
    if (rc == 0) {
        size_t cnt = 0;
        const rd_kafka_topic_result_t **t = rd_kafka_DeleteTopics_result_topics(
            rd_kafka_event_DeleteTopics_result(ev), &cnt);
        rc = topic_result(log, t, cnt, what);
        rd_kafka_event_destroy(ev);
    }
    return rc ? rc : await_topic(log, topic, 0);
}

static void start_partitions(rd_kafka_t *rk, const rd_kafka_AdminOptions_t *o,
                             rd_kafka_queue_t *q, void *arg)
{
    rd_kafka_NewPartitions_t *np = arg;
    rd_kafka_CreatePartitions(rk, &np, 1, o, q);
}

int cl_kafka_topic_add_partitions(crawllog_t *log, const char *topic,
                                  int32_t total)
{
    char what[300], why[512];
    int32_t n;
    rd_kafka_event_t *ev = NULL;
    int rc = check_topic_name(log, "crawllog_topic_add_partitions", topic);
    if (rc != 0 || (rc = cl_kafka_topic_partitions(log, topic, &n)) != 0) {
        return rc;
    }
    if (total <= n || total > CRAWLLOG_PARTITIONS_MAX) {
        return cl_kafka_log_fail(log, CRAWLLOG_EINVAL,
                                 "topic %s: %d partitions: the new total must "
                                 "be in %d..%d",
                                 topic, (int)total, (int)n + 1,
                                 CRAWLLOG_PARTITIONS_MAX);
    }
    if (cl_kafka_log_is_mock(log)) {
        return cl_kafka_log_fail(
            log, CRAWLLOG_ENOTSUP,
            "crawllog_topic_add_partitions: not supported by the Kafka "
            "backend on librdkafka's mock cluster (it cannot add "
            "partitions)");
    }
    rd_kafka_NewPartitions_t *np =
        rd_kafka_NewPartitions_new(topic, (size_t)total, why, sizeof(why));
    if (np == NULL) {
        return cl_kafka_log_fail(log, CRAWLLOG_EINVAL, "topic %s: %s", topic,
                                 why);
    }
    snprintf(what, sizeof(what), "topic %s: CreatePartitions", topic);
    rc = cl_kafka_admin_run(log, start_partitions, np, what, &ev);
    rd_kafka_NewPartitions_destroy(np);
    if (rc == 0) {
        size_t cnt = 0;
        const rd_kafka_topic_result_t **t =
            rd_kafka_CreatePartitions_result_topics(
                rd_kafka_event_CreatePartitions_result(ev), &cnt);
        rc = topic_result(log, t, cnt, what);
        rd_kafka_event_destroy(ev);
    }
    return rc ? rc : await_topic(log, topic, total);
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int cl_kafka_topic_list(crawllog_t *log, char ***namesp, size_t *countp)
{
    char **names = NULL;
    int32_t *counts = NULL;
    size_t n = 0;
    if (namesp)
        *namesp = NULL;
    if (countp)
        *countp = 0;
    if (namesp == NULL || countp == NULL) {
        return cl_kafka_log_fail(log, CRAWLLOG_EINVAL,
                                 "crawllog_topic_list: namesp and countp "
                                 "needed");
    }
    int rc = cl_kafka_topic_snapshot(log, &names, &counts, &n);
    cl_io_free(counts);
    if (rc != 0) {
        return rc;
    }
    if (n == 0) {
        cl_io_free(names); /* as the file backend: NULL, 0 */
        return 0;
    }
    qsort(names, n, sizeof(*names), cmp_name);
    *namesp = names;
    *countp = n;
    return 0;
}

static void start_describe_configs(rd_kafka_t *rk,
                                   const rd_kafka_AdminOptions_t *o,
                                   rd_kafka_queue_t *q, void *arg)
{
    rd_kafka_ConfigResource_t *r = arg;
    rd_kafka_DescribeConfigs(rk, &r, 1, o, q);
}

/* The topic-scope properties the cluster reports for topic into conf
 * (those crawllog does not know or cannot hold are skipped). */
static int describe_configs(crawllog_t *log, const char *topic,
                            crawllog_conf_t *conf)
{
    char what[300];
    rd_kafka_event_t *ev = NULL;
    rd_kafka_ConfigResource_t *r =
        rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
    if (r == NULL) {
        return cl_kafka_log_fail(log, CRAWLLOG_ENOMEM, "out of memory");
    }
    snprintf(what, sizeof(what), "topic %s: DescribeConfigs", topic);
    int rc = cl_kafka_admin_run(log, start_describe_configs, r, what, &ev);
    rd_kafka_ConfigResource_destroy(r);
    if (rc != 0) {
        return rc;
    }
    size_t nres = 0, nent = 0;
    const rd_kafka_ConfigResource_t **res =
        rd_kafka_DescribeConfigs_result_resources(
            rd_kafka_event_DescribeConfigs_result(ev), &nres);
    if (nres < 1) {
        rc = cl_kafka_log_fail(log, CRAWLLOG_EIO, "%s: empty answer", what);
    } else if (rd_kafka_ConfigResource_error(res[0]) != 0) {
        rc = cl_kafka_log_fail_rd(log, rd_kafka_ConfigResource_error(res[0]),
                                  rd_kafka_ConfigResource_error_string(res[0]),
                                  what);
    } else {
        const rd_kafka_ConfigEntry_t **e =
            rd_kafka_ConfigResource_configs(res[0], &nent);
        for (size_t i = 0; i < nent; i++) {
            const char *name = rd_kafka_ConfigEntry_name(e[i]);
            const char *value = rd_kafka_ConfigEntry_value(e[i]);
            for (int key = 0; value != NULL && key < CL_CONF__COUNT; key++) {
                if (cl_conf_is_topic((enum cl_conf_key)key) &&
                    strcmp(cl_conf_name((enum cl_conf_key)key), name) == 0) {
                    /* A value out of crawllog's range keeps the default. */
                    crawllog_conf_set(conf, name, value, NULL, 0);
                }
            }
        }
    }
    rd_kafka_event_destroy(ev);
    return rc;
}

int cl_kafka_topic_describe(crawllog_t *log, const char *topic,
                            int32_t *partitionsp, crawllog_conf_t **confp)
{
    int32_t n;
    crawllog_conf_t *conf = NULL;
    if (partitionsp)
        *partitionsp = -1;
    if (confp)
        *confp = NULL;
    int rc = check_topic_name(log, "crawllog_topic_describe", topic);
    if (rc != 0 || (rc = cl_kafka_topic_partitions(log, topic, &n)) != 0) {
        return rc;
    }
    if (confp != NULL && cl_kafka_log_is_mock(log)) {
        /* The mock keeps no topic configs: what this handle created it
         * with, over the log's conf (as the file backend stores it). */
        if ((rc = cl_kafka_log_mock_topic_conf(log, topic, &conf)) != 0) {
            return rc;
        }
    } else if (confp != NULL) {
        if (crawllog_conf_new(&conf) != 0) {
            return cl_kafka_log_fail(log, CRAWLLOG_ENOMEM, "out of memory");
        }
        if ((rc = describe_configs(log, topic, conf)) != 0) {
            crawllog_conf_destroy(conf);
            return rc;
        }
    }
    if (partitionsp)
        *partitionsp = n;
    if (confp)
        *confp = conf;
    return 0;
}

/* ENOTOPIC unless topic has partition p. */
static int check_partition(crawllog_t *log, const char *topic, int32_t p)
{
    int32_t n;
    int rc = cl_kafka_topic_partitions(log, topic, &n);
    if (rc == 0 && (p < 0 || p >= n)) {
        rc = cl_kafka_log_fail(log, CRAWLLOG_ENOTOPIC,
                               "topic %s has %d partitions: no partition %d",
                               topic, (int)n, (int)p);
    }
    return rc;
}

int cl_kafka_partition_offsets(crawllog_t *log, const char *topic,
                               int32_t partition, int64_t *startp,
                               int64_t *endp)
{
    char what[300];
    int64_t lo = -1, hi = -1;
    if (startp)
        *startp = -1;
    if (endp)
        *endp = -1;
    int rc = check_topic_name(log, "crawllog_partition_offsets", topic);
    if (rc != 0 || (rc = check_partition(log, topic, partition)) != 0) {
        return rc;
    }
    rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
        cl_kafka_log_handle(log), topic, partition, &lo, &hi,
        cl_kafka_log_timeout_ms(log));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(what, sizeof(what), "topic %s partition %d: watermarks", topic,
                 (int)partition);
        return cl_kafka_log_fail_rd(log, err, NULL, what);
    }
    if (startp)
        *startp = lo;
    if (endp)
        *endp = hi;
    return 0;
}
