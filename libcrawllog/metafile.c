/*
 * metafile.c - small checksummed metadata text files written atomically
 * (layer 2 helper).
 *
 * Purpose: every piece of metadata that is not record data (the root
 * crawllog.meta, each topic's topic.meta) is a few "key=value" lines.  This
 * module gives them one on-disk shape, an all-or-nothing replacement
 * procedure and a strict reader, so the callers only build and parse lines.
 *
 * Data directory layout (for orientation; this module owns no path itself,
 * it writes whatever dirfd/name its callers pass):
 *
 *     <root>/crawllog.meta                 root metadata (log.c)
 *     <root>/crawllog.lock                 flock'd for metadata changes (log.c)
 *     <root>/topics/<topic>/topic.meta     topic metadata (topic.c)
 *     <root>/topics/<topic>/<partition>/   partition dirs "0".."9999"
 *     <root>/staging/<pid>.<counter>.<rand>/  a topic being created
 *     <root>/trash/<name>.<pid>.<counter>/    a topic being deleted
 *
 * On disk, per file (text, '\n' line ends, no NUL bytes, <= 1 MiB):
 *
 *     +--------------------------------+
 *     | <kind> <version>\n             |  e.g. "crawllog-topic 1"
 *     | <key>=<value>\n ...            |  body, built by the caller
 *     | crc32c=<8 lowercase hex>\n     |  CRC-32C of all bytes above
 *     +--------------------------------+
 *
 *     and transiently "<name>.tmp.<pid>.<counter>" beside it while it is
 *     being replaced.
 *
 * Invariants:
 *  - A reader sees either the old or the new complete file, never a mix:
 *    the new content is written to a fresh O_EXCL tmp file, fsynced, then
 *    renamed over the name, and the directory is fsynced.
 *  - A failure before the rename unlinks the tmp and leaves the old file
 *    untouched.  A failure of the final directory fsync leaves the new file
 *    in place (rename is not undoable) and is reported.
 *  - A tmp left by a crashed process (its pid no longer alive) is removed by
 *    cl_metafile_cleanup_tmp; a tmp of a live process is never touched.
 *  - The checksum check runs before anything in the file is interpreted, so
 *    any damaged byte gives CRAWLLOG_ECORRUPT; only an intact file with
 *    another version number gives CRAWLLOG_EVERSION.
 *
 * Locks: none here.  Concurrent writers of one name must be serialized by
 * the caller (log.c holds crawllog.lock); concurrent readers are always
 * safe because replacement is a rename.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "crc32c.h"
#include "io.h"
#include "metafile.h"

/* "crc32c=" + 8 hex digits + "\n". */
#define CRC_PREFIX "crc32c="
#define CRC_LINE_LEN (sizeof(CRC_PREFIX) - 1 + 8 + 1)

/* Tries with a fresh counter when a tmp name is taken (a stale tmp of an
 * earlier process that had our pid). */
#define TMP_TRIES 64

/* Room for any tmp name: NAME_MAX plus the NUL. */
#define TMP_NAME_SIZE 256

static atomic_ulong tmp_counter;

/* ---------------------------------------------------------------------- */
/* Writing                                                                 */
/* ---------------------------------------------------------------------- */

/* Header + body + crc line in one malloc'd buffer. */
static char *build_content(const char *kind, const char *body, size_t *lenp)
{
    char head[128];
    int hlen =
        snprintf(head, sizeof head, "%s %d\n", kind, CRAWLLOG_FORMAT_VERSION);
    size_t blen = strlen(body), len;
    char *buf;

    if (hlen < 0 || (size_t)hlen >= sizeof head) {
        return NULL;
    }
    len = (size_t)hlen + blen;
    buf = cl_io_malloc(len + CRC_LINE_LEN + 1);
    if (buf == NULL) {
        return NULL;
    }
    memcpy(buf, head, (size_t)hlen);
    memcpy(buf + hlen, body, blen);
    snprintf(buf + len, CRC_LINE_LEN + 1, CRC_PREFIX "%08lx\n",
             (unsigned long)cl_crc32c(0, buf, len));
    *lenp = len + CRC_LINE_LEN;
    return buf;
}

/* Create a fresh tmp file; its name goes to tmp.  Returns fd or -errno. */
static int open_tmp(int dirfd, const char *name, unsigned fmode, char *tmp)
{
    int fd = -EEXIST;

    for (int i = 0; i < TMP_TRIES && fd == -EEXIST; i++) {
        unsigned long n = atomic_fetch_add(&tmp_counter, 1);
        int len = snprintf(tmp, TMP_NAME_SIZE, "%s.tmp.%ld.%lu", name,
                           (long)getpid(), n);
        if (len < 0 || len >= TMP_NAME_SIZE) {
            return -ENAMETOOLONG;
        }
        fd = cl_io_openat("meta.open", dirfd, tmp, O_CREAT | O_EXCL | O_WRONLY,
                          (mode_t)fmode);
    }
    return fd;
}

int cl_metafile_write(int dirfd, const char *name, const char *relpath,
                      const char *kind, const char *body, unsigned fmode,
                      struct cl_err *err)
{
    char tmp[TMP_NAME_SIZE];
    const char *op = "write";
    size_t len = 0;
    char *buf = build_content(kind, body, &len);
    int fd, rc;

    if (buf == NULL) {
        return cl_errf(err, CRAWLLOG_ENOMEM, "%s: out of memory", relpath);
    }
    fd = open_tmp(dirfd, name, fmode, tmp);
    if (fd < 0) {
        cl_io_free(buf);
        return cl_err_sys(err, -fd, relpath, "create temporary file");
    }
    rc = cl_io_pwrite_all("meta.write", fd, buf, len, 0);
    if (rc == 0) {
        op = "fsync";
        rc = cl_io_fsync("meta.fsync", fd);
    }
    cl_io_close(fd);
    cl_io_free(buf);
    if (rc == 0) {
        op = "rename";
        rc = cl_io_renameat("meta.rename", dirfd, tmp, dirfd, name);
    }
    if (rc != 0) {
        (void)cl_io_unlinkat("meta.unlink", dirfd, tmp, 0);
        return cl_err_sys(err, -rc, relpath, op);
    }
    rc = cl_io_fsync("meta.dirsync", dirfd);
    if (rc != 0) {
        return cl_err_sys(err, -rc, relpath, "fsync directory");
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Reading                                                                 */
/* ---------------------------------------------------------------------- */

static int is_lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return 0;
        }
    }
    return 1;
}

/* Check the crc line; *coveredp = bytes covered by the checksum. */
static int check_crc(const char *buf, size_t len, const char *relpath,
                     size_t *coveredp, struct cl_err *err)
{
    size_t start;
    unsigned long stored;
    uint32_t calc;

    if (len > 0 && memchr(buf, '\0', len) != NULL) { /* buf may be NULL */
        return cl_errf(err, CRAWLLOG_ECORRUPT, "%s: NUL byte in file", relpath);
    }
    start = len >= CRC_LINE_LEN ? len - CRC_LINE_LEN : 0;
    if (len < CRC_LINE_LEN || (start > 0 && buf[start - 1] != '\n') ||
        memcmp(buf + start, CRC_PREFIX, sizeof(CRC_PREFIX) - 1) != 0 ||
        !is_lower_hex(buf + len - 9, 8) || buf[len - 1] != '\n') {
        return cl_errf(err, CRAWLLOG_ECORRUPT,
                       "%s: missing or malformed checksum line", relpath);
    }
    stored = 0;
    for (size_t i = len - 9; i < len - 1; i++) {
        int c = (unsigned char)buf[i];
        stored =
            stored * 16 + (unsigned long)(c <= '9' ? c - '0' : c - 'a' + 10);
    }
    calc = cl_crc32c(0, buf, start);
    if ((uint32_t)stored != calc) {
        return cl_errf(err, CRAWLLOG_ECORRUPT,
                       "%s: checksum mismatch (stored %08lx, computed %08lx)",
                       relpath, stored, (unsigned long)calc);
    }
    *coveredp = start;
    return 0;
}

/* Check "<kind> <version>\n" at the start of buf[0..len). */
static int check_header(const char *buf, size_t len, const char *relpath,
                        const char *kind, size_t *hlenp, struct cl_err *err)
{
    const char *nl = memchr(buf, '\n', len);
    size_t klen = strlen(kind), i;
    long version = 0;

    if (nl == NULL || (size_t)(nl - buf) <= klen ||
        memcmp(buf, kind, klen) != 0 || buf[klen] != ' ') {
        return cl_errf(err, CRAWLLOG_ECORRUPT,
                       "%s: not a \"%s\" file (bad first line)", relpath, kind);
    }
    for (i = klen + 1; buf + i < nl; i++) {
        if (buf[i] < '0' || buf[i] > '9' || i - klen > 9) {
            return cl_errf(err, CRAWLLOG_ECORRUPT,
                           "%s: malformed format version", relpath);
        }
        version = version * 10 + (buf[i] - '0');
    }
    if (i == klen + 1) {
        return cl_errf(err, CRAWLLOG_ECORRUPT, "%s: malformed format version",
                       relpath);
    }
    if (version != CRAWLLOG_FORMAT_VERSION) {
        return cl_errf(err, CRAWLLOG_EVERSION,
                       "%s: format version %ld, this library reads %d", relpath,
                       version, CRAWLLOG_FORMAT_VERSION);
    }
    *hlenp = (size_t)(nl - buf) + 1;
    return 0;
}

/* Open name and read it whole into a malloc'd buffer (NUL added). */
static int slurp(int dirfd, const char *name, const char *relpath, char **bufp,
                 size_t *lenp, struct cl_err *err)
{
    struct stat st;
    ssize_t got;
    int fd = cl_io_openat("meta.read", dirfd, name, O_RDONLY | O_NONBLOCK, 0);
    int rc;

    if (fd < 0) {
        return cl_err_sys(err, -fd, relpath, "open");
    }
    rc = cl_io_fstat("meta.read", fd, &st);
    if (rc != 0) {
        cl_io_close(fd);
        return cl_err_sys(err, -rc, relpath, "fstat");
    }
    if (!S_ISREG(st.st_mode) || st.st_size > CL_METAFILE_MAX) {
        cl_io_close(fd);
        return cl_errf(err, CRAWLLOG_ECORRUPT, "%s: %s", relpath,
                       S_ISREG(st.st_mode) ? "larger than 1 MiB"
                                           : "not a regular file");
    }
    *bufp = cl_io_malloc((size_t)st.st_size + 2);
    if (*bufp == NULL) {
        cl_io_close(fd);
        return cl_errf(err, CRAWLLOG_ENOMEM, "%s: out of memory", relpath);
    }
    /* One byte more than the size shows whether the file grew. */
    got = cl_io_pread_all("meta.read", fd, *bufp, (size_t)st.st_size + 1, 0);
    cl_io_close(fd);
    if (got < 0 || got > st.st_size) {
        cl_io_free(*bufp);
        *bufp = NULL;
        if (got < 0) {
            return cl_err_sys(err, (int)-got, relpath, "read");
        }
        return cl_errf(err, CRAWLLOG_ECORRUPT, "%s: changed while read",
                       relpath);
    }
    (*bufp)[got] = '\0';
    *lenp = (size_t)got;
    return 0;
}

int cl_metafile_read(int dirfd, const char *name, const char *relpath,
                     const char *kind, char **bodyp, struct cl_err *err)
{
    char *buf = NULL;
    size_t len = 0, covered = 0, hlen = 0;
    int rc;

    *bodyp = NULL;
    rc = slurp(dirfd, name, relpath, &buf, &len, err);
    if (rc != 0) {
        return rc;
    }
    rc = check_crc(buf, len, relpath, &covered, err);
    if (rc == 0) {
        rc = check_header(buf, covered, relpath, kind, &hlen, err);
    }
    if (rc != 0) {
        cl_io_free(buf);
        return rc;
    }
    /* Shift the body to the front, in place. */
    memmove(buf, buf + hlen, covered - hlen);
    buf[covered - hlen] = '\0';
    *bodyp = buf;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Body lines                                                              */
/* ---------------------------------------------------------------------- */

/* Strict decimal int64 in s[0..n): optional '-', 1..19 digits. */
static int parse_int64(const char *s, size_t n, int64_t *out)
{
    uint64_t v = 0, lim = (uint64_t)INT64_MAX;
    size_t i = 0;
    int neg = n > 0 && s[0] == '-';

    i = (size_t)neg;
    if (i == n) {
        return CRAWLLOG_ECORRUPT;
    }
    if (neg) {
        lim++;
    }
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return CRAWLLOG_ECORRUPT;
        }
        if (v > (lim - (uint64_t)(s[i] - '0')) / 10) {
            return CRAWLLOG_ECORRUPT;
        }
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (neg) {
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        *out = (int64_t)v;
    }
    return 0;
}

int cl_metafile_get_int(const char *body, const char *key, int64_t *out)
{
    size_t klen = strlen(key);
    const char *p = body;
    int64_t v = 0;
    int found = 0;

    while (*p != '\0') {
        const char *nl = strchr(p, '\n');
        size_t llen = nl != NULL ? (size_t)(nl - p) : strlen(p);
        if (llen > klen && memcmp(p, key, klen) == 0 && p[klen] == '=') {
            if (found || parse_int64(p + klen + 1, llen - klen - 1, &v) != 0) {
                return CRAWLLOG_ECORRUPT;
            }
            found = 1;
        } else if (llen == klen && memcmp(p, key, klen) == 0) {
            return CRAWLLOG_ECORRUPT;
        }
        p += llen + (nl != NULL);
    }
    if (!found) {
        return CRAWLLOG_ENOENT;
    }
    *out = v;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Stale tmp cleanup                                                       */
/* ---------------------------------------------------------------------- */

/* Scan back over decimal digits ending just before end; returns the start
 * (== end if none). */
static const char *digits_back(const char *start, const char *end)
{
    while (end > start && end[-1] >= '0' && end[-1] <= '9') {
        end--;
    }
    return end;
}

/* If name is "<something>.tmp.<pid>.<n>", return pid (> 0), else 0. */
static long tmp_pid(const char *name)
{
    const char *end = name + strlen(name);
    const char *n = digits_back(name, end);
    const char *pend, *p;
    long pid = 0;

    if (n == end || n == name || n[-1] != '.') {
        return 0;
    }
    pend = n - 1;
    p = digits_back(name, pend);
    if (p == pend || pend - p > 9 || p - name < 5 ||
        memcmp(p - 5, ".tmp.", 5) != 0 || p - 5 == name) {
        return 0;
    }
    for (; p < pend; p++) {
        pid = pid * 10 + (*p - '0');
    }
    return pid;
}

int cl_metafile_cleanup_tmp(int dirfd, struct cl_err *err)
{
    char **names = NULL;
    size_t count = 0;
    int rc = cl_io_listdir("meta.cleanup.list", dirfd, &names, &count);
    int first = 0;

    if (rc != 0) {
        return cl_err_sys(err, -rc, ".", "list directory");
    }
    for (size_t i = 0; i < count; i++) {
        long pid = tmp_pid(names[i]);
        struct stat st;
        if (pid <= 0 || cl_io_pid_alive(pid)) {
            continue;
        }
        rc = cl_io_fstatat("meta.cleanup.stat", dirfd, names[i], &st);
        if (rc == 0 && S_ISDIR(st.st_mode)) {
            continue;
        }
        if (rc == 0) {
            rc = cl_io_unlinkat("meta.cleanup.unlink", dirfd, names[i], 0);
        }
        if (rc != 0 && rc != -ENOENT && first == 0) {
            first = cl_err_sys(err, -rc, names[i], "remove stale temporary");
        }
    }
    cl_io_listdir_free(names, count);
    return first;
}
