/*
 * cli_mirror.c - the crawllog tool's `mirror` command: copy one topic of
 * the tool's log (-d: a data directory or kafka://...) to another log
 * (--to: a data directory or kafka://...), record by record, keeping key,
 * value, headers and timestamp, source partition p into destination
 * partition p in order (MirrorMaker 2's job, without the cluster).
 *
 * How: a consumer on the source, assigned every partition of TOPIC at the
 * committed offsets of the mirror's group (crawllog-mirror.NAME, --group),
 * auto.offset.reset=earliest, read_committed; a producer on the
 * destination with acks=all and idempotence.  The records of each poll are
 * sent per partition as batches (send_batch, split in halves when the
 * destination refuses one as too big); after a chunk of --chunk records
 * the producer is flushed and only then the source offsets are committed
 * durably.  So the committed offset never passes a record the destination
 * has not acknowledged: a crash copies at most one chunk again
 * (at-least-once, like MirrorMaker 2 without exactly-once).  Nothing is
 * atomic across the two logs, and two mirrors of one group running at once
 * would both copy (the group is only an offset store here).
 *
 * Without --follow the command stops once every partition reached the end
 * offset it had at the start (positions move past transaction markers; a
 * partition that makes no progress for IDLE_STOP_MS below that end - an
 * open transaction - is reported and left for the next run); with it, it
 * copies until SIGINT / SIGTERM, then commits and exits 0 (a second
 * signal kills it).
 *
 * Part of the crawllog binary, not of the library (public header only).
 * Owns nothing on disk itself (the group's offsets live in the source
 * log, the copies in the destination).  Single-threaded, no locks; the
 * signal handler only sets a flag.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"

#define DEFAULT_CHUNK 1000
#define MAX_CHUNK 1000000
#define POLL_MS 500                  /* a poll's wait when caught up */
#define IDLE_STOP_MS 10000           /* no progress below the end: stop */
#define BATCH_BYTES (512 * 1024)     /* a sent batch's rough upper size */
#define FLUSH_TIMEOUT_MS 60000
#define GROUP_PREFIX "crawllog-mirror."

static const char mirror_usage[] =
    "usage: crawllog [-d SRC] mirror TOPIC --to LOCATION [--as NAME]\n"
    "           [--group G] [--chunk N] [--follow] [--progress]\n"
    "           [--to-X prop=value]...\n"
    "  Copy topic TOPIC of the log (-d: a data directory or\n"
    "  kafka://HOST:PORT,...) to LOCATION (a data directory or\n"
    "  kafka://...) as topic NAME (default: TOPIC).  Every record keeps\n"
    "  its key and value (null stays null), its headers (all, in order)\n"
    "  and its timestamp; partition p goes to partition p of NAME, in\n"
    "  order.  NAME is created with TOPIC's partition count when missing\n"
    "  (topic configs are not copied: create it first to choose them); an\n"
    "  existing NAME with fewer partitions is refused (exit 5).\n"
    "  Transaction markers and aborted records are not copied.\n"
    "  Resumable: progress is the committed offset of consumer group G on\n"
    "  the source (default crawllog-mirror.NAME).  Each chunk of N records\n"
    "  (default 1000) is sent with acks=all and idempotence, flushed, and\n"
    "  only then committed: a crash in between copies at most that chunk\n"
    "  again (at-least-once, like MirrorMaker 2 without exactly-once).\n"
    "  Run the same command again to continue.  Mirroring one topic to\n"
    "  two places needs a --group each; never run two mirrors of one\n"
    "  group at once.\n"
    "  Without --follow it stops once every partition reached the end\n"
    "  offset it had at the start and prints \"mirror TOPIC: N records,\n"
    "  P partitions, to LOCATION\"; --follow keeps copying new records\n"
    "  until SIGINT or SIGTERM, then commits and exits 0.\n"
    "  --progress    a line on stderr after each committed chunk, and a\n"
    "                line per partition after the summary\n"
    "  --to-X p=v    a conf property for opening LOCATION (repeatable)\n";

struct mirror {
    struct cli *c;
    const char *topic, *to, *name, *group;
    int64_t chunk;
    int follow, progress;
    char group_buf[256];
    crawllog_conf_t *to_conf;
    crawllog_t *dst;
    crawllog_consumer_t *cons;
    crawllog_producer_t *prod;
    int32_t parts;
    int64_t *end;       /* log end of each partition at the start */
    int64_t *pos;       /* next source offset to copy */
    int64_t *first;     /* pos at the start of this run */
    int64_t *committed; /* last committed pos */
    int64_t *copied;    /* records copied in this run */
    int64_t total, uncommitted, left;
    const crawllog_msg_t **msgs; /* chunk entries */
    char *taken;                 /* chunk entries */
    size_t *idx;                 /* chunk entries */
    crawllog_record_t *recs;     /* chunk entries */
    crawllog_header_t *hdrs;
    size_t hdrs_cap;
    struct cli_progress prog;
};


static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------------- */
/* Sending                                                                 */
/* ---------------------------------------------------------------------- */

/* Send recs[0..n) to partition p of NAME; a batch the destination finds
 * too big is split in halves (nothing of a refused batch is written). */
static int send_recs(struct mirror *m, int32_t p, const crawllog_record_t *recs,
                     size_t n)
{
    int64_t base = -1;
    int rc = crawllog_producer_send_batch(m->prod, m->name, p, recs, n, &base);
    if (rc == CRAWLLOG_ETOOBIG && n > 1) {
        rc = send_recs(m, p, recs, n / 2);
        return rc != CRAWLLOG_OK ? rc : send_recs(m, p, recs + n / 2,
                                                 n - n / 2);
    }
    if (rc != CRAWLLOG_OK) {
        char arg[CRAWLLOG_TOPIC_NAME_MAX + 32], detail[1024];
        snprintf(arg, sizeof(arg), "%s/%d", m->topic, (int)p);
        snprintf(detail, sizeof(detail), "sending to %s topic %s partition %d: %s",
                 m->to, m->name, (int)p, crawllog_producer_errmsg(m->prod));
        return cli_fail("mirror", arg, rc, detail);
    }
    return 0;
}

/* Build the records of msgs idx[0..k) (all of partition p) and send them. */
static int send_run(struct mirror *m, int32_t p, size_t k)
{
    size_t nh = 0, h = 0;
    for (size_t j = 0; j < k; j++) {
        nh += crawllog_msg_header_count(m->msgs[m->idx[j]]);
    }
    if (nh > m->hdrs_cap) {
        crawllog_header_t *t = realloc(m->hdrs, nh * sizeof(*t));
        if (t == NULL) {
            return cli_fail("mirror", m->topic, CRAWLLOG_ENOMEM, NULL);
        }
        m->hdrs = t;
        m->hdrs_cap = nh;
    }
    for (size_t j = 0; j < k; j++) {
        const crawllog_msg_t *msg = m->msgs[m->idx[j]];
        crawllog_record_t *r = &m->recs[j];
        size_t cnt = crawllog_msg_header_count(msg);
        r->key = crawllog_msg_key(msg, &r->key_len);
        r->value = crawllog_msg_value(msg, &r->value_len);
        r->timestamp = crawllog_msg_timestamp(msg);
        r->headers = cnt > 0 ? m->hdrs + h : NULL;
        r->header_count = cnt;
        for (size_t i = 0; i < cnt; i++) {
            if (crawllog_msg_header(msg, i, &m->hdrs[h++]) != CRAWLLOG_OK) {
                return cli_fail("mirror", m->topic, CRAWLLOG_EIO,
                                "a record's header cannot be read");
            }
        }
    }
    int st = send_recs(m, p, m->recs, k);
    if (st == 0) {
        m->pos[p] = crawllog_msg_offset(m->msgs[m->idx[k - 1]]) + 1;
        m->copied[p] += (int64_t)k;
        m->total += (int64_t)k;
        m->uncommitted += (int64_t)k;
    }
    return st;
}

/* Send the n messages of one poll: per partition, in offset order, in
 * batches of at most BATCH_BYTES (roughly). */
static int send_polled(struct mirror *m, size_t n)
{
    memset(m->taken, 0, n);
    for (size_t i = 0; i < n; i++) {
        if (m->taken[i]) {
            continue;
        }
        int32_t p = crawllog_msg_partition(m->msgs[i]);
        size_t k = 0, bytes = 0;
        for (size_t j = i; j < n; j++) {
            const crawllog_msg_t *msg = m->msgs[j];
            size_t kl = 0, vl = 0, rec;
            if (m->taken[j] || crawllog_msg_partition(msg) != p) {
                continue;
            }
            crawllog_msg_key(msg, &kl);
            crawllog_msg_value(msg, &vl);
            rec = kl + vl + 64 + 64 * crawllog_msg_header_count(msg);
            if (k > 0 && bytes + rec > BATCH_BYTES) {
                int st = send_run(m, p, k);
                if (st != 0) {
                    return st;
                }
                k = bytes = 0;
            }
            m->taken[j] = 1;
            m->idx[k++] = j;
            bytes += rec;
        }
        int st = send_run(m, p, k);
        if (st != 0) {
            return st;
        }
    }
    return 0;
}

/* Move pos past what the consumer skipped (transaction markers, aborted
 * records, a reset to the log start).  Returns 1 if some pos moved. */
static int refresh_positions(struct mirror *m)
{
    int moved = 0;
    for (int32_t p = 0; p < m->parts; p++) {
        int64_t off = -1;
        if (crawllog_consumer_position(m->cons, m->topic, p, &off) ==
                CRAWLLOG_OK &&
            off > m->pos[p]) {
            m->pos[p] = off;
            moved = 1;
        }
    }
    return moved;
}

/* Flush the producer, then commit the source offsets that moved. */
static int commit_chunk(struct mirror *m)
{
    crawllog_topic_partition_t *l = NULL;
    size_t n = 0;
    int rc = crawllog_producer_flush(m->prod, FLUSH_TIMEOUT_MS);
    if (rc != CRAWLLOG_OK) {
        char detail[1024];
        snprintf(detail, sizeof(detail), "flushing to %s topic %s: %s", m->to,
                 m->name, crawllog_producer_errmsg(m->prod));
        return cli_fail("mirror", m->topic, rc, detail);
    }
    for (int32_t p = 0; p < m->parts; p++) {
        if (m->pos[p] != m->committed[p]) {
            n++;
        }
    }
    if (n == 0) {
        m->uncommitted = 0;
        return 0;
    }
    if ((l = calloc(n, sizeof(*l))) == NULL) {
        return cli_fail("mirror", m->topic, CRAWLLOG_ENOMEM, NULL);
    }
    n = 0;
    for (int32_t p = 0; p < m->parts; p++) {
        if (m->pos[p] != m->committed[p]) {
            l[n++] = (crawllog_topic_partition_t){m->topic, p, m->pos[p], NULL};
        }
    }
    rc = crawllog_consumer_commit_offsets(m->cons, l, n, CRAWLLOG_SYNC_DURABLE);
    free(l);
    if (rc != CRAWLLOG_OK) {
        char detail[1024];
        snprintf(detail, sizeof(detail), "committing the offsets of group %s: %s",
                 m->group, crawllog_consumer_errmsg(m->cons));
        return cli_fail("mirror", m->topic, rc, detail);
    }
    memcpy(m->committed, m->pos, (size_t)m->parts * sizeof(*m->pos));
    m->uncommitted = 0;
    if (m->progress) {
        cli_progress_end(&m->prog);
        fprintf(stderr, "mirror %s: %" PRId64 " records copied, committed\n",
                m->topic, m->total);
    }
    return 0;
}

static int caught_up(const struct mirror *m)
{
    for (int32_t p = 0; p < m->parts; p++) {
        if (m->pos[p] < m->end[p]) {
            return 0;
        }
    }
    return 1;
}

/* Say which partitions stayed below their end (without --follow). */
static void report_stuck(const struct mirror *m)
{
    for (int32_t p = 0; p < m->parts; p++) {
        if (m->pos[p] < m->end[p]) {
            fprintf(stderr,
                    "crawllog: mirror %s/%d: nothing readable from offset %" PRId64
                    " for %d s, below the end offset %" PRId64
                    " of the start (an open transaction?): run again later\n",
                    m->topic, (int)p, m->pos[p], IDLE_STOP_MS / 1000,
                    m->end[p]);
        }
    }
}

static int copy_loop(struct mirror *m)
{
    int64_t last_progress = mono_ms();
    int st = 0;
    while (!cli_stop_signal && (m->follow || !caught_up(m))) {
        size_t n = 0, want = (size_t)(m->chunk - m->uncommitted);
        int rc = crawllog_consumer_poll(m->cons, POLL_MS, m->msgs, want, &n);
        if (rc != CRAWLLOG_OK) {
            return cli_fail("mirror", m->topic, rc,
                            crawllog_consumer_errmsg(m->cons));
        }
        if (n > 0 && (st = send_polled(m, n)) != 0) {
            return st;
        }
        if (refresh_positions(m) || n > 0) {
            last_progress = mono_ms();
        }
        cli_progress_update(&m->prog, m->total, m->follow ? 0 : m->left);
        if (m->uncommitted >= m->chunk || (n == 0 && m->uncommitted > 0)) {
            if ((st = commit_chunk(m)) != 0) {
                return st;
            }
        }
        if (!m->follow && mono_ms() - last_progress > IDLE_STOP_MS) {
            report_stuck(m);
            break;
        }
    }
    return commit_chunk(m);
}

/* ---------------------------------------------------------------------- */
/* Setup                                                                   */
/* ---------------------------------------------------------------------- */

static int parse(struct mirror *m, int argc, char **argv)
{
    m->chunk = DEFAULT_CHUNK;
    for (int i = 0; i < argc; i++) {
        const char *o = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        int st;
        if (strcmp(o, "--follow") == 0 || strcmp(o, "-f") == 0) {
            m->follow = 1;
            continue;
        } else if (strcmp(o, "--progress") == 0) {
            m->progress = 1;
            continue;
        } else if (o[0] != '-') {
            if (m->topic != NULL) {
                return cli_usage(mirror_usage, "unexpected argument '%s'", o);
            }
            m->topic = o;
            continue;
        } else if (val == NULL) {
            return cli_usage(mirror_usage, "bad mirror option '%s'", o);
        } else if (strcmp(o, "--to") == 0) {
            m->to = val;
        } else if (strcmp(o, "--as") == 0) {
            m->name = val;
        } else if (strcmp(o, "--group") == 0) {
            m->group = val;
        } else if (strcmp(o, "--chunk") == 0) {
            if (cli_parse_int(val, 1, MAX_CHUNK, &m->chunk) != 0) {
                return cli_usage(mirror_usage, "bad --chunk '%s' (1..1000000)",
                                 val);
            }
        } else if (strcmp(o, "--to-X") == 0) {
            if ((st = cli_conf_set_spec(m->to_conf, "--to-X", val,
                                        mirror_usage)) != 0) {
                return st;
            }
        } else {
            return cli_usage(mirror_usage, "bad mirror option '%s'", o);
        }
        i++;
    }
    if (m->topic == NULL || m->to == NULL) {
        return cli_usage(mirror_usage, "%s", "mirror needs TOPIC --to LOCATION");
    }
    if (m->name == NULL) {
        m->name = m->topic;
    }
    if (m->group == NULL) {
        snprintf(m->group_buf, sizeof(m->group_buf), "%s%s", GROUP_PREFIX,
                 m->name);
        m->group = m->group_buf;
    }
    return 0;
}

/* 1 if the source and the destination are the same log (so that copying
 * TOPIC onto itself would never end). */
static int same_log(const char *a, const char *b)
{
    struct stat sa, sb;
    if (strcmp(a, b) == 0) {
        return 1;
    }
    return strncmp(a, "kafka://", 8) != 0 && stat(a, &sa) == 0 &&
           stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* Open the destination and make sure NAME exists with enough partitions. */
static int open_destination(struct mirror *m)
{
    char errstr[CRAWLLOG_ERRSTR_SIZE] = "";
    int32_t n = 0;
    int rc = crawllog_open(&m->dst, m->to, m->to_conf, errstr, sizeof(errstr));
    if (rc != CRAWLLOG_OK) {
        return cli_fail("mirror: open", m->to, rc, errstr);
    }
    rc = crawllog_topic_describe(m->dst, m->name, &n, NULL);
    if (rc == CRAWLLOG_ENOTOPIC) {
        rc = crawllog_topic_create(m->dst, m->name, m->parts, NULL);
        if (rc == CRAWLLOG_EEXIST) { /* created meanwhile */
            rc = crawllog_topic_describe(m->dst, m->name, &n, NULL);
        } else {
            n = m->parts;
        }
    }
    if (rc != CRAWLLOG_OK) {
        char detail[1024];
        snprintf(detail, sizeof(detail), "destination %s topic %s: %s", m->to,
                 m->name, crawllog_errmsg(m->dst));
        return cli_fail("mirror", m->topic, rc, detail);
    }
    if (n < m->parts) {
        char detail[1024];
        snprintf(detail, sizeof(detail),
                 "destination %s topic %s has %d partitions, fewer than the "
                 "%d of the source topic (partition p is copied to p)",
                 m->to, m->name, (int)n, (int)m->parts);
        return cli_fail("mirror", m->topic, CRAWLLOG_EEXIST, detail);
    }
    return 0;
}

/* A conf copied from base with "name", "value", ... pairs set. */
static int make_conf(crawllog_conf_t **confp, const crawllog_conf_t *base,
                     const char *const *kv, const char *what)
{
    char errstr[CRAWLLOG_ERRSTR_SIZE] = "";
    int rc = crawllog_conf_dup(confp, base);
    for (size_t i = 0; rc == CRAWLLOG_OK && kv[i] != NULL; i += 2) {
        rc = crawllog_conf_set(*confp, kv[i], kv[i + 1], errstr,
                               sizeof(errstr));
    }
    return rc == CRAWLLOG_OK ? 0 : cli_fail("mirror", what, rc, errstr);
}

/* The consumer (at the group's committed offsets), the producer, the
 * start positions and the end offsets. */
static int start_clients(struct mirror *m)
{
    char errstr[CRAWLLOG_ERRSTR_SIZE] = "", chunk[32];
    crawllog_conf_t *conf = NULL;
    crawllog_topic_partition_t *tps = NULL;
    int st, rc;
    snprintf(chunk, sizeof(chunk), "%" PRId64, m->chunk);
    const char *ckv[] = {"group.id", m->group, "auto.offset.reset", "earliest",
                         "enable.auto.commit", "false", "max.poll.records",
                         chunk, NULL};
    const char *pkv[] = {"acks", "all", "enable.idempotence", "true", NULL};
    if ((st = make_conf(&conf, m->c->conf, ckv, m->group)) != 0) {
        crawllog_conf_destroy(conf);
        return st;
    }
    rc = crawllog_consumer_new(m->c->log, conf, &m->cons, errstr,
                               sizeof(errstr));
    crawllog_conf_destroy(conf);
    conf = NULL;
    if (rc != CRAWLLOG_OK) {
        return cli_fail("mirror: consumer of group", m->group, rc, errstr);
    }
    if ((st = make_conf(&conf, m->to_conf, pkv, m->to)) != 0) {
        crawllog_conf_destroy(conf);
        return st;
    }
    rc = crawllog_producer_new(m->dst, conf, &m->prod, errstr, sizeof(errstr));
    crawllog_conf_destroy(conf);
    if (rc != CRAWLLOG_OK) {
        return cli_fail("mirror: producer on", m->to, rc, errstr);
    }
    if ((tps = calloc((size_t)m->parts, sizeof(*tps))) == NULL) {
        return cli_fail("mirror", m->topic, CRAWLLOG_ENOMEM, NULL);
    }
    for (int32_t p = 0; p < m->parts; p++) {
        int64_t start = 0, off = -1;
        tps[p] = (crawllog_topic_partition_t){m->topic, p,
                                              CRAWLLOG_OFFSET_COMMITTED, NULL};
        rc = crawllog_partition_offsets(m->c->log, m->topic, p, &start,
                                        &m->end[p]);
        if (rc != CRAWLLOG_OK) {
            free(tps);
            return cli_fail_log(m->c, "mirror", m->topic, rc);
        }
        rc = crawllog_consumer_committed(m->cons, m->topic, p, &off);
        if (rc != CRAWLLOG_OK) {
            free(tps);
            return cli_fail("mirror: committed offset of group", m->group, rc,
                            crawllog_consumer_errmsg(m->cons));
        }
        m->committed[p] = off;
        m->pos[p] = m->first[p] = off >= start ? off : start;
        m->left += m->end[p] > m->pos[p] ? m->end[p] - m->pos[p] : 0;
    }
    rc = crawllog_consumer_assign(m->cons, tps, (size_t)m->parts);
    free(tps);
    if (rc != CRAWLLOG_OK) {
        return cli_fail("mirror", m->topic, rc,
                        crawllog_consumer_errmsg(m->cons));
    }
    return 0;
}

static int alloc_state(struct mirror *m)
{
    size_t np = (size_t)m->parts, nc = (size_t)m->chunk;
    m->end = calloc(np, sizeof(*m->end));
    m->pos = calloc(np, sizeof(*m->pos));
    m->first = calloc(np, sizeof(*m->first));
    m->committed = calloc(np, sizeof(*m->committed));
    m->copied = calloc(np, sizeof(*m->copied));
    m->msgs = calloc(nc, sizeof(*m->msgs));
    m->taken = calloc(nc, 1);
    m->idx = calloc(nc, sizeof(*m->idx));
    m->recs = calloc(nc, sizeof(*m->recs));
    if (m->end == NULL || m->pos == NULL || m->first == NULL ||
        m->committed == NULL || m->copied == NULL || m->msgs == NULL ||
        m->taken == NULL || m->idx == NULL || m->recs == NULL) {
        return cli_fail("mirror", m->topic, CRAWLLOG_ENOMEM, NULL);
    }
    return 0;
}

static void print_summary(const struct mirror *m)
{
    printf("mirror %s: %" PRId64 " records, %d partitions, to %s", m->topic,
           m->total, (int)m->parts, m->to);
    if (strcmp(m->name, m->topic) != 0) {
        printf(" as %s", m->name);
    }
    printf("\n");
    for (int32_t p = 0; m->progress && p < m->parts; p++) {
        printf("  %s/%d: %" PRId64 " records, offset %" PRId64 " -> %" PRId64
               "\n",
               m->topic, (int)p, m->copied[p], m->first[p], m->pos[p]);
    }
}

static void release(struct mirror *m, int *st)
{
    int rc;
    if (m->prod != NULL && (rc = crawllog_producer_destroy(m->prod)) != 0 &&
        *st == 0) {
        *st = cli_fail("mirror: producer on", m->to, rc, NULL);
    }
    if (m->cons != NULL && (rc = crawllog_consumer_close(m->cons)) != 0 &&
        *st == 0) {
        *st = cli_fail("mirror: consumer of group", m->group, rc,
                       crawllog_consumer_errmsg(m->cons));
    }
    crawllog_consumer_destroy(m->cons);
    if (m->dst != NULL && (rc = crawllog_close(m->dst)) != 0 && *st == 0) {
        *st = cli_fail("mirror: close", m->to, rc, NULL);
    }
    crawllog_conf_destroy(m->to_conf);
    free(m->end);
    free(m->pos);
    free(m->first);
    free(m->committed);
    free(m->copied);
    free(m->msgs);
    free(m->taken);
    free(m->idx);
    free(m->recs);
    free(m->hdrs);
}

int cli_cmd_mirror(struct cli *c, int argc, char **argv)
{
    struct mirror m;
    struct sigaction sa;
    int st, rc;
    memset(&m, 0, sizeof(m));
    m.c = c;
    for (int i = 0; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            return cli_help(mirror_usage);
        }
    }
    if ((rc = crawllog_conf_new(&m.to_conf)) != CRAWLLOG_OK) {
        return cli_fail("mirror", NULL, rc, NULL);
    }
    if ((st = parse(&m, argc, argv)) != 0) {
        crawllog_conf_destroy(m.to_conf);
        return st;
    }
    if (strcmp(m.name, m.topic) == 0 && same_log(c->dir, m.to)) {
        crawllog_conf_destroy(m.to_conf);
        return cli_usage(mirror_usage,
                         "mirror %s onto itself: give another --to or --as",
                         m.topic);
    }
    if ((st = cli_open(c)) != 0) {
        crawllog_conf_destroy(m.to_conf);
        return st;
    }
    rc = crawllog_topic_describe(c->log, m.topic, &m.parts, NULL);
    st = rc != CRAWLLOG_OK ? cli_fail_log(c, "mirror", m.topic, rc) : 0;
    if (st == 0 && (st = alloc_state(&m)) == 0 &&
        (st = open_destination(&m)) == 0) {
        st = start_clients(&m);
    }
    if (st == 0) {
        memset(&sa, 0, sizeof(sa));
        sigemptyset(&sa.sa_mask);
        sa.sa_handler = cli_on_stop;
        sa.sa_flags = SA_RESTART;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        cli_progress_start(&m.prog, "mirror", "records");
        st = copy_loop(&m);
        cli_progress_end(&m.prog);
        if (st == 0) {
            print_summary(&m);
        }
    }
    release(&m, &st);
    return st;
}
