/*
 * custom_partitioner.c - a custom partitioner that keeps every URL of a host
 * on one partition (a crawler's per-host ordering and politeness), and
 * crawllog_partitioner_stats() to check how it spreads keys - no log needed.
 *
 * host_partitioner() is a pure function with the crawllog_partitioner_fn
 * signature.  tests/test_custom_partitioner.c unit-tests it by including
 * this file with CUSTOM_PARTITIONER_NO_MAIN defined: copy both files as the
 * pattern for your own partitioner.
 *
 * Build:  make            (this becomes build/examples/custom_partitioner)
 * Run:    build/examples/custom_partitioner
 * Output: for each sample URL its partition by host and by whole-URL
 *         murmur2 (the default for keyed records), then how 8000 hosts
 *         spread over 8 partitions (the numbers are fixed: murmur2 is):
 *           https://example.org/a                  host -> 1  murmur2 -> 0
 *           https://example.org/b                  host -> 1  murmur2 -> 4
 *           http://example.org:8080/c              host -> 1  murmur2 -> 7
 *           https://news.example.net/              host -> 6  murmur2 -> 7
 *           https://news.example.net/robots.txt    host -> 6  murmur2 -> 5
 *           counts: 1016 1059 1050 962 984 1023 930 976
 *           skew (max/mean): 1.059
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crawllog.h"

/*
 * The host of a URL key ("https://example.org:8080/x?y" -> "example.org"):
 * skip "scheme://" if present, stop at ':', '/', '?' or '#'.  Hosts are
 * hashed as given: normalise case before sending.  A NULL key has no host
 * and hashes as the empty one.  Always returns a partition in
 * [0, partition_count): a partitioner must never return anything else.
 */
static int32_t host_partitioner(const char *topic, const void *key,
                                size_t keylen, int32_t partition_count,
                                void *opaque)
{
    (void)topic;
    (void)opaque;
    const char *url = key;
    size_t start = 0;
    if (url == NULL) {
        keylen = 0;
    }
    for (size_t i = 0; i + 2 < keylen; i++) {
        if (url[i] == ':' && url[i + 1] == '/' && url[i + 2] == '/') {
            start = i + 3;
            break;
        }
        if (url[i] == '/' || url[i] == '?' || url[i] == '#') {
            break; /* no scheme */
        }
    }
    size_t end = start;
    while (end < keylen && strchr(":/?#", url[end]) == NULL) {
        end++;
    }
    uint32_t h =
        crawllog_murmur2(url == NULL ? NULL : url + start, end - start);
    return (int32_t)((h & 0x7fffffffu) % (uint32_t)partition_count);
}

#ifndef CUSTOM_PARTITIONER_NO_MAIN

#define CHECK(rc)                                                              \
    do {                                                                       \
        int rc_ = (rc);                                                        \
        if (rc_ != CRAWLLOG_OK) {                                              \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__,             \
                    crawllog_err_name(rc_), crawllog_strerror(rc_));           \
            exit(1);                                                           \
        }                                                                      \
    } while (0)

#define PARTITIONS 8
#define HOSTS 8000

int main(void)
{
    static const char *const urls[] = {
        "https://example.org/a", "https://example.org/b",
        "http://example.org:8080/c", "https://news.example.net/",
        "https://news.example.net/robots.txt"};
    for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        size_t len = strlen(urls[i]);
        printf("  %-38s host -> %d  murmur2 -> %d\n", urls[i],
               host_partitioner("urls", urls[i], len, PARTITIONS, NULL),
               crawllog_partitioner_murmur2("urls", urls[i], len, PARTITIONS,
                                            NULL));
    }

    /* How evenly do distinct hosts spread?  Two URLs per host. */
    static char buf[2 * HOSTS][48];
    static const void *keys[2 * HOSTS];
    for (int i = 0; i < 2 * HOSTS; i++) {
        snprintf(buf[i], sizeof(buf[i]), "https://host%d.example/page%d", i / 2,
                 i % 2);
        keys[i] = buf[i];
    }
    uint64_t counts[PARTITIONS];
    double skew;
    CHECK(crawllog_partitioner_stats(host_partitioner, NULL, "urls", keys, NULL,
                                     2 * HOSTS, PARTITIONS, counts, &skew));
    printf("  counts:");
    for (int p = 0; p < PARTITIONS; p++) {
        printf(" %llu", (unsigned long long)counts[p] / 2); /* hosts */
    }
    printf("\n  skew (max/mean): %.3f\n", skew);
    return 0;
}

#endif /* CUSTOM_PARTITIONER_NO_MAIN */
