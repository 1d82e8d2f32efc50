/*
 * helpers_log.c - test helpers, part 2: golden-vector files, seeded
 * randomness, clocks and shortcuts over the public log API.  Part 1
 * (helpers.c) has temporary directories, snapshots, processes and files.
 * Declarations and documentation: helpers.h.
 */
#include "helpers.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HFAIL(...) cl_test_failf_at(__FILE__, __LINE__, __VA_ARGS__)

/* ---------------------------------------------------------------------- */
/* Golden-vector files                                                     */
/* ---------------------------------------------------------------------- */

int cl_test_hexval(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* "hex:<hex digits>" or "ascii:<text>" into a malloc'd *datap; 0 or -1. */
static int decode_input(const char *s, uint8_t **datap, size_t *lenp)
{
    size_t slen = strlen(s), len;
    uint8_t *data = malloc(slen + 1);

    if (data == NULL) {
        HFAIL("vectors: out of memory");
    }
    if (strncmp(s, "ascii:", 6) == 0) {
        len = slen - 6;
        memcpy(data, s + 6, len);
    } else if (strncmp(s, "hex:", 4) == 0 && (slen - 4) % 2 == 0) {
        len = (slen - 4) / 2;
        for (size_t i = 0; i < len; i++) {
            int hi = cl_test_hexval(s[4 + 2 * i]);
            int lo = cl_test_hexval(s[5 + 2 * i]);
            if (hi < 0 || lo < 0) {
                free(data);
                return -1;
            }
            data[i] = (uint8_t)(hi << 4 | lo);
        }
    } else {
        free(data);
        return -1;
    }
    *datap = data;
    *lenp = len;
    return 0;
}

/* One vector line into v; 0 or -1. */
static int vector_line(const char *line, cl_test_vector_prefix_fn *prefix,
                       struct cl_test_vector *v)
{
    const char *in;

    memset(v, 0, sizeof(*v));
    in = prefix(line, v);
    return in != NULL ? decode_input(in, &v->data, &v->len) : -1;
}

#define VECTOR_LINE_MAX 8192

int cl_test_vectors_load(struct cl_test_vectors *vs)
{
    FILE *f = fopen(vs->path, "r");
    char *line = malloc(VECTOR_LINE_MAX);
    int lineno = 0, rc = f != NULL && line != NULL ? 0 : -1;

    if (rc != 0) {
        fprintf(stderr, "cannot read %s\n", vs->path);
    }
    while (rc == 0 && fgets(line, VECTOR_LINE_MAX, f) != NULL) {
        size_t n = strlen(line);
        lineno++;
        if (n > 0 && line[n - 1] == '\n') {
            line[--n] = '\0';
        } else if (!feof(f)) {
            rc = -1; /* too long, unless the last line */
        }
        if (rc == 0 && n > 0 && line[0] != '#') {
            if (vs->n == CL_TEST_VECTORS_MAX ||
                vector_line(line, vs->prefix, &vs->v[vs->n]) != 0) {
                rc = -1;
            } else {
                vs->v[vs->n++].line = lineno;
            }
        }
        if (rc != 0) {
            fprintf(stderr, "%s:%d: bad vector line\n", vs->path, lineno);
        }
    }
    free(line);
    if (f != NULL) {
        fclose(f);
    }
    return rc;
}

int cl_test_vectors_free(struct cl_test_vectors *vs)
{
    for (size_t i = 0; i < vs->n; i++) {
        free(vs->v[i].data);
    }
    vs->n = 0;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Seeded randomness                                                       */
/* ---------------------------------------------------------------------- */

static pthread_once_t seed_once = PTHREAD_ONCE_INIT;
static uint64_t seed_value;

static void seed_init(void)
{
    const char *env = getenv("SEED");

    if (env != NULL && env[0] != '\0') {
        char *end;
        unsigned long long v;
        errno = 0;
        v = strtoull(env, &end, 0);
        if (errno != 0 || *end != '\0' || env[0] == '-') {
            fprintf(stderr, "SEED=%s is not an unsigned integer\n", env);
            exit(2);
        }
        seed_value = (uint64_t)v;
    } else {
        struct timespec ts;
        uint64_t s;
        clock_gettime(CLOCK_REALTIME, &ts);
        /* splitmix64 finaliser over time and pid. */
        s = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
        s ^= (uint64_t)getpid() << 40;
        s ^= s >> 30;
        s *= 0xbf58476d1ce4e5b9ULL;
        s ^= s >> 27;
        s *= 0x94d049bb133111ebULL;
        s ^= s >> 31;
        seed_value = s;
    }
    printf("seed=%" PRIu64 " (replay with SEED=%" PRIu64 ")\n", seed_value,
           seed_value);
    fflush(stdout);
}

uint64_t cl_test_seed(void)
{
    pthread_once(&seed_once, seed_init);
    return seed_value;
}

uint64_t cl_test_rand(uint64_t *s)
{
    uint64_t x = *s;

    if (x == 0) {
        x = 0x9e3779b97f4a7c15ULL;
    }
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dULL;
}

uint64_t cl_test_rand_below(uint64_t *s, uint64_t n)
{
    if (n == 0) {
        HFAIL("cl_test_rand_below: n must be > 0");
    }
    return cl_test_rand(s) % n;
}

/* ---------------------------------------------------------------------- */
/* Clocks                                                                  */
/* ---------------------------------------------------------------------- */

static int64_t clock_ms(clockid_t clk)
{
    struct timespec ts;

    clock_gettime(clk, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t cl_test_now_ms(void)
{
    return clock_ms(CLOCK_REALTIME);
}

int64_t cl_test_mono_ms(void)
{
    return clock_ms(CLOCK_MONOTONIC);
}

void cl_test_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ---------------------------------------------------------------------- */
/* Log API shortcuts                                                       */
/* ---------------------------------------------------------------------- */

crawllog_t *cl_test_open(const char *dir, const crawllog_conf_t *conf)
{
    crawllog_t *log = NULL;
    char errstr[CRAWLLOG_ERRSTR_SIZE] = "";
    int rc = crawllog_open(&log, dir, conf, errstr, sizeof(errstr));

    if (rc != 0 || log == NULL) {
        HFAIL("crawllog_open(%s): %s: %s", dir, crawllog_err_name(rc), errstr);
    }
    return log;
}

static crawllog_conf_t *conf_va(const char *name, va_list ap)
{
    crawllog_conf_t *conf = NULL;
    char errstr[CRAWLLOG_ERRSTR_SIZE];
    int rc = crawllog_conf_new(&conf);

    if (rc != 0) {
        HFAIL("crawllog_conf_new: %s", crawllog_err_name(rc));
    }
    for (const char *n = name; n != NULL; n = va_arg(ap, const char *)) {
        const char *v = va_arg(ap, const char *);
        rc = crawllog_conf_set(conf, n, v, errstr, sizeof(errstr));
        if (rc != 0) {
            HFAIL("conf_set(%s, %s): %s", n, v, errstr);
        }
    }
    return conf;
}

crawllog_conf_t *cl_test_conf(const char *name, ...)
{
    crawllog_conf_t *conf;
    va_list ap;

    va_start(ap, name);
    conf = conf_va(name, ap);
    va_end(ap);
    return conf;
}

void cl_test_create_topic(crawllog_t *log, const char *topic, int32_t parts,
                          ...)
{
    crawllog_conf_t *conf;
    const char *name;
    va_list ap;

    va_start(ap, parts);
    name = va_arg(ap, const char *);
    conf = conf_va(name, ap);
    va_end(ap);
    assert_crawllog_ok_log(log, crawllog_topic_create(log, topic, parts, conf));
    crawllog_conf_destroy(conf);
}

const crawllog_msg_t *cl_test_next_msg(crawllog_reader_t *rd)
{
    const crawllog_msg_t *msg = NULL;
    int rc = crawllog_reader_next(rd, &msg);

    if (rc != 0) {
        HFAIL("reader_next: %s: %s", crawllog_err_name(rc),
              crawllog_reader_errmsg(rd));
    }
    if (msg == NULL) {
        HFAIL("reader_next: log end at %" PRId64, crawllog_reader_position(rd));
    }
    return msg;
}

static void verify_cb(void *opaque, const char *problem)
{
    (*(size_t *)opaque)++;
    print_message("verify: %s\n", problem);
}

void cl_test_expect_verify_clean(const char *dir)
{
    char errstr[CRAWLLOG_ERRSTR_SIZE] = "";
    size_t seen = 0, problems = 99;
    int rc = crawllog_verify(dir, verify_cb, &seen, &problems, errstr,
                             sizeof(errstr));

    if (rc != 0 || problems != 0 || seen != 0) {
        HFAIL("crawllog_verify: %s, %zu problems: %s", crawllog_err_name(rc),
              problems, errstr);
    }
}

void cl_test_close_verify(crawllog_t *log, const char *dir)
{
    assert_crawllog_ok(crawllog_close(log));
    cl_test_expect_verify_clean(dir);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return x < y ? -1 : x > y;
}

struct cl_test_seglist *cl_test_segments(const char *dir, const char *topic,
                                         int32_t p)
{
    char pdir[4096], path[4200];
    struct dirent *de;
    struct cl_test_seglist *sl = calloc(1, sizeof(*sl));
    DIR *d;
    int n = snprintf(pdir, sizeof(pdir), "%s/topics/%s/%d", dir, topic, (int)p);

    if (sl == NULL || n < 0 || (size_t)n >= sizeof(pdir)) {
        HFAIL("segments: %s/topics/%s: out of memory or too long", dir, topic);
    }
    if ((d = opendir(pdir)) == NULL) {
        HFAIL("opendir %s: %s", pdir, strerror(errno));
    }
    while ((de = readdir(d)) != NULL) {
        if (strlen(de->d_name) == 24 && strcmp(de->d_name + 20, ".log") == 0) {
            if (sl->n == CL_TEST_SEGS_MAX) {
                HFAIL("%s: too many segments", pdir);
            }
            sl->base[sl->n++] = strtoll(de->d_name, NULL, 10);
        }
    }
    closedir(d);
    qsort(sl->base, sl->n, sizeof(sl->base[0]), cmp_i64);
    for (size_t i = 0; i < sl->n; i++) {
        snprintf(path, sizeof(path), "%s/%020" PRId64 ".log", pdir,
                 sl->base[i]);
        sl->size[i] = cl_test_file_size(path);
    }
    return sl;
}

/* See helpers.h. */
const char *cl_test_murmur2_prefix(const char *line, struct cl_test_vector *v)
{
    char *end;
    if (strncmp(line, "hash ", 5) == 0) {
        unsigned long h = strtoul(line + 5, &end, 16);
        if (end != line + 13 || *end != ' ' || h > 0xFFFFFFFFul) {
            return NULL;
        }
        v->expected = (uint32_t)h;
        return end + 1;
    }
    if (strncmp(line, "partition ", 10) == 0) {
        long n = strtol(line + 10, &end, 10);
        if (*end != ' ' || n < 1 || n > INT32_MAX) {
            return NULL;
        }
        const char *p = end + 1;
        long part = strtol(p, &end, 10);
        if (end == p || *end != ' ' || part < 0 || part >= n) {
            return NULL;
        }
        v->n = (int32_t)n;
        v->expected = (uint32_t)part;
        return end + 1;
    }
    return NULL;
}

/* Append to names the CRAWLLOG_API functions declared in path. */
size_t cl_test_api_names(const char *path, char (*names)[64], size_t n,
                         size_t max)
{
    char *text = cl_test_read_file(path, NULL);
    static const char idch[] = "_abcdefghijklmnopqrstuvwxyz0123456789"
                               "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    for (char *p = text; (p = strstr(p, "CRAWLLOG_API")) != NULL;) {
        int is_def = p - text >= 7 && strncmp(p - 7, "define ", 7) == 0;
        char *q = p += 12, *e, *b;
        while (*q != '\0' && (strchr(idch, *q) || strchr(" \t\n*", *q))) {
            q++;
        }
        if (is_def || *q != '(') {
            continue; /* the macro's definition, or prose */
        }
        for (e = q; e > p && strchr(" \t\n", e[-1]) != NULL; e--) {
        }
        for (b = e; b > p && strchr(" \t\n*", b[-1]) == NULL; b--) {
        }
        cl_test_checkf(n < max && e - b < 64, "%s: too many names", path);
        snprintf(names[n++], 64, "%.*s", (int)(e - b), b);
    }
    free(text);
    return n;
}
