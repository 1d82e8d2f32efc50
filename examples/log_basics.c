/*
 * log_basics.c - the storage layer in one page: open a data directory,
 * create a topic, append records durably, read them back.
 *
 * Build:  make            (this becomes build/examples/log_basics)
 * Run:    build/examples/log_basics ./crawllog-data
 * Output: one line per record, e.g. "urls/0 @0: https://example.org/0",
 *         then "log end offset N".  Running it again appends more.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crawllog.h"

#define CHECK(rc, log)                                                       \
    do {                                                                     \
        int rc_ = (rc);                                                      \
        if (rc_ != CRAWLLOG_OK) {                                            \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__,           \
                    crawllog_err_name(rc_), crawllog_errmsg(log));           \
            exit(1);                                                         \
        }                                                                    \
    } while (0)

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "./crawllog-data";
    char errstr[CRAWLLOG_ERRSTR_SIZE];
    crawllog_t *log;
    if (crawllog_open(&log, dir, NULL, errstr, sizeof(errstr)) != 0) {
        fprintf(stderr, "open %s: %s\n", dir, errstr);
        return 1;
    }
    int rc = crawllog_topic_create(log, "urls", 4, NULL);
    if (rc != CRAWLLOG_EEXIST) {
        CHECK(rc, log);
    }

    /* Three records in one batch: contiguous offsets, fsync'd on return. */
    crawllog_record_t recs[3];
    char urls[3][64];
    int64_t base;
    for (int i = 0; i < 3; i++) {
        snprintf(urls[i], sizeof(urls[i]), "https://example.org/%d", i);
        recs[i] = (crawllog_record_t){.key = "example.org", .key_len = 11,
                                      .value = urls[i],
                                      .value_len = strlen(urls[i]),
                                      .timestamp = -1};
    }
    CHECK(crawllog_append(log, "urls", 0, recs, 3, CRAWLLOG_SYNC_DURABLE,
                          &base), log);

    /* Read partition 0 from its first offset to its end. */
    crawllog_reader_t *rd;
    const crawllog_msg_t *msg;
    CHECK(crawllog_reader_new(&rd, log, "urls", 0), log);
    while ((rc = crawllog_reader_next(rd, &msg)) == 0 && msg != NULL) {
        size_t len;
        const char *v = crawllog_msg_value(msg, &len);
        printf("urls/0 @%lld: %.*s\n", (long long)crawllog_msg_offset(msg),
               (int)len, v);
    }
    if (rc != 0) {
        fprintf(stderr, "read: %s\n", crawllog_reader_errmsg(rd));
        return 1;
    }
    crawllog_reader_destroy(rd);

    int64_t start, end;
    CHECK(crawllog_partition_offsets(log, "urls", 0, &start, &end), log);
    printf("log end offset %lld (appended at %lld)\n", (long long)end,
           (long long)base);
    CHECK(crawllog_close(log), NULL);
    return 0;
}
