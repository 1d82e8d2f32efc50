/*
 * cli_inspect.c - the crawllog tool's inspection and upkeep commands:
 * `dump` (segment-level: every batch with its header fields and CRC check,
 * like kafka-dump-log), `stats` (a data directory in numbers), `verify`
 * (the full integrity check, exit 4 on damage) and `retention run` (roll
 * and delete segments per retention; `maintain` is the old name).
 *
 * Part of the crawllog binary, not of the library (public header only).
 * Reads only, except `retention run` (through crawllog_maintain).
 * Single-threaded, no locks.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char dump_usage[] =
    "usage: crawllog [-d DIR] dump TOPIC [PARTITION] [--from OFFSET] "
    "[--json]\n"
    "  Every record batch of the partition (all partitions if none given),\n"
    "  from the batch holding OFFSET, as kafka-dump-log prints them:\n"
    "  \"partition: P segment: BASE position: POS baseOffset: B lastOffset:\n"
    "  L count: N producerId: ID producerEpoch: E baseSequence: S\n"
    "  isTransactional: BOOL isControl: BOOL CreateTime: T maxTimestamp: M\n"
    "  size: BYTES magic: 2 compresscodec: none crc: 0xCRC isvalid: BOOL\";\n"
    "  --json: one JSON object per batch, a line each.  Exit 4 if a batch\n"
    "  is damaged (its CRC does not match, or its structure is unreadable).\n"
    "  Progress on stderr when it is a terminal.\n";

static const char stats_usage[] =
    "usage: crawllog [-d DIR] stats [--json]\n"
    "  The data directory in numbers: per topic its partitions, records\n"
    "  (log end - log start, summed), segments and bytes on disk; then\n"
    "  totals, the consumer groups and their summed lag.\n";

static const char verify_usage[] =
    "usage: crawllog [-d DIR] verify\n"
    "  Check the whole data directory without opening (or recovering) it:\n"
    "  metadata checksums, every batch's structure and CRC, offsets,\n"
    "  indexes, permissions, symlinks, migrations.  Prints each problem\n"
    "  (\"<path>: [byte N: ]what\") and \"verify: ok\" or \"verify: N\n"
    "  problems\"; exit 0 if clean, 4 if there are problems.  Progress\n"
    "  (segments checked, rate) on stderr when it is a terminal.\n";

static const char retention_usage[] =
    "usage: crawllog [-d DIR] retention run\n"
    "  Roll segments older than segment.ms and delete whole segments beyond\n"
    "  retention.ms / retention.bytes, for every topic (crawllog_maintain;\n"
    "  \"crawllog maintain\" is the same).\n";

/* ---------------------------------------------------------------------- */
/* dump                                                                    */
/* ---------------------------------------------------------------------- */

struct dump {
    int32_t partition;
    int json, damaged;
    int64_t batches, records, end;
    struct cli_progress pr;
};

static const char *codec(int16_t attributes)
{
    static const char *const names[] = {"none", "gzip",    "snappy", "lz4",
                                        "zstd", "unknown", "unknown",
                                        "unknown"};
    return names[attributes & 7];
}

static int dump_batch(void *opaque, const crawllog_batch_info_t *b)
{
    struct dump *d = opaque;
    int txn = (b->attributes >> 4) & 1, ctl = (b->attributes >> 5) & 1;
    d->batches++;
    d->records += b->record_count;
    d->damaged |= !b->crc_valid;
    /* The same fields, as kafka-dump-log names them or as JSON. */
    printf(d->json
               ? "{\"partition\":%d,\"segment\":%lld,\"position\":%llu,"
                 "\"base_offset\":%lld,\"last_offset\":%lld,\"count\":%d,"
                 "\"producer_id\":%lld,\"producer_epoch\":%d,"
                 "\"base_sequence\":%d,\"is_transactional\":%s,"
                 "\"is_control\":%s,\"create_time\":%lld,"
                 "\"max_timestamp\":%lld,\"size\":%u,\"magic\":%d,"
                 "\"compresscodec\":\"%s\",\"crc\":%u,\"isvalid\":%s}\n"
               : "partition: %d segment: %lld position: %llu baseOffset: %lld "
                 "lastOffset: %lld count: %d producerId: %lld producerEpoch: "
                 "%d baseSequence: %d isTransactional: %s isControl: %s "
                 "CreateTime: %lld maxTimestamp: %lld size: %u magic: %d "
                 "compresscodec: %s crc: 0x%08x isvalid: %s\n",
           (int)d->partition, (long long)b->segment_base,
           (unsigned long long)b->position, (long long)b->base_offset,
           (long long)b->last_offset, (int)b->record_count,
           (long long)b->producer_id, (int)b->producer_epoch,
           (int)b->base_sequence, txn ? "true" : "false", ctl ? "true" : "false",
           (long long)b->first_timestamp, (long long)b->max_timestamp,
           (unsigned)b->size, (int)b->magic, codec(b->attributes),
           (unsigned)b->crc, b->crc_valid ? "true" : "false");
    cli_progress_update(&d->pr, b->last_offset + 1, d->end);
    return 0;
}

int cli_cmd_dump(struct cli *c, int argc, char **argv)
{
    struct dump d;
    int64_t from = 0, part = -1;
    int32_t parts = 0;
    int st = 0;
    memset(&d, 0, sizeof(d));
    for (int i = 0; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            return cli_help(dump_usage);
        }
    }
    if (argc < 1 || argv[0][0] == '-') {
        return cli_usage(dump_usage, "%s", "dump needs TOPIC");
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            d.json = 1;
        } else if (strcmp(argv[i], "--from") == 0 && i + 1 < argc &&
                   cli_parse_int(argv[i + 1], 0, INT64_MAX, &from) == 0) {
            i++;
        } else if (i == 1 && argv[i][0] != '-' &&
                   cli_parse_int(argv[i], 0, INT32_MAX, &part) == 0) {
            continue;
        } else {
            return cli_usage(dump_usage, "bad dump argument '%s'", argv[i]);
        }
    }
    if ((st = cli_open(c)) != 0) {
        return st;
    }
    int rc = crawllog_topic_describe(c->log, argv[0], &parts, NULL);
    if (rc == CRAWLLOG_OK && part >= parts) {
        fprintf(stderr, "crawllog: dump: topic %s has no partition %lld\n",
                argv[0], (long long)part);
        return CLI_EXIT_NOTFOUND;
    }
    for (int32_t p = part >= 0 ? (int32_t)part : 0;
         rc == CRAWLLOG_OK && p < (part >= 0 ? part + 1 : parts); p++) {
        int64_t start;
        d.partition = p;
        rc = crawllog_partition_offsets(c->log, argv[0], p, &start, &d.end);
        cli_progress_start(&d.pr, "dump", "offsets");
        if (rc == CRAWLLOG_OK) {
            rc = crawllog_partition_batches(c->log, argv[0], p, from,
                                            dump_batch, &d);
        }
        cli_progress_end(&d.pr);
    }
    if (rc != CRAWLLOG_OK) {
        fflush(stdout);
        return cli_fail_log(c, "dump", argv[0], rc);
    }
    fprintf(stderr, "dump: %lld batches, %lld records%s\n",
            (long long)d.batches, (long long)d.records,
            d.damaged ? ", damaged batches found" : "");
    return d.damaged ? CLI_EXIT_DAMAGED : 0;
}

/* ---------------------------------------------------------------------- */
/* stats                                                                   */
/* ---------------------------------------------------------------------- */

struct totals {
    int64_t topics, partitions, records, segments, groups, lag;
    uint64_t bytes;
};

static int stats_topic(struct cli *c, const char *topic, struct totals *t,
                       int json, int first)
{
    int32_t parts = 0;
    int64_t records = 0, segments = 0;
    uint64_t bytes = 0;
    int rc = crawllog_topic_describe(c->log, topic, &parts, NULL);
    for (int32_t p = 0; rc == CRAWLLOG_OK && p < parts; p++) {
        int64_t start, end;
        crawllog_segment_info_t *segs = NULL;
        size_t n = 0;
        if ((rc = crawllog_partition_offsets(c->log, topic, p, &start,
                                             &end)) == CRAWLLOG_OK &&
            (rc = crawllog_partition_segments(c->log, topic, p, &segs, &n)) ==
                CRAWLLOG_OK) {
            records += end - start;
            segments += (int64_t)n;
            for (size_t i = 0; i < n; i++) {
                bytes += segs[i].log_bytes + segs[i].index_bytes +
                         segs[i].timeindex_bytes;
            }
        }
        free(segs);
    }
    if (rc != CRAWLLOG_OK) {
        return cli_fail_log(c, "stats", topic, rc);
    }
    if (json) {
        printf("%s{\"topic\":", first ? "" : ",");
        cli_json_str(stdout, topic);
        printf(",\"partitions\":%d,\"records\":%lld,\"segments\":%lld,"
               "\"bytes\":%llu}",
               (int)parts, (long long)records, (long long)segments,
               (unsigned long long)bytes);
    } else {
        printf("topic %s: partitions %d records %lld segments %lld bytes "
               "%llu\n",
               topic, (int)parts, (long long)records, (long long)segments,
               (unsigned long long)bytes);
    }
    t->topics++;
    t->partitions += parts;
    t->records += records;
    t->segments += segments;
    t->bytes += bytes;
    return 0;
}

static int stats_groups(struct cli *c, struct totals *t)
{
    char **names = NULL;
    size_t n = 0;
    int rc = crawllog_group_list(c->log, &names, &n);
    for (size_t i = 0; rc == CRAWLLOG_OK && i < n; i++) {
        crawllog_group_desc_t *d = NULL;
        rc = crawllog_group_describe(c->log, names[i], &d);
        if (rc == CRAWLLOG_ENOENT) {
            rc = CRAWLLOG_OK; /* deleted meanwhile */
            continue;
        }
        for (size_t k = 0; rc == CRAWLLOG_OK && k < d->partition_count; k++) {
            t->lag += d->partitions[k].lag > 0 ? d->partitions[k].lag : 0;
        }
        t->groups++;
        crawllog_group_desc_free(d);
    }
    crawllog_topic_list_free(names, n);
    return rc == CRAWLLOG_OK ? 0 : cli_fail_log(c, "stats", "groups", rc);
}

int cli_cmd_stats(struct cli *c, int argc, char **argv)
{
    struct totals t;
    char **topics = NULL;
    size_t n = 0;
    int json = 0, st;
    memset(&t, 0, sizeof(t));
    for (int i = 0; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            return cli_help(stats_usage);
        } else if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else {
            return cli_usage(stats_usage, "bad stats argument '%s'", argv[i]);
        }
    }
    if ((st = cli_open(c)) != 0) {
        return st;
    }
    int rc = crawllog_topic_list(c->log, &topics, &n);
    if (rc != CRAWLLOG_OK) {
        return cli_fail_log(c, "stats", NULL, rc);
    }
    if (json) {
        printf("{\"topics\":[");
    }
    for (size_t i = 0; st == 0 && i < n; i++) {
        st = stats_topic(c, topics[i], &t, json, i == 0);
    }
    crawllog_topic_list_free(topics, n);
    if (st == 0) {
        st = stats_groups(c, &t);
    }
    if (st != 0) {
        fflush(stdout);
        return st;
    }
    if (json) {
        printf("],\"total\":{\"topics\":%lld,\"partitions\":%lld,"
               "\"records\":%lld,\"segments\":%lld,\"bytes\":%llu},"
               "\"groups\":%lld,\"group_lag\":%lld}\n",
               (long long)t.topics, (long long)t.partitions,
               (long long)t.records, (long long)t.segments,
               (unsigned long long)t.bytes, (long long)t.groups,
               (long long)t.lag);
    } else {
        printf("total: topics %lld partitions %lld records %lld segments "
               "%lld bytes %llu\ngroups: %lld, summed lag %lld\n",
               (long long)t.topics, (long long)t.partitions,
               (long long)t.records, (long long)t.segments,
               (unsigned long long)t.bytes, (long long)t.groups,
               (long long)t.lag);
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* verify, retention                                                       */
/* ---------------------------------------------------------------------- */

static void verify_cb(void *opaque, const char *problem)
{
    cli_progress_end(opaque); /* the problem line on a clean line */
    printf("%s\n", problem);
    fflush(stdout);
}

static void verify_progress(void *opaque, uint64_t segments,
                            uint64_t log_bytes)
{
    (void)log_bytes;
    cli_progress_update(opaque, (int64_t)segments, 0);
}

int cli_cmd_verify(struct cli *c, int argc, char **argv)
{
    char errstr[CRAWLLOG_ERRSTR_SIZE] = "";
    size_t problems = 0;
    if (argc > 0) {
        return cli_is_help(argv[0])
                   ? cli_help(verify_usage)
                   : cli_usage(verify_usage, "bad verify argument '%s'",
                               argv[0]);
    }
    struct cli_progress pr;
    cli_progress_start(&pr, "verify", "segments");
    int rc = crawllog_verify_progress(c->dir, verify_cb, verify_progress, &pr,
                                      &problems, errstr, sizeof(errstr));
    cli_progress_end(&pr);
    if (rc == CRAWLLOG_OK && problems == 0) {
        printf("verify: ok\n");
        return 0;
    }
    if (rc != CRAWLLOG_OK && rc != CRAWLLOG_ECORRUPT) {
        return cli_fail("verify", c->dir, rc, errstr);
    }
    printf("verify: %zu problem%s\n", problems, problems == 1 ? "" : "s");
    return CLI_EXIT_DAMAGED;
}

int cli_cmd_retention(struct cli *c, int argc, char **argv)
{
    int64_t deleted = 0;
    int st;
    if (argc > 0 && cli_is_help(argv[argc - 1])) {
        return cli_help(retention_usage);
    }
    if (argc != 1 || strcmp(argv[0], "run") != 0) {
        return cli_usage(retention_usage, "%s", "retention run takes no "
                                                "arguments");
    }
    if ((st = cli_open(c)) != 0) {
        return st;
    }
    int rc = crawllog_maintain(c->log, &deleted);
    if (rc != CRAWLLOG_OK) {
        return cli_fail_log(c, "retention run", NULL, rc);
    }
    printf("retention: deleted %lld segments\n", (long long)deleted);
    return 0;
}
