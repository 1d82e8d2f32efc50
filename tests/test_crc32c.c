/*
 * test_crc32c.c - CRC-32C against the upstream vectors in
 * tests/vectors/crc32c.txt, a bit-at-a-time reference, and hardware vs
 * software on every length and alignment.
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

#include "crc32c.h"
#include "helpers.h"

/* ---------------------------------------------------------------------- */
/* Helpers                                                                 */
/* ---------------------------------------------------------------------- */

/* Bit-at-a-time CRC-32C straight from the definition: the oracle. */
static uint32_t crc_ref(uint32_t crc, const uint8_t *p, size_t len)
{
    crc = ~crc;
    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        for (int b = 0; b < 8; b++) {
            crc = (crc & 1u) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
        }
    }
    return ~crc;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}

static void fill_random(uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        p[i] = (uint8_t)rng();
    }
}

/* "<8 hex digits> hex:<hex>" or "<8 hex digits> ascii:<text>". */
static const char *parse_prefix(const char *line, struct cl_test_vector *v)
{
    char *end;
    unsigned long exp = strtoul(line, &end, 16);
    if (end != line + 8 || *end != ' ' || exp > 0xFFFFFFFFul) {
        return NULL;
    }
    v->expected = (uint32_t)exp;
    return end + 1;
}

static struct cl_test_vectors vectors = {.path = VECTORS_DIR "/crc32c.txt",
                                         .prefix = parse_prefix};
CL_TEST_VECTORS_FIXTURES(vectors, load_vectors, free_vectors);

/* ---------------------------------------------------------------------- */
/* Tests                                                                   */
/* ---------------------------------------------------------------------- */

struct thread_arg {
    uint32_t crc;
};

static void *first_use_thread(void *p)
{
    struct thread_arg *arg = p;
    arg->crc = cl_crc32c(0, "123456789", 9);
    return NULL;
}

/* Runs first: several threads race to trigger the one-time setup. */
static void test_crc32c_first_use_from_threads(void **state)
{
    (void)state;
    pthread_t th[4];
    struct thread_arg args[4];
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_create(&th[i], NULL, first_use_thread,
                                        &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(args[i].crc, 0xE3069283u);
    }
}

static void test_crc32c_upstream_vectors(void **state)
{
    (void)state;
    /* 10 vectors in kafka-reference.md section 2 plus the check value. */
    assert_true(vectors.n >= 10);
    int saw_licence = 0;
    for (size_t i = 0; i < vectors.n; i++) {
        const struct cl_test_vector *v = &vectors.v[i];
        uint32_t hw = cl_crc32c(0, v->data, v->len);
        uint32_t sw = cl_crc32c_sw(0, v->data, v->len);
        uint32_t ref = crc_ref(0, v->data, v->len);
        if (hw != v->expected || sw != v->expected || ref != v->expected) {
            fail_msg("crc32c.txt:%d: want %08x, got %08x (sw %08x, ref %08x)",
                     v->line, v->expected, hw, sw, ref);
        }
        saw_licence |= v->len == 843 && v->expected == 0x7dcde113u;
    }
    assert_true(saw_licence);
}

static void test_crc32c_vectors_split_and_unaligned(void **state)
{
    (void)state;
    uint8_t *buf = malloc(1024);
    assert_non_null(buf);
    for (size_t i = 0; i < vectors.n; i++) {
        const struct cl_test_vector *v = &vectors.v[i];
        assert_true(v->len + 8 <= 1024);
        for (size_t off = 0; off < 8; off++) {
            memcpy(buf + off, v->data, v->len);
            assert_int_equal(cl_crc32c(0, buf + off, v->len), v->expected);
            assert_int_equal(cl_crc32c_sw(0, buf + off, v->len), v->expected);
        }
        for (size_t cut = 0; cut <= v->len; cut++) {
            uint32_t c = cl_crc32c(0, v->data, cut);
            c = cl_crc32c(c, v->data + cut, v->len - cut);
            uint32_t s = cl_crc32c_sw(0, v->data, cut);
            s = cl_crc32c_sw(s, v->data + cut, v->len - cut);
            if (c != v->expected || s != v->expected) {
                fail_msg("crc32c.txt:%d split at %zu: %08x / %08x", v->line,
                         cut, c, s);
            }
        }
    }
    free(buf);
}

static void test_crc32c_empty_and_null(void **state)
{
    (void)state;
    assert_int_equal(cl_crc32c(0, NULL, 0), 0);
    assert_int_equal(cl_crc32c_sw(0, NULL, 0), 0);
    assert_int_equal(cl_crc32c(0x12345678u, NULL, 0), 0x12345678u);
    assert_int_equal(cl_crc32c_sw(0xdeadbeefu, "", 0), 0xdeadbeefu);
    /* Not the IEEE CRC-32 (0xCBF43926 for the same input). */
    assert_int_not_equal(cl_crc32c(0, "123456789", 9), 0xCBF43926u);
}

/* The hardware (when present) and software paths agree on buf[off..+len),
 * from a random seed for odd lengths. */
static void check_hw_sw(const uint8_t *buf, size_t off, size_t len)
{
    uint32_t seed = (len & 1) ? rng() : 0;
    uint32_t hw = cl_crc32c(seed, buf + off, len);
    uint32_t sw = cl_crc32c_sw(seed, buf + off, len);
    if (hw != sw) {
        fail_msg("len %zu off %zu seed %08x: hw %08x sw %08x", len, off, seed,
                 hw, sw);
    }
}

static void test_crc32c_hw_equals_sw_every_length(void **state)
{
    (void)state;
    uint8_t *buf = malloc(1024 + 16);
    assert_non_null(buf);
    fill_random(buf, 1024 + 16);
    for (size_t len = 0; len <= 1024; len++) {
        for (size_t off = 0; off < 16; off++) {
            check_hw_sw(buf, off, len);
        }
        /* The oracle is slow: check it on one alignment per length. */
        assert_int_equal(cl_crc32c_sw(0, buf + (len & 7), len),
                         crc_ref(0, buf + (len & 7), len));
    }
    free(buf);
}

/* The hardware path cuts buffers of 3 x 256 bytes and more into three
 * interleaved chains (3 x 8 KiB blocks first): every length around and
 * between those boundaries, at every alignment, must equal the
 * slicing-by-8 software path, and a long buffer the bit-at-a-time oracle. */
static void test_crc32c_hw_interleaved_lengths(void **state)
{
    (void)state;
    const size_t max = 3 * 8192 * 3 + 3 * 256 * 2 + 64;
    uint8_t *buf = malloc(max + 16);
    assert_non_null(buf);
    fill_random(buf, max + 16);
    static const size_t marks[] = {768, 3 * 8192, 2 * 3 * 8192, 3 * 3 * 8192};
    for (size_t m = 0; m < sizeof(marks) / sizeof(marks[0]); m++) {
        for (size_t len = marks[m] - 24; len <= marks[m] + 24 + 768; len++) {
            if (len > max) {
                break;
            }
            size_t off = len % 16;
            check_hw_sw(buf, off, len);
        }
    }
    for (size_t off = 0; off < 16; off++) {
        assert_int_equal(cl_crc32c(0, buf + off, max),
                         crc_ref(0, buf + off, max));
    }
    free(buf);
}

static void test_crc32c_incremental_equals_one_shot(void **state)
{
    (void)state;
    size_t size = 1u << 20;
    uint8_t *buf = malloc(size);
    assert_non_null(buf);
    fill_random(buf, size);
    uint32_t whole = cl_crc32c(0, buf, size);
    assert_int_equal(whole, cl_crc32c_sw(0, buf, size));
    assert_int_equal(whole, crc_ref(0, buf, size));
    for (int round = 0; round < 200; round++) {
        size_t a = rng() % size;
        size_t b = a + rng() % (size - a + 1);
        uint32_t c = cl_crc32c(0, buf, a);
        c = cl_crc32c(c, buf + a, b - a);
        c = cl_crc32c(c, buf + b, size - b);
        assert_int_equal(c, whole);
        uint32_t s = cl_crc32c_sw(0, buf, a);
        s = cl_crc32c(s, buf + a, b - a); /* mixing paths is fine too */
        s = cl_crc32c_sw(s, buf + b, size - b);
        assert_int_equal(s, whole);
    }
    /* Byte by byte over a smaller prefix. */
    uint32_t c = 0;
    for (size_t i = 0; i < 4096; i++) {
        c = cl_crc32c(c, buf + i, 1);
    }
    assert_int_equal(c, cl_crc32c(0, buf, 4096));
    free(buf);
}

static void test_crc32c_detects_single_bit_flips(void **state)
{
    (void)state;
    uint8_t buf[64];
    fill_random(buf, sizeof(buf));
    uint32_t good = cl_crc32c(0, buf, sizeof(buf));
    for (size_t bit = 0; bit < sizeof(buf) * 8; bit++) {
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_not_equal(cl_crc32c(0, buf, sizeof(buf)), good);
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    assert_int_equal(cl_crc32c(0, buf, sizeof(buf)), good);
}

static void test_crc32c_hw_flag(void **state)
{
    (void)state;
    int hw = cl_crc32c_hw();
    assert_true(hw == 0 || hw == 1);
#if !defined(__x86_64__)
    assert_int_equal(hw, 0);
#endif
    print_message("crc32c: using the %s path\n", hw ? "SSE4.2" : "software");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_first_use_from_threads),
        cmocka_unit_test(test_crc32c_upstream_vectors),
        cmocka_unit_test(test_crc32c_vectors_split_and_unaligned),
        cmocka_unit_test(test_crc32c_empty_and_null),
        cmocka_unit_test(test_crc32c_hw_equals_sw_every_length),
        cmocka_unit_test(test_crc32c_hw_interleaved_lengths),
        cmocka_unit_test(test_crc32c_incremental_equals_one_shot),
        cmocka_unit_test(test_crc32c_detects_single_bit_flips),
        cmocka_unit_test(test_crc32c_hw_flag),
    };
    return cmocka_run_group_tests_name("crc32c", tests, load_vectors,
                                       free_vectors);
}
