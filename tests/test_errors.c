/*
 * test_errors.c - error table, errno mapping and message helpers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "errors.h"

struct code_row {
    int code;
    const char *name; /* spelled from the X-macro, independently of errors.c */
};

static const struct code_row all_codes[] = {
#define ROW_(name, code, desc) {(code), "CRAWLLOG_" #name},
    CRAWLLOG_ERRORS(ROW_)
#undef ROW_
};

#define N_CODES (sizeof(all_codes) / sizeof(all_codes[0]))

static void test_errors_every_code_named_and_described(void **state)
{
    (void)state;
    assert_int_equal(N_CODES, 25);
    for (size_t i = 0; i < N_CODES; i++) {
        const char *name = crawllog_err_name(all_codes[i].code);
        const char *desc = crawllog_strerror(all_codes[i].code);
        assert_non_null(name);
        assert_non_null(desc);
        assert_string_equal(name, all_codes[i].name);
        assert_true(strlen(desc) > 0);
        assert_string_not_equal(desc, "unknown error");
        /* Codes are 0, -1, -2, ... in table order with no gaps. */
        assert_int_equal(all_codes[i].code, -(int)i);
    }
    assert_string_equal(crawllog_err_name(CRAWLLOG_OK), "CRAWLLOG_OK");
    assert_string_equal(crawllog_err_name(CRAWLLOG_EIO), "CRAWLLOG_EIO");
    assert_string_equal(crawllog_strerror(CRAWLLOG_EIO),
                        "input/output error");
    assert_string_equal(crawllog_strerror(CRAWLLOG_OK), "success");
}

static void test_errors_names_and_descriptions_unique(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_CODES; i++) {
        for (size_t j = i + 1; j < N_CODES; j++) {
            int a = all_codes[i].code;
            int b = all_codes[j].code;
            assert_int_not_equal(a, b);
            assert_string_not_equal(crawllog_err_name(a),
                                    crawllog_err_name(b));
            assert_string_not_equal(crawllog_strerror(a),
                                    crawllog_strerror(b));
        }
    }
}

static void test_errors_unknown_codes(void **state)
{
    (void)state;
    const int unknown[] = {1, 2, 100, -25, CRAWLLOG_ERR_END_, -26, -1000,
                           INT32_MAX, INT32_MIN};
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        assert_string_equal(crawllog_strerror(unknown[i]), "unknown error");
        assert_string_equal(crawllog_err_name(unknown[i]),
                            "CRAWLLOG_EUNKNOWN");
    }
}

static void test_errors_version(void **state)
{
    (void)state;
    assert_int_equal(crawllog_version(), CRAWLLOG_VERSION_NUMBER);
    assert_int_equal(crawllog_version(),
                     CRAWLLOG_VERSION_MAJOR * 10000 +
                         CRAWLLOG_VERSION_MINOR * 100 +
                         CRAWLLOG_VERSION_PATCH);
    char want[32];
    snprintf(want, sizeof(want), "%d.%d.%d", CRAWLLOG_VERSION_MAJOR,
             CRAWLLOG_VERSION_MINOR, CRAWLLOG_VERSION_PATCH);
    assert_string_equal(crawllog_version_str(), want);
}

static void test_errors_errno_mapping(void **state)
{
    (void)state;
    static const struct {
        int errnum;
        int code;
    } map[] = {
        {EIO, CRAWLLOG_EIO},          {ENOSPC, CRAWLLOG_ENOSPC},
        {EDQUOT, CRAWLLOG_ENOSPC},    {EFBIG, CRAWLLOG_ENOSPC},
        {EACCES, CRAWLLOG_EPERM},     {EPERM, CRAWLLOG_EPERM},
        {EROFS, CRAWLLOG_EPERM},      {ENOMEM, CRAWLLOG_ENOMEM},
        {ELOOP, CRAWLLOG_ELOOP},      {ENOENT, CRAWLLOG_ENOENT},
        {EEXIST, CRAWLLOG_EEXIST},    {ENOTEMPTY, CRAWLLOG_EEXIST},
        {EMFILE, CRAWLLOG_EMFILE},    {ENFILE, CRAWLLOG_EMFILE},
        {EWOULDBLOCK, CRAWLLOG_EBUSY}, {EAGAIN, CRAWLLOG_EBUSY},
        {EINVAL, CRAWLLOG_EINVAL},    {EBADF, CRAWLLOG_EIO},
        {EXDEV, CRAWLLOG_EIO},        {0, CRAWLLOG_EIO},
        {99999, CRAWLLOG_EIO},        {-5, CRAWLLOG_EIO},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        int got = cl_err_from_errno(map[i].errnum);
        if (got != map[i].code) {
            fail_msg("errno %d: got %s, want %s", map[i].errnum,
                     crawllog_err_name(got), crawllog_err_name(map[i].code));
        }
    }
}

static void test_errors_errf_formats_and_returns(void **state)
{
    (void)state;
    struct cl_err err = {{0}};
    int rc = cl_errf(&err, CRAWLLOG_ECORRUPT, "%s: byte %d: %s", "a.log", 42,
                     "CRC mismatch");
    assert_int_equal(rc, CRAWLLOG_ECORRUPT);
    assert_string_equal(err.msg, "a.log: byte 42: CRC mismatch");
    assert_int_equal(cl_errf(NULL, CRAWLLOG_EINVAL, "x %d", 1),
                     CRAWLLOG_EINVAL);
}

static void test_errors_errf_truncates_long_message(void **state)
{
    (void)state;
    char big[2001];
    for (size_t i = 0; i < 2000; i++) {
        big[i] = (char)('a' + (char)(i % 26));
    }
    big[2000] = '\0';
    struct cl_err err;
    memset(&err, 'Z', sizeof(err));
    assert_int_equal(cl_errf(&err, CRAWLLOG_EIO, "<%s>", big), CRAWLLOG_EIO);
    assert_int_equal(strlen(err.msg), CL_ERRMSG_SIZE - 1);
    assert_int_equal(err.msg[0], '<');
    assert_memory_equal(err.msg + 1, big, CL_ERRMSG_SIZE - 2);
}

static void test_errors_sys_message(void **state)
{
    (void)state;
    struct cl_err err = {{0}};
    int rc = cl_err_sys(&err, ENOENT, "topics/t/0/x.log", "open");
    assert_int_equal(rc, CRAWLLOG_ENOENT);
    const char *prefix = "topics/t/0/x.log: open: ";
    assert_memory_equal(err.msg, prefix, strlen(prefix));
    /* The tail is the C library's text for ENOENT (read once, here). */
    char want[256];
    snprintf(want, sizeof(want), "%s%s", prefix, strerror(ENOENT));
    assert_string_equal(err.msg, want);

    rc = cl_err_sys(&err, EIO, "d/00000000000000004096.log", "fdatasync");
    assert_int_equal(rc, CRAWLLOG_EIO);
    snprintf(want, sizeof(want), "d/00000000000000004096.log: fdatasync: %s",
             strerror(EIO));
    assert_string_equal(err.msg, want);

    /* No path: "op: text". */
    rc = cl_err_sys(&err, ENOSPC, NULL, "write");
    assert_int_equal(rc, CRAWLLOG_ENOSPC);
    snprintf(want, sizeof(want), "write: %s", strerror(ENOSPC));
    assert_string_equal(err.msg, want);

    /* An errno the C library does not know still gives a message. */
    rc = cl_err_sys(&err, 99999, "p", "op");
    assert_int_equal(rc, CRAWLLOG_EIO);
    assert_memory_equal(err.msg, "p: op: ", 7);
    assert_true(strlen(err.msg) > 7);

    assert_int_equal(cl_err_sys(NULL, EACCES, "p", "op"), CRAWLLOG_EPERM);
}

static void test_errors_sys_truncates_long_path(void **state)
{
    (void)state;
    char path[1500];
    memset(path, 'p', sizeof(path) - 1);
    path[sizeof(path) - 1] = '\0';
    struct cl_err err;
    memset(&err, 'Z', sizeof(err));
    assert_int_equal(cl_err_sys(&err, EIO, path, "pwrite"), CRAWLLOG_EIO);
    assert_int_equal(strlen(err.msg), CL_ERRMSG_SIZE - 1);
}

static void test_errors_copy_sizes(void **state)
{
    (void)state;
    char buf[8];

    memset(buf, 'Z', sizeof(buf));
    cl_err_copy(buf, 0, "hello");
    for (size_t i = 0; i < sizeof(buf); i++) {
        assert_int_equal(buf[i], 'Z');
    }

    cl_err_copy(buf, 1, "hello");
    assert_int_equal(buf[0], '\0');
    assert_int_equal(buf[1], 'Z');

    memset(buf, 'Z', sizeof(buf));
    cl_err_copy(buf, 4, "hello");
    assert_string_equal(buf, "hel");
    assert_int_equal(buf[4], 'Z');

    memset(buf, 'Z', sizeof(buf));
    cl_err_copy(buf, sizeof(buf), "hello");
    assert_string_equal(buf, "hello");

    memset(buf, 'Z', sizeof(buf));
    cl_err_copy(buf, 6, "hello"); /* exactly fits with its NUL */
    assert_string_equal(buf, "hello");

    memset(buf, 'Z', sizeof(buf));
    cl_err_copy(buf, sizeof(buf), "");
    assert_string_equal(buf, "");

    cl_err_copy(NULL, 10, "hello"); /* must not crash */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors_every_code_named_and_described),
        cmocka_unit_test(test_errors_names_and_descriptions_unique),
        cmocka_unit_test(test_errors_unknown_codes),
        cmocka_unit_test(test_errors_version),
        cmocka_unit_test(test_errors_errno_mapping),
        cmocka_unit_test(test_errors_errf_formats_and_returns),
        cmocka_unit_test(test_errors_errf_truncates_long_message),
        cmocka_unit_test(test_errors_sys_message),
        cmocka_unit_test(test_errors_sys_truncates_long_path),
        cmocka_unit_test(test_errors_copy_sizes),
    };
    return cmocka_run_group_tests_name("errors", tests, NULL, NULL);
}
