/*
 * cli_groups.c - the crawllog tool's consumer-group commands: `groups list`,
 * `describe` (Kafka's kafka-consumer-groups columns, --members, --json),
 * `delete` and `reset-offsets` (Kafka's tool semantics: a plan unless
 * --execute, refused while the group has members).
 *
 * Part of the crawllog binary, not of the library (public header only).
 * Owns nothing on disk beyond what the library writes (the group's
 * committed offsets, through crawllog_group_set_offsets).  Single-threaded,
 * no locks.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char groups_usage[] =
    "usage: crawllog [-d DIR] groups COMMAND ...\n"
    "  list [--json]   consumer group names, one a line (--json: an array)\n"
    "  describe GROUP [--members] [--json]\n"
    "                  like kafka-consumer-groups --describe: a row per\n"
    "                  partition, GROUP TOPIC PARTITION CURRENT-OFFSET\n"
    "                  LOG-END-OFFSET LAG CONSUMER-ID (\"-\": none); state\n"
    "                  notices on stderr; --members: a row per member;\n"
    "                  --json: state, members and partitions as one object\n"
    "  delete GROUP    delete the group (its committed offsets and state);\n"
    "                  refused while it has members\n"
    "  reset-offsets GROUP (--topic TOPIC[:P[,P]...] ... | --all-topics)\n"
    "          (--to-earliest | --to-latest | --to-offset N | --to-time T |\n"
    "           --shift-by N) [--dry-run | --execute] [--json]\n"
    "                  new committed offsets, as kafka-consumer-groups\n"
    "                  --reset-offsets: printed as GROUP TOPIC PARTITION\n"
    "                  NEW-OFFSET (--json: an array with the current offset\n"
    "                  too) and only applied with --execute (the default is\n"
    "                  the plan, as --dry-run); offsets are kept within the\n"
    "                  log (start..end); --to-time T (ms or\n"
    "                  2026-11-24T10:00[:SS][Z|+HH:MM]): the first offset at\n"
    "                  or after T; --shift-by N from the committed offset (or\n"
    "                  the log start); --all-topics: the topics the group has\n"
    "                  committed offsets for.  Refused while the group has\n"
    "                  members (exit 5).\n";


/* v in decimal in buf, or Kafka's "-" for a missing value (v < 0). */
static const char *opt_num(char *buf, size_t size, int64_t v)
{
    if (v < 0) {
        return "-";
    }
    snprintf(buf, size, "%lld", (long long)v);
    return buf;
}

static int widen(int width, const char *s)
{
    size_t len = strlen(s);

    return len > (size_t)width ? (int)len : width;
}

/* kafka-consumer-groups --describe: Kafka's columns and minimum widths
 * (15; PARTITION 10), wider where a value needs it, without HOST and
 * CLIENT-ID; the last column is not padded. */
static void describe_table(const crawllog_group_desc_t *d)
{
    int wg = widen(15, d->group), wt = 15, w[3] = {15, 15, 15}, k;
    char num[3][24];
    size_t i;

    for (i = 0; i < d->partition_count; i++) {
        const crawllog_group_partition_t *p = &d->partitions[i];
        const int64_t v[3] = {p->committed, p->log_end, p->lag};

        wt = widen(wt, p->topic);
        for (k = 0; k < 3; k++) {
            w[k] = widen(w[k], opt_num(num[k], sizeof(num[k]), v[k]));
        }
    }
    printf("%-*s %-*s %-10s %-*s %-*s %-*s %s\n", wg, "GROUP", wt, "TOPIC",
           "PARTITION", w[0], "CURRENT-OFFSET", w[1], "LOG-END-OFFSET", w[2],
           "LAG", "CONSUMER-ID");
    for (i = 0; i < d->partition_count; i++) {
        const crawllog_group_partition_t *p = &d->partitions[i];

        printf("%-*s %-*s %-10d %-*s %-*s %-*s %s\n", wg, d->group, wt,
               p->topic, (int)p->partition, w[0],
               opt_num(num[0], sizeof(num[0]), p->committed), w[1],
               opt_num(num[1], sizeof(num[1]), p->log_end), w[2],
               opt_num(num[2], sizeof(num[2]), p->lag),
               p->member_id != NULL ? p->member_id : "-");
    }
}

/* kafka-consumer-groups --describe --members: a row per member, PID where
 * Kafka has HOST, GROUP-INSTANCE-ID only if some member is static. */
static void describe_members(const crawllog_group_desc_t *d)
{
    int wg = widen(15, d->group), wm = 15, wi = 0, wc = 15;
    size_t i;

    for (i = 0; i < d->member_count; i++) {
        const crawllog_group_member_t *m = &d->members[i];

        wm = widen(wm, m->member_id);
        wc = widen(wc, m->client_id);
        wi = m->instance_id[0] != '\0'
                 ? widen(widen(wi, "GROUP-INSTANCE-ID"), m->instance_id)
                 : wi;
    }
    printf("%-*s %-*s ", wg, "GROUP", wm, "CONSUMER-ID");
    if (wi > 0) {
        printf("%-*s ", wi, "GROUP-INSTANCE-ID");
    }
    printf("%-10s %-*s %s\n", "PID", wc, "CLIENT-ID", "#PARTITIONS");
    for (i = 0; i < d->member_count; i++) {
        const crawllog_group_member_t *m = &d->members[i];

        printf("%-*s %-*s ", wg, d->group, wm, m->member_id);
        if (wi > 0) {
            printf("%-*s ", wi, m->instance_id[0] ? m->instance_id : "-");
        }
        printf("%-10ld %-*s %zu\n", m->pid, wc, m->client_id, m->partitions);
    }
}

/* sep, then "name": and s as a JSON string; or v, null if v < 0. */
static void json_key(const char *sep, const char *name, const char *s)
{
    printf("%s\"%s\":", sep, name);
    cli_json_str(stdout, s);
}

static void json_num(const char *name, int64_t v)
{
    printf(v < 0 ? ",\"%s\":null" : ",\"%s\":%lld", name, (long long)v);
}

static void describe_json(const crawllog_group_desc_t *d)
{
    size_t i;

    json_key("{", "group", d->group);
    json_key(",", "state", d->state);
    json_key(",", "strategy", d->strategy);
    printf(",\"generation\":%d,\"members\":[", (int)d->generation);
    for (i = 0; i < d->member_count; i++) {
        const crawllog_group_member_t *m = &d->members[i];

        json_key(i > 0 ? ",{" : "{", "member_id", m->member_id);
        json_key(",", "instance_id", m->instance_id);
        json_key(",", "client_id", m->client_id);
        printf(",\"pid\":%ld,\"alive\":%s,\"last_poll_age_ms\":%lld"
               ",\"partitions\":%zu}",
               m->pid, m->alive ? "true" : "false",
               (long long)m->last_poll_age_ms, m->partitions);
    }
    fputs("],\"partitions\":[", stdout);
    for (i = 0; i < d->partition_count; i++) {
        const crawllog_group_partition_t *p = &d->partitions[i];

        json_key(i > 0 ? ",{" : "{", "topic", p->topic);
        printf(",\"partition\":%d", (int)p->partition);
        json_num("current_offset", p->committed);
        json_num("log_end_offset", p->log_end);
        json_num("lag", p->lag);
        json_key(",", "consumer_id", p->member_id);
        json_num("commit_time_ms", p->commit_time_ms);
        putchar('}');
    }
    puts("]}");
}

static int groups_show(struct cli *c, int argc, char **argv)
{
    const char *sub = argc > 0 ? argv[0] : "";
    int describe = strcmp(sub, "describe") == 0, json = 0, members = 0, i, rc;
    crawllog_group_desc_t *d = NULL;

    if (!describe && strcmp(sub, "list") != 0) {
        return cli_usage(groups_usage, "bad groups command '%s'", sub);
    } else if (describe && argc < 2) {
        return cli_usage(groups_usage, "%s", "groups describe needs GROUP");
    }
    for (i = 1 + describe; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (describe && strcmp(argv[i], "--members") == 0) {
            members = 1;
        } else {
            return cli_usage(groups_usage, "bad groups option '%s'", argv[i]);
        }
    }
    int st = cli_open(c);
    if (st != 0) {
        return st;
    } else if (!describe) {
        return cli_print_names(c, "groups list", crawllog_group_list, json);
    }
    rc = crawllog_group_describe(c->log, argv[1], &d);
    if (rc == CRAWLLOG_ENOENT) {
        fprintf(stderr, "crawllog: group \"%s\" not found\n", argv[1]);
        return CLI_EXIT_NOTFOUND;
    } else if (rc != CRAWLLOG_OK) {
        return cli_fail_log(c, "groups describe", argv[1], rc);
    }
    if (json) {
        describe_json(d);
    } else {
        /* Kafka's notices, on stderr as Kafka prints them. */
        if (strcmp(d->state, "Empty") == 0) {
            fprintf(stderr, "Consumer group '%s' has no active members.\n",
                    d->group);
        } else if (strcmp(d->state, "PreparingRebalance") == 0) {
            fprintf(stderr, "Warning: Consumer group '%s' is rebalancing.\n",
                    d->group);
        }
        (members ? describe_members : describe_table)(d);
    }
    crawllog_group_desc_free(d);
    return 0;
}

/* ---------------------------------------------------------------------- */
/* delete                                                                  */
/* ---------------------------------------------------------------------- */

static int groups_delete(struct cli *c, int argc, char **argv)
{
    if (argc != 2 || argv[1][0] == '-') {
        return cli_usage(groups_usage, "%s", "groups delete needs GROUP");
    }
    int st = cli_open(c);
    if (st != 0) {
        return st;
    }
    int rc = crawllog_group_delete(c->log, argv[1]);
    if (rc != CRAWLLOG_OK) {
        return cli_fail_log(c, "groups delete", argv[1], rc);
    }
    printf("Deletion of requested consumer groups ('%s') was successful.\n",
           argv[1]);
    return 0;
}

/* ---------------------------------------------------------------------- */
/* reset-offsets                                                           */
/* ---------------------------------------------------------------------- */

enum reset_to { TO_NONE, TO_EARLIEST, TO_LATEST, TO_OFFSET, TO_TIME, TO_SHIFT };

struct reset {
    const char *group;
    enum reset_to to;
    int64_t arg;   /* N of --to-offset / --shift-by, T of --to-time */
    int all, execute, json;
    const char **topics; /* --topic values */
    size_t ntopics;
    crawllog_topic_partition_t *tps; /* targets; offset: the new one */
    int64_t *current;                /* committed now, -1 none */
    size_t n, cap;
};

static int reset_add(struct reset *r, const char *topic, int32_t p,
                     int64_t current)
{
    for (size_t i = 0; i < r->n; i++) {
        if (r->tps[i].partition == p && strcmp(r->tps[i].topic, topic) == 0) {
            return 0; /* listed twice */
        }
    }
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 16;
        void *a = realloc(r->tps, cap * sizeof(*r->tps));
        if (a == NULL) {
            return cli_fail("groups reset-offsets", r->group, CRAWLLOG_ENOMEM,
                            NULL);
        }
        r->tps = a;
        void *b = realloc(r->current, cap * sizeof(*r->current));
        if (b == NULL) {
            return cli_fail("groups reset-offsets", r->group, CRAWLLOG_ENOMEM,
                            NULL);
        }
        r->current = b;
        r->cap = cap;
    }
    char *t = strdup(topic);
    if (t == NULL) {
        return cli_fail("groups reset-offsets", r->group, CRAWLLOG_ENOMEM,
                        NULL);
    }
    memset(&r->tps[r->n], 0, sizeof(r->tps[r->n]));
    r->tps[r->n].topic = t;
    r->tps[r->n].partition = p;
    r->current[r->n++] = current;
    return 0;
}

static void reset_free(struct reset *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free((char *)r->tps[i].topic);
    }
    free(r->tps);
    free(r->current);
    free(r->topics);
}

static int reset_parse(struct reset *r, int argc, char **argv)
{
    static const char *const tos[] = {"", "--to-earliest", "--to-latest",
                                      "--to-offset", "--to-time",
                                      "--shift-by"};
    if (argc < 2 || argv[1][0] == '-') {
        return cli_usage(groups_usage, "%s", "groups reset-offsets needs GROUP");
    }
    r->group = argv[1];
    r->topics = calloc((size_t)argc, sizeof(*r->topics));
    if (r->topics == NULL) {
        return cli_fail("groups reset-offsets", r->group, CRAWLLOG_ENOMEM,
                        NULL);
    }
    for (int i = 2; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int k = 1;
        while (k < 6 && strcmp(o, tos[k]) != 0) {
            k++;
        }
        if (k < 6 && r->to != TO_NONE) {
            return cli_usage(groups_usage, "%s: one --to-... or --shift-by",
                             o);
        } else if (k == TO_EARLIEST || k == TO_LATEST) {
            r->to = (enum reset_to)k;
        } else if (k < 6) {
            int bad = v == NULL ||
                      (k == TO_TIME ? cli_parse_time(v, &r->arg)
                                    : cli_parse_int(v,
                                                    k == TO_SHIFT ? INT64_MIN
                                                                  : 0,
                                                    INT64_MAX, &r->arg)) != 0;
            if (bad) {
                return cli_usage(groups_usage, "bad value for %s", o);
            }
            r->to = (enum reset_to)k;
            i++;
        } else if (strcmp(o, "--topic") == 0 && v != NULL) {
            r->topics[r->ntopics++] = v;
            i++;
        } else if (strcmp(o, "--all-topics") == 0) {
            r->all = 1;
        } else if (strcmp(o, "--execute") == 0) {
            r->execute = 1;
        } else if (strcmp(o, "--dry-run") == 0) {
            r->execute = 0;
        } else if (strcmp(o, "--json") == 0) {
            r->json = 1;
        } else {
            return cli_usage(groups_usage, "bad reset-offsets option '%s'", o);
        }
    }
    if (r->to == TO_NONE) {
        return cli_usage(groups_usage, "%s",
                         "reset-offsets needs --to-earliest, --to-latest, "
                         "--to-offset, --to-time or --shift-by");
    } else if ((r->ntopics > 0) == r->all) {
        return cli_usage(groups_usage, "%s",
                         "reset-offsets needs --topic ... or --all-topics");
    }
    return 0;
}

/* The committed offset of (topic, p) in d (-1: none). */
static int64_t committed_of(const crawllog_group_desc_t *d, const char *topic,
                            int32_t p)
{
    for (size_t i = 0; d != NULL && i < d->partition_count; i++) {
        if (d->partitions[i].partition == p &&
            strcmp(d->partitions[i].topic, topic) == 0) {
            return d->partitions[i].committed;
        }
    }
    return -1;
}

/* Targets from --topic T[:P,...] or --all-topics. */
static int reset_targets(struct cli *c, struct reset *r,
                         const crawllog_group_desc_t *d)
{
    int st = 0;
    for (size_t i = 0; r->all && d != NULL && i < d->partition_count && st == 0;
         i++) {
        const crawllog_group_partition_t *gp = &d->partitions[i];
        if (gp->committed >= 0) {
            st = reset_add(r, gp->topic, gp->partition, gp->committed);
        }
    }
    for (size_t k = 0; k < r->ntopics && st == 0; k++) {
        char topic[CRAWLLOG_TOPIC_NAME_MAX + 1];
        const char *spec = r->topics[k], *colon = strchr(spec, ':');
        size_t tl = colon ? (size_t)(colon - spec) : strlen(spec);
        int32_t parts = 0;
        if (tl == 0 || tl > CRAWLLOG_TOPIC_NAME_MAX) {
            return cli_usage(groups_usage, "bad --topic '%s'", spec);
        }
        memcpy(topic, spec, tl);
        topic[tl] = '\0';
        int rc = crawllog_topic_describe(c->log, topic, &parts, NULL);
        if (rc != CRAWLLOG_OK) {
            return cli_fail_log(c, "groups reset-offsets", topic, rc);
        }
        for (int32_t p = 0; colon == NULL && p < parts && st == 0; p++) {
            st = reset_add(r, topic, p, committed_of(d, topic, p));
        }
        for (const char *q = colon ? colon + 1 : NULL; q != NULL && st == 0;) {
            char num[24];
            const char *comma = strchr(q, ',');
            size_t len = comma ? (size_t)(comma - q) : strlen(q);
            int64_t p;
            if (len == 0 || len >= sizeof(num)) {
                return cli_usage(groups_usage, "bad --topic '%s'", spec);
            }
            memcpy(num, q, len);
            num[len] = '\0';
            if (cli_parse_int(num, 0, (int64_t)parts - 1, &p) != 0) {
                fprintf(stderr,
                        "crawllog: groups reset-offsets: topic %s has no "
                        "partition %s\n",
                        topic, num);
                return CLI_EXIT_NOTFOUND;
            }
            st = reset_add(r, topic, (int32_t)p,
                           committed_of(d, topic, (int32_t)p));
            q = comma ? comma + 1 : NULL;
        }
    }
    return st;
}

/* The new offset of target i. */
static int reset_compute(struct cli *c, struct reset *r, size_t i)
{
    crawllog_topic_partition_t *tp = &r->tps[i];
    int64_t start, end, off = 0;
    int rc = crawllog_partition_offsets(c->log, tp->topic, tp->partition,
                                        &start, &end);
    if (rc == CRAWLLOG_OK && r->to == TO_TIME) {
        crawllog_reader_t *rd = NULL;
        rc = crawllog_reader_new(&rd, c->log, tp->topic, tp->partition);
        if (rc == CRAWLLOG_OK) {
            rc = crawllog_reader_seek_time(rd, r->arg, &off);
        }
        crawllog_reader_destroy(rd);
    }
    if (rc != CRAWLLOG_OK) {
        return cli_fail_log(c, "groups reset-offsets", tp->topic, rc);
    }
    switch (r->to) {
    case TO_EARLIEST:
        off = start;
        break;
    case TO_LATEST:
        off = end;
        break;
    case TO_OFFSET:
        off = r->arg;
        break;
    case TO_SHIFT: {
        int64_t base = r->current[i] >= 0 ? r->current[i] : start;
        off = r->arg > 0 && base > INT64_MAX - r->arg ? INT64_MAX
              : r->arg < 0 && base < INT64_MIN - r->arg ? start
                                                        : base + r->arg;
        break;
    }
    default:
        break;
    }
    tp->offset = off < start ? start : off > end ? end : off;
    return 0;
}

static void reset_print(const struct reset *r)
{
    if (r->json) {
        for (size_t i = 0; i < r->n; i++) {
            printf("%s{\"group\":", i ? "," : "[");
            cli_json_str(stdout, r->group);
            printf(",\"topic\":");
            cli_json_str(stdout, r->tps[i].topic);
            printf(",\"partition\":%d,\"current_offset\":",
                   (int)r->tps[i].partition);
            printf(r->current[i] < 0 ? "null" : "%lld",
                   (long long)r->current[i]);
            printf(",\"new_offset\":%lld}", (long long)r->tps[i].offset);
        }
        puts(r->n ? "]" : "[]");
        return;
    }
    /* reset_parse set group: cli_usage never returns 0 (another file).
     * NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker) */
    int wg = (int)strlen(r->group), wt = 15;
    wg = wg < 15 ? 15 : wg;
    for (size_t i = 0; i < r->n; i++) {
        int l = (int)strlen(r->tps[i].topic);
        wt = l > wt ? l : wt;
    }
    printf("%-*s %-*s %-10s %s\n", wg, "GROUP", wt, "TOPIC", "PARTITION",
           "NEW-OFFSET");
    for (size_t i = 0; i < r->n; i++) {
        printf("%-*s %-*s %-10d %lld\n", wg, r->group, wt, r->tps[i].topic,
               (int)r->tps[i].partition, (long long)r->tps[i].offset);
    }
}

static int groups_reset(struct cli *c, int argc, char **argv)
{
    struct reset r;
    crawllog_group_desc_t *d = NULL;
    struct cli_progress pr;
    memset(&r, 0, sizeof(r));
    int st = reset_parse(&r, argc, argv);
    if (st == 0) {
        st = cli_open(c);
    }
    if (st == 0) {
        int rc = crawllog_group_describe(c->log, r.group, &d);
        if (rc != CRAWLLOG_OK && rc != CRAWLLOG_ENOENT) {
            st = cli_fail_log(c, "groups reset-offsets", r.group, rc);
        }
    }
    if (st == 0) {
        st = reset_targets(c, &r, d);
    }
    cli_progress_start(&pr, "reset-offsets", "partitions");
    for (size_t i = 0; st == 0 && i < r.n; i++) {
        st = reset_compute(c, &r, i);
        cli_progress_update(&pr, (int64_t)i + 1, (int64_t)r.n);
    }
    cli_progress_end(&pr);
    if (st == 0 && r.execute && r.n > 0) {
        int rc = crawllog_group_set_offsets(c->log, r.group, r.tps, r.n);
        if (rc != CRAWLLOG_OK) {
            st = cli_fail_log(c, "groups reset-offsets", r.group, rc);
        }
    }
    if (st == 0) {
        reset_print(&r);
        if (!r.execute) {
            fprintf(stderr, "crawllog: groups reset-offsets: dry run, nothing "
                            "changed (add --execute to apply)\n");
        }
    }
    crawllog_group_desc_free(d);
    reset_free(&r);
    return st;
}

int cli_cmd_groups(struct cli *c, int argc, char **argv)
{
    const char *sub = argc > 0 ? argv[0] : "";
    for (int i = 0; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            return cli_help(groups_usage);
        }
    }
    if (strcmp(sub, "delete") == 0) {
        return groups_delete(c, argc, argv);
    } else if (strcmp(sub, "reset-offsets") == 0) {
        return groups_reset(c, argc, argv);
    }
    return groups_show(c, argc, argv);
}
