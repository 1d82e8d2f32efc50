/*
 * helpers.h - shared helpers for the cmocka test programs.
 *
 * Linked into every tests/test_*.c program (tests/helpers.c, helpers_log.c,
 * helpers_proc.c).  Provides:
 *  - a fresh temporary directory per test or group (cmocka setup/teardown);
 *  - assertion macros that print a library code's name and description
 *    (and the handle's errmsg);
 *  - directory snapshots, to prove that a failed call changed nothing;
 *  - fork helpers and a registry of running children (helpers_proc.c),
 *    file helpers (write/read/size/flip a byte/truncate,
 *    copy a tree, count entries);
 *  - a seeded PRNG whose seed is printed and can be replayed with SEED=N;
 *  - golden-vector file reading (hex digits, "hex:"/"ascii:" inputs;
 *    "block" files of multi-line cases with "# source:" comments);
 *  - shortcuts for the public log API (open, conf, topic, next message,
 *    segment listing, crawllog_verify) that fail the test on an error.
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

#include <stdio.h>  /* cl_test_thread_check */
#include <stdlib.h> /* cl_test_thread_check */
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

/* Like cl_test_check(cond), with a printf-style message instead. */
#define cl_test_checkf(cond, ...)                                              \
    do {                                                                       \
        if (!(cond)) {                                                         \
            cl_test_failf_at(__FILE__, __LINE__, __VA_ARGS__);                 \
        }                                                                      \
    } while (0)

/* The same for a thread other than the test's, where cmocka's failure
 * longjmp must not run: print file:line and the message, then abort(). */
#define cl_test_thread_check(cond, ...)                                        \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                    \
            fprintf(stderr, __VA_ARGS__);                                      \
            fprintf(stderr, "\n");                                             \
            abort();                                                           \
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

/* Like cl_test_tmpdir_setup, but on tmpfs (/dev/shm) when there is a
 * writable one: for sweeps that run thousands of fsyncs, which cost nothing
 * there and minutes on a disk.  Tear down with cl_test_tmpdir_teardown. */
int cl_test_fast_tmpdir_setup(void **state);

/* The path of the directory of a test that uses the setup above. */
#define CL_TEST_DIR(state) (((const struct cl_test_dir *)*(state))->path)

/* The same setup and teardown, each first disarming every failpoint
 * (cl_fp_clear()), for tests that arm them. */
int cl_test_fp_setup(void **state);
int cl_test_fp_teardown(void **state);

/* A cmocka test entry (like cmocka_unit_test(f)) whose test runs in a
 * fresh temporary directory: cl_test_tmpdir_setup / _teardown. */
#define cl_test_unit_tmpdir(f)                                                 \
    cmocka_unit_test_setup_teardown(f, cl_test_tmpdir_setup,                   \
                                    cl_test_tmpdir_teardown)

/* The same with cl_test_fp_setup / cl_test_fp_teardown. */
#define cl_test_unit_fp(f)                                                     \
    cmocka_unit_test_setup_teardown(f, cl_test_fp_setup, cl_test_fp_teardown)

/* Remove path and everything below it; symbolic links are removed, never
 * followed.  A missing path is fine.  Problems are printed, not fatal.
 * Not thread-safe (nftw). */
void cl_test_rmrf(const char *path);

/* snprintf "dir/rel" into buf (fails the test if it does not fit) and
 * return buf. */
char *cl_test_path(char *buf, size_t size, const char *dir, const char *rel);

/* Directories of a power-loss run (io_shadow.h): dir = <base>/<tag>, and
 * real (the shadowed tree), shadow and img (the durable image) in it;
 * dir and real are created. */
struct cl_test_shadow_run {
    char dir[700], real[720], shadow[720], img[720];
};
void cl_test_shadow_run_init(struct cl_test_shadow_run *r, const char *base,
                             const char *tag);
/* In a checker child: open the log "<img>/data" of a durable image as
 * after a reboot (another CRAWLLOG_BOOT_ID, so recovery runs); returns
 * crawllog_open's code, its message in why. */
int cl_test_open_after_power_loss(const char *img, crawllog_t **logp, char *why,
                                  size_t why_size);

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

/* Take a snapshot of dir, fail unless it equals before (as
 * assert_snap_equal), then free both snapshots. */
#define assert_dir_unchanged(before, dir)                                      \
    do {                                                                       \
        struct cl_test_snap *cl_test_snap_before_ = (before);                  \
        struct cl_test_snap *cl_test_snap_after_ = cl_test_snap_take(dir);     \
        assert_snap_equal(cl_test_snap_before_, cl_test_snap_after_);          \
        cl_test_snap_free(cl_test_snap_after_);                                \
        cl_test_snap_free(cl_test_snap_before_);                               \
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

/*
 * fork() without waiting: the child runs fn(arg) and then _exit(0), like
 * cl_test_fork_run() (and, like there, the helpers' failures end it with
 * _exit(CL_TEST_CHILD_FAILED)); the parent gets the child's pid and must
 * reap it (waitpid).  stdout and stderr are flushed before the fork.
 */
pid_t cl_test_fork_start(void (*fn)(void *), void *arg);

/* The parent's registry of children (helpers_proc.c), for tests that run
 * several processes at once: spawn with cl_test_fork_start and record;
 * reap one within timeout_ms (fails the test after it) and return its
 * wait status; fail at once if a recorded child already ended (its own
 * check failed); sleep ms while checking that; SIGKILL and reap every
 * recorded child (call it from the teardown). */
#define CL_TEST_KIDS_MAX 16
pid_t cl_test_kids_spawn(void (*fn)(void *), void *arg);
int cl_test_kids_reap(pid_t pid, int64_t timeout_ms);
void cl_test_kids_check_running(void);
void cl_test_kids_sleep(int64_t ms);
void cl_test_kids_kill_all(void);

/* Fail unless status (from waitpid) is a normal exit with code 0. */
void cl_test_assert_exit_ok(int status);

/* Fail unless status is death by signal sig. */
void cl_test_assert_killed_by(int status, int sig);

/* The pid of a child that has already exited and been reaped: a process
 * that is certainly dead (for leftovers "of a dead process"). */
long cl_test_dead_pid(void);

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

/* Number of entries of the directory dir, . and .. not counted. */
size_t cl_test_count_entries(const char *dir);

/* Copy src - a regular file, or a directory tree of directories and
 * regular files - to dst, keeping the permission bits (directories are
 * made with mkdir, so the umask applies to them).  A directory dst must
 * not exist; a regular file dst is replaced.  Any other file type fails
 * the test. */
void cl_test_copy_tree(const char *src, const char *dst);

/* ---------------------------------------------------------------------- */
/* Golden-vector files                                                     */
/* ---------------------------------------------------------------------- */

/* The value (0-15) of the hex digit c (either case), or -1. */
int cl_test_hexval(int c);

/* One line of a golden-vector file: what the line says the code under
 * test must give for some input bytes. */
struct cl_test_vector {
    uint32_t expected; /* the expected value (a CRC, a hash, a partition) */
    int32_t n;         /* a further number on the line, 0 if none */
    uint8_t *data;     /* the input bytes (malloc'd) */
    size_t len;
    int line; /* line number in the file, from 1 */
};

/* Parses the fields before the input field of line into v->expected and
 * v->n (v is zeroed first); returns the input field, or NULL if the line
 * is malformed. */
typedef const char *cl_test_vector_prefix_fn(const char *line,
                                             struct cl_test_vector *v);

/* Upper bound on the vectors of one file. */
#define CL_TEST_VECTORS_MAX 128

/* A vector file: set path and prefix, then load. */
struct cl_test_vectors {
    const char *path;
    cl_test_vector_prefix_fn *prefix;
    size_t n; /* vectors loaded */
    struct cl_test_vector v[CL_TEST_VECTORS_MAX];
};

/*
 * Load vs->path into vs->v[0 .. vs->n): each line that is neither empty nor
 * a '#' comment is split by vs->prefix(); its input field, "hex:<hex
 * digits>" or "ascii:<text>", is decoded into data/len.  Returns 0, or -1
 * after a message on stderr ("<path>:<line>: bad vector line", or why the
 * file could not be read).  For a cmocka group setup.
 */
int cl_test_vectors_load(struct cl_test_vectors *vs);

/* Free what cl_test_vectors_load() loaded; returns 0 (for a teardown). */
int cl_test_vectors_free(struct cl_test_vectors *vs);

/* Define static cmocka group fixtures: load_fn(state) loads the struct
 * cl_test_vectors vs, free_fn(state) frees it.  Use at file scope, with a
 * semicolon after it. */
#define CL_TEST_VECTORS_FIXTURES(vs, load_fn, free_fn)                         \
    static int load_fn(void **state)                                           \
    {                                                                          \
        (void)state;                                                           \
        return cl_test_vectors_load(&(vs));                                    \
    }                                                                          \
    static int free_fn(void **state)                                           \
    {                                                                          \
        (void)state;                                                           \
        return cl_test_vectors_free(&(vs));                                    \
    }                                                                          \
    _Static_assert(1, "CL_TEST_VECTORS_FIXTURES")

/* Longest line of a block file, the newline not counted. */
#define CL_TEST_BLOCK_LINE_MAX 4094

/* Size of a block file's source text, with its NUL (longer: truncated). */
#define CL_TEST_BLOCK_SOURCE_SIZE 320

/* A block-file reader's state, for its callbacks (embed it in their
 * context) and for the caller's error report. */
struct cl_test_blocks {
    /* The file being read. */
    const char *path;
    /* The line handed over, from 1; at the end of the file, the last. */
    int line;
    /* <text> of the last "# source:<text>" comment, "" before one. */
    char source[CL_TEST_BLOCK_SOURCE_SIZE];
    /* Why reading stopped; "" if it did not. */
    char err[512];
};

/*
 * Read the "block" golden-vector file path, in which each case is a block
 * of lines ended by a blank line or the end of the file (as in
 * tests/vectors/assignor.txt and lagstatus.txt).  b is reset first, then
 * every line, numbered from 1 in b->line, has its trailing spaces, tabs,
 * CR and newline removed and is:
 *  - a comment if it starts with '#'; in "# source:<text>" (spaces allowed
 *    after the '#') <text>, leading space included, replaces b->source
 *    (truncated to fit);
 *  - if empty, an end of case: on_case_end(ctx) is called, whether or not
 *    a case is open (the callback knows); on_case_end may be NULL;
 *  - otherwise on_line(ctx, line); line may be changed in place (strtok_r)
 *    and lives until the callback returns.
 * At the end of the file on_case_end(ctx) is called once more.  A callback
 * may change b->line (to report an error at another line); the count goes
 * on regardless.
 *
 * A callback returns 0 to go on, anything else to stop: reading stops at
 * once and that value is returned; the callback is to have set b->err,
 * normally with cl_test_blocks_errf().  The reader's own failures return
 * -1 with b->err "<path>: cannot open: <errno text>", "<path>:<line>: line
 * longer than <CL_TEST_BLOCK_LINE_MAX> bytes" or "<path>:<line>: read
 * error: <errno text>".  Returns 0 once every line has been handed over.
 * Never fails the test itself (cl_test_blocks_load() below does).
 */
int cl_test_blocks_read(struct cl_test_blocks *b, const char *path,
                        int (*on_line)(void *ctx, char *line),
                        int (*on_case_end)(void *ctx), void *ctx);

/* cl_test_blocks_read(), failing the test unless it returns 0, with the
 * message "ERROR: <b->err>" at the caller's file:line (as fail_msg). */
#define cl_test_blocks_load(b, path, on_line, on_case_end, ctx)                \
    do {                                                                       \
        struct cl_test_blocks *cl_test_blocks_b_ = (b);                        \
        if (cl_test_blocks_read(cl_test_blocks_b_, (path), (on_line),          \
                                (on_case_end), (ctx)) != 0) {                  \
            cl_test_failf_at(__FILE__, __LINE__, "ERROR: %s",                  \
                             cl_test_blocks_b_->err);                          \
        }                                                                      \
    } while (0)

/* Set b->err to "<path>:<line>: <message>" (b->path, b->line; truncated
 * to fit) and return -1: the error return of a block-file callback. */
int cl_test_blocks_errf(struct cl_test_blocks *b, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

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

/* ---------------------------------------------------------------------- */
/* Clocks                                                                  */
/* ---------------------------------------------------------------------- */

/* CLOCK_REALTIME in milliseconds (the clock of record timestamps). */
int64_t cl_test_now_ms(void);

/* CLOCK_MONOTONIC in milliseconds (for deadlines). */
int64_t cl_test_mono_ms(void);

/* Sleep ms milliseconds (an interrupted sleep goes on with the rest). */
void cl_test_sleep_ms(long ms);

/* ---------------------------------------------------------------------- */
/* Log API shortcuts                                                       */
/* ---------------------------------------------------------------------- */

/*
 * These call the library (so armed failpoints apply to them) and fail the
 * test, with the library's code name and message, when a call does not
 * succeed.  Like everything here they are safe in a child made by
 * cl_test_fork_run(), but not in a thread other than the test's.
 */

#if defined(__GNUC__) || defined(__clang__)
#define CL_TEST_SENTINEL __attribute__((sentinel))
#else
#define CL_TEST_SENTINEL
#endif

/* crawllog_open(dir, conf) (conf may be NULL), which must succeed. */
crawllog_t *cl_test_open(const char *dir, const crawllog_conf_t *conf);

/* A new conf (crawllog_conf_destroy() it) with the "name", "value", ...
 * pairs set, up to a NULL name.  Every set must succeed. */
crawllog_conf_t *cl_test_conf(const char *name, ...) CL_TEST_SENTINEL;

/* Create topic with parts partitions and a conf made as by cl_test_conf()
 * from the "name", "value", ..., NULL pairs after parts (an empty conf if
 * there are none); it must succeed. */
void cl_test_create_topic(crawllog_t *log, const char *topic, int32_t parts,
                          ...) CL_TEST_SENTINEL;

/* The next message of rd, which must exist (no error, not the log end). */
const crawllog_msg_t *cl_test_next_msg(crawllog_reader_t *rd);

/* crawllog_verify(dir) must return CRAWLLOG_OK with no problem and no
 * callback (the problems it reports are printed).  Run it on a quiet
 * directory: every handle closed. */
void cl_test_expect_verify_clean(const char *dir);

/* crawllog_close(log) must succeed; then cl_test_expect_verify_clean(dir). */
void cl_test_close_verify(crawllog_t *log, const char *dir);

/* Upper bound on the segments cl_test_segments() lists. */
#define CL_TEST_SEGS_MAX 4096

/* The segments of a partition, from the names of its .log files
 * ("<20-digit base offset>.log", docs/FORMAT.md). */
struct cl_test_seglist {
    int64_t base[CL_TEST_SEGS_MAX];  /* base offsets, ascending */
    uint64_t size[CL_TEST_SEGS_MAX]; /* sizes of the .log files */
    size_t n;
};

/* List the segments of dir/topics/<topic>/<p> into a malloc'd list
 * (free() it).  More than CL_TEST_SEGS_MAX fails the test. */
struct cl_test_seglist *cl_test_segments(const char *dir, const char *topic,
                                         int32_t p);

/* Line parser for tests/vectors/murmur2.txt (a cl_test_vectors prefix):
 * "hash <8 hex digits> <input>" sets expected to the hash and n to 0;
 * "partition <n> <partition> <input>" sets n and expected to the
 * partition.  Returns the input part, or NULL for a malformed line. */
const char *cl_test_murmur2_prefix(const char *line, struct cl_test_vector *v);

/* Append to names[n..max) the CRAWLLOG_API functions declared in the
 * header at path (read at run time: the misuse tables check that every
 * public function has a row); returns the new count (helpers_log.c). */
size_t cl_test_api_names(const char *path, char (*names)[64], size_t n,
                         size_t max);

#endif /* CL_TEST_HELPERS_H */
