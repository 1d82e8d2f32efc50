/*
 * cli_grep.c - the crawllog tool's `grep` command: scan a topic (every
 * partition or one, from a time on) for the records whose key equals K
 * and / or whose value contains given bytes, and print where they are.
 *
 * Each partition is read with a reader from its start (the log start, or
 * the first record at or after --from-time by the time index) up to the
 * log end it had when the command started, so a scan ends even while
 * producers append, and the progress line (records scanned of that total;
 * only on a terminal) is exact.  Exit statuses are grep(1)'s: 0 a match,
 * 1 none, 2 usage - and 2 for an error of class 1, whose status would read
 * as "no match"; other errors keep their class (3 not found, 4 damaged).
 * A closed output (`| head`) ends the scan quietly with status 0.
 *
 * Part of the crawllog binary, not of the library (public header only).
 * Owns nothing on disk; reads only.  No locks (single-threaded).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define PREVIEW_BYTES 64
#define PROGRESS_EVERY 1024

static const char grep_usage[] =
    "usage: crawllog [-d DIR] grep TOPIC (--key K | --contains TEXT | --hex "
    "HEX)\n"
    "          [--partition P] [--from-time T] [--max N] [--json]\n"
    "  Scan TOPIC (every partition, or P; from time T on, as consume\n"
    "  --from-time takes it) up to the log ends it had when the scan started\n"
    "  for the records whose key is K, whose value contains the bytes TEXT,\n"
    "  whose value contains the bytes HEX (hex digits, e.g. 0d0a); with\n"
    "  several of these, all must hold.  Prints a tab-separated line per\n"
    "  match: TOPIC PARTITION OFFSET KEY VALUE, key and value escaped as\n"
    "  consume's text format, cut to 64 bytes (\"...(N bytes)\" follows);\n"
    "  --json: one array of {topic, partition, offset, timestamp, key,\n"
    "  value, key_len, value_len}, key and value cut the same way.\n"
    "  \"N matches in M records\" on stderr; --max N: stop at the Nth match.\n"
    "  A progress line (records scanned) shows on a terminal.\n"
    "  exit status, grep's: 0 a match, 1 no match, 2 usage or I/O error,\n"
    "  3 no such topic or partition, 4 damaged data\n";

/* Options and state of one scan. */
struct grep {
    const char *topic, *key, *text;
    size_t key_len, text_len, hex_len;
    unsigned char *hex;
    int64_t partition, from_time, max;
    int json, broken;
    int64_t matches, scanned, total;
    int32_t parts;
    int64_t *pos, *end; /* per partition: where to start and stop */
    struct cli_progress prog;
};

/* 1 if the len bytes at hay contain the nlen bytes of needle. */
static int contains(const unsigned char *hay, size_t len,
                    const unsigned char *needle, size_t nlen)
{
    size_t i;

    for (i = 0; hay != NULL && i + nlen <= len; i++) {
        const unsigned char *at =
            memchr(hay + i, needle[0], len - nlen - i + 1);

        if (at == NULL) {
            return 0;
        }
        i = (size_t)(at - hay);
        if (memcmp(at, needle, nlen) == 0) {
            return 1;
        }
    }
    return 0;
}

static int matches(const struct grep *g, const crawllog_msg_t *m)
{
    size_t klen, vlen;
    const void *k = crawllog_msg_key(m, &klen);
    const void *v = crawllog_msg_value(m, &vlen);

    return (g->key == NULL || (k != NULL && klen == g->key_len &&
                               memcmp(k, g->key, klen) == 0)) &&
           (g->text == NULL ||
            contains(v, vlen, (const void *)g->text, g->text_len)) &&
           (g->hex == NULL || contains(v, vlen, g->hex, g->hex_len));
}

/* Bytes cut to PREVIEW_BYTES, escaped; "...(N bytes)" if cut. */
static void preview(const void *p, size_t len)
{
    cli_print_escaped(stdout, p, len > PREVIEW_BYTES ? PREVIEW_BYTES : len);
    if (len > PREVIEW_BYTES) {
        printf("...(%zu bytes)", len);
    }
}

static void print_match(struct grep *g, int32_t p, const crawllog_msg_t *m)
{
    size_t klen, vlen;
    const void *k = crawllog_msg_key(m, &klen);
    const void *v = crawllog_msg_value(m, &vlen);

    cli_progress_end(&g->prog);
    if (!g->json) {
        printf("%s\t%d\t%lld\t", g->topic, (int)p,
               (long long)crawllog_msg_offset(m));
        preview(k, klen);
        putchar('\t');
        preview(v, vlen);
        putchar('\n');
        return;
    }
    fputs(g->matches > 0 ? ",\n{\"topic\":" : "{\"topic\":", stdout);
    cli_json_str(stdout, g->topic);
    printf(",\"partition\":%d,\"offset\":%lld,\"timestamp\":%lld,\"key\":",
           (int)p, (long long)crawllog_msg_offset(m),
           (long long)crawllog_msg_timestamp(m));
    cli_json_bytes(stdout, k, klen > PREVIEW_BYTES ? PREVIEW_BYTES : klen);
    fputs(",\"value\":", stdout);
    cli_json_bytes(stdout, v, vlen > PREVIEW_BYTES ? PREVIEW_BYTES : vlen);
    printf(",\"key_len\":%zu,\"value_len\":%zu}", klen, vlen);
}

/* Scan partition p.  0 or exit status. */
static int scan_partition(struct cli *c, struct grep *g, int32_t p)
{
    crawllog_reader_t *rd = NULL;
    const crawllog_msg_t *m = NULL;
    char arg[CRAWLLOG_TOPIC_NAME_MAX + 64];
    int rc, st = 0;

    snprintf(arg, sizeof(arg), "%s/%d", g->topic, (int)p);
    if (g->pos[p] >= g->end[p]) {
        return 0;
    }
    if ((rc = crawllog_reader_new(&rd, c->log, g->topic, p)) != CRAWLLOG_OK) {
        return cli_fail_log(c, "grep", arg, rc);
    }
    rc = crawllog_reader_seek(rd, g->pos[p]);
    while (rc == CRAWLLOG_OK && st == 0 &&
           (g->max < 0 || g->matches < g->max) &&
           (rc = crawllog_reader_next(rd, &m)) == CRAWLLOG_OK && m != NULL &&
           crawllog_msg_offset(m) < g->end[p]) {
        if (matches(g, m)) {
            print_match(g, p, m);
            g->matches++;
            if (ferror(stdout) && (st = cli_stdout_flush()) != 0) {
                g->broken = st > 0;
                st = st > 0 ? 0 : 1;
            }
        }
        if (++g->scanned % PROGRESS_EVERY == 0) {
            cli_progress_update(&g->prog, g->scanned, g->total);
        }
        if (g->broken) {
            break;
        }
    }
    if (rc != CRAWLLOG_OK) {
        snprintf(arg, sizeof(arg), "%s/%d offset %lld", g->topic, (int)p,
                 (long long)crawllog_reader_position(rd));
        st = cli_fail("grep", arg, rc, crawllog_reader_errmsg(rd));
    }
    crawllog_reader_destroy(rd);
    return st;
}

/* Where each partition scanned starts and stops.  0 or exit status. */
static int grep_prepare(struct cli *c, struct grep *g)
{
    char arg[CRAWLLOG_TOPIC_NAME_MAX + 64], detail[64];
    int rc = crawllog_topic_describe(c->log, g->topic, &g->parts, NULL);
    int64_t start;

    if (rc != CRAWLLOG_OK) {
        return cli_fail_log(c, "grep", g->topic, rc);
    } else if (g->partition >= g->parts) {
        snprintf(arg, sizeof(arg), "%s/%lld", g->topic,
                 (long long)g->partition);
        snprintf(detail, sizeof(detail), "the topic has %d partitions",
                 (int)g->parts);
        return cli_fail("grep", arg, CRAWLLOG_ENOTOPIC, detail);
    }
    g->pos = calloc((size_t)g->parts, sizeof(*g->pos));
    g->end = calloc((size_t)g->parts, sizeof(*g->end));
    if (g->pos == NULL || g->end == NULL) {
        return cli_fail("grep", g->topic, CRAWLLOG_ENOMEM, NULL);
    }
    for (int32_t p = 0; p < g->parts; p++) {
        crawllog_reader_t *rd = NULL;

        if (g->partition >= 0 && p != g->partition) {
            continue;
        }
        snprintf(arg, sizeof(arg), "%s/%d", g->topic, (int)p);
        rc =
            crawllog_partition_offsets(c->log, g->topic, p, &start, &g->end[p]);
        g->pos[p] = start;
        if (rc == CRAWLLOG_OK && g->from_time >= 0) {
            rc = crawllog_reader_new(&rd, c->log, g->topic, p);
            if (rc == CRAWLLOG_OK) {
                rc = crawllog_reader_seek_time(rd, g->from_time, &g->pos[p]);
            }
            crawllog_reader_destroy(rd);
        }
        if (rc != CRAWLLOG_OK) {
            return cli_fail_log(c, "grep", arg, rc);
        }
        g->total += g->end[p] > g->pos[p] ? g->end[p] - g->pos[p] : 0;
    }
    return 0;
}

/* HEX (an optional 0x, then pairs of hex digits) into g->hex. */
static int parse_hex(struct grep *g, const char *s)
{
    size_t i, n;

    s += s[0] == '0' && (s[1] == 'x' || s[1] == 'X') ? 2 : 0;
    n = strlen(s);
    if (n == 0 || n % 2 != 0 || strspn(s, "0123456789abcdefABCDEF") != n) {
        return -1;
    }
    free(g->hex);
    if ((g->hex = malloc(n / 2)) == NULL) {
        return -1;
    }
    for (i = 0; i < n / 2; i++) {
        char pair[3] = {s[2 * i], s[2 * i + 1], '\0'};

        g->hex[i] = (unsigned char)strtoul(pair, NULL, 16);
    }
    g->hex_len = n / 2;
    return 0;
}

static int grep_parse(struct grep *g, int argc, char **argv)
{
    int i;

    if (argc < 1 || argv[0][0] == '-') {
        return cli_usage(grep_usage, "%s", "grep needs TOPIC");
    }
    g->topic = argv[0];
    for (i = 1; i < argc; i++) {
        const char *o = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(o, "--json") == 0) {
            g->json = 1;
            continue;
        } else if (val != NULL && strcmp(o, "--key") == 0) {
            g->key = val;
            g->key_len = strlen(val);
        } else if (val != NULL && strcmp(o, "--contains") == 0 &&
                   val[0] != '\0') {
            g->text = val;
            g->text_len = strlen(val);
        } else if (!(val != NULL &&
                     ((strcmp(o, "--hex") == 0 && parse_hex(g, val) == 0) ||
                      (strcmp(o, "--partition") == 0 &&
                       cli_parse_int(val, 0, INT32_MAX, &g->partition) == 0) ||
                      (strcmp(o, "--from-time") == 0 &&
                       cli_parse_time(val, &g->from_time) == 0) ||
                      (strcmp(o, "--max") == 0 &&
                       cli_parse_int(val, 1, INT64_MAX, &g->max) == 0)))) {
            return cli_usage(grep_usage, "bad grep option or value '%s'", o);
        }
        i++;
    }
    if (g->key == NULL && g->text == NULL && g->hex == NULL) {
        return cli_usage(grep_usage, "%s",
                         "grep needs --key, --contains or --hex");
    }
    return 0;
}

int cli_cmd_grep(struct cli *c, int argc, char **argv)
{
    struct grep g;
    int st, i, opened;

    for (i = 0; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            return cli_help(grep_usage);
        }
    }
    memset(&g, 0, sizeof(g));
    g.partition = g.from_time = g.max = -1;
    if ((st = grep_parse(&g, argc, argv)) != 0 || (st = cli_open(c)) != 0) {
        free(g.hex);
        return st == CLI_EXIT_ERROR ? CLI_EXIT_USAGE : st;
    }
    signal(SIGPIPE, SIG_IGN);
    cli_progress_start(&g.prog, "grep", "records");
    st = grep_prepare(c, &g);
    opened = st == 0 && g.json;
    fputs(opened ? "[" : "", stdout);
    for (int32_t p = 0; p < g.parts && st == 0 && !g.broken &&
                        (g.max < 0 || g.matches < g.max);
         p++) {
        if (g.partition < 0 || p == g.partition) {
            st = scan_partition(c, &g, p);
        }
    }
    cli_progress_end(&g.prog);
    if (opened && !g.broken) {
        puts("]");
    }
    if (!g.broken && cli_stdout_flush() < 0 && st == 0) {
        st = 1;
    }
    if (st == 0) {
        fprintf(stderr, "%lld matches in %lld records\n", (long long)g.matches,
                (long long)g.scanned);
    }
    free(g.pos);
    free(g.end);
    free(g.hex);
    if (st != 0) {
        return st == CLI_EXIT_ERROR ? CLI_EXIT_USAGE : st;
    }
    return g.matches > 0 ? 0 : 1;
}
