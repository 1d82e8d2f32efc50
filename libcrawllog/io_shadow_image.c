/*
 * io_shadow_image.c - builds the power-loss images of the crash simulator
 * (layer 0, CRAWLLOG_TESTING only; the model is described in io_shadow.h, the
 * records in io_shadow.c).
 *
 * Purpose: cl_shadow_image() turns a shadow root into a directory tree:
 *  (a) CL_SHADOW_DURABLE  from the real root's durable entries down: each
 *      directory gets the entries recorded at its last fsync (none if it
 *      was never synced), each file the bytes of its inode incarnation at
 *      its last sync (empty if never synced);
 *  (b) CL_SHADOW_ALL      a copy of the real tree (every write survived);
 *  (c) CL_SHADOW_TORN     (a), and each file whose real counterpart (same
 *      path, same inode incarnation) only grew since its last sync also
 *      keeps a seeded random prefix of the appended bytes (ALICE).
 * Raw system calls and malloc, like io_shadow.c; the raw file helpers both
 * files use (cl_shadow_read_fd, _read_path, _write_path, _mkdir,
 * _each_entry) are defined here.
 *
 * On disk: writes only below out_dir; reads the shadow root (under its
 * .lock) and, for (b) and (c), the real tree.
 *
 * Invariants: nothing is created outside out_dir; symbolic links and other
 * special files are never followed or copied.
 *
 * Locks: the shadow root's .lock, held for the whole build.
 */

/* ISO C forbids an empty translation unit: this keeps the release object
 * valid and symbol-free. */
typedef int cl_shadow_image_unit;

#ifdef CRAWLLOG_TESTING

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io_shadow.h"

/* ---- raw helpers shared with io_shadow.c (declared in io_shadow.h) ---------- */

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

int cl_shadow_read_fd(int fd, char **bufp, size_t *lenp)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    while (buf != NULL) {
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            int rc = n < 0 ? -errno : 0;
            if (rc == 0) {
                *bufp = buf;
                *lenp = len;
            } else {
                free(buf);
            }
            return rc;
        }
        len += (size_t)n;
        if (len == cap) {
            char *nb = realloc(buf, cap *= 2);
            if (nb == NULL) {
                free(buf);
            }
            buf = nb;
        }
    }
    return -ENOMEM;
}

int cl_shadow_read_path(const char *path, char **bufp, size_t *lenp)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    *bufp = NULL;
    *lenp = 0;
    if (fd < 0) {
        return errno == ENOENT ? 0 : -errno;
    }
    int rc = cl_shadow_read_fd(fd, bufp, lenp);
    close(fd);
    if (rc == 0) {
        (*bufp)[*lenp] = '\0';
    }
    return rc;
}

int cl_shadow_write_path(const char *path, const void *buf, size_t len)
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

int cl_shadow_mkdir(const char *path)
{
    return mkdir(path, 0700) == 0 || errno == EEXIST ? 0 : -errno;
}

int cl_shadow_each_entry(int fd, cl_shadow_entry_fn *fn, void *arg)
{
    int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (d == NULL) {
        rc = -errno;
        if (dfd >= 0) {
            close(dfd);
        }
        return rc;
    }
    for (struct dirent *de; rc == 0 && (de = readdir(d)) != NULL;) {
        struct stat st;
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 &&
            fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))) {
            rc = fn(arg, dirfd(d), de->d_name, &st);
        }
    }
    closedir(d);
    return rc;
}

/* ---- images ----------------------------------------------------------- */

struct sh_img {
    const char *shadow;
    int mode;
    uint64_t rng;    /* _TORN: xorshift state */
    int realfd;      /* _ALL, _TORN: the real root */
    size_t outlen;   /* strlen(out_dir): out paths minus it are rel */
    const char *out; /* copy_tree: out path of the directory walked */
    int depth;
};

/* The top of an image may exist (empty); anything below must not. */
static int make_out(const char *out, int depth)
{
    if (depth > CL_SHADOW_DEPTH) {
        return -ELOOP;
    }
    return depth == 0              ? cl_shadow_mkdir(out)
           : mkdir(out, 0700) != 0 ? -errno
                                   : 0;
}

static uint64_t sh_rand(uint64_t *s)
{
    uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ULL;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dULL;
}

/* _TORN: extend the synced content (*sp, *lenp) of the file at rel with
 * a random prefix of the bytes appended to it since, if the real file at
 * the same path is the same inode incarnation and only grew. */
static int tear(struct sh_img *im, const struct cl_shadow_key *k,
                const char *rel, char **sp, size_t *lenp)
{
    struct stat st;
    char *r;
    size_t rlen;
    int fd = openat(im->realfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
    }
    int rc = fstat(fd, &st) != 0 ? -errno : 0;
    if (rc != 0 || (uint64_t)st.st_dev != k->dev ||
        (uint64_t)st.st_ino != k->ino ||
        cl_shadow_gen(im->shadow, k->dev, k->ino) != k->gen) {
        close(fd);
        return rc; /* another file now, or a later incarnation */
    }
    rc = cl_shadow_read_fd(fd, &r, &rlen);
    close(fd);
    if (rc == 0 && rlen > *lenp && (*lenp == 0 || !memcmp(r, *sp, *lenp))) {
        *lenp += (size_t)(sh_rand(&im->rng) % (uint64_t)(rlen - *lenp + 1));
        free(*sp);
        *sp = r;
    } else if (rc == 0) {
        free(r);
    }
    return rc;
}

static int build_file(struct sh_img *im, const struct cl_shadow_key *k,
                      const char *out)
{
    char path[CL_SHADOW_PATH + 96], *buf;
    size_t len;
    cl_shadow_key_path(path, sizeof(path), im->shadow, ".inodes", k);
    int rc = cl_shadow_read_path(path, &buf, &len);
    if (rc == 0 && im->mode == CL_SHADOW_TORN) {
        rc = tear(im, k, out + im->outlen + 1, &buf, &len);
    }
    if (rc == 0) {
        rc = cl_shadow_write_path(out, buf != NULL ? buf : "", len);
    }
    free(buf);
    return rc;
}

/* Create out and, if directory k was ever synced, its durable entries. */
static int build_dir(struct sh_img *im, const struct cl_shadow_key *k,
                     const char *out, int depth)
{
    char path[CL_SHADOW_PATH + 96], *buf = NULL, *line, *save = NULL;
    size_t len;
    int rc = make_out(out, depth);
    cl_shadow_key_path(path, sizeof(path), im->shadow, ".dirs", k);
    if (rc == 0) {
        rc = cl_shadow_read_path(path, &buf, &len);
    }
    for (line = buf != NULL ? strtok_r(buf, "\n", &save) : NULL;
         rc == 0 && line != NULL; line = strtok_r(NULL, "\n", &save)) {
        char t, cpath[CL_SHADOW_PATH];
        unsigned long long dev, ino, gen;
        int off = 0;
        if (sscanf(line, "%c %llu %llu %llu%n", &t, &dev, &ino, &gen, &off) !=
                4 ||
            line[off] != ' ') {
            rc = -EINVAL;
            break;
        }
        struct cl_shadow_key ck = {dev, ino, gen};
        snprintf(cpath, sizeof(cpath), "%s/%s", out, line + off + 1);
        rc = t == 'd' ? build_dir(im, &ck, cpath, depth + 1)
                      : build_file(im, &ck, cpath);
    }
    free(buf);
    return rc;
}

static int copy_tree(struct sh_img *im, int fd, const char *out, int depth);

static int copy_entry(void *arg, int dfd, const char *name,
                      const struct stat *st)
{
    struct sh_img *im = arg;
    char out[CL_SHADOW_PATH], *buf;
    size_t len;
    snprintf(out, sizeof(out), "%s/%s", im->out, name);
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    int rc = fd >= 0 ? 0 : -errno;
    if (fd >= 0 && S_ISDIR(st->st_mode)) {
        const char *saved = im->out;
        int depth = im->depth;
        rc = copy_tree(im, fd, out, depth + 1);
        im->out = saved;
        im->depth = depth;
    } else if (fd >= 0 && (rc = cl_shadow_read_fd(fd, &buf, &len)) == 0) {
        rc = cl_shadow_write_path(out, buf, len);
        free(buf);
    }
    if (fd >= 0) {
        close(fd);
    }
    return rc;
}

/* _ALL: copy the real tree fd into out. */
static int copy_tree(struct sh_img *im, int fd, const char *out, int depth)
{
    int rc = make_out(out, depth);
    im->out = out;
    im->depth = depth;
    return rc != 0 ? rc : cl_shadow_each_entry(fd, copy_entry, im);
}

/* Read <shadow>/.root: the root's inode and the real path. */
static int read_root(const char *shadow, struct cl_shadow_key *k, char *real,
                     size_t realsize)
{
    char path[CL_SHADOW_PATH + 16], *buf;
    size_t len;
    unsigned long long dev, ino;
    int off = 0;
    snprintf(path, sizeof(path), "%s/.root", shadow);
    int rc = cl_shadow_read_path(path, &buf, &len);
    if (rc != 0 || buf == NULL) {
        return rc != 0 ? rc : -ENOENT;
    }
    if (sscanf(buf, "%llu %llu%n", &dev, &ino, &off) != 2 || buf[off] != '\n') {
        rc = -EINVAL;
    } else {
        k->dev = dev;
        k->ino = ino;
        k->gen = cl_shadow_gen(shadow, dev, ino);
        snprintf(real, realsize, "%.*s", (int)strcspn(buf + off + 1, "\n"),
                 buf + off + 1);
    }
    free(buf);
    return rc;
}

int cl_shadow_image(const char *shadow_root, const char *out_dir, int mode,
                    uint64_t seed)
{
    struct sh_img im = {shadow_root, mode, seed, -1, 0, NULL, 0};
    struct cl_shadow_key root;
    char real[CL_SHADOW_PATH];
    if (shadow_root == NULL || out_dir == NULL || mode < CL_SHADOW_DURABLE ||
        mode > CL_SHADOW_TORN) {
        return -EINVAL;
    }
    int lfd = cl_shadow_lock(shadow_root);
    if (lfd < 0) {
        return lfd;
    }
    int rc = read_root(shadow_root, &root, real, sizeof(real));
    if (rc == 0 && mode != CL_SHADOW_DURABLE) {
        im.realfd = open(real, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        rc = im.realfd < 0 ? -errno : 0;
    }
    if (rc == 0 && mode == CL_SHADOW_ALL) {
        rc = copy_tree(&im, im.realfd, out_dir, 0);
    } else if (rc == 0) {
        im.outlen = strlen(out_dir);
        rc = build_dir(&im, &root, out_dir, 0);
    }
    if (im.realfd >= 0) {
        close(im.realfd);
    }
    close(lfd);
    return rc;
}

#endif /* CRAWLLOG_TESTING */
