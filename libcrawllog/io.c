/*
 * io.c - the only place that calls the OS or the allocator (layer 0).
 *
 * Purpose: thin wrappers over the system calls and allocations the library
 * needs (see io.h), each returning 0 / fd / count or a negative errno, and
 * retrying EINTR and short transfers where that is safe.  Under
 * -DCRAWLLOG_TESTING every wrapper first reports its failpoint site to the
 * failpoint engine below, which may make it fail, write a prefix, pretend
 * success or kill the process (grammar in io.h).  Without CRAWLLOG_TESTING
 * that engine is not compiled at all: no cl_fp_* symbols, no checks.
 *
 * On disk: nothing of its own.
 *
 * Invariants: every descriptor is opened O_CLOEXEC; openat adds O_NOFOLLOW
 * so a symlink in the data directory is never followed; a failed wrapper
 * leaves its out-pointers NULL.  The failpoint engine never allocates (all
 * of its tables are fixed-size), so the "malloc" site cannot recurse.
 *
 * Locks: fp_mu guards every failpoint table (entries, sites, counters, the
 * env-loaded flag).  It is a leaf lock, held only for table updates, never
 * across a system call; pthread_atfork handlers hold it across fork() so a
 * child never inherits it locked.
 */
#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h> /* renameat */
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#ifdef CRAWLLOG_TESTING
#include <pthread.h>
#endif

#include "io.h"

/* Returned by the failpoint helpers for "pretend success" (SKIP). */
#define FP_SKIPPED 1

/* ---------------------------------------------------------------------- */
/* Transfer loops                                                          */
/* ---------------------------------------------------------------------- */

/* Consume an injected EINTR: makes the next "system call" fail with EINTR
 * so that the caller's real retry path runs. */
static int fake_eintr(int *eintr)
{
    if (*eintr) {
        *eintr = 0;
        errno = EINTR;
        return 1;
    }
    return 0;
}

/* A failpoint helper's nonzero answer as a wrapper result: FP_SKIPPED
 * (pretend success) becomes 0, errors stay. */
static int skip_to_ok(int rc)
{
    return rc == FP_SKIPPED ? 0 : rc;
}

/* 0 or -errno from a system call returning 0 / -1. */
static int sys_result(int r)
{
    return r == 0 ? 0 : -errno;
}

static int write_loop(int fd, const unsigned char *p, size_t len,
                      uint64_t off, int eintr)
{
    while (len > 0) {
        size_t chunk = len > (size_t)SSIZE_MAX ? (size_t)SSIZE_MAX : len;
        ssize_t n = fake_eintr(&eintr) ? -1
                                       : pwrite(fd, p, chunk, (off_t)off);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        if (n == 0) {
            return -EIO;
        }
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Failpoint engine (CRAWLLOG_TESTING only)                                */
/* ---------------------------------------------------------------------- */

#ifdef CRAWLLOG_TESTING

enum fp_kind { FP_NONE, FP_FAIL, FP_SHORT, FP_SKIP, FP_CRASH };

#define FP_MAX_ENTRIES 64  /* far more than any test needs */
#define FP_MAX_SITES 256   /* the library has a few dozen sites */
#define FP_NAME_MAX 128    /* longest site name / pattern, with NUL */
#define FP_SPEC_MAX 4096   /* longest spec string, with NUL */
#define FP_NO_N SIZE_MAX   /* CRASH without a byte count */

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
static int fp_env_done;                          /* guarded by fp_mu */
static struct fp_entry fp_entries[FP_MAX_ENTRIES]; /* guarded by fp_mu */
static size_t fp_nentries;                       /* guarded by fp_mu */
static struct fp_site fp_sites[FP_MAX_SITES];    /* guarded by fp_mu */
static size_t fp_nsites;                         /* guarded by fp_mu */
static uint64_t fp_total;                        /* guarded by fp_mu */
static char fp_stats_path[4096];                 /* set once, under fp_mu */

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
        fprintf(stderr, "libcrawllog: malformed CRAWLLOG_FP: \"%s\"\n",
                spec);
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
    return i;
}

static int fp_entry_matches(const struct fp_entry *ent, const char *site)
{
    if (ent->prefix) {
        return strncmp(site, ent->pat, ent->patlen) == 0;
    }
    return strcmp(site, ent->pat) == 0;
}

/* Count one hit of site and return what the configuration says to do. */
static struct fp_act fp_hit(const char *site)
{
    struct fp_act act = {FP_NONE, 0, 0};
    size_t i;

    fp_lock();
    i = fp_site_index(site, 1);
    if (i < FP_MAX_SITES) {
        fp_sites[i].hits++;
        fp_sites[i].life++;
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

/* Failpoint for a call without partial effects.  Returns 0 to go on,
 * FP_SKIPPED to pretend success (only if can_skip) or a negative errno.
 * With eintr != NULL an injected EINTR sets *eintr and goes on. */
static int fp_simple(const char *site, int can_skip, int *eintr)
{
    struct fp_act act = fp_hit(site);

    if (act.kind == FP_NONE) {
        return 0;
    }
    if (act.kind == FP_CRASH) {
        raise(SIGKILL);
    }
    if (act.kind == FP_FAIL && act.err == EINTR && eintr != NULL) {
        *eintr = 1;
        return 0;
    }
    if (act.kind == FP_FAIL) {
        return -act.err;
    }
    return act.kind == FP_SKIP && can_skip ? FP_SKIPPED : -EIO;
}

/* Failpoint of pwrite_all: as fp_simple, plus SHORT(n) and CRASH(n), which
 * really write the first n bytes. */
static int fp_pwrite(const char *site, int fd, const void *buf, size_t len,
                     uint64_t off, int *eintr)
{
    struct fp_act act = fp_hit(site);
    size_t n = act.n < len ? act.n : len;

    if (act.kind == FP_SHORT) {
        int rc = write_loop(fd, buf, n, off, 0);
        return rc < 0 ? rc : -ENOSPC;
    }
    if (act.kind == FP_CRASH) {
        if (act.n != FP_NO_N) {
            (void)write_loop(fd, buf, n, off, 0);
        }
        raise(SIGKILL);
    }
    if (act.kind == FP_SKIP) {
        return FP_SKIPPED;
    }
    if (act.kind == FP_FAIL && act.err == EINTR) {
        *eintr = 1;
        return 0;
    }
    return act.kind == FP_FAIL ? -act.err : 0;
}

/* 1 if this allocation must fail. */
static int fp_alloc_fails(void)
{
    struct fp_act act = fp_hit("malloc");

    if (act.kind == FP_CRASH) {
        raise(SIGKILL);
    }
    return act.kind != FP_NONE;
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

uint64_t cl_fp_hits_total(void)
{
    uint64_t total;

    fp_lock();
    total = fp_total;
    pthread_mutex_unlock(&fp_mu);
    return total;
}

#else /* !CRAWLLOG_TESTING: failpoints compile to nothing */

#define fp_simple(site, can_skip, eintr) ((void)(site), 0)
#define fp_pwrite(site, fd, buf, len, off, eintr) ((void)(site), 0)
#define fp_alloc_fails() 0

#endif /* CRAWLLOG_TESTING */

/* ---------------------------------------------------------------------- */
/* Files and directories                                                   */
/* ---------------------------------------------------------------------- */

/* openat(2) retrying EINTR (real or injected); dirfd may be AT_FDCWD. */
static int open_retry(const char *site, int dirfd, const char *name,
                      int flags, mode_t mode)
{
    int eintr = 0;
    int rc = fp_simple(site, 0, &eintr);

    if (rc != 0) {
        return rc;
    }
    for (;;) {
        int fd = fake_eintr(&eintr) ? -1 : openat(dirfd, name, flags, mode);
        if (fd >= 0) {
            return fd;
        }
        if (errno != EINTR) {
            return -errno;
        }
    }
}

int cl_io_open(const char *site, const char *path, int flags, mode_t mode)
{
    return open_retry(site, AT_FDCWD, path, flags | O_CLOEXEC, mode);
}

int cl_io_openat(const char *site, int dirfd, const char *name, int flags,
                 mode_t mode)
{
    return open_retry(site, dirfd, name, flags | O_CLOEXEC | O_NOFOLLOW,
                      mode);
}

int cl_io_close(int fd)
{
    if (close(fd) != 0 && errno != EINTR) {
        return -errno;
    }
    return 0;
}

int cl_io_mkdirat(const char *site, int dirfd, const char *name,
                  mode_t mode)
{
    int rc = fp_simple(site, 1, NULL);

    return rc != 0 ? skip_to_ok(rc) : sys_result(mkdirat(dirfd, name, mode));
}

int cl_io_pwrite_all(const char *site, int fd, const void *buf, size_t len,
                     uint64_t off)
{
    int eintr = 0;
    int rc = fp_pwrite(site, fd, buf, len, off, &eintr);

    if (rc != 0) {
        return skip_to_ok(rc);
    }
    if (off > (uint64_t)INT64_MAX || len > (uint64_t)INT64_MAX - off) {
        return -EINVAL;
    }
    return write_loop(fd, buf, len, off, eintr);
}

ssize_t cl_io_pread_all(const char *site, int fd, void *buf, size_t len,
                        uint64_t off)
{
    unsigned char *p = buf;
    size_t done = 0;
    int eintr = 0;
    int rc = fp_simple(site, 0, &eintr);

    if (rc != 0) {
        return rc;
    }
    if (len > (size_t)SSIZE_MAX || off > (uint64_t)INT64_MAX ||
        len > (uint64_t)INT64_MAX - off) {
        return -EINVAL;
    }
    while (done < len) {
        ssize_t n = fake_eintr(&eintr)
                        ? -1
                        : pread(fd, p + done, len - done, (off_t)(off + done));
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        if (n == 0) {
            break;
        }
        done += (size_t)n;
    }
    return (ssize_t)done;
}

int cl_io_fdatasync(const char *site, int fd)
{
    int rc = fp_simple(site, 1, NULL);

    return rc != 0 ? skip_to_ok(rc) : sys_result(fdatasync(fd));
}

int cl_io_fsync(const char *site, int fd)
{
    int rc = fp_simple(site, 1, NULL);

    return rc != 0 ? skip_to_ok(rc) : sys_result(fsync(fd));
}

int cl_io_ftruncate(const char *site, int fd, uint64_t len)
{
    int eintr = 0;
    int rc = fp_simple(site, 1, &eintr);

    if (rc != 0) {
        return skip_to_ok(rc);
    }
    if (len > (uint64_t)INT64_MAX) {
        return -EINVAL;
    }
    for (;;) {
        if (!fake_eintr(&eintr) && ftruncate(fd, (off_t)len) == 0) {
            return 0;
        }
        if (errno != EINTR) {
            return -errno;
        }
    }
}

int cl_io_renameat(const char *site, int olddirfd, const char *oldname,
                   int newdirfd, const char *newname)
{
    int rc = fp_simple(site, 1, NULL);

    if (rc != 0) {
        return skip_to_ok(rc);
    }
    return sys_result(renameat(olddirfd, oldname, newdirfd, newname));
}

int cl_io_unlinkat(const char *site, int dirfd, const char *name, int flags)
{
    int rc = fp_simple(site, 1, NULL);

    return rc != 0 ? skip_to_ok(rc) : sys_result(unlinkat(dirfd, name, flags));
}

int cl_io_fstat(const char *site, int fd, struct stat *st)
{
    int rc = fp_simple(site, 0, NULL);

    return rc != 0 ? skip_to_ok(rc) : sys_result(fstat(fd, st));
}

int cl_io_fstatat(const char *site, int dirfd, const char *name,
                  struct stat *st)
{
    int rc = fp_simple(site, 0, NULL);

    if (rc != 0) {
        return rc;
    }
    return sys_result(fstatat(dirfd, name, st, AT_SYMLINK_NOFOLLOW));
}

/* ---------------------------------------------------------------------- */
/* Locks                                                                   */
/* ---------------------------------------------------------------------- */

int cl_io_lock(const char *site, int fd, int exclusive, int wait)
{
    int op = (exclusive ? LOCK_EX : LOCK_SH) | (wait ? 0 : LOCK_NB);
    int eintr = 0;
    int rc = fp_simple(site, 1, &eintr);

    if (rc != 0) {
        return skip_to_ok(rc);
    }
    for (;;) {
        if (!fake_eintr(&eintr) && flock(fd, op) == 0) {
            return 0;
        }
        if (errno != EINTR) {
            return errno == EAGAIN ? -EWOULDBLOCK : -errno;
        }
    }
}

int cl_io_unlock(int fd)
{
    return flock(fd, LOCK_UN) == 0 ? 0 : -errno;
}

/* ---------------------------------------------------------------------- */
/* Directory listing                                                       */
/* ---------------------------------------------------------------------- */

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Collect every name of d except "." and ".." (unsorted). */
static int read_names(DIR *d, char ***namesp, size_t *countp)
{
    char **names = NULL;
    size_t count = 0, cap = 0;

    for (;;) {
        struct dirent *de;
        errno = 0;
        de = readdir(d);
        if (de == NULL) {
            break;
        }
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }
        if (count == cap) {
            size_t ncap = cap == 0 ? 16 : cap * 2;
            char **nn = cl_io_realloc(names, ncap * sizeof *nn);
            if (nn == NULL) {
                cl_io_listdir_free(names, count);
                return -ENOMEM;
            }
            names = nn;
            cap = ncap;
        }
        names[count] = cl_io_strdup(de->d_name);
        if (names[count] == NULL) {
            cl_io_listdir_free(names, count);
            return -ENOMEM;
        }
        count++;
    }
    if (errno != 0) {
        int rc = -errno;
        cl_io_listdir_free(names, count);
        return rc;
    }
    *namesp = names;
    *countp = count;
    return 0;
}

/* A fresh open file description of the directory (not a dup) gives this
 * listing its own read position, so two threads may list one dirfd. */
int cl_io_listdir(const char *site, int dirfd, char ***namesp,
                  size_t *countp)
{
    DIR *d;
    int fd, rc;

    *namesp = NULL;
    *countp = 0;
    rc = fp_simple(site, 0, NULL);
    if (rc != 0) {
        return rc;
    }
    fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    d = fdopendir(fd);
    if (d == NULL) {
        rc = -errno;
        close(fd);
        return rc;
    }
    rewinddir(d);
    rc = read_names(d, namesp, countp);
    closedir(d);
    if (rc == 0 && *countp > 1) {
        qsort(*namesp, *countp, sizeof **namesp, cmp_names);
    }
    return rc;
}

void cl_io_listdir_free(char **names, size_t count)
{
    size_t i;

    if (names == NULL) {
        return;
    }
    for (i = 0; i < count; i++) {
        free(names[i]);
    }
    free(names);
}

/* ---------------------------------------------------------------------- */
/* Memory maps and allocation                                              */
/* ---------------------------------------------------------------------- */

int cl_io_mmap_shared(const char *site, int fd, size_t len, void **addrp)
{
    void *addr;
    int rc;

    *addrp = NULL;
    rc = fp_simple(site, 0, NULL);
    if (rc != 0) {
        return rc;
    }
    addr = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (addr == MAP_FAILED) {
        return -errno;
    }
    *addrp = addr;
    return 0;
}

void cl_io_munmap(void *addr, size_t len)
{
    if (addr != NULL) {
        (void)munmap(addr, len);
    }
}

void *cl_io_malloc(size_t n)
{
    if (fp_alloc_fails()) {
        return NULL;
    }
    return malloc(n != 0 ? n : 1);
}

void *cl_io_calloc(size_t n, size_t size)
{
    if (fp_alloc_fails()) {
        return NULL;
    }
    if (n == 0 || size == 0) {
        n = 1;
        size = 1;
    }
    return calloc(n, size);
}

void *cl_io_realloc(void *p, size_t n)
{
    if (fp_alloc_fails()) {
        return NULL;
    }
    return realloc(p, n != 0 ? n : 1);
}

char *cl_io_strdup(const char *s)
{
    size_t len = strlen(s) + 1;
    char *d = cl_io_malloc(len);

    if (d != NULL) {
        memcpy(d, s, len);
    }
    return d;
}

void cl_io_free(void *p)
{
    free(p);
}

/* ---------------------------------------------------------------------- */
/* Clocks                                                                  */
/* ---------------------------------------------------------------------- */

int64_t cl_io_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t cl_io_mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int cl_io_boot_id(char *out, size_t size)
{
    if (size == 0) {
        return -EINVAL;
    }
    out[0] = '\0';
    int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    ssize_t n;
    do {
        n = read(fd, out, size - 1);
    } while (n < 0 && errno == EINTR);
    int e = errno;
    close(fd);
    if (n <= 0) {
        out[0] = '\0';
        return n < 0 ? -e : -EIO;
    }
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' ')) {
        n--;
    }
    out[n] = '\0';
    return 0;
}

int cl_io_pid_alive(long pid)
{
    if (pid <= 0 || pid > INT_MAX) {
        return 0;
    }
    return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}
