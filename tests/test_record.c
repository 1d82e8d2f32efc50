/*
 * test_record.c - tests of libcrawllog/record.c (RecordBatch v2 format).
 *
 * Golden batches come from tests/vectors/recordbatch.txt (IBM/sarama's
 * recordBatchTestCases, plus two derived crawllog encodings whose CRCs were
 * computed by an independent implementation).  The rest are round trips,
 * exhaustive byte-flip and truncation sweeps, hand-made malformed records
 * and a seeded mutation loop meant to run under ASan/UBSan.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "crc32c.h"
#include "helpers.h"
#include "record.h"

#define SARAMA_BASE_TS INT64_C(1479847795000)

/* ====================================================================== */
/* Helpers                                                                 */
/* ====================================================================== */

/* Append the hex digits of s to out (spaces skipped); fails on junk. */
static size_t append_hex(const char *s, uint8_t *out, size_t len, size_t cap)
{
    int hi = -1;

    for (; *s != '\0' && *s != '\n'; s++) {
        int v = cl_test_hexval((unsigned char)*s);

        if (*s == ' ' || *s == '\t' || *s == '\r') {
            continue;
        }
        assert_true(v >= 0);
        if (hi < 0) {
            hi = v;
        } else {
            assert_true(len < cap);
            out[len++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    assert_int_equal(hi, -1); /* an odd number of digits on a line */
    return len;
}

/* Load vector name from recordbatch.txt into out; returns its length. */
static size_t load_vector(const char *name, uint8_t *out, size_t cap)
{
    char line[1024];
    FILE *f = fopen(VECTORS_DIR "/recordbatch.txt", "r");
    size_t len = 0, nlen = strlen(name);
    int found = 0, in = 0;

    assert_non_null(f);
    while (fgets(line, sizeof(line), f) != NULL) {
        if (line[0] == '#' || line[0] == '\n') {
            continue;
        }
        if (line[0] == ' ' || line[0] == '\t') {
            if (in) {
                len = append_hex(line, out, len, cap);
            }
            continue;
        }
        in = strncmp(line, name, nlen) == 0 && line[nlen] == ':';
        if (in) {
            found = 1;
            len = append_hex(line + nlen + 1, out, len, cap);
        }
    }
    fclose(f);
    assert_true(found);
    return len;
}

/* Encode into an exactly-sized malloc'd buffer (so ASan sees overruns). */
static uint8_t *encode_alloc(const crawllog_record_t *recs, size_t n,
                             int64_t now_ms, const struct cl_batch_meta *meta,
                             size_t *lenp)
{
    size_t size = cl_record_batch_size(recs, n);
    uint8_t *buf;

    assert_true(size >= CL_BATCH_HEADER_SIZE + 7);
    buf = malloc(size);
    assert_non_null(buf);
    assert_int_equal(cl_record_batch_encode(buf, size, recs, n, now_ms, meta),
                     size);
    *lenp = size;
    return buf;
}

static void assert_bytes(const uint8_t *got, int32_t got_len, const void *want,
                         size_t want_len)
{
    if (want == NULL) {
        assert_null(got);
        assert_int_equal(got_len, -1);
        return;
    }
    assert_int_equal(got_len, (int32_t)want_len);
    assert_non_null(got);
    if (want_len > 0) {
        assert_memory_equal(got, want, want_len);
    }
}

/* Decode batch and compare every record with recs (timestamps < 0 must
 * have become now_ms). */
static void check_decodes_as(const uint8_t *batch, size_t len,
                             const crawllog_record_t *recs, size_t n,
                             int64_t now_ms)
{
    struct cl_record_iter it;
    struct cl_record_view rv;
    crawllog_header_t h;
    char err[128];

    assert_int_equal(cl_record_batch_validate(batch, len, err, sizeof(err)), 0);
    assert_int_equal(cl_record_iter_init(&it, batch, len), 0);
    for (size_t i = 0; i < n; i++) {
        const crawllog_record_t *r = &recs[i];

        assert_int_equal(cl_record_iter_next(&it, &rv), 0);
        assert_int_equal(rv.offset, (int64_t)i);
        assert_int_equal(rv.timestamp,
                         r->timestamp < 0 ? now_ms : r->timestamp);
        assert_bytes(rv.key, rv.key_len, r->key, r->key_len);
        assert_bytes(rv.value, rv.value_len, r->value, r->value_len);
        assert_int_equal(rv.header_count, (int32_t)r->header_count);
        for (size_t j = 0; j < r->header_count; j++) {
            const crawllog_header_t *w = &r->headers[j];

            assert_int_equal(cl_record_header_at(&rv, j, &h), 0);
            assert_int_equal(h.name_len, w->name_len);
            assert_memory_equal(h.name, w->name, w->name_len);
            assert_true((h.value == NULL) == (w->value == NULL));
            assert_int_equal(h.value_len, w->value ? w->value_len : 0);
            if (w->value != NULL && w->value_len > 0) {
                assert_memory_equal(h.value, w->value, w->value_len);
            }
        }
        assert_int_equal(cl_record_header_at(&rv, r->header_count, &h),
                         CRAWLLOG_EINVAL);
    }
    assert_int_equal(cl_record_iter_next(&it, &rv), 1);
    assert_int_equal(cl_record_iter_next(&it, &rv), 1);
}

static void roundtrip(const crawllog_record_t *recs, size_t n, int64_t now)
{
    size_t len;
    uint8_t *buf = encode_alloc(recs, n, now, NULL, &len);

    check_decodes_as(buf, len, recs, n, now);
    free(buf);
}

/* Build a batch around hand-made record bytes, with a correct CRC. */
static size_t build_batch(uint8_t *out, const uint8_t *recs, size_t rlen,
                          int32_t count, int64_t base_ts)
{
    size_t total = CL_BATCH_HEADER_SIZE + rlen;

    memset(out, 0, CL_BATCH_HEADER_SIZE);
    cl_put_i32(out + 8, (int32_t)(total - CL_LOG_OVERHEAD));
    cl_put_i32(out + 12, -1);
    out[16] = 2;
    cl_put_i32(out + 23, count - 1);
    cl_put_i64(out + 27, base_ts);
    cl_put_i64(out + 35, base_ts);
    cl_put_i64(out + 43, -1);
    cl_put_i16(out + 51, -1);
    cl_put_i32(out + 53, -1);
    cl_put_i32(out + 57, count);
    memcpy(out + CL_BATCH_HEADER_SIZE, recs, rlen);
    cl_put_u32(out + 17, cl_crc32c(0, out + 21, total - 21));
    return total;
}

/* Recompute the CRC of a batch whose bytes were changed on purpose. */
static void fix_crc(uint8_t *batch, size_t total)
{
    cl_put_u32(batch + 17, cl_crc32c(0, batch + 21, total - 21));
}

static const uint8_t K1[] = {1, 2, 3, 4}, V1[] = {5, 6, 7};
static const uint8_t HV1[] = {11, 12};
static const crawllog_header_t SARAMA_HDR = {"\x08\x09\x0a", 3, HV1, 2};

/* A small batch with keys, nulls and headers, used by several tests. */
static uint8_t *small_batch(size_t *lenp)
{
    static const crawllog_header_t hs[] = {
        {"trace", 5, "abc", 3}, {"", 0, NULL, 0}, {"n", 1, "", 0}};
    static const crawllog_record_t recs[] = {
        {"k0", 2, "value-0", 7, 1000, hs, 3},
        {NULL, 0, "v1", 2, 990, NULL, 0},
        {"", 0, NULL, 0, 1500, hs + 2, 1},
    };
    return encode_alloc(recs, 3, 0, NULL, lenp);
}

/* ====================================================================== */
/* Golden vectors                                                          */
/* ====================================================================== */

static void test_record_golden_empty_batches(void **state)
{
    static const struct {
        const char *name;
        uint32_t crc;
        int16_t attributes;
    } cases[] = {{"sarama_empty", 0x595FB7DDu, 0},
                 {"sarama_control", 0x512E43D9u, 0x20}};
    uint8_t buf[128];
    struct cl_batch_hdr h;
    char err[128];

    (void)state;
    for (size_t i = 0; i < 2; i++) {
        size_t len = load_vector(cases[i].name, buf, sizeof(buf));

        assert_int_equal(len, 61);
        assert_int_equal(cl_record_batch_check_crc(buf, len), 0);
        /* Zero records: a valid Kafka batch, but never one of ours. */
        assert_int_equal(cl_record_batch_header(buf, len, &h),
                         CRAWLLOG_ECORRUPT);
        assert_int_equal(h.batch_length, 49);
        assert_int_equal(h.magic, 2);
        assert_int_equal(h.crc, cases[i].crc);
        assert_int_equal(h.attributes, cases[i].attributes);
        assert_int_equal(h.records_count, 0);
        assert_int_equal(cl_record_batch_validate(buf, len, err, sizeof(err)),
                         CRAWLLOG_ECORRUPT);
        assert_non_null(strstr(err, "record count"));
        buf[20] ^= 1;
        assert_int_equal(cl_record_batch_check_crc(buf, len),
                         CRAWLLOG_ECORRUPT);
    }
}

static void test_record_golden_uncompressed_decodes(void **state)
{
    uint8_t buf[128];
    size_t len = load_vector("sarama_uncompressed", buf, sizeof(buf));
    struct cl_batch_hdr h;
    struct cl_record_iter it;
    struct cl_record_view rv;
    crawllog_header_t hdr;

    (void)state;
    assert_int_equal(len, 82);
    assert_int_equal(cl_record_batch_header(buf, len, &h), 0);
    assert_int_equal(h.base_offset, 0);
    assert_int_equal(h.batch_length, 70);
    assert_int_equal(cl_record_batch_total(&h), 82);
    assert_int_equal(h.crc, 0x547961FDu);
    assert_int_equal(h.base_timestamp, SARAMA_BASE_TS);
    assert_int_equal(h.records_count, 1);
    assert_int_equal(cl_record_batch_check_crc(buf, len), 0);
    assert_int_equal(cl_record_batch_validate(buf, len, NULL, 0), 0);
    assert_int_equal(cl_record_iter_init(&it, buf, len), 0);
    assert_int_equal(cl_record_iter_next(&it, &rv), 0);
    assert_int_equal(rv.offset, 0);
    assert_int_equal(rv.timestamp, SARAMA_BASE_TS + 5);
    assert_bytes(rv.key, rv.key_len, K1, 4);
    assert_bytes(rv.value, rv.value_len, V1, 3);
    assert_int_equal(rv.header_count, 1);
    assert_int_equal(cl_record_header_at(&rv, 0, &hdr), 0);
    assert_int_equal(hdr.name_len, 3);
    assert_memory_equal(hdr.name, "\x08\x09\x0a", 3);
    assert_int_equal(hdr.value_len, 2);
    assert_memory_equal(hdr.value, HV1, 2);
    assert_int_equal(cl_record_header_at(&rv, 1, &hdr), CRAWLLOG_EINVAL);
    assert_int_equal(cl_record_iter_next(&it, &rv), 1);

    /* The base offset is outside the CRC: patching it keeps it valid. */
    cl_record_batch_set_base_offset(buf, 4096);
    assert_int_equal(cl_record_batch_validate(buf, len, NULL, 0), 0);
    assert_int_equal(cl_record_iter_init(&it, buf, len), 0);
    assert_int_equal(cl_record_iter_next(&it, &rv), 0);
    assert_int_equal(rv.offset, 4096);
}

static void test_record_golden_uncompressed_reencodes(void **state)
{
    const crawllog_record_t rec = {.key = K1,
                                   .key_len = 4,
                                   .value = V1,
                                   .value_len = 3,
                                   .timestamp = SARAMA_BASE_TS + 5,
                                   .headers = &SARAMA_HDR,
                                   .header_count = 1};
    const struct cl_batch_meta meta0 = {0, 0, 0, 0};
    const struct cl_batch_meta none = CL_BATCH_META_NONE;
    uint8_t want[128], got[128], sarama[128];
    size_t wlen, slen;

    (void)state;
    assert_int_equal(cl_record_batch_size(&rec, 1), 82);
    wlen = load_vector("crawllog_uncompressed_meta0", want, sizeof(want));
    memset(got, 0xAA, sizeof(got));
    assert_int_equal(
        cl_record_batch_encode(got, sizeof(got), &rec, 1, 7, &meta0), wlen);
    assert_memory_equal(got, want, wlen);
    assert_int_equal(got[wlen], 0xAA); /* nothing written past the end */

    /* Set the fields sarama writes differently (leader epoch 0,
     * baseTimestamp 5 ms earlier so the delta is 5, maxTimestamp 0): then
     * every byte, the CRC included, must be sarama's. */
    slen = load_vector("sarama_uncompressed", sarama, sizeof(sarama));
    assert_int_equal(slen, wlen);
    cl_put_i32(got + 12, 0);
    cl_put_i64(got + 27, SARAMA_BASE_TS);
    cl_put_i64(got + 35, 0);
    assert_int_equal(got[63], 0x00); /* record 0's timestamp delta */
    got[63] = 0x0a;                  /* zig-zag(5) */
    fix_crc(got, slen);
    assert_memory_equal(got, sarama, slen);

    wlen = load_vector("crawllog_uncompressed_none", want, sizeof(want));
    assert_int_equal(
        cl_record_batch_encode(got, sizeof(got), &rec, 1, 7, &none), wlen);
    assert_memory_equal(got, want, wlen);
    /* meta NULL means CL_BATCH_META_NONE. */
    assert_int_equal(cl_record_batch_encode(got, sizeof(got), &rec, 1, 7, NULL),
                     wlen);
    assert_memory_equal(got, want, wlen);
}

static void test_record_golden_compressed_rejected(void **state)
{
    static const char *names[] = {"sarama_gzip", "sarama_snappy"};
    const crawllog_record_t rec = {K1, 4, V1, 3, 1, NULL, 0};
    const struct cl_batch_meta gzip = {-1, -1, -1, 1};
    uint8_t buf[160];
    struct cl_batch_hdr h;
    struct cl_record_iter it;
    char err[128];

    (void)state;
    for (size_t i = 0; i < 2; i++) {
        size_t len = load_vector(names[i], buf, sizeof(buf));

        assert_int_equal(cl_record_batch_header(buf, len, &h),
                         CRAWLLOG_EVERSION);
        assert_int_equal(cl_record_batch_total(&h), len);
        assert_int_equal(cl_record_batch_check_crc(buf, len), 0);
        assert_int_equal(cl_record_batch_validate(buf, len, err, sizeof(err)),
                         CRAWLLOG_EVERSION);
        assert_non_null(strstr(err, "compressed"));
        assert_int_equal(cl_record_iter_init(&it, buf, len), CRAWLLOG_EVERSION);
        /* With a bad CRC the batch is corrupt, not from a newer writer. */
        buf[len - 1] ^= 0x40;
        assert_int_equal(cl_record_batch_validate(buf, len, err, sizeof(err)),
                         CRAWLLOG_ECORRUPT);
        assert_non_null(strstr(err, "CRC"));
    }
    assert_int_equal(
        cl_record_batch_encode(buf, sizeof(buf), &rec, 1, 0, &gzip), 0);
}

/* ====================================================================== */
/* Round trips                                                             */
/* ====================================================================== */

static void test_record_roundtrip_null_and_empty(void **state)
{
    static const crawllog_header_t hs[] = {
        {"h-null", 6, NULL, 99}, /* NULL value: null whatever its length */
        {"", 0, "", 0},
        {"h", 1, "x", 1},
        {"h", 1, NULL, 0}, /* duplicate names are kept */
    };
    static const crawllog_record_t recs[] = {
        {NULL, 5, NULL, 7, 10, NULL, 0}, /* NULL: null, lengths ignored */
        {"", 0, "", 0, 11, NULL, 0},     /* empty, not null */
        {"k", 1, NULL, 0, 12, hs, 4},          {NULL, 0, "v", 1, 13, hs, 1},
        {"key", 3, "value", 5, 14, hs + 1, 0},
    };
    uint8_t buf[256];
    size_t len;

    (void)state;
    roundtrip(recs, 5, 0);
    /* A null key is one byte (-1), an empty one one byte (0). */
    len = cl_record_batch_encode(buf, sizeof(buf), recs, 1, 0, NULL);
    assert_int_equal(len, 61 + 7);
    assert_memory_equal(buf + 61, "\x0c\x00\x00\x00\x01\x01\x00", 7);
}

static void test_record_roundtrip_negative_timestamp_deltas(void **state)
{
    static const crawllog_record_t recs[] = {
        {"a", 1, "1", 1, 1000, NULL, 0},
        {"b", 1, "2", 1, 10, NULL, 0},
        {"c", 1, "3", 1, 5000, NULL, 0},
        {"d", 1, "4", 1, 0, NULL, 0},
        {"e", 1, "5", 1, INT64_C(1) << 50, NULL, 0},
    };
    struct cl_batch_hdr h;
    size_t len;
    uint8_t *buf = encode_alloc(recs, 5, 0, NULL, &len);

    (void)state;
    assert_int_equal(cl_record_batch_header(buf, len, &h), 0);
    assert_int_equal(h.base_timestamp, 1000);
    assert_int_equal(h.max_timestamp, INT64_C(1) << 50);
    assert_int_equal(h.leader_epoch, -1);
    assert_int_equal(h.producer_id, -1);
    assert_int_equal(h.producer_epoch, -1);
    assert_int_equal(h.base_sequence, -1);
    assert_int_equal(h.last_offset_delta, 4);
    /* record 1: delta 10 - 1000 = -990, zig-zag 1979 = bb 0f */
    assert_memory_equal(buf + 61 + 9 + 2, "\xbb\x0f", 2);
    check_decodes_as(buf, len, recs, 5, 0);
    free(buf);
}

static void test_record_roundtrip_now_substitution(void **state)
{
    static const crawllog_record_t all_now[] = {
        {"a", 1, "1", 1, -1, NULL, 0}, {"b", 1, "2", 1, INT64_MIN, NULL, 0}};
    static const crawllog_record_t first_known[] = {
        {"a", 1, "1", 1, 5, NULL, 0},
        {"b", 1, "2", 1, -1, NULL, 0},
        {"c", 1, "3", 1, 7, NULL, 0}};
    static const crawllog_record_t first_now[] = {
        {"a", 1, "1", 1, -5, NULL, 0},
        {"b", 1, "2", 1, 3, NULL, 0},
        {"c", 1, "3", 1, -1, NULL, 0}};
    static const int64_t nows[] = {0, 1, 1700000000000, INT64_MAX / 2,
                                   INT64_MAX};
    uint8_t buf[256];
    struct cl_batch_hdr h;

    (void)state;
    /* All now: every delta is 0, base = max = now. */
    assert_int_equal(cl_record_batch_size(all_now, 2), 61 + 2 * 9);
    for (size_t i = 0; i < 5; i++) {
        roundtrip(all_now, 2, nows[i]);
        roundtrip(first_known, 3, nows[i]);
        roundtrip(first_now, 3, nows[i]);
        /* The size never depends on now_ms. */
        assert_int_equal(cl_record_batch_encode(buf, sizeof(buf), first_known,
                                                3, nows[i], NULL),
                         cl_record_batch_size(first_known, 3));
    }
    /* Mixed: a now-dependent delta is a padded 10-byte varlong. */
    assert_int_equal(cl_record_batch_size(first_known, 3), 61 + 3 * 9 + 9);
    assert_int_equal(cl_record_batch_size(first_now, 3), 61 + 3 * 9 + 9);
    assert_int_equal(
        cl_record_batch_encode(buf, sizeof(buf), first_now, 3, 100, NULL),
        61 + 3 * 9 + 9);
    assert_int_equal(cl_record_batch_header(buf, sizeof(buf), &h), 0);
    assert_int_equal(h.base_timestamp, 100);
    assert_int_equal(h.max_timestamp, 100);
    /* record 1: ts 3, delta -97, zig-zag 193 = c1 01, padded */
    assert_memory_equal(buf + 61 + 9 + 2,
                        "\xc1\x81\x80\x80\x80\x80\x80\x80\x80\x00", 10);
    /* now_ms < 0 is refused when a record needs it, fine otherwise. */
    assert_int_equal(
        cl_record_batch_encode(buf, sizeof(buf), first_known, 3, -1, NULL), 0);
    assert_int_equal(
        cl_record_batch_encode(buf, sizeof(buf), first_known, 1, -1, NULL),
        61 + 9);
}

static void test_record_roundtrip_1_and_10000_records(void **state)
{
    enum { N = 10000 };
    crawllog_record_t *recs = calloc(N, sizeof(*recs));
    char(*keys)[16] = calloc(N, 16);
    crawllog_header_t hdr = {"seq", 3, "x", 1};
    size_t len;
    uint8_t *buf;

    (void)state;
    assert_non_null(recs);
    assert_non_null(keys);
    for (size_t i = 0; i < N; i++) {
        snprintf(keys[i], 16, "key-%zu", i);
        recs[i].key = keys[i];
        recs[i].key_len = strlen(keys[i]);
        recs[i].value = keys[i];
        recs[i].value_len = i % 7;
        recs[i].timestamp = 1000000 + (int64_t)(i * 37 % 1001) - 500;
        recs[i].headers = &hdr;
        recs[i].header_count = i % 3 == 0;
    }
    roundtrip(recs, 1, 0);
    roundtrip(recs, N, 0);
    buf = encode_alloc(recs, N, 0, NULL, &len);
    assert_int_equal(cl_get_i32(buf + 57), N);
    assert_int_equal(cl_get_i32(buf + 23), N - 1);
    free(buf);
    free(keys);
    free(recs);
}

static void test_record_roundtrip_big_values(void **state)
{
    const size_t mib = (size_t)1 << 20;
    uint8_t *big = malloc(mib);
    crawllog_header_t hdr = {"big", 3, NULL, 0};
    crawllog_record_t recs[3] = {
        {"k", 1, NULL, mib, 1, NULL, 0},
        {NULL, 0, NULL, 0, 2, &hdr, 1},
        {NULL, 0, NULL, mib - 1, 3, NULL, 0},
    };

    (void)state;
    assert_non_null(big);
    for (size_t i = 0; i < mib; i++) {
        big[i] = (uint8_t)(i * 131 + (i >> 9));
    }
    recs[0].value = big;
    recs[1].key = big;
    recs[1].key_len = mib;
    hdr.value = big;
    hdr.value_len = mib;
    recs[2].value = big + 1;
    /* 4-byte length varints for 2^20; the second record has 2 x 1 MiB. */
    assert_int_equal(cl_record_batch_size(recs, 1),
                     61 + 4 + 1 + 1 + 1 + 2 + 4 + mib + 1);
    roundtrip(recs, 3, 0);
    free(big);
}

/* ====================================================================== */
/* Invalid input and limits                                                */
/* ====================================================================== */

static void test_record_encode_invalid_input(void **state)
{
    static const crawllog_header_t noname = {NULL, 0, "v", 1};
    const crawllog_record_t ok = {"k", 1, "v", 1, 5, NULL, 0};
    const crawllog_record_t bad_name = {"k", 1, "v", 1, 5, &noname, 1};
    const crawllog_record_t no_headers = {"k", 1, "v", 1, 5, NULL, 2};
    crawllog_record_t two[2] = {ok, bad_name};
    uint8_t buf[128];
    size_t size = cl_record_batch_size(&ok, 1);

    (void)state;
    assert_int_equal(size, 61 + 9);
    assert_int_equal(cl_record_batch_size(&ok, 0), 0);
    assert_int_equal(cl_record_batch_size(NULL, 1), 0);
    assert_int_equal(cl_record_batch_size(&bad_name, 1), 0);
    assert_int_equal(cl_record_batch_size(&no_headers, 1), 0);
    assert_int_equal(cl_record_batch_size(two, 2), 0);
    assert_int_equal(cl_record_batch_encode(buf, sizeof(buf), &ok, 0, 0, NULL),
                     0);
    assert_int_equal(cl_record_batch_encode(buf, sizeof(buf), two, 2, 0, NULL),
                     0);
    assert_int_equal(cl_record_batch_encode(NULL, 100, &ok, 1, 0, NULL), 0);
    assert_int_equal(cl_record_batch_encode(buf, size - 1, &ok, 1, 0, NULL), 0);
    assert_int_equal(cl_record_batch_encode(buf, size, &ok, 1, 0, NULL), size);
}

static void test_record_size_limits(void **state)
{
    static const uint8_t one = 1;
    /* value V: 61 header + 5 (length varint) + attributes, timestamp
     * delta, offset delta, null key (1 each) + 5 (value length) + V + 1
     * (header count) = 76 + V, and the most a batch can be is
     * INT32_MAX + 12.  size() never reads the bytes. */
    const size_t vmax = (size_t)INT32_MAX - 64;
    crawllog_record_t rec = {NULL, 0, &one, vmax, 0, NULL, 0};
    crawllog_header_t h = {"n", (size_t)INT32_MAX + 1, NULL, 0};

    (void)state;
    if (sizeof(size_t) < 8) {
        skip();
    }
    assert_int_equal(cl_record_batch_size(&rec, 1), (size_t)INT32_MAX + 12);
    rec.value_len = vmax + 1;
    assert_int_equal(cl_record_batch_size(&rec, 1), 0);
    rec.value_len = (size_t)INT32_MAX + 1;
    assert_int_equal(cl_record_batch_size(&rec, 1), 0);
    rec.value_len = 1;
    rec.key = &one;
    rec.key_len = SIZE_MAX;
    assert_int_equal(cl_record_batch_size(&rec, 1), 0);
    rec.key_len = 1;
    rec.headers = &h;
    rec.header_count = 1;
    assert_int_equal(cl_record_batch_size(&rec, 1), 0);
    h.name_len = 1;
    h.value = &one;
    h.value_len = (size_t)INT32_MAX + 1;
    assert_int_equal(cl_record_batch_size(&rec, 1), 0);
    h.value_len = 1;
    rec.header_count = (size_t)INT32_MAX + 1;
    assert_int_equal(cl_record_batch_size(&rec, 1), 0);
    rec.header_count = 1;
    assert_int_equal(cl_record_batch_size(&rec, 1), 61 + 13);
    assert_int_equal(cl_record_batch_size(&rec, (size_t)INT32_MAX + 1), 0);
}

/* ====================================================================== */
/* Damage: byte flips, truncations, malformed records                      */
/* ====================================================================== */

static void test_record_every_byte_flip_detected(void **state)
{
    static const uint8_t flips[] = {0x01, 0x80, 0xff, 0x10};
    size_t len;
    uint8_t *good = small_batch(&len), *buf = malloc(len);
    struct cl_batch_hdr h;

    (void)state;
    assert_non_null(buf);
    for (size_t i = 0; i < len; i++) {
        for (size_t f = 0; f < sizeof(flips); f++) {
            int hrc, detected;

            memcpy(buf, good, len);
            buf[i] ^= flips[f];
            hrc = cl_record_batch_header(buf, len, &h);
            detected = hrc != 0 || cl_record_batch_total(&h) != len ||
                       cl_record_batch_check_crc(buf, len) != 0;
            if (i < 8 || (i >= 12 && i < 16)) {
                /* base offset and leader epoch: outside the CRC */
                assert_int_equal(cl_record_batch_check_crc(buf, len), 0);
                continue;
            }
            if (!detected) {
                fail_msg("flip 0x%02x at byte %zu not detected", flips[f], i);
            }
            assert_int_not_equal(cl_record_batch_validate(buf, len, NULL, 0),
                                 0);
        }
    }
    free(buf);
    free(good);
}

static void test_record_every_truncation_rejected(void **state)
{
    size_t len;
    uint8_t *good = small_batch(&len);
    struct cl_batch_hdr h;
    struct cl_record_iter it;
    char err[128];

    (void)state;
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *buf = malloc(cut > 0 ? cut : 1);
        int rc;

        assert_non_null(buf);
        memcpy(buf, good, cut);
        rc = cl_record_batch_header(buf, cut, &h);
        if (cut < CL_BATCH_HEADER_SIZE) {
            assert_int_equal(rc, 1);
        } else {
            assert_int_equal(rc, 0);
            assert_true(cl_record_batch_total(&h) > cut); /* short */
        }
        assert_int_equal(cl_record_batch_check_crc(buf, cut),
                         CRAWLLOG_ECORRUPT);
        assert_int_equal(cl_record_batch_validate(buf, cut, err, sizeof(err)),
                         CRAWLLOG_ECORRUPT);
        assert_true(strlen(err) > 0);
        assert_int_equal(cl_record_iter_init(&it, buf, cut), CRAWLLOG_ECORRUPT);
        free(buf);
    }
    assert_int_equal(cl_record_batch_header(NULL, 0, &h), 1);
    assert_int_equal(cl_record_batch_validate(good, len, NULL, 0), 0);
    free(good);
}

struct bad_case {
    const char *hex; /* record bytes */
    int32_t count;
    const char *why; /* expected in validate's message */
};

static const struct bad_case BAD[] = {
    /* baseline: 10 00 00 00 02 6b 02 76 00 is key "k" value "v" */
    {"10 00 00 00 03 6b 02 76 00", 1, "record 0: key length is negative"},
    {"10 00 00 00 7e 6b 02 76 00", 1, "key length past end of record"},
    {"10 00 00 00 02 6b 7e 76 00", 1, "value length past end of record"},
    {"10 00 00 00 02 6b 05 76 00", 1, "value length is negative"},
    {"20 00 00 00 02 6b 02 76 00", 1, "record length past end of batch"},
    {"01 00 00 00 02 6b 02 76 00", 1, "record length is not positive"},
    {"00 00 00 00 02 6b 02 76 00", 1, "record length is not positive"},
    {"0e 00 00 00 02 6b 02 76 00", 1, "header count is not a valid varint"},
    {"12 00 00 00 02 6b 02 76 00 00", 1, "does not match its fields"},
    {"10 00 00 02 02 6b 02 76 00", 1, "offset delta does not match"},
    {"10 00 00 00 02 6b 02 76 01", 1, "header count is negative"},
    {"0e 00 00 00 01 01 02 01 01", 1, "header key is null"},
    {"10 00 00 00 01 01 02 00 05", 1, "header value length is negative"},
    {"12 00 00 00 01 01 02 00 7e 00", 1, "header value length past end"},
    {"10 00 00 00 01 01 02 7e 00", 1, "header key length past end"},
    {"14 00 00 00 80 80 80 80 80 00 02 76 00", 1,
     "key length is not a valid varint"},
    {"14 00 00 00 ff ff ff ff 7f 6b 02 76 00", 1,
     "key length is not a valid varint"}, /* 5 bytes but > INT32_MAX */
    {"20 00 80 80 80 80 80 80 80 80 80 80 00 00 01 01 00", 1,
     "timestamp delta is not a valid varlong"},
    {"1e 00 fe ff ff ff ff ff ff ff ff 01 00 01 01 00", 1,
     "timestamp delta overflows"},
    {"80 80 80 80 80 00 00", 1, "record length is not a valid varint"},
    {"10 00 00 00 02 6b 02 76 00 00", 1, "1 bytes after the last record"},
    {"10 00 00 00 02 6b 02 76 00 00 00 00 00 00 00", 2,
     "record 1: record length is not positive"},
    {"10 00 00 00 02 6b 02 76 00", 2, "header: record count too large"},
    {"10 00 00 00 02 6b 02 76 00", 0, "header: record count"},
};

static void test_record_malformed_records_rejected(void **state)
{
    uint8_t recs[64], batch[128];
    struct cl_record_iter it;
    struct cl_record_view rv;
    char err[160];

    (void)state;
    /* The baseline itself is valid. */
    size_t rlen = append_hex("10 00 00 00 02 6b 02 76 00", recs, 0, 64);
    size_t len = build_batch(batch, recs, rlen, 1, 1000);
    assert_int_equal(cl_record_batch_validate(batch, len, err, sizeof(err)), 0);
    assert_string_equal(err, "");

    for (size_t i = 0; i < sizeof(BAD) / sizeof(BAD[0]); i++) {
        int rc = 0;

        rlen = append_hex(BAD[i].hex, recs, 0, sizeof(recs));
        len = build_batch(batch, recs, rlen, BAD[i].count, 1000);
        assert_int_equal(cl_record_batch_check_crc(batch, len), 0);
        assert_int_equal(cl_record_batch_validate(batch, len, err, sizeof(err)),
                         CRAWLLOG_ECORRUPT);
        if (strstr(err, BAD[i].why) == NULL) {
            fail_msg("case %zu: got \"%s\", want \"%s\"", i, err, BAD[i].why);
        }
        /* The iterator refuses the same bytes (or its init does). */
        if (cl_record_iter_init(&it, batch, len) == 0) {
            while ((rc = cl_record_iter_next(&it, &rv)) == 0) {
            }
            assert_int_equal(rc, CRAWLLOG_ECORRUPT);
        }
    }
}

static void test_record_header_checks(void **state)
{
    size_t len;
    uint8_t *good = small_batch(&len), *buf = malloc(len);
    struct cl_batch_hdr h;
    struct cl_record_iter it;
    struct cl_record_view rv;
    crawllog_header_t hdr;

    (void)state;
    assert_non_null(buf);
#define MUTATE(off, put, val, want)                                            \
    do {                                                                       \
        memcpy(buf, good, len);                                                \
        put(buf + (off), val);                                                 \
        fix_crc(buf, len);                                                     \
        assert_int_equal(cl_record_batch_header(buf, len, &h), want);          \
    } while (0)
    MUTATE(16, cl_put_u16, 0x0100, CRAWLLOG_ECORRUPT); /* magic 1 */
    MUTATE(16, cl_put_u16, 0x0300, CRAWLLOG_ECORRUPT); /* magic 3 */
    MUTATE(8, cl_put_i32, 48, CRAWLLOG_ECORRUPT);
    MUTATE(8, cl_put_i32, -1, CRAWLLOG_ECORRUPT);
    MUTATE(8, cl_put_i32, INT32_MAX, 0); /* sane; just longer than len */
    MUTATE(23, cl_put_i32, 3, CRAWLLOG_ECORRUPT);
    MUTATE(57, cl_put_i32, -1, CRAWLLOG_ECORRUPT);
    MUTATE(0, cl_put_i64, -1, CRAWLLOG_ECORRUPT);
    MUTATE(0, cl_put_i64, INT64_MAX - 1, CRAWLLOG_ECORRUPT); /* + 2 */
    MUTATE(0, cl_put_i64, INT64_MAX - 2, 0);
    MUTATE(21, cl_put_i16, 0x0004, CRAWLLOG_EVERSION); /* zstd */
    MUTATE(21, cl_put_i16, 0x0030, 0);    /* transactional control */
    MUTATE(35, cl_put_i64, INT64_MIN, 0); /* max < base is allowed */
#undef MUTATE
    /* A zeroed view has no headers. */
    memset(&rv, 0, sizeof(rv));
    assert_int_equal(cl_record_header_at(&rv, 0, &hdr), CRAWLLOG_EINVAL);
    /* A view whose header bytes are cut short. */
    assert_int_equal(cl_record_iter_init(&it, good, len), 0);
    assert_int_equal(cl_record_iter_next(&it, &rv), 0);
    assert_int_equal(rv.header_count, 3);
    rv.headers_end = rv.headers + 3;
    assert_int_equal(cl_record_header_at(&rv, 0, &hdr), CRAWLLOG_ECORRUPT);
    free(buf);
    free(good);
}

/* ====================================================================== */
/* Mutation fuzzing                                                        */
/* ====================================================================== */

static uint64_t rng_state = UINT64_C(0x9E3779B97F4A7C15);

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static size_t rndn(size_t n)
{
    return (size_t)(rnd() % n);
}

/* One random edit of buf[0..*lenp) (capacity cap). */
static void mutate(uint8_t *buf, size_t *lenp, size_t cap)
{
    static const uint8_t special[] = {0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe};
    size_t len = *lenp, at = len > 0 ? rndn(len) : 0, n;

    switch (rndn(6)) {
    case 0: /* flip a bit */
        if (len > 0) {
            buf[at] ^= (uint8_t)(1u << rndn(8));
        }
        break;
    case 1: /* set a byte */
        if (len > 0) {
            buf[at] = rndn(2) ? special[rndn(6)] : (uint8_t)rnd();
        }
        break;
    case 2: /* insert bytes */
        n = 1 + rndn(6);
        if (len + n <= cap) {
            memmove(buf + at + n, buf + at, len - at);
            for (size_t i = 0; i < n; i++) {
                buf[at + i] = special[rndn(6)];
            }
            *lenp = len + n;
        }
        break;
    case 3: /* delete bytes */
        n = 1 + rndn(6);
        if (at + n <= len) {
            memmove(buf + at, buf + at + n, len - at - n);
            *lenp = len - n;
        }
        break;
    case 4: /* truncate */
        *lenp = at;
        break;
    default: /* write a random varint-ish run in the records */
        if (len > CL_BATCH_HEADER_SIZE + 2) {
            /* one rnd() call per statement keeps the sequence portable */
            unsigned shift = (unsigned)rndn(64);
            int64_t v = (int64_t)(rnd() >> shift);

            v -= (int64_t)rndn(3);
            at = CL_BATCH_HEADER_SIZE + rndn(len - CL_BATCH_HEADER_SIZE);
            if (at + cl_varlong_size(v) <= len) {
                cl_put_varlong(buf + at, v);
            }
        }
        break;
    }
}

/* Walk a batch's records touching every byte a view points at; returns
 * the iterator's final code, *nrecs the records seen. */
static int walk(const uint8_t *buf, size_t len, int32_t *nrecs, unsigned *sum)
{
    struct cl_record_iter it;
    struct cl_record_view rv;
    crawllog_header_t h;
    int rc = cl_record_iter_init(&it, buf, len);

    *nrecs = 0;
    if (rc != 0) {
        return rc;
    }
    while ((rc = cl_record_iter_next(&it, &rv)) == 0) {
        assert_int_equal(rv.offset, it.base_offset + *nrecs);
        (*nrecs)++;
        for (int32_t i = 0; i < rv.key_len; i++) {
            *sum += rv.key[i];
        }
        for (int32_t i = 0; i < rv.value_len; i++) {
            *sum += rv.value[i];
        }
        for (size_t j = 0; j <= (size_t)rv.header_count; j++) {
            int hrc = cl_record_header_at(&rv, j, &h);

            assert_int_equal(hrc,
                             j < (size_t)rv.header_count ? 0 : CRAWLLOG_EINVAL);
            if (hrc == 0 && h.name_len > 0) {
                *sum += (unsigned char)h.name[h.name_len - 1];
            }
            if (hrc == 0 && h.value_len > 0) {
                *sum += ((const uint8_t *)h.value)[h.value_len - 1];
            }
        }
    }
    return rc;
}

static void test_record_fuzz_mutations(void **state)
{
    enum { ITER = 20000, CAP = 512 };
    uint8_t *seeds[3], work[CAP];
    size_t seed_len[3];
    unsigned sum = 0;
    long valid = 0, record_level = 0;
    const crawllog_record_t rec = {K1, 4, V1, 3, 99, &SARAMA_HDR, 1};
    crawllog_record_t ten[10];

    (void)state;
    for (size_t i = 0; i < 10; i++) {
        ten[i] = rec;
        ten[i].timestamp = 100000 + (int64_t)(i * 1000) - 3000 * (i % 2);
        ten[i].key = i % 3 ? K1 : NULL;
    }
    seeds[0] = small_batch(&seed_len[0]);
    seeds[1] = encode_alloc(&rec, 1, 0, NULL, &seed_len[1]);
    seeds[2] = encode_alloc(ten, 10, 0, NULL, &seed_len[2]);
    for (long iter = 0; iter < ITER; iter++) {
        size_t s = rndn(3), len = seed_len[s], edits = 1 + rndn(4);
        uint8_t *buf;
        char err[128];
        int vrc, irc;
        int32_t nrecs;

        memcpy(work, seeds[s], len);
        for (size_t e = 0; e < edits; e++) {
            mutate(work, &len, CAP);
        }
        /* Usually repair length and CRC so records get decoded. */
        if (rndn(4) != 0 && len >= CL_BATCH_HEADER_SIZE) {
            cl_put_i32(work + 8, (int32_t)(len - CL_LOG_OVERHEAD));
            fix_crc(work, len);
        }
        buf = malloc(len > 0 ? len : 1); /* exact size: ASan sees overruns */
        assert_non_null(buf);
        memcpy(buf, work, len);
        vrc = cl_record_batch_validate(buf, len, err, sizeof(err));
        irc = walk(buf, len, &nrecs, &sum);
        /* validate succeeds exactly when the CRC holds and iteration
         * reaches the end cleanly. */
        assert_int_equal(vrc == 0,
                         irc == 1 && cl_record_batch_check_crc(buf, len) == 0);
        if (vrc == 0) {
            valid++;
            assert_int_equal(nrecs, cl_get_i32(buf + 57));
        } else if (strncmp(err, "record ", 7) == 0) {
            record_level++;
        }
        free(buf);
    }
    print_message("fuzz: %d iterations, %ld valid, %ld failed inside records "
                  "(sum %u)\n",
                  ITER, valid, record_level, sum);
    /* The loop must reach the record decoder, not only the CRC check. */
    assert_true(record_level > ITER / 10);
    assert_true(valid > 0);
    for (size_t i = 0; i < 3; i++) {
        free(seeds[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_golden_empty_batches),
        cmocka_unit_test(test_record_golden_uncompressed_decodes),
        cmocka_unit_test(test_record_golden_uncompressed_reencodes),
        cmocka_unit_test(test_record_golden_compressed_rejected),
        cmocka_unit_test(test_record_roundtrip_null_and_empty),
        cmocka_unit_test(test_record_roundtrip_negative_timestamp_deltas),
        cmocka_unit_test(test_record_roundtrip_now_substitution),
        cmocka_unit_test(test_record_roundtrip_1_and_10000_records),
        cmocka_unit_test(test_record_roundtrip_big_values),
        cmocka_unit_test(test_record_encode_invalid_input),
        cmocka_unit_test(test_record_size_limits),
        cmocka_unit_test(test_record_every_byte_flip_detected),
        cmocka_unit_test(test_record_every_truncation_rejected),
        cmocka_unit_test(test_record_malformed_records_rejected),
        cmocka_unit_test(test_record_header_checks),
        cmocka_unit_test(test_record_fuzz_mutations),
    };
    return cmocka_run_group_tests_name("record", tests, NULL, NULL);
}
