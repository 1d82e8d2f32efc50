/*
 * helpers.c - shared helpers for the cmocka test programs (see helpers.h).
 *
 * Test code: uses libc and system calls directly, never the library's io
 * layer, so that failpoints set by a test cannot break its own helpers.
 * The exceptions are the log API shortcuts at the end, which are calls of
 * the public API by definition, and cl_fp_clear() in cl_test_fp_setup().
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

int cl_test_fork_run(void (*fn)(void *), void *arg)
{
    pid_t pid;
    int status;

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
