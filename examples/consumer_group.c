/*
 * consumer_group.c - a member of a consumer group: join, react to
 * rebalances, poll, process, commit after processing, leave cleanly.
 *
 * What it shows:
 *  - subscribe with group.id (and optionally group.instance.id, a static
 *    member): the group's partitions are divided among every running
 *    member, in any process on this machine, and move when members come
 *    and go;
 *  - the rebalance callback: ASSIGNED / REVOKED / LOST lists, and a commit
 *    in REVOKED (the last chance before the partition changes owner);
 *  - at-least-once processing: each polled batch is "processed" (printed)
 *    first and committed durably (CRAWLLOG_SYNC_DURABLE) only afterwards,
 *    so a crash in between re-delivers the batch instead of losing it;
 *  - pause / resume (--pause-after N): after N messages every owned
 *    partition is paused for 2 s while the loop keeps polling - what a
 *    member does while its downstream is down: it fetches nothing but
 *    stays in the group and keeps its partitions;
 *  - SIGINT / SIGTERM: the loop ends, crawllog_consumer_close() revokes
 *    (callback, commit) and leaves, and the partitions move to the other
 *    members at once.
 *
 * Build:  make            (this becomes build/examples/consumer_group)
 * Run:    build/examples/producer ./crawllog-data crawl     (a few records)
 *         build/examples/consumer_group ./crawllog-data crawl grp
 *   and in a second terminal, to watch the partitions being split:
 *         build/examples/consumer_group ./crawllog-data crawl grp
 *   Stop one with Ctrl-C: the other gets its partitions back.  Run the
 *   producer again while they run: the new records show up at once.
 *   Options: --instance ID (static membership), --pause-after N.
 * Output: "assigned [crawl/0@0 crawl/1@0]" / "revoked [...]" on
 *         rebalances, one "crawl/1 @3 key=example.org value=https://..."
 *         line per message, "committed" after each batch, "left the group"
 *         at the end.  A group that already committed starts where it
 *         stopped: run the producer again to see new records.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crawllog.h"

static crawllog_t *g_log;
static crawllog_consumer_t *g_cons;

/* Every return code goes through CHECK: name, description and message. */
#define CHECK(rc)                                                            \
    do {                                                                     \
        int rc_ = (rc);                                                      \
        if (rc_ != CRAWLLOG_OK) {                                            \
            fprintf(stderr, "%s:%d: %s (%s): %s\n", __FILE__, __LINE__,      \
                    crawllog_err_name(rc_), crawllog_strerror(rc_),          \
                    g_cons ? crawllog_consumer_errmsg(g_cons)                \
                           : crawllog_errmsg(g_log));                        \
            exit(1);                                                         \
        }                                                                    \
    } while (0)

/* Set by the signal handler, read by the poll loop. */
static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Print a key or value: up to 60 bytes, non-printable bytes as '.'. */
static void print_bytes(const char *name, const void *p, size_t len)
{
    const unsigned char *b = p;
    printf(" %s=", name);
    if (b == NULL) {
        printf("(null)");
        return;
    }
    for (size_t i = 0; i < len && i < 60; i++) {
        putchar(b[i] >= 32 && b[i] < 127 ? b[i] : '.');
    }
    if (len > 60) {
        printf("...");
    }
}

static void print_list(const char *what, const crawllog_topic_partition_t *p,
                       size_t n)
{
    printf("%s [", what);
    for (size_t i = 0; i < n; i++) {
        printf("%s%s/%d@%lld", i ? " " : "", p[i].topic, (int)p[i].partition,
               (long long)p[i].offset);
    }
    printf("]\n");
    fflush(stdout);
}

/*
 * The rebalance callback runs inside poll (or close), in this thread,
 * outside every library lock.  parts[i].offset is our position in the
 * partition (-1 if we never started reading it).
 */
static void on_rebalance(crawllog_consumer_t *cons, int event,
                         const crawllog_topic_partition_t *parts,
                         size_t count, void *opaque)
{
    (void)opaque;
    switch (event) {
    case CRAWLLOG_REBALANCE_ASSIGNED:
        /* New partitions start at the group's committed offset (or per
         * auto.offset.reset when there is none). */
        printf("generation %d, member %s: ", (int)crawllog_consumer_generation(cons),
               crawllog_consumer_member_id(cons));
        print_list("assigned", parts, count);
        break;
    case CRAWLLOG_REBALANCE_REVOKED: {
        print_list("revoked", parts, count);
        /* Last chance to commit these partitions: once this returns, the
         * next owner starts from their committed offsets.  The main loop
         * commits after every batch, so this normally commits nothing
         * new; it matters for an application that commits less often.
         * Only partitions we actually read from have a position. */
        crawllog_topic_partition_t *c = calloc(count + 1, sizeof(*c));
        size_t n = 0;
        for (size_t i = 0; c != NULL && i < count; i++) {
            if (parts[i].offset >= 0) {
                c[n++] = parts[i]; /* offset = position = next to read */
            }
        }
        if (n > 0) {
            int rc = crawllog_consumer_commit_offsets(cons, c, n,
                                                      CRAWLLOG_SYNC_DURABLE);
            printf("commit on revoke: %s\n", crawllog_err_name(rc));
        }
        free(c);
        break;
    }
    case CRAWLLOG_REBALANCE_LOST:
        /* We were expelled (too long without a poll): others own these
         * already, a commit would fail with CRAWLLOG_EGENERATION.  What
         * we processed but did not commit will be processed again. */
        print_list("lost", parts, count);
        break;
    }
    fflush(stdout);
}

/* Pause (pause != 0) or resume every partition we own now. */
static void pause_all(int pause)
{
    crawllog_topic_partition_t *list = NULL;
    size_t n = 0;
    CHECK(crawllog_consumer_assignment(g_cons, &list, &n));
    if (n > 0) {
        CHECK(pause ? crawllog_consumer_pause(g_cons, list, n)
                    : crawllog_consumer_resume(g_cons, list, n));
    }
    printf("%s %zu partition(s)%s\n", pause ? "paused" : "resumed", n,
           pause ? " for 2 s (downstream down); still polling, still a "
                   "member"
                 : "");
    fflush(stdout);
    free(list); /* the topics point into it: one free */
}

static void usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s DIR TOPIC GROUP [--instance ID] [--pause-after N]\n",
            prog);
    exit(2);
}

int main(int argc, char **argv)
{
    const char *instance = NULL;
    long pause_after = -1;
    char errstr[CRAWLLOG_ERRSTR_SIZE];
    if (argc < 4) {
        usage(argv[0]);
    }
    const char *dir = argv[1], *topic = argv[2], *group = argv[3];
    for (int i = 4; i < argc; i++) {
        if (strcmp(argv[i], "--instance") == 0 && i + 1 < argc) {
            instance = argv[++i];
        } else if (strcmp(argv[i], "--pause-after") == 0 && i + 1 < argc) {
            pause_after = atol(argv[++i]);
        } else {
            usage(argv[0]);
        }
    }

    /* No SA_RESTART: a signal ends a blocked poll early (at the latest,
     * the poll timeout below bounds how long the loop takes to notice). */
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    if (crawllog_open(&g_log, dir, NULL, errstr, sizeof(errstr)) != 0) {
        fprintf(stderr, "open %s: %s\n", dir, errstr);
        return 1;
    }

    /* Consumer properties (docs/CONFIGURATION.md, scope "consumer"). */
    crawllog_conf_t *conf;
    CHECK(crawllog_conf_new(&conf));
    const char *props[][2] = {
        {"group.id", group},
        /* A partition the group never committed starts at its beginning
         * (the default, "latest", would only show new records). */
        {"auto.offset.reset", "earliest"},
        {"max.poll.records", "100"},
        {"client.id", "consumer_group-example"},
        /* Static membership: a restart with the same id within
         * session.timeout.ms gets the same partitions, no rebalance. */
        {"group.instance.id", instance},
    };
    for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++) {
        if (props[i][1] != NULL &&
            crawllog_conf_set(conf, props[i][0], props[i][1], errstr,
                              sizeof(errstr)) != 0) {
            fprintf(stderr, "conf %s: %s\n", props[i][0], errstr);
            return 1;
        }
    }
    int rc = crawllog_consumer_new(g_log, conf, &g_cons, errstr,
                                   sizeof(errstr));
    crawllog_conf_destroy(conf); /* the consumer keeps a copy */
    if (rc != 0) {
        fprintf(stderr, "consumer: %s\n", errstr);
        return 1;
    }
    CHECK(crawllog_consumer_set_rebalance_cb(g_cons, on_rebalance, NULL));

    /* Join the group.  A topic that does not exist yet is picked up when
     * it is created.  The assignment arrives in a later poll. */
    const char *topics[] = {topic};
    CHECK(crawllog_consumer_subscribe(g_cons, topics, 1));
    printf("joined group %s as %s; Ctrl-C to leave\n", group,
           crawllog_consumer_member_id(g_cons));
    fflush(stdout);

    long processed = 0;
    double paused_until = 0; /* > 0 while paused */
    while (!g_stop) {
        const crawllog_msg_t *msgs[100];
        size_t n = 0;
        /* Blocks until a message arrives (woken at once by an append in
         * any process) or 500 ms pass.  Poll also keeps our membership
         * alive and runs rebalances (the callback is called from here):
         * call it at least every max.poll.interval.ms, even while paused. */
        CHECK(crawllog_consumer_poll(g_cons, 500, msgs, 100, &n));

        /* 1. process the batch (the pointers are valid until the next
         *    poll) ... */
        for (size_t i = 0; i < n; i++) {
            size_t klen = 0, vlen = 0;
            const void *key = crawllog_msg_key(msgs[i], &klen);
            const void *value = crawllog_msg_value(msgs[i], &vlen);
            printf("%s/%d @%lld", crawllog_msg_topic(msgs[i]),
                   (int)crawllog_msg_partition(msgs[i]),
                   (long long)crawllog_msg_offset(msgs[i]));
            print_bytes("key", key, klen);
            print_bytes("value", value, vlen);
            putchar('\n');
        }
        fflush(stdout);
        processed += (long)n;

        /* 2. ... then commit it: every owned partition at its position
         *    (the offset after the last message handed out), fdatasync'd
         *    before return.  EGENERATION: a rebalance took a partition
         *    away (we were too slow); its new owner re-processes from the
         *    last commit - at-least-once, nothing lost. */
        if (n > 0) {
            rc = crawllog_consumer_commit(g_cons, NULL, CRAWLLOG_SYNC_DURABLE);
            if (rc == CRAWLLOG_EGENERATION) {
                printf("commit refused (partitions moved): %s\n",
                       crawllog_consumer_errmsg(g_cons));
            } else {
                CHECK(rc);
                printf("committed %zu message(s)\n", n);
            }
        }

        /* Pause / resume: a paused partition is not fetched, but this
         * member keeps it (no rebalance) as long as it keeps polling. */
        if (pause_after >= 0 && processed >= pause_after && paused_until == 0) {
            pause_all(1);
            paused_until = now_s() + 2.0;
            pause_after = -1; /* once */
        } else if (paused_until > 0 && now_s() >= paused_until) {
            pause_all(0);
            paused_until = 0;
        }
        fflush(stdout);
    }

    /* Leave: REVOKED callback (our commit), then the partitions are
     * released at once for the other members (a static member keeps them
     * for session.timeout.ms instead, waiting for its restart). */
    printf("leaving after %ld message(s)\n", processed);
    CHECK(crawllog_consumer_close(g_cons));
    crawllog_consumer_destroy(g_cons);
    g_cons = NULL;
    printf("left the group\n");
    CHECK(crawllog_close(g_log));
    return 0;
}
