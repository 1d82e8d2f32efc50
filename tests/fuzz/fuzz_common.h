/*
 * fuzz_common.h - shared helpers of the libFuzzer targets in tests/fuzz/
 * (T8 in docs/RELIABILITY.md): a per-process scratch directory, recursive
 * removal, whole-file writes, and FZ_CHECK, the oracle macro (abort() with
 * a message, so libFuzzer records the input as a crash).
 *
 * Every target is one translation unit including this header; the helpers
 * are static.  Scratch directories live under $FUZZ_TMPDIR, else /dev/shm
 * (tmpfs: the targets fsync a lot), else /tmp.
 */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_CHECK(cond, ...)                                                  \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "FUZZ ORACLE FAILED %s:%d: %s: ", __FILE__,      \
                    __LINE__, #cond);                                        \
            fprintf(stderr, __VA_ARGS__);                                    \
            fprintf(stderr, "\n");                                           \
            abort();                                                         \
        }                                                                    \
    } while (0)

/* Remove path and everything below it (no symlinks are followed). */
static inline void fz_rmrf_at(int at, const char *name)
{
    struct stat st;
    if (fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
        if (fd >= 0) {
            DIR *d = fdopendir(fd);
            if (d == NULL) {
                close(fd);
            } else {
                struct dirent *de;
                while ((de = readdir(d)) != NULL) {
                    if (strcmp(de->d_name, ".") != 0 &&
                        strcmp(de->d_name, "..") != 0) {
                        fz_rmrf_at(dirfd(d), de->d_name);
                    }
                }
                closedir(d);
            }
        }
        unlinkat(at, name, AT_REMOVEDIR);
    } else {
        unlinkat(at, name, 0);
    }
}

static inline void fz_rmrf(const char *path)
{
    fz_rmrf_at(AT_FDCWD, path);
}

static char fz_root[512];

static inline void fz_cleanup_root(void)
{
    if (fz_root[0] != '\0') {
        fz_rmrf(fz_root);
    }
}

/* The process's scratch directory (created on first use, removed at
 * exit). */
static inline const char *fz_scratch(void)
{
    if (fz_root[0] == '\0') {
        const char *base = getenv("FUZZ_TMPDIR");
        struct stat st;
        if (base == NULL || *base == '\0') {
            base = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode)
                       ? "/dev/shm"
                       : "/tmp";
        }
        snprintf(fz_root, sizeof(fz_root), "%s/clfuzz.%ld", base,
                 (long)getpid());
        fz_rmrf(fz_root);
        if (mkdir(fz_root, 0700) != 0) {
            fprintf(stderr, "fuzz: cannot create %s: %s\n", fz_root,
                    strerror(errno));
            abort();
        }
        atexit(fz_cleanup_root);
    }
    return fz_root;
}

/* Write len bytes to path (created or truncated, mode 0600): 0 or -1. */
static inline int fz_write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        return -1;
    }
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n <= 0) {
            close(fd);
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return close(fd);
}

/* Read a whole file into a malloc'd buffer: NULL on failure. */
static inline uint8_t *fz_read_file(const char *path, size_t *lenp)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW);
    if (fd < 0) {
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return NULL;
    }
    size_t len = (size_t)st.st_size;
    uint8_t *buf = malloc(len ? len : 1);
    size_t got = 0;
    while (buf != NULL && got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n <= 0) {
            free(buf);
            buf = NULL;
            break;
        }
        got += (size_t)n;
    }
    close(fd);
    if (buf != NULL) {
        *lenp = len;
    }
    return buf;
}

/* Copy every regular file of directory src into dst (created), recursing
 * into subdirectories: 0 or -1. */
static inline int fz_copy_tree(const char *src, const char *dst)
{
    if (mkdir(dst, 0700) != 0 && errno != EEXIST) {
        return -1;
    }
    DIR *d = opendir(src);
    if (d == NULL) {
        return -1;
    }
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        char s[1024], t[1024];
        struct stat st;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }
        snprintf(s, sizeof(s), "%s/%s", src, de->d_name);
        snprintf(t, sizeof(t), "%s/%s", dst, de->d_name);
        if (lstat(s, &st) != 0) {
            rc = -1;
        } else if (S_ISDIR(st.st_mode)) {
            rc = fz_copy_tree(s, t);
        } else if (S_ISREG(st.st_mode)) {
            size_t len = 0;
            uint8_t *buf = fz_read_file(s, &len);
            rc = buf != NULL ? fz_write_file(t, buf, len) : -1;
            free(buf);
        }
    }
    closedir(d);
    return rc;
}

/* Big-endian helpers for building inputs. */
static inline uint32_t fz_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

static inline void fz_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline void fz_put_i64(uint8_t *p, int64_t v)
{
    uint64_t u = (uint64_t)v;
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)u;
        u >>= 8;
    }
}

/* A cursor over the fuzz input: take bytes / small integers, 0 when
 * exhausted. */
struct fz_in {
    const uint8_t *p;
    size_t n;
};

static inline uint8_t fz_u8(struct fz_in *in)
{
    if (in->n == 0) {
        return 0;
    }
    in->n--;
    return *in->p++;
}

static inline uint16_t fz_u16(struct fz_in *in)
{
    uint16_t hi = fz_u8(in);
    return (uint16_t)(hi << 8 | fz_u8(in));
}

static inline uint32_t fz_u32(struct fz_in *in)
{
    uint32_t hi = fz_u16(in);
    return hi << 16 | fz_u16(in);
}

#endif /* FUZZ_COMMON_H */
