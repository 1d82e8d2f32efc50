/*
 * test_names.c - topic name validation, segment and partition file names.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "crawllog.h"
#include "names.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---------------------------------------------------------------------- */
/* Topic names                                                             */
/* ---------------------------------------------------------------------- */

static const char *const hostile_topics[] = {
    "",
    ".",
    "..",
    "../x",
    "../../etc/passwd",
    "..\\x",
    "a/b",
    "a/",
    "/a",
    "/abs",
    "/",
    "//",
    "./a",
    "a/..",
    "a/../b",
    "%2e%2e",
    "%2e%2e%2fetc",
    "a%2fb",
    " ",
    " a",
    "a ",
    "a b",
    "\t",
    "a\tb",
    "a\nb",
    "\n",
    "a\rb",
    "a\vb",
    "a\fb",
    "\x01",
    "a\x1b[31m",
    "\x7f",
    "a\\b",
    "\\",
    "C:\\x",
    "a:b",
    ":",
    "a*",
    "*",
    "a?",
    "?",
    "a\"b",
    "a'b",
    "a`b",
    "$HOME",
    "a$b",
    "a;b",
    "a|b",
    "a&b",
    "a>b",
    "a<b",
    "a(b)",
    "a[b]",
    "a{b}",
    "a!b",
    "a#b",
    "a@b",
    "a=b",
    "a+b",
    "a,b",
    "~",
    "~root",
    "a~b",
    "a^b",
    "a%b",
    "caf\xc3\xa9",               /* UTF-8 e-acute */
    "\xe2\x80\x8b",              /* zero-width space */
    "a\xe2\x80\xae\x62",          /* right-to-left override, "b" */
    "\xef\xbc\x8e\xef\xbc\x8e",  /* fullwidth full stops */
    "\xc0\xae\xc0\xae",          /* overlong UTF-8 ".." */
    "\xc0\xaf",                  /* overlong UTF-8 "/" */
    "\xe0\x80\xae",              /* 3-byte overlong "." */
    "\xc0\x80",                  /* overlong NUL */
    "\xff",
    "\x80",
    "a\xfe",
    "\xd0\xb0",                  /* Cyrillic a */
};

static void test_names_hostile_topics_rejected(void **state)
{
    (void)state;
    assert_true(ARRAY_LEN(hostile_topics) >= 60);
    for (size_t i = 0; i < ARRAY_LEN(hostile_topics); i++) {
        if (cl_names_topic_valid(hostile_topics[i]) != 0) {
            fail_msg("hostile topic #%zu accepted", i);
        }
    }
    assert_int_equal(cl_names_topic_valid(NULL), 0);
}

static void test_names_embedded_nul_is_end_of_name(void **state)
{
    (void)state;
    /* A C string ends at the NUL: "a\0b" is the topic "a". */
    static const char with_nul[] = "a\0b";
    assert_int_equal(cl_names_topic_valid(with_nul), 1);
    static const char slash_after_nul[] = "a\0/../../x";
    assert_int_equal(cl_names_topic_valid(slash_after_nul), 1);
    static const char nul_first[] = "\0abc";
    assert_int_equal(cl_names_topic_valid(nul_first), 0);
}

static void test_names_length_limit(void **state)
{
    (void)state;
    char name[300];
    memset(name, 'x', sizeof(name));
    name[CRAWLLOG_TOPIC_NAME_MAX] = '\0'; /* 249 chars */
    assert_int_equal(strlen(name), 249);
    assert_int_equal(cl_names_topic_valid(name), 1);

    name[CRAWLLOG_TOPIC_NAME_MAX] = 'x';
    name[CRAWLLOG_TOPIC_NAME_MAX + 1] = '\0'; /* 250 chars */
    assert_int_equal(cl_names_topic_valid(name), 0);

    name[CRAWLLOG_TOPIC_NAME_MAX + 1] = 'x';
    name[sizeof(name) - 1] = '\0'; /* 299 chars */
    assert_int_equal(cl_names_topic_valid(name), 0);

    /* 249 dots is a valid (if odd) name, 250 is not. */
    memset(name, '.', sizeof(name));
    name[249] = '\0';
    assert_int_equal(cl_names_topic_valid(name), 1);
    name[249] = '.';
    name[250] = '\0';
    assert_int_equal(cl_names_topic_valid(name), 0);
}

static void test_names_valid_topics_accepted(void **state)
{
    (void)state;
    static const char *const ok[] = {
        "a",  "Z",        "0",      "_",         "-",         "-lead",
        "...", "a.b_c-d", "crawl",  "crawl.dlq", "urls-2024", "A_B.C-d9",
        ".hidden", "trailing.", "..a", "a..", "___", "0123456789",
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-",
    };
    for (size_t i = 0; i < ARRAY_LEN(ok); i++) {
        if (cl_names_topic_valid(ok[i]) != 1) {
            fail_msg("valid topic \"%s\" rejected", ok[i]);
        }
    }
}

static void test_names_every_byte(void **state)
{
    (void)state;
    /* Exactly 26 + 26 + 10 + 3 single bytes are allowed in a name. */
    int allowed = 0;
    for (int c = 1; c < 256; c++) {
        char name[4] = {'x', (char)c, 'x', '\0'};
        int ok = cl_names_topic_valid(name);
        int want = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                   (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        if (ok != want) {
            fail_msg("byte 0x%02x: got %d want %d", c, ok, want);
        }
        allowed += ok;
    }
    assert_int_equal(allowed, 65);
}

/* ---------------------------------------------------------------------- */
/* Segment names                                                           */
/* ---------------------------------------------------------------------- */

static void test_names_segment_format(void **state)
{
    (void)state;
    char buf[64];
    assert_int_equal(cl_names_segment(buf, sizeof(buf), 0, ".log"), 0);
    assert_string_equal(buf, "00000000000000000000.log");
    assert_int_equal(cl_names_segment(buf, sizeof(buf), 4096, ".index"), 0);
    assert_string_equal(buf, "00000000000000004096.index");
    assert_int_equal(
        cl_names_segment(buf, sizeof(buf), INT64_MAX, ".timeindex"), 0);
    assert_string_equal(buf, "09223372036854775807.timeindex");
    assert_int_equal(cl_names_segment(buf, sizeof(buf), 7, NULL), 0);
    assert_string_equal(buf, "00000000000000000007");
    assert_int_equal(cl_names_segment(buf, sizeof(buf), 7, ".log.tmp"), 0);
    assert_string_equal(buf, "00000000000000000007.log.tmp");
}

static void test_names_segment_rejects(void **state)
{
    (void)state;
    char buf[64];
    memset(buf, 'Z', sizeof(buf));
    assert_int_equal(cl_names_segment(buf, sizeof(buf), -1, ".log"), -1);
    assert_string_equal(buf, "");
    assert_int_equal(cl_names_segment(buf, sizeof(buf), INT64_MIN, ".log"),
                     -1);
    assert_int_equal(cl_names_segment(buf, sizeof(buf), 1, "/../x"), -1);

    /* Exactly fitting and one byte short. */
    assert_int_equal(cl_names_segment(buf, 25, 1, ".log"), 0);
    assert_string_equal(buf, "00000000000000000001.log");
    memset(buf, 'Z', sizeof(buf));
    assert_int_equal(cl_names_segment(buf, 24, 1, ".log"), -1);
    assert_string_equal(buf, "");
    assert_int_equal(buf[24], 'Z');
    assert_int_equal(cl_names_segment(buf, 1, 1, ".log"), -1);
    assert_int_equal(buf[0], '\0');
    buf[0] = 'Z';
    assert_int_equal(cl_names_segment(buf, 0, 1, ".log"), -1);
    assert_int_equal(buf[0], 'Z');
    assert_int_equal(cl_names_segment(NULL, 10, 1, ".log"), -1);

    /* The advertised maximum is enough for every suffix. */
    char small[CL_NAMES_SEGMENT_MAX];
    assert_int_equal(cl_names_segment(small, sizeof(small), INT64_MAX,
                                      CL_NAMES_TIMEINDEX),
                     0);
}

static void test_names_segment_round_trip(void **state)
{
    (void)state;
    static const int64_t offsets[] = {0,           1,         9,
                                      10,          4095,      4096,
                                      123456789,   1LL << 31, 1LL << 32,
                                      999999999999LL, INT64_MAX - 1,
                                      INT64_MAX};
    static const char *const sfx[] = {CL_NAMES_LOG, CL_NAMES_INDEX,
                                      CL_NAMES_TIMEINDEX};
    for (size_t i = 0; i < ARRAY_LEN(offsets); i++) {
        for (size_t j = 0; j < ARRAY_LEN(sfx); j++) {
            char buf[CL_NAMES_SEGMENT_MAX];
            assert_int_equal(
                cl_names_segment(buf, sizeof(buf), offsets[i], sfx[j]), 0);
            assert_int_equal(strlen(buf), 20 + strlen(sfx[j]));
            int64_t base = -5;
            const char *suffix = NULL;
            assert_int_equal(cl_names_parse_segment(buf, &base, &suffix), 0);
            assert_true(base == offsets[i]);
            assert_string_equal(suffix, sfx[j]);
            assert_ptr_equal(suffix, buf + 20);
        }
    }
    /* Outputs are optional. */
    assert_int_equal(
        cl_names_parse_segment("00000000000000000001.log", NULL, NULL), 0);
}

static void test_names_parse_segment_rejects(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        ".log",
        "0.log",
        "0000000000000000000.log",    /* 19 digits */
        "000000000000000000000.log",  /* 21 digits */
        "00000000000000000000",       /* no suffix */
        "00000000000000000000.",
        "00000000000000000000.lo",
        "00000000000000000000.logx",
        "00000000000000000000.log.deleted",
        "00000000000000000000.log.tmp",
        "00000000000000000000.LOG",
        "00000000000000000000.txt",
        "00000000000000000000.snapshot",
        "00000000000000000000 .log",
        "-0000000000000000001.log",
        "+0000000000000000001.log",
        " 0000000000000000001.log",
        "0000000000000000000a.log",
        "000000000000000000x0.index",
        "09223372036854775808.log",   /* INT64_MAX + 1 */
        "18446744073709551615.log",   /* UINT64_MAX */
        "18446744073709551616.log",   /* UINT64_MAX + 1 */
        "99999999999999999999.log",
        "99999999999999999999.timeindex",
        "00000000000000000000.log/",
        "00000000000000000000.index\n",
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        int64_t base = 77;
        const char *suffix = "untouched";
        if (cl_names_parse_segment(bad[i], &base, &suffix) != -1) {
            fail_msg("accepted bad segment name \"%s\"", bad[i]);
        }
        assert_true(base == 77);
        assert_string_equal(suffix, "untouched");
    }
    assert_int_equal(cl_names_parse_segment(NULL, NULL, NULL), -1);

    int64_t base = 0;
    assert_int_equal(
        cl_names_parse_segment("09223372036854775807.index", &base, NULL), 0);
    assert_true(base == INT64_MAX);
}

/* ---------------------------------------------------------------------- */
/* Partition names                                                         */
/* ---------------------------------------------------------------------- */

static void test_names_partition_round_trip(void **state)
{
    (void)state;
    for (int32_t p = 0; p < CRAWLLOG_PARTITIONS_MAX; p++) {
        char buf[16];
        char want[16];
        snprintf(want, sizeof(want), "%d", (int)p);
        assert_int_equal(cl_names_partition(buf, sizeof(buf), p), 0);
        assert_string_equal(buf, want);
        int32_t back = -1;
        assert_int_equal(cl_names_parse_partition(buf, &back), 0);
        assert_int_equal(back, p);
    }
}

static void test_names_partition_rejects(void **state)
{
    (void)state;
    char buf[16];
    memset(buf, 'Z', sizeof(buf));
    assert_int_equal(cl_names_partition(buf, sizeof(buf), -1), -1);
    assert_string_equal(buf, "");
    assert_int_equal(cl_names_partition(buf, sizeof(buf), 10000), -1);
    assert_int_equal(cl_names_partition(buf, sizeof(buf), INT32_MAX), -1);
    assert_int_equal(cl_names_partition(buf, sizeof(buf), INT32_MIN), -1);
    assert_int_equal(cl_names_partition(buf, 5, 9999), 0);
    assert_string_equal(buf, "9999");
    assert_int_equal(cl_names_partition(buf, 4, 9999), -1);
    assert_string_equal(buf, "");
    assert_int_equal(cl_names_partition(buf, 0, 1), -1);
    assert_int_equal(cl_names_partition(NULL, 8, 1), -1);

    static const char *const bad[] = {
        "",      "00",    "01",    "007",   "-1",    "+1",    "-0",
        " 1",    "1 ",    "1\n",   "10000", "99999", "2147483648",
        "1a",    "a",     "0x1",   "1e3",   "1.0",   ".",     "..",
        "1/",    "/1",    "\xd9\xa1", /* Arabic-Indic digit one */
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        int32_t p = 1234;
        if (cl_names_parse_partition(bad[i], &p) != -1) {
            fail_msg("accepted bad partition name \"%s\"", bad[i]);
        }
        assert_int_equal(p, 1234);
    }
    assert_int_equal(cl_names_parse_partition(NULL, NULL), -1);
    int32_t p = -1;
    assert_int_equal(cl_names_parse_partition("0", &p), 0);
    assert_int_equal(p, 0);
    assert_int_equal(cl_names_parse_partition("9999", &p), 0);
    assert_int_equal(p, 9999);
    assert_int_equal(cl_names_parse_partition("10", NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_hostile_topics_rejected),
        cmocka_unit_test(test_names_embedded_nul_is_end_of_name),
        cmocka_unit_test(test_names_length_limit),
        cmocka_unit_test(test_names_valid_topics_accepted),
        cmocka_unit_test(test_names_every_byte),
        cmocka_unit_test(test_names_segment_format),
        cmocka_unit_test(test_names_segment_rejects),
        cmocka_unit_test(test_names_segment_round_trip),
        cmocka_unit_test(test_names_parse_segment_rejects),
        cmocka_unit_test(test_names_partition_round_trip),
        cmocka_unit_test(test_names_partition_rejects),
    };
    return cmocka_run_group_tests_name("names", tests, NULL, NULL);
}
