/*
 * kafka_log.c - crawllog_t of the Kafka backend (layer 5): the location
 * ("kafka://host:port,..." or an in-process mock cluster), the librdkafka
 * client confs every other kafka_*.c module builds on, the error mapping,
 * cluster metadata (topic partition counts, cached), admin requests, and
 * the topic confs of a mock cluster.  Topics: kafka_topic.c; consumer
 * groups: kafka_group.c.  See kafka.h.
 *
 * Owns nothing on disk.  In memory: struct cl_kafka_log behind the
 * crawllog_t shell (a zeroed struct crawllog_s with only .kafka set, and
 * .errmsg used as the log's errmsg), the log's own rd_kafka_t (a producer
 * handle that never produces: metadata, admin requests, watermarks), with
 * kafka://mock the mock cluster and the rd_kafka_t that hosts it, and the
 * slot of crawllog_append's internal producer (kafka_producer.c fills it).
 *
 * Invariants: a topic exists for crawllog when all-topics metadata lists
 * it: nothing here names a missing topic in a metadata request, so a
 * cluster that auto-creates topics (the mock does) never creates one
 * behind the user's back; the log's handle also has
 * allow.auto.create.topics=false, so its own refreshes of topics it
 * queried never re-create a deleted one.  The partition-count cache is at most
 * KL_CACHE_TTL_MS old when it answers, and a miss refreshes it at once.
 * Every librdkafka call that waits is bounded (timeout_ms: 10 s, less if
 * kafka.socket.timeout.ms is smaller).
 *
 * Locks: lock guards the errmsg, the cache and the list of topic confs
 * created on the own mock; it is never held across a network round trip.
 * Threads: librdkafka's own, inside each rd_kafka_t; every function here
 * may be called from any thread: the rd_kafka_t is thread-safe.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "conf.h"
#include "errors.h"
#include "io.h"
#include "kafka.h"
#include "log.h"
#include "names.h"

#define KL_TIMEOUT_MS 10000  /* any one wait on the cluster */
#define KL_CACHE_TTL_MS 2000 /* partition counts */
#define KL_MOCK_DEFAULT 3
#define KL_MOCK_MAX 16
#define KL_LOCATION_MAX 1024

struct kl_count {
    char *name;
    int32_t n; /* 0: listed but not ready (being created) */
};

struct kl_created { /* topic confs of the own mock */
    char *name;
    crawllog_conf_t *conf; /* topic_conf as given (may be NULL) */
    struct kl_created *next;
};

struct cl_kafka_log {
    crawllog_t *shell;
    char *location;                /* "kafka://..." for messages */
    char *reach;                   /* crawllog_location(): the brokers */
    char *bootstrap;               /* NULL: kafka.bootstrap.servers */
    crawllog_conf_t *conf;         /* copy of the open conf */
    rd_kafka_t *rk;                /* metadata, admin, watermarks */
    rd_kafka_t *mock_rk;           /* hosts the mock cluster */
    rd_kafka_mock_cluster_t *mock; /* kafka://mock only */
    int mock_like;                 /* the cluster is librdkafka's mock
                                       (own, or its cluster id says so) */
    int timeout_ms;
    crawllog_producer_t *producer; /* crawllog_append's (slot) */
    pthread_mutex_t lock;          /* errmsg, cache*, created */
    struct kl_count *cache;
    size_t ncache;
    int64_t cache_ns; /* cl_io_mono_ns() of the fill; 0 none */
    struct kl_created *created;
};

/* ---- errors -------------------------------------------------------------- */

int cl_kafka_log_fail(crawllog_t *log, int rc, const char *fmt, ...)
{
    char buf[CL_ERRMSG_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&log->kafka->lock);
    memcpy(log->errmsg, buf, sizeof(buf));
    pthread_mutex_unlock(&log->kafka->lock);
    return rc;
}

const char *cl_kafka_errmsg(const crawllog_t *log)
{
    return log->errmsg;
}

int cl_kafka_err(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
        return CRAWLLOG_OK;
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
        return CRAWLLOG_ENOTOPIC;
    case RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE:
        return CRAWLLOG_EOFFSET;
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE: /* also librdkafka's own */
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
        return CRAWLLOG_ETOOBIG;
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
        return CRAWLLOG_ETIMEDOUT;
    case RD_KAFKA_RESP_ERR__FENCED:
    case RD_KAFKA_RESP_ERR_PRODUCER_FENCED:
    case RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH:
        return CRAWLLOG_EFENCED;
    case RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION:
    case RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID:
    case RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID:
        return CRAWLLOG_EGENERATION;
    case RD_KAFKA_RESP_ERR__STATE:
        return CRAWLLOG_EMISUSE;
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR_INVALID_PARTITIONS:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_INVALID_CONFIG:
    case RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR:
        return CRAWLLOG_EINVAL;
    case RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS:
        return CRAWLLOG_EEXIST;
    case RD_KAFKA_RESP_ERR__NOENT:
    case RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND:
        return CRAWLLOG_ENOENT;
    case RD_KAFKA_RESP_ERR_NON_EMPTY_GROUP:
        return CRAWLLOG_EBUSY;
    case RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION:
    case RD_KAFKA_RESP_ERR__NOT_IMPLEMENTED:
        return CRAWLLOG_ENOTSUP;
    case RD_KAFKA_RESP_ERR__NO_OFFSET:
        return CRAWLLOG_EOFFSET;
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
        return CRAWLLOG_EIO;
    default:
        return CRAWLLOG_EIO;
    }
}

/* Fail log with librdkafka's error: "<what>: <NAME>: <text>". */
int cl_kafka_log_fail_rd(crawllog_t *log, rd_kafka_resp_err_t err,
                         const char *text, const char *what)
{
    return cl_kafka_log_fail(log, cl_kafka_err(err), "%s: %s: %s", what,
                             rd_kafka_err2name(err),
                             text && text[0] ? text : rd_kafka_err2str(err));
}

/* ---- location and client confs ------------------------------------------- */

/* Check one "host[:port]" or "[v6]:port" entry of len bytes: NULL or why
 * it is wrong. */
static const char *check_entry(const char *e, size_t len)
{
    const char *end = e + len, *colon = NULL, *hend;
    if (len == 0) {
        return "empty broker entry";
    }
    if (e[0] == '[') {
        hend = memchr(e, ']', len);
        if (hend == NULL || hend == e + 1) {
            return "bad [IPv6] host";
        }
        colon = hend + 1 < end ? hend + 1 : NULL;
        if (colon != NULL && *colon != ':') {
            return "junk after ]";
        }
    } else {
        for (const char *p = e; p < end; p++) {
            if (*p == ':') {
                if (colon != NULL) {
                    return "more than one ':' (write an IPv6 host as [addr])";
                }
                colon = p;
            } else if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                         (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' ||
                         *p == '_')) {
                return "bad character in host";
            }
        }
        hend = colon ? colon : end;
        if (hend == e) {
            return "empty host";
        }
    }
    if (colon != NULL) {
        long port = 0;
        if (colon + 1 == end || end - colon > 6) {
            return "bad port (1..65535)";
        }
        for (const char *p = colon + 1; p < end; p++) {
            if (*p < '0' || *p > '9') {
                return "bad port (1..65535)";
            }
            port = port * 10 + (*p - '0');
        }
        if (port < 1 || port > 65535) {
            return "bad port (1..65535)";
        }
    }
    return NULL;
}

/* The value of pass-through property kafka.<name> of conf, or NULL. */
static const char *kafka_prop(const crawllog_conf_t *conf, const char *name)
{
    const char *found = NULL;
    for (size_t i = 0; i < cl_conf_kafka_count(conf); i++) {
        const char *n, *v;
        cl_conf_kafka_at(conf, i, &n, &v);
        if (strcmp(n, name) == 0) {
            found = v;
        }
    }
    return found;
}

/* Parse dir: *mockp = broker count for kafka://mock[:N] (else 0);
 * *hostsp = the broker list ("" when kafka.bootstrap.servers gives it). */
static int parse_location(const char *dir, const crawllog_conf_t *conf,
                          int *mockp, const char **hostsp, char *errstr,
                          size_t errstr_size)
{
    const char *s = dir ? dir : "";
    const char *usage = "expected kafka://host:port[,host:port...] or "
                        "kafka://mock[:N]";
    *mockp = 0;
    *hostsp = "";
    if (strncmp(s, "kafka://", 8) == 0) {
        s += 8;
    } else if (s[0] == '\0' && kafka_prop(conf, "bootstrap.servers")) {
        return 0;
    }
    if (strlen(s) >= KL_LOCATION_MAX) {
        snprintf(errstr, errstr_size, "crawllog_open: location too long");
        return CRAWLLOG_EINVAL;
    }
    if (s[0] == '\0') {
        snprintf(errstr, errstr_size,
                 "crawllog_open: \"%.128s\": no broker given (%s, or "
                 "backend=kafka with kafka.bootstrap.servers)",
                 dir ? dir : "", usage);
        return CRAWLLOG_EINVAL;
    }
    if (strncmp(s, "mock", 4) == 0 && (s[4] == '\0' || s[4] == ':')) {
        long n = KL_MOCK_DEFAULT;
        if (s[4] == ':') {
            char *end;
            n = strtol(s + 5, &end, 10);
            if (s[5] < '0' || s[5] > '9' || *end != '\0' || n < 1 ||
                n > KL_MOCK_MAX) {
                snprintf(errstr, errstr_size,
                         "crawllog_open: \"%.128s\": the mock cluster's "
                         "broker count must be 1..%d",
                         dir, KL_MOCK_MAX);
                return CRAWLLOG_EINVAL;
            }
        }
        *mockp = (int)n;
        return 0;
    }
    for (const char *e = s;;) {
        const char *comma = strchr(e, ',');
        size_t len = comma ? (size_t)(comma - e) : strlen(e);
        const char *why = check_entry(e, len);
        if (why != NULL) {
            snprintf(errstr, errstr_size,
                     "crawllog_open: \"%.128s\": \"%.*s\": %s (%s)", dir,
                     (int)(len > 64 ? 64 : len), e, why, usage);
            return CRAWLLOG_EINVAL;
        }
        if (comma == NULL) {
            break;
        }
        e = comma + 1;
    }
    *hostsp = s;
    return 0;
}

static int set_kafka_props(rd_kafka_conf_t *c, const crawllog_conf_t *conf,
                           char *errstr, size_t errstr_size)
{
    char why[512];
    for (size_t i = 0; i < cl_conf_kafka_count(conf); i++) {
        const char *n, *v;
        cl_conf_kafka_at(conf, i, &n, &v);
        if (rd_kafka_conf_set(c, n, v, why, sizeof(why)) != RD_KAFKA_CONF_OK) {
            snprintf(errstr, errstr_size, "kafka.%s=%.64s: %s", n, v, why);
            return CRAWLLOG_EINVAL;
        }
    }
    return 0;
}

static int client_conf(struct cl_kafka_log *k, const crawllog_conf_t *extra,
                       rd_kafka_conf_t **confp, char *errstr,
                       size_t errstr_size)
{
    char why[512];
    const crawllog_conf_t *idc =
        cl_conf_is_set(extra, CL_CONF_CLIENT_ID) ? extra : k->conf;
    const char *id = cl_conf_str(idc, CL_CONF_CLIENT_ID);
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    *confp = NULL;
    if (c == NULL) {
        snprintf(errstr, errstr_size, "out of memory");
        return CRAWLLOG_ENOMEM;
    }
    if ((k->bootstrap != NULL &&
         rd_kafka_conf_set(c, "bootstrap.servers", k->bootstrap, why,
                           sizeof(why)) != RD_KAFKA_CONF_OK) ||
        rd_kafka_conf_set(c, "client.id", id[0] ? id : "crawllog", why,
                          sizeof(why)) != RD_KAFKA_CONF_OK) {
        snprintf(errstr, errstr_size, "%s: %s", k->location, why);
        rd_kafka_conf_destroy(c);
        return CRAWLLOG_EINVAL;
    }
    int rc = set_kafka_props(c, k->conf, errstr, errstr_size);
    if (rc == 0 && extra != NULL) {
        rc = set_kafka_props(c, extra, errstr, errstr_size);
    }
    if (rc != 0) {
        rd_kafka_conf_destroy(c);
        return rc;
    }
    *confp = c;
    return 0;
}

int cl_kafka_client_conf(crawllog_t *log, const crawllog_conf_t *extra,
                         rd_kafka_conf_t **confp, char *errstr,
                         size_t errstr_size)
{
    return client_conf(log->kafka, extra, confp, errstr, errstr_size);
}

rd_kafka_t *cl_kafka_log_handle(crawllog_t *log)
{
    return log->kafka->rk;
}

crawllog_producer_t **cl_kafka_log_producer(crawllog_t *log)
{
    return &log->kafka->producer;
}

int cl_kafka_log_is_mock(const crawllog_t *log)
{
    return log->kafka->mock_like;
}

int cl_kafka_log_owns_mock(const crawllog_t *log)
{
    return log->kafka->mock != NULL;
}

const char *cl_kafka_log_location(const crawllog_t *log)
{
    return log->kafka->location;
}

int cl_kafka_log_timeout_ms(const crawllog_t *log)
{
    return log->kafka->timeout_ms;
}

const crawllog_conf_t *cl_kafka_log_conf(const crawllog_t *log)
{
    return log->kafka->conf;
}

/* ---- open / close -------------------------------------------------------- */

static void free_cache(struct kl_count *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        cl_io_free(c[i].name);
    }
    cl_io_free(c);
}

static void kl_free(crawllog_t *log)
{
    struct cl_kafka_log *k = log->kafka;
    if (k->producer != NULL) {
        cl_kafka_producer_destroy(k->producer);
    }
    if (k->rk != NULL) {
        rd_kafka_destroy(k->rk);
    }
    if (k->mock != NULL) {
        rd_kafka_mock_cluster_destroy(k->mock);
    }
    if (k->mock_rk != NULL) {
        rd_kafka_destroy(k->mock_rk);
    }
    while (k->created != NULL) {
        struct kl_created *c = k->created;
        k->created = c->next;
        crawllog_conf_destroy(c->conf);
        cl_io_free(c->name);
        cl_io_free(c);
    }
    free_cache(k->cache, k->ncache);
    crawllog_conf_destroy(k->conf);
    cl_io_free(k->location);
    cl_io_free(k->reach);
    cl_io_free(k->bootstrap);
    pthread_mutex_destroy(&k->lock);
    cl_io_free(k);
    cl_io_free(log);
}

/* Start the mock cluster of n brokers. */
static int start_mock(struct cl_kafka_log *k, int n, char *errstr,
                      size_t errstr_size)
{
    char why[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    if (c == NULL ||
        rd_kafka_conf_set(c, "client.id", "crawllog-mock", why, sizeof(why)) ||
        rd_kafka_conf_set(c, "log_level", "4", why, sizeof(why))) {
        rd_kafka_conf_destroy(c);
        snprintf(errstr, errstr_size, "out of memory");
        return CRAWLLOG_ENOMEM;
    }
    k->mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, why, sizeof(why));
    if (k->mock_rk == NULL) {
        rd_kafka_conf_destroy(c);
    } else if ((k->mock = rd_kafka_mock_cluster_new(k->mock_rk, n)) != NULL &&
               (k->bootstrap = cl_io_strdup(
                    rd_kafka_mock_cluster_bootstraps(k->mock))) != NULL) {
        return 0;
    }
    snprintf(errstr, errstr_size,
             "crawllog_open: %s: cannot start librdkafka's mock cluster: %s",
             k->location, k->mock_rk == NULL ? why : "out of memory");
    return CRAWLLOG_EIO;
}

int cl_kafka_open(crawllog_t **logp, const char *dir,
                  const crawllog_conf_t *conf, char *errstr, size_t errstr_size)
{
    char buf[CRAWLLOG_ERRSTR_SIZE], why[512], v[32];
    size_t vlen = sizeof(v);
    const char *hosts;
    int mock, rc;
    rd_kafka_conf_t *c = NULL;
    if (errstr == NULL || errstr_size == 0) {
        errstr = buf;
        errstr_size = sizeof(buf);
    }
    errstr[0] = '\0';
    if (logp == NULL) {
        snprintf(errstr, errstr_size, "crawllog_open: logp needed");
        return CRAWLLOG_EINVAL;
    }
    *logp = NULL;
    if ((rc = parse_location(dir, conf, &mock, &hosts, errstr, errstr_size)) !=
        0) {
        return rc;
    }
    crawllog_t *log = cl_io_calloc(1, sizeof(*log));
    struct cl_kafka_log *k = cl_io_calloc(1, sizeof(*k));
    if (log == NULL || k == NULL) {
        cl_io_free(log);
        cl_io_free(k);
        snprintf(errstr, errstr_size, "out of memory");
        return CRAWLLOG_ENOMEM;
    }
    log->kafka = k;
    k->shell = log;
    k->timeout_ms = KL_TIMEOUT_MS;
    pthread_mutex_init(&k->lock, NULL);
    const char *shown = mock       ? "mock"
                        : hosts[0] ? hosts
                                   : kafka_prop(conf, "bootstrap.servers");
    size_t llen = strlen(shown) + 16;
    if ((k->location = cl_io_malloc(llen)) != NULL) {
        snprintf(k->location, llen, "kafka://%s", shown);
    }
    rc = conf ? crawllog_conf_dup(&k->conf, conf) : crawllog_conf_new(&k->conf);
    if (rc == 0) {
        /* What describe's confs say, also when the location chose it. */
        rc = crawllog_conf_set(k->conf, "backend", "kafka", NULL, 0);
    }
    if (rc != 0 || k->location == NULL ||
        (!mock && hosts[0] && (k->bootstrap = cl_io_strdup(hosts)) == NULL)) {
        snprintf(errstr, errstr_size, "out of memory");
        rc = CRAWLLOG_ENOMEM;
    }
    if (rc == 0 && mock) {
        rc = start_mock(k, mock, errstr, errstr_size);
    }
    if (rc == 0 && (rc = client_conf(k, NULL, &c, errstr, errstr_size)) == 0) {
        if (rd_kafka_conf_get(c, "socket.timeout.ms", v, &vlen) ==
                RD_KAFKA_CONF_OK &&
            atoi(v) > 0 && atoi(v) < k->timeout_ms) {
            k->timeout_ms = atoi(v);
        }
        /* Its metadata refreshes of topics it queried must never create
         * a deleted one again (a producer's default is to allow it). */
        if (rd_kafka_conf_set(c, "allow.auto.create.topics", "false", why,
                              sizeof(why)) != RD_KAFKA_CONF_OK ||
            (k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, why, sizeof(why))) ==
                NULL) {
            rd_kafka_conf_destroy(c);
            snprintf(errstr, errstr_size, "crawllog_open: %s: %s", k->location,
                     why);
            rc = CRAWLLOG_EINVAL;
        }
    }
    if (rc == 0) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t err =
            rd_kafka_metadata(k->rk, 1, NULL, &md, k->timeout_ms);
        if (md != NULL) {
            rd_kafka_metadata_destroy(md);
        }
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            rc = cl_kafka_err(err);
            if (rc == CRAWLLOG_EIO) {
                rc = CRAWLLOG_ETIMEDOUT;
            }
            snprintf(errstr, errstr_size,
                     "crawllog_open: no broker of %.128s answered within %d "
                     "ms (%s: %s)",
                     k->location, k->timeout_ms, rd_kafka_err2name(err),
                     rd_kafka_err2str(err));
        }
    }
    if (rc == 0) {
        /* librdkafka's mock cluster (ours, or one of another process,
         * e.g. tests/tools/kafka_mock) lacks most admin requests, and a
         * coordinator request it refuses makes librdkafka 2.0.2 abort
         * (librdkafka issue #4605): such calls are refused up front. */
        char *id = rd_kafka_clusterid(k->rk, k->timeout_ms);
        k->mock_like = k->mock != NULL ||
                       (id != NULL && strncmp(id, "mockCluster", 11) == 0);
        if (id != NULL) {
            rd_kafka_mem_free(k->rk, id);
        }
    }
    if (rc == 0) {
        /* What another process opens to reach this cluster (for the own
         * mock: its brokers, not "mock", which would start another). */
        const char *b = k->bootstrap != NULL
                            ? k->bootstrap
                            : kafka_prop(k->conf, "bootstrap.servers");
        size_t rlen = strlen(b != NULL ? b : "") + 16;
        if ((k->reach = cl_io_malloc(rlen)) == NULL) {
            snprintf(errstr, errstr_size, "out of memory");
            rc = CRAWLLOG_ENOMEM;
        } else {
            snprintf(k->reach, rlen, "kafka://%s", b != NULL ? b : "");
        }
    }
    if (rc != 0) {
        kl_free(log);
        return rc;
    }
    *logp = log;
    return 0;
}

const char *cl_kafka_location(const crawllog_t *log)
{
    return log->kafka->reach;
}

int cl_kafka_close(crawllog_t *log)
{
    kl_free(log);
    return 0;
}

/* ---- metadata ------------------------------------------------------------ */

/* Fill the cache from all-topics metadata. */
static int refresh(crawllog_t *log)
{
    struct cl_kafka_log *k = log->kafka;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err =
        rd_kafka_metadata(k->rk, 1, NULL, &md, k->timeout_ms);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return cl_kafka_log_fail_rd(log, err, NULL, "cluster metadata");
    }
    struct kl_count *c = cl_io_calloc((size_t)md->topic_cnt + 1, sizeof(*c));
    if (c == NULL) {
        rd_kafka_metadata_destroy(md);
        return cl_kafka_log_fail(log, CRAWLLOG_ENOMEM, "out of memory");
    }
    size_t n = 0;
    for (int i = 0; i < md->topic_cnt; i++) {
        const rd_kafka_metadata_topic_t *t = &md->topics[i];
        if (t->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
            continue;
        }
        if ((c[n].name = cl_io_strdup(t->topic)) == NULL) {
            free_cache(c, n);
            rd_kafka_metadata_destroy(md);
            return cl_kafka_log_fail(log, CRAWLLOG_ENOMEM, "out of memory");
        }
        c[n].n = t->err == RD_KAFKA_RESP_ERR_NO_ERROR ? t->partition_cnt : 0;
        n++;
    }
    rd_kafka_metadata_destroy(md);
    pthread_mutex_lock(&k->lock);
    struct kl_count *old = k->cache;
    size_t oldn = k->ncache;
    k->cache = c;
    k->ncache = n;
    k->cache_ns = cl_io_mono_ns();
    pthread_mutex_unlock(&k->lock);
    free_cache(old, oldn);
    return 0;
}

/* From the cache: 1 and *np if listed, 0 if not, -1 if too old. */
static int lookup(struct cl_kafka_log *k, const char *topic, int32_t *np)
{
    int found = -1;
    pthread_mutex_lock(&k->lock);
    if (k->cache_ns != 0 &&
        cl_io_mono_ns() - k->cache_ns < (int64_t)KL_CACHE_TTL_MS * 1000000) {
        found = 0;
        for (size_t i = 0; i < k->ncache; i++) {
            if (strcmp(k->cache[i].name, topic) == 0) {
                *np = k->cache[i].n;
                found = 1;
                break;
            }
        }
    }
    pthread_mutex_unlock(&k->lock);
    return found;
}

int cl_kafka_topic_lookup(crawllog_t *log, const char *topic, int32_t *np)
{
    int rc = refresh(log);
    if (rc != 0) {
        return rc;
    }
    return lookup(log->kafka, topic, np) == 1 ? 0 : CRAWLLOG_ENOTOPIC;
}

int cl_kafka_topic_partitions(crawllog_t *log, const char *topic, int32_t *np)
{
    int32_t n = 0;
    int rc = 0;
    *np = -1;
    if (lookup(log->kafka, topic, &n) != 1 || n < 1) {
        rc = cl_kafka_topic_lookup(log, topic, &n);
    }
    if (rc == 0 && n < 1) {
        rc = CRAWLLOG_ENOTOPIC;
    }
    if (rc == CRAWLLOG_ENOTOPIC) {
        return cl_kafka_log_fail(log, rc, "topic %s: no such topic in %s",
                                 topic, log->kafka->location);
    }
    if (rc == 0) {
        *np = n;
    }
    return rc;
}

int cl_kafka_topic_snapshot(crawllog_t *log, char ***namesp, int32_t **countsp,
                            size_t *np)
{
    struct cl_kafka_log *k = log->kafka;
    size_t n = 0;
    *namesp = NULL;
    *countsp = NULL;
    *np = 0;
    int rc = refresh(log);
    if (rc != 0) {
        return rc;
    }
    pthread_mutex_lock(&k->lock);
    char **names = cl_io_malloc((k->ncache + 1) * sizeof(*names));
    int32_t *counts = cl_io_malloc((k->ncache + 1) * sizeof(*counts));
    for (size_t i = 0; names && counts && i < k->ncache; i++) {
        if (strncmp(k->cache[i].name, "__", 2) == 0) {
            continue; /* __consumer_offsets, __transaction_state */
        }
        if ((names[n] = cl_io_strdup(k->cache[i].name)) == NULL) {
            rc = CRAWLLOG_ENOMEM;
            break;
        }
        counts[n++] = k->cache[i].n;
    }
    pthread_mutex_unlock(&k->lock);
    if (names == NULL || counts == NULL || rc != 0) {
        cl_io_listdir_free(names, n);
        cl_io_free(counts);
        return cl_kafka_log_fail(log, CRAWLLOG_ENOMEM, "out of memory");
    }
    *namesp = names;
    *countsp = counts;
    *np = n;
    return 0;
}

int cl_kafka_log_mock_topic_create(crawllog_t *log, const char *topic,
                                   int32_t partitions,
                                   const crawllog_conf_t *topic_conf)
{
    struct cl_kafka_log *k = log->kafka;
    struct kl_created *c = cl_io_calloc(1, sizeof(*c));
    if (c == NULL || (c->name = cl_io_strdup(topic)) == NULL ||
        (topic_conf && crawllog_conf_dup(&c->conf, topic_conf) != 0)) {
        if (c)
            cl_io_free(c->name);
        cl_io_free(c);
        return cl_kafka_log_fail(log, CRAWLLOG_ENOMEM, "out of memory");
    }
    rd_kafka_resp_err_t err =
        rd_kafka_mock_topic_create(k->mock, topic, (int)partitions, 1);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        crawllog_conf_destroy(c->conf);
        cl_io_free(c->name);
        cl_io_free(c);
        return cl_kafka_log_fail_rd(log, err, NULL, topic);
    }
    pthread_mutex_lock(&k->lock);
    c->next = k->created;
    k->created = c;
    pthread_mutex_unlock(&k->lock);
    return 0;
}

int cl_kafka_log_mock_topic_conf(crawllog_t *log, const char *topic,
                                 crawllog_conf_t **confp)
{
    struct cl_kafka_log *k = log->kafka;
    const crawllog_conf_t *tc = NULL;
    pthread_mutex_lock(&k->lock);
    for (struct kl_created *c = k->created; c != NULL; c = c->next) {
        if (strcmp(c->name, topic) == 0) {
            tc = c->conf;
            break;
        }
    }
    int rc = cl_conf_merge_topic(confp, k->conf, tc);
    pthread_mutex_unlock(&k->lock);
    return rc ? cl_kafka_log_fail(log, CRAWLLOG_ENOMEM, "out of memory") : 0;
}

/* ---- admin requests ------------------------------------------------------ */

int cl_kafka_admin_run(crawllog_t *log, cl_kafka_admin_start_fn *start,
                       void *arg, const char *what, rd_kafka_event_t **evp)
{
    struct cl_kafka_log *k = log->kafka;
    char why[512];
    rd_kafka_queue_t *q = rd_kafka_queue_new(k->rk);
    rd_kafka_AdminOptions_t *o =
        rd_kafka_AdminOptions_new(k->rk, RD_KAFKA_ADMIN_OP_ANY);
    *evp = NULL;
    if (q == NULL || o == NULL) {
        if (q)
            rd_kafka_queue_destroy(q);
        if (o)
            rd_kafka_AdminOptions_destroy(o);
        return cl_kafka_log_fail(log, CRAWLLOG_ENOMEM, "out of memory");
    }
    rd_kafka_AdminOptions_set_request_timeout(o, k->timeout_ms, why,
                                              sizeof(why));
    start(k->rk, o, q, arg);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, k->timeout_ms + 2000);
    rd_kafka_AdminOptions_destroy(o);
    rd_kafka_queue_destroy(q);
    if (ev == NULL) {
        return cl_kafka_log_fail(log, CRAWLLOG_ETIMEDOUT,
                                 "%s: no answer from %s within %d ms", what,
                                 k->location, k->timeout_ms + 2000);
    }
    rd_kafka_resp_err_t err = rd_kafka_event_error(ev);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        int rc = cl_kafka_log_fail_rd(log, err, rd_kafka_event_error_string(ev),
                                      what);
        rd_kafka_event_destroy(ev);
        return rc;
    }
    *evp = ev;
    return 0;
}
