/*
 * cli_topics.c - the crawllog tool's topic commands: `topics create`,
 * `list`, `describe` (partitions, offsets, segments and their sizes,
 * effective config), `delete`, `add-partitions` (and `migrate`,
 * `migration` from cli_migrate.c), and `offsets`.  `topic` is accepted
 * for `topics`.
 *
 * Part of the crawllog binary, not of the library (public header only).
 * Owns nothing on disk beyond what the library writes.  Single-threaded,
 * no locks.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char topics_usage[] =
    "usage: crawllog [-d DIR] topics COMMAND ...   (\"topic\" works too)\n"
    "  create NAME PARTITIONS [-c prop=value]...\n"
    "                  a topic of PARTITIONS partitions; -c sets a topic\n"
    "                  property (segment.bytes, segment.ms, retention.ms,\n"
    "                  retention.bytes, index.interval.bytes,\n"
    "                  segment.index.bytes, max.message.bytes)\n"
    "  list [--json]   topic names, one a line (--json: an array)\n"
    "  describe NAME [--segments] [--json]\n"
    "                  partition count, effective config, and per partition\n"
    "                  \"partition N: start S end E records E-S segments K\n"
    "                  bytes B\"; --segments adds a line per segment\n"
    "                  (base offset, next offset, .log/.index/.timeindex\n"
    "                  bytes, largest timestamp, active)\n"
    "  delete NAME [--force]\n"
    "                  delete the topic and its data; refused while it is\n"
    "                  being migrated (--force: even then)\n"
    "  add-partitions NAME TOTAL\n"
    "                  raise the partition count to TOTAL (never lower: see\n"
    "                  migrate)\n"
    "  migrate OLD NEW --partitions N [--dry-run]\n"
    "  migration OLD [--json]\n"
    "                  see `crawllog topics migrate --help`\n";

static const char offsets_usage[] =
    "usage: crawllog [-d DIR] offsets TOPIC [--json]\n"
    "  \"PARTITION START END\" per partition: the log start offset (first\n"
    "  readable) and the log end offset (the next record's).\n";

static int topics_create(struct cli *c, int argc, char **argv)
{
    crawllog_conf_t *tconf = NULL;
    int64_t parts;
    int i, rc = 0, st = 0;

    if (argc < 2 || cli_parse_int(argv[1], INT32_MIN, INT32_MAX, &parts) != 0) {
        return cli_usage(topics_usage, "%s",
                         "topics create needs NAME PARTITIONS");
    }
    for (i = 2; i < argc && st == 0; i++) {
        if (strcmp(argv[i], "-c") != 0 || i + 1 >= argc) {
            st = cli_usage(topics_usage, "unexpected argument '%s'", argv[i]);
        } else if (tconf == NULL && (rc = crawllog_conf_new(&tconf)) != 0) {
            st = cli_fail("conf", NULL, rc, NULL);
        } else {
            st = cli_conf_set_spec(tconf, "-c", argv[++i], topics_usage);
        }
    }
    if (st == 0 && (st = cli_open(c)) == 0) {
        rc = crawllog_topic_create(c->log, argv[0], (int32_t)parts, tconf);
        if (rc != CRAWLLOG_OK) {
            st = cli_fail_log(c, "topics create", argv[0], rc);
        } else {
            printf("created topic %s with %d partitions\n", argv[0],
                   (int)parts);
        }
    }
    crawllog_conf_destroy(tconf);
    return st;
}

/* One partition's segments: count and bytes (*segsp kept if segsp); -1
 * when the backend has none (Kafka: the line shows offsets only). */
static int seg_summary(struct cli *c, const char *topic, int32_t p,
                       crawllog_segment_info_t **segsp, size_t *np,
                       uint64_t *bytesp)
{
    crawllog_segment_info_t *segs = NULL;
    size_t n = 0; /* a local: the caller's count never escapes */
    int rc = crawllog_partition_segments(c->log, topic, p, &segs, &n);
    if (rc == CRAWLLOG_ENOTSUP) {
        return -1; /* a backend without segment files (Kafka) */
    }
    if (rc != CRAWLLOG_OK) {
        return cli_fail_log(c, "topics describe", topic, rc);
    }
    *np = n;
    *bytesp = 0;
    for (size_t i = 0; i < n; i++) {
        *bytesp += segs[i].log_bytes + segs[i].index_bytes +
                   segs[i].timeindex_bytes;
    }
    *segsp = segs;
    return 0;
}

static void print_segment(const crawllog_segment_info_t *s, int json)
{
    if (json) {
        printf("{\"base_offset\":%lld,\"next_offset\":%lld,\"log_bytes\":%llu,"
               "\"index_bytes\":%llu,\"timeindex_bytes\":%llu,"
               "\"max_timestamp\":%lld,\"active\":%s}",
               (long long)s->base_offset, (long long)s->next_offset,
               (unsigned long long)s->log_bytes,
               (unsigned long long)s->index_bytes,
               (unsigned long long)s->timeindex_bytes,
               (long long)s->max_timestamp, s->active ? "true" : "false");
        return;
    }
    printf("  segment %020lld: offsets %lld..%lld log %llu index %llu "
           "timeindex %llu max-timestamp %lld%s\n",
           (long long)s->base_offset, (long long)s->base_offset,
           (long long)s->next_offset, (unsigned long long)s->log_bytes,
           (unsigned long long)s->index_bytes,
           (unsigned long long)s->timeindex_bytes,
           (long long)s->max_timestamp, s->active ? " (active)" : "");
}

/* Every partition's offsets (and with describe, segments). */
static int print_partitions(struct cli *c, const char *topic, int describe,
                            int segments, int json)
{
    crawllog_conf_t *tconf = NULL;
    int32_t parts = 0;
    int st = 0;
    const char *what = describe ? "topics describe" : "offsets";
    int rc = crawllog_topic_describe(c->log, topic, &parts,
                                     describe ? &tconf : NULL);
    if (rc != CRAWLLOG_OK) {
        return cli_fail_log(c, what, topic, rc);
    }
    if (describe && json) {
        printf("{\"topic\":");
        cli_json_str(stdout, topic);
        printf(",\"partitions\":%d,\"config\":{", (int)parts);
        st = cli_print_conf(tconf, "", 1);
        printf("},\"partition_list\":[");
    } else if (describe) {
        printf("topic: %s\npartitions: %d\nconfig:\n", topic, (int)parts);
        st = cli_print_conf(tconf, "  ", 0);
    } else if (json) {
        putchar('[');
    }
    crawllog_conf_destroy(tconf);
    for (int32_t p = 0; p < parts && st == 0; p++) {
        int64_t start, end;
        crawllog_segment_info_t *segs = NULL;
        size_t nseg = 0;
        uint64_t bytes = 0;
        rc = crawllog_partition_offsets(c->log, topic, p, &start, &end);
        if (rc != CRAWLLOG_OK) {
            st = cli_fail_log(c, what, topic, rc);
            break;
        }
        int noseg = 0; /* the backend has no segments to show */
        if (describe) {
            st = seg_summary(c, topic, p, &segs, &nseg, &bytes);
            noseg = st < 0;
            st = st < 0 ? 0 : st;
            if (st != 0) {
                break;
            }
        }
        if (json) {
            printf("%s{\"partition\":%d,\"start\":%lld,\"end\":%lld",
                   p ? "," : "", (int)p, (long long)start, (long long)end);
            if (describe && noseg) {
                printf(",\"records\":%lld", (long long)(end - start));
            } else if (describe) {
                printf(",\"records\":%lld,\"bytes\":%llu,\"segments\":[",
                       (long long)(end - start), (unsigned long long)bytes);
                for (size_t i = 0; i < nseg; i++) {
                    fputs(i ? "," : "", stdout);
                    print_segment(&segs[i], 1);
                }
                putchar(']');
            }
            putchar('}');
        } else if (describe && noseg) {
            printf("partition %d: start %lld end %lld records %lld\n", (int)p,
                   (long long)start, (long long)end, (long long)(end - start));
        } else if (describe) {
            printf("partition %d: start %lld end %lld records %lld segments "
                   "%zu bytes %llu\n",
                   (int)p, (long long)start, (long long)end,
                   (long long)(end - start), nseg,
                   (unsigned long long)bytes);
            for (size_t i = 0; segments && i < nseg; i++) {
                print_segment(&segs[i], 0);
            }
        } else {
            printf("%d %lld %lld\n", (int)p, (long long)start,
                   (long long)end);
        }
        free(segs);
    }
    if (json && st == 0) {
        puts(describe ? "]}" : "]");
    }
    return st;
}

/* Options after NAME: --json, --segments, --force (as allowed). */
static int flags(int argc, char **argv, int from, const char *allowed,
                 int *json, int *segments, int *force)
{
    for (int i = from; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0 && strstr(allowed, "j")) {
            *json = 1;
        } else if (strcmp(argv[i], "--segments") == 0 && strstr(allowed, "s")) {
            *segments = 1;
        } else if (strcmp(argv[i], "--force") == 0 && strstr(allowed, "f")) {
            *force = 1;
        } else {
            return cli_usage(topics_usage, "bad topics option '%s'", argv[i]);
        }
    }
    return 0;
}

int cli_cmd_topics(struct cli *c, int argc, char **argv)
{
    const char *sub = argc > 0 ? argv[0] : "";
    int json = 0, segments = 0, force = 0, st, rc;
    int64_t total = 0;

    for (int i = 0; i < argc; i++) {
        if (cli_is_help(argv[i]) && strcmp(sub, "migrate") != 0 &&
            strcmp(sub, "migration") != 0) {
            return cli_help(topics_usage);
        }
    }
    if (strcmp(sub, "create") == 0) {
        return topics_create(c, argc - 1, argv + 1);
    } else if (strcmp(sub, "migrate") == 0) {
        return cli_cmd_migrate(c, argc - 1, argv + 1);
    } else if (strcmp(sub, "migration") == 0) {
        return cli_cmd_migration(c, argc - 1, argv + 1);
    } else if (strcmp(sub, "list") == 0) {
        st = flags(argc, argv, 1, "j", &json, &segments, &force);
    } else if ((strcmp(sub, "describe") == 0 || strcmp(sub, "delete") == 0) &&
               argc >= 2 && argv[1][0] != '-') {
        st = flags(argc, argv, 2, sub[1] == 'e' && sub[2] == 's' ? "js" : "f",
                   &json, &segments, &force);
    } else if (strcmp(sub, "add-partitions") == 0 && argc == 3 &&
               cli_parse_int(argv[2], INT32_MIN, INT32_MAX, &total) == 0) {
        st = 0;
    } else {
        return cli_usage(topics_usage, "bad topics command '%s'", sub);
    }
    if (st != 0 || (st = cli_open(c)) != 0) {
        return st;
    }
    if (strcmp(sub, "list") == 0) {
        return cli_print_names(c, "topics list", crawllog_topic_list, json);
    } else if (strcmp(sub, "describe") == 0) {
        return print_partitions(c, argv[1], 1, segments, json);
    } else if (strcmp(sub, "delete") == 0) {
        rc = crawllog_topic_delete_flags(c->log, argv[1],
                                         force ? CRAWLLOG_DELETE_FORCE : 0);
        if (rc != CRAWLLOG_OK) {
            return cli_fail_log(c, "topics delete", argv[1], rc);
        }
        printf("deleted topic %s\n", argv[1]);
        return 0;
    }
    rc = crawllog_topic_add_partitions(c->log, argv[1], (int32_t)total);
    if (rc != CRAWLLOG_OK) {
        return cli_fail_log(c, "topics add-partitions", argv[1], rc);
    }
    printf("topic %s now has %d partitions\n", argv[1], (int)total);
    return 0;
}

int cli_cmd_offsets(struct cli *c, int argc, char **argv)
{
    int json = 0, st;
    if (argc > 0 && cli_is_help(argv[0])) {
        return cli_help(offsets_usage);
    }
    if (argc < 1 || argc > 2 || argv[0][0] == '-' ||
        (argc == 2 && strcmp(argv[1], "--json") != 0)) {
        return cli_usage(offsets_usage, "%s", "offsets needs TOPIC");
    }
    json = argc == 2;
    if ((st = cli_open(c)) != 0) {
        return st;
    }
    return print_partitions(c, argv[0], 0, 0, json);
}
