/*
 * cli_consume.c - the crawllog tool's "consume" command (moved out of
 * crawllog_cli.c; being extended for issue 6).
 *
 * Part of the crawllog binary, not of the library (public header only).
 * Owns nothing on disk.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "cli.h"

static const char consume_usage[] =
    "usage: crawllog [-d DIR] consume TOPIC PARTITION [--from OFFSET | --from-time MS]\n"
    "          [--max N] [--format text|raw]\n";

/* ---------------------------------------------------------------------- */
/* consume                                                                 */
/* ---------------------------------------------------------------------- */

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
    cli_print_escaped(stdout, k, klen);
    putchar('\t');
    cli_print_escaped(stdout, v, vlen);
    putchar('\n');
}

/* Options of one consume run. */
struct consume {
    int64_t partition;
    int64_t from;      /* -1: log start */
    int64_t from_time; /* -1: unused */
    int64_t max;       /* -1: no limit */
    int raw;
};

static int consume_parse(int argc, char **argv, struct consume *co)
{
    int i;

    co->from = co->from_time = co->max = -1;
    if (argc < 2 ||
        cli_parse_int(argv[1], INT32_MIN, INT32_MAX, &co->partition) != 0) {
        return cli_usage(consume_usage, "%s", "consume needs TOPIC PARTITION");
    }
    for (i = 2; i < argc; i += 2) {
        const char *val = i + 1 < argc ? argv[i + 1] : "";

        if (strcmp(argv[i], "--from") == 0 && co->from_time < 0 &&
            cli_parse_int(val, 0, INT64_MAX, &co->from) == 0) {
            continue;
        } else if (strcmp(argv[i], "--from-time") == 0 && co->from < 0 &&
                   cli_parse_int(val, 0, INT64_MAX, &co->from_time) == 0) {
            continue;
        } else if (strcmp(argv[i], "--max") == 0 &&
                   cli_parse_int(val, 0, INT64_MAX, &co->max) == 0) {
            continue;
        } else if (strcmp(argv[i], "--format") == 0 &&
                   (strcmp(val, "text") == 0 || strcmp(val, "raw") == 0)) {
            co->raw = val[0] == 'r';
        } else {
            return cli_usage(consume_usage, "bad consume option '%s'", argv[i]);
        }
    }
    return 0;
}

static int consume_run(crawllog_reader_t *rd, const char *topic,
                       const struct consume *co)
{
    const crawllog_msg_t *m = NULL;
    int64_t n;
    int rc = CRAWLLOG_OK;

    if (co->from >= 0) {
        rc = crawllog_reader_seek(rd, co->from);
    } else if (co->from_time >= 0) {
        rc = crawllog_reader_seek_time(rd, co->from_time, NULL);
    }
    for (n = 0; rc == CRAWLLOG_OK && (co->max < 0 || n < co->max); n++) {
        rc = crawllog_reader_next(rd, &m);
        if (rc != CRAWLLOG_OK || m == NULL) {
            break;
        }
        print_msg(m, co->raw);
    }
    if (rc != CRAWLLOG_OK) {
        fflush(stdout);
        return cli_fail("consume", topic, rc, crawllog_reader_errmsg(rd));
    }
    return 0;
}

int cli_cmd_consume(struct cli *c, int argc, char **argv)
{
    crawllog_reader_t *rd = NULL;
    struct consume co = {0};
    int rc, st;

    if ((st = consume_parse(argc, argv, &co)) != 0 || cli_open(c) != 0) {
        return st != 0 ? st : 1;
    }
    rc = crawllog_reader_new(&rd, c->log, argv[0], (int32_t)co.partition);
    if (rc != CRAWLLOG_OK) {
        return cli_fail_log(c, "consume", argv[0], rc);
    }
    st = consume_run(rd, argv[0], &co);
    crawllog_reader_destroy(rd);
    return st;
}

