/*
 * test_partitioner.c - the partitioners (libcrawllog/partitioner.c):
 * murmur2 against the upstream vectors in tests/vectors/murmur2.txt, NULL
 * versus empty keys, exact round-robin and sticky distributions (also from
 * 8 threads: run under TSan by make test-tsan), crawllog_partitioner_stats
 * and the producer's rule, cl_partitioner_choose.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crawllog.h"
#include "helpers.h"
#include "partitioner.h"

/* ---------------------------------------------------------------------- */
/* Vector file (same grammar as test_murmur2.c)                            */
/* ---------------------------------------------------------------------- */


static struct cl_test_vectors vectors = {.path = VECTORS_DIR "/murmur2.txt",
                                         .prefix = cl_test_murmur2_prefix};
CL_TEST_VECTORS_FIXTURES(vectors, load_vectors, free_vectors);

/* A non-NULL pointer for an empty key. */
static const char empty_key[1] = "";

/* The test's own view of a vector's input: never NULL (an empty input is
 * the empty key, not a null key). */
static const void *vec_key(const struct cl_test_vector *v)
{
    return v->len == 0 ? (const void *)empty_key : (const void *)v->data;
}

/* ---------------------------------------------------------------------- */
/* murmur2                                                                 */
/* ---------------------------------------------------------------------- */

/* kafka-python's Java-compatibility table (n = 1000) through the public
 * partitioner. */
static void test_partitioner_murmur2_partition_vectors(void **state)
{
    (void)state;
    size_t seen = 0;
    for (size_t i = 0; i < vectors.n; i++) {
        const struct cl_test_vector *v = &vectors.v[i];
        if (v->n == 0) {
            continue;
        }
        int32_t got =
            crawllog_partitioner_murmur2("t", vec_key(v), v->len, v->n, NULL);
        if (got != (int32_t)v->expected) {
            fail_msg("murmur2.txt:%d: n=%d want %u, got %d", v->line, v->n,
                     v->expected, got);
        }
        seen++;
    }
    assert_true(seen >= 6);
}

/* Every upstream hash, through crawllog_murmur2, and the partitions it
 * implies for small and odd counts: (hash & 0x7fffffff) % n, derived from
 * the vector's hash, not from the code under test. */
static void test_partitioner_murmur2_hash_vectors_small_n(void **state)
{
    (void)state;
    static const int32_t ns[] = {1,  2,  3,   4,    7,     8,
                                 12, 16, 100, 1000, 10000, INT32_MAX};
    size_t seen = 0;
    for (size_t i = 0; i < vectors.n; i++) {
        const struct cl_test_vector *v = &vectors.v[i];
        if (v->n != 0) {
            continue;
        }
        assert_int_equal(crawllog_murmur2(vec_key(v), v->len), v->expected);
        for (size_t j = 0; j < sizeof(ns) / sizeof(ns[0]); j++) {
            int32_t want =
                (int32_t)((v->expected & 0x7fffffffu) % (uint32_t)ns[j]);
            int32_t got = crawllog_partitioner_murmur2(NULL, vec_key(v), v->len,
                                                       ns[j], NULL);
            if (got != want) {
                fail_msg("murmur2.txt:%d: n=%d want %d, got %d", v->line, ns[j],
                         want, got);
            }
        }
        seen++;
    }
    assert_true(seen >= 17);
}

/* Kafka never hashes a null key; an empty key is a key. */
static void test_partitioner_null_vs_empty_key(void **state)
{
    (void)state;
    assert_int_equal(crawllog_partitioner_murmur2("t", NULL, 0, 1000, NULL),
                     CRAWLLOG_PARTITION_ANY);
    assert_int_equal(crawllog_partitioner_murmur2("t", NULL, 5, 8, NULL),
                     CRAWLLOG_PARTITION_ANY);
    /* kafka-python: the empty key -> 681 of 1000; murmur2("") 0x106e08d9. */
    assert_int_equal(crawllog_partitioner_murmur2("t", "", 0, 1000, NULL), 681);
    assert_int_equal(crawllog_murmur2("", 0), 0x106e08d9u);
    assert_int_equal(crawllog_murmur2(NULL, 0), 0x106e08d9u);
    /* No partitions: nothing to choose. */
    assert_int_equal(crawllog_partitioner_murmur2("t", "a", 1, 0, NULL),
                     CRAWLLOG_PARTITION_ANY);
    assert_int_equal(crawllog_partitioner_murmur2("t", "a", 1, -3, NULL),
                     CRAWLLOG_PARTITION_ANY);
}

/* ---------------------------------------------------------------------- */
/* Keyless: round robin and sticky                                         */
/* ---------------------------------------------------------------------- */

static void test_partitioner_round_robin_exact(void **state)
{
    (void)state;
    crawllog_partitioner_state_t *s;
    assert_crawllog_ok(crawllog_partitioner_state_new(&s, 0));
    enum { N = 7, K = 13 };
    uint64_t counts[N] = {0};
    for (int i = 0; i < K * N; i++) {
        int32_t p = crawllog_partitioner_round_robin("t", NULL, 0, N, s);
        assert_int_equal(p, i % N); /* in order, from 0 */
        counts[p]++;
    }
    for (int p = 0; p < N; p++) {
        assert_int_equal(counts[p], K);
    }
    /* The key does not matter. */
    assert_int_equal(crawllog_partitioner_round_robin("t", "k", 1, N, s), 0);
    assert_int_equal(crawllog_partitioner_round_robin("t", NULL, 0, 0, s),
                     CRAWLLOG_PARTITION_ANY);
    assert_int_equal(crawllog_partitioner_round_robin("t", NULL, 0, N, NULL),
                     CRAWLLOG_PARTITION_ANY);
    crawllog_partitioner_state_destroy(s);
}

static void test_partitioner_sticky_batches(void **state)
{
    (void)state;
    crawllog_partitioner_state_t *s;
    enum { B = 5, N = 3 };
    assert_crawllog_ok(crawllog_partitioner_state_new(&s, B));
    /* 0 x5, 1 x5, 2 x5, back to 0 x5. */
    for (int i = 0; i < 4 * B; i++) {
        int32_t p = crawllog_partitioner_sticky("t", NULL, 0, N, s);
        assert_int_equal(p, (i / B) % N);
    }
    /* Now on 0 with 5 records: the next moves to 1; then the topic shrinks
     * to one partition: everything goes to 0. */
    assert_int_equal(crawllog_partitioner_sticky("t", NULL, 0, N, s), 1);
    for (int i = 0; i < 3 * B; i++) {
        assert_int_equal(crawllog_partitioner_sticky("t", NULL, 0, 1, s), 0);
    }
    assert_int_equal(crawllog_partitioner_sticky("t", NULL, 0, N, NULL),
                     CRAWLLOG_PARTITION_ANY);
    assert_int_equal(crawllog_partitioner_sticky("t", NULL, 0, 0, s),
                     CRAWLLOG_PARTITION_ANY);
    crawllog_partitioner_state_destroy(s);
}

/* The default batch, and a restart when the current partition vanishes. */
static void test_partitioner_sticky_default_and_shrink(void **state)
{
    (void)state;
    crawllog_partitioner_state_t *s = (void *)&s;
    assert_int_equal(crawllog_partitioner_state_new(&s, -1), CRAWLLOG_EINVAL);
    assert_null(s);
    assert_int_equal(crawllog_partitioner_state_new(NULL, 0), CRAWLLOG_EINVAL);
    assert_crawllog_ok(crawllog_partitioner_state_new(&s, 0));
    for (int i = 0; i < CRAWLLOG_PARTITIONER_STICKY_BATCH_DEFAULT; i++) {
        assert_int_equal(crawllog_partitioner_sticky("t", NULL, 0, 8, s), 0);
    }
    assert_int_equal(crawllog_partitioner_sticky("t", NULL, 0, 8, s), 1);
    crawllog_partitioner_state_destroy(s);
    crawllog_partitioner_state_destroy(NULL);

    /* Batch 2 over 8 partitions: 0 0 1 1 2 2 3 3 4 4 5 -> on 5. */
    assert_crawllog_ok(crawllog_partitioner_state_new(&s, 2));
    for (int i = 0; i < 11; i++) {
        assert_int_equal(crawllog_partitioner_sticky("t", NULL, 0, 8, s),
                         i / 2);
    }
    /* Three round-robin calls put the counter at 3.  With 4 partitions, 5
     * is gone: restart at 3 % 4 = 3 for a whole batch, then wrap to 0. */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(crawllog_partitioner_round_robin("t", NULL, 0, 8, s),
                         i);
    }
    assert_int_equal(crawllog_partitioner_sticky("t", NULL, 0, 4, s), 3);
    assert_int_equal(crawllog_partitioner_sticky("t", NULL, 0, 4, s), 3);
    assert_int_equal(crawllog_partitioner_sticky("t", NULL, 0, 4, s), 0);
    /* One partition: always 0. */
    for (int i = 0; i < 5; i++) {
        assert_int_equal(crawllog_partitioner_sticky("t", NULL, 0, 1, s), 0);
    }
    crawllog_partitioner_state_destroy(s);
}

/* 8 threads share one state; each counts where its calls land. */
enum { THREADS = 8, T_PARTS = 7, T_BATCH = 10, T_PER_THREAD = 7000 };

struct keyless_thread {
    pthread_t tid;
    crawllog_partitioner_fn *fn;
    crawllog_partitioner_state_t *s;
    uint64_t counts[T_PARTS];
};

static void *keyless_thread_main(void *arg)
{
    struct keyless_thread *t = arg;
    for (int i = 0; i < T_PER_THREAD; i++) {
        int32_t p = t->fn("t", NULL, 0, T_PARTS, t->s);
        cl_test_thread_check(p >= 0 && p < T_PARTS, "partition %d", p);
        t->counts[p]++;
    }
    return NULL;
}

/* Every call takes one step of the shared sequence, so the totals are
 * exact: THREADS * T_PER_THREAD = 56000 calls = 8000 per partition, for
 * round robin (one per step) and for sticky (T_BATCH steps per run). */
static void run_keyless_threads(crawllog_partitioner_fn *fn)
{
    crawllog_partitioner_state_t *s;
    assert_crawllog_ok(crawllog_partitioner_state_new(&s, T_BATCH));
    struct keyless_thread t[THREADS];
    memset(t, 0, sizeof(t));
    for (int i = 0; i < THREADS; i++) {
        t[i].fn = fn;
        t[i].s = s;
        assert_int_equal(
            pthread_create(&t[i].tid, NULL, keyless_thread_main, &t[i]), 0);
    }
    uint64_t total[T_PARTS] = {0};
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(t[i].tid, NULL), 0);
        for (int p = 0; p < T_PARTS; p++) {
            total[p] += t[i].counts[p];
        }
    }
    for (int p = 0; p < T_PARTS; p++) {
        assert_int_equal(total[p], THREADS * T_PER_THREAD / T_PARTS);
    }
    crawllog_partitioner_state_destroy(s);
}

static void test_partitioner_round_robin_threads(void **state)
{
    (void)state;
    run_keyless_threads(crawllog_partitioner_round_robin);
}

static void test_partitioner_sticky_threads(void **state)
{
    (void)state;
    run_keyless_threads(crawllog_partitioner_sticky);
}

/* ---------------------------------------------------------------------- */
/* crawllog_partitioner_stats                                              */
/* ---------------------------------------------------------------------- */

/* Known partitioners: by key length, constant, and "return *opaque". */
static int32_t by_length(const char *topic, const void *key, size_t keylen,
                         int32_t n, void *opaque)
{
    (void)topic;
    (void)key;
    (void)opaque;
    return (int32_t)(keylen % (size_t)n);
}

static int32_t fixed(const char *topic, const void *key, size_t keylen,
                     int32_t n, void *opaque)
{
    (void)topic;
    (void)key;
    (void)keylen;
    (void)n;
    return *(const int32_t *)opaque;
}

static void test_partitioner_stats_counts_and_skew(void **state)
{
    (void)state;
    /* Lengths 0..5 over 4 partitions: 0 1 2 3 0 1 -> 2 2 1 1. */
    const void *keys[] = {"", "a", "bb", "ccc", "dddd", "eeeee"};
    uint64_t counts[4];
    double skew = -1;
    memset(counts, 0xAB, sizeof(counts));
    assert_crawllog_ok(crawllog_partitioner_stats(by_length, NULL, "t", keys,
                                                  NULL, 6, 4, counts, &skew));
    assert_int_equal(counts[0], 2);
    assert_int_equal(counts[1], 2);
    assert_int_equal(counts[2], 1);
    assert_int_equal(counts[3], 1);
    assert_float_equal(skew, 2.0 / (6.0 / 4.0), 1e-9);

    /* Explicit lengths override strlen: all of length 3 -> partition 3. */
    const size_t lens[] = {3, 3, 3, 3, 3, 3};
    assert_crawllog_ok(crawllog_partitioner_stats(by_length, NULL, "t", keys,
                                                  lens, 6, 4, counts, &skew));
    assert_int_equal(counts[3], 6);
    assert_int_equal(counts[0] + counts[1] + counts[2], 0);
    assert_float_equal(skew, 4.0, 1e-9); /* all on one: skew = partitions */

    /* A perfect spread has skew 1; no keys: zero counts, skew 0. */
    crawllog_partitioner_state_t *s;
    assert_crawllog_ok(crawllog_partitioner_state_new(&s, 0));
    assert_crawllog_ok(
        crawllog_partitioner_stats(crawllog_partitioner_round_robin, s, "t",
                                   keys, NULL, 4, 4, counts, &skew));
    assert_float_equal(skew, 1.0, 1e-9);
    crawllog_partitioner_state_destroy(s);
    memset(counts, 0xAB, sizeof(counts));
    assert_crawllog_ok(crawllog_partitioner_stats(by_length, NULL, "t", NULL,
                                                  NULL, 0, 4, counts, &skew));
    assert_float_equal(skew, 0.0, 0.0);
    for (int p = 0; p < 4; p++) {
        assert_int_equal(counts[p], 0);
    }
    /* skewp is optional. */
    assert_crawllog_ok(crawllog_partitioner_stats(by_length, NULL, "t", keys,
                                                  NULL, 6, 4, counts, NULL));
}

/* murmur2 spreads distinct keys: 80000 keys over 8 partitions. */
static void test_partitioner_stats_murmur2_spread(void **state)
{
    (void)state;
    enum { NKEYS = 80000, PARTS = 8 };
    char(*buf)[32] = calloc(NKEYS, sizeof(*buf));
    const void **keys = calloc(NKEYS, sizeof(*keys));
    assert_non_null(buf);
    assert_non_null(keys);
    for (int i = 0; i < NKEYS; i++) {
        snprintf(buf[i], sizeof(buf[i]), "https://h%d.example/", i);
        keys[i] = buf[i];
    }
    uint64_t counts[PARTS];
    double skew;
    assert_crawllog_ok(crawllog_partitioner_stats(crawllog_partitioner_murmur2,
                                                  NULL, "urls", keys, NULL,
                                                  NKEYS, PARTS, counts, &skew));
    uint64_t sum = 0, max = 0;
    for (int p = 0; p < PARTS; p++) {
        sum += counts[p];
        max = counts[p] > max ? counts[p] : max;
    }
    assert_int_equal(sum, NKEYS);
    assert_float_equal(skew, (double)max * PARTS / NKEYS, 1e-9);
    assert_true(skew < 1.05); /* binomial sd ~ 1%: 5 sd */
    free(keys);
    free(buf);
}

static void test_partitioner_stats_out_of_range(void **state)
{
    (void)state;
    const void *keys[] = {"a", "b", "c"};
    uint64_t counts[4];
    double skew;
    static const int32_t bad[] = {4, 5, -1, -2, INT32_MAX, INT32_MIN};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int32_t v = bad[i];
        assert_int_equal(crawllog_partitioner_stats(fixed, &v, "t", keys, NULL,
                                                    3, 4, counts, &skew),
                         CRAWLLOG_EPARTITION);
    }
    /* The edge of the range is fine. */
    int32_t last = 3;
    assert_crawllog_ok(crawllog_partitioner_stats(fixed, &last, "t", keys, NULL,
                                                  3, 4, counts, &skew));
    assert_int_equal(counts[3], 3);
    /* murmur2 with a NULL key says "any": not a partition here. */
    const void *nullkey[] = {"a", NULL};
    assert_int_equal(crawllog_partitioner_stats(crawllog_partitioner_murmur2,
                                                NULL, "t", nullkey, NULL, 2, 4,
                                                counts, &skew),
                     CRAWLLOG_EPARTITION);
}

static void test_partitioner_stats_einval(void **state)
{
    (void)state;
    const void *keys[] = {"a"};
    uint64_t counts[4];
    double skew;
    assert_int_equal(crawllog_partitioner_stats(NULL, NULL, "t", keys, NULL, 1,
                                                4, counts, &skew),
                     CRAWLLOG_EINVAL);
    assert_int_equal(crawllog_partitioner_stats(by_length, NULL, "t", NULL,
                                                NULL, 1, 4, counts, &skew),
                     CRAWLLOG_EINVAL);
    assert_int_equal(crawllog_partitioner_stats(by_length, NULL, "t", keys,
                                                NULL, 1, 4, NULL, &skew),
                     CRAWLLOG_EINVAL);
    assert_int_equal(crawllog_partitioner_stats(by_length, NULL, "t", keys,
                                                NULL, 1, 0, counts, &skew),
                     CRAWLLOG_EINVAL);
    assert_int_equal(crawllog_partitioner_stats(by_length, NULL, "t", keys,
                                                NULL, 1, -1, counts, &skew),
                     CRAWLLOG_EINVAL);
    assert_int_equal(
        crawllog_partitioner_stats(by_length, NULL, "t", keys, NULL, 1,
                                   CRAWLLOG_PARTITIONS_MAX + 1, counts, &skew),
        CRAWLLOG_EINVAL);
}

/* ---------------------------------------------------------------------- */
/* cl_partitioner_choose: the producer's rule                              */
/* ---------------------------------------------------------------------- */

/* A custom partitioner that records its call and returns a set value. */
struct spy {
    int calls;
    int32_t ret;
    const char *topic;
    const void *key;
    size_t keylen;
    int32_t n;
};

static int32_t spy_fn(const char *topic, const void *key, size_t keylen,
                      int32_t n, void *opaque)
{
    struct spy *sp = opaque;
    sp->calls++;
    sp->topic = topic;
    sp->key = key;
    sp->keylen = keylen;
    sp->n = n;
    return sp->ret;
}

static int choose(crawllog_partitioner_fn *fn, void *opaque,
                  crawllog_partitioner_state_t *s, int32_t explicit_p,
                  const void *key, size_t keylen, int32_t n, int sticky,
                  int32_t *outp)
{
    *outp = -77;
    return cl_partitioner_choose(fn, opaque, s, "t", explicit_p, key, keylen, n,
                                 sticky, outp);
}

static void test_partitioner_choose_explicit(void **state)
{
    (void)state;
    struct spy sp = {.ret = 1};
    int32_t p;
    /* Explicit wins over custom and key; the custom fn is not called. */
    assert_crawllog_ok(choose(spy_fn, &sp, NULL, 2, "a", 1, 3, 0, &p));
    assert_int_equal(p, 2);
    assert_crawllog_ok(choose(NULL, NULL, NULL, 0, NULL, 0, 1, 0, &p));
    assert_int_equal(p, 0);
    assert_int_equal(sp.calls, 0);
    /* Out of range, or a negative other than ANY: refused, *outp kept. */
    assert_int_equal(choose(spy_fn, &sp, NULL, 3, "a", 1, 3, 0, &p),
                     CRAWLLOG_EPARTITION);
    assert_int_equal(p, -77);
    assert_int_equal(choose(NULL, NULL, NULL, -2, "a", 1, 3, 0, &p),
                     CRAWLLOG_EPARTITION);
    assert_int_equal(choose(NULL, NULL, NULL, INT32_MIN, "a", 1, 3, 0, &p),
                     CRAWLLOG_EPARTITION);
    assert_int_equal(p, -77);
    assert_int_equal(sp.calls, 0);
}

static void test_partitioner_choose_custom(void **state)
{
    (void)state;
    struct spy sp = {.ret = 4};
    int32_t p;
    assert_crawllog_ok(
        choose(spy_fn, &sp, NULL, CRAWLLOG_PARTITION_ANY, "key", 3, 5, 0, &p));
    assert_int_equal(p, 4);
    assert_int_equal(sp.calls, 1);
    assert_string_equal(sp.topic, "t");
    assert_memory_equal(sp.key, "key", 3);
    assert_int_equal(sp.keylen, 3);
    assert_int_equal(sp.n, 5);
    /* Called for a NULL key too (no state needed then). */
    sp.ret = 0;
    assert_crawllog_ok(
        choose(spy_fn, &sp, NULL, CRAWLLOG_PARTITION_ANY, NULL, 0, 5, 1, &p));
    assert_int_equal(p, 0);
    assert_int_equal(sp.calls, 2);
    assert_null(sp.key);
    /* Out of range, ANY included: EPARTITION, never a modulo. */
    static const int32_t bad[] = {5, 6, 10, CRAWLLOG_PARTITION_ANY, -9};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sp.ret = bad[i];
        assert_int_equal(choose(spy_fn, &sp, NULL, CRAWLLOG_PARTITION_ANY,
                                "key", 3, 5, 0, &p),
                         CRAWLLOG_EPARTITION);
        assert_int_equal(p, -77);
    }
}

static void test_partitioner_choose_default_rules(void **state)
{
    (void)state;
    crawllog_partitioner_state_t *s;
    assert_crawllog_ok(crawllog_partitioner_state_new(&s, 2));
    int32_t p;
    /* Keyed: murmur2, kafka-python's table (n = 1000); the empty key too. */
    assert_crawllog_ok(
        choose(NULL, NULL, s, CRAWLLOG_PARTITION_ANY, "a", 1, 1000, 0, &p));
    assert_int_equal(p, 524);
    assert_crawllog_ok(choose(NULL, NULL, s, CRAWLLOG_PARTITION_ANY,
                              "123456789", 9, 1000, 1, &p));
    assert_int_equal(p, 566);
    assert_crawllog_ok(
        choose(NULL, NULL, s, CRAWLLOG_PARTITION_ANY, "", 0, 1000, 0, &p));
    assert_int_equal(p, 681);
    /* Keyless: round robin by default (the keyed calls did not count)... */
    for (int i = 0; i < 6; i++) {
        assert_crawllog_ok(
            choose(NULL, NULL, s, CRAWLLOG_PARTITION_ANY, NULL, 0, 3, 0, &p));
        assert_int_equal(p, i % 3);
    }
    crawllog_partitioner_state_destroy(s);
    /* ... or sticky, batches of 2. */
    assert_crawllog_ok(crawllog_partitioner_state_new(&s, 2));
    for (int i = 0; i < 8; i++) {
        assert_crawllog_ok(
            choose(NULL, NULL, s, CRAWLLOG_PARTITION_ANY, NULL, 0, 3, 1, &p));
        assert_int_equal(p, (i / 2) % 3);
    }
    crawllog_partitioner_state_destroy(s);
}

static void test_partitioner_choose_einval(void **state)
{
    (void)state;
    int32_t p;
    /* A NULL key with no custom fn needs a state. */
    assert_int_equal(
        choose(NULL, NULL, NULL, CRAWLLOG_PARTITION_ANY, NULL, 0, 3, 0, &p),
        CRAWLLOG_EINVAL);
    assert_int_equal(p, -77);
    assert_int_equal(
        choose(NULL, NULL, NULL, CRAWLLOG_PARTITION_ANY, "a", 1, 0, 0, &p),
        CRAWLLOG_EINVAL);
    assert_int_equal(choose(NULL, NULL, NULL, 0, "a", 1, -1, 0, &p),
                     CRAWLLOG_EINVAL);
    assert_int_equal(
        cl_partitioner_choose(NULL, NULL, NULL, "t", 0, "a", 1, 3, 0, NULL),
        CRAWLLOG_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_partitioner_murmur2_partition_vectors),
        cmocka_unit_test(test_partitioner_murmur2_hash_vectors_small_n),
        cmocka_unit_test(test_partitioner_null_vs_empty_key),
        cmocka_unit_test(test_partitioner_round_robin_exact),
        cmocka_unit_test(test_partitioner_sticky_batches),
        cmocka_unit_test(test_partitioner_sticky_default_and_shrink),
        cmocka_unit_test(test_partitioner_round_robin_threads),
        cmocka_unit_test(test_partitioner_sticky_threads),
        cmocka_unit_test(test_partitioner_stats_counts_and_skew),
        cmocka_unit_test(test_partitioner_stats_murmur2_spread),
        cmocka_unit_test(test_partitioner_stats_out_of_range),
        cmocka_unit_test(test_partitioner_stats_einval),
        cmocka_unit_test(test_partitioner_choose_explicit),
        cmocka_unit_test(test_partitioner_choose_custom),
        cmocka_unit_test(test_partitioner_choose_default_rules),
        cmocka_unit_test(test_partitioner_choose_einval),
    };
    return cmocka_run_group_tests_name("partitioner", tests, load_vectors,
                                       free_vectors);
}
