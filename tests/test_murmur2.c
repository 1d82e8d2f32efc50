/*
 * test_murmur2.c - Kafka's murmur2 against the upstream vectors in
 * tests/vectors/murmur2.txt (Kafka, librdkafka, kafka-python), at aligned
 * and unaligned addresses, and the key -> partition mapping.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "murmur2.h"

/* ---------------------------------------------------------------------- */
/* Vector file                                                             */
/* ---------------------------------------------------------------------- */


/* expected: the hash, or the partition; n: the partition count of a
 * "partition" line, 0 on a "hash" line. */
static struct cl_test_vectors vectors = {.path = VECTORS_DIR "/murmur2.txt",
                                         .prefix = cl_test_murmur2_prefix};
CL_TEST_VECTORS_FIXTURES(vectors, load_vectors, free_vectors);

/* ---------------------------------------------------------------------- */
/* Tests                                                                   */
/* ---------------------------------------------------------------------- */

static void test_murmur2_hash_vectors(void **state)
{
    (void)state;
    size_t hashes = 0;
    for (size_t i = 0; i < vectors.n; i++) {
        const struct cl_test_vector *v = &vectors.v[i];
        if (v->n != 0) { /* a partition line */
            continue;
        }
        uint32_t got = cl_murmur2(v->data, v->len);
        if (got != v->expected) {
            fail_msg("murmur2.txt:%d: want %08x, got %08x", v->line,
                     v->expected, got);
        }
        hashes++;
    }
    /* 6 Kafka + 11 librdkafka (the 12th, NULL, is below) + derived. */
    assert_true(hashes >= 17);
}

static void test_murmur2_partition_vectors(void **state)
{
    (void)state;
    size_t kafka_python = 0;
    for (size_t i = 0; i < vectors.n; i++) {
        const struct cl_test_vector *v = &vectors.v[i];
        if (v->n == 0) { /* a hash line */
            continue;
        }
        int32_t got = cl_murmur2_partition(v->data, v->len, v->n);
        if (got != (int32_t)v->expected) {
            fail_msg("murmur2.txt:%d: n=%d want %u, got %d", v->line, v->n,
                     v->expected, got);
        }
        kafka_python += v->n == 1000;
    }
    assert_true(kafka_python >= 6);
}

static void test_murmur2_vectors_unaligned(void **state)
{
    (void)state;
    uint8_t buf[256 + 8];
    for (size_t i = 0; i < vectors.n; i++) {
        const struct cl_test_vector *v = &vectors.v[i];
        if (v->n != 0) { /* a partition line */
            continue;
        }
        assert_true(v->len <= 256);
        for (size_t off = 1; off < 8; off++) {
            memset(buf, 0xA5, sizeof(buf)); /* bytes around must not count */
            memcpy(buf + off, v->data, v->len);
            assert_int_equal(cl_murmur2(buf + off, v->len), v->expected);
        }
    }
}

/* librdkafka's own shape: one string read at pointer offsets +0..+3. */
static void test_murmur2_pointer_offsets_like_librdkafka(void **state)
{
    (void)state;
    static const char short_str[] = "1234";
    static const char long_str[] = "PreAmbleWillBeRemoved,ThePrePartThatIs";
    static const uint32_t want_short[] = {0x9fc97b14, 0xe7c009ca, 0x873930da,
                                          0x5a4b5ca1};
    static const uint32_t want_long[] = {0x78424f1c, 0x4a62b377, 0xe0e4e09e,
                                         0x62b8b43f};
    for (size_t off = 0; off < 4; off++) {
        assert_int_equal(cl_murmur2(short_str + off, strlen(short_str) - off),
                         want_short[off]);
        assert_int_equal(cl_murmur2(long_str + off, strlen(long_str) - off),
                         want_long[off]);
    }
}

static void test_murmur2_null_and_empty(void **state)
{
    (void)state;
    assert_int_equal(cl_murmur2(NULL, 0), 0x106e08d9u);
    assert_int_equal(cl_murmur2("", 0), 0x106e08d9u);
    assert_int_equal(cl_murmur2_partition(NULL, 0, 1000), 681);
}

/* Kafka's table gives Java ints; the same 32 bits must come out. */
static void test_murmur2_java_int_view(void **state)
{
    (void)state;
    assert_int_equal((int32_t)cl_murmur2("21", 2), -973932308);
    assert_int_equal((int32_t)cl_murmur2("foobar", 6), -790332482);
    assert_int_equal((int32_t)cl_murmur2("a-little-bit-long-string", 24),
                     -985981536);
    assert_int_equal((int32_t)cl_murmur2("a-little-bit-longer-string", 26),
                     -1486304829);
    assert_int_equal(
        (int32_t)cl_murmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                            48),
        -58897971);
    assert_int_equal((int32_t)cl_murmur2("abc", 3), 479470107);
}

static void test_murmur2_partition_mask_not_abs(void **state)
{
    (void)state;
    /* murmur2("21") = -973932308: the mask gives 1173551340. */
    assert_int_equal(cl_murmur2_partition("21", 2, INT32_MAX), 1173551340);
    assert_int_not_equal(cl_murmur2_partition("21", 2, INT32_MAX), 973932308);
}

static void test_murmur2_partition_bad_count(void **state)
{
    (void)state;
    assert_int_equal(cl_murmur2_partition("k", 1, 0), -1);
    assert_int_equal(cl_murmur2_partition("k", 1, -1), -1);
    assert_int_equal(cl_murmur2_partition("k", 1, INT32_MIN), -1);
    assert_int_equal(cl_murmur2_partition("k", 1, 1), 0);
}

static void test_murmur2_partition_in_range(void **state)
{
    (void)state;
    uint8_t key[32];
    uint32_t x = 12345;
    int32_t counts[7] = {0};
    for (int i = 0; i < 7000; i++) {
        for (size_t j = 0; j < sizeof(key); j++) {
            x = x * 1103515245u + 12345u;
            key[j] = (uint8_t)(x >> 16);
        }
        size_t len = (size_t)i % sizeof(key);
        int32_t p = cl_murmur2_partition(key, len, 7);
        assert_true(p >= 0 && p < 7);
        counts[p]++;
        /* Same bytes, same partition. */
        assert_int_equal(cl_murmur2_partition(key, len, 7), p);
    }
    for (int p = 0; p < 7; p++) {
        assert_true(counts[p] > 700); /* roughly uniform (1000 expected) */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_murmur2_hash_vectors),
        cmocka_unit_test(test_murmur2_partition_vectors),
        cmocka_unit_test(test_murmur2_vectors_unaligned),
        cmocka_unit_test(test_murmur2_pointer_offsets_like_librdkafka),
        cmocka_unit_test(test_murmur2_null_and_empty),
        cmocka_unit_test(test_murmur2_java_int_view),
        cmocka_unit_test(test_murmur2_partition_mask_not_abs),
        cmocka_unit_test(test_murmur2_partition_bad_count),
        cmocka_unit_test(test_murmur2_partition_in_range),
    };
    return cmocka_run_group_tests_name("murmur2", tests, load_vectors,
                                       free_vectors);
}
