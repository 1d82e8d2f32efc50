/*
 * probe_sync.c - how fast can 8 growing files be made durable together?
 * The evidence behind libcrawllog's concurrent durable flush
 * (docs/BENCHMARKS.md, "What changed in issue 9").  Plain syscalls, no
 * libcrawllog.
 *
 *   build/bench/probe_sync MODE [BATCHES] [DIR]
 *
 * Each batch writes 14,500 bytes (the size of 1000 W1 messages split over 8
 * partitions, ~125 of them per file) to each of 8 files in DIR (default
 * /tmp/crawllog-probe, created, emptied after), then makes them durable:
 *   serial    fdatasync of each file, one after the other
 *   sfr       sync_file_range(SYNC_FILE_RANGE_WRITE) on all, then fdatasync
 *             each
 *   threads   8 threads, one fdatasync each, at the same time
 *   syncfs    one syncfs (every dirty file of the file system)
 *   onefile   the same bytes into one file, one fdatasync
 * PREALLOC=1 first fills each file with 8 MiB of zeros, fsyncs it and
 * rewinds, so that the batches overwrite allocated blocks.
 * Prints one line: mode, prealloc, microseconds per batch, and the message
 * rate that would give (1000 messages per batch).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FILES 8
#define CHUNK 14500

static int fds[FILES];

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "probe_sync: %s: %s\n", what, strerror(errno));
        exit(2);
    }
}

static void *sync_one(void *arg)
{
    check(fdatasync(fds[(long)arg]) == 0, "fdatasync");
    return NULL;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "serial";
    int batches = argc > 2 ? atoi(argv[2]) : 300;
    const char *dir = argc > 3 ? argv[3] : "/tmp/crawllog-probe";
    int prealloc = getenv("PREALLOC") && atoi(getenv("PREALLOC")) > 0;
    int one = strcmp(mode, "onefile") == 0;
    static char buf[CHUNK], zeros[1 << 20];
    char path[4200];
    memset(buf, 'x', sizeof(buf));
    check(mkdir(dir, 0700) == 0 || errno == EEXIST, "mkdir");
    for (int i = 0; i < FILES; i++) {
        snprintf(path, sizeof(path), "%s/f%d", dir, i);
        fds[i] = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
        check(fds[i] >= 0, "open");
        for (int k = 0; prealloc && k < 8; k++) {
            check(write(fds[i], zeros, sizeof(zeros)) == sizeof(zeros),
                  "write zeros");
        }
        check(!prealloc || fsync(fds[i]) == 0, "fsync");
        check(lseek(fds[i], 0, SEEK_SET) == 0, "lseek");
    }
    double t0 = now_s();
    for (int b = 0; b < batches; b++) {
        for (int i = 0; i < FILES; i++) {
            check(write(fds[one ? 0 : i], buf, CHUNK) == CHUNK, "write");
        }
        if (one) {
            check(fdatasync(fds[0]) == 0, "fdatasync");
        } else if (strcmp(mode, "serial") == 0) {
            for (int i = 0; i < FILES; i++) {
                check(fdatasync(fds[i]) == 0, "fdatasync");
            }
        } else if (strcmp(mode, "sfr") == 0) {
            for (int i = 0; i < FILES; i++) {
                check(sync_file_range(fds[i], 0, 0,
                                      SYNC_FILE_RANGE_WRITE) == 0,
                      "sync_file_range");
            }
            for (int i = 0; i < FILES; i++) {
                check(fdatasync(fds[i]) == 0, "fdatasync");
            }
        } else if (strcmp(mode, "threads") == 0) {
            pthread_t th[FILES];
            for (long i = 0; i < FILES; i++) {
                check(pthread_create(&th[i], NULL, sync_one, (void *)i) == 0,
                      "pthread_create");
            }
            for (int i = 0; i < FILES; i++) {
                pthread_join(th[i], NULL);
            }
        } else if (strcmp(mode, "syncfs") == 0) {
            check(syncfs(fds[0]) == 0, "syncfs");
        } else {
            fprintf(stderr, "probe_sync: unknown mode %s\n", mode);
            return 1;
        }
    }
    double secs = now_s() - t0;
    for (int i = 0; i < FILES; i++) {
        close(fds[i]);
        snprintf(path, sizeof(path), "%s/f%d", dir, i);
        unlink(path);
    }
    rmdir(dir);
    printf("{\"probe\":\"sync8\",\"mode\":\"%s\",\"prealloc\":%d,"
           "\"us_per_batch\":%.1f,\"msg_per_s\":%.0f}\n",
           mode, prealloc, secs / batches * 1e6, batches * 1000.0 / secs);
    return 0;
}
