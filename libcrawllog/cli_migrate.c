/*
 * cli_migrate.c - the crawllog tool's "topics migrate" command: migrate a
 * topic to a new topic with another partition count (docs/MIGRATION.md;
 * crawllog_topic_migrate), or print the plan with --dry-run; and "topics
 * migration": a migration's state and the groups not switched yet.
 *
 * Part of the crawllog binary, not of the library (public header only).
 * Owns nothing on disk itself.  Progress goes to stderr, as one line
 * rewritten in place (percent, rate, ETA), only when stderr is a terminal;
 * piped, the command prints only its summary on stdout.  Single-threaded,
 * no locks.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static const char migrate_usage[] =
    "usage: crawllog [-d DIR] topics migrate OLD NEW --partitions N "
    "[--dry-run]\n"
    "  Copy topic OLD into a new topic NEW of N partitions (more or fewer\n"
    "  than OLD's) while producers keep appending, then cut over: every\n"
    "  later append to OLD, from any process, goes to NEW.  Keyed records\n"
    "  go to murmur2(key) % N, keyless ones of OLD's partition p to p % N;\n"
    "  keys, values, headers and timestamps are kept, each record is copied\n"
    "  once, per-key order is kept.  Each consumer group reading OLD finishes\n"
    "  it, then continues on NEW by itself (docs/MIGRATION.md, step 4); once\n"
    "  all have, the migration is done and OLD can be deleted.  Resumable:\n"
    "  after a crash or an error, run the same command again (it also\n"
    "  re-checks the groups).\n"
    "  --dry-run  print the plan and change nothing: records to copy per\n"
    "             partition of OLD and how many each partition of NEW gets\n"
    "  Progress (percent, rate, ETA) on stderr when it is a terminal.\n";

struct bar {
    int tty;
    const char *old, *new_topic;
    double t0, last;   /* monotonic seconds */
    int64_t copied0;   /* copied when we started (a resumed migration) */
    int started, shown;
};

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void bar_cb(void *opaque, const crawllog_migrate_progress_t *p)
{
    struct bar *b = opaque;
    double now = mono_s();
    if (!b->started) {
        b->started = 1;
        b->copied0 = p->copied;
        b->t0 = now;
    }
    if (!b->tty || (!p->cutover && p->state == CRAWLLOG_MIGRATION_COPYING &&
                    now - b->last < 0.1)) {
        return;
    }
    b->last = now;
    double pct = p->total > 0 ? 100.0 * (double)p->copied / (double)p->total
                              : 100.0;
    double el = now - b->t0;
    double rate = el > 0.05 ? (double)(p->copied - b->copied0) / el : 0.0;
    char eta[32] = "-";
    if (rate > 0 && p->total >= p->copied) {
        long s = (long)((double)(p->total - p->copied) / rate + 0.5);
        snprintf(eta, sizeof(eta), "%ld:%02ld", s / 60, s % 60);
    }
    fprintf(stderr,
            "\rmigrate %s -> %s: %5.1f%% %" PRId64 "/%" PRId64
            " records, %.0f rec/s, ETA %s%s\033[K",
            b->old, b->new_topic, pct, p->copied, p->total, rate, eta,
            p->cutover ? ", cutting over" : "");
    b->shown = 1;
}

/* Count the records of OLD's partition p from offset from, and per target
 * partition (counts[N]). */
static int plan_partition(struct cli *c, const char *old, int32_t p,
                          int64_t from, int32_t n, int64_t *counts,
                          int64_t *totalp)
{
    crawllog_reader_t *rd = NULL;
    int rc = crawllog_reader_new(&rd, c->log, old, p);
    if (rc == CRAWLLOG_OK && from >= 0) {
        rc = crawllog_reader_seek(rd, from);
    }
    while (rc == CRAWLLOG_OK) {
        const crawllog_msg_t *m = NULL;
        size_t kl;
        if ((rc = crawllog_reader_next(rd, &m)) != CRAWLLOG_OK || m == NULL) {
            break;
        }
        const void *k = crawllog_msg_key(m, &kl);
        int32_t q = k != NULL ? crawllog_partitioner_murmur2(old, k, kl, n,
                                                             NULL)
                              : p % n;
        counts[q]++;
        (*totalp)++;
    }
    if (rc != CRAWLLOG_OK) {
        cli_fail("topics migrate", old, rc,
                 rd ? crawllog_reader_errmsg(rd) : crawllog_errmsg(c->log));
    }
    crawllog_reader_destroy(rd);
    return rc;
}

static int dry_run(struct cli *c, const char *old, const char *new_topic,
                   int32_t n)
{
    int32_t m = 0;
    crawllog_migration_t *info = NULL;
    int rc = crawllog_topic_describe(c->log, old, &m, NULL);
    if (rc == CRAWLLOG_OK) {
        rc = crawllog_topic_migration(c->log, old, &info);
    }
    if (rc != CRAWLLOG_OK) {
        return cli_fail_log(c, "topics migrate", old, rc);
    }
    int64_t *counts = calloc((size_t)n, sizeof(*counts));
    int64_t *sums = calloc((size_t)n, sizeof(*sums));
    if (counts == NULL || sums == NULL) {
        free(counts);
        free(sums);
        crawllog_migration_free(info);
        return cli_fail("topics migrate", old, CRAWLLOG_ENOMEM, NULL);
    }
    printf("plan: migrate topic %s (%d partitions) to %s (%d partitions)\n",
           old, (int)m, new_topic, (int)n);
    if (info->state != CRAWLLOG_MIGRATION_NONE) {
        printf("migration already %s to %s (%d partitions), %" PRId64
               " records copied%s\n",
               info->state == CRAWLLOG_MIGRATION_COPYING ? "copying"
                                                         : "cut over",
               info->target, (int)info->partitions, info->records_copied,
               info->state == CRAWLLOG_MIGRATION_COPYING
                   ? "; left to copy:"
                   : ": nothing left to copy");
    }
    int64_t total = 0;
    for (int32_t p = 0; info->state <= CRAWLLOG_MIGRATION_COPYING && p < m;
         p++) {
        int64_t from = p < info->old_partitions ? info->copied[p] : -1, cnt = 0;
        memset(counts, 0, (size_t)n * sizeof(*counts));
        if ((rc = plan_partition(c, old, p, from, n, counts, &cnt)) != 0) {
            break;
        }
        printf("  %s/%d: %" PRId64 " records ->", old, (int)p, cnt);
        for (int32_t q = 0; q < n; q++) {
            if (counts[q] > 0) {
                printf(" %d:%" PRId64, (int)q, counts[q]);
            }
            sums[q] += counts[q];
        }
        printf("%s\n", cnt == 0 ? " (nothing)" : "");
        total += cnt;
    }
    for (int32_t q = 0; rc == 0 && info->state <= CRAWLLOG_MIGRATION_COPYING &&
                        q < n;
         q++) {
        printf("  %s/%d: %" PRId64 " records\n", new_topic, (int)q, sums[q]);
    }
    if (rc == 0) {
        printf("total: %" PRId64 " records to copy (dry run: nothing "
               "changed)\n",
               total);
    }
    free(counts);
    free(sums);
    crawllog_migration_free(info);
    return rc != 0 ? 1 : 0;
}

/* The groups step 4 still waits for. */
static void print_groups(const crawllog_migration_t *m, const char *old)
{
    if (m->state == CRAWLLOG_MIGRATION_DONE) {
        printf("every consumer group has switched: %s can be deleted\n", old);
    } else if (m->state == CRAWLLOG_MIGRATION_REDIRECT) {
        printf("consumer groups still reading %s:", old);
        for (size_t i = 0; i < m->pending_group_count; i++) {
            printf(" %s", m->pending_groups[i]);
        }
        printf("\n");
    }
}

int cli_cmd_migrate(struct cli *c, int argc, char **argv)
{
    const char *pos[2] = {NULL, NULL};
    int64_t n = -1;
    int dry = 0, npos = 0;
    for (int i = 0; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            return cli_help(migrate_usage);
        } else if (strcmp(argv[i], "--dry-run") == 0) {
            dry = 1;
        } else if (strcmp(argv[i], "--partitions") == 0 && i + 1 < argc) {
            if (cli_parse_int(argv[++i], 1, 10000, &n) != 0) {
                return cli_usage(migrate_usage, "bad --partitions '%s'",
                                 argv[i]);
            }
        } else if (argv[i][0] != '-' && npos < 2) {
            pos[npos++] = argv[i];
        } else {
            return cli_usage(migrate_usage, "bad migrate argument '%s'",
                             argv[i]);
        }
    }
    if (npos != 2 || n < 1) {
        return cli_usage(migrate_usage, "%s",
                         "topics migrate needs OLD NEW --partitions N");
    }
    int ost = cli_open(c);
    if (ost != 0) {
        return ost;
    }
    if (dry) {
        return dry_run(c, pos[0], pos[1], (int32_t)n);
    }
    struct bar b = {isatty(2), pos[0], pos[1], 0, 0, 0, 0, 0};
    int rc = crawllog_topic_migrate(c->log, pos[0], pos[1], (int32_t)n,
                                    bar_cb, &b);
    if (b.shown) {
        fputc('\n', stderr);
    }
    if (rc != CRAWLLOG_OK) {
        return cli_fail_log(c, "topics migrate", pos[0], rc);
    }
    crawllog_migration_t *info = NULL;
    rc = crawllog_topic_migration(c->log, pos[0], &info);
    if (rc != CRAWLLOG_OK) {
        return cli_fail_log(c, "topics migrate", pos[0], rc);
    }
    printf("migrated topic %s to %s (%d partitions): %" PRId64
           " records copied; appends to %s now go to %s\n",
           pos[0], info->target, (int)info->partitions, info->records_copied,
           pos[0], info->target);
    print_groups(info, pos[0]);
    crawllog_migration_free(info);
    return 0;
}

static const char migration_usage[] =
    "usage: crawllog [-d DIR] topics migration OLD [--json]\n"
    "  The state of topic OLD's migration (none, copying, redirect, done),\n"
    "  its target, the cut-over offsets (cut: OLD's log end per partition,\n"
    "  start: NEW's, where groups continue) and the consumer groups that\n"
    "  committed offsets on OLD and have not switched to NEW yet.\n";

int cli_cmd_migration(struct cli *c, int argc, char **argv)
{
    int json = 0;
    const char *old = NULL;
    for (int i = 0; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            return cli_help(migration_usage);
        } else if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (argv[i][0] != '-' && old == NULL) {
            old = argv[i];
        } else {
            return cli_usage(migration_usage, "bad argument '%s'", argv[i]);
        }
    }
    if (old == NULL) {
        return cli_usage(migration_usage, "%s", "topics migration needs OLD");
    }
    int ost = cli_open(c);
    if (ost != 0) {
        return ost;
    }
    crawllog_migration_t *m = NULL;
    int rc = crawllog_topic_migration(c->log, old, &m);
    if (rc != CRAWLLOG_OK) {
        return cli_fail_log(c, "topics migration", old, rc);
    }
    static const char *const names[] = {"none", "copying", "redirect",
                                        "done"};
    const char *st = names[m->state & 3];
    if (json) {
        printf("{\"topic\":");
        cli_json_str(stdout, old);
        printf(",\"state\":\"%s\",\"target\":", st);
        if (m->target) {
            cli_json_str(stdout, m->target);
        } else {
            printf("null");
        }
        printf(",\"partitions\":%d,\"old_partitions\":%d,"
               "\"records_copied\":%" PRId64 ",\"cut\":[",
               (int)m->partitions, (int)m->old_partitions, m->records_copied);
        for (int32_t p = 0; m->cut && p < m->old_partitions; p++) {
            printf("%s%" PRId64, p ? "," : "", m->cut[p]);
        }
        printf("],\"start\":[");
        for (int32_t q = 0; m->start && q < m->partitions; q++) {
            printf("%s%" PRId64, q ? "," : "", m->start[q]);
        }
        printf("],\"pending_groups\":[");
        for (size_t i = 0; i < m->pending_group_count; i++) {
            printf("%s", i ? "," : "");
            cli_json_str(stdout, m->pending_groups[i]);
        }
        printf("]}\n");
    } else if (m->state == CRAWLLOG_MIGRATION_NONE) {
        printf("topic %s: no migration\n", old);
    } else {
        printf("topic %s: migration to %s (%d partitions), state %s, %" PRId64
               " records copied\n",
               old, m->target, (int)m->partitions, st, m->records_copied);
        for (int32_t p = 0; m->state >= CRAWLLOG_MIGRATION_REDIRECT &&
                            p < m->old_partitions;
             p++) {
            printf("cut %s/%d %" PRId64 "\n", old, (int)p, m->cut[p]);
        }
        for (int32_t q = 0; m->state >= CRAWLLOG_MIGRATION_REDIRECT &&
                            q < m->partitions;
             q++) {
            printf("start %s/%d %" PRId64 "\n", m->target, (int)q,
                   m->start[q]);
        }
        print_groups(m, old);
    }
    crawllog_migration_free(m);
    return 0;
}
