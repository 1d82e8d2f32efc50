/*
 * producer.c - send records with a producer: keyed records land on Kafka's
 * murmur2 partition, acks=all returns each record's offset once it is
 * fdatasync'd, acks=0 buffers and reports offsets through a delivery
 * callback after a flush.
 *
 * Build:  make            (this becomes build/examples/producer)
 * Run:    build/examples/producer ./crawllog-data [topic]
 * Output: one line per acks=all send, e.g. "sent example.org -> crawl/1 @0",
 *         then "delivered crawl/1 @0" lines for the acks=0 sends, then
 *         "done: 10 delivered".  Running it again appends more.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crawllog.h"

static crawllog_t *g_log;
static crawllog_producer_t *g_prod;

/* Every return code goes through CHECK: name, description and message. */
#define CHECK(rc)                                                            \
    do {                                                                     \
        int rc_ = (rc);                                                      \
        if (rc_ != CRAWLLOG_OK) {                                            \
            fprintf(stderr, "%s:%d: %s (%s): %s%s\n", __FILE__, __LINE__,    \
                    crawllog_err_name(rc_), crawllog_strerror(rc_),          \
                    g_prod ? crawllog_producer_errmsg(g_prod) : "",          \
                    g_log ? crawllog_errmsg(g_log) : "");                    \
            exit(1);                                                         \
        }                                                                    \
    } while (0)

/* Called from flush (in this thread, never under a library lock). */
static void on_delivery(void *opaque, const char *topic, int32_t partition,
                        int64_t offset, int err)
{
    int *delivered = opaque;
    if (err != CRAWLLOG_OK) {
        fprintf(stderr, "lost %s/%d: %s\n", topic, (int)partition,
                crawllog_strerror(err));
        return;
    }
    printf("delivered %s/%d @%lld\n", topic, (int)partition,
           (long long)offset);
    (*delivered)++;
}

/* A producer with one property set. */
static crawllog_producer_t *make_producer(const char *acks)
{
    crawllog_conf_t *conf;
    crawllog_producer_t *prod;
    char errstr[CRAWLLOG_ERRSTR_SIZE];
    CHECK(crawllog_conf_new(&conf));
    if (crawllog_conf_set(conf, "acks", acks, errstr, sizeof(errstr)) != 0 ||
        crawllog_producer_new(g_log, conf, &prod, errstr, sizeof(errstr))) {
        fprintf(stderr, "producer: %s\n", errstr);
        exit(1);
    }
    crawllog_conf_destroy(conf);
    return prod;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "./crawllog-data";
    const char *topic = argc > 2 ? argv[2] : "crawl";
    const char *hosts[] = {"example.org", "example.com", "example.net",
                           "example.edu", "example.io"};
    char errstr[CRAWLLOG_ERRSTR_SIZE];
    int delivered = 0;

    if (crawllog_open(&g_log, dir, NULL, errstr, sizeof(errstr)) != 0) {
        fprintf(stderr, "open %s: %s\n", dir, errstr);
        return 1;
    }
    int rc = crawllog_topic_create(g_log, topic, 4, NULL);
    if (rc != CRAWLLOG_EEXIST) {
        CHECK(rc);
    }

    /* acks=all (the default): durable before send returns.  Records with
     * the same key (host) always go to the same partition. */
    g_prod = make_producer("all");
    for (int i = 0; i < 5; i++) {
        char url[64];
        int64_t off;
        snprintf(url, sizeof(url), "https://%s/", hosts[i]);
        CHECK(crawllog_producer_send(g_prod, topic, CRAWLLOG_PARTITION_ANY,
                                     hosts[i], strlen(hosts[i]), url,
                                     strlen(url), NULL, 0, &off));
        int32_t p = crawllog_partitioner_murmur2(topic, hosts[i],
                                                 strlen(hosts[i]), 4, NULL);
        printf("sent %s -> %s/%d @%lld\n", hosts[i], topic, (int)p,
               (long long)off);
        delivered++;
    }
    CHECK(crawllog_producer_destroy(g_prod));

    /* acks=0: buffered, written by flush; offsets come in the reports.
     * Keyless records are spread round robin. */
    g_prod = make_producer("0");
    CHECK(crawllog_producer_set_delivery_cb(g_prod, on_delivery,
                                            &delivered));
    for (int i = 0; i < 5; i++) {
        crawllog_header_t hdr = {"source", 6, "example", 7};
        CHECK(crawllog_producer_send(g_prod, topic, CRAWLLOG_PARTITION_ANY,
                                     NULL, 0, "ping", 4, &hdr, 1, NULL));
    }
    /* Wait up to 10 s for the reports: instant on a data directory; on a
     * Kafka cluster a new producer first connects and reads metadata. */
    CHECK(crawllog_producer_flush(g_prod, 10000));
    CHECK(crawllog_producer_destroy(g_prod));
    g_prod = NULL;

    printf("done: %d delivered\n", delivered);
    CHECK(crawllog_close(g_log));
    return 0;
}
