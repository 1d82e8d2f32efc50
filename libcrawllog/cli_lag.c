/*
 * cli_lag.c - the crawllog tool's monitoring commands: `lag check` (an
 * alerting probe for cron, systemd timers and Nagios) and `metrics` (the
 * Prometheus text exposition format 0.0.4, printed once or served over
 * HTTP by a tiny blocking server).
 *
 * Both read crawllog_group_describe() (lag, commit time, Burrow's lag
 * status per partition and group) and the partitions' offsets; they write
 * nothing and own nothing on disk.  A NULL status (a library without lag
 * statuses) is read as "NOTFOUND".
 *
 * --listen serves the exposition with cli_http_serve() (cli_util.c): one
 * connection at a time, loopback only unless --allow-remote, until SIGINT
 * or SIGTERM; each request re-reads groups and topics.
 *
 * Invariants: every sample line is `name{labels} value`; a family's samples
 * follow its # HELP and # TYPE lines without another family in between;
 * label values are escaped (\\, \", \n) as the format requires.
 *
 * Locks: none (the tool is single-threaded; the library locks inside).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* lag check exit codes (usage errors: CLI_EXIT_USAGE). */
#define LAG_EXIT_BREACH 1
#define LAG_EXIT_UNKNOWN 3

static const char lag_usage[] =
    "usage: crawllog [-d DIR] lag check --group GROUP [--max-lag N]\n"
    "                [--max-stall-seconds S] [--no-status] [--json]\n"
    "  Checks every partition of GROUP (those with a commit or subscribed).\n"
    "  A partition is breached when:\n"
    "    --max-lag N            its lag is > N;\n"
    "    --max-stall-seconds S  its last commit is older than S seconds\n"
    "                           while its lag is > 0;\n"
    "    (always, unless --no-status) its lag status by Burrow's rules\n"
    "                           (crawllog_group_describe() in crawllog.h)\n"
    "                           is STOP, STALL or REWIND.\n"
    "  Partitions never committed have no lag and are not breached.\n"
    "  Output: a summary line first (\"OK: ...\" or \"BREACH: ...\", the\n"
    "  line Nagios shows), then one line per breached partition, e.g.\n"
    "    jobs/3: lag 1200 > 1000\n"
    "    jobs/1: no commit for 600 s with lag 12 (STALL)\n"
    "  --json: one object with the summary and every partition.\n"
    "exit status (Nagios plugin codes):\n"
    "  0 OK, nothing breached\n"
    "  1 WARNING, some partition breached\n"
    "  2 usage error\n"
    "  3 UNKNOWN, could not check (no such group, or a library error)\n";

static const char metrics_usage[] =
    "usage: crawllog [-d DIR] metrics [--listen HOST:PORT [--allow-remote]]\n"
    "  Prometheus text exposition (format 0.0.4) of every consumer group\n"
    "  and topic, all gauges:\n"
    "    crawllog_consumergroup_members{group}\n"
    "    crawllog_consumergroup_lag{group,topic,partition}\n"
    "    crawllog_consumergroup_lag_sum{group}\n"
    "    crawllog_consumergroup_current_offset{group,topic,partition}\n"
    "    crawllog_consumergroup_commit_age_seconds{group,topic,partition}\n"
    "    crawllog_consumergroup_status{group,topic,partition,status}\n"
    "        1 for the partition's lag status, 0 for the others (OK, WARN,\n"
    "        STOP, STALL, REWIND, NOTFOUND)\n"
    "    crawllog_consumergroup_lag_status{group,status}\n"
    "        the same for the group (OK, WARN, ERR, NOTFOUND)\n"
    "    crawllog_partition_log_start_offset{topic,partition}\n"
    "    crawllog_partition_log_end_offset{topic,partition}\n"
    "    crawllog_deadletter_messages{topic}\n"
    "        records (log end - log start, summed over the partitions) of\n"
    "        every topic whose name ends in \".dlt\" (the default dead-letter\n"
    "        topics; a dead.letter.topic with another name is not counted)\n"
    "  Partitions never committed have no lag, offset or age samples.\n"
    "  Without --listen: print once and exit.\n"
    "  --listen HOST:PORT  serve GET /metrics over HTTP/1.1 (other paths:\n"
    "                      404), one connection at a time, until SIGINT or\n"
    "                      SIGTERM (then exit 0).  HOST is a numeric IPv4\n"
    "                      address or [IPv6]; only that address is bound.\n"
    "                      PORT 0 picks a free port.  The address is printed\n"
    "                      on stderr: \"crawllog: metrics: listening on\n"
    "                      http://HOST:PORT/metrics\".\n"
    "  --allow-remote      allow a non-loopback HOST (there is no TLS and no\n"
    "                      authentication: anyone who reaches the port can\n"
    "                      read every group and topic name)\n";

/* The status string of a partition or group, NOTFOUND for NULL. */
static const char *status_of(const char *s)
{
    return s != NULL ? s : "NOTFOUND";
}

/* ---------------------------------------------------------------------- */
/* lag check                                                               */
/* ---------------------------------------------------------------------- */

struct lag_opts {
    const char *group;
    int64_t max_lag;   /* -1: not checked */
    int64_t max_stall; /* seconds; -1: not checked */
    int no_status;
    int json;
};

/* Why partition p is breached, or "" if it is not. */
static void lag_reasons(const struct lag_opts *o,
                        const crawllog_group_partition_t *p, int64_t now,
                        char *why, size_t size)
{
    const char *st = status_of(p->status);
    int bad_status =
        !o->no_status && (strcmp(st, "STOP") == 0 || strcmp(st, "STALL") == 0 ||
                          strcmp(st, "REWIND") == 0);
    int64_t age = p->commit_time_ms >= 0 ? now - p->commit_time_ms : -1;
    size_t len = 0;

    why[0] = '\0';
    if (o->max_lag >= 0 && p->lag > o->max_lag) {
        snprintf(why, size, "lag %lld > %lld", (long long)p->lag,
                 (long long)o->max_lag);
        len = strlen(why);
    }
    if (o->max_stall >= 0 && p->lag > 0 && age > o->max_stall * 1000) {
        snprintf(why + len, size - len, "%sno commit for %lld s with lag %lld",
                 len > 0 ? "; " : "", (long long)(age / 1000),
                 (long long)p->lag);
        len = strlen(why);
        if (bad_status) {
            snprintf(why + len, size - len, " (%s)", st);
            return;
        }
    }
    if (bad_status) {
        snprintf(why + len, size - len, "%sstatus %s (lag %lld)",
                 len > 0 ? "; " : "", st, (long long)p->lag);
    }
}

static int lag_parse(int argc, char **argv, struct lag_opts *o)
{
    int i;

    o->max_lag = o->max_stall = -1;
    if (argc < 1 || strcmp(argv[0], "check") != 0) {
        return cli_usage(lag_usage, "%s", "lag needs the subcommand check");
    }
    for (i = 1; i < argc; i++) {
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(argv[i], "--json") == 0) {
            o->json = 1;
        } else if (strcmp(argv[i], "--no-status") == 0) {
            o->no_status = 1;
        } else if (strcmp(argv[i], "--group") == 0 && val != NULL) {
            o->group = argv[++i];
        } else if (strcmp(argv[i], "--max-lag") == 0 &&
                   cli_parse_int(val, 0, INT64_MAX, &o->max_lag) == 0) {
            i++;
        } else if (strcmp(argv[i], "--max-stall-seconds") == 0 &&
                   cli_parse_int(val, 0, INT64_MAX / 1000, &o->max_stall) ==
                       0) {
            i++;
        } else if ((strcmp(argv[i], "--max-lag") == 0 ||
                    strcmp(argv[i], "--max-stall-seconds") == 0) &&
                   val != NULL) {
            return cli_usage(lag_usage, "bad number '%s'", val);
        } else {
            return cli_usage(lag_usage, "bad lag check option '%s'", argv[i]);
        }
    }
    if (o->group == NULL) {
        return cli_usage(lag_usage, "%s", "lag check needs --group GROUP");
    }
    return 0;
}

static void lag_json_num(const char *name, int64_t v)
{
    printf(v < 0 ? ",\"%s\":null" : ",\"%s\":%lld", name, (long long)v);
}

/* One partition as a JSON object (no leading comma). */
static void lag_json_part(const crawllog_group_partition_t *p, int64_t now,
                          const char *why)
{
    fputs("{\"topic\":", stdout);
    cli_json_str(stdout, p->topic);
    printf(",\"partition\":%d", (int)p->partition);
    lag_json_num("current_offset", p->committed);
    lag_json_num("log_end_offset", p->log_end);
    lag_json_num("lag", p->lag);
    lag_json_num("commit_age_ms",
                 p->commit_time_ms < 0
                     ? -1
                     : (now > p->commit_time_ms ? now - p->commit_time_ms : 0));
    fputs(",\"status\":", stdout);
    cli_json_str(stdout, status_of(p->status));
    printf(",\"breached\":%s,\"reason\":", why[0] ? "true" : "false");
    if (why[0] != '\0') {
        cli_json_str(stdout, why);
    } else {
        fputs("null", stdout);
    }
    putchar('}');
}

/* Check d against o; prints the result.  Returns 0 or LAG_EXIT_BREACH. */
static int lag_report(const struct lag_opts *o, const crawllog_group_desc_t *d)
{
    int64_t now = cli_now_ms(), total = 0, max = 0;
    size_t i, breached = 0;
    char why[512];

    for (i = 0; i < d->partition_count; i++) {
        const crawllog_group_partition_t *p = &d->partitions[i];

        lag_reasons(o, p, now, why, sizeof(why));
        breached += why[0] != '\0';
        total += p->lag > 0 ? p->lag : 0;
        max = p->lag > max ? p->lag : max;
    }
    if (o->json) {
        fputs("{\"group\":", stdout);
        cli_json_str(stdout, d->group);
        printf(",\"result\":\"%s\",\"partitions_checked\":%zu,"
               "\"partitions_breached\":%zu,\"total_lag\":%lld,"
               "\"max_lag\":%lld,\"lag_status\":",
               breached ? "BREACH" : "OK", d->partition_count, breached,
               (long long)total, (long long)max);
        cli_json_str(stdout, status_of(d->lag_status));
        fputs(",\"partitions\":[", stdout);
        for (i = 0; i < d->partition_count; i++) {
            lag_reasons(o, &d->partitions[i], now, why, sizeof(why));
            fputs(i > 0 ? "," : "", stdout);
            lag_json_part(&d->partitions[i], now, why);
        }
        puts("]}");
        return breached ? LAG_EXIT_BREACH : 0;
    }
    if (breached) {
        printf("BREACH: group %s: %zu of %zu partitions breached", d->group,
               breached, d->partition_count);
    } else {
        printf("OK: group %s: %zu partitions", d->group, d->partition_count);
    }
    printf(", total lag %lld, max lag %lld, status %s\n", (long long)total,
           (long long)max, status_of(d->lag_status));
    for (i = 0; i < d->partition_count; i++) {
        const crawllog_group_partition_t *p = &d->partitions[i];

        lag_reasons(o, p, now, why, sizeof(why));
        if (why[0] != '\0') {
            printf("%s/%d: %s\n", p->topic, (int)p->partition, why);
        }
    }
    return breached ? LAG_EXIT_BREACH : 0;
}

int cli_cmd_lag(struct cli *c, int argc, char **argv)
{
    struct lag_opts o = {0};
    crawllog_group_desc_t *d = NULL;
    int i, rc;

    for (i = 0; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            return cli_help(lag_usage);
        }
    }
    if ((rc = lag_parse(argc, argv, &o)) != 0) {
        return rc;
    }
    if (cli_open(c) != 0) {
        return LAG_EXIT_UNKNOWN;
    }
    rc = crawllog_group_describe(c->log, o.group, &d);
    if (rc == CRAWLLOG_ENOENT) {
        fprintf(stderr, "crawllog: group \"%s\" not found\n", o.group);
        return LAG_EXIT_UNKNOWN;
    } else if (rc != CRAWLLOG_OK) {
        cli_fail_log(c, "lag check", o.group, rc);
        return LAG_EXIT_UNKNOWN;
    }
    rc = lag_report(&o, d);
    crawllog_group_desc_free(d);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* metrics: collecting and writing the exposition                          */
/* ---------------------------------------------------------------------- */

/* One topic's partition offsets. */
struct mtopic {
    char *name;
    int32_t parts;
    int64_t *start, *end; /* parts entries each */
};

/* Everything one scrape shows. */
struct scrape {
    crawllog_group_desc_t **groups;
    size_t ngroups;
    struct mtopic *topics;
    size_t ntopics;
    int64_t now;
};

static void scrape_free(struct scrape *s)
{
    size_t i;

    for (i = 0; i < s->ngroups; i++) {
        crawllog_group_desc_free(s->groups[i]);
    }
    for (i = 0; i < s->ntopics; i++) {
        free(s->topics[i].name);
        free(s->topics[i].start);
        free(s->topics[i].end);
    }
    free(s->groups);
    free(s->topics);
    memset(s, 0, sizeof(*s));
}

/* Offsets of every partition of topic t (name set).  A topic deleted
 * meanwhile is left with 0 partitions. */
static int scrape_topic(crawllog_t *log, struct mtopic *t)
{
    int rc = crawllog_topic_describe(log, t->name, &t->parts, NULL);
    int32_t p;

    if (rc == CRAWLLOG_ENOTOPIC) {
        t->parts = 0;
        return 0;
    } else if (rc != CRAWLLOG_OK) {
        return rc;
    }
    t->start = calloc((size_t)t->parts + 1, sizeof(*t->start));
    t->end = calloc((size_t)t->parts + 1, sizeof(*t->end));
    if (t->start == NULL || t->end == NULL) {
        return CRAWLLOG_ENOMEM;
    }
    for (p = 0; p < t->parts; p++) {
        rc = crawllog_partition_offsets(log, t->name, p, &t->start[p],
                                        &t->end[p]);
        if (rc == CRAWLLOG_ENOTOPIC) {
            t->parts = p; /* deleted or shrunk meanwhile */
            return 0;
        } else if (rc != CRAWLLOG_OK) {
            return rc;
        }
    }
    return 0;
}

/* Read every group and topic.  On an error *what names the step. */
static int scrape_collect(crawllog_t *log, struct scrape *s, const char **what)
{
    char **names = NULL;
    size_t n = 0, i;
    int rc;

    memset(s, 0, sizeof(*s));
    s->now = cli_now_ms();
    *what = "groups list";
    if ((rc = crawllog_group_list(log, &names, &n)) != CRAWLLOG_OK) {
        return rc;
    }
    s->groups = calloc(n + 1, sizeof(*s->groups));
    *what = "groups describe";
    for (i = 0; i < n && rc == CRAWLLOG_OK; i++) {
        rc = s->groups == NULL ? CRAWLLOG_ENOMEM
                               : crawllog_group_describe(
                                     log, names[i], &s->groups[s->ngroups]);
        if (rc == CRAWLLOG_OK) {
            s->ngroups++;
        } else if (rc == CRAWLLOG_ENOENT) {
            rc = CRAWLLOG_OK; /* deleted meanwhile */
        }
    }
    crawllog_topic_list_free(names, n);
    names = NULL;
    n = 0;
    if (rc != CRAWLLOG_OK) {
        return rc;
    }
    *what = "topic list";
    if ((rc = crawllog_topic_list(log, &names, &n)) != CRAWLLOG_OK) {
        return rc;
    }
    s->topics = calloc(n + 1, sizeof(*s->topics));
    *what = "partition offsets";
    for (i = 0; i < n && rc == CRAWLLOG_OK; i++) {
        if (s->topics == NULL) {
            rc = CRAWLLOG_ENOMEM;
            break;
        }
        s->topics[i].name = names[i];
        names[i] = NULL; /* moved */
        s->ntopics++;
        rc = scrape_topic(log, &s->topics[i]);
    }
    crawllog_topic_list_free(names, n);
    return rc;
}

static void family(FILE *f, const char *name, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

/* ,name="value" (first: without the comma), value escaped as the
 * exposition format requires. */
static void label(FILE *f, int first, const char *name, const char *value)
{
    const char *v;

    fprintf(f, "%s%s=\"", first ? "" : ",", name);
    for (v = value; *v != '\0'; v++) {
        if (*v == '\\' || *v == '"') {
            fprintf(f, "\\%c", *v);
        } else if (*v == '\n') {
            fputs("\\n", f);
        } else {
            putc(*v, f);
        }
    }
    putc('"', f);
}

/* name{group=..,topic=..,partition=..[,status=..]} */
static void part_labels(FILE *f, const char *name, const char *group,
                        const char *topic, int32_t partition)
{
    char num[16];

    snprintf(num, sizeof(num), "%d", (int)partition);
    fputs(name, f);
    putc('{', f);
    if (group != NULL) {
        label(f, 1, "group", group);
    }
    label(f, group == NULL, "topic", topic);
    label(f, 0, "partition", num);
}

/* The samples of one per-partition family of every group: which selects
 * the value (0 lag, 1 current offset, 2 commit age). */
static void group_parts(FILE *f, const struct scrape *s, const char *name,
                        int which)
{
    size_t g, i;

    for (g = 0; g < s->ngroups; g++) {
        const crawllog_group_desc_t *d = s->groups[g];

        for (i = 0; i < d->partition_count; i++) {
            const crawllog_group_partition_t *p = &d->partitions[i];
            int64_t v = which == 0   ? p->lag
                        : which == 1 ? p->committed
                                     : p->commit_time_ms;

            if (v < 0) {
                continue;
            }
            part_labels(f, name, d->group, p->topic, p->partition);
            if (which == 2) {
                v = s->now > v ? s->now - v : 0;
                fprintf(f, "} %lld.%03lld\n", (long long)(v / 1000),
                        (long long)(v % 1000));
            } else {
                fprintf(f, "} %lld\n", (long long)v);
            }
        }
    }
}

static void write_statuses(FILE *f, const struct scrape *s)
{
    static const char *const part_st[] = {"OK",    "WARN",   "STOP",
                                          "STALL", "REWIND", "NOTFOUND"};
    static const char *const group_st[] = {"OK", "WARN", "ERR", "NOTFOUND"};
    size_t g, i, k;

    family(f, "crawllog_consumergroup_status",
           "Lag status of a partition by Burrow's rules: 1 for the current "
           "status, 0 for the others.");
    for (g = 0; g < s->ngroups; g++) {
        const crawllog_group_desc_t *d = s->groups[g];

        for (i = 0; i < d->partition_count; i++) {
            const crawllog_group_partition_t *p = &d->partitions[i];

            for (k = 0; k < sizeof(part_st) / sizeof(part_st[0]); k++) {
                part_labels(f, "crawllog_consumergroup_status", d->group,
                            p->topic, p->partition);
                label(f, 0, "status", part_st[k]);
                fprintf(f, "} %d\n",
                        strcmp(status_of(p->status), part_st[k]) == 0);
            }
        }
    }
    family(f, "crawllog_consumergroup_lag_status",
           "Lag status of a group (its worst partition): 1 for the current "
           "status, 0 for the others.");
    for (g = 0; g < s->ngroups; g++) {
        for (k = 0; k < sizeof(group_st) / sizeof(group_st[0]); k++) {
            fputs("crawllog_consumergroup_lag_status{", f);
            label(f, 1, "group", s->groups[g]->group);
            label(f, 0, "status", group_st[k]);
            fprintf(f, "} %d\n",
                    strcmp(status_of(s->groups[g]->lag_status), group_st[k]) ==
                        0);
        }
    }
}

static void write_topics(FILE *f, const struct scrape *s)
{
    static const char *const names[2] = {"crawllog_partition_log_start_offset",
                                         "crawllog_partition_log_end_offset"};
    static const char *const helps[2] = {
        "First readable offset of a partition.",
        "Offset the next record appended to a partition gets."};
    size_t t, k, len;
    int32_t p;

    for (k = 0; k < 2; k++) {
        family(f, names[k], helps[k]);
        for (t = 0; t < s->ntopics; t++) {
            for (p = 0; p < s->topics[t].parts; p++) {
                part_labels(f, names[k], NULL, s->topics[t].name, p);
                fprintf(f, "} %lld\n",
                        (long long)(k == 0 ? s->topics[t].start[p]
                                           : s->topics[t].end[p]));
            }
        }
    }
    family(f, "crawllog_deadletter_messages",
           "Records in a dead-letter topic (name ending in .dlt): log end - "
           "log start summed over its partitions.");
    for (t = 0; t < s->ntopics; t++) {
        int64_t sum = 0;

        len = strlen(s->topics[t].name);
        if (len < 4 || strcmp(s->topics[t].name + len - 4, ".dlt") != 0) {
            continue;
        }
        for (p = 0; p < s->topics[t].parts; p++) {
            sum += s->topics[t].end[p] - s->topics[t].start[p];
        }
        fputs("crawllog_deadletter_messages{", f);
        label(f, 1, "topic", s->topics[t].name);
        fprintf(f, "} %lld\n", (long long)sum);
    }
}

static void scrape_write(FILE *f, const struct scrape *s)
{
    size_t g, i;

    family(f, "crawllog_consumergroup_members", "Members of a consumer group.");
    for (g = 0; g < s->ngroups; g++) {
        fputs("crawllog_consumergroup_members{", f);
        label(f, 1, "group", s->groups[g]->group);
        fprintf(f, "} %zu\n", s->groups[g]->member_count);
    }
    family(f, "crawllog_consumergroup_lag",
           "Log end offset - committed offset of a partition of a group.");
    group_parts(f, s, "crawllog_consumergroup_lag", 0);
    family(f, "crawllog_consumergroup_lag_sum",
           "Sum of the lags of a group's partitions.");
    for (g = 0; g < s->ngroups; g++) {
        int64_t sum = 0;

        for (i = 0; i < s->groups[g]->partition_count; i++) {
            int64_t lag = s->groups[g]->partitions[i].lag;

            sum += lag > 0 ? lag : 0;
        }
        fputs("crawllog_consumergroup_lag_sum{", f);
        label(f, 1, "group", s->groups[g]->group);
        fprintf(f, "} %lld\n", (long long)sum);
    }
    family(f, "crawllog_consumergroup_current_offset",
           "Committed offset (the next offset to read) of a partition.");
    group_parts(f, s, "crawllog_consumergroup_current_offset", 1);
    family(f, "crawllog_consumergroup_commit_age_seconds",
           "Seconds since the last commit of a partition.");
    group_parts(f, s, "crawllog_consumergroup_commit_age_seconds", 2);
    write_statuses(f, s);
    write_topics(f, s);
}

/* The exposition for one HTTP request (cli_http_body_fn). */
static int metrics_body(void *opaque, char **bodyp, size_t *lenp)
{
    struct cli *c = opaque;
    const char *what = "";
    struct scrape s;
    FILE *f = NULL;
    int rc = scrape_collect(c->log, &s, &what);

    if (rc != CRAWLLOG_OK) {
        cli_fail_log(c, "metrics", what, rc);
    } else if ((f = open_memstream(bodyp, lenp)) != NULL) {
        scrape_write(f, &s);
        rc = fclose(f) == 0 ? CRAWLLOG_OK : CRAWLLOG_ENOMEM;
    }
    scrape_free(&s);
    return rc == CRAWLLOG_OK && f != NULL ? 0 : -1;
}

int cli_cmd_metrics(struct cli *c, int argc, char **argv)
{
    const char *listen_spec = NULL;
    int i, allow_remote = 0, rc;
    struct scrape s;
    const char *what = "";

    for (i = 0; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            return cli_help(metrics_usage);
        } else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
            listen_spec = argv[++i];
        } else if (strcmp(argv[i], "--allow-remote") == 0) {
            allow_remote = 1;
        } else {
            return cli_usage(metrics_usage, "bad metrics option '%s'", argv[i]);
        }
    }
    if (allow_remote && listen_spec == NULL) {
        return cli_usage(metrics_usage, "%s", "--allow-remote needs --listen");
    }
    int ost = cli_open(c);
    if (ost != 0) {
        return ost;
    } else if (listen_spec != NULL) {
        struct cli_http h = {"metrics",
                             "/metrics",
                             "text/plain; version=0.0.4; charset=utf-8",
                             metrics_body,
                             c,
                             metrics_usage};

        return cli_http_serve(&h, listen_spec, allow_remote);
    }
    rc = scrape_collect(c->log, &s, &what);
    if (rc == CRAWLLOG_OK) {
        scrape_write(stdout, &s);
    }
    scrape_free(&s);
    return rc == CRAWLLOG_OK ? 0 : cli_fail_log(c, "metrics", what, rc);
}
