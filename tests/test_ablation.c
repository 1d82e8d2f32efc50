/*
 * test_ablation.c - every sync and rename site of libcrawllog has a
 * verdict, and the sites no other program ablates are ablated here
 * (reliability.md section 4.6, docs/RELIABILITY.md section 3).
 * Built with -DCRAWLLOG_TESTING.
 *
 *  1. Completeness: every libcrawllog/ .c file is parsed at run time (from
 *     the repo root) for every site string passed to a call that persists
 *     something (cl_io_fsync of a file or directory, cl_io_fdatasync,
 *     cl_io_renameat) or to a library function that forwards its site
 *     argument to one (FORWARDERS).  Each site found must have a row in
 *     VERDICTS, each row must name a site still found, and each row's
 *     proving program must hold an ablation of the site ("SITE=SKIP" in
 *     its source, or a test_durability ABLATE() line whose expectation
 *     matches the verdict).
 *  2. Ablation of the sites no other program covered: a forked child runs
 *     a scenario through the API with the shadow durable image enabled
 *     (libcrawllog/io_shadow.h) and the site "SITE=SKIP:persist" (pretend
 *     success, do nothing), then dies by SIGKILL: the power fails.  The
 *     image built from the shadow (only synced bytes and names survive) is
 *     recovered in a fresh child after a simulated reboot, which counts
 *     what acknowledged is missing.  A NEEDED site must lose something;
 *     every scenario also runs without ablation and must then lose nothing
 *     in the durable image, the all-writes image and torn images.  A
 *     NOT_NEEDED site must lose nothing in all of them.
 *
 * At the end: "ablation: sites=N needed=A not-needed=B proven=P" (P: the
 * NEEDED sites whose ablation was found in their program or passed here).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crawllog.h"
#include "crawllog_admin.h"
#include "crawllog_consumer.h"
#include "helpers.h"
#include "io.h"
#include "io_shadow.h"
#include "offsets.h"

/* ---------------------------------------------------------------------- */
/* The verdict table                                                       */
/* ---------------------------------------------------------------------- */

enum verdict { NEEDED, NOT_NEEDED };

struct site_verdict {
    const char *site;
    enum verdict verdict;
    const char *proof; /* the test program holding its ablation */
    const char *what;  /* what skipping it loses, or why nothing */
};

#define D "test_durability"
#define O "test_offsets"
#define PD "test_producer_durability"
#define A "test_ablation"
#define TX "test_txn_slots"
#define TS "test_txn_slots"
static const struct site_verdict VERDICTS[] = {
    {"seg.append.fdatasync", NEEDED, D, "acknowledged durable records"},
    {"seg.roll.dirsync", NEEDED, D, "a new segment and the records in it"},
    {"seg.roll.fsync", NEEDED, D, "sealed records below a later durable ack"},
    {"seg.roll.undo.dirsync", NEEDED, A,
     "a dead roll's segment returns and hides later durable records"},
    {"seg.create.fsync", NOT_NEEDED, D,
     "the next fdatasync covers the header; recovery rewrites it"},
    {"seg.delete.dirsync", NOT_NEEDED, D,
     "log-start-offset is durable first; recovery redoes the unlinks"},
    {"seg.recover.fsync", NOT_NEEDED, D,
     "an unpersisted truncation only brings back a torn tail"},
    {"idx.fsync", NOT_NEEDED, D,
     "no data (indexes are derived); kept against torn sealed indexes"},
    {"log.mkdir.dirsync", NEEDED, D, "the data directory itself"},
    {"meta.fsync", NEEDED, D, "a metadata file comes back empty"},
    {"meta.rename", NEEDED, D, "the metadata file never appears"},
    {"meta.dirsync", NEEDED, D, "add-partitions loses the new partitions"},
    {"topic.fsync", NEEDED, D, "a created topic goes, a deleted one returns"},
    {"topic.rename", NEEDED, D, "the topic never appears"},
    {"migrate.cut.fdatasync", NEEDED, "test_migrate_durability",
     "records of a migrated topic below its cut"},
    {"prod.update.fsync", NEEDED, PD, "a new instance is fenced (old epoch)"},
    {"prod.fsync", NEEDED, PD, "producers/<id> comes back empty: ECORRUPT"},
    {"prod.rename", NEEDED, PD, "producers/<id> never appears (seen at once)"},
    {"prod.dirsync", NEEDED, PD, "producers/<id>: a new instance is fenced"},
    {"prod.mkdir.dirsync", NEEDED, PD, "producers/: a new instance is fenced"},
    {"group.mkdir.dirsync", NEEDED, A, "a new group and its durable offsets"},
    {"offsets.fdatasync", NEEDED, O, "a durable commit or set_offsets"},
    {"offsets.tmp.fsync", NEEDED, O, "a compaction leaves an empty file"},
    {"offsets.rename", NEEDED, A,
     "commits the compacting handle acknowledged through the snapshot"},
    {"offsets.dirsync", NEEDED, O, "the compacted file's name"},
    {"offsets.create.dirsync", NEEDED, O,
     "with offsets.sync.dirsync: a new group's file and its commits"},
    {"offsets.sync.dirsync", NEEDED, O,
     "with offsets.create.dirsync or offsets.dirsync: the file's name"},
    {"offsets.create.fsync", NOT_NEEDED, A,
     "the first commit's fdatasync covers the header; openers rewrite it"},
    {"txn.fsync", NEEDED, TX, "a new (or grown) state file comes back empty"},
    {"txn.rename", NEEDED, TX, "a new state file never replaces the old one"},
    {"txn.dirsync", NEEDED, TX, "a new state file: the old one (or none) comes back"},
    {"txn.mkdir.dirsync", NEEDED, TX, "transactions/ and the first state"},
    {"txn.slot.fdatasync", NEEDED, TS,
     "a durable in-place write (the decision) comes back as the old state"},
    {"txn.slot.presync", NEEDED, TS,
     "a writer that died before its fdatasync: tearing the other slot loses "
     "the last durable state"},
    {"txn.unlink.dirsync", NOT_NEEDED, TX,
     "only complete transactions are removed: the same state may return"},
};
#undef D
#undef O
#undef PD
#undef A
#undef TX
#undef TS
#define NVERDICTS (sizeof(VERDICTS) / sizeof(VERDICTS[0]))

/* Sites whose ablation passed in this run (index into VERDICTS). */
static int proven_here[NVERDICTS];
/* Set by the completeness check: NEEDED rows proven by another program. */
static int proven_elsewhere;

static size_t verdict_index(const char *site)
{
    for (size_t i = 0; i < NVERDICTS; i++) {
        if (strcmp(VERDICTS[i].site, site) == 0) {
            return i;
        }
    }
    return NVERDICTS;
}

/* ---------------------------------------------------------------------- */
/* 1. Completeness: the sites of the library's source                      */
/* ---------------------------------------------------------------------- */

/* Calls whose argument number arg (from 0) is a site that persists. */
static const struct {
    const char *name;
    int arg;
} CALLS[] = {
    {"cl_io_fsync", 0},           {"cl_io_fdatasync", 0}, {"cl_io_renameat", 0},
    {"cl_partition_sync_all", 1}, {"sync_partition", 1},
};
#define NCALLS (sizeof(CALLS) / sizeof(CALLS[0]))
/* Library functions that pass their own "site" parameter on to a call of
 * CALLS (their callers' literals are collected through CALLS). */
static const char *const FORWARDERS[] = {"sync_partition",
                                         "cl_partition_sync_all"};

#define MAX_SITES 128

struct found {
    char site[MAX_SITES][64];
    char where[MAX_SITES][80]; /* file:line of the first use */
    size_t n;
};

static int is_ident(int c)
{
    return isalnum((unsigned char)c) || c == '_';
}

/* Blank out comments (keeping newlines) so that only code is scanned. */
static void strip_comments(char *s)
{
    for (char *p = s; *p;) {
        if (*p == '"' || *p == '\'') {
            char q = *p++;
            while (*p && *p != q) {
                p += (*p == '\\' && p[1]) ? 2 : 1;
            }
            p += *p ? 1 : 0;
        } else if (p[0] == '/' && p[1] == '*') {
            char *e = strstr(p + 2, "*/");
            e = e ? e + 2 : p + strlen(p);
            for (; p < e; p++) {
                *p = *p == '\n' ? '\n' : ' ';
            }
        } else if (p[0] == '/' && p[1] == '/') {
            for (; *p && *p != '\n'; p++) {
                *p = ' ';
            }
        } else {
            p++;
        }
    }
}

/* The function whose body holds position pos: the identifier before the
 * first '(' of the last line starting in column 0 with a letter and
 * holding a '(' (the definition's first line, in this code's style). */
static void enclosing_function(const char *s, const char *pos, char *out,
                               size_t size)
{
    out[0] = '\0';
    for (const char *l = pos; l > s;) {
        const char *b = l - 1;
        while (b > s && b[-1] != '\n') {
            b--;
        }
        const char *e = strchr(b, '\n');
        const char *par = strchr(b, '(');
        if (isalpha((unsigned char)*b) && par != NULL && (!e || par < e)) {
            const char *n = par;
            while (n > b && is_ident(n[-1])) {
                n--;
            }
            snprintf(out, size, "%.*s", (int)(par - n), n);
            return;
        }
        l = b;
    }
}

static int line_of(const char *s, const char *pos)
{
    int line = 1;
    for (; s < pos; s++) {
        line += *s == '\n';
    }
    return line;
}

static void add_site(struct found *f, const char *site, size_t len,
                     const char *file, int line)
{
    char name[64];
    snprintf(name, sizeof(name), "%.*s", (int)len, site);
    if (len == 0 || len >= sizeof(name) ||
        strspn(name, "abcdefghijklmnopqrstuvwxyz._") != len) {
        fail_msg("%s:%d: \"%s\" does not look like a site", file, line, name);
    }
    for (size_t i = 0; i < f->n; i++) {
        if (strcmp(f->site[i], name) == 0) {
            return;
        }
    }
    assert_true(f->n < MAX_SITES);
    snprintf(f->site[f->n], sizeof(f->site[0]), "%s", name);
    snprintf(f->where[f->n], sizeof(f->where[0]), "%.64s:%d", file, line);
    f->n++;
}

/* One argument [a, e) of a call at pos: collect its string literals; an
 * argument without one must be a forwarded "site" (or NULL: the callee's
 * default literal applies), or the definition's own parameter. */
static void scan_arg(struct found *f, const char *s, const char *pos,
                     const char *a, const char *e, const char *file)
{
    int literals = 0, line = line_of(s, pos);
    for (const char *p = a; p < e; p++) {
        if (*p == '"') {
            const char *q = p + 1;
            while (q < e && *q != '"') {
                q++;
            }
            add_site(f, p + 1, (size_t)(q - p - 1), file, line);
            literals++;
            p = q;
        }
    }
    char text[128];
    while (a < e && isspace((unsigned char)*a)) {
        a++;
    }
    while (e > a && isspace((unsigned char)e[-1])) {
        e--;
    }
    snprintf(text, sizeof(text), "%.*s", (int)(e - a), a);
    if (strstr(text, "char") != NULL || strcmp(text, "NULL") == 0) {
        return; /* a definition's parameter, or the callee's default */
    }
    int forwards = 0;
    for (const char *p = strstr(text, "site"); p; p = strstr(p + 1, "site")) {
        forwards |= (p == text || !is_ident(p[-1])) && !is_ident(p[4]);
    }
    if (literals == 0 && !forwards) {
        fail_msg("%s:%d: site argument \"%s\" is not a string literal: "
                 "the verdicts cannot be checked",
                 file, line, text);
    }
    if (forwards) {
        char fn[80];
        int ok = 0;
        enclosing_function(s, pos, fn, sizeof(fn));
        for (size_t i = 0; i < sizeof(FORWARDERS) / sizeof(FORWARDERS[0]);
             i++) {
            ok |= strcmp(fn, FORWARDERS[i]) == 0;
        }
        if (!ok) {
            fail_msg("%s:%d: %s() forwards a site variable: add it to "
                     "CALLS and FORWARDERS of test_ablation.c",
                     file, line, fn);
        }
    }
}

static void scan_file(struct found *f, const char *path, const char *file)
{
    char *s = cl_test_read_file(path, NULL);
    strip_comments(s);
    for (size_t c = 0; c < NCALLS; c++) {
        size_t nlen = strlen(CALLS[c].name);
        for (const char *p = strstr(s, CALLS[c].name); p;
             p = strstr(p + nlen, CALLS[c].name)) {
            const char *q = p + nlen;
            if ((p > s && is_ident(p[-1])) || is_ident(*q)) {
                continue;
            }
            while (isspace((unsigned char)*q)) {
                q++;
            }
            if (*q != '(') {
                continue; /* a mention, not a call */
            }
            int depth = 0, arg = 0;
            const char *a = q + 1;
            for (q++; *q; q++) {
                if (*q == '"' || *q == '\'') {
                    char qc = *q;
                    for (q++; *q && *q != qc;
                         q += (*q == '\\' && q[1]) ? 2 : 1) {
                    }
                    if (*q == '\0') {
                        break; /* unterminated: not a call of ours */
                    }
                } else if (*q == '(') {
                    depth++;
                } else if ((*q == ')' && depth == 0) ||
                           (*q == ',' && depth == 0)) {
                    if (arg == CALLS[c].arg) {
                        scan_arg(f, s, p, a, q, file);
                        break;
                    }
                    if (*q == ')') {
                        break;
                    }
                    arg++;
                    a = q + 1;
                } else if (*q == ')') {
                    depth--;
                }
            }
        }
    }
    free(s);
}

/* 1 if the source of program prog ablates site with the expectation
 * that fits verdict v. */
static int ablated_in(const char *prog, const char *site, enum verdict v)
{
    char path[256], key[96];
    snprintf(path, sizeof(path), "tests/%s.c", prog);
    char *s = cl_test_read_file(path, NULL);
    snprintf(key, sizeof(key), "%s=SKIP", site);
    int ok = strstr(s, key) != NULL;
    snprintf(key, sizeof(key), "\"%s\"", site);
    for (char *l = strstr(s, "\nABLATE("); l && !ok;
         l = strstr(l + 1, "\nABLATE(")) {
        char *e = strchr(l + 1, '\n');
        char *k = strstr(l, key);
        if (k && (!e || k < e)) {
            char *lossy = strstr(l, ", LOSS)");
            ok = (lossy && (!e || lossy < e)) == (v == NEEDED);
        }
    }
    free(s);
    return ok;
}

/* Every wrapper of io.c that reports a sync to the shadow (what persists
 * data, io_shadow.h) must be one of CALLS: the number of problems. */
static int io_wrappers_covered(void)
{
    char *s = cl_test_read_file("libcrawllog/io.c", NULL), fn[80];
    int bad = 0, n = 0;
    strip_comments(s);
    for (char *p = strstr(s, "cl_shadow_synced("); p;
         p = strstr(p + 1, "cl_shadow_synced(")) {
        size_t c = 0;
        enclosing_function(s, p, fn, sizeof(fn));
        while (c < NCALLS && strcmp(CALLS[c].name, fn) != 0) {
            c++;
        }
        n++;
        if (c == NCALLS) {
            print_error("io.c: %s() persists data (cl_shadow_synced): add "
                        "it to CALLS of test_ablation.c\n",
                        fn);
            bad++;
        }
    }
    free(s);
    if (n < 2) { /* cl_io_fsync, cl_io_fdatasync */
        print_error("io.c: only %d cl_shadow_synced() calls found\n", n);
        bad++;
    }
    return bad;
}

static void test_ablation_every_site_has_a_verdict(void **state)
{
    (void)state;
    static struct found f;
    int bad = io_wrappers_covered();
    f.n = 0;
    DIR *d = opendir("libcrawllog");
    if (d == NULL) {
        fail_msg("libcrawllog/: %s (run from the repo root)", strerror(errno));
    }
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        size_t len = strlen(de->d_name);
        /* io.c and io_*.c implement the wrappers, shadow, failpoints. */
        if (len < 3 || strcmp(de->d_name + len - 2, ".c") != 0 ||
            strcmp(de->d_name, "io.c") == 0 ||
            strncmp(de->d_name, "io_", 3) == 0) {
            continue;
        }
        char path[300];
        snprintf(path, sizeof(path), "libcrawllog/%s", de->d_name);
        scan_file(&f, path, de->d_name);
    }
    closedir(d);
    for (size_t i = 0; i < f.n; i++) {
        if (verdict_index(f.site[i]) == NVERDICTS) {
            print_error("sync site \"%s\" (%s) has no verdict in "
                        "tests/test_ablation.c\n",
                        f.site[i], f.where[i]);
            bad++;
        }
    }
    proven_elsewhere = 0;
    for (size_t i = 0; i < NVERDICTS; i++) {
        const struct site_verdict *v = &VERDICTS[i];
        size_t j = 0;
        while (j < f.n && strcmp(f.site[j], v->site) != 0) {
            j++;
        }
        if (j == f.n) {
            print_error("verdict row \"%s\": no such site in libcrawllog/\n",
                        v->site);
            bad++;
        }
        for (size_t k = 0; k < i; k++) {
            if (strcmp(VERDICTS[k].site, v->site) == 0) {
                print_error("verdict row \"%s\" twice\n", v->site);
                bad++;
            }
        }
        if (!ablated_in(v->proof, v->site, v->verdict)) {
            print_error("verdict row \"%s\": tests/%s.c holds no ablation "
                        "of it (\"%s=SKIP\") matching %s\n",
                        v->site, v->proof, v->site,
                        v->verdict == NEEDED ? "NEEDED" : "NOT_NEEDED");
            bad++;
        } else if (v->verdict == NEEDED &&
                   strcmp(v->proof, "test_ablation") != 0) {
            proven_elsewhere++;
        }
    }
    printf("completeness: %zu sync/rename sites in libcrawllog/, %zu "
           "verdicts\n",
           f.n, NVERDICTS);
    if (bad != 0) {
        fail_msg("%d problems with the verdict table", bad);
    }
}

/* ---------------------------------------------------------------------- */
/* 2. Power-loss runs                                                      */
/* ---------------------------------------------------------------------- */

#define TOPIC "t"
#define BOOT "simulated-reboot-after-power-loss"

/* A scenario runs in a child and arms spec (NULL: none) with arm() where
 * it fits; the child then dies by SIGKILL (the power fails).  A step that
 * fails ends it with a cl_test_check message instead. */
typedef void scen_fn(const struct cl_test_shadow_run *r, const char *spec);
/* A check runs in a fresh child on the data of an image (after the
 * simulated reboot) and returns how much acknowledged is missing (0:
 * nothing), printing what. */
typedef int check_fn(const char *img);

struct job {
    const struct cl_test_shadow_run *r;
    scen_fn *scen;
    check_fn *check;
    const char *spec;
    const char *img; /* the checker's image */
    int fd;          /* the scenario's report pipe */
};

/* The site armed in this child, and its hits before (arm()). */
static char armed_site[64];
static uint64_t armed_hits;

static void scen_child(void *arg)
{
    const struct job *j = arg;
    cl_fp_clear();
    j->scen(j->r, j->spec);
    /* Hits of the ablated site since it was armed. */
    uint64_t hits = armed_site[0] ? cl_fp_hits(armed_site) - armed_hits : 0;
    cl_test_check(write(j->fd, &hits, sizeof(hits)) == (ssize_t)sizeof(hits));
    raise(SIGKILL);
}

static void check_child(void *arg)
{
    const struct job *j = arg;
    setenv("CRAWLLOG_BOOT_ID", BOOT, 1);
    int lost = j->check(j->img);
    _exit(lost > 90 ? 90 : lost);
}

/* "SITE" of spec "SITE=...". */
static char *site_of(const char *spec, char *site, size_t size)
{
    snprintf(site, size, "%.*s", (int)strcspn(spec, "="), spec);
    return site;
}

enum expect { NO_LOSS, LOSS };

/*
 * Run scen with spec (NULL: no ablation, a baseline) armed, then check
 * images of the power loss: the durable one, and for NO_LOSS also the
 * all-writes one and N_TORN torn ones.  LOSS: the durable image must lose
 * something acknowledged; NO_LOSS: no image may lose anything.
 */
#define N_TORN 3
static void ablate(void **state, const char *tag, scen_fn *scen,
                   check_fn *check, const char *spec, enum expect expect)
{
    char site[64] = "baseline";
    struct cl_test_shadow_run r;
    uint64_t hits = 0;
    int p[2], st, lost = 0;
    struct job j = {&r, scen, check, spec, NULL, -1};
    if (spec != NULL) {
        site_of(spec, site, sizeof(site));
    }
    cl_test_shadow_run_init(&r, CL_TEST_DIR(state), tag);
    assert_int_equal(pipe(p), 0);
    j.fd = p[1];
    st = cl_test_fork_run(scen_child, &j);
    close(p[1]);
    ssize_t got = read(p[0], &hits, sizeof(hits));
    close(p[0]);
    if (got != (ssize_t)sizeof(hits) || !WIFSIGNALED(st)) {
        fail_msg("%s: the scenario failed (status %d)", tag, st);
    }
    cl_test_assert_killed_by(st, SIGKILL);
    if (spec != NULL && hits == 0) {
        fail_msg("%s: the scenario never reached %s once armed", tag, site);
    }
    for (int i = 0; i < (expect == LOSS ? 1 : 2 + N_TORN); i++) {
        char img[800];
        int mode = i == 0   ? CL_SHADOW_DURABLE
                   : i == 1 ? CL_SHADOW_ALL
                            : CL_SHADOW_TORN;
        snprintf(img, sizeof(img), "%s-%d", r.img, i);
        assert_int_equal(
            cl_shadow_image(r.shadow, img, mode, CL_TEST_SEED + (uint64_t)i),
            0);
        j.img = img;
        st = cl_test_fork_run(check_child, &j);
        if (!WIFEXITED(st) || WEXITSTATUS(st) == CL_TEST_CHILD_FAILED) {
            fail_msg("%s: the checker of image %d failed (status %d)", tag, i,
                     st);
        }
        lost += WEXITSTATUS(st);
    }
    if (expect == LOSS && lost == 0) {
        fail_msg("skipping %s lost nothing (%s): the test is too weak or "
                 "the call is not needed",
                 site, tag);
    }
    if (expect == NO_LOSS && lost != 0) {
        fail_msg("%s (%s): lost %d, expected nothing", site, tag, lost);
    }
    printf("%s (%s): %s\n", site, tag,
           expect == LOSS ? "lost something acknowledged, as it must"
                          : "nothing lost, as expected");
    if (spec != NULL) {
        size_t i = verdict_index(site);
        assert_true(i < NVERDICTS);
        proven_here[i] = 1;
    }
}

/* ---- helpers of scenarios and checks ----------------------------------- */

/* In a scenario child: enable the shadow, open <real>/data. */
static crawllog_t *open_real(const struct cl_test_shadow_run *r)
{
    char data[800];
    cl_test_check(cl_shadow_enable(r->real, r->shadow) == 0);
    return cl_test_open(cl_test_path(data, sizeof(data), r->real, "data"),
                        NULL);
}

/* Arm spec ("SITE=..."), NULL: nothing; its site's hits count from now. */
static void arm(const char *spec)
{
    if (spec != NULL) {
        site_of(spec, armed_site, sizeof(armed_site));
        armed_hits = cl_fp_hits(armed_site);
        cl_test_checkf(cl_fp_set(spec) == 0, "bad failpoint spec %s", spec);
    }
}

/* In a checker: open the image's log; NULL (after a message) if the
 * image does not recover. */
static crawllog_t *open_image(const char *img)
{
    crawllog_t *log = NULL;
    char why[256];
    int rc = cl_test_open_after_power_loss(img, &log, why, sizeof(why));
    if (rc != 0) {
        printf("    image does not open: %s (%s)\n", crawllog_err_name(rc),
               why);
        return NULL;
    }
    return log;
}

static void verify_cb(void *opaque, const char *problem)
{
    int *n = opaque;
    if ((*n)++ < 3) {
        printf("    verify: %s\n", problem);
    }
}

/* Close the image's log; then crawllog_verify must find it clean: the
 * number of problems (a verify that cannot run counts as one). */
static int close_verify(crawllog_t *log, const char *img)
{
    char data[800], err[256];
    int n = 0;
    size_t problems = 0;
    cl_test_check(crawllog_close(log) == 0);
    int rc = crawllog_verify(cl_test_path(data, sizeof(data), img, "data"),
                             verify_cb, &n, &problems, err, sizeof(err));
    if (rc != 0 && problems == 0) {
        printf("    verify: %s (%s)\n", crawllog_err_name(rc), err);
        problems = 1;
    }
    return (int)problems;
}

/* Whether (topic, p) holds value at offset off. */
static int has_value(crawllog_t *log, const char *topic, int32_t p, int64_t off,
                     const char *value, size_t len)
{
    crawllog_reader_t *rd = NULL;
    const crawllog_msg_t *m = NULL;
    size_t vlen = 0;
    int ok = crawllog_reader_new(&rd, log, topic, p) == 0 &&
             crawllog_reader_seek(rd, off) == 0 &&
             crawllog_reader_next(rd, &m) == 0 && m != NULL &&
             crawllog_msg_offset(m) == off;
    const void *v = ok ? crawllog_msg_value(m, &vlen) : NULL;
    ok = ok && vlen == len && memcmp(v, value, len) == 0;
    crawllog_reader_destroy(rd);
    return ok;
}

/* ---- group creation and set_offsets (group.*, offsets.create.*) -------- */

static void scen_group(const struct cl_test_shadow_run *r, const char *spec)
{
    crawllog_t *log = open_real(r);
    crawllog_topic_partition_t tp[2] = {{TOPIC, 0, 3, NULL},
                                        {TOPIC, 1, 4, NULL}};
    cl_test_create_topic(log, TOPIC, 2, NULL);
    for (int32_t p = 0; p < 2; p++) {
        for (int i = 0; i < 5; i++) {
            crawllog_record_t rec = {NULL, 0, "v", 1, -1, NULL, 0};
            assert_crawllog_ok_log(log, crawllog_append(log, TOPIC, p, &rec, 1,
                                                        CRAWLLOG_SYNC_DURABLE,
                                                        NULL));
        }
    }
    arm(spec);
    assert_crawllog_ok_log(log, crawllog_group_set_offsets(log, "g", tp, 2));
}

/* Group "g" has the offsets set (3, 4) and takes a new commit. */
static int check_group(const char *img)
{
    crawllog_t *log = open_image(img);
    crawllog_group_desc_t *d = NULL;
    int64_t c[2] = {-1, -1};
    int lost = 0;
    if (log == NULL) {
        return 10;
    }
    int rc = crawllog_group_describe(log, "g", &d);
    for (size_t i = 0; rc == 0 && i < d->partition_count; i++) {
        const crawllog_group_partition_t *p = &d->partitions[i];
        if (strcmp(p->topic, TOPIC) == 0 && p->partition >= 0 &&
            p->partition < 2) {
            c[p->partition] = p->committed;
        }
    }
    crawllog_group_desc_free(d);
    if (rc != 0 || c[0] != 3 || c[1] != 4) {
        printf("    group g: %s, committed %" PRId64 " %" PRId64
               " (acknowledged 3 4)\n",
               crawllog_err_name(rc), c[0], c[1]);
        lost += (c[0] != 3) + (c[1] != 4);
    }
    crawllog_topic_partition_t tp = {TOPIC, 0, 5, NULL};
    rc = crawllog_group_set_offsets(log, "g", &tp, 1);
    if (rc != 0) {
        printf("    a new commit to g: %s\n", crawllog_err_name(rc));
        lost += 4;
    }
    return lost + close_verify(log, img);
}

static void test_ablation_group_mkdir_dirsync(void **state)
{
    ablate(state, "group-base", scen_group, check_group, NULL, NO_LOSS);
    ablate(state, "group-mkdir", scen_group, check_group,
           "group.mkdir.dirsync=SKIP:persist", LOSS);
    /* Each of its two calls alone: groups/ in the data directory, and
     * <group> in groups/ (nothing else syncs either directory). */
    ablate(state, "group-mkdir-1", scen_group, check_group,
           "group.mkdir.dirsync=SKIP@1", LOSS);
    ablate(state, "group-mkdir-2", scen_group, check_group,
           "group.mkdir.dirsync=SKIP@2", LOSS);
}

/* ---- the offsets file (offsets.rename, offsets.create.fsync) ----------- */

/* In a scenario child: <real>/g exists (durable), the shadow is on. */
static int off_dir(const struct cl_test_shadow_run *r)
{
    char dir[800];
    cl_test_path(dir, sizeof(dir), r->real, "g");
    cl_test_check(mkdir(dir, 0700) == 0);
    cl_test_check(cl_shadow_enable(r->real, r->shadow) == 0);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    cl_test_check(fd >= 0);
    return fd;
}

static struct cl_offsets *off_open(int dfd)
{
    struct cl_offsets *o = NULL;
    struct cl_err err;
    int rc = cl_offsets_open(&o, dfd, "groups/g", 0600, &err);
    cl_test_checkf(rc == 0, "cl_offsets_open: %d %s", rc, err.msg);
    return o;
}

static uint64_t off_commit(struct cl_offsets *o, const char *topic, int64_t off)
{
    struct cl_offset_entry e = {topic, 0, off, NULL, 0};
    struct cl_err err;
    uint64_t tok = 0;
    int rc = cl_offsets_append(o, &e, 1, 1, 0, &tok, &err);
    cl_test_checkf(rc == 0, "cl_offsets_append: %d %s", rc, err.msg);
    return tok;
}

static void off_sync(struct cl_offsets *o, uint64_t tok)
{
    struct cl_err err;
    int rc = cl_offsets_sync(o, tok, &err);
    cl_test_checkf(rc == 0, "cl_offsets_sync: %d %s", rc, err.msg);
}

static int64_t off_get(const struct cl_offsets *o, const char *topic)
{
    struct cl_offset_entry e;
    return cl_offsets_get(o, topic, 0, &e) ? e.offset : -2;
}

/* The group's file is created; the power fails before any commit. */
static void scen_off_create(const struct cl_test_shadow_run *r,
                            const char *spec)
{
    int dfd = off_dir(r);
    arm(spec);
    (void)off_open(dfd);
}

/* a commits 1..19 durably; b commits 42 durably; a commits 20, compacts
 * the file (its snapshot holds 20: the sync of 20 needs nothing more) and
 * syncs 20; a commits "c" 7 (never synced). */
static void scen_off_compact(const struct cl_test_shadow_run *r,
                             const char *spec)
{
    int dfd = off_dir(r);
    struct cl_err err;
    arm(spec);
    struct cl_offsets *a = off_open(dfd), *b = off_open(dfd);
    uint64_t tok = 0;
    for (int i = 1; i <= 19; i++) {
        tok = off_commit(a, "a", i);
    }
    off_sync(a, tok);
    off_sync(b, off_commit(b, "b", 42));
    tok = off_commit(a, "a", 20);
    cl_test_check(cl_offsets_compact(a, &err) == 0);
    off_sync(a, tok);
    (void)off_commit(a, "c", 7);
}

/* The image's group directory (open as *dfdp) and its offsets, which
 * must open: a checker that fails is a test failure. */
static struct cl_offsets *off_image(const char *img, int *dfdp)
{
    char dir[800];
    *dfdp = open(cl_test_path(dir, sizeof(dir), img, "g"),
                 O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    cl_test_checkf(*dfdp >= 0, "%s: %s", dir, strerror(errno));
    return off_open(*dfdp);
}

/* The file opens and takes a durable commit, seen by a fresh handle. */
static int check_off_create(const char *img)
{
    int dfd;
    struct cl_offsets *o = off_image(img, &dfd);
    off_sync(o, off_commit(o, "n", 5));
    cl_offsets_close(o);
    o = off_open(dfd);
    int lost = off_get(o, "n") != 5;
    cl_offsets_close(o);
    close(dfd);
    return lost;
}

static int check_off_compact(const char *img)
{
    int dfd;
    struct cl_offsets *o = off_image(img, &dfd);
    int64_t a = off_get(o, "a"), b = off_get(o, "b");
    if (a != 20 || b != 42) {
        printf("    committed a=%" PRId64 " b=%" PRId64
               " (acknowledged 20, 42)\n",
               a, b);
    }
    cl_offsets_close(o);
    close(dfd);
    return (a != 20) + (b != 42);
}

static void test_ablation_offsets_rename(void **state)
{
    ablate(state, "off-compact-base", scen_off_compact, check_off_compact, NULL,
           NO_LOSS);
    ablate(state, "off-rename", scen_off_compact, check_off_compact,
           "offsets.rename=SKIP:persist", LOSS);
}

/* NOT_NEEDED: in every image of each scenario nothing is lost. */
static void test_ablation_offsets_create_fsync(void **state)
{
    ablate(state, "off-create-base", scen_off_create, check_off_create, NULL,
           NO_LOSS);
    ablate(state, "off-create", scen_off_create, check_off_create,
           "offsets.create.fsync=SKIP:persist", NO_LOSS);
    ablate(state, "off-create-compact", scen_off_compact, check_off_compact,
           "offsets.create.fsync=SKIP:persist", NO_LOSS);
    ablate(state, "off-create-group", scen_group, check_group,
           "offsets.create.fsync=SKIP:persist", NO_LOSS);
}

/* ---- a dead roll undone (seg.roll.undo.dirsync) ------------------------ */

#define BIG 3000 /* one record fills most of a 4096-byte segment */

static char big_value[BIG];

static void undo_phase_a(void *arg)
{
    const struct cl_test_shadow_run *r = arg;
    char data[800];
    crawllog_t *log =
        cl_test_open(cl_test_path(data, sizeof(data), r->real, "data"), NULL);
    crawllog_record_t rec = {NULL, 0, big_value, BIG, -1, NULL, 0};
    cl_test_create_topic(log, TOPIC, 1, "segment.bytes", "4096", NULL);
    assert_crawllog_ok_log(log, crawllog_append(log, TOPIC, 0, &rec, 1,
                                                CRAWLLOG_SYNC_DURABLE, NULL));
    /* The next append rolls; the process dies before the directory sync
     * that would publish the new segment. */
    cl_test_check(cl_fp_set("seg.roll.dirsync=CRASH") == 0);
    (void)crawllog_append(log, TOPIC, 0, &rec, 1, CRAWLLOG_SYNC_DURABLE, NULL);
    cl_test_checkf(0, "the roll did not crash");
}

/* A process dies in a roll, leaving a header-only segment (base 1); the
 * file system writes that name back on its own (the shadow starts after
 * it: everything present counts as durable).  The next process in the
 * same boot removes it (and syncs the directory), then appends "b1".."b3"
 * durably at offsets 1..3 to the old segment; then the power fails. */
static void scen_undo(const struct cl_test_shadow_run *r, const char *spec)
{
    char seg[900];
    memset(big_value, 'a', sizeof(big_value));
    cl_test_assert_killed_by(cl_test_fork_run(undo_phase_a, (void *)r),
                             SIGKILL);
    snprintf(seg, sizeof(seg), "%s/data/topics/" TOPIC "/0/%020d.log", r->real,
             1);
    cl_test_checkf(cl_test_exists(seg), "no dead roll's segment %s", seg);
    /* Armed first: the partition's open undoes the dead roll. */
    arm(spec);
    crawllog_t *log = open_real(r);
    for (int i = 1; i <= 3; i++) {
        char v[16];
        int64_t off = -1;
        snprintf(v, sizeof(v), "b%d", i);
        crawllog_record_t rec = {NULL, 0, v, strlen(v), -1, NULL, 0};
        assert_crawllog_ok_log(log,
                               crawllog_append(log, TOPIC, 0, &rec, 1,
                                               CRAWLLOG_SYNC_DURABLE, &off));
        cl_test_checkf(off == i, "b%d appended at %" PRId64, i, off);
    }
}

static int check_undo(const char *img)
{
    crawllog_t *log = open_image(img);
    int lost = 0;
    if (log == NULL) {
        return 10;
    }
    memset(big_value, 'a', sizeof(big_value));
    lost += !has_value(log, TOPIC, 0, 0, big_value, BIG);
    for (int i = 1; i <= 3; i++) {
        char v[16];
        snprintf(v, sizeof(v), "b%d", i);
        if (!has_value(log, TOPIC, 0, i, v, strlen(v))) {
            printf("    the acknowledged \"%s\" at offset %d is gone\n", v, i);
            lost++;
        }
    }
    return lost + close_verify(log, img);
}

static void test_ablation_seg_roll_undo_dirsync(void **state)
{
    ablate(state, "undo-base", scen_undo, check_undo, NULL, NO_LOSS);
    ablate(state, "undo", scen_undo, check_undo,
           "seg.roll.undo.dirsync=SKIP:persist", LOSS);
}

/* ---------------------------------------------------------------------- */

static int teardown(void **state)
{
    cl_shadow_disable();
    cl_fp_clear();
    return cl_test_tmpdir_teardown(state);
}

int main(void)
{
#define T(f)                                                                   \
    cmocka_unit_test_setup_teardown(f, cl_test_fast_tmpdir_setup, teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ablation_every_site_has_a_verdict),
        T(test_ablation_group_mkdir_dirsync),
        T(test_ablation_offsets_rename),
        T(test_ablation_offsets_create_fsync),
        T(test_ablation_seg_roll_undo_dirsync),
    };
#undef T
    int failed = cmocka_run_group_tests_name("ablation", tests, NULL, NULL);
    size_t needed = 0, proven = (size_t)proven_elsewhere;
    for (size_t i = 0; i < NVERDICTS; i++) {
        needed += VERDICTS[i].verdict == NEEDED;
        proven += VERDICTS[i].verdict == NEEDED && proven_here[i];
    }
    printf("ablation: sites=%zu needed=%zu not-needed=%zu proven=%zu\n",
           NVERDICTS, needed, NVERDICTS - needed, proven);
    return failed;
}
