/*
 * shadow.c - the power-loss crash simulator (layer 0, CRAWLLOG_TESTING
 * only; the model and the API are described in shadow.h).
 *
 * Purpose: record, beside a real directory tree, what a power loss would
 * leave of it, from the syncs io.c reports, and build that image.  This is
 * test instrumentation inside the I/O layer: it uses raw system calls and
 * malloc (never the cl_io_* wrappers, so it hits no failpoint and never
 * recurses), and it runs only while enabled.  Any failure to record aborts
 * the process: a simulator that silently missed a sync would make a
 * durability test lie.
 *
 * On disk, below the shadow root (never inside the real root):
 *   .lock                      fcntl write-locked around every update
 *   .root                      "<dev> <ino>\n<canonical real root>\n"
 *   .gen/<dev>-<ino>           decimal generation of an inode number,
 *                              bumped when the number is (re)created
 *   .inodes/<dev>-<ino>-<gen>  content of that inode at its last sync
 *   .dirs/<dev>-<ino>-<gen>    entries of that directory at its last sync:
 *                              lines "<f|d> <dev> <ino> <gen> <name>"
 * Updates are written to a tmp name and renamed, so a process killed in
 * the middle leaves the previous record intact.
 *
 * Invariants: only regular files and directories are recorded (the
 * library creates nothing else); names holding '\n' are skipped; a record
 * exists only for an inode generation that was synced (or was present when
 * the shadow root was first set up).
 *
 * Locks: sh_mu guards the process-wide state (enabled flag, roots); the
 * .lock file serializes processes sharing a shadow root.  Order: sh_mu,
 * then .lock.  pthread_atfork handlers hold sh_mu across fork().
 */

/* ISO C forbids an empty translation unit: this keeps the release object
 * valid and symbol-free. */
typedef int cl_shadow_unit;

#ifdef CRAWLLOG_TESTING

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shadow.h"

#define SH_PATH 4096  /* longest path handled, with NUL */
#define SH_DEPTH 64   /* deepest directory nesting walked */

struct sh_key {
    uint64_t dev, ino, gen;
};

static pthread_mutex_t sh_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t sh_once = PTHREAD_ONCE_INIT;
static int sh_env_done;     /* guarded by sh_mu */
static int sh_on;           /* guarded by sh_mu */
static char sh_real[SH_PATH]; /* canonical real root; guarded by sh_mu */
static char sh_dir[SH_PATH];  /* canonical shadow root; guarded by sh_mu */

/* ---- small raw helpers ------------------------------------------------ */

static _Noreturn void sh_die(const char *what, const char *path, int err)
{
    fprintf(stderr, "libcrawllog shadow: %s %s: %s\n", what, path,
            strerror(err));
    abort();
}

static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return n < 0 ? -errno : -EIO;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Whole content of fd (read from its current position) into a malloc'd
 * buffer with room for one more byte; *lenp gets the length. */
static int read_fd(int fd, char **bufp, size_t *lenp)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (buf == NULL) {
            return -ENOMEM;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            int rc = -errno;
            free(buf);
            return rc;
        }
        if (n == 0) {
            break;
        }
        len += (size_t)n;
        if (len == cap) {
            char *nb = realloc(buf, cap * 2);
            if (nb == NULL) {
                free(buf);
            }
            buf = nb;
            cap *= 2;
        }
    }
    *bufp = buf;
    *lenp = len;
    return 0;
}

/* Content of a file; a missing file gives an empty buffer. */
static int read_path(const char *path, char **bufp, size_t *lenp)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        *bufp = NULL;
        *lenp = 0;
        return errno == ENOENT ? 0 : -errno;
    }
    int rc = read_fd(fd, bufp, lenp);
    close(fd);
    return rc;
}

/* Create path with exactly buf[0, len). */
static int write_path(const char *path, const void *buf, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        return -errno;
    }
    int rc = write_all(fd, buf, len);
    if (close(fd) != 0 && rc == 0) {
        rc = -errno;
    }
    return rc;
}

/* Replace path atomically (tmp + rename) with buf[0, len). */
static int replace_path(const char *path, const void *buf, size_t len)
{
    char tmp[SH_PATH + 32];
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    int rc = write_path(tmp, buf, len);
    if (rc == 0 && rename(tmp, path) != 0) {
        rc = -errno;
    }
    if (rc != 0) {
        unlink(tmp);
    }
    return rc;
}

static void key_name(char *out, size_t size, const char *root,
                     const char *sub, const struct sh_key *k)
{
    snprintf(out, size, "%s/%s/%" PRIu64 "-%" PRIu64 "-%" PRIu64, root, sub,
             k->dev, k->ino, k->gen);
}

static uint64_t gen_read(const char *root, uint64_t dev, uint64_t ino)
{
    char path[SH_PATH + 64], *buf;
    size_t len;
    uint64_t gen = 0;
    snprintf(path, sizeof(path), "%s/.gen/%" PRIu64 "-%" PRIu64, root, dev,
             ino);
    if (read_path(path, &buf, &len) != 0) {
        sh_die("cannot read", path, EIO);
    }
    for (size_t i = 0; i < len && buf[i] >= '0' && buf[i] <= '9'; i++) {
        gen = gen * 10 + (uint64_t)(buf[i] - '0');
    }
    free(buf);
    return gen;
}

static void gen_bump(const char *root, uint64_t dev, uint64_t ino)
{
    char path[SH_PATH + 64], text[32];
    uint64_t gen = gen_read(root, dev, ino) + 1;
    snprintf(path, sizeof(path), "%s/.gen/%" PRIu64 "-%" PRIu64, root, dev,
             ino);
    int n = snprintf(text, sizeof(text), "%" PRIu64 "\n", gen);
    int rc = replace_path(path, text, (size_t)n);
    if (rc != 0) {
        sh_die("cannot write", path, -rc);
    }
}

/* fcntl write lock on <root>/.lock; returns the fd to close, or -errno.
 * (A POSIX record lock, not flock: flock is not in POSIX.  Within this
 * process sh_mu already serializes, so its per-process scope is fine.) */
static int file_lock(const char *root)
{
    char path[SH_PATH + 16];
    struct flock fl;
    snprintf(path, sizeof(path), "%s/.lock", root);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        return -errno;
    }
    memset(&fl, 0, sizeof(fl));
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    while (fcntl(fd, F_SETLKW, &fl) != 0) {
        if (errno != EINTR) {
            int rc = -errno;
            close(fd);
            return rc;
        }
    }
    return fd;
}

/* file_lock for the recording paths, where a failure is fatal. */
static int file_lock_or_die(const char *root)
{
    int fd = file_lock(root);
    if (fd < 0) {
        sh_die("cannot lock", root, -fd);
    }
    return fd;
}

static void file_unlock(int fd)
{
    close(fd); /* drops the fcntl lock */
}

/* ---- recording -------------------------------------------------------- */

/* Copy the whole current content of the regular file open as fd to
 * .inodes/<key>.  The file is reopened read-only through /proc, since fd
 * may be write-only. */
static void record_file(const char *root, int fd, const struct sh_key *k)
{
    char proc[64], path[SH_PATH + 96], *buf;
    size_t len;
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
    int rfd = open(proc, O_RDONLY | O_CLOEXEC);
    if (rfd < 0) {
        sh_die("cannot reopen", proc, errno);
    }
    int rc = read_fd(rfd, &buf, &len);
    close(rfd);
    key_name(path, sizeof(path), root, ".inodes", k);
    if (rc == 0) {
        rc = replace_path(path, buf, len);
        free(buf);
    }
    if (rc != 0) {
        sh_die("cannot record", path, -rc);
    }
}

/* Append one "<t> <dev> <ino> <gen> <name>\n" line for dfd/name to *bufp
 * (0: skipped, not a file or directory). */
static int dir_line(const char *root, int dfd, const char *name,
                    char **bufp, size_t *lenp, size_t *capp)
{
    struct stat st;
    if (strchr(name, '\n') != NULL ||
        fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))) {
        return 0;
    }
    uint64_t gen = gen_read(root, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
    size_t need = strlen(name) + 80;
    if (*lenp + need > *capp) {
        size_t ncap = (*capp + need) * 2;
        char *nb = realloc(*bufp, ncap);
        if (nb == NULL) {
            return -ENOMEM;
        }
        *bufp = nb;
        *capp = ncap;
    }
    *lenp += (size_t)snprintf(*bufp + *lenp, *capp - *lenp,
                              "%c %" PRIu64 " %" PRIu64 " %" PRIu64 " %s\n",
                              S_ISDIR(st.st_mode) ? 'd' : 'f',
                              (uint64_t)st.st_dev, (uint64_t)st.st_ino, gen,
                              name);
    return 0;
}

/* Record the current entries of the directory open as fd. */
static void record_dir(const char *root, int fd, const struct sh_key *k)
{
    char path[SH_PATH + 96], *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = 0;
    int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    key_name(path, sizeof(path), root, ".dirs", k);
    if (d == NULL) {
        sh_die("cannot list the directory for", path, errno);
    }
    for (struct dirent *de; rc == 0 && (de = readdir(d)) != NULL;) {
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
            rc = dir_line(root, dirfd(d), de->d_name, &buf, &len, &cap);
        }
    }
    closedir(d);
    if (rc == 0) {
        rc = replace_path(path, buf != NULL ? buf : "", len);
    }
    free(buf);
    if (rc != 0) {
        sh_die("cannot record", path, -rc);
    }
}

/* Record fd (a file or a directory) as synced now. */
static void record_fd(const char *root, int fd, const struct stat *st)
{
    struct sh_key k = {(uint64_t)st->st_dev, (uint64_t)st->st_ino, 0};
    k.gen = gen_read(root, k.dev, k.ino);
    if (S_ISREG(st->st_mode)) {
        record_file(root, fd, &k);
    } else if (S_ISDIR(st->st_mode)) {
        record_dir(root, fd, &k);
    }
}

/* Record everything below the open directory fd as durable (the state a
 * freshly set-up shadow starts from). */
static void record_tree(const char *root, int fd, int depth)
{
    struct stat st;
    if (depth > SH_DEPTH || fstat(fd, &st) != 0) {
        sh_die("cannot walk", sh_real, depth > SH_DEPTH ? ELOOP : errno);
    }
    record_fd(root, fd, &st);
    int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (d == NULL) {
        sh_die("cannot walk", sh_real, errno);
    }
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        struct stat cst;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
            fstatat(dirfd(d), de->d_name, &cst, AT_SYMLINK_NOFOLLOW) != 0) {
            continue;
        }
        int flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW;
        if (S_ISDIR(cst.st_mode) || S_ISREG(cst.st_mode)) {
            int cfd = openat(dirfd(d), de->d_name, flags);
            if (cfd < 0) {
                sh_die("cannot open", de->d_name, errno);
            }
            if (S_ISDIR(cst.st_mode)) {
                record_tree(root, cfd, depth + 1);
            } else {
                record_fd(root, cfd, &cst);
            }
            close(cfd);
        }
    }
    closedir(d);
}

/* 1 if the open fd is the real root or below it.  Caller holds sh_mu. */
static int below_root(int fd)
{
    char proc[64], path[SH_PATH];
    size_t rl = strlen(sh_real);
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(proc, path, sizeof(path) - 1);
    if (n <= 0) {
        return 0;
    }
    path[n] = '\0';
    return strncmp(path, sh_real, rl) == 0 &&
           (path[rl] == '\0' || path[rl] == '/' || rl == 1);
}

/* ---- enable / disable ------------------------------------------------- */

static void sh_atfork_prepare(void)
{
    pthread_mutex_lock(&sh_mu);
}

static void sh_atfork_release(void)
{
    pthread_mutex_unlock(&sh_mu);
}

static void sh_init_once(void)
{
    pthread_atfork(sh_atfork_prepare, sh_atfork_release, sh_atfork_release);
}

/* Check or create <shadow>/.root; a new shadow records the whole tree. */
static int setup_root(const char *shadow, const char *real, int realfd,
                      const struct stat *rst)
{
    char path[SH_PATH + 16], *buf, text[SH_PATH + 64];
    size_t len;
    unsigned long long dev, ino;
    snprintf(path, sizeof(path), "%s/.root", shadow);
    int rc = read_path(path, &buf, &len);
    if (rc == 0 && buf != NULL) {
        buf[len] = '\0';
        int ok = sscanf(buf, "%llu %llu", &dev, &ino) == 2 &&
                 dev == (unsigned long long)rst->st_dev &&
                 ino == (unsigned long long)rst->st_ino;
        free(buf);
        return ok ? 0 : -EINVAL; /* join, or another root's shadow */
    }
    if (rc != 0) {
        return rc;
    }
    record_tree(shadow, realfd, 0);
    int n = snprintf(text, sizeof(text), "%llu %llu\n%s\n",
                     (unsigned long long)rst->st_dev,
                     (unsigned long long)rst->st_ino, real);
    return replace_path(path, text, (size_t)n);
}

static int mkdir_ok(const char *path)
{
    return mkdir(path, 0700) == 0 || errno == EEXIST ? 0 : -errno;
}

/* The canonical absolute path of directory dir, as the kernel reports
 * it for open fds (realpath() is not in POSIX.1-2008 base). */
static int canonical(const char *dir, char *out)
{
    char proc[64];
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(proc, out, SH_PATH - 1);
    int rc = n <= 0 ? -EIO : 0;
    close(fd);
    out[n > 0 ? n : 0] = '\0';
    return rc;
}

/* Caller holds sh_mu. */
static int enable_locked(const char *real_root, const char *shadow_root)
{
    char real[SH_PATH], shadow[SH_PATH], sub[SH_PATH + 16];
    static const char *const subs[] = {".gen", ".inodes", ".dirs"};
    struct stat st;
    int rc = mkdir_ok(shadow_root);
    if (rc != 0) {
        return rc;
    }
    if ((rc = canonical(real_root, real)) != 0 ||
        (rc = canonical(shadow_root, shadow)) != 0) {
        return rc;
    }
    size_t rl = strlen(real);
    if (strncmp(shadow, real, rl) == 0 &&
        (shadow[rl] == '/' || shadow[rl] == '\0' || rl == 1)) {
        return -EINVAL; /* the shadow would record itself */
    }
    for (size_t i = 0; rc == 0 && i < 3; i++) {
        snprintf(sub, sizeof(sub), "%s/%s", shadow, subs[i]);
        rc = mkdir_ok(sub);
    }
    int realfd = open(real, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rc != 0 || realfd < 0) {
        return rc != 0 ? rc : -errno;
    }
    if (fstat(realfd, &st) == 0) {
        snprintf(sh_real, sizeof(sh_real), "%s", real);
        int lfd = file_lock(shadow);
        rc = lfd < 0 ? lfd : setup_root(shadow, real, realfd, &st);
        if (lfd >= 0) {
            file_unlock(lfd);
        }
    } else {
        rc = -errno;
    }
    close(realfd);
    if (rc == 0) {
        snprintf(sh_dir, sizeof(sh_dir), "%s", shadow);
        sh_on = 1;
    }
    return rc;
}

/* Read CRAWLLOG_SHADOW once.  Caller holds sh_mu. */
static void load_env(void)
{
    const char *v = getenv("CRAWLLOG_SHADOW");
    char real[SH_PATH];
    sh_env_done = 1;
    if (v == NULL || *v == '\0') {
        return;
    }
    const char *colon = strchr(v, ':');
    if (colon == NULL || colon == v || colon[1] == '\0' ||
        (size_t)(colon - v) >= sizeof(real)) {
        fprintf(stderr, "libcrawllog: malformed CRAWLLOG_SHADOW: \"%s\"\n", v);
        abort();
    }
    snprintf(real, sizeof(real), "%.*s", (int)(colon - v), v);
    int rc = enable_locked(real, colon + 1);
    if (rc != 0) {
        sh_die("cannot enable CRAWLLOG_SHADOW", v, -rc);
    }
}

/* Lock sh_mu; 1 if the shadow is on (then the caller must unlock). */
static int sh_lock(void)
{
    pthread_once(&sh_once, sh_init_once);
    pthread_mutex_lock(&sh_mu);
    if (!sh_env_done) {
        load_env();
    }
    return sh_on;
}

int cl_shadow_enable(const char *real_root, const char *shadow_root)
{
    if (real_root == NULL || shadow_root == NULL) {
        return -EINVAL;
    }
    pthread_once(&sh_once, sh_init_once);
    pthread_mutex_lock(&sh_mu);
    sh_env_done = 1;
    sh_on = 0;
    int rc = enable_locked(real_root, shadow_root);
    pthread_mutex_unlock(&sh_mu);
    return rc;
}

void cl_shadow_disable(void)
{
    pthread_once(&sh_once, sh_init_once);
    pthread_mutex_lock(&sh_mu);
    sh_env_done = 1;
    sh_on = 0;
    pthread_mutex_unlock(&sh_mu);
}

/* ---- hooks ------------------------------------------------------------ */

int cl_shadow_will_create(int dirfd, const char *name, int flags)
{
    struct stat st;
    int e = errno, fresh = 0;
    if (sh_lock()) {
        fresh = (flags & O_CREAT) &&
                fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 &&
                errno == ENOENT;
    }
    pthread_mutex_unlock(&sh_mu);
    errno = e;
    return fresh;
}

void cl_shadow_created(int dirfd, const char *name, int fd)
{
    struct stat st;
    int e = errno;
    if (sh_lock()) {
        int ofd = fd >= 0 ? fd
                          : openat(dirfd, name, O_RDONLY | O_DIRECTORY |
                                                    O_NOFOLLOW | O_CLOEXEC);
        if (ofd >= 0 && fstat(ofd, &st) == 0 && below_root(ofd)) {
            int lfd = file_lock_or_die(sh_dir);
            gen_bump(sh_dir, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
            file_unlock(lfd);
        }
        if (ofd >= 0 && fd < 0) {
            close(ofd);
        }
    }
    pthread_mutex_unlock(&sh_mu);
    errno = e;
}

void cl_shadow_synced(int fd)
{
    struct stat st;
    int e = errno;
    if (sh_lock() && fstat(fd, &st) == 0 && st.st_nlink > 0 &&
        below_root(fd)) {
        int lfd = file_lock_or_die(sh_dir);
        record_fd(sh_dir, fd, &st);
        file_unlock(lfd);
    }
    pthread_mutex_unlock(&sh_mu);
    errno = e;
}

/* ---- building an image ------------------------------------------------ */

struct sh_img {
    const char *shadow;
    int mode;
    uint64_t rng;
    int realfd;          /* _TORN: the real root */
    struct sh_ent *ents; /* _TORN: real inodes -> paths */
    size_t nents, capents;
};

struct sh_ent {
    uint64_t dev, ino;
    char *rel; /* path relative to the real root */
};

static uint64_t sh_rand(uint64_t *s)
{
    uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ULL;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dULL;
}

/* _TORN: remember every regular file of the real tree by inode. */
static int map_real(struct sh_img *im, int fd, const char *rel, int depth)
{
    int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (d == NULL || depth > SH_DEPTH) {
        if (d != NULL) {
            closedir(d);
        }
        return d == NULL ? -errno : -ELOOP;
    }
    for (struct dirent *de; rc == 0 && (de = readdir(d)) != NULL;) {
        struct stat st;
        char crel[SH_PATH];
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
            fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            continue;
        }
        snprintf(crel, sizeof(crel), "%s%s%s", rel, *rel ? "/" : "",
                 de->d_name);
        if (S_ISDIR(st.st_mode)) {
            int cfd = openat(dirfd(d), de->d_name,
                             O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            rc = cfd < 0 ? -errno : map_real(im, cfd, crel, depth + 1);
            if (cfd >= 0) {
                close(cfd);
            }
        } else if (S_ISREG(st.st_mode)) {
            if (im->nents == im->capents) {
                size_t ncap = im->capents ? im->capents * 2 : 64;
                void *p = realloc(im->ents, ncap * sizeof(*im->ents));
                if (p == NULL) {
                    rc = -ENOMEM;
                    break;
                }
                im->ents = p;
                im->capents = ncap;
            }
            struct sh_ent *e = &im->ents[im->nents];
            e->dev = (uint64_t)st.st_dev;
            e->ino = (uint64_t)st.st_ino;
            e->rel = strdup(crel);
            rc = e->rel != NULL ? 0 : -ENOMEM;
            im->nents += e->rel != NULL;
        }
    }
    closedir(d);
    return rc;
}

/* _TORN: extend the synced content s[0, *lenp) with a random prefix of
 * the bytes appended to the real file since (if it only grew). */
static int tear(struct sh_img *im, const struct sh_key *k, char **sp,
                size_t *lenp)
{
    if (gen_read(im->shadow, k->dev, k->ino) != k->gen) {
        return 0; /* the real inode is a later incarnation */
    }
    for (size_t i = 0; i < im->nents; i++) {
        char *r;
        size_t rlen;
        if (im->ents[i].dev != k->dev || im->ents[i].ino != k->ino) {
            continue;
        }
        int fd = openat(im->realfd, im->ents[i].rel,
                        O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            return 0;
        }
        int rc = read_fd(fd, &r, &rlen);
        close(fd);
        if (rc != 0) {
            return rc;
        }
        if (rlen > *lenp && (*lenp == 0 || memcmp(r, *sp, *lenp) == 0)) {
            size_t keep = *lenp + (size_t)(sh_rand(&im->rng) %
                                           (uint64_t)(rlen - *lenp + 1));
            free(*sp);
            *sp = r;
            *lenp = keep;
        } else {
            free(r);
        }
        return 0;
    }
    return 0;
}

static int build_file(struct sh_img *im, const struct sh_key *k,
                      const char *out)
{
    char path[SH_PATH + 96], *buf;
    size_t len;
    key_name(path, sizeof(path), im->shadow, ".inodes", k);
    int rc = read_path(path, &buf, &len);
    if (rc == 0 && im->mode == CL_SHADOW_TORN) {
        rc = tear(im, k, &buf, &len);
    }
    if (rc == 0) {
        rc = write_path(out, buf != NULL ? buf : "", len);
    }
    free(buf);
    return rc;
}

/* Create out and, if the directory k was ever synced, its durable
 * entries. */
static int build_dir(struct sh_img *im, const struct sh_key *k,
                     const char *out, int depth)
{
    char path[SH_PATH + 96], *buf, *line, *save = NULL;
    size_t len;
    if (depth > SH_DEPTH) {
        return -ELOOP;
    }
    int rc = depth == 0 ? mkdir_ok(out) : (mkdir(out, 0700) ? -errno : 0);
    key_name(path, sizeof(path), im->shadow, ".dirs", k);
    if (rc == 0) {
        rc = read_path(path, &buf, &len);
    }
    if (rc != 0 || buf == NULL) {
        return rc;
    }
    buf[len] = '\0'; /* read_fd always leaves room for it */
    for (line = strtok_r(buf, "\n", &save); rc == 0 && line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        char t, cpath[SH_PATH];
        unsigned long long dev, ino, gen;
        int off = 0;
        if (sscanf(line, "%c %llu %llu %llu%n", &t, &dev, &ino, &gen,
                   &off) != 4 || line[off] != ' ') {
            rc = -EINVAL;
            break;
        }
        struct sh_key ck = {dev, ino, gen};
        snprintf(cpath, sizeof(cpath), "%s/%s", out, line + off + 1);
        rc = t == 'd' ? build_dir(im, &ck, cpath, depth + 1)
                      : build_file(im, &ck, cpath);
    }
    free(buf);
    return rc;
}

/* _ALL: copy the real tree fd into out. */
static int copy_tree(int fd, const char *out, int depth)
{
    int rc = depth == 0 ? mkdir_ok(out) : (mkdir(out, 0700) ? -errno : 0);
    int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (rc != 0 || d == NULL || depth > SH_DEPTH) {
        if (d != NULL) {
            closedir(d);
        }
        return rc != 0 ? rc : d == NULL ? -errno : -ELOOP;
    }
    for (struct dirent *de; rc == 0 && (de = readdir(d)) != NULL;) {
        struct stat st;
        char cpath[SH_PATH], *buf;
        size_t len;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
            fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
            (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))) {
            continue;
        }
        snprintf(cpath, sizeof(cpath), "%s/%s", out, de->d_name);
        int cfd = openat(dirfd(d), de->d_name,
                         O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (cfd < 0) {
            rc = -errno;
            break;
        }
        if (S_ISDIR(st.st_mode)) {
            rc = copy_tree(cfd, cpath, depth + 1);
        } else if ((rc = read_fd(cfd, &buf, &len)) == 0) {
            rc = write_path(cpath, buf, len);
            free(buf);
        }
        close(cfd);
    }
    closedir(d);
    return rc;
}

/* Read <shadow>/.root: the root's inode and the real path. */
static int read_root(const char *shadow, struct sh_key *k, char *real,
                     size_t realsize)
{
    char path[SH_PATH + 16], *buf;
    size_t len;
    unsigned long long dev, ino;
    int off = 0;
    snprintf(path, sizeof(path), "%s/.root", shadow);
    int rc = read_path(path, &buf, &len);
    if (rc != 0 || buf == NULL) {
        return rc != 0 ? rc : -ENOENT;
    }
    buf[len] = '\0';
    if (sscanf(buf, "%llu %llu\n%n", &dev, &ino, &off) != 2 || off == 0) {
        rc = -EINVAL;
    } else {
        k->dev = dev;
        k->ino = ino;
        k->gen = gen_read(shadow, dev, ino);
        snprintf(real, realsize, "%.*s", (int)strcspn(buf + off, "\n"),
                 buf + off);
    }
    free(buf);
    return rc;
}

int cl_shadow_image(const char *shadow_root, const char *out_dir, int mode,
                    uint64_t seed)
{
    struct sh_img im = {shadow_root, mode, seed, -1, NULL, 0, 0};
    struct sh_key root;
    char real[SH_PATH];
    if (shadow_root == NULL || out_dir == NULL || mode < CL_SHADOW_DURABLE ||
        mode > CL_SHADOW_TORN) {
        return -EINVAL;
    }
    int lfd = file_lock(shadow_root);
    if (lfd < 0) {
        return lfd;
    }
    int rc = read_root(shadow_root, &root, real, sizeof(real));
    if (rc == 0 && mode != CL_SHADOW_DURABLE) {
        im.realfd = open(real, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        rc = im.realfd < 0 ? -errno : 0;
    }
    if (rc == 0 && mode == CL_SHADOW_ALL) {
        rc = copy_tree(im.realfd, out_dir, 0);
    } else if (rc == 0) {
        if (mode == CL_SHADOW_TORN) {
            rc = map_real(&im, im.realfd, "", 0);
        }
        if (rc == 0) {
            rc = build_dir(&im, &root, out_dir, 0);
        }
    }
    for (size_t i = 0; i < im.nents; i++) {
        free(im.ents[i].rel);
    }
    free(im.ents);
    if (im.realfd >= 0) {
        close(im.realfd);
    }
    file_unlock(lfd);
    return rc;
}

#endif /* CRAWLLOG_TESTING */
