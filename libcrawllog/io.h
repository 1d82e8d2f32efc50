/*
 * io.h - every system call and allocation of libcrawllog (layer 0).
 *
 * Only io.c calls the OS or malloc; every other module goes through these
 * wrappers.  Conventions:
 *  - The first argument is a failpoint site name: a string literal (it must
 *    have static storage duration) such as "seg.append.write".
 *  - Success returns 0, a file descriptor or a byte count; failure returns a
 *    NEGATIVE errno value (-EIO, -ENOSPC, ...).  errno itself is not part of
 *    the contract and no message is ever built here.
 *  - File descriptors are always opened close-on-exec.
 *  - Every function is thread-safe.
 *
 * Failpoints (only when built with -DCRAWLLOG_TESTING; a release build has
 * no failpoint code and no cl_fp_* symbols):
 *
 *   spec    := entry { ';' entry }            (empty entries are ignored)
 *   entry   := SITE '=' ACTION [ '@' K ] [ ':persist' ]
 *   SITE    := an exact site name | a prefix ending in '*' ("seg.*") | '*'
 *   ACTION  := ERRNO | 'SHORT(' n ')' | 'SKIP' | 'CRASH' | 'CRASH(' n ')'
 *   ERRNO   := EIO ENOSPC EDQUOT EINTR EMFILE ENFILE EACCES EAGAIN ENOMEM
 *              EROFS EPERM ENOENT EEXIST ELOOP EFBIG EBUSY
 *
 *   Each entry counts the hits of the sites it matches (one shared counter
 *   for a pattern).  It fires on its K-th hit (K >= 1, default 1), and with
 *   ':persist' on the K-th and every later hit.  Every matching entry counts
 *   a hit; the first entry (in spec order) that fires decides the action.
 *
 *   ERRNO   the call fails with -ERRNO and does nothing (a write writes
 *           nothing).  EINTR is special for open/openat/pwrite_all/
 *           pread_all/ftruncate/fallocate/lock: the wrapper sees one EINTR
 *           from the OS and must retry, so the call still succeeds.  For the "malloc"
 *           site any ERRNO makes the allocation return NULL.
 *   SHORT(n) pwrite_all really writes the first n bytes, then fails with
 *           -ENOSPC.  Every other call fails with -EIO.
 *   SKIP    pretends success without doing the operation (fsync ablation):
 *           pwrite_all/fsync/fdatasync/ftruncate/fallocate/mkdirat/renameat/
 *           unlinkat/
 *           lock return 0.  Calls that must produce something (open, openat,
 *           pread_all, fstat, fstatat, listdir, mmap_shared, allocations)
 *           cannot pretend, so SKIP fails them like EIO (NULL for malloc).
 *   CRASH   raise(SIGKILL) on that hit, before doing anything.
 *   CRASH(n) pwrite_all writes the first n bytes, then raise(SIGKILL) (a
 *           torn write); other calls behave as CRASH.
 *
 * Example: CRAWLLOG_FP="seg.append.fdatasync=EIO@3:persist;seg.*=SHORT(7)"
 *
 * Configuration: the environment variable CRAWLLOG_FP is read once, on the
 * first failpoint-aware call of the process (any wrapper with a site, or a
 * cl_fp_* call, which then replaces it), so it survives fork/exec.  A
 * malformed CRAWLLOG_FP aborts the process: a fault test must never run
 * silently without its faults.  If CRAWLLOG_FP_STATS names a file, one
 * "site hits" line per site reached (hits since process start) is appended
 * to it at exit; processes killed by CRASH or leaving by _exit() write
 * nothing.  Site names are tracked for up to 256 distinct sites.
 */
#ifndef CL_IO_H
#define CL_IO_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

/* open(2) with O_CLOEXEC added; retries EINTR.  Returns the fd. */
int cl_io_open(const char *site, const char *path, int flags, mode_t mode);

/* openat(2) with O_CLOEXEC|O_NOFOLLOW added (a symlink gives -ELOOP);
 * retries EINTR.  Returns the fd. */
int cl_io_openat(const char *site, int dirfd, const char *name, int flags,
                 mode_t mode);

/* close(2).  No failpoint site.  EINTR counts as success (on Linux the fd
 * is gone either way). */
int cl_io_close(int fd);

/* A new descriptor (close-on-exec) for the same open file description. */
int cl_io_dup(const char *site, int fd);

/* pthread_create(3) of a joinable thread with the default attributes and
 * every signal blocked (so the application's signals are never handled on
 * a library thread).  Returns 0 or -errno (e.g. -EAGAIN).  The library's
 * only threads are the durable-flush workers of flushset.c: created on the
 * first flush that needs them, joined by crawllog_close(). */
int cl_io_thread_create(const char *site, pthread_t *thp,
                        void *(*fn)(void *), void *arg);

/* mkdirat(2). */
int cl_io_mkdirat(const char *site, int dirfd, const char *name,
                  mode_t mode);

/* Write all len bytes at offset off, looping on short writes and EINTR.  A
 * write that returns 0 gives -EIO.  Returns 0 only if every byte was
 * written; after a failure a prefix may have been written. */
int cl_io_pwrite_all(const char *site, int fd, const void *buf, size_t len,
                     uint64_t off);

/* Read up to len bytes at offset off, looping until len bytes or EOF;
 * returns the number of bytes read (less than len only at EOF). */
ssize_t cl_io_pread_all(const char *site, int fd, void *buf, size_t len,
                        uint64_t off);

/* fdatasync(2) / fsync(2).  cl_io_fsync is also used on directories. */
int cl_io_fdatasync(const char *site, int fd);
int cl_io_fsync(const char *site, int fd);

/* ftruncate(2) to len bytes; retries EINTR. */
int cl_io_ftruncate(const char *site, int fd, uint64_t len);

/* posix_fallocate(3) of bytes 0..len: the blocks of a file that will be
 * mapped MAP_SHARED exist, so touching the mapping cannot raise SIGBUS on
 * a full file system (the caller gets -ENOSPC here instead).  Cheap when
 * they already exist. */
int cl_io_fallocate(const char *site, int fd, uint64_t len);

/* renameat(2). */
int cl_io_renameat(const char *site, int olddirfd, const char *oldname,
                   int newdirfd, const char *newname);

/* unlinkat(2); flags 0 or AT_REMOVEDIR. */
int cl_io_unlinkat(const char *site, int dirfd, const char *name, int flags);

/* fstat(2). */
int cl_io_fstat(const char *site, int fd, struct stat *st);

/* fstatat(2) with AT_SYMLINK_NOFOLLOW (a symlink reports S_IFLNK). */
int cl_io_fstatat(const char *site, int dirfd, const char *name,
                  struct stat *st);

/* flock(2): LOCK_EX if exclusive else LOCK_SH, plus LOCK_NB if !wait;
 * retries EINTR.  Returns -EWOULDBLOCK when the lock is held elsewhere and
 * !wait.  The lock belongs to the open file description: closing another
 * fd of the same file does not release it, and two open() calls of one
 * file in one process conflict with each other. */
int cl_io_lock(const char *site, int fd, int exclusive, int wait);

/* flock(fd, LOCK_UN).  No failpoint site. */
int cl_io_unlock(int fd);

/* Open-file-description byte-range locks (Linux F_OFD_SETLK): a write lock
 * on the one byte at offset off of fd's file.  Like flock they belong to the
 * open file description (threads with their own open() conflict, closing
 * another fd does not drop them) and the kernel releases them when the
 * last descriptor closes - in particular when the process dies, which is
 * how one process learns within milliseconds that another is gone.
 * cl_io_ofd_lock: 0, or -EWOULDBLOCK if held elsewhere and !wait.
 * cl_io_ofd_held: 1 if another open file description holds a lock on that
 * byte, 0 if not, negative errno on failure (no failpoint: a probe). */
int cl_io_ofd_lock(const char *site, int fd, uint64_t off, int wait);
int cl_io_ofd_unlock(int fd, uint64_t off);
int cl_io_ofd_held(int fd, uint64_t off);

/* futex(2) on a 32-bit word that may live in a MAP_SHARED file mapping (so
 * it works across processes).  cl_io_futex_wait sleeps while *addr == val,
 * at most timeout_ns (< 0: no limit); returns 0 when woken, on timeout, on
 * a signal or when *addr != val already (callers re-check their
 * condition).  cl_io_futex_wake wakes every waiter.  No failpoint sites:
 * a spurious wake-up is always allowed. */
int cl_io_futex_wait(const void *addr, uint32_t val, int64_t timeout_ns);
void cl_io_futex_wake(const void *addr);

/* List the names in directory dirfd except "." and "..", sorted with
 * strcmp.  On success *namesp (NULL when *countp is 0) and its strings are
 * allocated with cl_io_malloc; release them with cl_io_listdir_free.  On
 * failure *namesp is NULL and *countp 0.  dirfd itself is not moved. */
int cl_io_listdir(const char *site, int dirfd, char ***namesp,
                  size_t *countp);

/* Free what cl_io_listdir returned (accepts NULL). */
void cl_io_listdir_free(char **names, size_t count);

/* mmap(NULL, len, PROT_READ|PROT_WRITE, MAP_SHARED, fd, 0) into *addrp
 * (NULL on failure). */
int cl_io_mmap_shared(const char *site, int fd, size_t len, void **addrp);

/* munmap(2); accepts NULL. */
void cl_io_munmap(void *addr, size_t len);

/* Allocation wrappers, failpoint site "malloc".  A size of 0 still returns
 * a unique pointer.  cl_io_realloc leaves p untouched when it fails.
 * cl_io_free accepts NULL. */
void *cl_io_malloc(size_t n);
void *cl_io_calloc(size_t n, size_t size);
void *cl_io_realloc(void *p, size_t n);
char *cl_io_strdup(const char *s);

/* Grow the array *arrp (elements of elem bytes, capacity *capp) to hold at
 * least need elements, doubling (from 16).  Returns 0, or CRAWLLOG_ENOMEM
 * (allocation failed or the size would overflow; *arrp unchanged). */
int cl_io_grow(void **arrp, size_t *capp, size_t need, size_t elem);
void cl_io_free(void *p);

/* CLOCK_REALTIME in milliseconds since the epoch. */
int64_t cl_io_now_ms(void);

/* The kernel's boot id (Linux: /proc/sys/kernel/random/boot_id) as a
 * NUL-terminated string in out (size bytes).  Returns 0, or a negative
 * errno if it cannot be read (then out is "").  With -DCRAWLLOG_TESTING a
 * non-empty environment variable CRAWLLOG_BOOT_ID replaces it (a test's
 * simulated reboot, e.g. to recover a power-loss image). */
int cl_io_boot_id(char *out, size_t size);

/* len random bytes from the kernel (getrandom(2)): 0 or -errno. */
int cl_io_random(void *buf, size_t len);

/* 1 if a process with this pid exists (kill(pid, 0)), 0 if not. */
int cl_io_pid_alive(long pid);

/* CLOCK_MONOTONIC in nanoseconds (origin: boot; the same clock in every
 * process of the machine, so values can be compared across processes). */
int64_t cl_io_mono_ns(void);

#ifdef CRAWLLOG_TESTING
/* Replace the failpoint configuration with spec (grammar above); the new
 * entries start with zero hits, site hit counts are kept.  Returns 0, or
 * -EINVAL for a malformed spec (the old configuration stays). */
int cl_fp_set(const char *spec);

/* Remove every failpoint entry and reset every hit count. */
void cl_fp_clear(void);

/* How many times site was reached since the last cl_fp_clear (every call
 * counts, with or without a matching entry). */
uint64_t cl_fp_hits(const char *site);

/* Total hits of every site except "malloc" since the last cl_fp_clear:
 * "dry run counts N I/O operations, then fail operation k". */
uint64_t cl_fp_hits_total(void);
#endif

#endif /* CL_IO_H */
