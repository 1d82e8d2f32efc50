/*
 * test_api_misuse.c - T1 of the reliability test plan (section 4.2),
 * part 1: every public function declared in include/crawllog.h called
 * with NULL in each pointer parameter (one at a time), sizes 0 / 1 / max
 * / max+1 / SIZE_MAX, out-of-range partitions, offsets, counts, codes and
 * sync modes, and invalid names.  Each case expects the code the header
 * documents, a message on the handle (or in errstr) when a call on a
 * valid handle failed, out-pointers reset after a failure, and - in every
 * case that must not write - an unchanged directory tree
 * (cl_test_snap_take before and after).  test_api_misuse2.c does the same
 * for the other headers.
 *
 * Table-driven: FUNCS lists the functions, call() has one case per
 * function (its valid arguments from the fixture, NULL where the case's
 * null mask says so) and cases[] one row per case.  A self-check parses
 * include/crawllog.h at run time and fails for every CRAWLLOG_API function
 * without a row.  Also here: max.message.bytes exactly and one byte over
 * (crawllog_append in every sync mode, producers with acks all, 1 and 0:
 * nothing written), and a fork() child next to a busy parent.
 *
 * For a function that returns a value rather than a code, call() returns
 * 0 when the value is the documented one, else MISUSE_BADVAL; it returns
 * MISUSE_BADOUT when an out-pointer was not reset after a failure
 * (crawllog.h: "its out-pointers are set to NULL / -1") or an output is
 * wrong.
 */
#include "helpers.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MISUSE_BADVAL (-1000)
#define MISUSE_BADOUT (-1001)
#define ES CRAWLLOG_ERRSTR_SIZE
#define PRIME "zz-prime" /* each errmsg is set to this first: must change */

#define FUNCS(X)                                                               \
    X(version) X(version_str) X(strerror) X(err_name) X(conf_new)              \
    X(conf_destroy) X(conf_dup) X(conf_set) X(conf_get) X(conf_dump) X(open)   \
    X(close) X(errmsg) X(location) X(topic_create) X(topic_delete) X(topic_delete_flags)   \
    X(topic_add_partitions) X(topic_list) X(topic_list_free)                   \
    X(topic_describe) X(partition_offsets) X(append) X(flush) X(reader_new)    \
    X(reader_destroy) X(reader_seek) X(reader_seek_time) X(reader_position)    \
    X(reader_set_isolation)                                                    \
    X(reader_next) X(reader_fetch) X(reader_errmsg) X(msg_offset)              \
    X(msg_timestamp) X(msg_key) X(msg_value) X(msg_header_count)               \
    X(msg_header) X(partitioner_state_new) X(partitioner_state_destroy)        \
    X(murmur2) X(partitioner_murmur2) X(partitioner_round_robin)               \
    X(partitioner_sticky) X(partitioner_stats) X(maintain) X(verify)           \
    X(verify_progress)

#define FN_ENUM(n) F_##n,
#define FN_NAME(n) "crawllog_" #n,
enum { FUNCS(FN_ENUM) F_COUNT };
static const char *const fn_names[] = {FUNCS(FN_NAME)};

struct fx {
    char root[4096], data[4200];
    crawllog_t *log;
    crawllog_conf_t *conf, *nocreate;
    crawllog_reader_t *rd, *frd, *mrd;
    const crawllog_msg_t *msg; /* t/0 offset 0: key k, value v, 1 header */
    crawllog_partitioner_state_t *ps;
    char *errstr; /* exactly ES bytes, malloc'd: ASan sees an overrun */
};

/* The arguments of one case; each function uses what it takes. */
struct args {
    int unused_;
    unsigned null; /* bit i: pointer parameter i (from 0) is NULL */
    int h;         /* variant: which conf, record, callback */
    int32_t p;     /* partition, partition count, sticky batch, code */
    int64_t o;     /* offset, timestamp, sync mode, flags */
    size_t n;      /* count, size, errstr_size */
    const char *s; /* topic, property, directory under the root */
    const char *v; /* property value */
};

#define NW 0x1u     /* nothing may be written */
#define EM_LOG 0x2u /* failure: crawllog_errmsg(f->log) set */
#define EM_RD 0x4u  /* failure: crawllog_reader_errmsg(f->rd or f->frd) */
#define EM_ES 0x8u  /* errstr set as errstr_size (a->n) allows */
#define NWL (NW | EM_LOG)

struct mcase {
    int fn;
    struct args a;
    int want;
    unsigned flags;
};

#define R(name, code, flags, ...)                                              \
    {F_##name, {0, __VA_ARGS__}, CRAWLLOG_##code, (flags)}

#define P(i, v) (((a->null >> (i)) & 1u) ? NULL : (v))
#define ISNULL(i) ((a->null >> (i)) & 1u)
#define TOPIC(i) P(i, a->s != NULL ? a->s : "t")
#define VAL(cond) return (cond) ? 0 : MISUSE_BADVAL
/* After a failure, out-pointer i (unless NULL) must hold its reset value. */
#define RESET(i, ok) (rc != 0 && !ISNULL(i) && !(ok))
static char junk_;
#define JUNK ((void *)&junk_)

static void verify_cb(void *opaque, const char *problem)
{
    (void)problem;
    ++*(int *)opaque;
}

static void progress_cb(void *opaque, uint64_t segments, uint64_t bytes)
{
    (void)opaque, (void)segments, (void)bytes;
}

/* a->s: NULL the data directory, "" itself, else a path under the root. */
static const char *dir_arg(struct fx *f, const struct args *a, char *buf)
{
    return a->s == NULL    ? f->data
           : a->s[0] == 0 ? ""
                          : cl_test_path(buf, 4400, f->root, a->s);
}

/* The documented answer of a partitioner: CRAWLLOG_PARTITION_ANY when
 * refused (NULL key or state) or for a count < 1, else one in range. */
static int check_partition(int32_t got, int refused, int32_t count)
{
    if (refused || count < 1) {
        return got == CRAWLLOG_PARTITION_ANY ? 0 : MISUSE_BADVAL;
    }
    return got >= 0 && got < count ? 0 : MISUSE_BADVAL;
}

/* ---------------------------------------------------------------------- */
/* One call of each public function of crawllog.h                          */
/* ---------------------------------------------------------------------- */

static int call(struct fx *f, int fn, const struct args *a)
{
    crawllog_conf_t *conf = JUNK;
    crawllog_t *log = JUNK;
    crawllog_reader_t *rd = JUNK;
    crawllog_partitioner_state_t *ps = JUNK;
    const crawllog_msg_t *m = JUNK;
    const void *ptr = JUNK;
    char **names = JUNK, *text = JUNK, *text2 = NULL, buf[4400];
    const char *str;
    int64_t i1 = 7, i2 = 7;
    int32_t n32 = 7;
    size_t len = 7;
    int rc, calls = 0, known = a->p <= 0 && a->p > CRAWLLOG_ERR_END_;
    crawllog_header_t hd = {NULL, 0, "x", 1};
    crawllog_record_t r = {"k", 1, "v", 1, -1, NULL, 0};
    switch (fn) {
    case F_version:
        VAL(crawllog_version() == CRAWLLOG_VERSION_NUMBER);
    case F_version_str:
        VAL(strcmp(crawllog_version_str(), CRAWLLOG_VERSION_STRING) == 0);
    case F_strerror: /* a->p: a code; known ones have their own text */
        str = crawllog_strerror(a->p);
        VAL(str[0] != '\0' && (strcmp(str, "unknown error") != 0) == known);
    case F_err_name:
        str = crawllog_err_name(a->p);
        VAL(strncmp(str, "CRAWLLOG_", 9) == 0 && str[9] != '\0' &&
            (strcmp(str, "CRAWLLOG_EUNKNOWN") != 0) == known);
    case F_conf_new:
        rc = crawllog_conf_new(P(0, &conf));
        crawllog_conf_destroy(rc == 0 ? conf : NULL);
        return rc;
    case F_conf_destroy:
        crawllog_conf_destroy(NULL);
        return 0;
    case F_conf_dup:
        rc = crawllog_conf_dup(P(0, &conf), P(1, f->conf));
        crawllog_conf_destroy(rc == 0 ? conf : NULL);
        return RESET(0, conf == NULL) ? MISUSE_BADOUT : rc;
    case F_conf_set: /* a failure leaves the conf as it was */
        assert_crawllog_ok(crawllog_conf_dump(f->conf, &text));
        rc = crawllog_conf_set(P(0, f->conf),
                               P(1, a->s ? a->s : "segment.bytes"),
                               P(2, a->v ? a->v : "4096"), P(3, f->errstr),
                               a->n);
        assert_crawllog_ok(crawllog_conf_dump(f->conf, &text2));
        i1 = strcmp(text, text2);
        free(text), free(text2);
        return rc != 0 && i1 != 0 ? MISUSE_BADOUT : rc;
    case F_conf_get: /* max.message.bytes: "1048588", 8 bytes */
        memset(buf, 'z', 64);
        len = a->n;
        rc = crawllog_conf_get(P(0, f->conf),
                               P(1, a->s ? a->s : "max.message.bytes"),
                               P(2, buf), P(3, &len));
        if ((rc == 0 && strcmp(buf, "1048588") != 0) ||
            (rc == CRAWLLOG_ETOOBIG && buf[0] != 'z') ||
            ((rc == 0 || rc == CRAWLLOG_ETOOBIG) && len != 8)) {
            return MISUSE_BADOUT;
        }
        return rc;
    case F_conf_dump:
        rc = crawllog_conf_dump(P(0, f->conf), P(1, &text));
        free(rc == 0 ? text : NULL);
        return RESET(1, text == NULL) ? MISUSE_BADOUT : rc;
    case F_open: /* a->h 1: log.dir.create=false */
        rc = crawllog_open(P(0, &log), P(1, dir_arg(f, a, buf)),
                           a->h ? f->nocreate : NULL, P(3, f->errstr), a->n);
        assert_crawllog_ok(crawllog_close(rc == 0 ? log : NULL));
        return RESET(0, log == NULL) ? MISUSE_BADOUT : rc;
    case F_close:
        return crawllog_close(NULL);
    case F_errmsg:
        VAL(crawllog_errmsg(NULL)[0] == '\0');
    case F_location:
        VAL(crawllog_location(NULL)[0] == '\0' &&
            strcmp(crawllog_location(f->log), f->data) == 0);
    case F_topic_create: /* a->h 1: a topic conf with a log property */
        return crawllog_topic_create(P(0, f->log), TOPIC(1), a->p,
                                     a->h ? f->nocreate : NULL);
    case F_topic_delete:
        return crawllog_topic_delete(P(0, f->log), TOPIC(1));
    case F_topic_delete_flags:
        return crawllog_topic_delete_flags(P(0, f->log), TOPIC(1),
                                           (unsigned)a->o);
    case F_topic_add_partitions:
        return crawllog_topic_add_partitions(P(0, f->log), TOPIC(1), a->p);
    case F_topic_list:
        rc = crawllog_topic_list(P(0, f->log), P(1, &names), P(2, &len));
        crawllog_topic_list_free(rc == 0 ? names : NULL, len);
        return RESET(1, names == NULL) || RESET(2, len == 0) ? MISUSE_BADOUT
                                                             : rc;
    case F_topic_list_free:
        crawllog_topic_list_free(NULL, a->n);
        return 0;
    case F_topic_describe: /* "t" has 2 partitions */
        rc = crawllog_topic_describe(P(0, f->log), TOPIC(1), P(2, &n32),
                                     P(3, &conf));
        crawllog_conf_destroy(rc == 0 && !ISNULL(3) ? conf : NULL);
        return RESET(2, n32 == -1) || RESET(3, conf == NULL) ||
                       (rc == 0 && !ISNULL(2) && n32 != 2)
                   ? MISUSE_BADOUT : rc;
    case F_partition_offsets:
        rc = crawllog_partition_offsets(P(0, f->log), TOPIC(1), a->p,
                                        P(3, &i1), P(4, &i2));
        return RESET(3, i1 == -1) || RESET(4, i2 == -1) ? MISUSE_BADOUT : rc;
    case F_append:
        /* a->h: 1 header_count 1, headers NULL; 2 a header without a name;
         * 3 a key of SIZE_MAX bytes; 4 a value of SIZE_MAX, 5 of 2^31 (lies:
         * refused before a byte is read).  a->o: the sync mode. */
        r.header_count = a->h == 1 || a->h == 2;
        r.headers = a->h == 2 ? &hd : NULL;
        r.key_len = a->h == 3 ? SIZE_MAX : 1;
        r.value_len = a->h == 4 ? SIZE_MAX : a->h == 5 ? (size_t)1 << 31 : 1;
        rc = crawllog_append(P(0, f->log), TOPIC(1), a->p, P(3, &r), a->n,
                             (int)a->o, P(6, &i1));
        return RESET(6, i1 == -1) ? MISUSE_BADOUT : rc;
    case F_flush:
        return crawllog_flush(P(0, f->log), (int)a->o);
    case F_reader_new:
        rc = crawllog_reader_new(P(0, &rd), P(1, f->log), TOPIC(2), a->p);
        crawllog_reader_destroy(rc == 0 ? rd : NULL);
        return RESET(0, rd == NULL) ? MISUSE_BADOUT : rc;
    case F_reader_destroy:
        crawllog_reader_destroy(NULL);
        return 0;
    case F_reader_seek: /* a failed seek leaves the position alone */
        i1 = crawllog_reader_position(f->rd);
        rc = crawllog_reader_seek(P(0, f->rd), a->o);
        return rc && crawllog_reader_position(f->rd) != i1 ? MISUSE_BADOUT
                                                           : rc;
    case F_reader_seek_time: /* t/0: offset 0 only, any time: 0 or end 1 */
        rc = crawllog_reader_seek_time(P(0, f->rd), a->o, P(2, &i1));
        return RESET(2, i1 == -1) || (rc == 0 && !ISNULL(2) && i1 != 0 &&
                                      i1 != 1) ? MISUSE_BADOUT : rc;
    case F_reader_position:
        VAL(crawllog_reader_position(NULL) == -1);
    case F_reader_set_isolation: /* a->p: the level; back to the default */
        rc = crawllog_reader_set_isolation(P(0, f->rd), a->p);
        assert_crawllog_ok(
            crawllog_reader_set_isolation(f->rd, CRAWLLOG_READ_COMMITTED));
        return rc;
    case F_reader_next:
        rc = crawllog_reader_next(P(0, f->rd), P(1, &m));
        return RESET(1, m == NULL) ? MISUSE_BADOUT : rc;
    case F_reader_fetch: /* from offset 0: a success returns its batch */
        assert_crawllog_ok(crawllog_reader_seek(f->frd, 0));
        rc = crawllog_reader_fetch(P(0, f->frd), a->n, P(2, &ptr),
                                   P(3, &len));
        return RESET(2, ptr == NULL) || RESET(3, len == 0) ||
                       (rc == 0 && (ptr == NULL || len == 0))
                   ? MISUSE_BADOUT : rc;
    case F_reader_errmsg:
        VAL(crawllog_reader_errmsg(NULL)[0] == '\0');
    case F_msg_offset:
        VAL(crawllog_msg_offset(P(0, f->msg)) == (ISNULL(0) ? -1 : 0));
    case F_msg_timestamp:
        i1 = crawllog_msg_timestamp(P(0, f->msg));
        VAL(ISNULL(0) ? i1 == -1 : i1 > 0);
    case F_msg_key:
    case F_msg_value:
        ptr = fn == F_msg_key ? crawllog_msg_key(P(0, f->msg), P(1, &len))
                              : crawllog_msg_value(P(0, f->msg), P(1, &len));
        if (ISNULL(0)) {
            VAL(ptr == NULL && (ISNULL(1) || len == 0));
        }
        VAL(ptr != NULL && memcmp(ptr, fn == F_msg_key ? "k" : "v", 1) == 0 &&
            (ISNULL(1) || len == 1));
    case F_msg_header_count:
        VAL(crawllog_msg_header_count(P(0, f->msg)) == (ISNULL(0) ? 0u : 1u));
    case F_msg_header:
        return crawllog_msg_header(P(0, f->msg), a->n, P(2, &hd));
    case F_partitioner_state_new:
        rc = crawllog_partitioner_state_new(P(0, &ps), a->p);
        crawllog_partitioner_state_destroy(rc == 0 ? ps : NULL);
        return RESET(0, ps == NULL) ? MISUSE_BADOUT : rc;
    case F_partitioner_state_destroy:
        crawllog_partitioner_state_destroy(NULL);
        return 0;
    case F_murmur2: /* a NULL key hashes as empty, whatever its length */
        VAL(crawllog_murmur2(NULL, a->n) == crawllog_murmur2("", 0));
    case F_partitioner_murmur2:
        return check_partition(crawllog_partitioner_murmur2(
                                   TOPIC(0), P(1, "key"), 3, a->p, P(4, JUNK)),
                               ISNULL(1), a->p);
    case F_partitioner_round_robin:
        return check_partition(crawllog_partitioner_round_robin(
                                   TOPIC(0), P(1, "key"), 3, a->p,
                                   P(4, f->ps)),
                               ISNULL(4), a->p);
    case F_partitioner_sticky:
        return check_partition(crawllog_partitioner_sticky(
                                   TOPIC(0), P(1, "key"), 3, a->p,
                                   P(4, f->ps)),
                               ISNULL(4), a->p);
    case F_partitioner_stats: {
        /* a->h: 0 round robin (needs the state), 1 murmur2 over a NULL key
         * (CRAWLLOG_PARTITION_ANY: EPARTITION).  Room for 4 partitions. */
        const void *keys[2] = {"a", a->h ? NULL : "b"};
        size_t lens[2] = {1, 1};
        uint64_t counts[4];
        double skew = -1;
        rc = crawllog_partitioner_stats(
            P(0, a->h ? crawllog_partitioner_murmur2
                      : crawllog_partitioner_round_robin),
            P(1, f->ps), TOPIC(2), P(3, keys), P(4, lens), a->n, a->p,
            P(7, counts), P(8, &skew));
        return rc == 0 && !ISNULL(8) && (a->n ? skew < 1.0 : skew != 0.0)
                   ? MISUSE_BADOUT : rc;
    }
    case F_maintain:
        rc = crawllog_maintain(P(0, f->log), P(1, &i1));
        return rc == 0 && !ISNULL(1) && i1 != 0 ? MISUSE_BADOUT : rc;
    case F_verify: /* a clean directory: no callback, no problem */
        rc = crawllog_verify(P(0, dir_arg(f, a, buf)), P(1, verify_cb),
                             P(2, &calls), P(3, &len), P(4, f->errstr), a->n);
        return rc == 0 && (calls || (!ISNULL(3) && len)) ? MISUSE_BADOUT : rc;
    case F_verify_progress:
        rc = crawllog_verify_progress(
            P(0, dir_arg(f, a, buf)), P(1, verify_cb), P(2, progress_cb),
            P(3, &calls), P(4, &len), P(5, f->errstr), a->n);
        return rc == 0 && (calls || (!ISNULL(4) && len)) ? MISUSE_BADOUT : rc;
    }
    fail_msg("no call for function %d", fn);
    return 0;
}

/* ---------------------------------------------------------------------- */
/* The cases                                                               */
/* ---------------------------------------------------------------------- */

#define N10 "nnnnnnnnnn"
#define LONGNAME /* 250 > CRAWLLOG_TOPIC_NAME_MAX */                         \
    N10 N10 N10 N10 N10 N10 N10 N10 N10 N10 N10 N10 N10 N10 N10 N10 N10 N10 \
    N10 N10 N10 N10 N10 N10 N10
_Static_assert(sizeof(LONGNAME) == CRAWLLOG_TOPIC_NAME_MAX + 2, "250 bytes");

#define CODE_ROWS(name, code, desc)                                            \
    R(strerror, OK, 0, .p = (code)), R(err_name, OK, 0, .p = (code)),

/* clang-format off */
static const struct mcase cases[] = {
    R(version, OK, 0, .h = 0), R(version_str, OK, 0, .h = 0),
    /* Every code of the X-macro table, then codes outside it. */
    CRAWLLOG_ERRORS(CODE_ROWS)
    R(strerror, OK, 0, .p = CRAWLLOG_ERR_END_), R(strerror, OK, 0, .p = 1), R(strerror, OK, 0, .p = INT32_MIN), R(strerror, OK, 0, .p = INT32_MAX),
    R(err_name, OK, 0, .p = CRAWLLOG_ERR_END_), R(err_name, OK, 0, .p = 1), R(err_name, OK, 0, .p = INT32_MIN),
    /* Configuration: NULLs, errstr_size 0 / 1 / 2 / SIZE_MAX, bounds. */
    R(conf_new, EINVAL, 0, .null = 1), R(conf_destroy, OK, 0, .null = 1), R(conf_dup, EINVAL, 0, .null = 1), R(conf_dup, EINVAL, 0, .null = 2),
    R(conf_set, EINVAL, EM_ES, .null = 1, .n = ES), R(conf_set, EINVAL, EM_ES, .null = 2, .n = ES), R(conf_set, EINVAL, EM_ES, .null = 4, .n = ES),
    R(conf_set, EINVAL, 0, .null = 8, .n = ES, .v = "x"), R(conf_set, EINVAL, EM_ES, .s = "no.such", .n = ES),
    R(conf_set, EINVAL, EM_ES, .s = "", .n = ES), R(conf_set, EINVAL, EM_ES, .v = "", .n = ES), R(conf_set, EINVAL, EM_ES, .v = "12x", .n = ES),
    R(conf_set, EINVAL, EM_ES, .v = "-4096", .n = ES), R(conf_set, EINVAL, EM_ES, .v = "x", .n = 0), R(conf_set, EINVAL, EM_ES, .v = "x", .n = 1),
    R(conf_set, EINVAL, EM_ES, .v = "x", .n = 2), R(conf_set, EINVAL, EM_ES, .v = "x", .n = SIZE_MAX),
    R(conf_set, EINVAL, EM_ES, .v = "4095", .n = ES), R(conf_set, OK, 0, .v = "4096", .n = ES), R(conf_set, OK, 0, .v = "2147483647", .n = ES),
    R(conf_set, EINVAL, EM_ES, .v = "2147483648", .n = ES), R(conf_set, EINVAL, EM_ES, .v = "18446744073709551616", .n = ES),
    R(conf_set, EINVAL, EM_ES, .s = "max.message.bytes", .v = "63", .n = ES),
    R(conf_set, EINVAL, EM_ES, .s = "max.message.bytes", .v = "2147483648", .n = ES),
    R(conf_set, OK, 0, .s = "segment.ms", .v = "9223372036854775807", .n = ES),
    R(conf_set, EINVAL, EM_ES, .s = "segment.ms", .v = "9223372036854775808", .n = ES),
    R(conf_set, EINVAL, EM_ES, .s = "segment.ms", .v = "0", .n = ES), R(conf_set, EINVAL, EM_ES, .s = "retention.ms", .v = "-2", .n = ES),
    R(conf_set, EINVAL, EM_ES, .s = "log.dir.mode", .v = "0777", .n = ES), R(conf_set, EINVAL, EM_ES, .s = "log.dir.create", .v = "2", .n = ES),
    R(conf_get, EINVAL, 0, .null = 1, .n = 64), R(conf_get, EINVAL, 0, .null = 2, .n = 64),
    R(conf_get, EINVAL, 0, .null = 4, .n = 64), R(conf_get, EINVAL, 0, .null = 8, .n = 64), R(conf_get, EINVAL, 0, .s = "no.such", .n = 64),
    R(conf_get, ETOOBIG, 0, .null = 4, .n = 0), R(conf_get, ETOOBIG, 0, .n = 0), R(conf_get, ETOOBIG, 0, .n = 1), R(conf_get, ETOOBIG, 0, .n = 7),
    R(conf_get, OK, 0, .n = 8), R(conf_get, OK, 0, .n = SIZE_MAX), R(conf_dump, EINVAL, 0, .null = 1), R(conf_dump, EINVAL, 0, .null = 2),
    /* Opening. */
    R(open, EINVAL, NW | EM_ES, .null = 1, .n = ES), R(open, EINVAL, NW | EM_ES, .null = 2, .n = ES), R(open, EINVAL, NW | EM_ES, .s = "", .n = ES),
    R(open, EINVAL, NW, .null = 2 | 8, .n = ES), R(open, EINVAL, NW | EM_ES, .null = 2, .n = 1), R(open, EINVAL, NW | EM_ES, .null = 2, .n = 0),
    R(open, ENOENT, NW | EM_ES, .s = "missing", .h = 1, .n = ES), R(open, ENOENT, NW | EM_ES, .s = "missing/deeper", .h = 1, .n = SIZE_MAX),
    R(open, ENOENT, NW, .s = "missing", .h = 1, .null = 8, .n = ES), R(open, OK, 0, .null = 8, .n = ES),
    R(close, OK, 0, .null = 1), R(errmsg, OK, 0, .null = 1), R(location, OK, 0, .null = 1),
    /* Topics. */
    R(topic_create, EINVAL, NW, .null = 1, .p = 1, .s = "x"), R(topic_create, EINVAL, NWL, .null = 2, .p = 1),
    R(topic_create, EINVAL, NWL, .p = 1, .s = ""), R(topic_create, EINVAL, NWL, .p = 1, .s = "."),
    R(topic_create, EINVAL, NWL, .p = 1, .s = ".."), R(topic_create, EINVAL, NWL, .p = 1, .s = "a/b"),
    R(topic_create, EINVAL, NWL, .p = 1, .s = "a b"), R(topic_create, EINVAL, NWL, .p = 1, .s = LONGNAME),
    R(topic_create, EINVAL, NWL, .p = 0, .s = "x"), R(topic_create, EINVAL, NWL, .p = -1, .s = "x"),
    R(topic_create, EINVAL, NWL, .p = INT32_MIN, .s = "x"), R(topic_create, EINVAL, NWL, .p = CRAWLLOG_PARTITIONS_MAX + 1, .s = "x"),
    R(topic_create, EINVAL, NWL, .p = INT32_MAX, .s = "x"), R(topic_create, EINVAL, NWL, .p = 1, .s = "x", .h = 1),
    R(topic_create, EEXIST, EM_LOG, .p = 1, .s = "t"), R(topic_delete, EINVAL, NW, .null = 1), R(topic_delete, EINVAL, NWL, .null = 2),
    R(topic_delete, EINVAL, NWL, .s = ".."), R(topic_delete, ENOTOPIC, NWL, .s = "nosuch"),
    R(topic_delete_flags, EINVAL, NW, .null = 1), R(topic_delete_flags, EINVAL, NWL, .null = 2),
    R(topic_delete_flags, EINVAL, NWL, .o = 2), R(topic_delete_flags, EINVAL, NWL, .o = UINT32_MAX),
    R(topic_delete_flags, ENOTOPIC, NWL, .s = "nosuch", .o = CRAWLLOG_DELETE_FORCE), R(topic_add_partitions, EINVAL, NW, .null = 1, .p = 3),
    R(topic_add_partitions, EINVAL, NWL, .null = 2, .p = 3), R(topic_add_partitions, EINVAL, NWL, .s = "a/b", .p = 3),
    R(topic_add_partitions, EINVAL, NWL, .p = 2), R(topic_add_partitions, EINVAL, NWL, .p = 1),
    R(topic_add_partitions, EINVAL, NWL, .p = 0), R(topic_add_partitions, EINVAL, NWL, .p = -1),
    R(topic_add_partitions, EINVAL, NWL, .p = CRAWLLOG_PARTITIONS_MAX + 1), R(topic_add_partitions, ENOTOPIC, NWL, .s = "nosuch", .p = 3),
    R(topic_list, EINVAL, NW, .null = 1), R(topic_list, EINVAL, NWL, .null = 2), R(topic_list, EINVAL, NWL, .null = 4), R(topic_list, OK, NW, .h = 0),
    R(topic_list_free, OK, 0, .n = 0), R(topic_list_free, OK, 0, .n = SIZE_MAX),
    R(topic_describe, EINVAL, NW, .null = 1), R(topic_describe, EINVAL, NWL, .null = 2),
    R(topic_describe, EINVAL, NWL, .s = "a/b"), R(topic_describe, ENOTOPIC, NWL, .s = "nosuch"),
    R(topic_describe, OK, NW, .null = 4 | 8), R(topic_describe, OK, NW, .h = 0),
    R(partition_offsets, EINVAL, NW, .null = 1), R(partition_offsets, EINVAL, NWL, .null = 2),
    R(partition_offsets, EINVAL, NWL, .p = -1), R(partition_offsets, EINVAL, NWL, .p = INT32_MIN),
    R(partition_offsets, ENOTOPIC, NWL, .p = 2), R(partition_offsets, ENOTOPIC, NWL, .p = INT32_MAX),
    R(partition_offsets, ENOTOPIC, NWL, .s = "nosuch"), R(partition_offsets, EINVAL, NWL, .s = ".."), R(partition_offsets, OK, NW, .null = 8 | 16),
    /* Append (a->o: sync) and flush. */
    R(append, EINVAL, NW, .null = 1, .n = 1, .o = 1), R(append, EINVAL, NWL, .null = 2, .n = 1, .o = 1),
    R(append, EINVAL, NWL, .null = 8, .n = 1, .o = 1), R(append, EINVAL, NWL, .n = 0, .o = 1),
    R(append, EINVAL, NWL, .n = (size_t)INT32_MAX + 1, .o = 1),
    R(append, EINVAL, NWL, .n = SIZE_MAX, .o = 1), R(append, EINVAL, NWL, .n = 1, .o = -1),
    R(append, EINVAL, NWL, .n = 1, .o = 3), R(append, EINVAL, NWL, .n = 1, .o = INT32_MIN),
    R(append, EINVAL, NWL, .n = 1, .o = 1, .p = -1), R(append, EINVAL, NWL, .n = 1, .o = 1, .p = INT32_MIN),
    R(append, ENOTOPIC, NWL, .n = 1, .o = 1, .p = 2), R(append, ENOTOPIC, NWL, .n = 1, .o = 1, .p = INT32_MAX),
    R(append, ENOTOPIC, NWL, .n = 1, .o = 1, .s = "nosuch"), R(append, EINVAL, NWL, .n = 1, .o = 1, .s = "a/b"),
    R(append, EINVAL, NWL, .n = 1, .o = 1, .h = 1), R(append, EINVAL, NWL, .n = 1, .o = 1, .h = 2),
    R(append, ETOOBIG, NWL, .n = 1, .o = 1, .h = 3), R(append, ETOOBIG, NWL, .n = 1, .o = 1, .h = 4),
    R(append, ETOOBIG, NWL, .n = 1, .o = 0, .h = 5), R(append, ETOOBIG, NWL, .n = 1, .o = 2, .h = 5),
    R(flush, EINVAL, NW, .null = 1), R(flush, EINVAL, NWL, .o = -1), R(flush, EINVAL, NWL, .o = 3), R(flush, OK, NW, .o = CRAWLLOG_SYNC_DURABLE),
    /* Readers and messages. */
    R(reader_new, EINVAL, NWL, .null = 1), R(reader_new, EINVAL, NW, .null = 2),
    R(reader_new, EINVAL, NWL, .null = 4), R(reader_new, EINVAL, NWL, .p = -1),
    R(reader_new, ENOTOPIC, NWL, .p = 2), R(reader_new, ENOTOPIC, NWL, .s = "nosuch"),
    R(reader_new, EINVAL, NWL, .s = "."), R(reader_destroy, OK, 0, .null = 1),
    R(reader_seek, EINVAL, NW, .null = 1), R(reader_seek, EOFFSET, NW | EM_RD, .o = -1),
    R(reader_seek, EOFFSET, NW | EM_RD, .o = 2), R(reader_seek, EOFFSET, NW | EM_RD, .o = INT64_MIN),
    R(reader_seek, EOFFSET, NW | EM_RD, .o = INT64_MAX), R(reader_seek, OK, NW, .o = 1),
    R(reader_seek_time, EINVAL, NW, .null = 1), R(reader_seek_time, OK, NW, .o = INT64_MIN),
    R(reader_seek_time, OK, NW, .o = -1), R(reader_seek_time, OK, NW, .o = INT64_MAX),
    R(reader_seek_time, OK, NW, .null = 4), R(reader_position, OK, 0, .null = 1),
    R(reader_set_isolation, EINVAL, NW, .null = 1, .p = CRAWLLOG_READ_COMMITTED), R(reader_set_isolation, EINVAL, NW | EM_RD, .p = 2),
    R(reader_set_isolation, EINVAL, NW | EM_RD, .p = -1), R(reader_set_isolation, EINVAL, NW | EM_RD, .p = INT32_MIN),
    R(reader_set_isolation, EINVAL, NW | EM_RD, .p = INT32_MAX), R(reader_set_isolation, OK, NW, .p = CRAWLLOG_READ_UNCOMMITTED),
    R(reader_set_isolation, OK, NW, .p = CRAWLLOG_READ_COMMITTED),
    R(reader_next, EINVAL, NW, .null = 1), R(reader_next, EINVAL, NW | EM_RD, .null = 2), R(reader_fetch, EINVAL, NW, .null = 1, .n = 100),
    R(reader_fetch, EINVAL, NW | EM_RD, .null = 4, .n = 100), R(reader_fetch, EINVAL, NW | EM_RD, .null = 8, .n = 100),
    R(reader_fetch, OK, NW, .n = 0), R(reader_fetch, OK, NW, .n = 1), R(reader_fetch, OK, NW, .n = SIZE_MAX), R(reader_errmsg, OK, 0, .null = 1),
    R(msg_offset, OK, 0, .null = 1), R(msg_offset, OK, 0, .null = 0), R(msg_timestamp, OK, 0, .null = 1), R(msg_timestamp, OK, 0, .null = 0),
    R(msg_key, OK, 0, .null = 1), R(msg_key, OK, 0, .null = 2), R(msg_key, OK, 0, .null = 3),
    R(msg_value, OK, 0, .null = 1), R(msg_value, OK, 0, .null = 2), R(msg_header_count, OK, 0, .null = 1), R(msg_header_count, OK, 0, .null = 0),
    R(msg_header, EINVAL, 0, .null = 1), R(msg_header, EINVAL, 0, .null = 4),
    R(msg_header, EINVAL, 0, .n = 1), R(msg_header, EINVAL, 0, .n = SIZE_MAX), R(msg_header, OK, 0, .n = 0),
    /* Partitioners. */
    R(partitioner_state_new, EINVAL, 0, .null = 1), R(partitioner_state_new, EINVAL, 0, .p = -1),
    R(partitioner_state_new, EINVAL, 0, .p = INT32_MIN), R(partitioner_state_new, OK, 0, .p = 0),
    R(partitioner_state_new, OK, 0, .p = INT32_MAX), R(partitioner_state_destroy, OK, 0, .null = 1),
    R(murmur2, OK, 0, .n = 0), R(murmur2, OK, 0, .n = 1), R(murmur2, OK, 0, .n = SIZE_MAX),
    R(partitioner_murmur2, OK, 0, .null = 1, .p = 3), R(partitioner_murmur2, OK, 0, .null = 2, .p = 3),
    R(partitioner_murmur2, OK, 0, .null = 16, .p = 3), R(partitioner_murmur2, OK, 0, .p = 0),
    R(partitioner_murmur2, OK, 0, .p = -1), R(partitioner_murmur2, OK, 0, .p = INT32_MIN), R(partitioner_murmur2, OK, 0, .p = INT32_MAX),
    R(partitioner_round_robin, OK, 0, .null = 1 | 2, .p = 3),
    R(partitioner_round_robin, OK, 0, .null = 16, .p = 3), R(partitioner_round_robin, OK, 0, .p = 0),
    R(partitioner_round_robin, OK, 0, .p = INT32_MIN), R(partitioner_round_robin, OK, 0, .p = INT32_MAX),
    R(partitioner_sticky, OK, 0, .null = 1 | 2, .p = 3), R(partitioner_sticky, OK, 0, .null = 16, .p = 3),
    R(partitioner_sticky, OK, 0, .p = 0), R(partitioner_sticky, OK, 0, .p = -1), R(partitioner_sticky, OK, 0, .p = INT32_MAX),
    R(partitioner_stats, EINVAL, 0, .null = 1, .n = 2, .p = 4), R(partitioner_stats, EINVAL, 0, .null = 8, .n = 2, .p = 4),
    R(partitioner_stats, EINVAL, 0, .null = 128, .n = 2, .p = 4),
    R(partitioner_stats, EINVAL, 0, .n = 2, .p = 0), R(partitioner_stats, EINVAL, 0, .n = 2, .p = -1),
    R(partitioner_stats, EINVAL, 0, .n = 2, .p = CRAWLLOG_PARTITIONS_MAX + 1), R(partitioner_stats, EINVAL, 0, .n = 2, .p = INT32_MIN),
    R(partitioner_stats, EPARTITION, 0, .null = 2, .n = 2, .p = 4), R(partitioner_stats, EPARTITION, 0, .h = 1, .n = 2, .p = 4),
    R(partitioner_stats, OK, 0, .null = 8, .n = 0, .p = 4), R(partitioner_stats, OK, 0, .null = 4 | 16 | 256, .n = 2, .p = 4),
    R(partitioner_stats, OK, 0, .n = 2, .p = 1),
    /* Maintenance and verification. */
    R(maintain, EINVAL, NW, .null = 1), R(maintain, OK, NW, .null = 2), R(maintain, OK, NW, .h = 0),
    R(verify, EINVAL, NW | EM_ES, .null = 1, .n = ES), R(verify, EINVAL, NW | EM_ES, .s = "", .n = ES),
    R(verify, EINVAL, NW | EM_ES, .s = "", .n = 1), R(verify, EINVAL, NW | EM_ES, .s = "", .n = 0), R(verify, EINVAL, NW, .null = 1 | 16, .n = ES),
    R(verify, ENOENT, NW | EM_ES, .s = "missing", .n = ES), R(verify, ENOENT, NW | EM_ES, .s = "missing", .n = SIZE_MAX),
    R(verify, OK, NW, .null = 2 | 4 | 8 | 16, .n = ES), R(verify, OK, NW, .n = 0), R(verify_progress, EINVAL, NW | EM_ES, .null = 1, .n = ES),
    R(verify_progress, ENOENT, NW | EM_ES, .s = "missing", .n = ES), R(verify_progress, OK, NW, .null = 2 | 4 | 8 | 16 | 32, .n = ES),
    R(verify_progress, OK, NW, .n = ES),
};
/* clang-format on */

#define NCASES (sizeof(cases) / sizeof(cases[0]))

/* ---------------------------------------------------------------------- */
/* Runner and self-check                                                   */
/* ---------------------------------------------------------------------- */

static const char *code_name(int rc)
{
    return rc == MISUSE_BADVAL   ? "BADVAL (wrong value)"
           : rc == MISUSE_BADOUT ? "BADOUT (out-pointer or output wrong)"
                                 : crawllog_err_name(rc);
}

/* Set each message to a known one, so that a case that fails without a
 * message of its own is seen. */
static void prime(struct fx *f)
{
    assert_crawllog_rc(
        crawllog_partition_offsets(f->log, PRIME, 0, NULL, NULL),
        CRAWLLOG_ENOTOPIC);
    assert_crawllog_rc(crawllog_reader_seek(f->rd, 987654321),
                       CRAWLLOG_EOFFSET);
    assert_crawllog_rc(crawllog_reader_seek(f->frd, 987654321),
                       CRAWLLOG_EOFFSET);
    snprintf(f->errstr, ES, "%s", PRIME);
}

static int msg_fresh(const char *msg, const char *primed)
{
    return msg[0] != '\0' && strstr(msg, primed) == NULL;
}

/* "" if the messages are as the case demands, else what is wrong. */
static const char *check_msg(const struct fx *f, const struct mcase *c)
{
    size_t n = c->a.n;
    if ((c->flags & EM_LOG) && !msg_fresh(crawllog_errmsg(f->log), PRIME)) {
        return "crawllog_errmsg() not set";
    }
    if ((c->flags & EM_RD) &&
        !msg_fresh(crawllog_reader_errmsg(c->fn == F_reader_fetch ? f->frd
                                                                  : f->rd),
                   "987654321")) {
        return "crawllog_reader_errmsg() not set";
    }
    if ((c->flags & EM_ES) &&
        (n == 0   ? strcmp(f->errstr, PRIME) != 0
         : n == 1 ? f->errstr[0] != '\0' || f->errstr[1] != 'z'
                  : !msg_fresh(f->errstr, PRIME))) {
        return "errstr not set as errstr_size demands";
    }
    return "";
}

static int run_case(struct fx *f, const struct mcase *c, size_t i)
{
    char diff[2048] = "";
    prime(f);
    struct cl_test_snap *before =
        (c->flags & NW) ? cl_test_snap_take(f->root) : NULL;
    int rc = call(f, c->fn, &c->a);
    const char *why = rc != c->want ? "wrong code"
                      : rc < 0      ? check_msg(f, c)
                                    : "";
    if (before != NULL) {
        struct cl_test_snap *after = cl_test_snap_take(f->root);
        if (!cl_test_snap_equal(before, after, diff, sizeof(diff)) &&
            why[0] == '\0') {
            why = "the directory changed";
        }
        cl_test_snap_free(after);
        cl_test_snap_free(before);
    }
    if (why[0] == '\0') {
        return 0;
    }
    print_error("case %zu: %s(null=0x%x h=%d p=%" PRId32 " o=%" PRId64
                " n=%zu s=%.20s v=%s): %s: got %d %s, want %d %s; errmsg "
                "\"%s\" errstr \"%s\" %s\n",
                i, fn_names[c->fn], c->a.null, c->a.h, c->a.p, c->a.o,
                c->a.n, c->a.s ? c->a.s : "-", c->a.v ? c->a.v : "-", why,
                rc, code_name(rc), c->want, code_name(c->want),
                crawllog_errmsg(f->log), f->errstr, diff);
    return 1;
}


/* Every function of include/crawllog.h has a case (the other headers:
 * test_api_misuse2.c), and every FUNCS entry is declared there. */
static void test_misuse_table_complete(void **state)
{
    static char names[256][64];
    size_t n = cl_test_api_names("include/crawllog.h", names, 0, 256), missing = 0;
    int used[F_COUNT] = {0};
    (void)state;
    for (size_t k = 0; k < NCASES; k++) {
        used[cases[k].fn] = 1;
    }
    for (size_t i = 0; i < n; i++) {
        int k = 0;
        while (k < F_COUNT && strcmp(fn_names[k], names[i]) != 0) {
            k++;
        }
        if (k == F_COUNT || !used[k]) {
            print_error("no misuse case for %s\n", names[i]);
            missing++;
        }
    }
    cl_test_checkf(missing == 0, "%zu public function(s) without a case",
                   missing);
    cl_test_checkf(n == F_COUNT, "%zu functions declared, %d in FUNCS", n,
                   F_COUNT);
    print_message("misuse table (crawllog.h): %zu functions, %zu cases\n", n,
                  NCASES);
}

static void fx_setup(struct fx *f, const char *root)
{
    memset(f, 0, sizeof(*f));
    snprintf(f->root, sizeof(f->root), "%s", root);
    cl_test_path(f->data, sizeof(f->data), root, "data");
    f->errstr = malloc(ES);
    assert_non_null(f->errstr);
    /* Small index files: snapshots hash every byte of every file. */
    crawllog_conf_t *lc = cl_test_conf("segment.index.bytes", "4096", NULL);
    f->log = cl_test_open(f->data, lc);
    crawllog_conf_destroy(lc);
    cl_test_create_topic(f->log, "t", 2, NULL);
    crawllog_header_t h = {"h", 1, "x", 1};
    crawllog_record_t r = {"k", 1, "v", 1, -1, &h, 1};
    assert_crawllog_ok(crawllog_append(f->log, "t", 0, &r, 1,
                                       CRAWLLOG_SYNC_DURABLE, NULL));
    f->conf = cl_test_conf("log.dir.create", "true", NULL);
    f->nocreate = cl_test_conf("log.dir.create", "false", NULL);
    assert_crawllog_ok(crawllog_reader_new(&f->rd, f->log, "t", 0));
    assert_crawllog_ok(crawllog_reader_new(&f->frd, f->log, "t", 0));
    assert_crawllog_ok(crawllog_reader_new(&f->mrd, f->log, "t", 0));
    f->msg = cl_test_next_msg(f->mrd);
    assert_crawllog_ok(crawllog_partitioner_state_new(&f->ps, 0));
    /* The handle's first use of t/1 (its recovery) is done now. */
    assert_crawllog_ok(
        crawllog_partition_offsets(f->log, "t", 1, NULL, NULL));
}

static void test_misuse_cases(void **state)
{
    struct fx f;
    size_t failed = 0;
    int64_t end = -1;
    fx_setup(&f, CL_TEST_DIR(state));
    for (size_t i = 0; i < NCASES; i++) {
        failed += (size_t)run_case(&f, &cases[i], i);
    }
    /* None of the refused appends exists: t/0 still ends at 1. */
    assert_crawllog_ok(crawllog_partition_offsets(f.log, "t", 0, NULL, &end));
    assert_int_equal(end, 1);
    crawllog_partitioner_state_destroy(f.ps);
    crawllog_reader_destroy(f.rd);
    crawllog_reader_destroy(f.frd);
    crawllog_reader_destroy(f.mrd);
    crawllog_conf_destroy(f.conf);
    crawllog_conf_destroy(f.nocreate);
    cl_test_close_verify(f.log, f.data);
    free(f.errstr);
    print_message("misuse cases (crawllog.h): %zu run, %zu failed\n", NCASES,
                  failed);
    cl_test_checkf(failed == 0, "%zu of %zu misuse cases failed", failed,
                   NCASES);
}

/* ---------------------------------------------------------------------- */
/* max.message.bytes: exactly the limit, and one byte more                 */
/* ---------------------------------------------------------------------- */

/* Append (prod NULL) or send a value of vlen bytes to topic/0. */
static int append_len(crawllog_t *log, crawllog_producer_t *prod,
                      const char *topic, size_t vlen, int sync)
{
    char *v = malloc(vlen + 1);
    assert_non_null(v);
    memset(v, 'm', vlen);
    crawllog_record_t r = {NULL, 0, v, vlen, 1000, NULL, 0};
    int rc = prod ? crawllog_producer_send_record(prod, topic, 0, &r, NULL)
                  : crawllog_append(log, topic, 0, &r, 1, sync, NULL);
    free(v);
    return rc;
}

static void test_misuse_max_message_bytes(void **state)
{
    const char *root = CL_TEST_DIR(state);
    char data[4200];
    const void *buf;
    size_t len, lo = 0, hi = 1024; /* lo fits, hi does not */
    crawllog_reader_t *rd = NULL;
    int64_t end = -1;
    cl_test_path(data, sizeof(data), root, "data");
    crawllog_t *log = cl_test_open(data, NULL);
    cl_test_create_topic(log, "probe", 1, "max.message.bytes", "1024", NULL);
    cl_test_create_topic(log, "mm", 1, "max.message.bytes", "1024", NULL);
    while (hi - lo > 1) { /* the largest value accepted, on "probe" */
        size_t mid = (lo + hi) / 2;
        int rc = append_len(log, NULL, "probe", mid, CRAWLLOG_SYNC_WRITTEN);
        cl_test_checkf(rc == 0 || rc == CRAWLLOG_ETOOBIG, "probe: %s",
                       crawllog_err_name(rc));
        *(rc == 0 ? &lo : &hi) = mid;
    }
    /* Exactly max.message.bytes: accepted, one batch of 1024 bytes. */
    assert_crawllog_ok_log(
        log, append_len(log, NULL, "mm", lo, CRAWLLOG_SYNC_DURABLE));
    assert_crawllog_ok(crawllog_reader_new(&rd, log, "mm", 0));
    assert_crawllog_ok(crawllog_reader_fetch(rd, 1, &buf, &len));
    assert_int_equal(len, 1024);
    crawllog_reader_destroy(rd);
    assert_crawllog_ok(crawllog_flush(log, CRAWLLOG_SYNC_DURABLE));
    /* One byte more, in every sync mode: refused, nothing written (not
     * even by a flush after a refused CRAWLLOG_SYNC_NONE append). */
    for (int sync = CRAWLLOG_SYNC_NONE; sync <= CRAWLLOG_SYNC_DURABLE;
         sync++) {
        struct cl_test_snap *before = cl_test_snap_take(root);
        assert_crawllog_rc_log(log, append_len(log, NULL, "mm", lo + 1, sync),
                               CRAWLLOG_ETOOBIG);
        cl_test_checkf(strstr(crawllog_errmsg(log), "mm") != NULL,
                       "errmsg \"%s\" does not name the topic",
                       crawllog_errmsg(log));
        assert_crawllog_ok(crawllog_flush(log, CRAWLLOG_SYNC_DURABLE));
        assert_dir_unchanged(before, root);
    }
    /* The same through producers with acks all, 1 and 0 (even a flush
     * writes nothing of the refused send); lo is accepted. */
    static const char *const acks[] = {"all", "1", "0"};
    for (int i = 0; i < 3; i++) {
        crawllog_producer_t *prod = NULL;
        crawllog_conf_t *pc = cl_test_conf("acks", acks[i], NULL);
        assert_crawllog_ok(crawllog_producer_new(log, pc, &prod, NULL, 0));
        crawllog_conf_destroy(pc);
        struct cl_test_snap *before = cl_test_snap_take(root);
        assert_crawllog_rc(append_len(log, prod, "mm", lo + 1, 0),
                           CRAWLLOG_ETOOBIG);
        cl_test_checkf(strstr(crawllog_producer_errmsg(prod), "mm") != NULL,
                       "producer errmsg \"%s\" does not name the topic",
                       crawllog_producer_errmsg(prod));
        assert_crawllog_ok(crawllog_producer_flush(prod, 0));
        assert_dir_unchanged(before, root);
        assert_crawllog_ok(append_len(log, prod, "mm", lo, 0));
        assert_crawllog_ok(crawllog_producer_destroy(prod));
    }
    /* Offsets 1..3: each a batch of exactly 1024 bytes. */
    assert_crawllog_ok(crawllog_reader_new(&rd, log, "mm", 0));
    for (int64_t off = 1; off <= 3; off++) {
        assert_crawllog_ok(crawllog_reader_seek(rd, off));
        assert_crawllog_ok(crawllog_reader_fetch(rd, 1, &buf, &len));
        assert_int_equal(len, 1024);
    }
    crawllog_reader_destroy(rd);
    assert_crawllog_ok(crawllog_partition_offsets(log, "mm", 0, NULL, &end));
    assert_int_equal(end, 4);
    cl_test_close_verify(log, data);
}

/* ---------------------------------------------------------------------- */
/* fork(): the child opens its own handle; the parent is unaffected        */
/* ---------------------------------------------------------------------- */

static void fork_child(void *data)
{
    crawllog_t *log = cl_test_open(data, NULL);
    crawllog_record_t r = {NULL, 0, "child", 5, -1, NULL, 0};
    cl_test_check(crawllog_append(log, "f", 0, &r, 1, CRAWLLOG_SYNC_DURABLE,
                                  NULL) == 0);
    cl_test_check(crawllog_close(log) == 0);
}

/* crawllog.h: no handle may be used in a fork() child (nothing more is
 * documented).  The parent has a log, a producer holding a buffered
 * message and a group member; the child opens its own log and appends.
 * The parent's message is written once, after the child's, and its member
 * is still the group's only live member. */
static void test_misuse_fork(void **state)
{
    const crawllog_msg_t *msgs[512];
    char data[4200];
    const char *topic = "f";
    size_t n = 0, got = 0, len;
    crawllog_producer_t *prod = NULL;
    crawllog_consumer_t *cons = NULL;
    crawllog_group_desc_t *d = NULL;
    int64_t end = -1, deadline = cl_test_mono_ms() + 5000;
    cl_test_path(data, sizeof(data), CL_TEST_DIR(state), "data");
    crawllog_t *log = cl_test_open(data, NULL);
    cl_test_create_topic(log, "f", 1, NULL);
    crawllog_conf_t *pc = cl_test_conf("acks", "0", "linger.ms", "3600000",
                                       NULL);
    crawllog_conf_t *cc = cl_test_conf("group.id", "fg", NULL);
    assert_crawllog_ok(crawllog_producer_new(log, pc, &prod, NULL, 0));
    assert_crawllog_ok(crawllog_consumer_new(log, cc, &cons, NULL, 0));
    crawllog_conf_destroy(pc);
    crawllog_conf_destroy(cc);
    assert_crawllog_ok(crawllog_producer_send(prod, "f", 0, NULL, 0, "buf", 3,
                                              NULL, 0, NULL)); /* buffered */
    assert_crawllog_ok(crawllog_consumer_subscribe(cons, &topic, 1));
    while (crawllog_consumer_generation(cons) < 0) {
        assert_crawllog_ok(crawllog_consumer_poll(cons, 20, msgs, 512, &n));
        cl_test_checkf(cl_test_mono_ms() < deadline, "never joined");
    }
    cl_test_assert_exit_ok(cl_test_fork_run(fork_child, data));
    assert_crawllog_ok(crawllog_producer_flush(prod, 0));
    assert_crawllog_ok(crawllog_producer_destroy(prod));
    while (got < 2 && cl_test_mono_ms() < deadline) {
        assert_crawllog_ok(crawllog_consumer_poll(cons, 50, msgs, 512, &n));
        for (size_t i = 0; i < n; i++, got++) {
            const char *v = crawllog_msg_value(msgs[i], &len);
            assert_int_equal(crawllog_msg_offset(msgs[i]), (int64_t)got);
            assert_memory_equal(v, got == 0 ? "child" : "buf", len);
        }
    }
    assert_int_equal(got, 2);
    assert_crawllog_ok(crawllog_consumer_commit(cons, NULL, 2));
    assert_crawllog_ok(crawllog_group_describe(log, "fg", &d));
    cl_test_check(d->member_count == 1 && d->members[0].alive == 1 &&
                  d->members[0].pid == (long)getpid());
    crawllog_group_desc_free(d);
    assert_crawllog_rc(crawllog_group_delete(log, "fg"), CRAWLLOG_EBUSY);
    crawllog_consumer_destroy(cons);
    assert_crawllog_ok(crawllog_partition_offsets(log, "f", 0, NULL, &end));
    assert_int_equal(end, 2);
    cl_test_close_verify(log, data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_misuse_table_complete),
        cmocka_unit_test_setup_teardown(test_misuse_cases,
                                        cl_test_fast_tmpdir_setup,
                                        cl_test_tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_misuse_max_message_bytes,
                                        cl_test_fast_tmpdir_setup,
                                        cl_test_tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_misuse_fork,
                                        cl_test_fast_tmpdir_setup,
                                        cl_test_tmpdir_teardown),
    };
    return cmocka_run_group_tests_name("api_misuse", tests, NULL, NULL);
}
