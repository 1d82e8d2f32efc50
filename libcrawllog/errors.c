/*
 * errors.c - error codes, error messages and the library version (layer 0).
 *
 * Purpose: turns the CRAWLLOG_ERRORS X-macro table of crawllog.h into
 * crawllog_strerror() and crawllog_err_name(), maps errno values to library
 * codes, and builds the detail messages that internal functions hand up in a
 * struct cl_err.  Also answers crawllog_version() / crawllog_version_str().
 *
 * On disk: nothing.
 *
 * Invariants: every function here is pure or writes only to buffers its
 * caller passes in; every returned string is static.  Messages are always
 * NUL-terminated and silently truncated to fit.
 *
 * Locks: none.  Thread-safe: strerror_r (the XSI variant, which
 * _POSIX_C_SOURCE=200809L selects) is used instead of strerror().
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "errors.h"

/* ---------------------------------------------------------------------- */
/* Public: version                                                         */
/* ---------------------------------------------------------------------- */

CRAWLLOG_API int crawllog_version(void)
{
    return CRAWLLOG_VERSION_NUMBER;
}

CRAWLLOG_API const char *crawllog_version_str(void)
{
    return CRAWLLOG_VERSION_STRING;
}

/* ---------------------------------------------------------------------- */
/* Public: code table                                                      */
/* ---------------------------------------------------------------------- */

CRAWLLOG_API const char *crawllog_strerror(int rc)
{
    switch (rc) {
#define CL_ERR_DESC_(name, code, desc)                                       \
    case (code):                                                             \
        return (desc);
        CRAWLLOG_ERRORS(CL_ERR_DESC_)
#undef CL_ERR_DESC_
    default:
        return "unknown error";
    }
}

CRAWLLOG_API const char *crawllog_err_name(int rc)
{
    switch (rc) {
#define CL_ERR_NAME_(name, code, desc)                                       \
    case (code):                                                             \
        return "CRAWLLOG_" #name;
        CRAWLLOG_ERRORS(CL_ERR_NAME_)
#undef CL_ERR_NAME_
    default:
        return "CRAWLLOG_EUNKNOWN";
    }
}

/* ---------------------------------------------------------------------- */
/* Internal: errno mapping and messages                                    */
/* ---------------------------------------------------------------------- */

int cl_err_from_errno(int errnum)
{
    /* EAGAIN and EWOULDBLOCK may be one value, so not switch cases. */
    if (errnum == EWOULDBLOCK || errnum == EAGAIN) {
        return CRAWLLOG_EBUSY;
    }
    switch (errnum) {
    case EIO:
        return CRAWLLOG_EIO;
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
        return CRAWLLOG_ENOSPC;
    case EACCES:
    case EPERM:
    case EROFS:
        return CRAWLLOG_EPERM;
    case ENOMEM:
        return CRAWLLOG_ENOMEM;
    case ELOOP:
        return CRAWLLOG_ELOOP;
    case ENOENT:
        return CRAWLLOG_ENOENT;
    case EEXIST:
    case ENOTEMPTY:
        return CRAWLLOG_EEXIST;
    case EMFILE:
    case ENFILE:
        return CRAWLLOG_EMFILE;
    case EINVAL:
        return CRAWLLOG_EINVAL;
    default:
        return CRAWLLOG_EIO;
    }
}

void cl_err_vsetf(struct cl_err *err, int rc, const char *fmt, va_list ap)
{
    if (err == NULL) {
        return;
    }
    if (vsnprintf(err->msg, sizeof(err->msg), fmt, ap) < 0) {
        /* Encoding error: leave something sensible rather than garbage. */
        cl_err_copy(err->msg, sizeof(err->msg), crawllog_strerror(rc));
    }
}

/* Thread-safe errno text into buf (always NUL-terminated). */
static void errno_text(int errnum, char *buf, size_t size)
{
    buf[0] = '\0';
    if (strerror_r(errnum, buf, size) != 0 || buf[0] == '\0') {
        snprintf(buf, size, "errno %d", errnum);
    }
    buf[size - 1] = '\0';
}

int cl_err_sys_set(struct cl_err *err, int errnum, const char *path,
                   const char *op)
{
    int rc = cl_err_from_errno(errnum);
    if (err == NULL) {
        return rc;
    }
    char text[128];
    errno_text(errnum, text, sizeof(text));
    if (path != NULL && path[0] != '\0') {
        return cl_errf(err, rc, "%s: %s: %s", path, op ? op : "?", text);
    }
    return cl_errf(err, rc, "%s: %s", op ? op : "?", text);
}

void cl_err_copy(char *dst, size_t size, const char *src)
{
    if (dst == NULL || size == 0) {
        return;
    }
    if (src == NULL) {
        src = "";
    }
    size_t n = strlen(src);
    if (n >= size) {
        n = size - 1;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}
