/*
 * io_failpoint.h - the failpoint engine behind io.c's wrappers (internal).
 *
 * Only io.c calls these hooks, once per wrapper call, before the system
 * call; the grammar of the failpoint configuration and the public test
 * calls (cl_fp_set, cl_fp_clear, cl_fp_hits, cl_fp_hits_total) are in io.h.
 * Under -DCRAWLLOG_TESTING the hooks are functions of io_failpoint.c; without
 * it they are constant macros, io_failpoint.c compiles to nothing and a
 * release build has no failpoint symbol and no check on any path.
 */
#ifndef CL_FAILPOINT_H
#define CL_FAILPOINT_H

#include <stddef.h>

/* Non-negative answers of the hooks; negative answers are -errno values
 * the wrapper must return without doing the operation. */
#define CL_FP_GO 0      /* do the operation */
#define CL_FP_SKIPPED 1 /* pretend success without doing it (SKIP) */
#define CL_FP_SHORT 2   /* pwrite: write the prefix, then fail -ENOSPC */
#define CL_FP_TORN 3    /* pwrite: write the prefix, then die (SIGKILL) */

#ifdef CRAWLLOG_TESTING

/* Count a hit of site and apply the configuration for a call without
 * partial effects.  Returns CL_FP_GO, CL_FP_SKIPPED (only if can_skip; a
 * SKIP of a call that cannot pretend gives -EIO) or a negative errno.
 * CRASH kills the process here.  With eintr != NULL an injected EINTR
 * sets *eintr and gives CL_FP_GO: the wrapper must then see one EINTR
 * from the "OS" and retry. */
int cl_fp_check(const char *site, int can_skip, int *eintr);

/* The same for cl_io_pwrite_all of len bytes; also CL_FP_SHORT and
 * CL_FP_TORN, with the number of bytes to really write in *prefixp. */
int cl_fp_check_write(const char *site, size_t len, size_t *prefixp,
                      int *eintr);

/* 1 if this allocation must fail (site "malloc"); CRASH kills here. */
int cl_fp_check_alloc(void);

/* Site introspection for the fault sweeps (tests/test_fault_*.c): the
 * distinct sites reached since process start, in order of first hit.
 * cl_fp_site_info(i) returns the name of site i (storage owned by the
 * engine, valid for the whole process) and its hits since the last
 * cl_fp_clear in *hitsp, and what the wrappers that reported it are in
 * *flagsp (CL_FP_SITE_*); NULL if i >= cl_fp_site_count(). */
#define CL_FP_SITE_EINTR 1   /* the wrapper retries an injected EINTR */
#define CL_FP_SITE_WRITE 2   /* cl_io_pwrite_all: SHORT(n) applies */
#define CL_FP_SITE_NOEINTR 4 /* a wrapper that passes EINTR on */
size_t cl_fp_site_count(void);
const char *cl_fp_site_info(size_t i, uint64_t *hitsp, unsigned *flagsp);

/* If the environment variable CRAWLLOG_BOOT_ID is set and not empty, copy
 * it (cut to size - 1 bytes) to out and return 1: the boot id of a
 * simulated reboot.  Else 0, out untouched. */
int cl_fp_boot_id(char *out, size_t size);

#else /* !CRAWLLOG_TESTING */

/* Every argument is still "used", so callers get no unused warnings. */
#define cl_fp_check(site, can_skip, eintr)                                     \
    ((void)(site), (void)(can_skip), (void)(eintr), CL_FP_GO)
#define cl_fp_check_write(site, len, prefixp, eintr)                           \
    ((void)(site), (void)(len), (void)(prefixp), (void)(eintr), CL_FP_GO)
#define cl_fp_check_alloc() 0
#define cl_fp_boot_id(out, size) ((void)(out), (void)(size), 0)

#endif /* CRAWLLOG_TESTING */

#endif /* CL_FAILPOINT_H */
