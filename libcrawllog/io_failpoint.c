/*
 * io_failpoint.c - the CRAWLLOG_TESTING failpoint engine (layer 0, test-only).
 *
 * Purpose: parse failpoint specifications (CRAWLLOG_FP or cl_fp_set, the
 * grammar is in io.h), count the hits of every site io.c's wrappers report
 * and tell each wrapper what to do: go on, fail with an errno, pretend
 * success, write a prefix, or kill the process.  Per-site hit counts since
 * process start are appended to $CRAWLLOG_FP_STATS at exit (failpoint
 * coverage); the fault sweeps list the sites a scenario reached, with the
 * kind of wrapper each was reported by (cl_fp_site_info).  It also serves
 * CRAWLLOG_BOOT_ID, a simulated reboot's boot id (see cl_io_boot_id).  The
 * whole file is compiled only with -DCRAWLLOG_TESTING: a release build gets
 * an empty object, so no cl_fp_* symbol and no check.
 *
 * On disk: nothing (except the optional $CRAWLLOG_FP_STATS report).
 *
 * Invariants: the engine never allocates (all tables are fixed-size), so
 * the "malloc" site cannot recurse; a configuration is installed only when
 * all of it parses; a malformed CRAWLLOG_FP aborts the process, so a fault
 * test never runs silently without its faults.
 *
 * Locks: fp_mu guards every table (entries, sites, counters, the
 * env-loaded flag).  It is a leaf lock, held only for table updates, never
 * across a system call; pthread_atfork handlers hold it across fork() so a
 * child never inherits it locked.
 */

/* ISO C forbids an empty translation unit: this keeps the release object
 * valid and symbol-free. */
typedef int cl_failpoint_unit;

#ifdef CRAWLLOG_TESTING

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io_failpoint.h"
#include "io.h"

enum fp_kind { FP_NONE, FP_FAIL, FP_SHORT, FP_SKIP, FP_CRASH };

#define FP_MAX_ENTRIES 64 /* far more than any test needs */
#define FP_MAX_SITES 256  /* the library has about 130 sites (2026-11) */
#define FP_NAME_MAX 128   /* longest site name / pattern, with NUL */
#define FP_SPEC_MAX 4096  /* longest spec string, with NUL */
#define FP_NO_N SIZE_MAX  /* CRASH without a byte count */

struct fp_entry {
    char pat[FP_NAME_MAX]; /* site name, or prefix without the '*' */
    size_t patlen;         /* strlen(pat) */
    int prefix;            /* 1: pat is a prefix ("" matches every site) */
    enum fp_kind kind;     /* what happens when the entry fires */
    int err;               /* FP_FAIL: the positive errno */
    size_t n;              /* SHORT(n) / CRASH(n); FP_NO_N if none */
    uint64_t k;            /* fire on the k-th hit (1-based) */
    int persist;           /* 1: also fire on every hit after the k-th */
    uint64_t hits;         /* hits of sites matching pat */
};

struct fp_site {
    const char *ptr;        /* the caller's literal, for the fast compare */
    char name[FP_NAME_MAX]; /* copy of the name */
    uint64_t hits;          /* since the last cl_fp_clear */
    uint64_t life;          /* since process start (CRAWLLOG_FP_STATS) */
    unsigned flags;         /* CL_FP_SITE_* of the wrappers seen */
};

struct fp_act {
    enum fp_kind kind;
    int err;
    size_t n;
};

static const struct {
    const char *name;
    int err;
} fp_errnos[] = {
    {"EIO", EIO},       {"ENOSPC", ENOSPC}, {"EDQUOT", EDQUOT},
    {"EINTR", EINTR},   {"EMFILE", EMFILE}, {"ENFILE", ENFILE},
    {"EACCES", EACCES}, {"EAGAIN", EAGAIN}, {"ENOMEM", ENOMEM},
    {"EROFS", EROFS},   {"EPERM", EPERM},   {"ENOENT", ENOENT},
    {"EEXIST", EEXIST}, {"ELOOP", ELOOP},   {"EFBIG", EFBIG},
    {"EBUSY", EBUSY},
};

static pthread_mutex_t fp_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t fp_once = PTHREAD_ONCE_INIT;
static int fp_env_done;                            /* guarded by fp_mu */
static struct fp_entry fp_entries[FP_MAX_ENTRIES]; /* guarded by fp_mu */
static size_t fp_nentries;                         /* guarded by fp_mu */
static struct fp_site fp_sites[FP_MAX_SITES];      /* guarded by fp_mu */
static size_t fp_nsites;                           /* guarded by fp_mu */
static uint64_t fp_total;                          /* guarded by fp_mu */
static char fp_stats_path[4096];                   /* set once, under fp_mu */

/* Decimal number >= 0, at most 10^15 (no overflow games). */
static int fp_parse_num(const char **sp, uint64_t *out)
{
    const char *s = *sp;
    uint64_t v = 0;

    if (*s < '0' || *s > '9') {
        return -1;
    }
    for (; *s >= '0' && *s <= '9'; s++) {
        v = v * 10 + (uint64_t)(*s - '0');
        if (v > 1000000000000000ULL) {
            return -1;
        }
    }
    *sp = s;
    *out = v;
    return 0;
}

/* "(" number ")" */
static int fp_parse_count(const char **sp, size_t *n)
{
    uint64_t v;

    if (**sp != '(') {
        return -1;
    }
    (*sp)++;
    if (fp_parse_num(sp, &v) != 0 || **sp != ')') {
        return -1;
    }
    (*sp)++;
    *n = (size_t)v;
    return 0;
}

/* An errno name, as a whole token of [A-Z0-9]. */
static int fp_parse_errno(const char **sp, int *err)
{
    size_t len = strspn(*sp, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
    size_t i;

    for (i = 0; i < sizeof fp_errnos / sizeof fp_errnos[0]; i++) {
        if (strlen(fp_errnos[i].name) == len &&
            strncmp(fp_errnos[i].name, *sp, len) == 0) {
            *err = fp_errnos[i].err;
            *sp += len;
            return 0;
        }
    }
    return -1;
}

static int fp_parse_action(const char **sp, struct fp_entry *ent)
{
    ent->n = FP_NO_N;
    if (strncmp(*sp, "SHORT", 5) == 0) {
        *sp += 5;
        ent->kind = FP_SHORT;
        return fp_parse_count(sp, &ent->n);
    }
    if (strncmp(*sp, "SKIP", 4) == 0) {
        *sp += 4;
        ent->kind = FP_SKIP;
        return 0;
    }
    if (strncmp(*sp, "CRASH", 5) == 0) {
        *sp += 5;
        ent->kind = FP_CRASH;
        return **sp == '(' ? fp_parse_count(sp, &ent->n) : 0;
    }
    ent->kind = FP_FAIL;
    return fp_parse_errno(sp, &ent->err);
}

/* SITE: [A-Za-z0-9._-]+ with an optional trailing '*', or "*" alone. */
static int fp_parse_site(const char *site, struct fp_entry *ent)
{
    size_t len = strspn(site, "abcdefghijklmnopqrstuvwxyz"
                              "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-");

    ent->prefix = site[len] == '*';
    if (site[len + (size_t)ent->prefix] != '\0' || len >= FP_NAME_MAX ||
        (len == 0 && !ent->prefix)) {
        return -1;
    }
    memcpy(ent->pat, site, len);
    ent->pat[len] = '\0';
    ent->patlen = len;
    return 0;
}

/* One NUL-terminated entry; e is modified. */
static int fp_parse_entry(char *e, struct fp_entry *ent)
{
    char *eq = strchr(e, '=');
    const char *s;

    memset(ent, 0, sizeof *ent);
    if (eq == NULL) {
        return -1;
    }
    *eq = '\0';
    s = eq + 1;
    if (fp_parse_site(e, ent) != 0 || fp_parse_action(&s, ent) != 0) {
        return -1;
    }
    ent->k = 1;
    if (*s == '@') {
        s++;
        if (fp_parse_num(&s, &ent->k) != 0 || ent->k == 0) {
            return -1;
        }
    }
    if (*s == ':') {
        if (strcmp(s, ":persist") != 0) {
            return -1;
        }
        ent->persist = 1;
        s += strlen(s);
    }
    return *s == '\0' ? 0 : -1;
}

/* Parse spec and, only if all of it is valid, install it.  Caller holds
 * fp_mu. */
static int fp_install(const char *spec)
{
    static struct fp_entry parsed[FP_MAX_ENTRIES]; /* guarded by fp_mu */
    char buf[FP_SPEC_MAX];
    size_t n = 0;
    char *e = buf;

    if (strlen(spec) >= sizeof buf) {
        return -EINVAL;
    }
    strcpy(buf, spec);
    while (e != NULL) {
        char *semi = strchr(e, ';');
        if (semi != NULL) {
            *semi = '\0';
        }
        if (*e != '\0') {
            if (n == FP_MAX_ENTRIES || fp_parse_entry(e, &parsed[n]) != 0) {
                return -EINVAL;
            }
            n++;
        }
        e = semi != NULL ? semi + 1 : NULL;
    }
    memcpy(fp_entries, parsed, n * sizeof parsed[0]);
    fp_nentries = n;
    return 0;
}

static void fp_dump_stats(void)
{
    FILE *f;
    size_t i;

    pthread_mutex_lock(&fp_mu);
    f = fopen(fp_stats_path, "a");
    if (f != NULL) {
        for (i = 0; i < fp_nsites; i++) {
            fprintf(f, "%s %llu\n", fp_sites[i].name,
                    (unsigned long long)fp_sites[i].life);
        }
        fclose(f);
    }
    pthread_mutex_unlock(&fp_mu);
}

/* Read CRAWLLOG_FP / CRAWLLOG_FP_STATS once.  Caller holds fp_mu. */
static void fp_load_env(void)
{
    const char *spec = getenv("CRAWLLOG_FP");
    const char *stats = getenv("CRAWLLOG_FP_STATS");

    fp_env_done = 1;
    if (stats != NULL && *stats != '\0' &&
        strlen(stats) < sizeof fp_stats_path) {
        strcpy(fp_stats_path, stats);
        atexit(fp_dump_stats);
    }
    if (spec != NULL && fp_install(spec) != 0) {
        fprintf(stderr, "libcrawllog: malformed CRAWLLOG_FP: \"%s\"\n", spec);
        abort();
    }
}

static void fp_atfork_prepare(void)
{
    pthread_mutex_lock(&fp_mu);
}

static void fp_atfork_release(void)
{
    pthread_mutex_unlock(&fp_mu);
}

static void fp_init_once(void)
{
    pthread_atfork(fp_atfork_prepare, fp_atfork_release, fp_atfork_release);
}

static void fp_lock(void)
{
    pthread_once(&fp_once, fp_init_once);
    pthread_mutex_lock(&fp_mu);
    if (!fp_env_done) {
        fp_load_env();
    }
}

/* Index of site in fp_sites, adding it if there is room; FP_MAX_SITES if
 * it is not (and cannot be) tracked.  Caller holds fp_mu. */
static size_t fp_site_index(const char *site, int add)
{
    size_t i;

    for (i = 0; i < fp_nsites; i++) {
        if (fp_sites[i].ptr == site) {
            return i;
        }
    }
    for (i = 0; i < fp_nsites; i++) {
        if (strcmp(fp_sites[i].name, site) == 0) {
            return i;
        }
    }
    if (!add || fp_nsites == FP_MAX_SITES || strlen(site) >= FP_NAME_MAX) {
        return FP_MAX_SITES;
    }
    i = fp_nsites++;
    fp_sites[i].ptr = site;
    strcpy(fp_sites[i].name, site);
    fp_sites[i].hits = 0;
    fp_sites[i].life = 0;
    fp_sites[i].flags = 0;
    return i;
}

static int fp_entry_matches(const struct fp_entry *ent, const char *site)
{
    if (ent->prefix) {
        return strncmp(site, ent->pat, ent->patlen) == 0;
    }
    return strcmp(site, ent->pat) == 0;
}

/* Count one hit of site (made by a wrapper of kind flags, CL_FP_SITE_*)
 * and return what the configuration says to do. */
static struct fp_act fp_hit(const char *site, unsigned flags)
{
    struct fp_act act = {FP_NONE, 0, 0};
    size_t i;

    fp_lock();
    i = fp_site_index(site, 1);
    if (i < FP_MAX_SITES) {
        fp_sites[i].hits++;
        fp_sites[i].life++;
        fp_sites[i].flags |= flags;
    }
    if (strcmp(site, "malloc") != 0) {
        fp_total++;
    }
    for (i = 0; i < fp_nentries; i++) {
        struct fp_entry *ent = &fp_entries[i];
        if (!fp_entry_matches(ent, site)) {
            continue;
        }
        ent->hits++;
        if (act.kind == FP_NONE &&
            (ent->hits == ent->k || (ent->persist && ent->hits > ent->k))) {
            act.kind = ent->kind;
            act.err = ent->err;
            act.n = ent->n;
        }
    }
    pthread_mutex_unlock(&fp_mu);
    return act;
}

int cl_fp_check(const char *site, int can_skip, int *eintr)
{
    struct fp_act act =
        fp_hit(site, eintr != NULL ? CL_FP_SITE_EINTR : CL_FP_SITE_NOEINTR);

    if (act.kind == FP_NONE) {
        return CL_FP_GO;
    }
    if (act.kind == FP_CRASH) {
        raise(SIGKILL);
    }
    if (act.kind == FP_FAIL && act.err == EINTR && eintr != NULL) {
        *eintr = 1;
        return CL_FP_GO;
    }
    if (act.kind == FP_FAIL) {
        return -act.err;
    }
    return act.kind == FP_SKIP && can_skip ? CL_FP_SKIPPED : -EIO;
}

int cl_fp_check_write(const char *site, size_t len, size_t *prefixp, int *eintr)
{
    struct fp_act act = fp_hit(site, CL_FP_SITE_EINTR | CL_FP_SITE_WRITE);

    *prefixp = act.n < len ? act.n : len;
    switch (act.kind) {
    case FP_SHORT:
        return CL_FP_SHORT;
    case FP_CRASH:
        if (act.n != FP_NO_N) {
            return CL_FP_TORN;
        }
        raise(SIGKILL);
        return -EIO; /* not reached */
    case FP_SKIP:
        return CL_FP_SKIPPED;
    case FP_FAIL:
        if (act.err == EINTR) {
            *eintr = 1;
            return CL_FP_GO;
        }
        return -act.err;
    default:
        return CL_FP_GO;
    }
}

int cl_fp_check_alloc(void)
{
    struct fp_act act = fp_hit("malloc", 0);

    if (act.kind == FP_CRASH) {
        raise(SIGKILL);
    }
    return act.kind != FP_NONE;
}

int cl_fp_boot_id(char *out, size_t size)
{
    const char *id = getenv("CRAWLLOG_BOOT_ID");

    if (id == NULL || *id == '\0' || size == 0) {
        return 0;
    }
    snprintf(out, size, "%s", id);
    return 1;
}

int cl_fp_set(const char *spec)
{
    int rc;

    if (spec == NULL) {
        return -EINVAL;
    }
    fp_lock();
    rc = fp_install(spec);
    pthread_mutex_unlock(&fp_mu);
    return rc;
}

void cl_fp_clear(void)
{
    size_t i;

    fp_lock();
    fp_nentries = 0;
    for (i = 0; i < fp_nsites; i++) {
        fp_sites[i].hits = 0;
    }
    fp_total = 0;
    pthread_mutex_unlock(&fp_mu);
}

uint64_t cl_fp_hits(const char *site)
{
    uint64_t hits = 0;
    size_t i;

    fp_lock();
    i = fp_site_index(site, 0);
    if (i < FP_MAX_SITES) {
        hits = fp_sites[i].hits;
    }
    pthread_mutex_unlock(&fp_mu);
    return hits;
}

size_t cl_fp_site_count(void)
{
    size_t n;

    fp_lock();
    n = fp_nsites;
    pthread_mutex_unlock(&fp_mu);
    return n;
}

const char *cl_fp_site_info(size_t i, uint64_t *hitsp, unsigned *flagsp)
{
    const char *name = NULL;

    fp_lock();
    if (i < fp_nsites) {
        name = fp_sites[i].name; /* never moves nor changes once added */
        *hitsp = fp_sites[i].hits;
        *flagsp = fp_sites[i].flags;
    }
    pthread_mutex_unlock(&fp_mu);
    return name;
}

uint64_t cl_fp_hits_total(void)
{
    uint64_t total;

    fp_lock();
    total = fp_total;
    pthread_mutex_unlock(&fp_mu);
    return total;
}

#endif /* CRAWLLOG_TESTING */
