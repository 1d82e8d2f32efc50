/*
 * test_control.c - tests of libcrawllog/control.c (transaction markers,
 * Kafka control batches).
 *
 * Golden vectors written out by hand from the Kafka layout
 * (DefaultRecordBatch + ControlRecordType + EndTransactionMarker), their
 * CRCs computed by an independent bitwise CRC-32C (Python, checked against
 * crc32c("123456789") == 0xE3069283 and sarama's empty batch 0x595FB7DD);
 * round trips; acceptance by record_read.c's validator and iterator;
 * exhaustive truncation and single-bit-flip sweeps (each on an exact-size
 * heap copy, so an overread trips ASan); hand-made malformed markers with
 * a correct CRC, so that control.c's own checks, not the CRC, refuse them.
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
#include "control.h"
#include "crc32c.h"
#include "io.h"
#include "record.h"

#define G_BASE_OFFSET INT64_C(42)
#define G_PID INT64_C(1000)
#define G_EPOCH 3
#define G_COORD_EPOCH 7
#define G_TS INT64_C(1479847795000) /* 0x000001588dcd5938 */

/* COMMIT marker: base offset 42, producer 1000 epoch 3, coordinator epoch
 * 7, time 1479847795000 ms.  78 bytes. */
/* clang-format off */
static const uint8_t golden_commit[CL_CONTROL_BATCH_SIZE] = {
    /* 0 baseOffset int64 = 42 (not covered by the CRC) */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a,
    /* 8 batchLength int32 = 78 - 12 = 66 */
    0x00, 0x00, 0x00, 0x42,
    /* 12 partitionLeaderEpoch int32 = -1 (not covered by the CRC) */
    0xff, 0xff, 0xff, 0xff,
    /* 16 magic int8 = 2 */
    0x02,
    /* 17 crc uint32 = CRC-32C of bytes [21, 78) = 0x748eced4 */
    0x74, 0x8e, 0xce, 0xd4,
    /* 21 attributes int16 = 0x0030: bit 4 isTransactional, bit 5
     * isControl, compression 0, CreateTime */
    0x00, 0x30,
    /* 23 lastOffsetDelta int32 = recordsCount - 1 = 0 */
    0x00, 0x00, 0x00, 0x00,
    /* 27 baseTimestamp int64 = 1479847795000 */
    0x00, 0x00, 0x01, 0x58, 0x8d, 0xcd, 0x59, 0x38,
    /* 35 maxTimestamp int64 = the same */
    0x00, 0x00, 0x01, 0x58, 0x8d, 0xcd, 0x59, 0x38,
    /* 43 producerId int64 = 1000 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xe8,
    /* 51 producerEpoch int16 = 3 */
    0x00, 0x03,
    /* 53 baseSequence int32 = -1 (markers take no sequence) */
    0xff, 0xff, 0xff, 0xff,
    /* 57 recordsCount int32 = 1 */
    0x00, 0x00, 0x00, 0x01,
    /* 61 record length varint = 16 (zig-zag 32) */
    0x20,
    /* 62 record attributes int8 = 0 */
    0x00,
    /* 63 timestampDelta varlong = 0 */
    0x00,
    /* 64 offsetDelta varint = 0 */
    0x00,
    /* 65 keyLength varint = 4 (zig-zag 8) */
    0x08,
    /* 66 key: version int16 = 0, type int16 = 1 (COMMIT) */
    0x00, 0x00, 0x00, 0x01,
    /* 70 valueLength varint = 6 (zig-zag 12) */
    0x0c,
    /* 71 value: version int16 = 0, coordinatorEpoch int32 = 7 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x07,
    /* 77 headerCount varint = 0 */
    0x00,
};
/* clang-format on */

/* The ABORT marker with the same inputs differs in byte 69 (type 0) and
 * the CRC, 0x80b0189c (computed the same independent way). */
static void golden_abort(uint8_t *out)
{
    memcpy(out, golden_commit, CL_CONTROL_BATCH_SIZE);
    out[69] = 0x00;
    cl_put_u32(out + 17, 0x80b0189cu);
}

static const char *errmsg(const struct cl_err *err)
{
    return err->msg;
}

/* Parse a heap copy of exactly len bytes of src (ASan sees overreads). */
static int parse_copy(const uint8_t *src, size_t len, struct cl_control *out,
                      struct cl_err *err)
{
    uint8_t *copy = malloc(len > 0 ? len : 1);
    int rc;

    assert_non_null(copy);
    if (len > 0) {
        memcpy(copy, src, len);
    }
    rc = cl_control_parse(copy, len, out, err);
    free(copy);
    return rc;
}

/* Recompute the CRC of a batch of total bytes after an edit. */
static void recrc(uint8_t *b, size_t total)
{
    cl_put_u32(b + CL_BATCH_OFF_CRC,
               cl_crc32c(0, b + CL_BATCH_OFF_ATTRIBUTES,
                         total - CL_BATCH_OFF_ATTRIBUTES));
}

/* Expect parse to refuse b with ECORRUPT and a message containing want. */
static void expect_corrupt(const uint8_t *b, size_t len, const char *want)
{
    struct cl_control c;
    struct cl_err err = {""};
    int rc = parse_copy(b, len, &c, &err);

    if (rc != CRAWLLOG_ECORRUPT || strstr(errmsg(&err), want) == NULL) {
        print_error("want ECORRUPT \"%s\", got %d \"%s\"\n", want, rc,
                    errmsg(&err));
    }
    assert_int_equal(rc, CRAWLLOG_ECORRUPT);
    assert_non_null(strstr(errmsg(&err), want));
    assert_non_null(strstr(errmsg(&err), "control batch: "));
}

static uint8_t *encode_ok(int64_t base, int64_t pid, int16_t epoch, int type,
                          int32_t ce, int64_t ts)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    struct cl_err err = {""};

    assert_int_equal(
        cl_control_encode(base, pid, epoch, type, ce, ts, &buf, &len, &err), 0);
    assert_non_null(buf);
    assert_int_equal(len, CL_CONTROL_BATCH_SIZE);
    return buf;
}

/* ====================================================================== */
/* Golden vectors and round trips                                          */
/* ====================================================================== */

static void test_control_golden_commit(void **state)
{
    uint8_t *b;
    struct cl_control c;
    struct cl_err err = {""};

    (void)state;
    /* The hand-written CRC is the CRC the library computes. */
    assert_int_equal(
        cl_get_u32(golden_commit + 17),
        cl_crc32c(0, golden_commit + 21, CL_CONTROL_BATCH_SIZE - 21));
    b = encode_ok(G_BASE_OFFSET, G_PID, G_EPOCH, CL_CONTROL_COMMIT,
                  G_COORD_EPOCH, G_TS);
    assert_memory_equal(b, golden_commit, CL_CONTROL_BATCH_SIZE);
    cl_io_free(b);

    assert_int_equal(
        cl_control_parse(golden_commit, sizeof(golden_commit), &c, &err), 0);
    assert_int_equal(c.base_offset, G_BASE_OFFSET);
    assert_int_equal(c.pid, G_PID);
    assert_int_equal(c.epoch, G_EPOCH);
    assert_int_equal(c.type, CL_CONTROL_COMMIT);
    assert_int_equal(c.coordinator_epoch, G_COORD_EPOCH);
    assert_int_equal(c.timestamp, G_TS);
}

static void test_control_golden_abort(void **state)
{
    uint8_t want[CL_CONTROL_BATCH_SIZE], *b;
    struct cl_control c;
    struct cl_err err = {""};

    (void)state;
    golden_abort(want);
    b = encode_ok(G_BASE_OFFSET, G_PID, G_EPOCH, CL_CONTROL_ABORT,
                  G_COORD_EPOCH, G_TS);
    assert_memory_equal(b, want, CL_CONTROL_BATCH_SIZE);
    cl_io_free(b);
    assert_int_equal(cl_control_parse(want, sizeof(want), &c, &err), 0);
    assert_int_equal(c.type, CL_CONTROL_ABORT);
}

static void test_control_roundtrip(void **state)
{
    static const struct {
        int64_t base, pid;
        int16_t epoch;
        int32_t ce;
        int64_t ts;
    } cases[] = {
        {0, 0, 0, 0, 0},
        {G_BASE_OFFSET, G_PID, G_EPOCH, G_COORD_EPOCH, G_TS},
        {INT64_MAX, INT64_MAX, INT16_MAX, INT32_MAX, INT64_MAX},
        {1, 2, 1, -1, 1},
        {123456789, 77, 0x7ffe, INT32_MIN, 4102444800000},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (int type = CL_CONTROL_ABORT; type <= CL_CONTROL_COMMIT; type++) {
            struct cl_control c;
            struct cl_err err = {""};
            uint8_t *b = encode_ok(cases[i].base, cases[i].pid, cases[i].epoch,
                                   type, cases[i].ce, cases[i].ts);
            int rc = parse_copy(b, CL_CONTROL_BATCH_SIZE, &c, &err);

            if (rc != 0) {
                print_error("case %zu type %d: %s\n", i, type, err.msg);
            }
            assert_int_equal(rc, 0);
            assert_int_equal(c.base_offset, cases[i].base);
            assert_int_equal(c.pid, cases[i].pid);
            assert_int_equal(c.epoch, cases[i].epoch);
            assert_int_equal(c.type, type);
            assert_int_equal(c.coordinator_epoch, cases[i].ce);
            assert_int_equal(c.timestamp, cases[i].ts);
            /* The base offset is patchable like any batch's. */
            cl_record_batch_set_base_offset(b, 5);
            assert_int_equal(
                cl_control_parse(b, CL_CONTROL_BATCH_SIZE, &c, &err), 0);
            assert_int_equal(c.base_offset, 5);
            cl_io_free(b);
        }
    }
}

/* record_read.c treats a marker as a valid one-record batch. */
static void test_control_record_layer_accepts(void **state)
{
    uint8_t *b = encode_ok(G_BASE_OFFSET, G_PID, G_EPOCH, CL_CONTROL_COMMIT,
                           G_COORD_EPOCH, G_TS);
    static const uint8_t key[4] = {0, 0, 0, 1};
    static const uint8_t value[6] = {0, 0, 0, 0, 0, 7};
    char why[200] = "unset";
    struct cl_batch_hdr h;
    struct cl_record_iter it;
    struct cl_record_view rv;

    (void)state;
    assert_int_equal(
        cl_record_batch_validate(b, CL_CONTROL_BATCH_SIZE, why, sizeof(why)),
        0);
    assert_string_equal(why, "");
    assert_int_equal(cl_record_batch_header(b, CL_CONTROL_BATCH_SIZE, &h), 0);
    assert_int_equal(h.attributes, 0x30);
    assert_int_equal(cl_record_batch_total(&h), CL_CONTROL_BATCH_SIZE);
    assert_int_equal(h.producer_id, G_PID);
    assert_int_equal(h.base_sequence, -1);
    assert_int_equal(cl_record_batch_check_crc(b, CL_CONTROL_BATCH_SIZE), 0);
    assert_int_equal(cl_record_iter_init(&it, b, CL_CONTROL_BATCH_SIZE), 0);
    assert_int_equal(cl_record_iter_next(&it, &rv), 0);
    assert_int_equal(rv.offset, G_BASE_OFFSET);
    assert_int_equal(rv.timestamp, G_TS);
    assert_int_equal(rv.key_len, 4);
    assert_memory_equal(rv.key, key, 4);
    assert_int_equal(rv.value_len, 6);
    assert_memory_equal(rv.value, value, 6);
    assert_int_equal(rv.header_count, 0);
    assert_int_equal(cl_record_iter_next(&it, &rv), 1); /* exactly one */
    cl_io_free(b);
}

static void test_control_attribute_helpers(void **state)
{
    (void)state;
    assert_int_equal(cl_control_is_control(0), 0);
    assert_int_equal(cl_control_is_transactional(0), 0);
    assert_int_equal(cl_control_is_control(0x10), 0);
    assert_int_equal(cl_control_is_transactional(0x10), 1);
    assert_int_equal(cl_control_is_control(0x20), 1);
    assert_int_equal(cl_control_is_transactional(0x20), 0);
    assert_int_equal(cl_control_is_control(0x30), 1);
    assert_int_equal(cl_control_is_transactional(0x30), 1);
    assert_int_equal(cl_control_is_control(0x0f), 0); /* codec + type */
    assert_int_equal(cl_control_is_control(0x40), 0); /* delete horizon */
    assert_int_equal(cl_control_is_control(-1), 1);   /* 0xffff */
    assert_int_equal(cl_control_is_transactional(-1), 1);
    assert_int_equal(cl_control_is_control((int16_t)0xffcf), 0);
    assert_int_equal(cl_control_is_transactional((int16_t)0xffef), 0);
}

/* ====================================================================== */
/* Damage: truncation and bit flips                                        */
/* ====================================================================== */

static void test_control_every_truncation_rejected(void **state)
{
    uint8_t longer[CL_CONTROL_BATCH_SIZE + 1];

    (void)state;
    for (size_t len = 0; len < CL_CONTROL_BATCH_SIZE; len++) {
        struct cl_control c = {0};
        struct cl_err err = {""};

        assert_int_equal(parse_copy(golden_commit, len, &c, &err),
                         CRAWLLOG_ECORRUPT);
        assert_true(err.msg[0] != '\0');
        assert_int_equal(c.pid, 0); /* *out untouched */
    }
    /* A byte too many (length field unchanged, or grown to match). */
    memcpy(longer, golden_commit, CL_CONTROL_BATCH_SIZE);
    longer[CL_CONTROL_BATCH_SIZE] = 0;
    expect_corrupt(longer, sizeof(longer), "is not the 79 bytes given");
    cl_put_i32(longer + CL_BATCH_OFF_BATCH_LENGTH, 67);
    recrc(longer, sizeof(longer));
    expect_corrupt(longer, sizeof(longer), "bytes after the last record");
}

static void test_control_every_bit_flip_rejected(void **state)
{
    uint8_t b[CL_CONTROL_BATCH_SIZE];
    size_t rejected = 0, base_changed = 0, crc_caught = 0;

    (void)state;
    for (size_t i = 0; i < CL_CONTROL_BATCH_SIZE; i++) {
        for (int bit = 0; bit < 8; bit++) {
            struct cl_control c;
            struct cl_err err = {""};
            int rc;

            memcpy(b, golden_commit, sizeof(b));
            b[i] ^= (uint8_t)(1u << bit);
            rc = parse_copy(b, sizeof(b), &c, &err);
            if (i < 8 && !(i == 0 && bit == 7)) {
                /* The base offset is outside every check but >= 0: the
                 * marker parses, with the damaged offset, which the caller
                 * compares with where it read the batch from. */
                assert_int_equal(rc, 0);
                assert_true(c.base_offset != G_BASE_OFFSET);
                assert_int_equal(
                    c.base_offset,
                    G_BASE_OFFSET ^
                        (int64_t)(UINT64_C(1) << ((7 - i) * 8 + (size_t)bit)));
                base_changed++;
                continue;
            }
            if (rc != CRAWLLOG_ECORRUPT) {
                print_error("byte %zu bit %d: rc %d\n", i, bit, rc);
            }
            assert_int_equal(rc, CRAWLLOG_ECORRUPT);
            rejected++;
            /* Which check caught it. */
            if (i < 8) {
                assert_non_null(strstr(err.msg, "base offset out of range"));
            } else if (i < 12) {
                assert_non_null(strstr(err.msg, "batch length"));
            } else if (i < 16) {
                assert_non_null(strstr(err.msg, "partitionLeaderEpoch"));
            } else if (i == 16) {
                assert_non_null(strstr(err.msg, "magic"));
            } else {
                /* The CRC covers it (a header check may speak first). */
                assert_int_equal(cl_record_batch_check_crc(b, sizeof(b)),
                                 CRAWLLOG_ECORRUPT);
                assert_true(strstr(err.msg, "CRC mismatch") != NULL ||
                            strstr(err.msg, "header: ") != NULL);
                crc_caught++;
            }
        }
    }
    assert_int_equal(base_changed, 63);
    assert_int_equal(crc_caught, (CL_CONTROL_BATCH_SIZE - 17) * 8);
    assert_int_equal(rejected, CL_CONTROL_BATCH_SIZE * 8 - 63);
}

/* ====================================================================== */
/* Well-formed batches (CRC right) that are not valid markers              */
/* ====================================================================== */

/* Encode recs with meta through record.c, base offset 42. */
static size_t encode_batch(uint8_t *buf, size_t cap,
                           const crawllog_record_t *recs, size_t n,
                           int16_t attributes)
{
    struct cl_batch_meta meta = {G_PID, G_EPOCH, -1, attributes};
    size_t len = cl_record_batch_encode(buf, cap, recs, n, G_TS, &meta);

    assert_true(len > 0);
    cl_record_batch_set_base_offset(buf, G_BASE_OFFSET);
    return len;
}

static void test_control_bad_attributes_refused(void **state)
{
    static const struct {
        uint16_t attr;
        const char *want;
    } cases[] = {
        {0x0000, "not a control batch"},
        {0x0010, "not a control batch"},
        {0x0020, "not transactional"},
        {0x0031, "bits other than 4 and 5"}, /* gzip (EVERSION in record) */
        {0x0034, "bits other than 4 and 5"},
        {0x0038, "bits other than 4 and 5"}, /* LogAppendTime */
        {0x0070, "bits other than 4 and 5"}, /* delete horizon */
        {0x8030, "bits other than 4 and 5"},
        {0xffff, "bits other than 4 and 5"},
    };
    uint8_t b[CL_CONTROL_BATCH_SIZE];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memcpy(b, golden_commit, sizeof(b));
        cl_put_u16(b + CL_BATCH_OFF_ATTRIBUTES, cases[i].attr);
        recrc(b, sizeof(b));
        expect_corrupt(b, sizeof(b), cases[i].want);
    }
}

static void test_control_bad_types_and_versions_refused(void **state)
{
    static const int16_t types[] = {2, 3, 6, -1, 0x100, INT16_MAX, INT16_MIN};
    static const int16_t versions[] = {1, -1, 0x100};
    uint8_t b[CL_CONTROL_BATCH_SIZE];
    char want[64];

    (void)state;
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        memcpy(b, golden_commit, sizeof(b));
        cl_put_i16(b + 68, types[i]);
        recrc(b, sizeof(b));
        snprintf(want, sizeof(want), "unknown control record type %d",
                 (int)types[i]);
        expect_corrupt(b, sizeof(b), want);
    }
    for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
        memcpy(b, golden_commit, sizeof(b));
        cl_put_i16(b + 66, versions[i]);
        recrc(b, sizeof(b));
        snprintf(want, sizeof(want), "key version %d,", (int)versions[i]);
        expect_corrupt(b, sizeof(b), want);

        memcpy(b, golden_commit, sizeof(b));
        cl_put_i16(b + 71, versions[i]);
        recrc(b, sizeof(b));
        snprintf(want, sizeof(want), "value version %d,", (int)versions[i]);
        expect_corrupt(b, sizeof(b), want);
    }
}

static void test_control_bad_header_fields_refused(void **state)
{
    uint8_t b[CL_CONTROL_BATCH_SIZE];

    (void)state;
    /* partitionLeaderEpoch: not covered by the CRC, checked by value. */
    memcpy(b, golden_commit, sizeof(b));
    cl_put_i32(b + CL_BATCH_OFF_LEADER_EPOCH, 0);
    expect_corrupt(b, sizeof(b), "partitionLeaderEpoch 0, expected -1");

    memcpy(b, golden_commit, sizeof(b));
    cl_put_i64(b + CL_BATCH_OFF_PRODUCER_ID, -1);
    recrc(b, sizeof(b));
    expect_corrupt(b, sizeof(b), "producerId -1");

    memcpy(b, golden_commit, sizeof(b));
    cl_put_i16(b + CL_BATCH_OFF_PRODUCER_EPOCH, -1);
    recrc(b, sizeof(b));
    expect_corrupt(b, sizeof(b), "epoch -1");

    memcpy(b, golden_commit, sizeof(b));
    cl_put_i32(b + CL_BATCH_OFF_BASE_SEQUENCE, 0);
    recrc(b, sizeof(b));
    expect_corrupt(b, sizeof(b), "baseSequence 0, expected -1");

    memcpy(b, golden_commit, sizeof(b));
    cl_put_i64(b + CL_BATCH_OFF_MAX_TIMESTAMP, G_TS + 1);
    recrc(b, sizeof(b));
    expect_corrupt(b, sizeof(b), "timestamps disagree");

    /* Base timestamp one lower, record delta still 0: record time moves
     * with it, max does not. */
    memcpy(b, golden_commit, sizeof(b));
    cl_put_i64(b + CL_BATCH_OFF_BASE_TIMESTAMP, G_TS - 1);
    recrc(b, sizeof(b));
    expect_corrupt(b, sizeof(b), "timestamps disagree");

    /* Record attributes byte: record.c accepts any value, the canonical
     * comparison does not. */
    memcpy(b, golden_commit, sizeof(b));
    b[62] = 0x01;
    recrc(b, sizeof(b));
    expect_corrupt(b, sizeof(b), "byte 62 is 0x01");

    /* Negative base offset (the one header value record.c checks). */
    memcpy(b, golden_commit, sizeof(b));
    cl_put_i64(b, -1);
    expect_corrupt(b, sizeof(b), "base offset out of range");
}

static void test_control_bad_records_refused(void **state)
{
    static const uint8_t key[5] = {0, 0, 0, 1, 0};
    static const uint8_t value[7] = {0, 0, 0, 0, 0, 7, 0};
    crawllog_header_t hdr = {"h", 1, "v", 1};
    crawllog_record_t ok = {key, 4, value, 6, G_TS, NULL, 0};
    crawllog_record_t two[2] = {ok, ok};
    crawllog_record_t r;
    uint8_t buf[256];
    size_t len;

    (void)state;
    /* The record.c encoding of the good record is the golden marker. */
    len = encode_batch(buf, sizeof(buf), &ok, 1, 0x30);
    assert_int_equal(len, CL_CONTROL_BATCH_SIZE);
    assert_memory_equal(buf, golden_commit, len);

    len = encode_batch(buf, sizeof(buf), two, 2, 0x30);
    expect_corrupt(buf, len, "record count 2, a marker has exactly 1");

    r = ok;
    r.key_len = 3;
    expect_corrupt(buf, encode_batch(buf, sizeof(buf), &r, 1, 0x30),
                   "key length 3, expected 4");
    r.key_len = 5;
    expect_corrupt(buf, encode_batch(buf, sizeof(buf), &r, 1, 0x30),
                   "key length 5, expected 4");
    r.key = NULL;
    expect_corrupt(buf, encode_batch(buf, sizeof(buf), &r, 1, 0x30),
                   "key length -1, expected 4");
    r = ok;
    r.value_len = 5;
    expect_corrupt(buf, encode_batch(buf, sizeof(buf), &r, 1, 0x30),
                   "value length 5, expected 6");
    r.value_len = 7;
    expect_corrupt(buf, encode_batch(buf, sizeof(buf), &r, 1, 0x30),
                   "value length 7, expected 6");
    r.value = NULL;
    expect_corrupt(buf, encode_batch(buf, sizeof(buf), &r, 1, 0x30),
                   "value length -1, expected 6");
    r = ok;
    r.headers = &hdr;
    r.header_count = 1;
    expect_corrupt(buf, encode_batch(buf, sizeof(buf), &r, 1, 0x30),
                   "1 headers, expected 0");
    /* A data batch carrying the same bytes is not a marker. */
    expect_corrupt(buf, encode_batch(buf, sizeof(buf), &ok, 1, 0x10),
                   "not a control batch");
}

/* ====================================================================== */
/* Encoder arguments                                                       */
/* ====================================================================== */

static void test_control_encode_invalid(void **state)
{
    unsigned char *buf = (unsigned char *)"untouched";
    unsigned char *const orig = buf;
    size_t len = 12345;
    struct cl_err err = {""};

    (void)state;
#define BAD(...)                                                               \
    do {                                                                       \
        err.msg[0] = '\0';                                                     \
        assert_int_equal(cl_control_encode(__VA_ARGS__, &err),                 \
                         CRAWLLOG_EINVAL);                                     \
        assert_true(err.msg[0] != '\0');                                       \
        assert_ptr_equal(buf, orig);                                           \
        assert_int_equal(len, 12345);                                          \
    } while (0)
    BAD(-1, G_PID, G_EPOCH, CL_CONTROL_COMMIT, 0, G_TS, &buf, &len);
    BAD(0, -1, G_EPOCH, CL_CONTROL_COMMIT, 0, G_TS, &buf, &len);
    BAD(0, G_PID, -1, CL_CONTROL_COMMIT, 0, G_TS, &buf, &len);
    BAD(0, G_PID, G_EPOCH, CL_CONTROL_COMMIT, 0, -1, &buf, &len);
    BAD(0, G_PID, G_EPOCH, 2, 0, G_TS, &buf, &len);
    BAD(0, G_PID, G_EPOCH, -1, 0, G_TS, &buf, &len);
    BAD(0, G_PID, G_EPOCH, CL_CONTROL_ABORT, 0, G_TS, NULL, &len);
    BAD(0, G_PID, G_EPOCH, CL_CONTROL_ABORT, 0, G_TS, &buf, NULL);
#undef BAD
    assert_int_equal(cl_control_parse(NULL, 78, NULL, &err), CRAWLLOG_EINVAL);
}

static void test_control_encode_enomem(void **state)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    struct cl_err err = {""};
    int rc;

    (void)state;
    assert_int_equal(cl_fp_set("malloc=ENOMEM"), 0);
    rc = cl_control_encode(0, G_PID, G_EPOCH, CL_CONTROL_COMMIT, 0, G_TS, &buf,
                           &len, &err);
    cl_fp_clear();
    assert_int_equal(rc, CRAWLLOG_ENOMEM);
    assert_null(buf);
    assert_non_null(strstr(err.msg, "out of memory"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_control_golden_commit),
        cmocka_unit_test(test_control_golden_abort),
        cmocka_unit_test(test_control_roundtrip),
        cmocka_unit_test(test_control_record_layer_accepts),
        cmocka_unit_test(test_control_attribute_helpers),
        cmocka_unit_test(test_control_every_truncation_rejected),
        cmocka_unit_test(test_control_every_bit_flip_rejected),
        cmocka_unit_test(test_control_bad_attributes_refused),
        cmocka_unit_test(test_control_bad_types_and_versions_refused),
        cmocka_unit_test(test_control_bad_header_fields_refused),
        cmocka_unit_test(test_control_bad_records_refused),
        cmocka_unit_test(test_control_encode_invalid),
        cmocka_unit_test(test_control_encode_enomem),
    };
    return cmocka_run_group_tests_name("control", tests, NULL, NULL);
}
