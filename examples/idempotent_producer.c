/*
 * idempotent_producer.c - a producer that can crash and simply start over:
 * it sends the lines of an input file to partition 0 of a topic, line i
 * with sequence i, under a stable producer.id.  Run it twice (or kill it
 * half way and run it again): lines already in the log are recognised as
 * duplicates and not written again; only the new ones are.  It also shows
 * fencing: a second live instance with the same producer.id makes the
 * first one fail with CRAWLLOG_EFENCED.
 *
 * Build:  make            (this becomes build/examples/idempotent_producer)
 * Run:    build/examples/idempotent_producer ./crawllog-data jobs.txt
 * Output: "line 3: written @3" or "line 3: duplicate of @3", then
 *         "next sequence 10", then "old instance: CRAWLLOG_EFENCED".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crawllog.h"

#define TOPIC "jobs"
#define PRODUCER_ID "jobs-loader"

static void die(const char *what, int rc, const char *msg)
{
    fprintf(stderr, "%s: %s (%s): %s\n", what, crawllog_err_name(rc),
            crawllog_strerror(rc), msg);
    exit(1);
}

static crawllog_producer_t *make_producer(crawllog_t *log)
{
    crawllog_conf_t *conf = NULL;
    crawllog_producer_t *prod = NULL;
    char errstr[CRAWLLOG_ERRSTR_SIZE] = "";
    int rc = crawllog_conf_new(&conf);
    if (rc != 0 ||
        (rc = crawllog_conf_set(conf, "producer.id", PRODUCER_ID, errstr,
                                sizeof(errstr))) != 0 ||
        (rc = crawllog_producer_new(log, conf, &prod, errstr,
                                    sizeof(errstr))) != 0) {
        die("producer", rc, errstr);
    }
    crawllog_conf_destroy(conf);
    return prod;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s DATA_DIR INPUT_FILE\n", argv[0]);
        return 2;
    }
    char errstr[CRAWLLOG_ERRSTR_SIZE], line[4096];
    crawllog_t *log;
    int rc = crawllog_open(&log, argv[1], NULL, errstr, sizeof(errstr));
    if (rc != 0) {
        die(argv[1], rc, errstr);
    }
    rc = crawllog_topic_create(log, TOPIC, 1, NULL);
    if (rc != 0 && rc != CRAWLLOG_EEXIST) {
        die("topic", rc, crawllog_errmsg(log));
    }
    FILE *in = fopen(argv[2], "r");
    if (in == NULL) {
        perror(argv[2]);
        return 1;
    }
    crawllog_producer_t *prod = make_producer(log);
    /* Line i is sequence i: after a crash, sending everything again from
     * the start is safe. */
    for (int32_t seq = 0; fgets(line, sizeof(line), in) != NULL; seq++) {
        line[strcspn(line, "\n")] = '\0';
        crawllog_record_t rec = {NULL, 0, line, strlen(line), -1, NULL, 0};
        int64_t off;
        int dup;
        rc = crawllog_producer_send_sequenced(prod, TOPIC, 0, seq, &rec, 1,
                                              &off, &dup);
        if (rc != 0) {
            die("send", rc, crawllog_producer_errmsg(prod));
        }
        printf("line %d: %s @%lld\n", (int)seq,
               dup ? "duplicate of" : "written", (long long)off);
    }
    fclose(in);
    int32_t next;
    if ((rc = crawllog_producer_next_sequence(prod, TOPIC, 0, &next)) != 0) {
        die("next_sequence", rc, crawllog_producer_errmsg(prod));
    }
    printf("next sequence %d\n", (int)next);

    /* A newer instance of the same producer.id fences this one. */
    crawllog_producer_t *newer = make_producer(log);
    rc = crawllog_producer_send(prod, TOPIC, 0, NULL, 0, "late", 4, NULL, 0,
                                NULL);
    printf("old instance: %s\n", crawllog_err_name(rc));
    crawllog_producer_destroy(prod);
    crawllog_producer_destroy(newer);
    if ((rc = crawllog_close(log)) != 0) {
        die("close", rc, "");
    }
    return 0;
}
