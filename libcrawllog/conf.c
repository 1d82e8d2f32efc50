/*
 * conf.c - configuration properties (layer 0).
 *
 * Purpose: one property table (name, type, default, bounds, scope, doc)
 * drives everything about configuration: crawllog_conf_set() parsing and
 * range checks, crawllog_conf_get() and crawllog_conf_dump() formatting,
 * the internal numeric view (cl_conf_int), merging topic overrides over the
 * log's conf, the "name=value" text stored in topic metadata, and the
 * generated docs/CONFIGURATION.md.  Adding a property means adding one
 * table row and one enum cl_conf_key value, nothing else.
 *
 * On disk: nothing itself.  cl_conf_topic_serialize() produces, and
 * cl_conf_topic_parse() reads back, the text that topic.c stores:
 *
 *   segment.bytes=1073741824\n
 *   segment.ms=604800000\n
 *   ...                         (every TOPIC-scope property, table order)
 *
 * Invariants: a conf only ever holds values that passed their property's
 * checks; a failed set or parse leaves the conf unchanged.  Values are kept
 * as numbers, and the few name-valued properties (producer.id) in fixed
 * character slots, so a conf is a flat struct and dup/merge are plain
 * copies.
 *
 * Locks: none.  A conf is not modified concurrently (crawllog.h); reading
 * one from several threads is fine.  Allocation goes through io.h.
 */
#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "errors.h"
#include "io.h"
#include "names.h"

/* ---------------------------------------------------------------------- */
/* The property table                                                      */
/* ---------------------------------------------------------------------- */

/* PROP_NAME: a name (the characters and length of a topic name), or ""
 * (unset); stored in a slot of crawllog_conf_s.names, def = slot. */
enum prop_type { PROP_BOOL, PROP_INT64, PROP_MODE, PROP_ENUM, PROP_NAME };
enum prop_scope { SCOPE_LOG, SCOPE_TOPIC, SCOPE_PRODUCER, SCOPE_CONSUMER };

struct prop {
    const char *name;
    enum prop_type type;
    int64_t def, min, max;
    int64_t forbid; /* PROP_MODE: bits that must not be set */
    enum prop_scope scope;
    const char *doc;
    const char *const *names; /* PROP_ENUM: value v is names[v] */
};

/* PROP_ENUM value names (NULL-terminated; min..max index them). */
static const char *const acks_names[] = {"0", "1", "all", NULL};
static const char *const partitioner_names[] = {
    "round_robin", "sticky", "murmur2_random", NULL};
static const char *const reset_names[] = {"earliest", "latest", "error",
                                          NULL};
static const char *const isolation_names[] = {"read_uncommitted",
                                              "read_committed", NULL};
static const char *const backend_names[] = {"file", "kafka", NULL};
static const char *const strategy_names[] = {"range", "roundrobin",
                                             "cooperative-sticky", NULL};

/* 2 GiB - 1: segment positions and index entries are 32-bit. */
#define I32MAX ((int64_t)INT32_MAX)
#define WORLD_WRITABLE 02

/* Modes: a minimum of 0700 (0600) with a maximum of 0777 means every
 * accepted value has the owner bits 0700 (0600) set. */
static const struct prop props[CL_CONF__COUNT] = {
    [CL_CONF_BACKEND] = {"backend", PROP_ENUM, 0, 0, 1, 0, SCOPE_LOG,
        "`file`: the location given to crawllog_open() is a data directory; "
        "`kafka`: it is a Kafka cluster (`host:port[,host:port]`, like a "
        "`kafka://` location; needs a library built with `make kafka`, see "
        "docs/SCALING.md).  Properties `kafka.<name>` (any scope) are "
        "handed to librdkafka as `<name>` by the Kafka backend and ignored "
        "by the file backend.", backend_names},
    [CL_CONF_LOG_DIR_CREATE] = {"log.dir.create", PROP_BOOL, 1, 0, 1, 0,
        SCOPE_LOG, "Create the data directory if it is missing.", NULL},
    [CL_CONF_LOG_DIR_MODE] = {"log.dir.mode", PROP_MODE, 0700, 0700, 0777,
        WORLD_WRITABLE, SCOPE_LOG,
        "Permission bits of directories the library creates; never "
        "world-writable.  A data directory owned by another uid is opened "
        "only when this is 0770 and log.file.mode 0660 (shared with the "
        "group).", NULL},
    [CL_CONF_LOG_FILE_MODE] = {"log.file.mode", PROP_MODE, 0600, 0600, 0777,
        WORLD_WRITABLE, SCOPE_LOG,
        "Permission bits of files the library creates: must include owner "
        "read and write (0600), never world-writable.", NULL},
    [CL_CONF_LOG_BUFFER_BYTES] = {"log.buffer.bytes", PROP_INT64, 1048576, 0,
        1073741824, 0, SCOPE_LOG,
        "Bytes of CRAWLLOG_SYNC_NONE appends buffered per partition before "
        "they are written.", NULL},
    [CL_CONF_LOG_FLUSH_PARALLELISM] = {"log.flush.parallelism", PROP_INT64,
        8, 1, 64, 0, SCOPE_LOG,
        "Most fdatasyncs a durable crawllog_flush() issues at once when "
        "several partitions have unsynced writes (ext4 then shares journal "
        "commits between them): the calling thread plus up to this many - 1 "
        "worker threads of the handle, created on the first such flush and "
        "joined by crawllog_close().  1 = one after the other, no thread.",
        NULL},
    [CL_CONF_SEGMENT_BYTES] = {"segment.bytes", PROP_INT64, 1073741824, 4096,
        I32MAX, 0, SCOPE_TOPIC,
        "Largest size of a segment file; the next segment is rolled before "
        "an append would pass it.", NULL},
    [CL_CONF_SEGMENT_MS] = {"segment.ms", PROP_INT64, 604800000, 1,
        INT64_MAX, 0, SCOPE_TOPIC,
        "Roll a new segment when the active one is older than this many "
        "milliseconds (checked by crawllog_maintain()).", NULL},
    [CL_CONF_RETENTION_MS] = {"retention.ms", PROP_INT64, 604800000, -1,
        INT64_MAX, 0, SCOPE_TOPIC,
        "Delete whole segments whose newest record is older than this many "
        "milliseconds; -1 means no time limit.", NULL},
    [CL_CONF_RETENTION_BYTES] = {"retention.bytes", PROP_INT64, -1, -1,
        INT64_MAX, 0, SCOPE_TOPIC,
        "Delete the oldest whole segments while a partition is larger than "
        "this; -1 means no size limit.", NULL},
    [CL_CONF_INDEX_INTERVAL_BYTES] = {"index.interval.bytes", PROP_INT64,
        4096, 0, I32MAX, 0, SCOPE_TOPIC,
        "Bytes of log between two entries of the sparse offset index; 0 "
        "indexes every batch.", NULL},
    [CL_CONF_SEGMENT_INDEX_BYTES] = {"segment.index.bytes", PROP_INT64,
        10485760, 4096, I32MAX, 0, SCOPE_TOPIC,
        "Size of a segment's index files, used rounded down to a multiple of "
        "12 bytes (one entry).", NULL},
    [CL_CONF_MAX_MESSAGE_BYTES] = {"max.message.bytes", PROP_INT64, 1048588,
        64, I32MAX, 0, SCOPE_TOPIC,
        "Largest record batch accepted, including its 12-byte log overhead; "
        "a larger append fails with CRAWLLOG_ETOOBIG.", NULL},
    [CL_CONF_ACKS] = {"acks", PROP_ENUM, 2, 0, 2, 0, SCOPE_PRODUCER,
        "Producer acknowledgement: `0` buffers in the producer (written on "
        "linger.ms expiry, a full batch, flush or destroy; lost if the "
        "process dies), `1` writes to the OS before a send returns, `all` "
        "(or `-1`) fdatasyncs before a send returns (group commit).",
        acks_names},
    [CL_CONF_LINGER_MS] = {"linger.ms", PROP_INT64, 5, 0, 3600000, 0,
        SCOPE_PRODUCER,
        "With acks=0: longest time a buffered message waits before it is "
        "written (checked by send, poll and flush; no thread).", NULL},
    [CL_CONF_BATCH_SIZE] = {"batch.size", PROP_INT64, 16384, 64, I32MAX, 0,
        SCOPE_PRODUCER,
        "With acks=0: bytes of one partition's buffered batch (capped by "
        "max.message.bytes) after which it is written at once.", NULL},
    [CL_CONF_PARTITIONER] = {"partitioner", PROP_ENUM, 0, 0, 2, 0,
        SCOPE_PRODUCER,
        "Partition of a message sent with CRAWLLOG_PARTITION_ANY and a NULL "
        "key (keyed messages always use murmur2 unless a custom partitioner "
        "is set): `round_robin`, `sticky` or `murmur2_random` (random).",
        partitioner_names},
    [CL_CONF_ENABLE_IDEMPOTENCE] = {"enable.idempotence", PROP_BOOL, 1, 0,
        1, 0, SCOPE_PRODUCER,
        "Idempotent producer: batches carry the producer id, epoch and "
        "per-partition sequence numbers; a re-sent batch is not written "
        "twice, a sequence gap is CRAWLLOG_ESEQUENCE.", NULL},
    [CL_CONF_PRODUCER_ID] = {"producer.id", PROP_NAME, 0, 0, 0, 0,
        SCOPE_PRODUCER,
        "Stable name of an idempotent producer (characters of a topic name). "
        "A producer re-created with the same name continues its sequences "
        "and fences the older instance (CRAWLLOG_EFENCED).  Empty: a fresh "
        "anonymous id per producer.", NULL},
    [CL_CONF_TRANSACTIONAL_ID] = {"transactional.id", PROP_NAME, 5, 0, 0, 0,
        SCOPE_PRODUCER,
        "Makes the producer transactional (crawllog_txn_begin() .. "
        "_commit()): its sends are invisible to read_committed consumers "
        "until the commit.  A new producer with the same id fences the "
        "older instance and finishes its open transaction (aborts it, or "
        "completes it if its commit was decided).  Implies idempotence; "
        "producer.id must be empty or the same name.", NULL},
    [CL_CONF_TRANSACTION_TIMEOUT_MS] = {"transaction.timeout.ms", PROP_INT64,
        60000, 1, I32MAX, 0, SCOPE_PRODUCER,
        "A transaction open longer than this may be aborted by any other "
        "process of the log (crawllog_open(), a read_committed reader "
        "blocked behind it, a consumer starting a partition whose offset it "
        "staged, crawllog_txn_recover()), fencing its producer "
        "(CRAWLLOG_EFENCED).  Stored with the transaction.", NULL},
    [CL_CONF_GROUP_ID] = {"group.id", PROP_NAME, 1, 0, 0, 0, SCOPE_CONSUMER,
        "Consumer group name (characters of a topic name); needed by "
        "crawllog_consumer_subscribe() and for commits.", NULL},
    [CL_CONF_GROUP_INSTANCE_ID] = {"group.instance.id", PROP_NAME, 2, 0, 0,
        0, SCOPE_CONSUMER,
        "Static membership: a member that restarts with the same id within "
        "session.timeout.ms gets its partitions back without a rebalance. "
        "Empty: a dynamic member.", NULL},
    [CL_CONF_CLIENT_ID] = {"client.id", PROP_NAME, 3, 0, 0, 0,
        SCOPE_CONSUMER,
        "Prefix of the member id and shown by crawllog_group_describe(); "
        "empty means `crawllog`.", NULL},
    [CL_CONF_AUTO_OFFSET_RESET] = {"auto.offset.reset", PROP_ENUM, 1, 0, 2,
        0, SCOPE_CONSUMER,
        "Where a partition with no committed offset (or one outside the "
        "log) starts: `earliest`, `latest`, or `error` (poll fails with "
        "CRAWLLOG_EOFFSET).", reset_names},
    [CL_CONF_ENABLE_AUTO_COMMIT] = {"enable.auto.commit", PROP_BOOL, 0, 0, 1,
        0, SCOPE_CONSUMER,
        "Commit the positions of delivered messages from poll every "
        "auto.commit.interval.ms, and durably at close.  Off by default: "
        "commit after the work is done.", NULL},
    [CL_CONF_AUTO_COMMIT_INTERVAL_MS] = {"auto.commit.interval.ms",
        PROP_INT64, 5000, 1, I32MAX, 0, SCOPE_CONSUMER,
        "Interval of automatic commits.", NULL},
    [CL_CONF_MAX_POLL_INTERVAL_MS] = {"max.poll.interval.ms", PROP_INT64,
        300000, 1, I32MAX, 0, SCOPE_CONSUMER,
        "A member that does not call poll for this long is expelled from the "
        "group by the others; its partitions move and its commits fail with "
        "CRAWLLOG_EGENERATION.", NULL},
    [CL_CONF_SESSION_TIMEOUT_MS] = {"session.timeout.ms", PROP_INT64, 45000,
        1, I32MAX, 0, SCOPE_CONSUMER,
        "How long a dead static member (group.instance.id) keeps its "
        "partitions, waiting to be restarted.  Dead dynamic members are "
        "detected at once through their lock, not by this timeout.", NULL},
    [CL_CONF_HEARTBEAT_INTERVAL_MS] = {"heartbeat.interval.ms", PROP_INT64,
        100, 1, 60000, 0, SCOPE_CONSUMER,
        "How often a member blocked in or calling poll checks the others' "
        "liveness locks and poll deadlines: a crashed member's partitions "
        "move within about this long.", NULL},
    [CL_CONF_PARTITION_ASSIGNMENT_STRATEGY] = {
        "partition.assignment.strategy", PROP_ENUM, 2, 0, 2, 0,
        SCOPE_CONSUMER,
        "Assignor of the group: `range`, `roundrobin` (eager: every member "
        "revokes everything at a rebalance) or `cooperative-sticky` (only "
        "moved partitions are revoked).  All members must agree.",
        strategy_names},
    [CL_CONF_MAX_POLL_RECORDS] = {"max.poll.records", PROP_INT64, 500, 1,
        I32MAX, 0, SCOPE_CONSUMER,
        "Most messages one crawllog_consumer_poll() returns (also capped by "
        "its max argument).", NULL},
    [CL_CONF_MAX_PARTITION_FETCH_BYTES] = {"max.partition.fetch.bytes",
        PROP_INT64, 1048576, 4096, I32MAX, 0, SCOPE_CONSUMER,
        "Bytes read from one partition at a time (at least one whole batch "
        "is always read).", NULL},
    [CL_CONF_ISOLATION_LEVEL] = {"isolation.level", PROP_ENUM, 1, 0, 1, 0,
        SCOPE_CONSUMER,
        "`read_committed`: records of a transaction are delivered only once "
        "it committed (poll stops at the first record of a transaction still "
        "open, the last stable offset) and records of aborted transactions "
        "are skipped; `read_uncommitted`: every data record as soon as it is "
        "written.  Transaction markers are never delivered.",
        isolation_names},
    [CL_CONF_DEAD_LETTER_TOPIC] = {"dead.letter.topic", PROP_NAME, 4, 0, 0, 0,
        SCOPE_CONSUMER,
        "Topic that crawllog_consumer_dead_letter() writes to; empty means "
        "`<topic>.dlt` (created on demand with the partition count of the "
        "message's topic).", NULL},
    [CL_CONF_MAX_DELIVERIES] = {"max.deliveries", PROP_INT64, 5, 0, 1000000,
        0, SCOPE_CONSUMER,
        "Poison pills: the group counts how often the message at a "
        "partition's committed offset is handed out; the max.deliveries + "
        "1-th time (the consumers it went to died or gave the partition up "
        "before committing past it) it is dead-lettered instead and the "
        "partition moves on.  0 turns this off.", NULL},
    [CL_CONF_MAX_ATTEMPTS] = {"max.attempts", PROP_INT64, 3, 1, 1000, 0,
        SCOPE_CONSUMER,
        "crawllog_consumer_process(): attempts at processing a message "
        "before it is dead-lettered.", NULL},
    [CL_CONF_RETRY_BACKOFF_MS] = {"retry.backoff.ms", PROP_INT64, 100, 0,
        3600000, 0, SCOPE_CONSUMER,
        "crawllog_consumer_process(): wait before the second attempt; it "
        "doubles for each later one.", NULL},
    [CL_CONF_RETRY_BACKOFF_MAX_MS] = {"retry.backoff.max.ms", PROP_INT64,
        10000, 0, 3600000, 0, SCOPE_CONSUMER,
        "crawllog_consumer_process(): the longest wait between two "
        "attempts.", NULL},
};

/* Slot of each PROP_NAME property (its def). */
#define NAME_SLOTS 6

struct crawllog_conf_s {
    int64_t val[CL_CONF__COUNT];        /* valid where set[k] */
    unsigned char set[CL_CONF__COUNT];  /* 1: explicitly set */
    char names[NAME_SLOTS][CRAWLLOG_TOPIC_NAME_MAX + 1]; /* PROP_NAME */
    size_t nkafka;                      /* kafka.* pass-through */
    struct {
        char name[CL_CONF_KAFKA_NAME_MAX + 1];
        char value[CL_CONF_KAFKA_VALUE_MAX + 1];
    } kafka[CL_CONF_KAFKA_MAX];
};

#define KAFKA_PREFIX "kafka."

/* The slot of kafka.<name> on conf, -1 if not set. */
static int kafka_find(const crawllog_conf_t *conf, const char *name)
{
    for (size_t i = 0; i < conf->nkafka; i++) {
        if (strcmp(conf->kafka[i].name, name) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* Set kafka.<name> (name without the prefix). */
static int kafka_set(crawllog_conf_t *conf, const char *name,
                     const char *value, struct cl_err *err)
{
    size_t n = strlen(name);
    if (n == 0 || n > CL_CONF_KAFKA_NAME_MAX ||
        strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789._-") != n) {
        return cl_errf(err, CRAWLLOG_EINVAL,
                       "kafka.%.64s: not a librdkafka property name (1 to %d "
                       "of [a-z0-9._-])", name, CL_CONF_KAFKA_NAME_MAX);
    }
    if (strlen(value) > CL_CONF_KAFKA_VALUE_MAX) {
        return cl_errf(err, CRAWLLOG_EINVAL,
                       "kafka.%s: value longer than %d bytes", name,
                       CL_CONF_KAFKA_VALUE_MAX);
    }
    int i = kafka_find(conf, name);
    if (i < 0) {
        if (conf->nkafka == CL_CONF_KAFKA_MAX) {
            return cl_errf(err, CRAWLLOG_EINVAL,
                           "kafka.%s: more than %d kafka.* properties", name,
                           CL_CONF_KAFKA_MAX);
        }
        i = (int)conf->nkafka++;
        memcpy(conf->kafka[i].name, name, n + 1);
    }
    snprintf(conf->kafka[i].value, sizeof(conf->kafka[i].value), "%s",
             value);
    return 0;
}

size_t cl_conf_kafka_count(const crawllog_conf_t *conf)
{
    return conf != NULL ? conf->nkafka : 0;
}

void cl_conf_kafka_at(const crawllog_conf_t *conf, size_t i,
                      const char **namep, const char **valuep)
{
    *namep = conf->kafka[i].name;
    *valuep = conf->kafka[i].value;
}

static int find_prop(const char *name)
{
    for (int k = 0; k < CL_CONF__COUNT; k++) {
        if (strcmp(props[k].name, name) == 0) {
            return k;
        }
    }
    return -1;
}

/* Stored value: set or default; never rounded. */
static int64_t raw_value(const crawllog_conf_t *conf, int k)
{
    if (props[k].type == PROP_NAME) {
        return 0; /* names are read with cl_conf_str; def is their slot */
    }
    if (conf != NULL && conf->set[k]) {
        return conf->val[k];
    }
    return props[k].def;
}

/* ---------------------------------------------------------------------- */
/* Parsing and formatting one value                                        */
/* ---------------------------------------------------------------------- */

/* Decimal with an optional '-': 0, -1 malformed, -2 out of int64 range. */
static int parse_int64(const char *s, int64_t *out)
{
    int neg = (*s == '-');
    const char *p = s + neg;
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t v = 0;
    if (*p == '\0') {
        return -1;
    }
    for (; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            return -1;
        }
        uint64_t d = (uint64_t)(*p - '0');
        if (v > (limit - d) / 10) {
            return -2;
        }
        v = v * 10 + d;
    }
    /* -(v - 1) - 1 reaches INT64_MIN without overflowing. */
    *out = neg && v > 0 ? -(int64_t)(v - 1) - 1 : (int64_t)v;
    return 0;
}

/* Octal digits ("0640" or "640"): 0, -1 malformed; huge values saturate. */
static int parse_mode(const char *s, int64_t *out)
{
    int64_t v = 0;
    if (*s == '\0') {
        return -1;
    }
    for (const char *p = s; *p != '\0'; p++) {
        if (*p < '0' || *p > '7') {
            return -1;
        }
        if (v <= 07777777) {
            v = v * 8 + (*p - '0');
        }
    }
    *out = v;
    return 0;
}

static int parse_bool(const char *s, int64_t *out)
{
    int yes = strcmp(s, "true") == 0 || strcmp(s, "1") == 0;
    int no = strcmp(s, "false") == 0 || strcmp(s, "0") == 0;
    *out = yes;
    return yes || no ? 0 : -1;
}

/* One of pr->names ("all" of acks also as "-1"): 0, -1 unknown. */
static int parse_enum(const struct prop *pr, const char *s, int64_t *out)
{
    for (int64_t i = 0; pr->names[i] != NULL; i++) {
        if (strcmp(pr->names[i], s) == 0) {
            *out = i;
            return 0;
        }
    }
    if (pr->names == acks_names && strcmp(s, "-1") == 0) {
        *out = CL_CONF_ACKS_ALL;
        return 0;
    }
    return -1;
}

static void format_value(const struct prop *pr, int64_t v, char *buf,
                         size_t size)
{
    switch (pr->type) {
    case PROP_NAME:
        snprintf(buf, size, "%s", "");
        break;
    case PROP_BOOL:
        snprintf(buf, size, "%s", v ? "true" : "false");
        break;
    case PROP_MODE:
        snprintf(buf, size, "0%03" PRIo64, (uint64_t)v);
        break;
    case PROP_ENUM:
        snprintf(buf, size, "%s", pr->names[v]);
        break;
    default:
        snprintf(buf, size, "%" PRId64, v);
        break;
    }
}

/* Bounds and mode bits of an already parsed value. */
static int check_value(const struct prop *pr, int64_t v, struct cl_err *err)
{
    char vs[32], bs[32];
    format_value(pr, v, vs, sizeof(vs));
    if (v < pr->min) {
        format_value(pr, pr->min, bs, sizeof(bs));
        return cl_errf(err, CRAWLLOG_EINVAL, "%s: %s is below the minimum %s",
                       pr->name, vs, bs);
    }
    if (v > pr->max) {
        format_value(pr, pr->max, bs, sizeof(bs));
        return cl_errf(err, CRAWLLOG_EINVAL, "%s: %s is above the maximum %s",
                       pr->name, vs, bs);
    }
    if ((v & pr->forbid) != 0) {
        return cl_errf(err, CRAWLLOG_EINVAL,
                       "%s: %s is world-writable (bit 0002)", pr->name, vs);
    }
    return 0;
}

/* Parse and check value for property k; *out untouched on failure. */
static int parse_value(int k, const char *value, int64_t *out,
                       struct cl_err *err)
{
    const struct prop *pr = &props[k];
    int64_t v = 0;
    int prc;
    const char *what;
    switch (pr->type) {
    case PROP_BOOL:
        prc = parse_bool(value, &v);
        what = "is not a boolean (true, false, 1 or 0)";
        break;
    case PROP_MODE:
        prc = parse_mode(value, &v);
        what = "is not an octal mode such as 0640";
        break;
    case PROP_ENUM:
        prc = parse_enum(pr, value, &v);
        what = "is not one of the allowed values";
        break;
    default:
        prc = parse_int64(value, &v);
        what = prc == -2 ? "is out of the 64-bit integer range"
                         : "is not a decimal integer";
        break;
    }
    if (prc != 0) {
        return cl_errf(err, CRAWLLOG_EINVAL, "%s: \"%.64s\"%s %s", pr->name,
                       value, strlen(value) > 64 ? "..." : "", what);
    }
    int rc = check_value(pr, v, err);
    if (rc == 0) {
        *out = v;
    }
    return rc;
}

/* The value of property k on conf as text (names included). */
static void format_prop(const crawllog_conf_t *conf, int k, char *buf,
                        size_t size)
{
    if (props[k].type == PROP_NAME) {
        snprintf(buf, size, "%s",
                 conf != NULL && conf->set[k] ? conf->names[props[k].def]
                                              : "");
        return;
    }
    format_value(&props[k], raw_value(conf, k), buf, size);
}

/* A PROP_NAME value: "" or a valid name. */
static int parse_name(int k, const char *value, struct cl_err *err)
{
    if (value[0] != '\0' && !cl_names_topic_valid(value)) {
        return cl_errf(err, CRAWLLOG_EINVAL,
                       "%s: \"%.64s\"%s is not a valid name (1 to %d of "
                       "[A-Za-z0-9._-], not . or ..)",
                       props[k].name, value, strlen(value) > 64 ? "..." : "",
                       CRAWLLOG_TOPIC_NAME_MAX);
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Text buffer for dumps                                                   */
/* ---------------------------------------------------------------------- */

/* Callers size the buffer for their worst case up front, so appending never
 * reallocates; should a guess ever be short, the text is cut, not overrun. */
struct sbuf {
    char *p;
    size_t len, cap;
};

static void sb_printf(struct sbuf *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(sb->p + sb->len, sb->cap - sb->len, fmt, ap);
    va_end(ap);
    assert(n >= 0 && (size_t)n < sb->cap - sb->len);
    if (n >= 0) {
        sb->len += (size_t)n < sb->cap - sb->len ? (size_t)n
                                                  : sb->cap - sb->len - 1;
    }
}

/* Start a buffer of cap bytes and hand it to *textp (NULL on failure). */
static int sb_init(struct sbuf *sb, size_t cap, char **textp)
{
    sb->p = cl_io_malloc(cap);
    sb->len = 0;
    sb->cap = cap;
    *textp = sb->p;
    if (sb->p == NULL) {
        return CRAWLLOG_ENOMEM;
    }
    sb->p[0] = '\0';
    return 0;
}

/* "name=value\n" for every property of the given scope (or all: -1). */
static int dump_lines(const crawllog_conf_t *conf, int scope, char **textp)
{
    struct sbuf sb;
    /* A line is a name (< 32 bytes), '=', at most 20 digits or a name
     * value, and '\n'. */
    if (sb_init(&sb,
                CL_CONF__COUNT * (64 + CRAWLLOG_TOPIC_NAME_MAX) +
                    (scope < 0 ? conf->nkafka : 0) *
                        (sizeof(conf->kafka[0]) + 16) +
                    1,
                textp) != 0) {
        return CRAWLLOG_ENOMEM;
    }
    for (int k = 0; k < CL_CONF__COUNT; k++) {
        if (scope >= 0 && (int)props[k].scope != scope) {
            continue;
        }
        char vs[CRAWLLOG_TOPIC_NAME_MAX + 1];
        format_prop(conf, k, vs, sizeof(vs));
        sb_printf(&sb, "%s=%s\n", props[k].name, vs);
    }
    for (size_t i = 0; scope < 0 && i < conf->nkafka; i++) {
        sb_printf(&sb, KAFKA_PREFIX "%s=%s\n", conf->kafka[i].name,
                  conf->kafka[i].value);
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Public API                                                              */
/* ---------------------------------------------------------------------- */

CRAWLLOG_API int crawllog_conf_new(crawllog_conf_t **confp)
{
    if (confp == NULL) {
        return CRAWLLOG_EINVAL;
    }
    *confp = cl_io_calloc(1, sizeof(**confp));
    return *confp != NULL ? CRAWLLOG_OK : CRAWLLOG_ENOMEM;
}

CRAWLLOG_API void crawllog_conf_destroy(crawllog_conf_t *conf)
{
    cl_io_free(conf);
}

CRAWLLOG_API int crawllog_conf_dup(crawllog_conf_t **dstp,
                                   const crawllog_conf_t *src)
{
    if (dstp != NULL) {
        *dstp = NULL;
    }
    if (dstp == NULL || src == NULL) {
        return CRAWLLOG_EINVAL;
    }
    crawllog_conf_t *dst = cl_io_malloc(sizeof(*dst));
    if (dst == NULL) {
        return CRAWLLOG_ENOMEM;
    }
    memcpy(dst, src, sizeof(*dst));
    *dstp = dst;
    return CRAWLLOG_OK;
}

CRAWLLOG_API int crawllog_conf_set(crawllog_conf_t *conf, const char *name,
                                   const char *value, char *errstr,
                                   size_t errstr_size)
{
    struct cl_err err;
    int rc;
    int k = name != NULL ? find_prop(name) : -1;
    int64_t v = 0;
    if (conf == NULL || name == NULL || value == NULL) {
        rc = cl_errf(&err, CRAWLLOG_EINVAL, "%s is NULL",
                     conf == NULL ? "conf" : name == NULL ? "name" : "value");
    } else if (strncmp(name, KAFKA_PREFIX, strlen(KAFKA_PREFIX)) == 0) {
        rc = kafka_set(conf, name + strlen(KAFKA_PREFIX), value, &err);
        cl_err_copy(errstr, errstr_size, rc != 0 ? err.msg : "");
        return rc;
    } else if (k < 0) {
        rc = cl_errf(&err, CRAWLLOG_EINVAL, "no such property \"%.64s\"%s",
                     name, strlen(name) > 64 ? "..." : "");
    } else if (props[k].type == PROP_NAME) {
        rc = parse_name(k, value, &err);
    } else {
        rc = parse_value(k, value, &v, &err);
    }
    if (rc != 0) {
        cl_err_copy(errstr, errstr_size, err.msg);
        return rc;
    }
    if (props[k].type == PROP_NAME) {
        snprintf(conf->names[props[k].def], sizeof(conf->names[0]), "%s",
                 value);
    }
    conf->val[k] = v;
    conf->set[k] = 1;
    cl_err_copy(errstr, errstr_size, "");
    return CRAWLLOG_OK;
}

CRAWLLOG_API int crawllog_conf_get(const crawllog_conf_t *conf,
                                   const char *name, char *buf,
                                   size_t *sizep)
{
    if (conf == NULL || name == NULL || sizep == NULL ||
        (buf == NULL && *sizep > 0)) {
        return CRAWLLOG_EINVAL;
    }
    int k = find_prop(name);
    char vs[CL_CONF_KAFKA_VALUE_MAX + 1];
    if (strncmp(name, KAFKA_PREFIX, strlen(KAFKA_PREFIX)) == 0) {
        int i = kafka_find(conf, name + strlen(KAFKA_PREFIX));
        if (i < 0) {
            return CRAWLLOG_EINVAL;
        }
        snprintf(vs, sizeof(vs), "%s", conf->kafka[i].value);
    } else if (k < 0) {
        return CRAWLLOG_EINVAL;
    } else {
        format_prop(conf, k, vs, sizeof(vs));
    }
    size_t need = strlen(vs) + 1;
    size_t have = *sizep;
    *sizep = need;
    if (have < need) {
        return CRAWLLOG_ETOOBIG;
    }
    memcpy(buf, vs, need);
    return CRAWLLOG_OK;
}

CRAWLLOG_API int crawllog_conf_dump(const crawllog_conf_t *conf,
                                    char **textp)
{
    if (textp != NULL) {
        *textp = NULL;
    }
    if (textp == NULL || conf == NULL) {
        return CRAWLLOG_EINVAL;
    }
    return dump_lines(conf, -1, textp);
}

/* ---------------------------------------------------------------------- */
/* Internal API                                                            */
/* ---------------------------------------------------------------------- */

int64_t cl_conf_int(const crawllog_conf_t *conf, enum cl_conf_key k)
{
    assert(k >= 0 && k < CL_CONF__COUNT);
    int64_t v = raw_value(conf, (int)k);
    if (k == CL_CONF_SEGMENT_INDEX_BYTES) {
        v -= v % CL_CONF_INDEX_ENTRY_BYTES;
    }
    return v;
}

const char *cl_conf_str(const crawllog_conf_t *conf, enum cl_conf_key k)
{
    assert(k >= 0 && k < CL_CONF__COUNT && props[k].type == PROP_NAME);
    return conf != NULL && conf->set[k] ? conf->names[props[k].def] : "";
}

int cl_conf_is_set(const crawllog_conf_t *conf, enum cl_conf_key k)
{
    assert(k >= 0 && k < CL_CONF__COUNT);
    return conf != NULL && conf->set[k];
}

int cl_conf_is_topic(enum cl_conf_key k)
{
    assert(k >= 0 && k < CL_CONF__COUNT);
    return props[k].scope == SCOPE_TOPIC;
}

const char *cl_conf_name(enum cl_conf_key k)
{
    assert(k >= 0 && k < CL_CONF__COUNT);
    return props[k].name;
}

int cl_conf_merge_topic(crawllog_conf_t **outp,
                        const crawllog_conf_t *log_conf,
                        const crawllog_conf_t *topic_conf)
{
    crawllog_conf_t *out = cl_io_calloc(1, sizeof(*out));
    *outp = out;
    if (out == NULL) {
        return CRAWLLOG_ENOMEM;
    }
    if (log_conf != NULL) {
        memcpy(out, log_conf, sizeof(*out));
    }
    for (int k = 0; k < CL_CONF__COUNT; k++) {
        if (props[k].scope == SCOPE_TOPIC && topic_conf != NULL &&
            topic_conf->set[k]) {
            out->val[k] = topic_conf->val[k];
            out->set[k] = 1;
        }
    }
    return 0;
}

int cl_conf_topic_serialize(const crawllog_conf_t *conf, char **textp)
{
    return dump_lines(conf, SCOPE_TOPIC, textp);
}

/* One "name=value" line (not NUL-terminated) into tmp. */
static int parse_line(crawllog_conf_t *tmp, unsigned char *seen,
                      const char *line, size_t len, struct cl_err *err)
{
    char buf[128];
    const char *eq = memchr(line, '=', len);
    if (eq == NULL) {
        return cl_errf(err, CRAWLLOG_ECORRUPT, "no '=' in \"%.*s\"",
                       (int)(len < 64 ? len : 64), line);
    }
    size_t nlen = (size_t)(eq - line);
    if (len >= sizeof(buf) || memchr(line, '\0', len) != NULL) {
        return cl_errf(err, CRAWLLOG_ECORRUPT, "malformed line");
    }
    memcpy(buf, line, len);
    buf[nlen] = '\0';
    buf[len] = '\0';
    int k = find_prop(buf);
    if (k < 0 || props[k].scope != SCOPE_TOPIC) {
        return cl_errf(err, CRAWLLOG_ECORRUPT, "%s \"%s\"",
                       k < 0 ? "no such property" : "not a topic property",
                       buf);
    }
    if (seen[k]) {
        return cl_errf(err, CRAWLLOG_ECORRUPT, "\"%s\" repeated", buf);
    }
    int64_t v;
    if (parse_value(k, buf + nlen + 1, &v, err) != 0) {
        return CRAWLLOG_ECORRUPT;
    }
    seen[k] = 1;
    tmp->val[k] = v;
    tmp->set[k] = 1;
    return 0;
}

int cl_conf_topic_parse(crawllog_conf_t *conf, const char *text, size_t len,
                        char *errstr, size_t errstr_size)
{
    assert(conf != NULL && (text != NULL || len == 0));
    crawllog_conf_t tmp = *conf;
    unsigned char seen[CL_CONF__COUNT] = {0};
    size_t pos = 0;
    int lineno = 0;
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t llen = nl != NULL ? (size_t)(nl - (text + pos)) : len - pos;
        struct cl_err err;
        lineno++;
        if (llen > 0 &&
            parse_line(&tmp, seen, text + pos, llen, &err) != 0) {
            char msg[CL_ERRMSG_SIZE + 32];
            snprintf(msg, sizeof(msg), "line %d: %s", lineno, err.msg);
            cl_err_copy(errstr, errstr_size, msg);
            return CRAWLLOG_ECORRUPT;
        }
        pos += llen + 1;
    }
    *conf = tmp;
    cl_err_copy(errstr, errstr_size, "");
    return 0;
}

int cl_conf_check_topic_only(const crawllog_conf_t *conf, char *errstr,
                             size_t errstr_size)
{
    for (int k = 0; conf != NULL && k < CL_CONF__COUNT; k++) {
        if (conf->set[k] && props[k].scope != SCOPE_TOPIC) {
            char msg[128];
            snprintf(msg, sizeof(msg),
                     "%s: not a topic property (set it on the log's conf)",
                     props[k].name);
            cl_err_copy(errstr, errstr_size, msg);
            return CRAWLLOG_EINVAL;
        }
    }
    cl_err_copy(errstr, errstr_size, "");
    return 0;
}

/* ---------------------------------------------------------------------- */
/* docs/CONFIGURATION.md                                                   */
/* ---------------------------------------------------------------------- */

static void md_range(const struct prop *pr, char *buf, size_t size)
{
    char lo[32], hi[32];
    if (pr->type == PROP_ENUM) {
        size_t len = 0;
        buf[0] = '\0';
        for (int i = 0; pr->names[i] != NULL && len < size; i++) {
            int n = snprintf(buf + len, size - len, "%s`%s`", i ? ", " : "",
                             pr->names[i]);
            len += n > 0 ? (size_t)n : 0;
        }
        return;
    }
    if (pr->type == PROP_NAME) {
        snprintf(buf, size, "1 .. %d of `[A-Za-z0-9._-]`, or empty",
                 CRAWLLOG_TOPIC_NAME_MAX);
        return;
    }
    format_value(pr, pr->min, lo, sizeof(lo));
    format_value(pr, pr->max, hi, sizeof(hi));
    snprintf(buf, size, "%s .. %s%s", lo, hi,
             pr->type == PROP_MODE ? ", without 0002" : "");
}

int cl_conf_markdown(char **textp)
{
    static const char *const type_names[] = {"bool", "int64", "mode",
                                             "enum", "name"};
    static const char *const scope_names[] = {"log", "topic", "producer",
                                              "consumer"};
    struct sbuf sb;
    size_t cap = 1024; /* the intro and header */
    for (int k = 0; k < CL_CONF__COUNT; k++) {
        cap += 256 + strlen(props[k].doc); /* a row without its doc < 256 */
    }
    if (sb_init(&sb, cap, textp) != 0) {
        return CRAWLLOG_ENOMEM;
    }
    sb_printf(&sb,
              "# libcrawllog configuration\n\n"
              "This file is generated by `make docs` from the property table "
              "in\n`libcrawllog/conf.c`; edit that table, not this file.\n\n"
              "Properties are set with `crawllog_conf_set(conf, name, value, "
              "errstr,\nerrstr_size)`.  Log-scope properties apply to a data "
              "directory\n(`crawllog_open`).  Topic-scope properties can also "
              "be overridden per topic\n(`crawllog_topic_create`); a topic's "
              "unset ones follow the log's conf.\nIntegers are decimal, modes "
              "octal (`0640` or `640`), booleans `true`,\n`false`, `1` or "
              "`0`, enumerations one of the listed words.  Producer-scope "
              "properties\nare read by `crawllog_producer_new`, consumer-scope ones by "
              "`crawllog_consumer_new`;\nboth are refused on a topic conf.\n\n"
              "| Property | Type | Default | Range | Scope | Description |\n"
              "|---|---|---|---|---|---|\n");
    for (int k = 0; k < CL_CONF__COUNT; k++) {
        const struct prop *pr = &props[k];
        char def[32], range[96];
        format_prop(NULL, k, def, sizeof(def));
        md_range(pr, range, sizeof(range));
        sb_printf(&sb, "| `%s` | %s | `%s` | %s | %s | %s |\n", pr->name,
                  type_names[pr->type], def, range,
                  scope_names[pr->scope], pr->doc);
    }
    return 0;
}
