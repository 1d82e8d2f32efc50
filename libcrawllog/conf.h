/*
 * conf.h - configuration properties, internal view (layer 0).
 *
 * The public API (crawllog_conf_new/destroy/dup/set/get/dump) is declared in
 * crawllog.h.  Internally a conf is read by key, as a number: bools are 0/1,
 * modes are permission bits, names (producer.id) strings via cl_conf_str,
 * everything else int64.  One property table in
 * conf.c defines every property; the keys below index it.
 */
#ifndef CL_CONF_H
#define CL_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "crawllog.h"

/* In property-table order (also the order of dumps and serialisations). */
enum cl_conf_key {
    CL_CONF_BACKEND,
    CL_CONF_LOG_DIR_CREATE,
    CL_CONF_LOG_DIR_MODE,
    CL_CONF_LOG_FILE_MODE,
    CL_CONF_LOG_BUFFER_BYTES,
    CL_CONF_LOG_FLUSH_PARALLELISM,
    CL_CONF_SEGMENT_BYTES,
    CL_CONF_SEGMENT_MS,
    CL_CONF_RETENTION_MS,
    CL_CONF_RETENTION_BYTES,
    CL_CONF_INDEX_INTERVAL_BYTES,
    CL_CONF_SEGMENT_INDEX_BYTES,
    CL_CONF_MAX_MESSAGE_BYTES,
    CL_CONF_ACKS,               /* PRODUCER scope from here on */
    CL_CONF_LINGER_MS,
    CL_CONF_BATCH_SIZE,
    CL_CONF_PARTITIONER,
    CL_CONF_ENABLE_IDEMPOTENCE,
    CL_CONF_PRODUCER_ID,
    CL_CONF_TRANSACTIONAL_ID,
    CL_CONF_TRANSACTION_TIMEOUT_MS,
    CL_CONF_GROUP_ID,           /* CONSUMER scope from here on */
    CL_CONF_GROUP_INSTANCE_ID,
    CL_CONF_CLIENT_ID,
    CL_CONF_AUTO_OFFSET_RESET,
    CL_CONF_ENABLE_AUTO_COMMIT,
    CL_CONF_AUTO_COMMIT_INTERVAL_MS,
    CL_CONF_MAX_POLL_INTERVAL_MS,
    CL_CONF_SESSION_TIMEOUT_MS,
    CL_CONF_HEARTBEAT_INTERVAL_MS,
    CL_CONF_PARTITION_ASSIGNMENT_STRATEGY,
    CL_CONF_MAX_POLL_RECORDS,
    CL_CONF_MAX_PARTITION_FETCH_BYTES,
    CL_CONF_DEAD_LETTER_TOPIC,
    CL_CONF_MAX_DELIVERIES,
    CL_CONF_MAX_ATTEMPTS,
    CL_CONF_RETRY_BACKOFF_MS,
    CL_CONF_RETRY_BACKOFF_MAX_MS,
    CL_CONF_ISOLATION_LEVEL,
    CL_CONF__COUNT
};

/* Values of the enumerated producer properties (cl_conf_int). */
#define CL_CONF_ACKS_0 0   /* "0" */
#define CL_CONF_ACKS_1 1   /* "1" */
#define CL_CONF_ACKS_ALL 2 /* "all" (also "-1") */
#define CL_CONF_PARTITIONER_ROUND_ROBIN 0
#define CL_CONF_PARTITIONER_STICKY 1
#define CL_CONF_PARTITIONER_MURMUR2_RANDOM 2
#define CL_CONF_RESET_EARLIEST 0
#define CL_CONF_RESET_LATEST 1
#define CL_CONF_RESET_ERROR 2
#define CL_CONF_ISOLATION_READ_UNCOMMITTED 0
#define CL_CONF_ISOLATION_READ_COMMITTED 1
#define CL_CONF_BACKEND_FILE 0
#define CL_CONF_BACKEND_KAFKA 1

/* Pass-through properties "kafka.<name>" (any scope): kept verbatim for
 * the Kafka backend, which hands <name>=value to librdkafka (and reports a
 * name librdkafka refuses); the file backend ignores them.  At most
 * CL_CONF_KAFKA_MAX per conf; <name> up to CL_CONF_KAFKA_NAME_MAX bytes of
 * [a-z0-9._-], a value up to CL_CONF_KAFKA_VALUE_MAX bytes. */
#define CL_CONF_KAFKA_MAX 24
#define CL_CONF_KAFKA_NAME_MAX 63
#define CL_CONF_KAFKA_VALUE_MAX 1023

/* How many kafka.* properties conf holds (0 for NULL). */
size_t cl_conf_kafka_count(const crawllog_conf_t *conf);

/* The i-th (in the order first set): *namep without the "kafka." prefix,
 * *valuep; valid while conf is and not set again. */
void cl_conf_kafka_at(const crawllog_conf_t *conf, size_t i,
                      const char **namep, const char **valuep);

/* Bytes of one index entry: segment.index.bytes is used rounded down to a
 * multiple of this. */
#define CL_CONF_INDEX_ENTRY_BYTES 12

/* Value of key k: the value set on conf, else the default (also when conf
 * is NULL).  Bools are 0/1.  segment.index.bytes comes back rounded down to
 * a multiple of CL_CONF_INDEX_ENTRY_BYTES; crawllog_conf_get() and the dumps
 * show the value as set. */
int64_t cl_conf_int(const crawllog_conf_t *conf, enum cl_conf_key k);

/* Value of a name-valued key (producer.id): "" when unset.  Valid while
 * conf is. */
const char *cl_conf_str(const crawllog_conf_t *conf, enum cl_conf_key k);

/* 1 if k was set explicitly on conf (by crawllog_conf_set, a parse, or a
 * merge that took it from a conf where it was set), else 0. */
int cl_conf_is_set(const crawllog_conf_t *conf, enum cl_conf_key k);

/* 1 if k is a topic-scope property (may be overridden per topic).
 * Producer-scope properties (acks, linger.ms, ...) are neither topic
 * properties nor used by crawllog_open(): crawllog_producer_new() reads
 * them; they are refused on a topic conf like log-scope ones. */
int cl_conf_is_topic(enum cl_conf_key k);

/* The property's name, e.g. "segment.bytes". */
const char *cl_conf_name(enum cl_conf_key k);

/* Effective topic conf into *outp (new; destroy it): LOG-scope keys as in
 * log_conf; each TOPIC-scope key from topic_conf if set there, else from
 * log_conf if set there, else the default.  Either input may be NULL.
 * Returns 0 or CRAWLLOG_ENOMEM (*outp NULL). */
int cl_conf_merge_topic(crawllog_conf_t **outp,
                        const crawllog_conf_t *log_conf,
                        const crawllog_conf_t *topic_conf);

/* Every TOPIC-scope property as "name=value\n" lines, effective values (set
 * or default), in table order, into a malloc'd NUL-terminated *textp.
 * conf NULL means all defaults.  Returns 0 or CRAWLLOG_ENOMEM. */
int cl_conf_topic_serialize(const crawllog_conf_t *conf, char **textp);

/* Parse such text (len bytes, need not be NUL-terminated) into conf,
 * marking each property found as set.  Blank lines are ignored.  Returns 0,
 * or CRAWLLOG_ECORRUPT with errstr naming the line ("line 3: ...") for a
 * line without '=', an unknown or LOG-scope name, a repeated name, a bad
 * value or a NUL byte; conf is then unchanged. */
int cl_conf_topic_parse(crawllog_conf_t *conf, const char *text, size_t len,
                        char *errstr, size_t errstr_size);

/* 0 if conf (NULL is fine) sets only TOPIC-scope keys, else CRAWLLOG_EINVAL
 * with errstr naming the first LOG-scope key set. */
int cl_conf_check_topic_only(const crawllog_conf_t *conf, char *errstr,
                             size_t errstr_size);

/* The body of docs/CONFIGURATION.md (Markdown: title, intro, one table row
 * per property) into a malloc'd *textp.  Returns 0 or CRAWLLOG_ENOMEM. */
int cl_conf_markdown(char **textp);

#endif /* CL_CONF_H */
