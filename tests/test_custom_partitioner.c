/*
 * test_custom_partitioner.c - unit test of the partitioner of
 * examples/custom_partitioner.c, host_partitioner(): the pattern users copy
 * to test their own partitioner without a log on disk.  The example is
 * included with its main() left out, so this tests the very function the
 * example ships.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crawllog.h"
#include "helpers.h"

#define CUSTOM_PARTITIONER_NO_MAIN
#include "../examples/custom_partitioner.c"

static int32_t part(const char *url, int32_t n)
{
    return host_partitioner("urls", url, strlen(url), n, NULL);
}

/* Every URL of a host lands where Kafka's murmur2 puts the bare host name:
 * kafka-python's table for 1000 partitions ("abc" -> 107, "a" -> 524). */
static void test_custom_partitioner_hashes_the_host(void **state)
{
    (void)state;
    static const char *const abc[] = {"https://abc/",      "https://abc/x?y=1",
                                      "http://abc:8080/x", "abc",
                                      "abc/page",          "abc?q",
                                      "abc#frag",          "ftp://abc"};
    for (size_t i = 0; i < sizeof(abc) / sizeof(abc[0]); i++) {
        if (part(abc[i], 1000) != 107) {
            fail_msg("%s: want 107, got %d", abc[i], part(abc[i], 1000));
        }
    }
    assert_int_equal(part("https://a/b/c", 1000), 524);
    /* No host at all: the empty host (kafka-python: "" -> 681), NULL too. */
    assert_int_equal(part("https:///path", 1000), 681);
    assert_int_equal(part("", 1000), 681);
    assert_int_equal(host_partitioner("urls", NULL, 0, 1000, NULL), 681);
}

/* For any partition count: the library's murmur2 partition of the host
 * name alone (itself checked against the upstream vectors). */
static void test_custom_partitioner_matches_murmur2_of_host(void **state)
{
    (void)state;
    static const char *const pairs[][2] = {
        {"https://example.org/a", "example.org"},
        {"http://EXAMPLE.org:80/", "EXAMPLE.org"},
        {"https://news.example.net/robots.txt", "news.example.net"},
        {"crawl.example.com?x=1", "crawl.example.com"},
        {"://h", "h"},
    };
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        for (int32_t n = 1; n <= 64; n++) {
            const char *host = pairs[i][1];
            assert_int_equal(part(pairs[i][0], n),
                             crawllog_partitioner_murmur2(
                                 "urls", host, strlen(host), n, NULL));
        }
    }
    /* murmur2 % 1000 of "a" and "abc" differ (524, 107): so must these. */
    assert_int_not_equal(part("https://a/", 1000), part("https://abc/", 1000));
}

/* crawllog_partitioner_stats() never sees an out-of-range partition, for any
 * bytes and any partition count (it would say CRAWLLOG_EPARTITION). */
static void test_custom_partitioner_always_in_range(void **state)
{
    (void)state;
    enum { NKEYS = 2000 };
    static uint8_t bytes[NKEYS][40];
    static const void *keys[NKEYS];
    static size_t lens[NKEYS];
    static const char alphabet[] = "ab:/?#x"; /* URL delimiters likely */
    uint64_t rnd = CL_TEST_SEED | 1;
    for (int i = 0; i < NKEYS; i++) {
        lens[i] = (size_t)(i % 40);
        for (size_t j = 0; j < lens[i]; j++) {
            rnd ^= rnd << 13, rnd ^= rnd >> 7, rnd ^= rnd << 17;
            bytes[i][j] = (uint8_t)alphabet[rnd % 7];
        }
        keys[i] = i % 97 == 0 ? NULL : bytes[i];
    }
    static uint64_t counts[CRAWLLOG_PARTITIONS_MAX];
    static const int32_t ns[] = {1, 2, 3, 8, 1000, CRAWLLOG_PARTITIONS_MAX};
    for (size_t k = 0; k < sizeof(ns) / sizeof(ns[0]); k++) {
        double skew;
        assert_crawllog_ok(crawllog_partitioner_stats(host_partitioner, NULL,
                                                      "urls", keys, lens, NKEYS,
                                                      ns[k], counts, &skew));
        uint64_t sum = 0;
        for (int32_t p = 0; p < ns[k]; p++) {
            sum += counts[p];
        }
        assert_int_equal(sum, NKEYS);
    }
}

/* Distinct hosts spread evenly; many URLs of one host do not (all on one
 * partition: skew = partitions), which is the point of the partitioner. */
static void test_custom_partitioner_spread(void **state)
{
    (void)state;
    enum { NKEYS = 16000, PARTS = 8 };
    static char buf[NKEYS][48];
    static const void *keys[NKEYS];
    uint64_t counts[PARTS];
    double skew;
    for (int i = 0; i < NKEYS; i++) {
        snprintf(buf[i], sizeof(buf[i]), "https://host%d.example/p", i);
        keys[i] = buf[i];
    }
    assert_crawllog_ok(crawllog_partitioner_stats(host_partitioner, NULL,
                                                  "urls", keys, NULL, NKEYS,
                                                  PARTS, counts, &skew));
    assert_true(skew < 1.1); /* binomial sd ~ 2.5% per partition */
    for (int i = 0; i < NKEYS; i++) {
        snprintf(buf[i], sizeof(buf[i]), "https://one.example/page%d", i);
    }
    assert_crawllog_ok(crawllog_partitioner_stats(host_partitioner, NULL,
                                                  "urls", keys, NULL, NKEYS,
                                                  PARTS, counts, &skew));
    assert_float_equal(skew, (double)PARTS, 1e-9);
    assert_int_equal(counts[part("https://one.example/", PARTS)], NKEYS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_custom_partitioner_hashes_the_host),
        cmocka_unit_test(test_custom_partitioner_matches_murmur2_of_host),
        cmocka_unit_test(test_custom_partitioner_always_in_range),
        cmocka_unit_test(test_custom_partitioner_spread),
    };
    return cmocka_run_group_tests_name("custom_partitioner", tests, NULL, NULL);
}
