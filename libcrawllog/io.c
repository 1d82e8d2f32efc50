/*
 * io.c - the only place that calls the OS or the allocator (layer 0).
 *
 * Purpose: thin wrappers over the system calls and allocations the library
 * needs (see io.h), each returning 0 / fd / count or a negative errno, and
 * retrying EINTR and short transfers where that is safe.  Under
 * -DCRAWLLOG_TESTING every wrapper first reports its failpoint site to the
 * failpoint engine (io_failpoint.c), which may make it fail, write a prefix,
 * pretend success or kill the process (grammar in io.h), and the wrappers
 * that create inodes or sync them report that to the power-loss simulator
 * (io_shadow.c).  Without CRAWLLOG_TESTING those hooks are constant macros:
 * no cl_fp_* / cl_shadow_* symbols, no checks.
 *
 * On disk: nothing of its own.
 *
 * Invariants: every descriptor is opened O_CLOEXEC; openat adds O_NOFOLLOW
 * so a symlink in the data directory is never followed; a failed wrapper
 * leaves its out-pointers NULL; a SKIPped sync is never reported to the
 * shadow (it did not happen).
 *
 * Locks: none here (the hooks have their own, see io_failpoint.c, io_shadow.c).
 */
#define _GNU_SOURCE

#include <dirent.h>
#include <sys/random.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h> /* renameat */
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "crawllog.h"
#include "io_failpoint.h"
#include "io.h"
#include "io_shadow.h"

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

/* A failpoint hook's nonzero answer as a wrapper result: CL_FP_SKIPPED
 * (pretend success) becomes 0, errors stay. */
static int skip_to_ok(int rc)
{
    return rc == CL_FP_SKIPPED ? 0 : rc;
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

/* Failpoint of pwrite_all: SHORT(n) and CRASH(n) really write the first n
 * bytes, then fail with -ENOSPC or kill the process. */
static int fp_pwrite(const char *site, int fd, const void *buf, size_t len,
                     uint64_t off, int *eintr)
{
    size_t prefix = 0;
    int rc = cl_fp_check_write(site, len, &prefix, eintr);

    if (rc == CL_FP_SHORT || rc == CL_FP_TORN) {
        int wrc = write_loop(fd, buf, prefix, off, 0);
        if (rc == CL_FP_TORN) {
            raise(SIGKILL);
        }
        return wrc < 0 ? wrc : -ENOSPC;
    }
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Files and directories                                                   */
/* ---------------------------------------------------------------------- */

/* Give what this process just created exactly the bits of mode: the
 * umask must not narrow log.dir.mode / log.file.mode. */
static int set_mode(int fd, mode_t mode)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        return -errno;
    }
    if ((st.st_mode & 07777) != (mode & 07777) && fchmod(fd, mode & 07777)) {
        return -errno;
    }
    return 0;
}

/* openat(2) retrying EINTR (real or injected); dirfd may be AT_FDCWD. */
static int open_retry(const char *site, int dirfd, const char *name,
                      int flags, mode_t mode)
{
    int eintr = 0;
    int rc = cl_fp_check(site, 0, &eintr);
    struct stat st;

    if (rc != 0) {
        return rc;
    }
    int creates = (flags & O_CREAT) &&
                  ((flags & O_EXCL) ||
                   (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 &&
                    errno == ENOENT));
    for (;;) {
        int fd = fake_eintr(&eintr) ? -1 : openat(dirfd, name, flags, mode);
        if (fd >= 0) {
            if (creates) {
                cl_shadow_created(dirfd, name, fd);
            }
            if (creates && (rc = set_mode(fd, mode)) < 0) {
                close(fd);
                return rc;
            }
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
    int fd = open_retry(site, dirfd, name, flags | O_CLOEXEC | O_NOFOLLOW,
                        mode);
    struct stat st;
    /* O_DIRECTORY | O_NOFOLLOW on a symlink fails with ENOTDIR: report it
     * as the symlink it is (ELOOP), like a file's O_NOFOLLOW does.  If the
     * name was renamed away or became a directory in between (a rename
     * race), open again. */
    for (int tries = 0; fd == -ENOTDIR && (flags & O_DIRECTORY) != 0 &&
                        tries < 4;
         tries++) {
        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
            if (S_ISLNK(st.st_mode)) {
                return -ELOOP;
            }
            if (!S_ISDIR(st.st_mode)) {
                break;
            }
        } else if (errno != ENOENT) {
            break;
        }
        fd = open_retry(site, dirfd, name, flags | O_CLOEXEC | O_NOFOLLOW,
                        mode);
    }
    /* A file opened for writing must be ours alone: the library never
     * makes hard links, so a second link is someone else's name for it
     * (possibly outside the data directory) and is never written
     * through. */
    if (fd >= 0 && (flags & O_ACCMODE) != O_RDONLY && fstat(fd, &st) == 0 &&
        S_ISREG(st.st_mode) && st.st_nlink > 1) {
        close(fd);
        return -EMLINK;
    }
    return fd;
}

int cl_io_close(int fd)
{
    if (close(fd) != 0 && errno != EINTR) {
        return -errno;
    }
    return 0;
}

int cl_io_dup(const char *site, int fd)
{
    int rc = cl_fp_check(site, 0, NULL);
    if (rc != 0) {
        return rc;
    }
    int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    return nfd < 0 ? -errno : nfd;
}

int cl_io_thread_create(const char *site, pthread_t *thp,
                        void *(*fn)(void *), void *arg)
{
    int rc = cl_fp_check(site, 0, NULL);
    if (rc != 0) {
        return rc;
    }
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* the thread inherits it */
    rc = -pthread_create(thp, NULL, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

int cl_io_mkdirat(const char *site, int dirfd, const char *name,
                  mode_t mode)
{
    int rc = cl_fp_check(site, 1, NULL);

    if (rc != 0) {
        return skip_to_ok(rc);
    }
    if (mkdirat(dirfd, name, mode) != 0) {
        return -errno;
    }
    cl_shadow_created(dirfd, name, -1);
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
                                     O_CLOEXEC);
    rc = fd < 0 ? -errno : set_mode(fd, mode);
    if (fd >= 0) {
        close(fd);
    }
    return rc;
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
    int rc = cl_fp_check(site, 0, &eintr);

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
    int rc = cl_fp_check(site, 1, NULL);

    if (rc != 0) {
        return skip_to_ok(rc);
    }
    if (fdatasync(fd) != 0) {
        return -errno;
    }
    cl_shadow_synced(fd);
    return 0;
}

int cl_io_fsync(const char *site, int fd)
{
    int rc = cl_fp_check(site, 1, NULL);

    if (rc != 0) {
        return skip_to_ok(rc);
    }
    if (fsync(fd) != 0) {
        return -errno;
    }
    cl_shadow_synced(fd);
    return 0;
}

int cl_io_ftruncate(const char *site, int fd, uint64_t len)
{
    int eintr = 0;
    int rc = cl_fp_check(site, 1, &eintr);

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

int cl_io_fallocate(const char *site, int fd, uint64_t len)
{
    int eintr = 0;
    int rc = cl_fp_check(site, 1, &eintr);

    if (rc != 0) {
        return skip_to_ok(rc);
    }
    if (len > (uint64_t)INT64_MAX) {
        return -EINVAL;
    }
    for (;;) {
        rc = fake_eintr(&eintr) ? EINTR : posix_fallocate(fd, 0, (off_t)len);
        if (rc != EINTR) {
            return -rc;
        }
    }
}

int cl_io_renameat(const char *site, int olddirfd, const char *oldname,
                   int newdirfd, const char *newname)
{
    int rc = cl_fp_check(site, 1, NULL);

    if (rc != 0) {
        return skip_to_ok(rc);
    }
    return sys_result(renameat(olddirfd, oldname, newdirfd, newname));
}

int cl_io_unlinkat(const char *site, int dirfd, const char *name, int flags)
{
    int rc = cl_fp_check(site, 1, NULL);

    return rc != 0 ? skip_to_ok(rc) : sys_result(unlinkat(dirfd, name, flags));
}

int cl_io_fstat(const char *site, int fd, struct stat *st)
{
    int rc = cl_fp_check(site, 0, NULL);

    return rc != 0 ? skip_to_ok(rc) : sys_result(fstat(fd, st));
}

int cl_io_fstatat(const char *site, int dirfd, const char *name,
                  struct stat *st)
{
    int rc = cl_fp_check(site, 0, NULL);

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
    int rc = cl_fp_check(site, 1, &eintr);

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

static void ofd_byte(struct flock *fl, short type, uint64_t off)
{
    memset(fl, 0, sizeof(*fl));
    fl->l_type = type;
    fl->l_whence = SEEK_SET;
    fl->l_start = (off_t)off;
    fl->l_len = 1;
}

int cl_io_ofd_lock(const char *site, int fd, uint64_t off, int wait)
{
    struct flock fl;
    int eintr = 0;
    int rc = cl_fp_check(site, 1, &eintr);

    if (rc != 0) {
        return skip_to_ok(rc);
    }
    for (;;) {
        ofd_byte(&fl, F_WRLCK, off);
        if (!fake_eintr(&eintr) &&
            fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl) == 0) {
            return 0;
        }
        if (errno != EINTR) {
            return (errno == EAGAIN || errno == EACCES) ? -EWOULDBLOCK
                                                         : -errno;
        }
    }
}

int cl_io_ofd_unlock(int fd, uint64_t off)
{
    struct flock fl;
    ofd_byte(&fl, F_UNLCK, off);
    return fcntl(fd, F_OFD_SETLK, &fl) == 0 ? 0 : -errno;
}

int cl_io_ofd_held(int fd, uint64_t off)
{
    struct flock fl;
    ofd_byte(&fl, F_WRLCK, off);
    if (fcntl(fd, F_OFD_GETLK, &fl) != 0) {
        return -errno;
    }
    return fl.l_type != F_UNLCK;
}

/* ---------------------------------------------------------------------- */
/* futex                                                                   */
/* ---------------------------------------------------------------------- */

int cl_io_futex_wait(const void *addr, uint32_t val, int64_t timeout_ns)
{
    struct timespec ts, *tsp = NULL;
    if (timeout_ns >= 0) {
        ts.tv_sec = (time_t)(timeout_ns / 1000000000);
        ts.tv_nsec = (long)(timeout_ns % 1000000000);
        tsp = &ts;
    }
    /* Not FUTEX_PRIVATE: the word may be shared with other processes. */
    (void)syscall(SYS_futex, addr, FUTEX_WAIT, val, tsp, NULL, 0);
    return 0;
}

void cl_io_futex_wake(const void *addr)
{
    (void)syscall(SYS_futex, addr, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
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
        char *copy = cl_io_strdup(de->d_name);
        if (copy == NULL) {
            cl_io_listdir_free(names, count);
            return -ENOMEM;
        }
        names[count++] = copy;
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
    rc = cl_fp_check(site, 0, NULL);
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
    rc = cl_fp_check(site, 0, NULL);
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
    if (cl_fp_check_alloc()) {
        return NULL;
    }
    return malloc(n != 0 ? n : 1);
}

void *cl_io_calloc(size_t n, size_t size)
{
    if (cl_fp_check_alloc()) {
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
    if (cl_fp_check_alloc()) {
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
    if (cl_fp_boot_id(out, size)) {
        return 0; /* a test's simulated reboot */
    }
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

int cl_io_random(void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int cl_io_grow(void **arrp, size_t *capp, size_t need, size_t elem)
{
    if (need <= *capp) {
        return 0;
    }
    size_t ncap = *capp ? *capp : 16;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2) {
            return CRAWLLOG_ENOMEM;
        }
        ncap *= 2;
    }
    if (elem != 0 && ncap > SIZE_MAX / elem) {
        return CRAWLLOG_ENOMEM;
    }
    void *p = cl_io_realloc(*arrp, ncap * elem);
    if (p == NULL) {
        return CRAWLLOG_ENOMEM;
    }
    *arrp = p;
    *capp = ncap;
    return 0;
}
