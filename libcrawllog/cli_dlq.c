/*
 * cli_dlq.c - the crawllog tool's dead-letter commands: `dlq list` (the
 * dead-letter topics and their record counts), `dlq show` (each dead
 * letter with its DLT headers decoded) and `dlq replay` (re-publish dead
 * letters to a topic, once).
 *
 * Dead letters are the records crawllog_consumer_dead_letter() writes:
 * the original key, value and headers plus Spring Kafka's DLT headers
 * (kafka_dlt-original-topic, -original-partition int32 BE,
 * -original-offset int64 BE, -original-timestamp int64 BE,
 * -original-consumer-group, kafka_dlt-exception-message) and
 * crawllog_dlt-attempts (int32 BE).  A dead-letter topic is one whose name
 * ends in ".dlt" (list); show and replay take any topic.
 *
 * On disk (replay only): the records it appends to the target topic and
 * the committed offsets of the consumer group "crawllog.replay.<dlt>":
 * per DLT partition, every offset below the committed one was handled by
 * some replay (re-published, or skipped by that run's filters), so it is
 * never replayed again.  Invariant: a DLT offset is committed only after
 * its copy is durable (producer acks=all), and right after it, so after a
 * crash at most one record per DLT partition is in doubt: the first one
 * at or after the committed offset that passes the filters.  A run looks
 * for its copy first (a record of TOPIC
 * carrying its crawllog_dlt-replayed-from header, appended since the last
 * commit: time-indexed, so only that window is read) and, if found,
 * commits past it without copying it again.  The copy carries
 * the original headers minus kafka_dlt-* and crawllog_dlt-*, plus
 * crawllog_dlt-replayed-from = "<dlt>/<partition>/<offset>", and is
 * partitioned by key as the producer does (CRAWLLOG_PARTITION_ANY).
 *
 * Locks: none (single-threaded; two replays of one DLT at once are not
 * prevented and would both replay the same records).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define PREVIEW_BYTES 64
#define REPLAY_GROUP_PREFIX "crawllog.replay."
#define REPLAYED_FROM "crawllog_dlt-replayed-from"

static const char dlq_usage[] =
    "usage: crawllog [-d DIR] dlq list [--json]\n"
    "       crawllog [-d DIR] dlq show DLT [--max N] [--json]\n"
    "       crawllog [-d DIR] dlq replay DLT --to TOPIC [--reason TEXT]\n"
    "                [--partition P] [--from-offset O] [--to-offset O]\n"
    "                [--dry-run]\n"
    "  list    every topic whose name ends in \".dlt\" with its record\n"
    "          count (log end - log start over its partitions):\n"
    "          \"TOPIC COUNT\" lines\n"
    "  show    every dead letter of DLT (at most N), partition by partition:\n"
    "          a header line, then tab-separated PARTITION OFFSET ORIGINAL\n"
    "          (topic/partition/offset) TIMESTAMP (original, ms) ATTEMPTS\n"
    "          GROUP REASON KEY VALUE; key and value cut to 64 bytes\n"
    "          (\"...(N bytes)\" follows), text escaped as consume does\n"
    "          (\\xHH), \"-\" for a missing header\n"
    "  replay  re-publish the dead letters of DLT to TOPIC (key, value,\n"
    "          original headers without kafka_dlt-* and crawllog_dlt-*, plus\n"
    "          crawllog_dlt-replayed-from = \"DLT/PARTITION/OFFSET\"; the\n"
    "          time of the replay as timestamp), partitioned by key like the\n"
    "          producer, durably (acks=all).  Filters: --reason TEXT (the\n"
    "          reason contains TEXT), --partition P (of DLT), --from-offset\n"
    "          and --to-offset (DLT offsets, both inclusive).\n"
    "          Progress is the consumer group crawllog.replay.DLT: after\n"
    "          each copy is durable its DLT offset + 1 is committed, and at\n"
    "          the end of a partition the scanned range is committed too, so\n"
    "          a later run starts after everything this run scanned - the\n"
    "          records the filters skipped included (they are never\n"
    "          replayed).  Records dead-lettered after the run started wait\n"
    "          for the next run.  After a crash between a copy and its\n"
    "          commit, the next run finds that copy (by its\n"
    "          crawllog_dlt-replayed-from header, among the records TOPIC\n"
    "          got since the last commit) and does not copy it again.  Do\n"
    "          not run two replays of one DLT at once.\n"
    "          --dry-run lists what would be replayed and writes nothing.\n"
    "          Prints \"replayed DLT/P/O -> TOPIC/P/O\" per record and a\n"
    "          summary line.\n";

/* The DLT headers of a dead letter, views into the message. */
struct dead {
    const char *topic, *group, *reason; /* NULL: missing */
    size_t topic_len, group_len, reason_len;
    int64_t partition, offset, timestamp, attempts; /* -1: missing */
};

static int64_t get_be(const unsigned char *p, size_t n)
{
    uint64_t v = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        v = v << 8 | p[i];
    }
    return n == 4 ? (int64_t)(int32_t)(uint32_t)v : (int64_t)v;
}

static int name_is(const crawllog_header_t *h, const char *name)
{
    return h->name_len == strlen(name) &&
           memcmp(h->name, name, h->name_len) == 0;
}

/* A header crawllog_consumer_dead_letter() or a replay adds. */
static int is_dlt_header(const crawllog_header_t *h)
{
    return (h->name_len >= 10 && memcmp(h->name, "kafka_dlt-", 10) == 0) ||
           (h->name_len >= 13 && memcmp(h->name, "crawllog_dlt-", 13) == 0);
}

static void dead_parse(const crawllog_msg_t *m, struct dead *d)
{
    size_t i, n = crawllog_msg_header_count(m);
    crawllog_header_t h;

    memset(d, 0, sizeof(*d));
    d->partition = d->offset = d->timestamp = d->attempts = -1;
    for (i = 0; i < n; i++) {
        if (crawllog_msg_header(m, i, &h) != CRAWLLOG_OK || h.value == NULL) {
            continue;
        }
        if (name_is(&h, "kafka_dlt-original-topic")) {
            d->topic = h.value;
            d->topic_len = h.value_len;
        } else if (name_is(&h, "kafka_dlt-original-consumer-group")) {
            d->group = h.value;
            d->group_len = h.value_len;
        } else if (name_is(&h, "kafka_dlt-exception-message")) {
            d->reason = h.value;
            d->reason_len = h.value_len;
        } else if (name_is(&h, "kafka_dlt-original-partition") &&
                   h.value_len == 4) {
            d->partition = get_be(h.value, 4);
        } else if (name_is(&h, "crawllog_dlt-attempts") && h.value_len == 4) {
            d->attempts = get_be(h.value, 4);
        } else if (name_is(&h, "kafka_dlt-original-offset") &&
                   h.value_len == 8) {
            d->offset = get_be(h.value, 8);
        } else if (name_is(&h, "kafka_dlt-original-timestamp") &&
                   h.value_len == 8) {
            d->timestamp = get_be(h.value, 8);
        }
    }
}

/* 1 if the reason contains text (NULL text: everything matches). */
static int reason_matches(const struct dead *d, const char *text)
{
    size_t tl, i;

    if (text == NULL) {
        return 1;
    } else if (d->reason == NULL) {
        return 0;
    }
    tl = strlen(text);
    for (i = 0; i + tl <= d->reason_len; i++) {
        if (memcmp(d->reason + i, text, tl) == 0) {
            return 1;
        }
    }
    return 0;
}

static int is_dlt_name(const char *name)
{
    size_t len = strlen(name);

    return len > 4 && strcmp(name + len - 4, ".dlt") == 0;
}

/* ---------------------------------------------------------------------- */
/* list                                                                    */
/* ---------------------------------------------------------------------- */

static int dlq_list(struct cli *c, int json)
{
    char **names = NULL;
    size_t n = 0, i, shown = 0;
    int rc = crawllog_topic_list(c->log, &names, &n), st = 0;

    if (rc != CRAWLLOG_OK) {
        return cli_fail_log(c, "dlq list", NULL, rc);
    }
    for (i = 0; i < n && st == 0; i++) {
        int64_t sum = 0, start, end;
        int32_t parts = 0, p;

        if (!is_dlt_name(names[i])) {
            continue;
        }
        rc = crawllog_topic_describe(c->log, names[i], &parts, NULL);
        for (p = 0; p < parts && rc == CRAWLLOG_OK; p++) {
            rc = crawllog_partition_offsets(c->log, names[i], p, &start, &end);
            sum += rc == CRAWLLOG_OK ? end - start : 0;
        }
        if (rc == CRAWLLOG_ENOTOPIC) {
            continue; /* deleted meanwhile */
        } else if (rc != CRAWLLOG_OK) {
            st = cli_fail_log(c, "dlq list", names[i], rc);
        } else if (json) {
            fputs(shown++ == 0 ? "[{\"topic\":" : ",{\"topic\":", stdout);
            cli_json_str(stdout, names[i]);
            printf(",\"partitions\":%d,\"messages\":%lld}", (int)parts,
                   (long long)sum);
        } else {
            printf("%s %lld\n", names[i], (long long)sum);
        }
    }
    if (json && st == 0) {
        puts(shown == 0 ? "[]" : "]");
    }
    crawllog_topic_list_free(names, n);
    return st;
}

/* ---------------------------------------------------------------------- */
/* show                                                                    */
/* ---------------------------------------------------------------------- */

/* Bytes cut to PREVIEW_BYTES, escaped; "...(N bytes)" if cut. */
static void preview(const void *p, size_t len)
{
    cli_print_escaped(stdout, p, len > PREVIEW_BYTES ? PREVIEW_BYTES : len);
    if (len > PREVIEW_BYTES) {
        printf("...(%zu bytes)", len);
    }
}

static void text_or_dash(const char *p, size_t len)
{
    if (p == NULL) {
        putchar('-');
    } else {
        cli_print_escaped(stdout, p, len);
    }
}

static void num_or_dash(int64_t v, const char *json_name, int json)
{
    if (json) {
        printf(v < 0 ? ",\"%s\":null" : ",\"%s\":%lld", json_name,
               (long long)v);
    } else if (v < 0) {
        fputs("\t-", stdout);
    } else {
        printf("\t%lld", (long long)v);
    }
}

static void json_field(const char *name, const void *p, size_t len)
{
    printf(",\"%s\":", name);
    cli_json_bytes(stdout, p, len);
}

static void show_one(const crawllog_msg_t *m, int32_t part, int json,
                     size_t index)
{
    const void *k, *v;
    size_t klen, vlen;
    struct dead d;

    dead_parse(m, &d);
    k = crawllog_msg_key(m, &klen);
    v = crawllog_msg_value(m, &vlen);
    if (json) {
        printf("%s{\"partition\":%d,\"offset\":%lld,\"timestamp\":%lld",
               index > 0 ? "," : "", (int)part,
               (long long)crawllog_msg_offset(m),
               (long long)crawllog_msg_timestamp(m));
        json_field("original_topic", d.topic, d.topic_len);
        num_or_dash(d.partition, "original_partition", 1);
        num_or_dash(d.offset, "original_offset", 1);
        num_or_dash(d.timestamp, "original_timestamp", 1);
        num_or_dash(d.attempts, "attempts", 1);
        json_field("group", d.group, d.group_len);
        json_field("reason", d.reason, d.reason_len);
        json_field("key", k, klen > PREVIEW_BYTES ? PREVIEW_BYTES : klen);
        json_field("value", v, vlen > PREVIEW_BYTES ? PREVIEW_BYTES : vlen);
        printf(",\"key_len\":%zu,\"value_len\":%zu}", klen, vlen);
        return;
    }
    printf("%d\t%lld\t", (int)part, (long long)crawllog_msg_offset(m));
    text_or_dash(d.topic, d.topic_len);
    if (d.topic != NULL) {
        printf(d.partition < 0 ? "/-" : "/%lld", (long long)d.partition);
        printf(d.offset < 0 ? "/-" : "/%lld", (long long)d.offset);
    }
    num_or_dash(d.timestamp, NULL, 0);
    num_or_dash(d.attempts, NULL, 0);
    putchar('\t');
    text_or_dash(d.group, d.group_len);
    putchar('\t');
    text_or_dash(d.reason, d.reason_len);
    putchar('\t');
    preview(k, klen);
    putchar('\t');
    preview(v, vlen);
    putchar('\n');
}

static int dlq_show(struct cli *c, const char *dlt, int64_t max, int json)
{
    crawllog_reader_t *rd = NULL;
    const crawllog_msg_t *m;
    int32_t parts = 0, p;
    size_t shown = 0;
    int rc = crawllog_topic_describe(c->log, dlt, &parts, NULL);

    if (rc != CRAWLLOG_OK) {
        return cli_fail_log(c, "dlq show", dlt, rc);
    }
    fputs(json ? "["
               : "PARTITION\tOFFSET\tORIGINAL\tTIMESTAMP\tATTEMPTS\t"
                 "GROUP\tREASON\tKEY\tVALUE\n",
          stdout);
    for (p = 0; p < parts && rc == CRAWLLOG_OK; p++) {
        rc = crawllog_reader_new(&rd, c->log, dlt, p);
        if (rc != CRAWLLOG_OK) {
            return cli_fail_log(c, "dlq show", dlt, rc);
        }
        while ((max < 0 || (int64_t)shown < max) &&
               (rc = crawllog_reader_next(rd, &m)) == CRAWLLOG_OK &&
               m != NULL) {
            show_one(m, p, json, shown++);
        }
        if (rc != CRAWLLOG_OK) {
            fflush(stdout);
            cli_fail("dlq show", dlt, rc, crawllog_reader_errmsg(rd));
        }
        crawllog_reader_destroy(rd);
    }
    if (json && rc == CRAWLLOG_OK) {
        puts("]");
    }
    return rc == CRAWLLOG_OK ? 0 : 1;
}

/* ---------------------------------------------------------------------- */
/* replay                                                                  */
/* ---------------------------------------------------------------------- */

struct replay {
    const char *dlt, *to, *reason;
    int64_t partition;  /* -1: all */
    int64_t from, upto; /* DLT offsets, inclusive; -1: unbounded */
    int dry;
    crawllog_producer_t *prod;
    crawllog_consumer_t *cons;
    crawllog_header_t *hdrs; /* scratch for one record's headers */
    size_t hcap;
    int32_t sent_part; /* from the delivery report */
    int64_t sent_off;
    int64_t done; /* the partition's committed offset now */
    int32_t to_parts;
    int64_t since_ms; /* the in-doubt record's copy is not older */
    int64_t replayed, filtered, earlier;
};

static void on_delivery(void *opaque, const char *topic, int32_t partition,
                        int64_t offset, int err)
{
    struct replay *r = opaque;

    (void)topic;
    if (err == 0) {
        r->sent_part = partition;
        r->sent_off = offset;
    }
}

static int replay_commit(struct cli *c, struct replay *r, int32_t p,
                         int64_t next)
{
    crawllog_topic_partition_t tp = {r->dlt, p, next, NULL};
    int rc = crawllog_consumer_commit_offsets(r->cons, &tp, 1,
                                              CRAWLLOG_SYNC_DURABLE);

    (void)c;
    if (rc != CRAWLLOG_OK) {
        return cli_fail("dlq replay: commit", r->dlt, rc,
                        crawllog_consumer_errmsg(r->cons));
    }
    r->done = next;
    return 0;
}

/* 1 if TOPIC has a record with header crawllog_dlt-replayed-from = from
 * stamped since r->since_ms (its partition and offset in *qp, *offp). */
static int replayed_before(struct cli *c, struct replay *r, const char *from,
                           int32_t *qp, int64_t *offp)
{
    int found = 0;
    for (int32_t q = 0; q < r->to_parts && !found; q++) {
        crawllog_reader_t *rd = NULL;
        const crawllog_msg_t *m = NULL;
        int64_t at = -1;
        if (crawllog_reader_new(&rd, c->log, r->to, q) != CRAWLLOG_OK ||
            crawllog_reader_seek_time(rd, r->since_ms, &at) != CRAWLLOG_OK) {
            crawllog_reader_destroy(rd);
            continue; /* unreadable: copy again (at-least-once) */
        }
        while (!found && crawllog_reader_next(rd, &m) == CRAWLLOG_OK &&
               m != NULL) {
            crawllog_header_t h;
            for (size_t i = 0; i < crawllog_msg_header_count(m); i++) {
                if (crawllog_msg_header(m, i, &h) == CRAWLLOG_OK &&
                    h.name_len == strlen(REPLAYED_FROM) &&
                    memcmp(h.name, REPLAYED_FROM, h.name_len) == 0 &&
                    h.value_len == strlen(from) &&
                    memcmp(h.value, from, h.value_len) == 0) {
                    found = 1;
                    *qp = q;
                    *offp = crawllog_msg_offset(m);
                }
            }
        }
        crawllog_reader_destroy(rd);
    }
    return found;
}

/* Re-publish the dead letter m of DLT partition p; commit past it.  With
 * in_doubt (m is at the committed offset of an earlier run), first look
 * for the copy that run may have made before it died. */
static int replay_one(struct cli *c, struct replay *r, int32_t p,
                      const crawllog_msg_t *m, int in_doubt)
{
    size_t n = crawllog_msg_header_count(m), i, k = 0;
    char from[300];
    crawllog_record_t rec;
    int rc;

    if (n + 1 > r->hcap) {
        free(r->hdrs);
        r->hcap = n + 1;
        if ((r->hdrs = calloc(r->hcap, sizeof(*r->hdrs))) == NULL) {
            r->hcap = 0;
            return cli_fail("dlq replay", r->dlt, CRAWLLOG_ENOMEM, NULL);
        }
    }
    for (i = 0; i < n; i++) {
        if (crawllog_msg_header(m, i, &r->hdrs[k]) == CRAWLLOG_OK &&
            !is_dlt_header(&r->hdrs[k])) {
            k++;
        }
    }
    snprintf(from, sizeof(from), "%s/%d/%lld", r->dlt, (int)p,
             (long long)crawllog_msg_offset(m));
    r->hdrs[k].name = REPLAYED_FROM;
    r->hdrs[k].name_len = strlen(REPLAYED_FROM);
    r->hdrs[k].value = from;
    r->hdrs[k++].value_len = strlen(from);
    if (in_doubt) {
        int32_t q = -1;
        int64_t off = -1;
        if (r->since_ms < 0 || crawllog_msg_timestamp(m) > r->since_ms) {
            r->since_ms = crawllog_msg_timestamp(m); /* copied after it */
        }
        if (replayed_before(c, r, from, &q, &off)) {
            if (replay_commit(c, r, p, crawllog_msg_offset(m) + 1) != 0) {
                return 1;
            }
            printf("replayed %s -> %s/%d/%lld (by an interrupted run)\n",
                   from, r->to, (int)q, (long long)off);
            r->replayed++;
            return 0;
        }
    }
    memset(&rec, 0, sizeof(rec));
    rec.key = crawllog_msg_key(m, &rec.key_len);
    rec.value = crawllog_msg_value(m, &rec.value_len);
    rec.timestamp = -1;
    rec.headers = r->hdrs;
    rec.header_count = k;
    r->sent_part = -1;
    r->sent_off = -1;
    rc = crawllog_producer_send_record(r->prod, r->to, CRAWLLOG_PARTITION_ANY,
                                       &rec, NULL);
    if (rc != CRAWLLOG_OK) {
        return cli_fail("dlq replay: send to", r->to, rc,
                        crawllog_producer_errmsg(r->prod));
    }
    if (replay_commit(c, r, p, crawllog_msg_offset(m) + 1) != 0) {
        return 1;
    }
    printf("replayed %s -> %s/%d/%lld\n", from, r->to, (int)r->sent_part,
           (long long)r->sent_off);
    r->replayed++;
    return 0;
}

/* Replay DLT partition p from max(committed, from, log start) to
 * min(log end now, upto + 1). */
static int replay_partition(struct cli *c, struct replay *r, int32_t p,
                            int64_t committed, int64_t commit_ms)
{
    crawllog_reader_t *rd = NULL;
    const crawllog_msg_t *m;
    int64_t start, end, pos, next;
    struct dead d;
    int rc, st = 0, first = 1;

    rc = crawllog_partition_offsets(c->log, r->dlt, p, &start, &end);
    if (rc != CRAWLLOG_OK) {
        return cli_fail_log(c, "dlq replay", r->dlt, rc);
    }
    r->earlier +=
        committed > start ? (committed < end ? committed : end) - start : 0;
    r->done = committed;
    pos = committed > start ? committed : start;
    if (r->upto >= 0 && r->upto + 1 < end) {
        end = r->upto + 1;
    }
    if (r->from > pos) {
        /* Skipped past by --from-offset (committed below, if scanned). */
        r->filtered += (r->from < end ? r->from : end) - pos;
        pos = r->from;
    }
    if (pos >= end) {
        return 0;
    }
    if ((rc = crawllog_reader_new(&rd, c->log, r->dlt, p)) != CRAWLLOG_OK ||
        (rc = crawllog_reader_seek(rd, pos)) != CRAWLLOG_OK) {
        crawllog_reader_destroy(rd);
        return cli_fail_log(c, "dlq replay", r->dlt, rc);
    }
    next = pos;
    while (st == 0 && next < end &&
           (rc = crawllog_reader_next(rd, &m)) == CRAWLLOG_OK && m != NULL &&
           crawllog_msg_offset(m) < end) {
        dead_parse(m, &d);
        next = crawllog_msg_offset(m) + 1;
        if (!reason_matches(&d, r->reason)) {
            r->filtered++;
        } else if (r->dry) {
            printf("would replay %s/%d/%lld\n", r->dlt, (int)p,
                   (long long)crawllog_msg_offset(m));
            r->replayed++;
        } else {
            /* The first one this run copies is the one an interrupted run
             * (with the same filters) may have copied last. */
            r->since_ms = commit_ms;
            st = replay_one(c, r, p, m, first);
            first = 0;
        }
    }
    if (rc != CRAWLLOG_OK) {
        st = cli_fail("dlq replay", r->dlt, rc, crawllog_reader_errmsg(rd));
    }
    crawllog_reader_destroy(rd);
    /* The scanned range, filtered-out records included. */
    if (st == 0 && !r->dry && next > r->done) {
        st = replay_commit(c, r, p, next);
    }
    return st;
}

/* The committed offset of every partition of the replay group (-1: none;
 * the group not existing yet means none). */
static int replay_committed(struct cli *c, const char *group, int32_t parts,
                            const char *dlt, int64_t *committed,
                            int64_t *commit_ms)
{
    crawllog_group_desc_t *d = NULL;
    int rc = crawllog_group_describe(c->log, group, &d);
    size_t i;

    memset(committed, 0xff, (size_t)parts * sizeof(*committed));
    memset(commit_ms, 0xff, (size_t)parts * sizeof(*commit_ms));
    if (rc == CRAWLLOG_ENOENT) {
        return 0;
    } else if (rc != CRAWLLOG_OK) {
        return cli_fail_log(c, "dlq replay: groups describe", group, rc);
    }
    for (i = 0; i < d->partition_count; i++) {
        const crawllog_group_partition_t *gp = &d->partitions[i];

        if (strcmp(gp->topic, dlt) == 0 && gp->partition >= 0 &&
            gp->partition < parts) {
            committed[gp->partition] = gp->committed;
            commit_ms[gp->partition] = gp->commit_time_ms;
        }
    }
    crawllog_group_desc_free(d);
    return 0;
}

/* Create the consumer (for commits) and the producer. */
static int replay_clients(struct cli *c, struct replay *r, const char *group)
{
    char errstr[CRAWLLOG_ERRSTR_SIZE] = "";
    crawllog_conf_t *conf = NULL;
    int rc = crawllog_conf_new(&conf);

    if (rc == CRAWLLOG_OK) {
        rc = crawllog_conf_set(conf, "group.id", group, errstr, sizeof(errstr));
    }
    if (rc == CRAWLLOG_OK) {
        rc = crawllog_consumer_new(c->log, conf, &r->cons, errstr,
                                   sizeof(errstr));
    }
    crawllog_conf_destroy(conf);
    conf = NULL;
    if (rc != CRAWLLOG_OK) {
        return cli_fail("dlq replay: consumer group", group, rc, errstr);
    }
    rc = crawllog_conf_new(&conf);
    if (rc == CRAWLLOG_OK) {
        rc = crawllog_conf_set(conf, "acks", "all", errstr, sizeof(errstr));
    }
    if (rc == CRAWLLOG_OK) {
        rc = crawllog_producer_new(c->log, conf, &r->prod, errstr,
                                   sizeof(errstr));
    }
    crawllog_conf_destroy(conf);
    if (rc == CRAWLLOG_OK) {
        rc = crawllog_producer_set_delivery_cb(r->prod, on_delivery, r);
    }
    return rc == CRAWLLOG_OK
               ? 0
               : cli_fail("dlq replay: producer", NULL, rc, errstr);
}

static int replay_run(struct cli *c, struct replay *r)
{
    char group[sizeof(REPLAY_GROUP_PREFIX) + CRAWLLOG_TOPIC_NAME_MAX];
    int64_t *committed = NULL;
    int32_t parts = 0, to_parts = 0, p;
    int rc, st = 0;

    snprintf(group, sizeof(group), "%s%s", REPLAY_GROUP_PREFIX, r->dlt);
    if ((rc = crawllog_topic_describe(c->log, r->dlt, &parts, NULL)) != 0) {
        return cli_fail_log(c, "dlq replay", r->dlt, rc);
    } else if ((rc = crawllog_topic_describe(c->log, r->to, &to_parts, NULL)) !=
               0) {
        return cli_fail_log(c, "dlq replay: --to", r->to, rc);
    } else if (r->partition >= parts) {
        fprintf(stderr, "crawllog: dlq replay: %s has no partition %lld\n",
                r->dlt, (long long)r->partition);
        return 1;
    }
    committed = calloc(2 * (size_t)parts + 1, sizeof(*committed));
    if (committed == NULL) {
        return cli_fail("dlq replay", r->dlt, CRAWLLOG_ENOMEM, NULL);
    }
    r->to_parts = to_parts;
    st = replay_committed(c, group, parts, r->dlt, committed,
                          committed + parts);
    if (st == 0 && !r->dry) {
        st = replay_clients(c, r, group);
    }
    for (p = 0; p < parts && st == 0; p++) {
        if (r->partition < 0 || r->partition == p) {
            st = replay_partition(c, r, p, committed[p],
                                  committed[parts + p]);
        }
    }
    free(committed);
    printf("%s %lld dead letter%s from %s to %s, %lld skipped by the "
           "filters, %lld handled by earlier runs%s\n",
           r->dry ? "would replay" : "replayed", (long long)r->replayed,
           r->replayed == 1 ? "" : "s", r->dlt, r->to, (long long)r->filtered,
           (long long)r->earlier,
           r->dry ? " (dry run: nothing written)"
                  : (st != 0 ? " (stopped by the error)" : ""));
    return st;
}

static int dlq_replay(struct cli *c, int argc, char **argv)
{
    struct replay r;
    int i, st;

    memset(&r, 0, sizeof(r));
    r.partition = r.from = r.upto = -1;
    if (argc < 1 || argv[0][0] == '-') {
        return cli_usage(dlq_usage, "%s", "dlq replay needs DLT");
    }
    r.dlt = argv[0];
    for (i = 1; i < argc; i++) {
        const char *o = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(o, "--dry-run") == 0) {
            r.dry = 1;
            continue;
        } else if (val == NULL) {
            return cli_usage(dlq_usage, "bad dlq replay option '%s'", o);
        } else if (strcmp(o, "--to") == 0) {
            r.to = val;
        } else if (strcmp(o, "--reason") == 0) {
            r.reason = val;
        } else if (!((strcmp(o, "--partition") == 0 &&
                      cli_parse_int(val, 0, INT32_MAX, &r.partition) == 0) ||
                     (strcmp(o, "--from-offset") == 0 &&
                      cli_parse_int(val, 0, INT64_MAX - 1, &r.from) == 0) ||
                     (strcmp(o, "--to-offset") == 0 &&
                      cli_parse_int(val, 0, INT64_MAX - 1, &r.upto) == 0))) {
            return cli_usage(dlq_usage, "bad dlq replay option '%s'", o);
        }
        i++;
    }
    if (r.to == NULL) {
        return cli_usage(dlq_usage, "%s", "dlq replay needs --to TOPIC");
    } else if (strcmp(r.to, r.dlt) == 0) {
        return cli_usage(dlq_usage, "%s",
                         "dlq replay: --to must not be the DLT itself");
    } else if (r.upto >= 0 && r.from > r.upto) {
        return cli_usage(dlq_usage, "%s",
                         "dlq replay: --from-offset is after --to-offset");
    }
    int ost = cli_open(c);
    if (ost != 0) {
        return ost;
    }
    st = replay_run(c, &r);
    if (r.prod != NULL && (i = crawllog_producer_destroy(r.prod)) != 0 &&
        st == 0) {
        st = cli_fail("dlq replay: producer", NULL, i, NULL);
    }
    crawllog_consumer_destroy(r.cons);
    free(r.hdrs);
    return st;
}

/* ---------------------------------------------------------------------- */
/* dispatch                                                                */
/* ---------------------------------------------------------------------- */

int cli_cmd_dlq(struct cli *c, int argc, char **argv)
{
    const char *sub = argc > 0 ? argv[0] : "";
    int64_t max = -1;
    int i, json = 0, show = strcmp(sub, "show") == 0;

    for (i = 0; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            return cli_help(dlq_usage);
        }
    }
    if (strcmp(sub, "replay") == 0) {
        return dlq_replay(c, argc - 1, argv + 1);
    } else if (!show && strcmp(sub, "list") != 0) {
        return cli_usage(dlq_usage, "bad dlq command '%s'", sub);
    } else if (show && (argc < 2 || argv[1][0] == '-')) {
        return cli_usage(dlq_usage, "%s", "dlq show needs DLT");
    }
    for (i = 1 + show; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (show && strcmp(argv[i], "--max") == 0 && i + 1 < argc &&
                   cli_parse_int(argv[i + 1], 0, INT64_MAX, &max) == 0) {
            i++;
        } else {
            return cli_usage(dlq_usage, "bad dlq option '%s'", argv[i]);
        }
    }
    int ost = cli_open(c);
    if (ost != 0) {
        return ost;
    }
    return show ? dlq_show(c, argv[1], max, json) : dlq_list(c, json);
}
