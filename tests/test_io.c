/*
 * test_io.c - tests of libcrawllog/io.c: the system-call wrappers and the
 * CRAWLLOG_TESTING failpoint engine.  Built with -DCRAWLLOG_TESTING.
 *
 * Every test runs in a fresh mkdtemp directory with the failpoint
 * configuration cleared.  Tests that must kill or reconfigure a process run
 * in a fork()ed child (reporting through its exit status); the CRAWLLOG_FP
 * environment test re-executes this binary (argv[0]) with
 * "--env-child DIR" so the variable is read by a fresh process image.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "io.h"

/* This binary, for re-execution: argv[0] if it holds a path (so it also
 * works under valgrind), else /proc/self/exe. */
static const char *self_path = "/proc/self/exe";

struct tdir {
    char path[512]; /* the mkdtemp directory */
    int fd;         /* open on it */
};

/* ---------------------------------------------------------------------- */
/* Helpers (raw syscalls on purpose: independent of the code under test)   */
/* ---------------------------------------------------------------------- */

/* Remove everything below dirfd (not dirfd itself). */
static void rm_tree_at(int dirfd)
{
    int removed = 1;

    while (removed) {
        int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        struct dirent *de;

        removed = 0;
        if (d == NULL) {
            return;
        }
        while ((de = readdir(d)) != NULL) {
            struct stat st;
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
                continue;
            }
            if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                S_ISDIR(st.st_mode)) {
                int sub = openat(dirfd, de->d_name,
                                 O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
                if (sub >= 0) {
                    rm_tree_at(sub);
                    close(sub);
                }
                removed += unlinkat(dirfd, de->d_name, AT_REMOVEDIR) == 0;
            } else {
                removed += unlinkat(dirfd, de->d_name, 0) == 0;
            }
        }
        closedir(d);
    }
}

static int tmpdir_setup(void **state)
{
    struct tdir *t = calloc(1, sizeof *t);
    const char *base = getenv("TMPDIR");

    if (t == NULL) {
        return -1;
    }
    if (base == NULL || *base == '\0') {
        base = "/tmp";
    }
    snprintf(t->path, sizeof t->path, "%s/test_io.XXXXXX", base);
    if (mkdtemp(t->path) == NULL) {
        free(t);
        return -1;
    }
    t->fd = open(t->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (t->fd < 0) {
        free(t);
        return -1;
    }
    cl_fp_clear();
    *state = t;
    return 0;
}

static int tmpdir_teardown(void **state)
{
    struct tdir *t = *state;

    cl_fp_clear();
    rm_tree_at(t->fd);
    close(t->fd);
    rmdir(t->path);
    free(t);
    return 0;
}

/* Create (truncate) name in t with raw openat; returns the fd. */
static int make_file(const struct tdir *t, const char *name)
{
    int fd = openat(t->fd, name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC,
                    0600);
    assert_true(fd >= 0);
    return fd;
}

static long long file_size(const struct tdir *t, const char *name)
{
    struct stat st;

    if (fstatat(t->fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        return -1;
    }
    return (long long)st.st_size;
}

/* Read the whole (small) file into buf; returns its length. */
static size_t slurp(const struct tdir *t, const char *name, char *buf,
                    size_t cap)
{
    int fd = openat(t->fd, name, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    assert_true(fd >= 0);
    n = pread(fd, buf, cap, 0);
    close(fd);
    assert_true(n >= 0);
    return (size_t)n;
}

/* Wait for pid; returns the raw status. */
static int wait_child(pid_t pid)
{
    int status = 0;

    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

static void assert_killed_by(int status, int sig)
{
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), sig);
}

static void assert_exit_ok(int status)
{
    if (!WIFEXITED(status)) {
        fail_msg("child did not exit normally (status 0x%x)", status);
    }
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---------------------------------------------------------------------- */
/* Plain wrappers                                                          */
/* ---------------------------------------------------------------------- */

static void test_io_pwrite_pread_roundtrip(void **state)
{
    struct tdir *t = *state;
    char buf[64];
    int fd = cl_io_openat("t.open", t->fd, "f", O_RDWR | O_CREAT, 0600);

    assert_true(fd >= 0);
    assert_int_equal(cl_io_pwrite_all("t.write", fd, "hello", 5, 0), 0);
    assert_int_equal(cl_io_pwrite_all("t.write", fd, "world", 5, 10), 0);
    assert_int_equal(cl_io_pwrite_all("t.write", fd, "x", 0, 100), 0);
    assert_int_equal(file_size(t, "f"), 15);

    memset(buf, 'Z', sizeof buf);
    assert_int_equal(cl_io_pread_all("t.read", fd, buf, 5, 0), 5);
    assert_memory_equal(buf, "hello", 5);
    /* The hole between 5 and 10 reads as zeros. */
    assert_int_equal(cl_io_pread_all("t.read", fd, buf, 15, 0), 15);
    assert_memory_equal(buf + 5, "\0\0\0\0\0world", 10);
    /* Past EOF: a short count, then 0. */
    assert_int_equal(cl_io_pread_all("t.read", fd, buf, sizeof buf, 12), 3);
    assert_memory_equal(buf, "rld", 3);
    assert_int_equal(cl_io_pread_all("t.read", fd, buf, 8, 15), 0);
    assert_int_equal(cl_io_pread_all("t.read", fd, buf, 0, 0), 0);
    assert_int_equal(cl_io_close(fd), 0);
}

/* Regular files never give short reads before EOF, but seq_file files in
 * /proc do: /proc/self/smaps returns about one mapping per read. */
static void test_io_pread_all_loops_on_short_reads(void **state)
{
    size_t cap = 8u << 20;
    char *buf = malloc(cap);
    int fd = cl_io_open("t.open", "/proc/self/smaps", O_RDONLY, 0);
    ssize_t first, more, all;

    (void)state;
    assert_non_null(buf);
    if (fd < 0) {
        free(buf);
        skip();
    }
    first = pread(fd, buf, cap, 0);
    more = first > 0 ? pread(fd, buf, cap, (off_t)first) : 0;
    if (first <= 0 || more <= 0) {
        close(fd);
        free(buf);
        skip(); /* this kernel answers in one read: nothing to test */
    }
    all = cl_io_pread_all("t.read", fd, buf, cap, 0);
    assert_true(all > first);
    assert_true((size_t)all < cap); /* stopped at EOF, not at cap */
    close(fd);
    free(buf);
}

static void test_io_open_sets_cloexec(void **state)
{
    struct tdir *t = *state;
    char path[600];
    int fd1, fd2;

    fd1 = cl_io_openat("t.open", t->fd, "f", O_RDWR | O_CREAT, 0600);
    snprintf(path, sizeof path, "%s/f", t->path);
    fd2 = cl_io_open("t.open", path, O_RDONLY, 0);
    assert_true(fd1 >= 0 && fd2 >= 0);
    assert_true(fcntl(fd1, F_GETFD) & FD_CLOEXEC);
    assert_true(fcntl(fd2, F_GETFD) & FD_CLOEXEC);
    cl_io_close(fd1);
    cl_io_close(fd2);
}

static void test_io_openat_refuses_symlink(void **state)
{
    struct tdir *t = *state;
    struct stat st;
    char path[600];
    int fd;

    close(make_file(t, "target"));
    assert_int_equal(symlinkat("target", t->fd, "link"), 0);
    assert_int_equal(cl_io_openat("t.open", t->fd, "link", O_RDONLY, 0),
                     -ELOOP);
    assert_int_equal(cl_io_openat("t.open", t->fd, "link",
                                  O_RDWR | O_CREAT, 0600),
                     -ELOOP);
    /* cl_io_open (an absolute path given by the user) does follow. */
    snprintf(path, sizeof path, "%s/link", t->path);
    fd = cl_io_open("t.open", path, O_RDONLY, 0);
    assert_true(fd >= 0);
    cl_io_close(fd);
    /* fstatat does not follow either. */
    assert_int_equal(cl_io_fstatat("t.stat", t->fd, "link", &st), 0);
    assert_true(S_ISLNK(st.st_mode));
}

static void test_io_errors_are_negative_errno(void **state)
{
    struct tdir *t = *state;
    struct stat st;
    char c = 0;

    assert_int_equal(cl_io_openat("t.open", t->fd, "missing", O_RDONLY, 0),
                     -ENOENT);
    assert_int_equal(cl_io_pwrite_all("t.write", -1, "x", 1, 0), -EBADF);
    assert_int_equal(cl_io_pread_all("t.read", -1, &c, 1, 0), -EBADF);
    assert_int_equal(cl_io_fdatasync("t.sync", -1), -EBADF);
    assert_int_equal(cl_io_fsync("t.sync", -1), -EBADF);
    assert_int_equal(cl_io_fstat("t.stat", -1, &st), -EBADF);
    assert_int_equal(cl_io_ftruncate("t.trunc", -1, 0), -EBADF);
    assert_int_equal(cl_io_lock("t.lock", -1, 1, 0), -EBADF);
    assert_int_equal(cl_io_unlinkat("t.unlink", t->fd, "missing", 0),
                     -ENOENT);
    assert_int_equal(cl_io_mkdirat("t.mkdir", t->fd, "d", 0700), 0);
    assert_int_equal(cl_io_mkdirat("t.mkdir", t->fd, "d", 0700), -EEXIST);
    assert_int_equal(cl_io_close(-1), -EBADF);
}

static void test_io_dir_ops(void **state)
{
    struct tdir *t = *state;
    struct stat st;
    int fd = cl_io_openat("t.open", t->fd, "f", O_RDWR | O_CREAT, 0600);
    int dfd;

    assert_true(fd >= 0);
    assert_int_equal(cl_io_ftruncate("t.trunc", fd, 1000), 0);
    assert_int_equal(cl_io_fstat("t.stat", fd, &st), 0);
    assert_int_equal(st.st_size, 1000);
    assert_int_equal(cl_io_ftruncate("t.trunc", fd, 7), 0);
    assert_int_equal(file_size(t, "f"), 7);
    assert_int_equal(cl_io_fdatasync("t.sync", fd), 0);
    assert_int_equal(cl_io_fsync("t.sync", fd), 0);
    cl_io_close(fd);

    assert_int_equal(cl_io_mkdirat("t.mkdir", t->fd, "d", 0700), 0);
    assert_int_equal(cl_io_fstatat("t.stat", t->fd, "d", &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    dfd = cl_io_openat("t.open", t->fd, "d", O_RDONLY | O_DIRECTORY, 0);
    assert_true(dfd >= 0);
    assert_int_equal(cl_io_renameat("t.rename", t->fd, "f", dfd, "g"), 0);
    assert_int_equal(cl_io_fstatat("t.stat", t->fd, "f", &st), -ENOENT);
    assert_int_equal(cl_io_fstatat("t.stat", dfd, "g", &st), 0);
    assert_int_equal(st.st_size, 7);
    assert_int_equal(cl_io_fsync("t.dirsync", dfd), 0);
    assert_int_equal(cl_io_unlinkat("t.unlink", t->fd, "d", AT_REMOVEDIR),
                     -ENOTEMPTY);
    assert_int_equal(cl_io_unlinkat("t.unlink", dfd, "g", 0), 0);
    assert_int_equal(cl_io_unlinkat("t.unlink", t->fd, "d", AT_REMOVEDIR),
                     0);
    cl_io_close(dfd);
}

static void test_io_mmap_shared_roundtrip(void **state)
{
    struct tdir *t = *state;
    int fd = cl_io_openat("t.open", t->fd, "m", O_RDWR | O_CREAT, 0600);
    void *addr = NULL;
    char buf[5];

    assert_true(fd >= 0);
    assert_int_equal(cl_io_ftruncate("t.trunc", fd, 4096), 0);
    assert_int_equal(cl_io_mmap_shared("t.mmap", fd, 4096, &addr), 0);
    assert_non_null(addr);
    memcpy((char *)addr + 100, "hello", 5);
    cl_io_munmap(addr, 4096);
    assert_int_equal(cl_io_pread_all("t.read", fd, buf, 5, 100), 5);
    assert_memory_equal(buf, "hello", 5);

    addr = &buf;
    assert_int_equal(cl_io_mmap_shared("t.mmap", fd, 0, &addr), -EINVAL);
    assert_null(addr);
    assert_int_equal(cl_fp_set("t.mmap=ENOMEM"), 0);
    addr = &buf;
    assert_int_equal(cl_io_mmap_shared("t.mmap", fd, 4096, &addr), -ENOMEM);
    assert_null(addr);
    cl_io_munmap(NULL, 0);
    cl_io_close(fd);
}

static void test_io_alloc_wrappers(void **state)
{
    char *p, *q;
    int *z;

    (void)state;
    p = cl_io_malloc(0);
    assert_non_null(p);
    p = cl_io_realloc(p, 0);
    assert_non_null(p);
    cl_io_free(p);
    z = cl_io_calloc(0, 4);
    assert_non_null(z);
    cl_io_free(z);
    z = cl_io_calloc(16, sizeof *z);
    assert_non_null(z);
    assert_int_equal(z[0] | z[15], 0);
    cl_io_free(z);
    q = cl_io_strdup("crawl");
    assert_string_equal(q, "crawl");
    cl_io_free(q);
    cl_io_free(NULL);
}

static void test_io_clocks(void **state)
{
    int64_t wall = (int64_t)time(NULL) * 1000;
    int64_t now = cl_io_now_ms();
    int64_t a = cl_io_mono_ns(), b;
    struct timespec ts = {0, 2000000};

    (void)state;
    assert_true(now >= wall - 2000 && now <= wall + 2000);
    nanosleep(&ts, NULL);
    b = cl_io_mono_ns();
    assert_true(b - a >= 2000000);
    assert_true(b - a < 10LL * 1000000000);
}

/* ---------------------------------------------------------------------- */
/* Directory listing                                                       */
/* ---------------------------------------------------------------------- */

static void test_io_listdir_sorted_without_dots(void **state)
{
    struct tdir *t = *state;
    const char *make[] = {"c2", "b", "A", "c10", "a"};
    const char *want[] = {"A", "a", "b", "c10", "c2", "sub"};
    char **names = (char **)&names;
    size_t count = 99, i;
    int fd;

    assert_int_equal(cl_io_listdir("t.list", t->fd, &names, &count), 0);
    assert_int_equal(count, 0);
    assert_null(names);
    for (i = 0; i < sizeof make / sizeof make[0]; i++) {
        close(make_file(t, make[i]));
    }
    assert_int_equal(mkdirat(t->fd, "sub", 0700), 0);
    close(openat(t->fd, "sub/inner", O_RDWR | O_CREAT | O_CLOEXEC, 0600));

    assert_int_equal(cl_io_listdir("t.list", t->fd, &names, &count), 0);
    assert_int_equal(count, 6);
    for (i = 0; i < count; i++) {
        assert_string_equal(names[i], want[i]);
    }
    cl_io_listdir_free(names, count);
    cl_io_listdir_free(NULL, 0);

    /* The caller's dirfd is not the one being read: listing twice works. */
    assert_int_equal(cl_io_listdir("t.list", t->fd, &names, &count), 0);
    assert_int_equal(count, 6);
    cl_io_listdir_free(names, count);

    fd = make_file(t, "plain");
    assert_int_equal(cl_io_listdir("t.list", fd, &names, &count), -ENOTDIR);
    assert_null(names);
    close(fd);
}

struct list_job {
    int dirfd;
    size_t expect;
    int bad; /* listings that did not see expect names */
};

static void *list_worker(void *arg)
{
    struct list_job *job = arg;
    int i;

    for (i = 0; i < 200; i++) {
        char **names;
        size_t count;
        if (cl_io_listdir("t.list", job->dirfd, &names, &count) != 0 ||
            count != job->expect) {
            job->bad++;
        }
        cl_io_listdir_free(names, count);
    }
    return NULL;
}

static void test_io_listdir_concurrent_same_dirfd(void **state)
{
    struct tdir *t = *state;
    struct list_job jobs[4];
    pthread_t th[4];
    char name[32];
    int i;

    for (i = 0; i < 200; i++) {
        snprintf(name, sizeof name, "file-%03d", i);
        close(make_file(t, name));
    }
    for (i = 0; i < 4; i++) {
        jobs[i].dirfd = t->fd;
        jobs[i].expect = 200;
        jobs[i].bad = 0;
        assert_int_equal(pthread_create(&th[i], NULL, list_worker, &jobs[i]),
                         0);
    }
    for (i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(jobs[i].bad, 0);
    }
}

/* ---------------------------------------------------------------------- */
/* Locks                                                                   */
/* ---------------------------------------------------------------------- */

static void test_io_lock_is_per_open_file_description(void **state)
{
    struct tdir *t = *state;
    int fd1, fd2, fd3;

    close(make_file(t, "lock"));
    fd1 = cl_io_openat("t.open", t->fd, "lock", O_RDWR, 0);
    fd2 = cl_io_openat("t.open", t->fd, "lock", O_RDWR, 0);
    assert_true(fd1 >= 0 && fd2 >= 0);

    assert_int_equal(cl_io_lock("t.lock", fd1, 1, 0), 0);
    assert_int_equal(cl_io_lock("t.lock", fd2, 1, 0), -EWOULDBLOCK);
    assert_int_equal(cl_io_lock("t.lock", fd2, 0, 0), -EWOULDBLOCK);
    /* Closing a third descriptor of the same file keeps fd1's lock. */
    fd3 = cl_io_openat("t.open", t->fd, "lock", O_RDWR, 0);
    assert_true(fd3 >= 0);
    assert_int_equal(cl_io_close(fd3), 0);
    assert_int_equal(cl_io_lock("t.lock", fd2, 1, 0), -EWOULDBLOCK);

    assert_int_equal(cl_io_unlock(fd1), 0);
    assert_int_equal(cl_io_lock("t.lock", fd2, 1, 0), 0);
    assert_int_equal(cl_io_lock("t.lock", fd1, 0, 0), -EWOULDBLOCK);
    assert_int_equal(cl_io_unlock(fd2), 0);

    /* Shared locks coexist; they exclude an exclusive one. */
    assert_int_equal(cl_io_lock("t.lock", fd1, 0, 0), 0);
    assert_int_equal(cl_io_lock("t.lock", fd2, 0, 0), 0);
    fd3 = cl_io_openat("t.open", t->fd, "lock", O_RDWR, 0);
    assert_int_equal(cl_io_lock("t.lock", fd3, 1, 0), -EWOULDBLOCK);
    cl_io_close(fd3);
    cl_io_close(fd1);
    cl_io_close(fd2);
}

struct lock_job {
    int fd;
    atomic_int got; /* set once the blocking lock returned 0 */
};

static void *lock_worker(void *arg)
{
    struct lock_job *job = arg;

    if (cl_io_lock("t.lock", job->fd, 1, 1) == 0) {
        atomic_store(&job->got, 1);
    }
    return NULL;
}

static void test_io_lock_wait_blocks_until_unlock(void **state)
{
    struct tdir *t = *state;
    struct lock_job job;
    struct timespec ts = {0, 100000000};
    pthread_t th;
    int fd1;

    atomic_init(&job.got, 0);
    close(make_file(t, "lock"));
    fd1 = cl_io_openat("t.open", t->fd, "lock", O_RDWR, 0);
    job.fd = cl_io_openat("t.open", t->fd, "lock", O_RDWR, 0);
    assert_int_equal(cl_io_lock("t.lock", fd1, 1, 1), 0);
    assert_int_equal(pthread_create(&th, NULL, lock_worker, &job), 0);
    nanosleep(&ts, NULL);
    assert_int_equal(atomic_load(&job.got), 0);
    assert_int_equal(cl_io_unlock(fd1), 0);
    pthread_join(th, NULL);
    assert_int_equal(atomic_load(&job.got), 1);
    assert_int_equal(cl_io_lock("t.lock", fd1, 0, 0), -EWOULDBLOCK);
    cl_io_close(job.fd);
    cl_io_close(fd1);
}

/* ---------------------------------------------------------------------- */
/* Failpoints: counting and matching                                       */
/* ---------------------------------------------------------------------- */

static void test_io_fp_fires_on_first_hit_only(void **state)
{
    struct tdir *t = *state;
    int fd = make_file(t, "f");

    assert_int_equal(cl_fp_set("t.write=EIO@1"), 0);
    assert_int_equal(cl_io_pwrite_all("t.write", fd, "abc", 3, 0), -EIO);
    assert_int_equal(file_size(t, "f"), 0);
    assert_int_equal(cl_io_pwrite_all("t.write", fd, "abc", 3, 0), 0);
    assert_int_equal(cl_io_pwrite_all("t.write", fd, "def", 3, 3), 0);
    assert_int_equal(file_size(t, "f"), 6);
    /* Other sites are untouched. */
    assert_int_equal(cl_io_pwrite_all("t.other", fd, "g", 1, 6), 0);
    close(fd);
}

static void test_io_fp_fires_on_kth_hit_only(void **state)
{
    struct tdir *t = *state;
    int fd = make_file(t, "f");
    char buf[8];
    int i;

    assert_int_equal(cl_fp_set("t.write=ENOSPC@3"), 0);
    for (i = 0; i < 5; i++) {
        char c = (char)('a' + i);
        int rc = cl_io_pwrite_all("t.write", fd, &c, 1, (uint64_t)i);
        assert_int_equal(rc, i == 2 ? -ENOSPC : 0);
    }
    assert_int_equal(slurp(t, "f", buf, sizeof buf), 5);
    assert_memory_equal(buf, "ab\0de", 5);
    close(fd);
}

static void test_io_fp_persist_fails_from_k_on(void **state)
{
    struct tdir *t = *state;
    int fd = make_file(t, "f");
    int i;

    assert_int_equal(cl_fp_set("t.sync=EIO@2:persist"), 0);
    for (i = 1; i <= 6; i++) {
        assert_int_equal(cl_io_fdatasync("t.sync", fd), i >= 2 ? -EIO : 0);
    }
    assert_int_equal(cl_fp_set("t.sync=EDQUOT:persist"), 0);
    assert_int_equal(cl_io_fsync("t.sync", fd), -EDQUOT);
    assert_int_equal(cl_io_fsync("t.sync", fd), -EDQUOT);
    close(fd);
}

static void test_io_fp_prefix_pattern(void **state)
{
    struct tdir *t = *state;
    int fd = make_file(t, "f");

    /* One shared counter for every site starting with "seg.". */
    assert_int_equal(cl_fp_set("seg.*=ENOSPC@2"), 0);
    assert_int_equal(cl_io_fsync("seg.a", fd), 0);         /* hit 1 */
    assert_int_equal(cl_io_fsync("other.x", fd), 0);       /* no match */
    assert_int_equal(cl_io_fsync("segment.x", fd), 0);     /* no match */
    assert_int_equal(cl_io_fsync("seg.b", fd), -ENOSPC);   /* hit 2 */
    assert_int_equal(cl_io_fsync("seg.a", fd), 0);         /* hit 3 */
    assert_int_equal(cl_io_mkdirat("seg.mk", t->fd, "d", 0700), 0);
    close(fd);
}

static void test_io_fp_star_matches_every_site(void **state)
{
    struct tdir *t = *state;
    struct stat st;
    int fd = make_file(t, "f");

    assert_int_equal(cl_fp_set("*=EACCES@3"), 0);
    assert_int_equal(cl_io_fsync("x.one", fd), 0);
    assert_int_equal(cl_io_fdatasync("y.two", fd), 0);
    assert_int_equal(cl_io_mkdirat("z.three", t->fd, "d", 0700), -EACCES);
    assert_int_equal(fstatat(t->fd, "d", &st, 0), -1);
    assert_int_equal(cl_io_mkdirat("z.three", t->fd, "d", 0700), 0);

    assert_int_equal(cl_fp_set("*=EROFS:persist"), 0);
    assert_int_equal(cl_io_unlinkat("a", t->fd, "f", 0), -EROFS);
    assert_int_equal(cl_io_renameat("b", t->fd, "f", t->fd, "g"), -EROFS);
    assert_null(cl_io_malloc(1));
    assert_int_equal(file_size(t, "f"), 0);
    close(fd);
}

static void test_io_fp_first_firing_entry_wins(void **state)
{
    struct tdir *t = *state;
    int fd = make_file(t, "f");

    /* Both entries count every hit of t.x; the first that fires decides. */
    assert_int_equal(cl_fp_set("t.x=EIO@2;t.*=ENOSPC@1"), 0);
    assert_int_equal(cl_io_fsync("t.x", fd), -ENOSPC);
    assert_int_equal(cl_io_fsync("t.x", fd), -EIO);
    assert_int_equal(cl_io_fsync("t.x", fd), 0);

    assert_int_equal(cl_fp_set("t.x=EPERM;t.x=ENOENT"), 0);
    assert_int_equal(cl_io_fsync("t.x", fd), -EPERM);
    close(fd);
}

static void test_io_fp_hits_counts(void **state)
{
    struct tdir *t = *state;
    char same[] = "h.a"; /* another pointer to an equal name */
    int fd = make_file(t, "f");
    void *p;

    assert_int_equal(cl_fp_hits("h.a"), 0);
    assert_int_equal(cl_fp_hits_total(), 0);
    cl_io_fsync("h.a", fd);
    cl_io_fsync("h.a", fd);
    cl_io_fdatasync("h.b", fd);
    p = cl_io_malloc(8);
    cl_io_free(p);
    assert_int_equal(cl_fp_hits("h.a"), 2);
    assert_int_equal(cl_fp_hits(same), 2);
    assert_int_equal(cl_fp_hits("h.b"), 1);
    assert_int_equal(cl_fp_hits("malloc"), 1);
    assert_int_equal(cl_fp_hits("h.none"), 0);
    assert_int_equal(cl_fp_hits_total(), 3);

    /* A hit that fails still counts; cl_fp_set keeps site counts. */
    assert_int_equal(cl_fp_set("h.a=EIO"), 0);
    assert_int_equal(cl_io_fsync("h.a", fd), -EIO);
    assert_int_equal(cl_fp_hits("h.a"), 3);
    assert_int_equal(cl_fp_set("h.a=EIO@2"), 0);
    assert_int_equal(cl_io_fsync("h.a", fd), 0); /* entry count restarted */
    assert_int_equal(cl_io_fsync("h.a", fd), -EIO);
    assert_int_equal(cl_fp_hits("h.a"), 5);

    cl_fp_clear();
    assert_int_equal(cl_fp_hits("h.a"), 0);
    assert_int_equal(cl_fp_hits("malloc"), 0);
    assert_int_equal(cl_fp_hits_total(), 0);
    assert_int_equal(cl_io_fsync("h.a", fd), 0); /* entries gone */
    close(fd);
}

/* Child: more distinct sites than the table holds (kept out of the test
 * process so its site table stays small).  Exit code = failed check. */
static int many_sites_child(int fd)
{
    static char names[300][24];
    int i;

    for (i = 0; i < 300; i++) {
        snprintf(names[i], sizeof names[i], "many.%d", i);
    }
    if (cl_fp_set("many.299=EIO") != 0) {
        return 1;
    }
    for (i = 0; i < 300; i++) {
        if (cl_io_fsync(names[i], fd) != (i == 299 ? -EIO : 0)) {
            return 2;
        }
    }
    if (cl_fp_hits_total() != 300 || cl_fp_hits(names[0]) != 1) {
        return 3;
    }
    return 0;
}

static void test_io_fp_many_sites(void **state)
{
    struct tdir *t = *state;
    int fd = make_file(t, "f");
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        _exit(many_sites_child(fd));
    }
    assert_exit_ok(wait_child(pid));
    close(fd);
}

/* ---------------------------------------------------------------------- */
/* Failpoints: actions                                                     */
/* ---------------------------------------------------------------------- */

static void test_io_fp_short_write(void **state)
{
    struct tdir *t = *state;
    int fd = make_file(t, "f");
    char buf[16];

    assert_int_equal(cl_fp_set("t.write=SHORT(3)"), 0);
    assert_int_equal(cl_io_pwrite_all("t.write", fd, "abcdefgh", 8, 0),
                     -ENOSPC);
    assert_int_equal(slurp(t, "f", buf, sizeof buf), 3);
    assert_memory_equal(buf, "abc", 3);
    /* n larger than the write: all of it lands, still ENOSPC. */
    assert_int_equal(cl_fp_set("t.write=SHORT(100)"), 0);
    assert_int_equal(cl_io_pwrite_all("t.write", fd, "XY", 2, 3), -ENOSPC);
    assert_int_equal(file_size(t, "f"), 5);
    /* Other calls treat SHORT as EIO. */
    assert_int_equal(cl_fp_set("t.sync=SHORT(1);t.read=SHORT(1)"), 0);
    assert_int_equal(cl_io_fdatasync("t.sync", fd), -EIO);
    assert_int_equal(cl_io_pread_all("t.read", fd, buf, 4, 0), -EIO);
    close(fd);
}

static void test_io_fp_skip_pretends_success(void **state)
{
    struct tdir *t = *state;
    int fd = make_file(t, "f");
    struct stat st;
    char c;

    /* fd -1 proves nothing was called: the real call gives -EBADF. */
    assert_int_equal(cl_fp_set("t.sync=SKIP"), 0);
    assert_int_equal(cl_io_fdatasync("t.sync", -1), 0);
    assert_int_equal(cl_io_fdatasync("t.sync", -1), -EBADF);

    assert_int_equal(cl_fp_set("t.write=SKIP;t.trunc=SKIP;t.mk=SKIP"), 0);
    assert_int_equal(cl_io_pwrite_all("t.write", fd, "abc", 3, 0), 0);
    assert_int_equal(file_size(t, "f"), 0);
    assert_int_equal(cl_io_ftruncate("t.trunc", fd, 100), 0);
    assert_int_equal(file_size(t, "f"), 0);
    assert_int_equal(cl_io_mkdirat("t.mk", t->fd, "d", 0700), 0);
    assert_int_equal(fstatat(t->fd, "d", &st, 0), -1);

    /* Calls that must produce something cannot pretend. */
    assert_int_equal(cl_fp_set("t.open=SKIP;t.read=SKIP"), 0);
    assert_int_equal(cl_io_openat("t.open", t->fd, "f", O_RDONLY, 0), -EIO);
    assert_int_equal(cl_io_pread_all("t.read", fd, &c, 1, 0), -EIO);
    close(fd);
}

static void test_io_fp_eintr_is_retried(void **state)
{
    struct tdir *t = *state;
    char buf[4];
    int fd, fd2;

    assert_int_equal(cl_fp_set("t.open=EINTR:persist;t.write=EINTR:persist;"
                               "t.read=EINTR:persist;t.lock=EINTR:persist;"
                               "t.trunc=EINTR:persist"),
                     0);
    fd = cl_io_openat("t.open", t->fd, "f", O_RDWR | O_CREAT, 0600);
    assert_true(fd >= 0);
    assert_int_equal(cl_io_pwrite_all("t.write", fd, "abcd", 4, 0), 0);
    assert_int_equal(cl_io_pwrite_all("t.write", fd, "efgh", 4, 4), 0);
    assert_int_equal(cl_io_pread_all("t.read", fd, buf, 4, 2), 4);
    assert_memory_equal(buf, "cdef", 4);
    assert_int_equal(cl_io_ftruncate("t.trunc", fd, 6), 0);
    assert_int_equal(file_size(t, "f"), 6);
    assert_int_equal(cl_io_lock("t.lock", fd, 1, 0), 0);
    fd2 = cl_io_openat("t.open", t->fd, "f", O_RDWR, 0);
    assert_true(fd2 >= 0);
    assert_int_equal(cl_io_lock("t.lock", fd2, 1, 0), -EWOULDBLOCK);
    /* A retry is not a new hit. */
    assert_int_equal(cl_fp_hits("t.write"), 2);
    assert_int_equal(cl_fp_hits("t.open"), 2);
    /* Calls without a retry loop report the injected EINTR. */
    assert_int_equal(cl_fp_set("t.sync=EINTR"), 0);
    assert_int_equal(cl_io_fsync("t.sync", fd), -EINTR);
    close(fd2);
    close(fd);
}

static void test_io_fp_other_errnos(void **state)
{
    struct tdir *t = *state;

    assert_int_equal(cl_fp_set("t.open=EMFILE@1;t.open=ENFILE@2"), 0);
    assert_int_equal(cl_io_openat("t.open", t->fd, "f", O_RDWR | O_CREAT,
                                  0600),
                     -EMFILE);
    assert_int_equal(cl_io_openat("t.open", t->fd, "f", O_RDWR | O_CREAT,
                                  0600),
                     -ENFILE);
    assert_int_equal(file_size(t, "f"), -1); /* never created */
    assert_int_equal(cl_fp_set("t.lock=EAGAIN"), 0);
    assert_int_equal(cl_io_lock("t.lock", -1, 1, 0), -EWOULDBLOCK);
    assert_int_equal(cl_fp_set("t.list=ENOENT"), 0);
    {
        char **names = (char **)&names;
        size_t count = 5;
        assert_int_equal(cl_io_listdir("t.list", t->fd, &names, &count),
                         -ENOENT);
        assert_null(names);
        assert_int_equal(count, 0);
    }
}

static void test_io_fp_malloc(void **state)
{
    void *p1, *p2, *p3;
    char *s;

    (void)state;
    assert_int_equal(cl_fp_set("malloc=ENOMEM@2"), 0);
    p1 = cl_io_malloc(16);
    p2 = cl_io_malloc(16);
    p3 = cl_io_malloc(16);
    assert_non_null(p1);
    assert_null(p2);
    assert_non_null(p3);
    assert_int_equal(cl_fp_hits("malloc"), 3);
    assert_int_equal(cl_fp_hits_total(), 0);

    /* A failed realloc leaves the old block intact. */
    memcpy(p1, "keep", 5);
    assert_int_equal(cl_fp_set("malloc=EIO:persist"), 0);
    assert_null(cl_io_realloc(p1, 4096));
    assert_null(cl_io_calloc(2, 2));
    assert_null(cl_io_strdup("x"));
    assert_string_equal(p1, "keep");
    cl_fp_clear();
    s = cl_io_strdup(p1);
    assert_string_equal(s, "keep");
    cl_io_free(s);
    cl_io_free(p1);
    cl_io_free(p3);
}

/* OOM sweep over cl_io_listdir: a dry run counts its allocations, then
 * each one is failed in turn (ASan/LSan prove nothing leaks). */
static void test_io_fp_malloc_sweep_listdir(void **state)
{
    struct tdir *t = *state;
    char spec[64], name[16], **names;
    size_t count;
    uint64_t n, k;
    int i;

    for (i = 0; i < 40; i++) {
        snprintf(name, sizeof name, "n%02d", i);
        close(make_file(t, name));
    }
    assert_int_equal(cl_io_listdir("t.list", t->fd, &names, &count), 0);
    cl_io_listdir_free(names, count);
    n = cl_fp_hits("malloc");
    assert_true(n >= 41); /* 40 names + the array */
    for (k = 1; k <= n; k++) {
        snprintf(spec, sizeof spec, "malloc=ENOMEM@%llu",
                 (unsigned long long)k);
        assert_int_equal(cl_fp_set(spec), 0);
        assert_int_equal(cl_io_listdir("t.list", t->fd, &names, &count),
                         -ENOMEM);
        assert_null(names);
        assert_int_equal(count, 0);
    }
    snprintf(spec, sizeof spec, "malloc=ENOMEM@%llu",
             (unsigned long long)(n + 1));
    assert_int_equal(cl_fp_set(spec), 0);
    assert_int_equal(cl_io_listdir("t.list", t->fd, &names, &count), 0);
    assert_int_equal(count, 40);
    cl_io_listdir_free(names, count);
}

static void test_io_fp_malformed_spec_rejected(void **state)
{
    struct tdir *t = *state;
    static const char *bad[] = {
        "nosep", "=EIO", "a=", "a=EBOGUS", "a=eio", "a=EIO@0", "a=EIO@",
        "a=EIO@x", "a=EIO@1x", "a=EIO@-1", "a=SHORT", "a=SHORT(",
        "a=SHORT()", "a=SHORT(x)", "a=SHORT(3", "a=SHORT(-3)", "a=CRASH(",
        "a=CRASH()", "a=EIO:persis", "a=EIO:persistX", "a=EIO:persist@2",
        "a*b=EIO", "**=EIO", "a b=EIO", " a=EIO", "a=EIO ", "a=EIO;b=",
        "a=SKIP2", "a=SKIP(1)", "a=EIO@99999999999999999999", "a=EIOX",
        "a==EIO", "a=EIO;;x",
    };
    char longspec[5000];
    int fd = make_file(t, "f");
    size_t i;

    assert_int_equal(cl_fp_set("keep.site=EIO@2"), 0);
    assert_int_equal(cl_io_fsync("keep.site", fd), 0); /* hit 1 */
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (cl_fp_set(bad[i]) != -EINVAL) {
            fail_msg("spec \"%s\" was accepted", bad[i]);
        }
    }
    assert_int_equal(cl_fp_set(NULL), -EINVAL);
    memset(longspec, 'a', sizeof longspec - 5);
    memcpy(longspec + sizeof longspec - 5, "=EIO", 5);
    assert_int_equal(cl_fp_set(longspec), -EINVAL);
    /* The old entry and its hit count survived every rejection. */
    assert_int_equal(cl_io_fsync("keep.site", fd), -EIO); /* hit 2 */
    assert_int_equal(cl_io_fsync("keep.site", fd), 0);
    close(fd);
}

static void test_io_fp_valid_specs_accepted(void **state)
{
    static const char *good[] = {
        "", ";", "a=EIO", "a=EIO;", "a.b-c_D9=ENOSPC@12:persist",
        "seg.*=SHORT(7)@1", "*=CRASH(0)@1000", "x=CRASH@3:persist",
        "x=SKIP:persist", "m=ENOMEM;n=EDQUOT;o=EAGAIN;p=EMFILE;q=EACCES",
        "r=EROFS;s=EPERM;t=ENOENT;u=EINTR",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof good / sizeof good[0]; i++) {
        if (cl_fp_set(good[i]) != 0) {
            fail_msg("spec \"%s\" was rejected", good[i]);
        }
    }
    /* "" installs no entries: an earlier entry is gone. */
    assert_int_equal(cl_fp_set("z.sync=EIO:persist"), 0);
    assert_int_equal(cl_io_fdatasync("z.sync", -1), -EIO);
    assert_int_equal(cl_fp_set(""), 0);
    assert_int_equal(cl_io_fdatasync("z.sync", -1), -EBADF);
}

/* ---------------------------------------------------------------------- */
/* Failpoints: crashes and the environment                                 */
/* ---------------------------------------------------------------------- */

/* Fork a child that sets spec and runs one pwrite of "0123456789". */
static int crash_child_write(const struct tdir *t, const char *spec)
{
    int fd = make_file(t, "f");
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        if (cl_fp_set(spec) != 0) {
            _exit(2);
        }
        /* Reached only if no crash fired. */
        _exit(cl_io_pwrite_all("t.write", fd, "0123456789", 10, 0) == 0
                  ? 0
                  : 3);
    }
    close(fd);
    return wait_child(pid);
}

static void test_io_fp_crash_torn_write(void **state)
{
    struct tdir *t = *state;
    char buf[16];

    assert_killed_by(crash_child_write(t, "t.write=CRASH(5)"), SIGKILL);
    assert_int_equal(slurp(t, "f", buf, sizeof buf), 5);
    assert_memory_equal(buf, "01234", 5);

    assert_killed_by(crash_child_write(t, "t.write=CRASH"), SIGKILL);
    assert_int_equal(file_size(t, "f"), 0);

    /* Control: the same child without a crash writes everything. */
    assert_exit_ok(crash_child_write(t, "t.write=CRASH@2"));
    assert_int_equal(file_size(t, "f"), 10);
}

static void test_io_fp_crash_before_other_ops(void **state)
{
    struct tdir *t = *state;
    struct stat st;
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        if (cl_fp_set("t.mk=CRASH(5)@2") != 0 ||
            cl_io_mkdirat("t.mk", t->fd, "d1", 0700) != 0) {
            _exit(2);
        }
        cl_io_mkdirat("t.mk", t->fd, "d2", 0700);
        _exit(3);
    }
    assert_killed_by(wait_child(pid), SIGKILL);
    assert_int_equal(fstatat(t->fd, "d1", &st, 0), 0);
    assert_int_equal(fstatat(t->fd, "d2", &st, 0), -1);

    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        cl_fp_set("malloc=CRASH");
        cl_io_malloc(1);
        _exit(3);
    }
    assert_killed_by(wait_child(pid), SIGKILL);
}

/* Runs in the re-executed binary; CRAWLLOG_FP and CRAWLLOG_FP_STATS come
 * from the environment.  The exit code names the first failed check. */
static int env_child(const char *dir)
{
    char path[600];
    int fd;

    snprintf(path, sizeof path, "%s/envfile", dir);
    fd = cl_io_open("env.open", path, O_RDWR | O_CREAT, 0600);
    if (fd < 0) {
        return 10;
    }
    if (cl_io_pwrite_all("env.write", fd, "ab", 2, 0) != 0) {
        return 11;
    }
    if (cl_io_pwrite_all("env.write", fd, "cd", 2, 2) != -EIO) {
        return 12;
    }
    if (cl_io_fdatasync("env.sync", -1) != 0) {
        return 13;
    }
    if (cl_fp_hits("env.write") != 2) {
        return 14;
    }
    cl_io_close(fd);
    return 0; /* exit() runs the CRAWLLOG_FP_STATS dump */
}

static pid_t spawn_env_child(const struct tdir *t, const char *spec,
                             const char *stats)
{
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        setenv("CRAWLLOG_FP", spec, 1);
        if (stats != NULL) {
            setenv("CRAWLLOG_FP_STATS", stats, 1);
        } else {
            unsetenv("CRAWLLOG_FP_STATS");
        }
        execl(self_path, self_path, "--env-child", t->path, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static void test_io_fp_env_var_in_exec_child(void **state)
{
    struct tdir *t = *state;
    char stats[600], buf[512];
    size_t n;

    snprintf(stats, sizeof stats, "%s/stats", t->path);
    assert_exit_ok(wait_child(spawn_env_child(
        t, "env.write=EIO@2;env.sync=SKIP:persist", stats)));
    assert_int_equal(file_size(t, "envfile"), 2);
    n = slurp(t, "stats", buf, sizeof buf - 1);
    buf[n] = '\0';
    assert_non_null(strstr(buf, "env.write 2\n"));
    assert_non_null(strstr(buf, "env.sync 1\n"));
    assert_non_null(strstr(buf, "env.open 1\n"));

    /* Without the variable the second write succeeds: check 12 fails. */
    {
        int status = wait_child(spawn_env_child(t, "", NULL));
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 12);
    }
    /* A malformed CRAWLLOG_FP aborts rather than running without faults. */
    assert_killed_by(wait_child(spawn_env_child(t, "env.write=BOGUS", NULL)),
                     SIGABRT);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, tmpdir_setup, tmpdir_teardown)
        T(test_io_pwrite_pread_roundtrip),
        T(test_io_pread_all_loops_on_short_reads),
        T(test_io_open_sets_cloexec),
        T(test_io_openat_refuses_symlink),
        T(test_io_errors_are_negative_errno),
        T(test_io_dir_ops),
        T(test_io_mmap_shared_roundtrip),
        T(test_io_alloc_wrappers),
        T(test_io_clocks),
        T(test_io_listdir_sorted_without_dots),
        T(test_io_listdir_concurrent_same_dirfd),
        T(test_io_lock_is_per_open_file_description),
        T(test_io_lock_wait_blocks_until_unlock),
        T(test_io_fp_fires_on_first_hit_only),
        T(test_io_fp_fires_on_kth_hit_only),
        T(test_io_fp_persist_fails_from_k_on),
        T(test_io_fp_prefix_pattern),
        T(test_io_fp_star_matches_every_site),
        T(test_io_fp_first_firing_entry_wins),
        T(test_io_fp_hits_counts),
        T(test_io_fp_many_sites),
        T(test_io_fp_short_write),
        T(test_io_fp_skip_pretends_success),
        T(test_io_fp_eintr_is_retried),
        T(test_io_fp_other_errnos),
        T(test_io_fp_malloc),
        T(test_io_fp_malloc_sweep_listdir),
        T(test_io_fp_malformed_spec_rejected),
        T(test_io_fp_valid_specs_accepted),
        T(test_io_fp_crash_torn_write),
        T(test_io_fp_crash_before_other_ops),
        T(test_io_fp_env_var_in_exec_child),
#undef T
    };

    if (argc > 0 && strchr(argv[0], '/') != NULL) {
        self_path = argv[0];
    }
    if (argc == 3 && strcmp(argv[1], "--env-child") == 0) {
        return env_child(argv[2]);
    }
    return cmocka_run_group_tests_name("io", tests, NULL, NULL);
}
