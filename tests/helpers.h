/*
 * helpers.h - shared helpers for the cmocka test programs.
 *
 * Linked into every tests/test_*.c program (tests/helpers.c).  Provides:
 *  - a fresh temporary directory per test or group (cmocka setup/teardown);
 *  - assertion macros that print a library code's name and description
 *    (and the handle's errmsg);
 *  - directory snapshots, to prove that a failed call changed nothing;
 *  - fork helpers, file helpers (write/read/size/flip a byte/truncate);
 *  - a seeded PRNG whose seed is printed and can be replayed with SEED=N.
 *
 * Failures inside a helper (a file that cannot be written, ...) fail the
 * running test with a message naming the path and the errno text.
 *
 * Forked children: cmocka's own assert_*() must not be used in a child made
 * by cl_test_fork_run() (a failing one would make the child carry on running
 * the rest of the test program).  Every macro and function of this header
 * is safe there instead: in a child a failure prints its message and ends
 * the child with _exit(CL_TEST_CHILD_FAILED), which the parent sees in the
 * status cl_test_fork_run() returns.  Use cl_test_check(cond) in children.
 *
 * Output: stdout is made line-buffered when the program starts, so that
 * cmocka's stdout and stderr lines keep their order in a pipe.
 */
#ifndef CL_TEST_HELPERS_H
#define CL_TEST_HELPERS_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/types.h>

#include "crawllog.h"

/* Directory where the golden vectors live (relative to the repo root, which
 * is where tests/run_tests.sh runs the programs). */
#ifndef VECTORS_DIR
#define VECTORS_DIR "tests/vectors"
#endif

/* ---------------------------------------------------------------------- */
/* Failure reporting                                                       */
/* ---------------------------------------------------------------------- */

/* Exit status of a forked child in which a helper or check failed. */
#define CL_TEST_CHILD_FAILED 99

/* Fail the running test at file:line (in a forked child: _exit(99)). */
_Noreturn void cl_test_fail_at(const char *file, int line);

/* Print a message (cmocka's print_error, with a newline added) and fail
 * at file:line. */
_Noreturn void cl_test_failf_at(const char *file, int line, const char *fmt,
                                ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Non-zero in a child made by cl_test_fork_run(). */
int cl_test_in_child(void);

/* Like assert_true(cond), but also safe in a forked child. */
#define cl_test_check(cond)                                                    \
    do {                                                                       \
        if (!(cond)) {                                                         \
            cl_test_failf_at(__FILE__, __LINE__, "check failed: %s", #cond);   \
        }                                                                      \
    } while (0)

/* expr (an int library return code) must be CRAWLLOG_OK. */
#define assert_crawllog_ok(expr)                                               \
    do {                                                                       \
        int cl_test_ok_rc_ = (expr);                                           \
        if (cl_test_ok_rc_ != 0) {                                             \
            cl_test_failf_at(__FILE__, __LINE__, "%s returned %d %s (%s)",     \
                             #expr, cl_test_ok_rc_,                            \
                             crawllog_err_name(cl_test_ok_rc_),                \
                             crawllog_strerror(cl_test_ok_rc_));               \
        }                                                                      \
    } while (0)

/* Same, and on failure also prints crawllog_errmsg(log). */
#define assert_crawllog_ok_log(log, expr)                                      \
    do {                                                                       \
        int cl_test_okl_rc_ = (expr);                                          \
        if (cl_test_okl_rc_ != 0) {                                            \
            cl_test_failf_at(                                                  \
                __FILE__, __LINE__, "%s returned %d %s (%s): errmsg \"%s\"",   \
                #expr, cl_test_okl_rc_, crawllog_err_name(cl_test_okl_rc_),    \
                crawllog_strerror(cl_test_okl_rc_), crawllog_errmsg(log));     \
        }                                                                      \
    } while (0)

/* expr must return exactly expected (a CRAWLLOG_* code). */
#define assert_crawllog_rc(expr, expected)                                     \
    do {                                                                       \
        int cl_test_rc_got_ = (expr);                                          \
        int cl_test_rc_want_ = (expected);                                     \
        if (cl_test_rc_got_ != cl_test_rc_want_) {                             \
            cl_test_failf_at(                                                  \
                __FILE__, __LINE__, "%s returned %d %s (%s), expected %d %s",  \
                #expr, cl_test_rc_got_, crawllog_err_name(cl_test_rc_got_),    \
                crawllog_strerror(cl_test_rc_got_), cl_test_rc_want_,          \
                crawllog_err_name(cl_test_rc_want_));                          \
        }                                                                      \
    } while (0)

/* Same, and on failure also prints crawllog_errmsg(log). */
#define assert_crawllog_rc_log(log, expr, expected)                            \
    do {                                                                       \
        int cl_test_rcl_got_ = (expr);                                         \
        int cl_test_rcl_want_ = (expected);                                    \
        if (cl_test_rcl_got_ != cl_test_rcl_want_) {                           \
            cl_test_failf_at(                                                  \
                __FILE__, __LINE__,                                            \
                "%s returned %d %s, expected %d %s: errmsg "                   \
                "\"%s\"",                                                      \
                #expr, cl_test_rcl_got_, crawllog_err_name(cl_test_rcl_got_),  \
                cl_test_rcl_want_, crawllog_err_name(cl_test_rcl_want_),       \
                crawllog_errmsg(log));                                         \
        }                                                                      \
    } while (0)

/* ---------------------------------------------------------------------- */
/* Temporary directories                                                   */
/* ---------------------------------------------------------------------- */

struct cl_test_dir {
    char path[4096]; /* absolute or $TMPDIR-relative, no trailing '/' */
};

/*
 * cmocka setup: create "$TMPDIR/crawllog-test-XXXXXX" (or under /tmp) with
 * mkdtemp (mode 0700) and make *state a malloc'd struct cl_test_dir.
 * Usable as a test setup or a group setup.  Returns -1 on failure.
 */
int cl_test_tmpdir_setup(void **state);

/*
 * cmocka teardown: remove the directory recursively (after making every
 * directory in it writable and searchable again) and free the struct.  With
 * the environment variable CL_TEST_KEEP set the directory is kept and its
 * path printed.
 */
int cl_test_tmpdir_teardown(void **state);

/* The path of the directory of a test that uses the setup above. */
#define CL_TEST_DIR(state) (((const struct cl_test_dir *)*(state))->path)

/* Remove path and everything below it; symbolic links are removed, never
 * followed.  A missing path is fine.  Problems are printed, not fatal.
 * Not thread-safe (nftw). */
void cl_test_rmrf(const char *path);

/* snprintf "dir/rel" into buf (fails the test if it does not fit) and
 * return buf. */
char *cl_test_path(char *buf, size_t size, const char *dir, const char *rel);

/* ---------------------------------------------------------------------- */
/* Directory snapshots                                                     */
/* ---------------------------------------------------------------------- */

/*
 * Record dir and every entry below it, without following symbolic links:
 * relative path ("." for dir itself), file type, permission bits, size
 * (regular files and links), link count (regular files), mtime in ns, and an
 * FNV-1a 64 hash of the content (regular files) or link target (symbolic
 * links).  Directory sizes are not recorded.  A missing dir gives an empty
 * snapshot.  Other errors fail the test.  Free with cl_test_snap_free().
 */
struct cl_test_snap *cl_test_snap_take(const char *dir);

/*
 * 1 if a and b record the same entries with the same attributes, else 0;
 * then diff (if not NULL) receives lines such as "added: x/y",
 * "removed: z", "changed: a (size 10 -> 12, content)".
 */
int cl_test_snap_equal(const struct cl_test_snap *a,
                       const struct cl_test_snap *b, char *diff, size_t diffsz);

/* Number of entries recorded (including "." when dir existed). */
size_t cl_test_snap_count(const struct cl_test_snap *snap);

/* NULL is fine. */
void cl_test_snap_free(struct cl_test_snap *snap);

/* Fail unless the two snapshots are equal, printing the differences. */
#define assert_snap_equal(a, b)                                                \
    do {                                                                       \
        char cl_test_snap_diff_[4096];                                         \
        if (!cl_test_snap_equal((a), (b), cl_test_snap_diff_,                  \
                                sizeof(cl_test_snap_diff_))) {                 \
            cl_test_failf_at(__FILE__, __LINE__,                               \
                             "directory snapshots differ:\n%s",                \
                             cl_test_snap_diff_);                              \
        }                                                                      \
    } while (0)

/* ---------------------------------------------------------------------- */
/* Processes                                                               */
/* ---------------------------------------------------------------------- */

/*
 * fork(); the child runs fn(arg) and then _exit(0) (so no atexit handler
 * and no cmocka summary runs in it).  The parent waits and returns the
 * child's raw wait status.  stdout and stderr are flushed before the fork.
 */
int cl_test_fork_run(void (*fn)(void *), void *arg);

/* Fail unless status (from waitpid) is a normal exit with code 0. */
void cl_test_assert_exit_ok(int status);

/* Fail unless status is death by signal sig. */
void cl_test_assert_killed_by(int status, int sig);

/* ---------------------------------------------------------------------- */
/* Files                                                                   */
/* ---------------------------------------------------------------------- */

/* Create or replace path (mode 0600) with exactly len bytes of buf. */
void cl_test_write_file(const char *path, const void *buf, size_t len);

/* Size of a file (lstat: a symbolic link's own size). */
size_t cl_test_file_size(const char *path);

/* Whole content, malloc'd (free() it) with one extra NUL byte after the
 * end; *lenp (optional) gets the length. */
void *cl_test_read_file(const char *path, size_t *lenp);

/* XOR the byte at pos (< file size) with xor_mask, in place. */
void cl_test_flip_byte(const char *path, off_t pos, unsigned char xor_mask);

/* truncate(2) path to len bytes (longer: zero-filled). */
void cl_test_truncate(const char *path, off_t len);

/* 1 if path exists (lstat), else 0. */
int cl_test_exists(const char *path);

/* ---------------------------------------------------------------------- */
/* Seeded randomness                                                       */
/* ---------------------------------------------------------------------- */

/*
 * The program's seed: the environment variable SEED (decimal or 0x hex) or,
 * if unset, one taken from the clock and the pid.  The first call prints
 * "seed=N" on stdout; every call returns the same value.
 */
uint64_t cl_test_seed(void);
#define CL_TEST_SEED (cl_test_seed())

/* xorshift64*: advance *s and return the next value (a zero state is
 * replaced by a fixed non-zero one). */
uint64_t cl_test_rand(uint64_t *s);

/* Uniform-enough value in [0, n) (n > 0). */
uint64_t cl_test_rand_below(uint64_t *s, uint64_t n);

#endif /* CL_TEST_HELPERS_H */
