/*
 * cli_produce.c - the crawllog tool's "produce" command (moved out of
 * crawllog_cli.c; being extended for issue 6).
 *
 * Part of the crawllog binary, not of the library (public header only).
 * Owns nothing on disk beyond the records the library appends.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "cli.h"

#define DEFAULT_BATCH 1000
#define MAX_BATCH 1000000

static const char produce_usage[] =
    "usage: crawllog [-d DIR] produce TOPIC PARTITION [--sync none|written|durable]\n"
    "          [--batch N] [--key-sep C]\n";

/* ---------------------------------------------------------------------- */
/* produce                                                                 */
/* ---------------------------------------------------------------------- */

/* Options and progress of one produce run. */
struct produce {
    const char *topic;
    int32_t partition;
    int sync;
    int64_t batch;
    int key_sep;             /* -1: none */
    char **lines;            /* the buffered lines (malloc'd) */
    crawllog_record_t *recs; /* views into lines */
    size_t n;                /* lines buffered */
    int64_t total;           /* records appended */
    int64_t first, last;     /* offsets appended, -1 if unknown */
};

/* Append the buffered lines as one batch.  Returns 0 or 1 (reported). */
static int produce_flush(struct cli *c, struct produce *pr)
{
    int64_t base = -1;
    int rc;

    if (pr->n == 0) {
        return 0;
    }
    rc = crawllog_append(c->log, pr->topic, pr->partition, pr->recs, pr->n,
                         pr->sync, &base);
    if (rc != CRAWLLOG_OK) {
        cli_fail_log(c, "produce", pr->topic, rc);
        fprintf(stderr, "crawllog: %lld records appended before the error\n",
                (long long)pr->total);
        return 1;
    }
    if (base >= 0 && pr->first < 0) {
        pr->first = base;
    }
    pr->last = base >= 0 ? base + (int64_t)pr->n - 1 : -1;
    pr->total += (int64_t)pr->n;
    while (pr->n > 0) {
        free(pr->lines[--pr->n]);
    }
    return 0;
}

/* Buffer one line (len bytes, no newline) as a record.  Returns 0 or 1. */
static int produce_add(struct produce *pr, const char *line, size_t len)
{
    crawllog_record_t *r = &pr->recs[pr->n];
    char *l = malloc(len + 1), *sep;

    if (l == NULL) {
        return cli_fail("produce", pr->topic, CRAWLLOG_ENOMEM, NULL);
    }
    memcpy(l, line, len);
    pr->lines[pr->n++] = l;
    memset(r, 0, sizeof(*r));
    r->timestamp = -1;
    r->value = l;
    r->value_len = len;
    sep = pr->key_sep < 0 ? NULL : memchr(l, pr->key_sep, len);
    if (sep != NULL) {
        r->key = l;
        r->key_len = (size_t)(sep - l);
        r->value = sep + 1;
        r->value_len = len - r->key_len - 1;
    }
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
        st = produce_add(pr, line, (size_t)len);
        if (st == 0 && (int64_t)pr->n == pr->batch) {
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
    if (st == 0 && pr->sync == CRAWLLOG_SYNC_NONE &&
        (st = crawllog_flush(c->log, CRAWLLOG_SYNC_WRITTEN)) != 0) {
        st = cli_fail_log(c, "produce flush", pr->topic, st);
    }
    while (pr->n > 0) {
        free(pr->lines[--pr->n]);
    }
    return st;
}

/* Parse produce's options into pr.  Returns 0 or CLI_EXIT_USAGE. */
static int produce_parse(int argc, char **argv, struct produce *pr)
{
    static const char *const syncs[] = {"none", "written", "durable"};
    int64_t v;
    int i, j;

    if (argc < 2 || cli_parse_int(argv[1], INT32_MIN, INT32_MAX, &v) != 0) {
        return cli_usage(produce_usage, "%s", "produce needs TOPIC PARTITION");
    }
    pr->topic = argv[0];
    pr->partition = (int32_t)v;
    for (i = 2; i < argc; i += 2) {
        const char *val = i + 1 < argc ? argv[i + 1] : "";

        for (j = 0; j < 3 && strcmp(val, syncs[j]) != 0; j++) {
            continue;
        }
        if (strcmp(argv[i], "--sync") == 0 && j < 3) {
            pr->sync = j; /* CRAWLLOG_SYNC_NONE, _WRITTEN, _DURABLE */
        } else if (strcmp(argv[i], "--batch") == 0 &&
                   cli_parse_int(val, 1, MAX_BATCH, &pr->batch) == 0) {
            continue;
        } else if (strcmp(argv[i], "--key-sep") == 0 && strlen(val) == 1) {
            pr->key_sep = (unsigned char)val[0];
        } else {
            return cli_usage(produce_usage, "bad produce option '%s'", argv[i]);
        }
    }
    return 0;
}

int cli_cmd_produce(struct cli *c, int argc, char **argv)
{
    struct produce pr = {0};
    int st;

    pr.sync = CRAWLLOG_SYNC_WRITTEN;
    pr.batch = DEFAULT_BATCH;
    pr.key_sep = -1;
    pr.first = pr.last = -1;
    if ((st = produce_parse(argc, argv, &pr)) != 0 || cli_open(c) != 0) {
        return st != 0 ? st : 1;
    }
    pr.lines = calloc((size_t)pr.batch, sizeof(*pr.lines));
    pr.recs = calloc((size_t)pr.batch, sizeof(*pr.recs));
    if (pr.lines == NULL || pr.recs == NULL) {
        st = cli_fail("produce", pr.topic, CRAWLLOG_ENOMEM, NULL);
    } else {
        st = produce_run(c, &pr);
    }
    free(pr.lines);
    free(pr.recs);
    if (st == 0 && pr.first >= 0) {
        fprintf(stderr, "produced %lld records, offsets %lld..%lld\n",
                (long long)pr.total, (long long)pr.first, (long long)pr.last);
    } else if (st == 0) {
        fprintf(stderr, "produced %lld records\n", (long long)pr.total);
    }
    return st;
}

