/*
 * crawllog_cli.c - the `crawllog` command-line tool.
 *
 * A thin front end over the public API (include/crawllog.h only): create,
 * list, describe and delete topics, produce stdin lines as records, consume
 * records as text, print offsets, list and describe consumer groups (lag,
 * as kafka-consumer-groups shows it; also as JSON), run maintenance, verify
 * a data directory and print configuration.  The lag probe and Prometheus
 * metrics live in cli_lag.c, the dead-letter commands in cli_dlq.c, shared
 * helpers in cli_util.c (cli.h).  It owns nothing on disk beyond what the
 * library writes.  Run `crawllog help` for the commands.
 *
 * Exit status: 0 success, 1 a library or I/O error ("crawllog: <what>:
 * <CRAWLLOG_E...>: <detail>" on stderr; an unknown group is "crawllog:
 * group "G" not found"), 2 a usage error; `lag check` uses Nagios' codes
 * (0 OK, 1 breached, 3 cannot check; 2 stays the usage error).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "cli.h"
#include "crawllog.h"

#define DEFAULT_DIR "crawllog-data"

static const char usage_text[] =
    "usage: crawllog [-d DIR] [-X prop=value]... COMMAND [ARGS]\n"
    "  -d DIR      data directory (default: $CRAWLLOG_DIR, else "
    "./" DEFAULT_DIR ")\n"
    "  -X p=v      a conf property for opening the log (repeatable),\n"
    "              e.g. -X log.dir.create=false\n"
    "  -h          this help\n"
    "commands:\n"
    "  topic create NAME PARTITIONS [-c prop=value]...\n"
    "                  topic overrides: segment.bytes, retention.ms, ...\n"
    "  topic list\n"
    "  topic describe NAME\n"
    "                  partition count, effective config, and per partition\n"
    "                  \"partition N: start S end E records E-S\"\n"
    "  topic delete NAME [--force]\n"
    "                  refused while NAME is being migrated (--force: even\n"
    "                  then)\n"
    "  topic add-partitions NAME TOTAL\n"
    "  topics migrate OLD NEW --partitions N [--dry-run]\n"
    "                  copy OLD into a new topic NEW of N partitions (more or\n"
    "                  fewer), then send OLD's appends to NEW; resumable (run\n"
    "                  it again); progress on a terminal (see its --help)\n"
    "  topics migration OLD [--json]\n"
    "                  a migration's state, cut and start offsets, and the\n"
    "                  consumer groups that have not switched yet\n"
    "  produce TOPIC PARTITION [--sync none|written|durable] [--batch N]\n"
    "          [--key-sep C]\n"
    "                  each stdin line is a record value (with --key-sep,\n"
    "                  KEY<C>VALUE; a line without C has a null key);\n"
    "                  appends in batches of N lines (default 1000, sync\n"
    "                  written); summary on stderr\n"
    "  consume TOPIC PARTITION [--from OFFSET | --from-time MS] [--max N]\n"
    "          [--format text|raw]\n"
    "                  text: \"OFFSET\\tTIMESTAMP\\tKEY\\tVALUE\" lines, null\n"
    "                  as (null), bytes outside 0x20..0x7e and '\\' as \\xHH;\n"
    "                  raw: each value's bytes and a newline; stops at the\n"
    "                  log end or after N records\n"
    "  offsets TOPIC   \"PARTITION START END\" per partition\n"
    "  groups list [--json]\n"
    "                  consumer group names, one a line (--json: an array)\n"
    "  groups describe GROUP [--members] [--json]\n"
    "                  like kafka-consumer-groups --describe: a row per\n"
    "                  partition, GROUP TOPIC PARTITION CURRENT-OFFSET\n"
    "                  LOG-END-OFFSET LAG CONSUMER-ID (\"-\": none); state\n"
    "                  notices on stderr; --members: a row per member;\n"
    "                  --json: state, members and partitions as one object\n"
    "  lag check --group GROUP [--max-lag N] [--max-stall-seconds S]\n"
    "          [--no-status] [--json]\n"
    "                  alerting probe (cron, systemd, Nagios): exit 0 OK,\n"
    "                  1 some partition breached, 3 cannot check\n"
    "  metrics [--listen HOST:PORT [--allow-remote]]\n"
    "                  Prometheus text format: group lag, offsets, commit\n"
    "                  ages, lag statuses, partition offsets, dead letters;\n"
    "                  --listen serves GET /metrics\n"
    "  dlq list [--json]\n"
    "  dlq show DLT [--max N] [--json]\n"
    "  dlq replay DLT --to TOPIC [--reason TEXT] [--partition P]\n"
    "          [--from-offset O] [--to-offset O] [--dry-run]\n"
    "                  dead-letter topics (*.dlt): counts, the dead letters\n"
    "                  with their DLT headers, re-publishing them once\n"
    "                  (each command has --help)\n"
    "  verify          check DIR without opening (or recovering) it;\n"
    "                  exit 1 if there are problems\n"
    "  maintain        roll and delete segments per retention\n"
    "  conf            print the conf built from -X options\n"
    "  version         print the library version\n"
    "  help            this help\n"
    "exit status: 0 ok, 1 error, 2 usage error (lag check: see its --help)\n";

/* Print a usage error and the usage text; returns CLI_EXIT_USAGE. */
static int usage_error(const char *fmt, const char *arg)
{
    return cli_usage(usage_text, fmt, arg);
}

/* Set "name=value" (spec) on conf; opt names the option for messages.
 * Returns 0, 1 (library rejected it) or CLI_EXIT_USAGE (no '='). */
static int conf_set_spec(crawllog_conf_t *conf, const char *opt,
                         const char *spec)
{
    char errstr[CRAWLLOG_ERRSTR_SIZE] = "", name[256];
    const char *eq = strchr(spec, '=');
    int rc;

    if (eq == NULL || eq == spec || (size_t)(eq - spec) >= sizeof(name)) {
        return usage_error("%s needs prop=value", opt);
    }
    memcpy(name, spec, (size_t)(eq - spec));
    name[eq - spec] = '\0';
    rc = crawllog_conf_set(conf, name, eq + 1, errstr, sizeof(errstr));
    return rc == CRAWLLOG_OK ? 0 : cli_fail(opt, spec, rc, errstr);
}

/* Print a conf dump with a prefix on each line.  Returns 0 or 1. */
static int print_conf(const crawllog_conf_t *conf, const char *prefix)
{
    char *text = NULL, *line, *nl;
    int rc = crawllog_conf_dump(conf, &text);

    if (rc != CRAWLLOG_OK) {
        return cli_fail("conf dump", NULL, rc, NULL);
    }
    for (line = text; *line != '\0' && (nl = strchr(line, '\n')) != NULL;
         line = nl + 1) {
        printf("%s%.*s\n", prefix, (int)(nl - line), line);
    }
    if (*line != '\0') {
        printf("%s%s\n", prefix, line);
    }
    free(text);
    return 0;
}

/* Print every partition's offsets, as "describe" or "offsets" shows them. */
static int print_partitions(struct cli *c, const char *topic, int describe)
{
    crawllog_conf_t *tconf = NULL;
    int32_t parts = 0, p;
    int64_t start, end;
    int rc, st = 0;

    rc = crawllog_topic_describe(c->log, topic, &parts,
                                 describe ? &tconf : NULL);
    if (rc != CRAWLLOG_OK) {
        return cli_fail_log(c, describe ? "topic describe" : "offsets", topic,
                            rc);
    }
    if (describe) {
        printf("topic: %s\npartitions: %d\nconfig:\n", topic, (int)parts);
        st = print_conf(tconf, "  ");
        crawllog_conf_destroy(tconf);
    }
    for (p = 0; p < parts && st == 0; p++) {
        rc = crawllog_partition_offsets(c->log, topic, p, &start, &end);
        if (rc != CRAWLLOG_OK) {
            return cli_fail_log(c, "partition offsets", topic, rc);
        }
        if (describe) {
            printf("partition %d: start %lld end %lld records %lld\n", (int)p,
                   (long long)start, (long long)end, (long long)(end - start));
        } else {
            printf("%d %lld %lld\n", (int)p, (long long)start, (long long)end);
        }
    }
    return st;
}

/* ---------------------------------------------------------------------- */
/* topic                                                                   */
/* ---------------------------------------------------------------------- */

static int topic_create(struct cli *c, int argc, char **argv)
{
    crawllog_conf_t *tconf = NULL;
    int64_t parts;
    int i, rc = 0, st = 0;

    if (argc < 2 || cli_parse_int(argv[1], INT32_MIN, INT32_MAX, &parts) != 0) {
        return usage_error("%s", "topic create needs NAME PARTITIONS");
    }
    for (i = 2; i < argc && st == 0; i++) {
        if (strcmp(argv[i], "-c") != 0 || i + 1 >= argc) {
            st = usage_error("unexpected argument '%s'", argv[i]);
        } else if (tconf == NULL && (rc = crawllog_conf_new(&tconf)) != 0) {
            st = cli_fail("conf", NULL, rc, NULL);
        } else {
            st = conf_set_spec(tconf, "-c", argv[++i]);
        }
    }
    if (st == 0 && (st = cli_open(c)) == 0) {
        rc = crawllog_topic_create(c->log, argv[0], (int32_t)parts, tconf);
        if (rc != CRAWLLOG_OK) {
            st = cli_fail_log(c, "topic create", argv[0], rc);
        } else {
            printf("created topic %s with %d partitions\n", argv[0],
                   (int)parts);
        }
    }
    crawllog_conf_destroy(tconf);
    return st;
}

/* The names a lister (crawllog_topic_list, crawllog_group_list) returns,
 * one a line or as a JSON array. */
static int print_names(struct cli *c, const char *what,
                       int (*list)(crawllog_t *, char ***, size_t *), int json)
{
    char **names = NULL;
    size_t n = 0, i;
    int rc = list(c->log, &names, &n);

    if (rc != CRAWLLOG_OK) {
        return cli_fail_log(c, what, NULL, rc);
    }
    for (i = 0; i < n; i++) {
        if (json) {
            fputs(i == 0 ? "[" : ",", stdout);
            cli_json_str(stdout, names[i]);
        } else {
            printf("%s\n", names[i]);
        }
    }
    if (json) {
        puts(n == 0 ? "[]" : "]");
    }
    crawllog_topic_list_free(names, n);
    return 0;
}

static int cmd_topic(struct cli *c, int argc, char **argv)
{
    const char *sub = argc > 0 ? argv[0] : "", *name = argv[1];
    int64_t total = 0;
    int rc;

    if (strcmp(sub, "create") == 0) {
        return topic_create(c, argc - 1, argv + 1);
    }
    int force = strcmp(sub, "delete") == 0 && argc == 3 &&
                strcmp(argv[2], "--force") == 0;
    if (!((strcmp(sub, "list") == 0 && argc == 1) ||
          ((strcmp(sub, "describe") == 0 || strcmp(sub, "delete") == 0) &&
           argc == 2) ||
          force ||
          (strcmp(sub, "add-partitions") == 0 && argc == 3 &&
           cli_parse_int(argv[2], INT32_MIN, INT32_MAX, &total) == 0))) {
        return usage_error("bad topic command '%s'", sub);
    }
    if (cli_open(c) != 0) {
        return 1;
    }
    if (strcmp(sub, "list") == 0 || strcmp(sub, "describe") == 0) {
        return sub[0] == 'l'
                   ? print_names(c, "topic list", crawllog_topic_list, 0)
                   : print_partitions(c, name, 1);
    }
    if (strcmp(sub, "delete") == 0) {
        rc = crawllog_topic_delete_flags(c->log, name,
                                         force ? CRAWLLOG_DELETE_FORCE : 0);
        if (rc != CRAWLLOG_OK) {
            return cli_fail_log(c, "topic delete", name, rc);
        }
        printf("deleted topic %s\n", name);
        return 0;
    }
    rc = crawllog_topic_add_partitions(c->log, name, (int32_t)total);
    if (rc != CRAWLLOG_OK) {
        return cli_fail_log(c, "topic add-partitions", name, rc);
    }
    printf("topic %s now has %d partitions\n", name, (int)total);
    return 0;
}

/* ---------------------------------------------------------------------- */
/* groups                                                                  */
/* ---------------------------------------------------------------------- */

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

static int cmd_groups(struct cli *c, int argc, char **argv)
{
    const char *sub = argc > 0 ? argv[0] : "";
    int describe = strcmp(sub, "describe") == 0, json = 0, members = 0, i, rc;
    crawllog_group_desc_t *d = NULL;

    if (!describe && strcmp(sub, "list") != 0) {
        return usage_error("bad groups command '%s'", sub);
    } else if (describe && argc < 2) {
        return usage_error("%s", "groups describe needs GROUP");
    }
    for (i = 1 + describe; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (describe && strcmp(argv[i], "--members") == 0) {
            members = 1;
        } else {
            return usage_error("bad groups option '%s'", argv[i]);
        }
    }
    if (cli_open(c) != 0) {
        return 1;
    } else if (!describe) {
        return print_names(c, "groups list", crawllog_group_list, json);
    }
    rc = crawllog_group_describe(c->log, argv[1], &d);
    if (rc == CRAWLLOG_ENOENT) {
        fprintf(stderr, "crawllog: group \"%s\" not found\n", argv[1]);
        return 1;
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
/* verify, maintain, dispatch, main                                        */
/* ---------------------------------------------------------------------- */

static void verify_cb(void *opaque, const char *problem)
{
    (void)opaque;
    printf("%s\n", problem);
}

static int cmd_verify(struct cli *c)
{
    char errstr[CRAWLLOG_ERRSTR_SIZE] = "";
    size_t problems = 0;
    int rc;

    rc = crawllog_verify(c->dir, verify_cb, NULL, &problems, errstr,
                         sizeof(errstr));
    if (rc == CRAWLLOG_OK && problems == 0) {
        printf("verify: ok\n");
        return 0;
    }
    if (rc != CRAWLLOG_OK && rc != CRAWLLOG_ECORRUPT) {
        return cli_fail("verify", c->dir, rc, errstr);
    }
    printf("verify: %zu problem%s\n", problems, problems == 1 ? "" : "s");
    return 1;
}

static int cmd_maintain(struct cli *c)
{
    int64_t deleted = 0;
    int rc;

    if (cli_open(c) != 0) {
        return 1;
    }
    if ((rc = crawllog_maintain(c->log, &deleted)) != CRAWLLOG_OK) {
        return cli_fail_log(c, "maintain", NULL, rc);
    }
    printf("maintain: deleted %lld segments\n", (long long)deleted);
    return 0;
}

/* Run argv[0] with its arguments argv[1..argc-1]. */
static int run_command(struct cli *c, int argc, char **argv)
{
    const char *cmd = argv[0];

    if (strcmp(cmd, "topic") == 0) {
        return cmd_topic(c, argc - 1, argv + 1);
    } else if (strcmp(cmd, "topics") == 0 && argc > 1 &&
               strcmp(argv[1], "migrate") == 0) {
        return cli_cmd_migrate(c, argc - 2, argv + 2);
    } else if (strcmp(cmd, "topics") == 0 && argc > 1 &&
               strcmp(argv[1], "migration") == 0) {
        return cli_cmd_migration(c, argc - 2, argv + 2);
    } else if (strcmp(cmd, "produce") == 0) {
        return cli_cmd_produce(c, argc - 1, argv + 1);
    } else if (strcmp(cmd, "consume") == 0) {
        return cli_cmd_consume(c, argc - 1, argv + 1);
    } else if (strcmp(cmd, "groups") == 0) {
        return cmd_groups(c, argc - 1, argv + 1);
    } else if (strcmp(cmd, "lag") == 0) {
        return cli_cmd_lag(c, argc - 1, argv + 1);
    } else if (strcmp(cmd, "metrics") == 0) {
        return cli_cmd_metrics(c, argc - 1, argv + 1);
    } else if (strcmp(cmd, "dlq") == 0) {
        return cli_cmd_dlq(c, argc - 1, argv + 1);
    } else if (strcmp(cmd, "offsets") == 0 && argc == 2) {
        return cli_open(c) != 0 ? 1 : print_partitions(c, argv[1], 0);
    } else if (argc != 1) {
        return usage_error("bad arguments for '%s'", cmd);
    } else if (strcmp(cmd, "verify") == 0) {
        return cmd_verify(c);
    } else if (strcmp(cmd, "maintain") == 0) {
        return cmd_maintain(c);
    } else if (strcmp(cmd, "conf") == 0) {
        return print_conf(c->conf, "");
    } else if (strcmp(cmd, "version") == 0) {
        printf("%s\n", crawllog_version_str());
        return 0;
    } else if (strcmp(cmd, "help") == 0) {
        fputs(usage_text, stdout);
        return 0;
    }
    return usage_error("unknown command '%s'", cmd);
}

/* Parse the global options; returns the index of the command, or -1 after
 * reporting (*st set). */
static int parse_globals(struct cli *c, int argc, char **argv, int *st)
{
    int i;

    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(usage_text, stdout);
            *st = 0;
            return -1;
        } else if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else if (i + 1 >= argc) {
            *st = usage_error("bad option '%s'", argv[i]);
            return -1;
        } else if (strcmp(argv[i], "-d") == 0) {
            c->dir = argv[++i];
        } else if (strcmp(argv[i], "-X") == 0) {
            if ((*st = conf_set_spec(c->conf, "-X", argv[++i])) != 0) {
                return -1;
            }
        } else {
            *st = usage_error("bad option '%s'", argv[i]);
            return -1;
        }
    }
    if (i >= argc) {
        *st = usage_error("%s", "no command");
        return -1;
    }
    return i;
}

int main(int argc, char **argv)
{
    struct cli c = {0};
    const char *env = getenv("CRAWLLOG_DIR");
    int st = 0, cmd, rc;

    c.dir = env != NULL && env[0] != '\0' ? env : DEFAULT_DIR;
    rc = crawllog_conf_new(&c.conf);
    if (rc != CRAWLLOG_OK) {
        return cli_fail("conf", NULL, rc, NULL);
    }
    cmd = parse_globals(&c, argc, argv, &st);
    if (cmd >= 0) {
        st = run_command(&c, argc - cmd, argv + cmd);
    }
    if (c.log != NULL) {
        rc = crawllog_close(c.log);
        if (rc != CRAWLLOG_OK && st == 0) {
            st = cli_fail("close", c.dir, rc, NULL);
        }
    }
    crawllog_conf_destroy(c.conf);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "crawllog: writing stdout: %s\n", strerror(errno));
        st = st != 0 ? st : 1;
    }
    return st;
}
