/*
 * crawllog_cli.c - the `crawllog` command-line tool.
 *
 * A thin front end over the public API (include/crawllog.h only): create,
 * list, describe and delete topics, produce stdin lines as records, consume
 * records as text, print offsets, run maintenance, verify a data directory
 * and print configuration.  It owns nothing on disk beyond what the library
 * writes.  Run `crawllog help` for the commands.
 *
 * Exit status: 0 success, 1 a library or I/O error ("crawllog: <what>:
 * <CRAWLLOG_E...>: <detail>" on stderr), 2 a usage error.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "crawllog.h"

#define EXIT_USAGE 2
#define DEFAULT_DIR "crawllog-data"
#define DEFAULT_BATCH 1000
#define MAX_BATCH 1000000

/* Global options and state of one run. */
struct cli {
    const char *dir;       /* data directory */
    crawllog_conf_t *conf; /* from -X options */
    crawllog_t *log;       /* opened lazily by cli_open() */
};

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
    "  topic delete NAME\n"
    "  topic add-partitions NAME TOTAL\n"
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
    "  verify          check DIR without opening (or recovering) it;\n"
    "                  exit 1 if there are problems\n"
    "  maintain        roll and delete segments per retention\n"
    "  conf            print the conf built from -X options\n"
    "  version         print the library version\n"
    "  help            this help\n"
    "exit status: 0 ok, 1 error, 2 usage error\n";

/* Print a usage error and the usage text; returns EXIT_USAGE. */
static int usage_error(const char *fmt, const char *arg)
{
    fputs("crawllog: ", stderr);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    fputs(usage_text, stderr);
    return EXIT_USAGE;
}

/* Report a library error; returns 1. */
static int fail(const char *what, const char *arg, int rc, const char *detail)
{
    if (detail == NULL || detail[0] == '\0') {
        detail = crawllog_strerror(rc);
    }
    fprintf(stderr, "crawllog: %s%s%s: %s: %s\n", what, arg ? " " : "",
            arg ? arg : "", crawllog_err_name(rc), detail);
    return 1;
}

/* Report a failure of a call on the open log. */
static int fail_log(struct cli *c, const char *what, const char *arg, int rc)
{
    return fail(what, arg, rc, crawllog_errmsg(c->log));
}

/* Strict decimal integer in [lo, hi]: 0, or -1 if s is not one. */
static int parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    long long v;

    if (s == NULL || !((s[0] >= '0' && s[0] <= '9') || s[0] == '-')) {
        return -1;
    }
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
        return -1;
    }
    *out = (int64_t)v;
    return 0;
}

/* Set "name=value" (spec) on conf; opt names the option for messages.
 * Returns 0, 1 (library rejected it) or EXIT_USAGE (no '='). */
static int conf_set_spec(crawllog_conf_t *conf, const char *opt,
                         const char *spec)
{
    char errstr[CRAWLLOG_ERRSTR_SIZE] = "";
    char name[256];
    const char *eq = strchr(spec, '=');
    size_t n;
    int rc;

    if (eq == NULL || eq == spec || (size_t)(eq - spec) >= sizeof(name)) {
        return usage_error("%s needs prop=value", opt);
    }
    n = (size_t)(eq - spec);
    memcpy(name, spec, n);
    name[n] = '\0';
    rc = crawllog_conf_set(conf, name, eq + 1, errstr, sizeof(errstr));
    if (rc != CRAWLLOG_OK) {
        fprintf(stderr, "crawllog: %s %s: %s: %s\n", opt, spec,
                crawllog_err_name(rc),
                errstr[0] ? errstr : crawllog_strerror(rc));
        return 1;
    }
    return 0;
}

/* Open the log (once).  Returns 0 or 1 (reported). */
static int cli_open(struct cli *c)
{
    char errstr[CRAWLLOG_ERRSTR_SIZE] = "";
    int rc;

    if (c->log != NULL) {
        return 0;
    }
    rc = crawllog_open(&c->log, c->dir, c->conf, errstr, sizeof(errstr));
    if (rc != CRAWLLOG_OK) {
        return fail("open", c->dir, rc, errstr);
    }
    return 0;
}

/* Print a malloc'd conf dump with a prefix on each line.  Returns 0/1. */
static int print_conf(const crawllog_conf_t *conf, const char *prefix)
{
    char *text = NULL;
    char *line;
    char *nl;
    int rc = crawllog_conf_dump(conf, &text);

    if (rc != CRAWLLOG_OK) {
        return fail("conf dump", NULL, rc, NULL);
    }
    for (line = text; *line != '\0'; line = nl + 1) {
        nl = strchr(line, '\n');
        if (nl == NULL) {
            printf("%s%s\n", prefix, line);
            break;
        }
        printf("%s%.*s\n", prefix, (int)(nl - line), line);
    }
    free(text);
    return 0;
}

/* ---------------------------------------------------------------------- */
/* topic                                                                   */
/* ---------------------------------------------------------------------- */

static int topic_create(struct cli *c, int argc, char **argv)
{
    crawllog_conf_t *tconf = NULL;
    int64_t parts;
    int i, rc, st = 0;

    if (argc < 2) {
        return usage_error("%s", "topic create needs NAME PARTITIONS");
    }
    if (parse_int(argv[1], INT32_MIN, INT32_MAX, &parts) != 0) {
        return usage_error("bad partition count '%s'", argv[1]);
    }
    for (i = 2; i < argc && st == 0; i++) {
        if (strcmp(argv[i], "-c") != 0 || i + 1 >= argc) {
            st = usage_error("unexpected argument '%s'", argv[i]);
        } else if (tconf == NULL &&
                   (rc = crawllog_conf_new(&tconf)) != CRAWLLOG_OK) {
            st = fail("conf", NULL, rc, NULL);
        } else {
            st = conf_set_spec(tconf, "-c", argv[++i]);
        }
    }
    if (st == 0 && (st = cli_open(c)) == 0) {
        rc = crawllog_topic_create(c->log, argv[0], (int32_t)parts, tconf);
        if (rc != CRAWLLOG_OK) {
            st = fail_log(c, "topic create", argv[0], rc);
        } else {
            printf("created topic %s with %d partitions\n", argv[0],
                   (int)parts);
        }
    }
    crawllog_conf_destroy(tconf);
    return st;
}

static int topic_list(struct cli *c)
{
    char **names = NULL;
    size_t n = 0, i;
    int rc;

    if (cli_open(c) != 0) {
        return 1;
    }
    rc = crawllog_topic_list(c->log, &names, &n);
    if (rc != CRAWLLOG_OK) {
        return fail_log(c, "topic list", NULL, rc);
    }
    for (i = 0; i < n; i++) {
        printf("%s\n", names[i]);
    }
    crawllog_topic_list_free(names, n);
    return 0;
}

static int topic_describe(struct cli *c, const char *topic)
{
    crawllog_conf_t *tconf = NULL;
    int32_t parts = 0, p;
    int64_t start, end;
    int rc, st;

    if (cli_open(c) != 0) {
        return 1;
    }
    rc = crawllog_topic_describe(c->log, topic, &parts, &tconf);
    if (rc != CRAWLLOG_OK) {
        return fail_log(c, "topic describe", topic, rc);
    }
    printf("topic: %s\npartitions: %d\nconfig:\n", topic, (int)parts);
    st = print_conf(tconf, "  ");
    crawllog_conf_destroy(tconf);
    for (p = 0; p < parts && st == 0; p++) {
        rc = crawllog_partition_offsets(c->log, topic, p, &start, &end);
        if (rc != CRAWLLOG_OK) {
            return fail_log(c, "partition offsets", topic, rc);
        }
        printf("partition %d: start %lld end %lld records %lld\n", (int)p,
               (long long)start, (long long)end, (long long)(end - start));
    }
    return st;
}

static int topic_simple(struct cli *c, const char *sub, int argc,
                        char **argv)
{
    int64_t total;
    int rc;

    if (strcmp(sub, "delete") == 0) {
        if (argc != 1) {
            return usage_error("%s", "topic delete needs NAME");
        }
        if (cli_open(c) != 0) {
            return 1;
        }
        rc = crawllog_topic_delete(c->log, argv[0]);
        if (rc != CRAWLLOG_OK) {
            return fail_log(c, "topic delete", argv[0], rc);
        }
        printf("deleted topic %s\n", argv[0]);
        return 0;
    }
    if (argc != 2) {
        return usage_error("%s", "topic add-partitions needs NAME TOTAL");
    }
    if (parse_int(argv[1], INT32_MIN, INT32_MAX, &total) != 0) {
        return usage_error("bad partition count '%s'", argv[1]);
    }
    if (cli_open(c) != 0) {
        return 1;
    }
    rc = crawllog_topic_add_partitions(c->log, argv[0], (int32_t)total);
    if (rc != CRAWLLOG_OK) {
        return fail_log(c, "topic add-partitions", argv[0], rc);
    }
    printf("topic %s now has %d partitions\n", argv[0], (int)total);
    return 0;
}

static int cmd_topic(struct cli *c, int argc, char **argv)
{
    const char *sub = argc > 0 ? argv[0] : "";

    if (strcmp(sub, "create") == 0) {
        return topic_create(c, argc - 1, argv + 1);
    }
    if (strcmp(sub, "list") == 0 && argc == 1) {
        return topic_list(c);
    }
    if (strcmp(sub, "describe") == 0 && argc == 2) {
        return topic_describe(c, argv[1]);
    }
    if (strcmp(sub, "delete") == 0 || strcmp(sub, "add-partitions") == 0) {
        return topic_simple(c, sub, argc - 1, argv + 1);
    }
    return usage_error("bad topic command '%s'", sub);
}

/* ---------------------------------------------------------------------- */
/* produce                                                                 */
/* ---------------------------------------------------------------------- */

/* Options and progress of one produce run. */
struct produce {
    const char *topic;
    int32_t partition;
    int sync;
    int64_t batch;
    int key_sep; /* -1: none */
    char **lines;
    size_t *lens;
    crawllog_record_t *recs;
    size_t n;          /* lines buffered */
    int64_t total;     /* records appended */
    int64_t first;     /* offset of the first, -1 if unknown */
    int64_t last;      /* offset of the last, -1 if unknown */
};

/* Append the buffered lines as one batch.  Returns 0 or 1 (reported). */
static int produce_flush(struct cli *c, struct produce *pr)
{
    int64_t base = -1;
    size_t i;
    int rc;

    if (pr->n == 0) {
        return 0;
    }
    for (i = 0; i < pr->n; i++) {
        char *l = pr->lines[i];
        char *sep = pr->key_sep < 0 ? NULL : memchr(l, pr->key_sep, pr->lens[i]);

        memset(&pr->recs[i], 0, sizeof(pr->recs[i]));
        pr->recs[i].timestamp = -1;
        pr->recs[i].value = l;
        pr->recs[i].value_len = pr->lens[i];
        if (sep != NULL) {
            pr->recs[i].key = l;
            pr->recs[i].key_len = (size_t)(sep - l);
            pr->recs[i].value = sep + 1;
            pr->recs[i].value_len = pr->lens[i] - (size_t)(sep - l) - 1;
        }
    }
    rc = crawllog_append(c->log, pr->topic, pr->partition, pr->recs, pr->n,
                         pr->sync, &base);
    if (rc != CRAWLLOG_OK) {
        fail_log(c, "produce", pr->topic, rc);
        fprintf(stderr, "crawllog: %lld records appended before the error\n",
                (long long)pr->total);
        return 1;
    }
    if (base >= 0 && pr->first < 0) {
        pr->first = base;
    }
    pr->last = base >= 0 ? base + (int64_t)pr->n - 1 : -1;
    pr->total += (int64_t)pr->n;
    for (i = 0; i < pr->n; i++) {
        free(pr->lines[i]);
    }
    pr->n = 0;
    return 0;
}

/* Read stdin and append it.  Returns 0 or 1. */
static int produce_run(struct cli *c, struct produce *pr)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int st = 0;

    while (st == 0 && (len = getline(&line, &cap, stdin)) >= 0) {
        if (len > 0 && line[len - 1] == '\n') {
            len--;
        }
        pr->lines[pr->n] = malloc((size_t)len + 1);
        if (pr->lines[pr->n] == NULL) {
            st = fail("produce", pr->topic, CRAWLLOG_ENOMEM, NULL);
            break;
        }
        memcpy(pr->lines[pr->n], line, (size_t)len);
        pr->lens[pr->n++] = (size_t)len;
        if ((int64_t)pr->n == pr->batch) {
            st = produce_flush(c, pr);
        }
    }
    free(line);
    if (st == 0 && ferror(stdin)) {
        fprintf(stderr, "crawllog: produce: reading stdin: %s\n",
                strerror(errno));
        st = 1;
    }
    if (st == 0) {
        st = produce_flush(c, pr);
    }
    while (pr->n > 0) {
        free(pr->lines[--pr->n]);
    }
    return st;
}

static int parse_sync(const char *s)
{
    if (s == NULL) {
        return -1;
    }
    if (strcmp(s, "none") == 0) {
        return CRAWLLOG_SYNC_NONE;
    }
    if (strcmp(s, "written") == 0) {
        return CRAWLLOG_SYNC_WRITTEN;
    }
    return strcmp(s, "durable") == 0 ? CRAWLLOG_SYNC_DURABLE : -1;
}

static int cmd_produce(struct cli *c, int argc, char **argv)
{
    struct produce pr = {0};
    int64_t v;
    int i, st, rc;

    if (argc < 2) {
        return usage_error("%s", "produce needs TOPIC PARTITION");
    }
    pr.topic = argv[0];
    pr.sync = CRAWLLOG_SYNC_WRITTEN;
    pr.batch = DEFAULT_BATCH;
    pr.key_sep = -1;
    pr.first = pr.last = -1;
    if (parse_int(argv[1], INT32_MIN, INT32_MAX, &v) != 0) {
        return usage_error("bad partition '%s'", argv[1]);
    }
    pr.partition = (int32_t)v;
    for (i = 2; i < argc; i += 2) {
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(argv[i], "--sync") == 0 && parse_sync(val) >= 0) {
            pr.sync = parse_sync(val);
        } else if (strcmp(argv[i], "--batch") == 0 &&
                   parse_int(val, 1, MAX_BATCH, &pr.batch) == 0) {
            continue;
        } else if (strcmp(argv[i], "--key-sep") == 0 && val != NULL &&
                   strlen(val) == 1) {
            pr.key_sep = (unsigned char)val[0];
        } else {
            return usage_error("bad produce option '%s'", argv[i]);
        }
    }
    if (cli_open(c) != 0) {
        return 1;
    }
    pr.lines = calloc((size_t)pr.batch, sizeof(*pr.lines));
    pr.lens = calloc((size_t)pr.batch, sizeof(*pr.lens));
    pr.recs = calloc((size_t)pr.batch, sizeof(*pr.recs));
    if (pr.lines == NULL || pr.lens == NULL || pr.recs == NULL) {
        st = fail("produce", pr.topic, CRAWLLOG_ENOMEM, NULL);
    } else {
        st = produce_run(c, &pr);
    }
    free(pr.lines);
    free(pr.lens);
    free(pr.recs);
    if (st == 0 && pr.sync == CRAWLLOG_SYNC_NONE &&
        (rc = crawllog_flush(c->log, CRAWLLOG_SYNC_WRITTEN)) != 0) {
        st = fail_log(c, "produce flush", pr.topic, rc);
    }
    if (st == 0 && pr.first >= 0) {
        fprintf(stderr, "produced %lld records, offsets %lld..%lld\n",
                (long long)pr.total, (long long)pr.first, (long long)pr.last);
    } else if (st == 0) {
        fprintf(stderr, "produced %lld records\n", (long long)pr.total);
    }
    return st;
}

/* ---------------------------------------------------------------------- */
/* consume                                                                 */
/* ---------------------------------------------------------------------- */

/* Print bytes, or "(null)"; bytes outside 0x20..0x7e and '\' as \xHH. */
static void print_escaped(const unsigned char *p, size_t len)
{
    size_t i;

    if (p == NULL) {
        fputs("(null)", stdout);
        return;
    }
    for (i = 0; i < len; i++) {
        if (p[i] < 0x20 || p[i] > 0x7e || p[i] == '\\') {
            printf("\\x%02x", p[i]);
        } else {
            putchar(p[i]);
        }
    }
}

static void print_msg(const crawllog_msg_t *m, int raw)
{
    const void *k, *v;
    size_t klen, vlen;

    v = crawllog_msg_value(m, &vlen);
    if (raw) {
        if (vlen > 0) {
            fwrite(v, 1, vlen, stdout);
        }
        putchar('\n');
        return;
    }
    k = crawllog_msg_key(m, &klen);
    printf("%lld\t%lld\t", (long long)crawllog_msg_offset(m),
           (long long)crawllog_msg_timestamp(m));
    print_escaped(k, klen);
    putchar('\t');
    print_escaped(v, vlen);
    putchar('\n');
}

/* Options of one consume run. */
struct consume {
    int64_t from;      /* -1: log start */
    int64_t from_time; /* -1: unused */
    int64_t max;       /* -1: no limit */
    int raw;
};

static int consume_parse(int argc, char **argv, struct consume *co)
{
    int i;

    co->from = co->from_time = co->max = -1;
    co->raw = 0;
    for (i = 0; i < argc; i += 2) {
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(argv[i], "--from") == 0 && co->from_time < 0 &&
            parse_int(val, 0, INT64_MAX, &co->from) == 0) {
            continue;
        } else if (strcmp(argv[i], "--from-time") == 0 && co->from < 0 &&
                   parse_int(val, 0, INT64_MAX, &co->from_time) == 0) {
            continue;
        } else if (strcmp(argv[i], "--max") == 0 &&
                   parse_int(val, 0, INT64_MAX, &co->max) == 0) {
            continue;
        } else if (strcmp(argv[i], "--format") == 0 && val != NULL &&
                   (strcmp(val, "text") == 0 || strcmp(val, "raw") == 0)) {
            co->raw = strcmp(val, "raw") == 0;
        } else {
            return usage_error("bad consume option '%s'", argv[i]);
        }
    }
    return 0;
}

static int consume_run(crawllog_reader_t *rd,
                       const char *topic, const struct consume *co)
{
    const crawllog_msg_t *m = NULL;
    int64_t n = 0;
    int rc;

    if (co->from >= 0 && (rc = crawllog_reader_seek(rd, co->from)) != 0) {
        return fail("consume --from", topic, rc, crawllog_reader_errmsg(rd));
    }
    if (co->from_time >= 0 &&
        (rc = crawllog_reader_seek_time(rd, co->from_time, NULL)) != 0) {
        return fail("consume --from-time", topic, rc,
                    crawllog_reader_errmsg(rd));
    }
    while (co->max < 0 || n < co->max) {
        rc = crawllog_reader_next(rd, &m);
        if (rc != CRAWLLOG_OK) {
            fflush(stdout);
            return fail("consume", topic, rc, crawllog_reader_errmsg(rd));
        }
        if (m == NULL) {
            break;
        }
        print_msg(m, co->raw);
        n++;
    }
    return 0;
}

static int cmd_consume(struct cli *c, int argc, char **argv)
{
    crawllog_reader_t *rd = NULL;
    struct consume co;
    int64_t part;
    int rc, st;

    if (argc < 2) {
        return usage_error("%s", "consume needs TOPIC PARTITION");
    }
    if (parse_int(argv[1], INT32_MIN, INT32_MAX, &part) != 0) {
        return usage_error("bad partition '%s'", argv[1]);
    }
    if ((st = consume_parse(argc - 2, argv + 2, &co)) != 0) {
        return st;
    }
    if (cli_open(c) != 0) {
        return 1;
    }
    rc = crawllog_reader_new(&rd, c->log, argv[0], (int32_t)part);
    if (rc != CRAWLLOG_OK) {
        return fail_log(c, "consume", argv[0], rc);
    }
    st = consume_run(rd, argv[0], &co);
    crawllog_reader_destroy(rd);
    return st;
}

/* ---------------------------------------------------------------------- */
/* offsets, verify, maintain, main                                         */
/* ---------------------------------------------------------------------- */

static int cmd_offsets(struct cli *c, const char *topic)
{
    int32_t parts = 0, p;
    int64_t start, end;
    int rc;

    if (cli_open(c) != 0) {
        return 1;
    }
    rc = crawllog_topic_describe(c->log, topic, &parts, NULL);
    if (rc != CRAWLLOG_OK) {
        return fail_log(c, "offsets", topic, rc);
    }
    for (p = 0; p < parts; p++) {
        rc = crawllog_partition_offsets(c->log, topic, p, &start, &end);
        if (rc != CRAWLLOG_OK) {
            return fail_log(c, "offsets", topic, rc);
        }
        printf("%d %lld %lld\n", (int)p, (long long)start, (long long)end);
    }
    return 0;
}

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
        return fail("verify", c->dir, rc, errstr);
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
    rc = crawllog_maintain(c->log, &deleted);
    if (rc != CRAWLLOG_OK) {
        return fail_log(c, "maintain", NULL, rc);
    }
    printf("maintain: deleted %lld segments\n", (long long)deleted);
    return 0;
}

static int run_command(struct cli *c, int argc, char **argv)
{
    const char *cmd = argv[0];

    if (strcmp(cmd, "topic") == 0) {
        return cmd_topic(c, argc - 1, argv + 1);
    }
    if (strcmp(cmd, "produce") == 0) {
        return cmd_produce(c, argc - 1, argv + 1);
    }
    if (strcmp(cmd, "consume") == 0) {
        return cmd_consume(c, argc - 1, argv + 1);
    }
    if (strcmp(cmd, "offsets") == 0 && argc == 2) {
        return cmd_offsets(c, argv[1]);
    }
    if (argc != 1) {
        return usage_error("bad arguments for '%s'", cmd);
    }
    if (strcmp(cmd, "verify") == 0) {
        return cmd_verify(c);
    }
    if (strcmp(cmd, "maintain") == 0) {
        return cmd_maintain(c);
    }
    if (strcmp(cmd, "conf") == 0) {
        return print_conf(c->conf, "");
    }
    if (strcmp(cmd, "version") == 0) {
        printf("%s\n", crawllog_version_str());
        return 0;
    }
    if (strcmp(cmd, "help") == 0) {
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
        return fail("conf", NULL, rc, NULL);
    }
    cmd = parse_globals(&c, argc, argv, &st);
    if (cmd >= 0) {
        st = run_command(&c, argc - cmd, argv + cmd);
    }
    if (c.log != NULL) {
        rc = crawllog_close(c.log);
        if (rc != CRAWLLOG_OK && st == 0) {
            st = fail("close", c.dir, rc, NULL);
        }
    }
    crawllog_conf_destroy(c.conf);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "crawllog: writing stdout: %s\n", strerror(errno));
        st = st != 0 ? st : 1;
    }
    return st;
}
