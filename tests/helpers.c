/*
 * helpers.c - shared helpers for the cmocka test programs, part 1:
 * start-up, temporary directories, snapshots, processes, files and the
 * reader of "block" vector files (part 2, helpers_log.c, has line vectors,
 * randomness, clocks and log-API shortcuts; declarations in helpers.h).
 *
 * Test code: uses libc and system calls directly, never the library's io
 * layer, so that failpoints set by a test cannot break its own helpers
 * (except cl_fp_clear() in cl_test_fp_setup()).
 * nftw() needs the XSI extension level, hence _XOPEN_SOURCE below (the
 * build also defines _POSIX_C_SOURCE=200809L).
 */
#define _XOPEN_SOURCE 700

#include "helpers.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "io.h" /* cl_fp_clear() */

/* ---------------------------------------------------------------------- */
/* Start-up and failure reporting                                          */
/* ---------------------------------------------------------------------- */

/* cmocka prints some summary lines on stdout and others on stderr; with a
 * line-buffered stdout they reach a pipe in the order they were written,
 * which tests/run_tests.sh relies on to pair the lines of one group. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((constructor)) static void cl_test_line_buffer(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
}
#endif

static volatile sig_atomic_t in_child;

int cl_test_in_child(void)
{
    return in_child != 0;
}

_Noreturn void cl_test_fail_at(const char *file, int line)
{
    if (in_child) {
        fprintf(stderr, "%s:%d: failure in a forked child (pid %ld)\n", file,
                line, (long)getpid());
        fflush(stdout);
        fflush(stderr);
        _exit(CL_TEST_CHILD_FAILED);
    }
    _fail(file, line);
    abort(); /* _fail() longjmps back into cmocka or exits */
}

_Noreturn void cl_test_failf_at(const char *file, int line, const char *fmt,
                                ...)
{
    char msg[8192];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    print_error("%s\n", msg);
    cl_test_fail_at(file, line);
}

/* Helpers fail with the location of the helper plus a message that names
 * the operation and path, which is what identifies the problem. */
#define HFAIL(...) cl_test_failf_at(__FILE__, __LINE__, __VA_ARGS__)

/* ---------------------------------------------------------------------- */
/* Temporary directories                                                   */
/* ---------------------------------------------------------------------- */

int cl_test_tmpdir_setup(void **state)
{
    const char *base = getenv("TMPDIR");
    struct cl_test_dir *d;
    size_t blen;
    int n;

    if (base == NULL || base[0] == '\0') {
        base = "/tmp";
    }
    blen = strlen(base);
    while (blen > 1 && base[blen - 1] == '/') {
        blen--;
    }
    d = calloc(1, sizeof(*d));
    if (d == NULL) {
        print_error("cl_test_tmpdir_setup: out of memory\n");
        return -1;
    }
    n = snprintf(d->path, sizeof(d->path), "%.*s/crawllog-test-XXXXXX",
                 (int)blen, base);
    if (n < 0 || (size_t)n >= sizeof(d->path)) {
        print_error("cl_test_tmpdir_setup: TMPDIR too long\n");
        free(d);
        return -1;
    }
    if (mkdtemp(d->path) == NULL) {
        print_error("cl_test_tmpdir_setup: mkdtemp %s: %s\n", d->path,
                    strerror(errno));
        free(d);
        return -1;
    }
    *state = d;
    return 0;
}

int cl_test_tmpdir_teardown(void **state)
{
    struct cl_test_dir *d = *state;

    if (d == NULL) {
        return 0;
    }
    if (getenv("CL_TEST_KEEP") != NULL) {
        printf("CL_TEST_KEEP: kept %s\n", d->path);
    } else {
        cl_test_rmrf(d->path);
    }
    free(d);
    *state = NULL;
    return 0;
}

int cl_test_fp_setup(void **state)
{
    cl_fp_clear();
    return cl_test_tmpdir_setup(state);
}

int cl_test_fp_teardown(void **state)
{
    cl_fp_clear();
    return cl_test_tmpdir_teardown(state);
}

/* Set by rmrf_fix_cb when some directory could not be read or an entry not
 * stat'ed: another pass is needed after the permissions were fixed. */
static int rmrf_retry;

static int rmrf_fix_cb(const char *path, const struct stat *st, int type,
                       struct FTW *info)
{
    (void)info;
    if (type == FTW_NS) {
        rmrf_retry = 1;
        return 0;
    }
    if ((type == FTW_D || type == FTW_DNR) && (st->st_mode & 0700) != 0700) {
        if (chmod(path, (st->st_mode & 07777) | 0700) == 0) {
            rmrf_retry = 1;
        }
    }
    return 0;
}

static int rmrf_remove_cb(const char *path, const struct stat *st, int type,
                          struct FTW *info)
{
    int rc;

    (void)st;
    (void)info;
    rc = (type == FTW_DP) ? rmdir(path) : unlink(path);
    if (rc != 0 && errno != ENOENT) {
        fprintf(stderr, "cl_test_rmrf: remove %s: %s\n", path, strerror(errno));
    }
    return 0;
}

void cl_test_rmrf(const char *path)
{
    struct stat st;
    int pass;

    if (lstat(path, &st) != 0) {
        return;
    }
    /* Make every directory rwx for its owner so that it can be listed and
     * emptied; a directory that was unreadable is only entered by the next
     * pass, hence the loop. */
    for (pass = 0; pass < 64; pass++) {
        rmrf_retry = 0;
        nftw(path, rmrf_fix_cb, 32, FTW_PHYS);
        if (!rmrf_retry) {
            break;
        }
    }
    if (nftw(path, rmrf_remove_cb, 32, FTW_DEPTH | FTW_PHYS) != 0 &&
        errno != ENOENT) {
        fprintf(stderr, "cl_test_rmrf: %s: %s\n", path, strerror(errno));
    }
}

char *cl_test_path(char *buf, size_t size, const char *dir, const char *rel)
{
    int n = snprintf(buf, size, "%s/%s", dir, rel);

    if (n < 0 || (size_t)n >= size) {
        HFAIL("cl_test_path: %s/%s does not fit in %zu bytes", dir, rel, size);
    }
    return buf;
}

void cl_test_shadow_run_init(struct cl_test_shadow_run *r, const char *base,
                             const char *tag)
{
    cl_test_path(r->dir, sizeof(r->dir), base, tag);
    cl_test_path(r->real, sizeof(r->real), r->dir, "real");
    cl_test_path(r->shadow, sizeof(r->shadow), r->dir, "shadow");
    cl_test_path(r->img, sizeof(r->img), r->dir, "img");
    if (mkdir(r->dir, 0700) != 0 || mkdir(r->real, 0700) != 0) {
        HFAIL("mkdir %s: %s", r->dir, strerror(errno));
    }
}

int cl_test_open_after_power_loss(const char *img, crawllog_t **logp, char *why,
                                  size_t why_size)
{
    char data[800];
    setenv("CRAWLLOG_BOOT_ID", "simulated-reboot-after-power-loss", 1);
    cl_test_path(data, sizeof(data), img, "data");
    return crawllog_open(logp, data, NULL, why, why_size);
}

/* ---------------------------------------------------------------------- */
/* Directory snapshots                                                     */
/* ---------------------------------------------------------------------- */

struct snap_ent {
    char *path;       /* relative to the snapshot root; "." for the root */
    mode_t mode;      /* st_mode: type and permission bits */
    uint64_t size;    /* regular files and symbolic links, else 0 */
    uint64_t nlink;   /* regular files, else 0 */
    int64_t mtime_ns; /* st_mtim */
    uint64_t hash;    /* FNV-1a 64 of the content or link target */
};

struct cl_test_snap {
    struct snap_ent *ents;
    size_t count;
    size_t cap;
};

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static uint64_t fnv1a(uint64_t h, const unsigned char *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        h ^= p[i];
        h *= FNV_PRIME;
    }
    return h;
}

static uint64_t hash_file(const char *path)
{
    unsigned char buf[65536];
    uint64_t h = FNV_OFFSET;
    ssize_t n;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

    if (fd < 0 && errno == EACCES) {
        return 0; /* unreadable (not root): only the metadata is compared */
    }
    if (fd < 0) {
        HFAIL("snapshot: open %s: %s", path, strerror(errno));
    }
    for (;;) {
        n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            int e = errno;
            close(fd);
            HFAIL("snapshot: read %s: %s", path, strerror(e));
        }
        if (n == 0) {
            break;
        }
        h = fnv1a(h, buf, (size_t)n);
    }
    close(fd);
    return h;
}

static uint64_t hash_link(const char *path, uint64_t *lenp)
{
    char target[4096];
    ssize_t n = readlink(path, target, sizeof(target));

    if (n < 0) {
        HFAIL("snapshot: readlink %s: %s", path, strerror(errno));
    }
    *lenp = (uint64_t)n;
    return fnv1a(FNV_OFFSET, (const unsigned char *)target, (size_t)n);
}

static void snap_add(struct cl_test_snap *s, const char *rel, const char *full,
                     const struct stat *st)
{
    struct snap_ent *e;

    if (s->count == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        void *p = realloc(s->ents, cap * sizeof(*s->ents));
        if (p == NULL) {
            HFAIL("snapshot: out of memory");
        }
        s->ents = p;
        s->cap = cap;
    }
    e = &s->ents[s->count];
    memset(e, 0, sizeof(*e));
    e->path = strdup(rel);
    if (e->path == NULL) {
        HFAIL("snapshot: out of memory");
    }
    s->count++;
    e->mode = st->st_mode;
    e->mtime_ns =
        (int64_t)st->st_mtim.tv_sec * 1000000000 + (int64_t)st->st_mtim.tv_nsec;
    if (S_ISREG(st->st_mode)) {
        e->size = (uint64_t)st->st_size;
        e->nlink = (uint64_t)st->st_nlink;
        e->hash = hash_file(full);
    } else if (S_ISLNK(st->st_mode)) {
        e->hash = hash_link(full, &e->size);
    }
}

/* Names in a directory except . and .., malloc'd (count in *np). */
static char **list_dir(const char *full, size_t *np)
{
    DIR *dir = opendir(full);
    struct dirent *de;
    char **names = NULL;
    size_t n = 0, cap = 0;

    if (dir == NULL && errno == EACCES) {
        *np = 0; /* unreadable (not root): its entries are not recorded */
        return NULL;
    }
    if (dir == NULL) {
        HFAIL("snapshot: opendir %s: %s", full, strerror(errno));
    }
    while ((de = readdir(dir)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }
        if (n == cap) {
            void *p;
            cap = cap ? cap * 2 : 16;
            p = realloc(names, cap * sizeof(*names));
            if (p == NULL) {
                HFAIL("snapshot: out of memory");
            }
            names = p;
        }
        names[n] = strdup(de->d_name);
        if (names[n] == NULL) {
            HFAIL("snapshot: out of memory");
        }
        n++;
    }
    closedir(dir);
    *np = n;
    return names;
}

static void snap_walk(struct cl_test_snap *s, const char *root, const char *rel)
{
    char full[8192], child[4096];
    struct stat st;
    char **names;
    size_t n, i;

    if (strcmp(rel, ".") == 0) {
        snprintf(full, sizeof(full), "%s", root);
    } else {
        snprintf(full, sizeof(full), "%s/%s", root, rel);
    }
    if (lstat(full, &st) != 0) {
        HFAIL("snapshot: lstat %s: %s", full, strerror(errno));
    }
    snap_add(s, rel, full, &st);
    if (!S_ISDIR(st.st_mode)) {
        return;
    }
    names = list_dir(full, &n);
    for (i = 0; i < n; i++) {
        int len = strcmp(rel, ".") == 0
                      ? snprintf(child, sizeof(child), "%s", names[i])
                      : snprintf(child, sizeof(child), "%s/%s", rel, names[i]);
        if (len < 0 || (size_t)len >= sizeof(child)) {
            HFAIL("snapshot: path too long under %s", root);
        }
        snap_walk(s, root, child);
        free(names[i]);
    }
    free(names);
}

static int snap_ent_cmp(const void *a, const void *b)
{
    const struct snap_ent *x = a, *y = b;

    return strcmp(x->path, y->path);
}

struct cl_test_snap *cl_test_snap_take(const char *dir)
{
    struct cl_test_snap *s = calloc(1, sizeof(*s));
    struct stat st;

    if (s == NULL) {
        HFAIL("snapshot: out of memory");
    }
    if (lstat(dir, &st) != 0) {
        if (errno == ENOENT) {
            return s;
        }
        HFAIL("snapshot: lstat %s: %s", dir, strerror(errno));
    }
    snap_walk(s, dir, ".");
    if (s->count > 1) {
        qsort(s->ents, s->count, sizeof(*s->ents), snap_ent_cmp);
    }
    return s;
}

size_t cl_test_snap_count(const struct cl_test_snap *snap)
{
    return snap ? snap->count : 0;
}

void cl_test_snap_free(struct cl_test_snap *snap)
{
    size_t i;

    if (snap == NULL) {
        return;
    }
    for (i = 0; i < snap->count; i++) {
        free(snap->ents[i].path);
    }
    free(snap->ents);
    free(snap);
}

/* Appends printf output to a bounded diff buffer. */
struct diffbuf {
    char *buf;
    size_t size;
    size_t len;
};

static void diff_add(struct diffbuf *d, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void diff_add(struct diffbuf *d, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (d->buf == NULL || d->size == 0 || d->len + 1 >= d->size) {
        return;
    }
    va_start(ap, fmt);
    n = vsnprintf(d->buf + d->len, d->size - d->len, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    if ((size_t)n >= d->size - d->len) {
        d->len = d->size - 1; /* truncated: mark the end */
        if (d->size > 4) {
            memcpy(d->buf + d->size - 4, "...", 4);
        }
    } else {
        d->len += (size_t)n;
    }
}

/* Describe how two entries with the same path differ; 0 if they do not. */
static int ent_diff(struct diffbuf *d, const struct snap_ent *a,
                    const struct snap_ent *b)
{
    char what[512];
    size_t w = 0;

    what[0] = '\0';
#define WHAT(...)                                                              \
    do {                                                                       \
        int n_ = snprintf(what + w, sizeof(what) - w, __VA_ARGS__);            \
        if (n_ > 0 && (size_t)n_ < sizeof(what) - w) {                         \
            w += (size_t)n_;                                                   \
        }                                                                      \
    } while (0)
    if ((a->mode & S_IFMT) != (b->mode & S_IFMT)) {
        WHAT("%stype %o -> %o", w ? ", " : "", (unsigned)(a->mode & S_IFMT),
             (unsigned)(b->mode & S_IFMT));
    }
    if ((a->mode & 07777) != (b->mode & 07777)) {
        WHAT("%smode %04o -> %04o", w ? ", " : "", (unsigned)(a->mode & 07777),
             (unsigned)(b->mode & 07777));
    }
    if (a->size != b->size) {
        WHAT("%ssize %" PRIu64 " -> %" PRIu64, w ? ", " : "", a->size, b->size);
    }
    if (a->nlink != b->nlink) {
        WHAT("%snlink %" PRIu64 " -> %" PRIu64, w ? ", " : "", a->nlink,
             b->nlink);
    }
    if (a->mtime_ns != b->mtime_ns) {
        WHAT("%smtime", w ? ", " : "");
    }
    if (a->hash != b->hash) {
        WHAT("%scontent", w ? ", " : "");
    }
#undef WHAT
    if (w == 0) {
        return 0;
    }
    diff_add(d, "changed: %s (%s)\n", a->path, what);
    return 1;
}

int cl_test_snap_equal(const struct cl_test_snap *a,
                       const struct cl_test_snap *b, char *diff, size_t diffsz)
{
    struct diffbuf d = {diff, diffsz, 0};
    size_t i = 0, j = 0;
    int equal = 1;

    if (diff != NULL && diffsz > 0) {
        diff[0] = '\0';
    }
    while (i < a->count || j < b->count) {
        int cmp = i == a->count   ? 1
                  : j == b->count ? -1
                                  : strcmp(a->ents[i].path, b->ents[j].path);
        if (cmp < 0) {
            diff_add(&d, "removed: %s\n", a->ents[i++].path);
            equal = 0;
        } else if (cmp > 0) {
            diff_add(&d, "added: %s\n", b->ents[j++].path);
            equal = 0;
        } else {
            if (ent_diff(&d, &a->ents[i], &b->ents[j])) {
                equal = 0;
            }
            i++;
            j++;
        }
    }
    return equal;
}

/* ---------------------------------------------------------------------- */
/* Processes                                                               */
/* ---------------------------------------------------------------------- */

pid_t cl_test_fork_start(void (*fn)(void *), void *arg)
{
    pid_t pid;

    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) {
        HFAIL("fork: %s", strerror(errno));
    }
    if (pid == 0) {
        in_child = 1;
        fn(arg);
        fflush(stdout);
        fflush(stderr);
        _exit(0);
    }
    return pid;
}

int cl_test_fork_run(void (*fn)(void *), void *arg)
{
    int status;
    pid_t pid = cl_test_fork_start(fn, arg);
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            HFAIL("waitpid %ld: %s", (long)pid, strerror(errno));
        }
    }
    return status;
}

void cl_test_assert_exit_ok(int status)
{
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        return;
    }
    if (WIFEXITED(status)) {
        HFAIL("child exited with status %d%s", WEXITSTATUS(status),
              WEXITSTATUS(status) == CL_TEST_CHILD_FAILED
                  ? " (a check failed in the child)"
                  : "");
    }
    if (WIFSIGNALED(status)) {
        HFAIL("child killed by signal %d", WTERMSIG(status));
    }
    HFAIL("child wait status 0x%x", (unsigned)status);
}

void cl_test_assert_killed_by(int status, int sig)
{
    if (WIFSIGNALED(status) && WTERMSIG(status) == sig) {
        return;
    }
    if (WIFEXITED(status)) {
        HFAIL("child exited with status %d, expected signal %d",
              WEXITSTATUS(status), sig);
    }
    if (WIFSIGNALED(status)) {
        HFAIL("child killed by signal %d, expected signal %d", WTERMSIG(status),
              sig);
    }
    HFAIL("child wait status 0x%x, expected signal %d", (unsigned)status, sig);
}

long cl_test_dead_pid(void)
{
    int status = 0;
    pid_t pid = fork();

    if (pid < 0) {
        HFAIL("dead_pid: fork: %s", strerror(errno));
    }
    if (pid == 0) {
        _exit(0);
    }
    while (waitpid(pid, &status, 0) != pid) {
        if (errno != EINTR) {
            HFAIL("dead_pid: waitpid %ld: %s", (long)pid, strerror(errno));
        }
    }
    return (long)pid;
}

/* ---------------------------------------------------------------------- */
/* Files                                                                   */
/* ---------------------------------------------------------------------- */

void cl_test_write_file(const char *path, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

    if (fd < 0) {
        HFAIL("write_file: open %s: %s", path, strerror(errno));
    }
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            int e = n < 0 ? errno : EIO;
            close(fd);
            HFAIL("write_file: write %s: %s", path, strerror(e));
        }
        p += n;
        len -= (size_t)n;
    }
    if (close(fd) != 0) {
        HFAIL("write_file: close %s: %s", path, strerror(errno));
    }
}

size_t cl_test_file_size(const char *path)
{
    struct stat st;

    if (lstat(path, &st) != 0) {
        HFAIL("file_size: lstat %s: %s", path, strerror(errno));
    }
    return (size_t)st.st_size;
}

void *cl_test_read_file(const char *path, size_t *lenp)
{
    struct stat st;
    unsigned char *buf;
    size_t len = 0, cap;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0 || fstat(fd, &st) != 0) {
        HFAIL("read_file: %s: %s", path, strerror(errno));
    }
    cap = (size_t)st.st_size + 1;
    buf = malloc(cap);
    if (buf == NULL) {
        HFAIL("read_file: %s: out of memory", path);
    }
    for (;;) {
        ssize_t n;
        if (len + 1 >= cap) {
            void *p = realloc(buf, cap * 2);
            if (p == NULL) {
                HFAIL("read_file: %s: out of memory", path);
            }
            buf = p;
            cap *= 2;
        }
        n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            HFAIL("read_file: read %s: %s", path, strerror(errno));
        }
        if (n == 0) {
            break;
        }
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    if (lenp != NULL) {
        *lenp = len;
    }
    return buf;
}

void cl_test_flip_byte(const char *path, off_t pos, unsigned char xor_mask)
{
    unsigned char b;
    int fd = open(path, O_RDWR | O_CLOEXEC);

    if (fd < 0) {
        HFAIL("flip_byte: open %s: %s", path, strerror(errno));
    }
    if (pread(fd, &b, 1, pos) != 1) {
        close(fd);
        HFAIL("flip_byte: %s has no byte at offset %lld", path, (long long)pos);
    }
    b ^= xor_mask;
    if (pwrite(fd, &b, 1, pos) != 1) {
        int e = errno;
        close(fd);
        HFAIL("flip_byte: pwrite %s: %s", path, strerror(e));
    }
    close(fd);
}

void cl_test_truncate(const char *path, off_t len)
{
    if (truncate(path, len) != 0) {
        HFAIL("truncate %s to %lld: %s", path, (long long)len, strerror(errno));
    }
}

int cl_test_exists(const char *path)
{
    struct stat st;

    return lstat(path, &st) == 0;
}

size_t cl_test_count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t n = 0;

    if (d == NULL) {
        HFAIL("count_entries: opendir %s: %s", dir, strerror(errno));
    }
    while ((de = readdir(d)) != NULL) {
        n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
    }
    closedir(d);
    return n;
}

void cl_test_copy_tree(const char *src, const char *dst)
{
    struct stat st;
    struct dirent *de;
    DIR *d;

    if (lstat(src, &st) != 0) {
        HFAIL("copy_tree: lstat %s: %s", src, strerror(errno));
    }
    if (S_ISREG(st.st_mode)) {
        size_t len;
        void *buf = cl_test_read_file(src, &len);
        cl_test_write_file(dst, buf, len);
        free(buf);
        if (chmod(dst, st.st_mode & 07777) != 0) {
            HFAIL("copy_tree: chmod %s: %s", dst, strerror(errno));
        }
        return;
    }
    if (!S_ISDIR(st.st_mode)) {
        HFAIL("copy_tree: %s is neither a directory nor a regular file", src);
    }
    if (mkdir(dst, st.st_mode & 07777) != 0) {
        HFAIL("copy_tree: mkdir %s: %s", dst, strerror(errno));
    }
    if ((d = opendir(src)) == NULL) {
        HFAIL("copy_tree: opendir %s: %s", src, strerror(errno));
    }
    while ((de = readdir(d)) != NULL) {
        char s[4096], t[4096];
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
            cl_test_copy_tree(cl_test_path(s, sizeof(s), src, de->d_name),
                              cl_test_path(t, sizeof(t), dst, de->d_name));
        }
    }
    closedir(d);
}

/* ---------------------------------------------------------------------- */
/* Block vector files                                                      */
/* ---------------------------------------------------------------------- */

int cl_test_blocks_errf(struct cl_test_blocks *b, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(b->err, sizeof(b->err), "%s:%d: ", b->path, b->line);

    if (n >= 0 && (size_t)n < sizeof(b->err)) {
        va_start(ap, fmt);
        vsnprintf(b->err + n, sizeof(b->err) - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int cl_test_blocks_read(struct cl_test_blocks *b, const char *path,
                        int (*on_line)(void *ctx, char *line),
                        int (*on_case_end)(void *ctx), void *ctx)
{
    char buf[CL_TEST_BLOCK_LINE_MAX + 2]; /* the line, '\n', NUL */
    FILE *f;
    int lineno = 0, rc = 0;

    memset(b, 0, sizeof(*b));
    b->path = path;
    if ((f = fopen(path, "r")) == NULL) {
        snprintf(b->err, sizeof(b->err), "%s: cannot open: %s", path,
                 strerror(errno));
        return -1;
    }
    while (rc == 0 && fgets(buf, sizeof(buf), f) != NULL) {
        size_t len = strlen(buf);
        b->line = ++lineno;
        if (len > 0 && buf[len - 1] == '\n') {
            buf[--len] = '\0';
        } else if (!feof(f)) {
            rc = cl_test_blocks_errf(b, "line longer than %d bytes",
                                     CL_TEST_BLOCK_LINE_MAX);
            break;
        }
        while (len > 0 && (buf[len - 1] == ' ' || buf[len - 1] == '\t' ||
                           buf[len - 1] == '\r')) {
            buf[--len] = '\0';
        }
        if (buf[0] == '#') {
            const char *s = buf + 1 + strspn(buf + 1, " ");
            if (strncmp(s, "source:", 7) == 0) {
                snprintf(b->source, sizeof(b->source), "%s", s + 7);
            }
        } else if (len == 0) {
            rc = on_case_end != NULL ? on_case_end(ctx) : 0;
        } else {
            rc = on_line(ctx, buf);
        }
    }
    if (rc == 0 && ferror(f)) {
        b->line = lineno;
        rc = cl_test_blocks_errf(b, "read error: %s", strerror(errno));
    }
    fclose(f);
    if (rc == 0 && on_case_end != NULL) {
        b->line = lineno;
        rc = on_case_end(ctx);
    }
    return rc;
}

int cl_test_fast_tmpdir_setup(void **state)
{
    struct stat st;
    char *saved = getenv("TMPDIR") ? strdup(getenv("TMPDIR")) : NULL;
    if (stat("/dev/shm", &st) != 0 || !S_ISDIR(st.st_mode) ||
        access("/dev/shm", W_OK | X_OK) != 0) {
        free(saved);
        return cl_test_tmpdir_setup(state);
    }
    setenv("TMPDIR", "/dev/shm", 1);
    int rc = cl_test_tmpdir_setup(state);
    if (saved) {
        setenv("TMPDIR", saved, 1);
    } else {
        unsetenv("TMPDIR");
    }
    free(saved);
    return rc;
}
