/*
 * io_shadow.c - the power-loss crash simulator (layer 0, CRAWLLOG_TESTING
 * only; the model and the API are described in io_shadow.h).
 *
 * Purpose: record, beside a real directory tree, what a power loss would
 * leave of it, from the syncs io.c reports (io_shadow_image.c builds the
 * images from these records, and holds the raw file helpers both use).
 * This is test instrumentation inside the I/O layer: it uses raw system
 * calls and malloc (never the cl_io_* wrappers, so it hits no failpoint
 * and never recurses), and it runs only while enabled.  Any failure to
 * record aborts the process: a simulator that silently missed a sync
 * would make a durability test lie.
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

#include "io_shadow.h"

static pthread_mutex_t sh_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t sh_once = PTHREAD_ONCE_INIT;
static int sh_env_done;              /* guarded by sh_mu */
static int sh_on;                    /* guarded by sh_mu */
static char sh_real[CL_SHADOW_PATH]; /* canonical real root; guarded by sh_mu */
static char
    sh_dir[CL_SHADOW_PATH]; /* canonical shadow root; guarded by sh_mu */

/* ---- raw helpers ------------------------------------------------------ */

static _Noreturn void sh_die(const char *what, const char *path, int err)
{
    fprintf(stderr, "libcrawllog shadow: %s %s: %s\n", what, path,
            strerror(err));
    abort();
}

/* Replace path atomically (tmp + rename) with buf[0, len). */
static int replace_path(const char *path, const void *buf, size_t len)
{
    char tmp[CL_SHADOW_PATH + 32];
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    int rc = cl_shadow_write_path(tmp, buf, len);
    if (rc == 0 && rename(tmp, path) != 0) {
        rc = -errno;
    }
    if (rc != 0) {
        unlink(tmp);
    }
    return rc;
}

void cl_shadow_key_path(char *out, size_t size, const char *root,
                        const char *sub, const struct cl_shadow_key *k)
{
    snprintf(out, size, "%s/%s/%" PRIu64 "-%" PRIu64 "-%" PRIu64, root, sub,
             k->dev, k->ino, k->gen);
}

static void gen_path(char *out, size_t size, const char *root, uint64_t dev,
                     uint64_t ino)
{
    snprintf(out, size, "%s/.gen/%" PRIu64 "-%" PRIu64, root, dev, ino);
}

uint64_t cl_shadow_gen(const char *root, uint64_t dev, uint64_t ino)
{
    char path[CL_SHADOW_PATH + 64], *buf;
    size_t len;
    uint64_t gen = 0;
    gen_path(path, sizeof(path), root, dev, ino);
    if (cl_shadow_read_path(path, &buf, &len) != 0) {
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
    char path[CL_SHADOW_PATH + 64], text[32];
    int n = snprintf(text, sizeof(text), "%" PRIu64 "\n",
                     cl_shadow_gen(root, dev, ino) + 1);
    gen_path(path, sizeof(path), root, dev, ino);
    int rc = replace_path(path, text, (size_t)n);
    if (rc != 0) {
        sh_die("cannot write", path, -rc);
    }
}

/* A POSIX record lock, not flock (not in POSIX); sh_mu already serializes
 * the threads of a process, so its per-process scope is fine. */
int cl_shadow_lock(const char *root)
{
    char path[CL_SHADOW_PATH + 16];
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

/* cl_shadow_lock for the recording paths, where a failure is fatal. */
static int file_lock_or_die(const char *root)
{
    int fd = cl_shadow_lock(root);
    if (fd < 0) {
        sh_die("cannot lock", root, -fd);
    }
    return fd;
}

/* The path the kernel reports for an open fd ("... (deleted)" once
 * unlinked); 0 or -errno. */
static int fd_path(int fd, char *out)
{
    char proc[64];
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(proc, out, CL_SHADOW_PATH - 1);
    out[n > 0 ? n : 0] = '\0';
    return n > 0 ? 0 : n < 0 ? -errno : -EIO;
}

/* ---- recording -------------------------------------------------------- */

/* Copy the whole current content of the regular file open as fd to
 * .inodes/<key>.  It is reopened read-only through /proc: fd may be
 * write-only. */
static void record_file(const char *root, int fd, const struct cl_shadow_key *k)
{
    char proc[64], path[CL_SHADOW_PATH + 96], *buf;
    size_t len;
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
    int rfd = open(proc, O_RDONLY | O_CLOEXEC);
    if (rfd < 0) {
        sh_die("cannot reopen", proc, errno);
    }
    int rc = cl_shadow_read_fd(rfd, &buf, &len);
    close(rfd);
    cl_shadow_key_path(path, sizeof(path), root, ".inodes", k);
    if (rc == 0) {
        rc = replace_path(path, buf, len);
        free(buf);
    }
    if (rc != 0) {
        sh_die("cannot record", path, -rc);
    }
}

struct dir_rec {
    const char *root;
    char *buf;
    size_t len, cap;
};

/* Add the line "<f|d> <dev> <ino> <gen> <name>\n" of one entry. */
static int dir_line(void *arg, int dfd, const char *name, const struct stat *st)
{
    struct dir_rec *dr = arg;
    size_t need = strlen(name) + 80;
    (void)dfd;
    if (strchr(name, '\n') != NULL) {
        return 0;
    }
    if (dr->len + need > dr->cap) {
        size_t ncap = (dr->cap + need) * 2;
        char *nb = realloc(dr->buf, ncap);
        if (nb == NULL) {
            return -ENOMEM;
        }
        dr->buf = nb;
        dr->cap = ncap;
    }
    uint64_t gen =
        cl_shadow_gen(dr->root, (uint64_t)st->st_dev, (uint64_t)st->st_ino);
    dr->len +=
        (size_t)snprintf(dr->buf + dr->len, dr->cap - dr->len,
                         "%c %" PRIu64 " %" PRIu64 " %" PRIu64 " %s\n",
                         S_ISDIR(st->st_mode) ? 'd' : 'f', (uint64_t)st->st_dev,
                         (uint64_t)st->st_ino, gen, name);
    return 0;
}

/* Record the current entries of the directory open as fd. */
static void record_dir(const char *root, int fd, const struct cl_shadow_key *k)
{
    char path[CL_SHADOW_PATH + 96];
    struct dir_rec dr = {root, NULL, 0, 0};
    cl_shadow_key_path(path, sizeof(path), root, ".dirs", k);
    int rc = cl_shadow_each_entry(fd, dir_line, &dr);
    if (rc == 0) {
        rc = replace_path(path, dr.buf != NULL ? dr.buf : "", dr.len);
    }
    free(dr.buf);
    if (rc != 0) {
        sh_die("cannot record", path, -rc);
    }
}

/* Record fd (a regular file or a directory) as synced now. */
static void record_fd(const char *root, int fd, const struct stat *st)
{
    struct cl_shadow_key k = {(uint64_t)st->st_dev, (uint64_t)st->st_ino, 0};
    k.gen = cl_shadow_gen(root, k.dev, k.ino);
    if (S_ISREG(st->st_mode)) {
        record_file(root, fd, &k);
    } else if (S_ISDIR(st->st_mode)) {
        record_dir(root, fd, &k);
    }
}

struct tree {
    const char *root;
    int depth;
};

static int record_tree(const char *root, int fd, const struct stat *st,
                       int depth);

static int tree_entry(void *arg, int dfd, const char *name,
                      const struct stat *st)
{
    struct tree *t = arg;
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    int rc = record_tree(t->root, fd, st, t->depth + 1);
    close(fd);
    return rc;
}

/* Record fd and everything below it as durable: the state a freshly set-up
 * shadow starts from. */
static int record_tree(const char *root, int fd, const struct stat *st,
                       int depth)
{
    struct tree t = {root, depth};
    if (depth > CL_SHADOW_DEPTH) {
        return -ELOOP;
    }
    record_fd(root, fd, st);
    return S_ISDIR(st->st_mode) ? cl_shadow_each_entry(fd, tree_entry, &t) : 0;
}

/* 1 if the open fd is the real root or below it.  Caller holds sh_mu. */
static int below_root(int fd)
{
    char path[CL_SHADOW_PATH];
    size_t rl = strlen(sh_real);
    return fd_path(fd, path) == 0 && strncmp(path, sh_real, rl) == 0 &&
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

/* Join <shadow>/.root if it names this root; or set it up, recording the
 * whole tree as durable.  Caller holds the .lock. */
static int setup_root(const char *shadow, const char *real, int realfd,
                      const struct stat *rst)
{
    char path[CL_SHADOW_PATH + 16], *buf, text[CL_SHADOW_PATH + 64];
    size_t len;
    unsigned long long dev, ino;
    snprintf(path, sizeof(path), "%s/.root", shadow);
    int rc = cl_shadow_read_path(path, &buf, &len);
    if (rc == 0 && buf != NULL) {
        int ok = sscanf(buf, "%llu %llu", &dev, &ino) == 2 &&
                 dev == (unsigned long long)rst->st_dev &&
                 ino == (unsigned long long)rst->st_ino;
        free(buf);
        return ok ? 0 : -EINVAL;
    }
    if (rc == 0) {
        rc = record_tree(shadow, realfd, rst, 0);
    }
    if (rc == 0) {
        int n = snprintf(text, sizeof(text), "%llu %llu\n%s\n",
                         (unsigned long long)rst->st_dev,
                         (unsigned long long)rst->st_ino, real);
        rc = replace_path(path, text, (size_t)n);
    }
    return rc;
}

/* The canonical absolute path of directory dir, as the kernel reports it
 * for open fds (realpath() is not in POSIX.1-2008 base). */
static int canonical(const char *dir, char *out)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = fd < 0 ? -errno : fd_path(fd, out);
    if (fd >= 0) {
        close(fd);
    }
    return rc;
}

/* Caller holds sh_mu. */
static int enable_locked(const char *real_root, const char *shadow_root)
{
    static const char *const subs[] = {".gen", ".inodes", ".dirs"};
    char real[CL_SHADOW_PATH], shadow[CL_SHADOW_PATH], sub[CL_SHADOW_PATH + 16];
    struct stat st;
    int rc = cl_shadow_mkdir(shadow_root);
    if (rc != 0 || (rc = canonical(real_root, real)) != 0 ||
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
        rc = cl_shadow_mkdir(sub);
    }
    int realfd = -1, lfd = -1;
    if (rc == 0 &&
        (realfd = open(real, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        rc = -errno;
    }
    if (rc == 0 && (lfd = cl_shadow_lock(shadow)) < 0) {
        rc = lfd;
    }
    if (rc == 0 && fstat(realfd, &st) != 0) {
        rc = -errno;
    }
    if (rc == 0) {
        snprintf(sh_real, sizeof(sh_real), "%s", real);
        rc = setup_root(shadow, real, realfd, &st);
    }
    if (lfd >= 0) {
        close(lfd);
    }
    if (realfd >= 0) {
        close(realfd);
    }
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
    char real[CL_SHADOW_PATH];
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

/* Lock sh_mu (the caller unlocks it); 1 if the shadow is on. */
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

void cl_shadow_created(int dirfd, const char *name, int fd)
{
    struct stat st;
    int e = errno;
    if (sh_lock()) {
        int ofd = fd >= 0
                      ? fd
                      : openat(dirfd, name,
                               O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (ofd >= 0 && fstat(ofd, &st) == 0 && below_root(ofd)) {
            int lfd = file_lock_or_die(sh_dir);
            gen_bump(sh_dir, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
            close(lfd);
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
    if (sh_lock() && fstat(fd, &st) == 0 && st.st_nlink > 0 && below_root(fd)) {
        int lfd = file_lock_or_die(sh_dir);
        record_fd(sh_dir, fd, &st);
        close(lfd);
    }
    pthread_mutex_unlock(&sh_mu);
    errno = e;
}

#endif /* CRAWLLOG_TESTING */
