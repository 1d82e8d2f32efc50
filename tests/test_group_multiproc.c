/*
 * test_group_multiproc.c - consumer groups across processes: forked
 * children, each with its own crawllog_t on one data directory, are the
 * members of one group.
 *  1. acceptance: 4 members over 8 partitions consume what the parent
 *     produces ("processing" = one O_APPEND line per message, a commit
 *     after each poll and in the revoke callback).  One member is
 *     SIGKILLed mid-run: its partitions must have live owners again within
 *     1 s.  A replacement member then joins while the others work
 *     (live hand-offs).  Afterwards every message was processed, each
 *     member read every partition it owned contiguously from the
 *     committed offset, and the only duplicates are the dead member's
 *     uncommitted window.
 *  2. stale generation: a member stopped (SIGSTOP) longer than its
 *     max.poll.interval.ms is expelled and its partitions are taken over;
 *     continued, its commits before its next poll fail with
 *     CRAWLLOG_EGENERATION and move no offset, and that poll reports LOST.
 *  3. static membership: a SIGKILLed member with group.instance.id leaves
 *     its partitions unowned (not moved) during session.timeout.ms; a
 *     restart with the same id gets exactly them back without a
 *     rebalance; killed again and not restarted, they move only after
 *     session.timeout.ms.
 *  4. live hand-off: members that commit only in the revoke callback;
 *     one joins while the other is mid-way through a backlog: the new
 *     owner starts exactly where the old one stopped (no duplicate, no
 *     gap), which needs the revoke -> commit -> release -> acquire order.
 *
 * Children are made with cl_test_fork_start() and fail through the helpers
 * (cl_test_check & co: message, then _exit(CL_TEST_CHILD_FAILED)); the
 * parent reaps them and fails the test on any status but the expected one.
 * Every child is recorded and the teardown SIGKILLs and reaps what is
 * left, so a failing test leaves no process behind.  The parent watches
 * the group with crawllog_group_describe() and talks to children through
 * pipes; every wait is a deadline loop.  Output lines of a child, in its
 * own file (write(2) with O_APPEND, so they survive its SIGKILL):
 *   "<pid> <p> <offset>"   message processed
 *   "A <pid> <p> <off>"    partition assigned; delivery starts at <off>
 *   "C <pid> <p> <off>"    <off> committed (after the commit returned)
 *   "R <pid> <p> <off>"    partition revoked at position <off> (committed)
 *   "L <pid> <p>"          partition lost
 * SEED=N replays the choice of the killed member; CL_TEST_FILTER=pattern
 * runs only matching tests.
 */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TOPIC "t"
#define GROUP "mp"
#define MAXP 8
#define POLL_MAX 64
#define BATCH 25

/* ---------------------------------------------------------------------- */
/* Pipes                                                                   */
/* ---------------------------------------------------------------------- */

/* A child's report to the parent (one write, < PIPE_BUF: atomic). */
#define REP_HELD 1  /* holding: its partitions and their positions */
#define REP_STALE 2 /* results of its stale commits */
#define REP_LOST 3  /* its poll reported LOST */
struct report {
    int32_t kind;
    int32_t n;
    int32_t part[MAXP];
    int64_t pos[MAXP];
    int32_t rc[3];
};

static void write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        cl_test_checkf(n > 0, "write: %s", strerror(errno));
        p += n;
        len -= (size_t)n;
    }
}

/* Read exactly len bytes within timeout_ms; 0, or -1 on timeout / EOF. */
static int read_full(int fd, void *buf, size_t len, int64_t timeout_ms)
{
    char *p = buf;
    int64_t deadline = cl_test_mono_ms() + timeout_ms;
    while (len > 0) {
        struct pollfd pfd = {fd, POLLIN, 0};
        int64_t left = deadline - cl_test_mono_ms();
        if (left < 0) {
            return -1;
        }
        int r = poll(&pfd, 1, (int)(left > 50 ? 50 : left));
        if (r < 0 && errno != EINTR) {
            return -1;
        }
        if (r <= 0) {
            if (!cl_test_in_child()) {
                cl_test_kids_check_running();
            }
            continue;
        }
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void parent_report(int fd, int32_t kind, struct report *rep)
{
    memset(rep, 0, sizeof(*rep));
    if (read_full(fd, rep, sizeof(*rep), 10000) != 0) {
        fail_msg("no report %d from the child", (int)kind);
    }
    assert_int_equal(rep->kind, kind);
}

/* ---------------------------------------------------------------------- */
/* The member child                                                        */
/* ---------------------------------------------------------------------- */

struct child_cfg {
    char dir[4200];       /* data directory */
    char out[4200];       /* output file */
    const char *instance; /* group.instance.id, or NULL */
    const char *max_poll; /* max.poll.interval.ms, or NULL */
    const char *session;  /* session.timeout.ms, or NULL */
    int cmd_fd;           /* commands from the parent, -1 if none */
    int rep_fd;           /* reports to the parent, -1 if none */
    long work_us;         /* time "processing" one message takes */
    int no_loop_commit;   /* commit only in the revoke callback (and so
                             at close) */
};

static volatile sig_atomic_t child_stop;

static void on_sigterm(int sig)
{
    (void)sig;
    child_stop = 1;
}

struct cstate {
    int out;
    long pid;
    int rep_fd;
    int lost_events;
};

static void out_line(struct cstate *st, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void out_line(struct cstate *st, const char *fmt, ...)
{
    char buf[128];
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    cl_test_check(len > 0 && (size_t)len < sizeof(buf));
    write_all(st->out, buf, (size_t)len);
}

static void on_rebalance(crawllog_consumer_t *c, int event,
                         const crawllog_topic_partition_t *parts, size_t count,
                         void *opaque)
{
    struct cstate *st = opaque;
    if (event == CRAWLLOG_REBALANCE_ASSIGNED) {
        for (size_t i = 0; i < count; i++) {
            int64_t off = -1;
            assert_crawllog_ok(crawllog_consumer_committed(
                c, parts[i].topic, parts[i].partition, &off));
            out_line(st, "A %ld %d %lld\n", st->pid, (int)parts[i].partition,
                     (long long)(off < 0 ? 0 : off));
        }
    } else if (event == CRAWLLOG_REBALANCE_REVOKED) {
        /* Still the owner: commit what was processed. */
        int rc = crawllog_consumer_commit(c, NULL, CRAWLLOG_SYNC_DURABLE);
        cl_test_checkf(rc == 0, "child %ld: commit in revoke: %s: %s", st->pid,
                       crawllog_err_name(rc), crawllog_consumer_errmsg(c));
        for (size_t i = 0; i < count; i++) {
            out_line(st, "R %ld %d %lld\n", st->pid, (int)parts[i].partition,
                     (long long)parts[i].offset);
        }
    } else {
        cl_test_check(event == CRAWLLOG_REBALANCE_LOST);
        st->lost_events++;
        for (size_t i = 0; i < count; i++) {
            out_line(st, "L %ld %d\n", st->pid, (int)parts[i].partition);
        }
        if (st->rep_fd >= 0 && st->lost_events == 1) {
            struct report rep;
            memset(&rep, 0, sizeof(rep));
            rep.kind = REP_LOST;
            rep.n = (int32_t)count;
            write_all(st->rep_fd, &rep, sizeof(rep));
        }
    }
}

/* 1 if a command byte is waiting on fd. */
static int cmd_pending(int fd)
{
    struct pollfd pfd = {fd, POLLIN, 0};
    return poll(&pfd, 1, 0) > 0;
}

/* Command 'H': report the partitions held, then wait (not polling the
 * consumer) for 'G'; on 'G' try stale commits and report their results. */
static void child_hold(crawllog_consumer_t *c, const struct child_cfg *cfg)
{
    char cmd = 0;
    cl_test_check(read_full(cfg->cmd_fd, &cmd, 1, 1000) == 0 && cmd == 'H');
    crawllog_topic_partition_t *list = NULL;
    size_t n = 0;
    assert_crawllog_ok(crawllog_consumer_assignment(c, &list, &n));
    cl_test_check(n > 0 && n <= MAXP);
    struct report rep;
    memset(&rep, 0, sizeof(rep));
    rep.kind = REP_HELD;
    for (size_t i = 0; i < n && i < MAXP; i++) {
        rep.part[i] = list[i].partition;
        rep.pos[i] = list[i].offset;
    }
    rep.n = (int32_t)n;
    write_all(cfg->rep_fd, &rep, sizeof(rep));
    /* Blocked here, outside every library call: the parent stops us. */
    for (;;) {
        ssize_t r = read(cfg->cmd_fd, &cmd, 1);
        if (r < 0 && errno == EINTR) {
            cl_test_check(!child_stop);
            continue;
        }
        cl_test_check(r == 1 && cmd == 'G');
        break;
    }
    /* Continued after the others took our partitions: commit before any
     * poll.  An offset of a partition we held, ... */
    memset(&rep, 0, sizeof(rep));
    rep.kind = REP_STALE;
    crawllog_topic_partition_t tp = {TOPIC, list[0].partition, 3, NULL};
    rep.rc[0] =
        crawllog_consumer_commit_offsets(c, &tp, 1, CRAWLLOG_SYNC_DURABLE);
    /* ... our positions (what we processed before the stop), ... */
    rep.rc[1] = crawllog_consumer_commit(c, NULL, CRAWLLOG_SYNC_DURABLE);
    /* ... and all held partitions at their old positions, explicitly. */
    rep.rc[2] =
        crawllog_consumer_commit_offsets(c, list, n, CRAWLLOG_SYNC_WRITTEN);
    if (rep.rc[0] != CRAWLLOG_EGENERATION) {
        fprintf(stderr, "child %ld: stale commit: %s\n", (long)getpid(),
                crawllog_consumer_errmsg(c));
    }
    free(list);
    write_all(cfg->rep_fd, &rep, sizeof(rep));
}

static void child_member(void *arg)
{
    const struct child_cfg *cfg = arg;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigterm;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: a blocked call returns */
    cl_test_check(sigaction(SIGTERM, &sa, NULL) == 0);

    struct cstate st;
    memset(&st, 0, sizeof(st));
    st.pid = (long)getpid();
    st.rep_fd = cfg->rep_fd;
    st.out = open(cfg->out, O_WRONLY | O_CREAT | O_APPEND, 0600);
    cl_test_checkf(st.out >= 0, "open %s: %s", cfg->out, strerror(errno));

    crawllog_t *log = cl_test_open(cfg->dir, NULL);
    crawllog_conf_t *conf =
        cl_test_conf("group.id", GROUP, "auto.offset.reset", "earliest", NULL);
    char err[256];
    if (cfg->instance) {
        assert_crawllog_ok(crawllog_conf_set(conf, "group.instance.id",
                                             cfg->instance, err, sizeof(err)));
    }
    if (cfg->max_poll) {
        assert_crawllog_ok(crawllog_conf_set(conf, "max.poll.interval.ms",
                                             cfg->max_poll, err, sizeof(err)));
    }
    if (cfg->session) {
        assert_crawllog_ok(crawllog_conf_set(conf, "session.timeout.ms",
                                             cfg->session, err, sizeof(err)));
    }
    crawllog_consumer_t *c = NULL;
    int rc = crawllog_consumer_new(log, conf, &c, err, sizeof(err));
    cl_test_checkf(rc == 0, "consumer_new: %s: %s", crawllog_err_name(rc), err);
    crawllog_conf_destroy(conf);
    assert_crawllog_ok(
        crawllog_consumer_set_rebalance_cb(c, on_rebalance, &st));
    const char *topics[] = {TOPIC};
    rc = crawllog_consumer_subscribe(c, topics, 1);
    cl_test_checkf(rc == 0, "subscribe: %s: %s", crawllog_err_name(rc),
                   crawllog_consumer_errmsg(c));

    while (!child_stop) {
        if (cfg->cmd_fd >= 0 && cmd_pending(cfg->cmd_fd)) {
            child_hold(c, cfg);
        }
        const crawllog_msg_t *msgs[POLL_MAX];
        size_t n = 0;
        rc = crawllog_consumer_poll(c, 100, msgs, POLL_MAX, &n);
        cl_test_checkf(rc == 0, "child %ld: poll: %s: %s", st.pid,
                       crawllog_err_name(rc), crawllog_consumer_errmsg(c));
        for (size_t i = 0; i < n; i++) {
            int32_t p = crawllog_msg_partition(msgs[i]);
            long long o = (long long)crawllog_msg_offset(msgs[i]);
            size_t len = 0;
            const char *v = crawllog_msg_value(msgs[i], &len);
            char want[48];
            snprintf(want, sizeof(want), "p%d-%lld", (int)p, o);
            cl_test_checkf(strcmp(crawllog_msg_topic(msgs[i]), TOPIC) == 0 &&
                               len == strlen(want) && memcmp(v, want, len) == 0,
                           "child %ld: message %d/%lld: bad value", st.pid,
                           (int)p, o);
            if (cfg->work_us > 0) {
                struct timespec ts = {0, cfg->work_us * 1000};
                nanosleep(&ts, NULL);
            }
            out_line(&st, "%ld %d %lld\n", st.pid, (int)p, o); /* done */
        }
        if (n == 0 || cfg->no_loop_commit) {
            continue;
        }
        rc = crawllog_consumer_commit(c, NULL, CRAWLLOG_SYNC_WRITTEN);
        cl_test_checkf(rc == 0, "child %ld: commit: %s: %s", st.pid,
                       crawllog_err_name(rc), crawllog_consumer_errmsg(c));
        crawllog_topic_partition_t *list = NULL;
        size_t cnt = 0;
        assert_crawllog_ok(crawllog_consumer_assignment(c, &list, &cnt));
        for (size_t i = 0; i < cnt; i++) {
            if (list[i].offset >= 0) {
                out_line(&st, "C %ld %d %lld\n", st.pid, (int)list[i].partition,
                         (long long)list[i].offset);
            }
        }
        free(list);
    }
    rc = crawllog_consumer_close(c); /* revokes: commits in the callback */
    cl_test_checkf(rc == 0, "child %ld: consumer_close: %s: %s", st.pid,
                   crawllog_err_name(rc), crawllog_consumer_errmsg(c));
    crawllog_consumer_destroy(c);
    assert_crawllog_ok(crawllog_close(log));
    close(st.out);
}

/* ---------------------------------------------------------------------- */
/* Parent helpers                                                          */
/* ---------------------------------------------------------------------- */

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static crawllog_t *open_data(void **state, char *dir, size_t size)
{
    cl_test_path(dir, size, CL_TEST_DIR(state), "data");
    crawllog_conf_t *conf = cl_test_conf("log.dir.create", "true", NULL);
    crawllog_t *log = cl_test_open(dir, conf);
    crawllog_conf_destroy(conf);
    return log;
}

static void cfg_init(struct child_cfg *cfg, void **state, const char *dir,
                     const char *outname)
{
    memset(cfg, 0, sizeof(*cfg));
    snprintf(cfg->dir, sizeof(cfg->dir), "%s", dir);
    cl_test_path(cfg->out, sizeof(cfg->out), CL_TEST_DIR(state), outname);
    cfg->cmd_fd = cfg->rep_fd = -1;
}

/* Append offsets [from, to) to each of nparts partitions, BATCH records
 * per call, partitions in turn; values "p<p>-<offset>". */
static void produce(crawllog_t *log, int nparts, int64_t from, int64_t to)
{
    char vals[BATCH][48];
    crawllog_record_t recs[BATCH];
    for (int64_t o = from; o < to; o += BATCH) {
        size_t n = (size_t)(to - o < BATCH ? to - o : BATCH);
        for (int p = 0; p < nparts; p++) {
            for (size_t i = 0; i < n; i++) {
                int len = snprintf(vals[i], sizeof(vals[i]), "p%d-%lld", p,
                                   (long long)(o + (int64_t)i));
                recs[i] = (crawllog_record_t){NULL, 0,    vals[i], (size_t)len,
                                              -1,   NULL, 0};
            }
            int64_t base = -1;
            assert_crawllog_ok_log(log, crawllog_append(log, TOPIC, p, recs, n,
                                                        CRAWLLOG_SYNC_WRITTEN,
                                                        &base));
            assert_int_equal(base, o);
        }
    }
}

/* The group now, or NULL if it does not exist yet. */
static crawllog_group_desc_t *describe(crawllog_t *log)
{
    crawllog_group_desc_t *d = NULL;
    int rc = crawllog_group_describe(log, GROUP, &d);
    if (rc == CRAWLLOG_ENOENT) {
        return NULL;
    }
    assert_crawllog_ok_log(log, rc);
    return d;
}

/* The pid of partition i's owner, 0 if it has none. */
static long owner_pid(const crawllog_group_desc_t *d, size_t i)
{
    const char *id = d->partitions[i].member_id;
    for (size_t m = 0; id != NULL && m < d->member_count; m++) {
        if (strcmp(d->members[m].member_id, id) == 0) {
            return d->members[m].pid;
        }
    }
    return 0;
}

static const crawllog_group_member_t *
member_by_pid(const crawllog_group_desc_t *d, long pid)
{
    for (size_t m = 0; m < d->member_count; m++) {
        if (d->members[m].pid == pid) {
            return &d->members[m];
        }
    }
    return NULL;
}

/* Bit p set for each partition pid owns. */
static unsigned owned_mask(const crawllog_group_desc_t *d, long pid)
{
    unsigned mask = 0;
    for (size_t i = 0; i < d->partition_count; i++) {
        if (owner_pid(d, i) == pid) {
            mask |= 1u << d->partitions[i].partition;
        }
    }
    return mask;
}

static void print_desc(const crawllog_group_desc_t *d)
{
    if (d == NULL) {
        fprintf(stderr, "  (no group)\n");
        return;
    }
    fprintf(stderr, "  state %s generation %d, %zu members:\n", d->state,
            (int)d->generation, d->member_count);
    for (size_t m = 0; m < d->member_count; m++) {
        fprintf(stderr,
                "    pid %ld %s instance \"%s\" alive %d parts %zu "
                "last poll %lld ms ago\n",
                d->members[m].pid, d->members[m].member_id,
                d->members[m].instance_id, d->members[m].alive,
                d->members[m].partitions,
                (long long)d->members[m].last_poll_age_ms);
    }
    for (size_t i = 0; i < d->partition_count; i++) {
        fprintf(stderr,
                "    %s/%d owner pid %ld committed %lld log end "
                "%lld\n",
                d->partitions[i].topic, (int)d->partitions[i].partition,
                owner_pid(d, i), (long long)d->partitions[i].committed,
                (long long)d->partitions[i].log_end);
    }
}

typedef int desc_pred(const crawllog_group_desc_t *d, const void *arg);

/* Describe every ~5 ms until pred holds (that description is returned:
 * free it) or timeout_ms passed (the test fails, showing the last one). */
static crawllog_group_desc_t *wait_group(crawllog_t *log, int64_t timeout_ms,
                                         desc_pred *pred, const void *arg,
                                         const char *what)
{
    int64_t deadline = cl_test_mono_ms() + timeout_ms;
    for (;;) {
        crawllog_group_desc_t *d = describe(log);
        if (d != NULL && pred(d, arg)) {
            return d;
        }
        if (cl_test_mono_ms() > deadline) {
            fprintf(stderr, "waited %lld ms for: %s; the group:\n",
                    (long long)timeout_ms, what);
            print_desc(d);
            crawllog_group_desc_free(d);
            fail_msg("timed out waiting for: %s", what);
        }
        crawllog_group_desc_free(d);
        cl_test_kids_check_running();
        cl_test_sleep_ms(5);
    }
}

/* Stable: members alive, every partition owned, owners balanced. */
struct stable_arg {
    size_t members;
    size_t parts;
};

static int pred_stable(const crawllog_group_desc_t *d, const void *arg)
{
    const struct stable_arg *a = arg;
    if (strcmp(d->state, "Stable") != 0 || d->member_count != a->members ||
        d->partition_count != a->parts) {
        return 0;
    }
    size_t lo = a->parts / a->members,
           hi = (a->parts + a->members - 1) / a->members;
    for (size_t m = 0; m < d->member_count; m++) {
        if (!d->members[m].alive || d->members[m].partitions < lo ||
            d->members[m].partitions > hi) {
            return 0;
        }
    }
    for (size_t i = 0; i < d->partition_count; i++) {
        if (d->partitions[i].member_id == NULL) {
            return 0;
        }
    }
    return 1;
}

/* Every partition committed up to its log end, which is at least *arg. */
static int pred_all_committed(const crawllog_group_desc_t *d, const void *arg)
{
    int64_t want = *(const int64_t *)arg;
    for (size_t i = 0; i < d->partition_count; i++) {
        if (d->partitions[i].committed != d->partitions[i].log_end ||
            d->partitions[i].log_end < want) {
            return 0;
        }
    }
    return d->partition_count > 0;
}

static int64_t committed_sum(const crawllog_group_desc_t *d)
{
    int64_t sum = 0;
    for (size_t i = 0; i < d->partition_count; i++) {
        sum += d->partitions[i].committed > 0 ? d->partitions[i].committed : 0;
    }
    return sum;
}

/* SIGTERM each pid and reap it: it must exit with 0. */
static void stop_members(const pid_t *pids, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(kill(pids[i], SIGTERM), 0);
    }
    for (size_t i = 0; i < n; i++) {
        cl_test_assert_exit_ok(cl_test_kids_reap(pids[i], 10000));
    }
}

/* ---------------------------------------------------------------------- */
/* Output files                                                            */
/* ---------------------------------------------------------------------- */

struct out_check {
    /* in */
    int nparts;
    int64_t per; /* offsets [0, per) of each partition produced */
    long victim; /* pid whose uncommitted window may repeat, or 0 */
    /* out */
    long processed;              /* lines */
    long dups;                   /* pairs processed twice */
    long victim_after;           /* victim's pairs at or past its last commit */
    long live_revokes;           /* revokes at a position inside (0, per) */
    int64_t victim_bound[MAXP];  /* victim's last committed offsets */
    unsigned assigned[CL_TEST_KIDS_MAX]; /* partitions in each file's "A" lines */
};

/*
 * Read every output file: each member reads a partition it owns
 * contiguously from where its assignment started; every produced pair is
 * processed; a pair processed twice was processed by the victim at or past
 * the last offset it committed (or found committed) for that partition,
 * and once by another member; there are no other duplicates.
 */
static void check_outputs(char (*files)[4200], const pid_t *pids, size_t nf,
                          struct out_check *oc)
{
    size_t total = (size_t)oc->nparts * (size_t)oc->per;
    unsigned char *count = calloc(total, 1);
    unsigned char *by_victim = calloc(total, 1);
    assert_non_null(count);
    assert_non_null(by_victim);
    for (int p = 0; p < MAXP; p++) {
        oc->victim_bound[p] = INT64_MAX; /* no commit seen: no window */
    }
    for (size_t f = 0; f < nf; f++) {
        size_t len = 0;
        char *text = cl_test_read_file(files[f], &len);
        int64_t next[MAXP];
        for (int p = 0; p < MAXP; p++) {
            next[p] = -1; /* not owned */
        }
        long pid = (long)pids[f];
        int victim = pid == oc->victim;
        oc->assigned[f] = 0;
        int lineno = 0;
        for (char *line = text; *line != '\0';) {
            char *nl = strchr(line, '\n');
            lineno++;
            if (nl == NULL) {
                /* Cut by the SIGKILL: only the victim's last line. */
                if (!victim) {
                    fail_msg("%s:%d: unterminated line", files[f], lineno);
                }
                break;
            }
            *nl = '\0';
            char kind = 'P';
            long lpid = 0;
            int p = -1;
            long long off = -1;
            int got;
            if (line[0] >= '0' && line[0] <= '9') {
                got = sscanf(line, "%ld %d %lld", &lpid, &p, &off) == 3;
            } else {
                kind = line[0];
                got = sscanf(line + 1, " %ld %d %lld", &lpid, &p, &off) >=
                      (kind == 'L' ? 2 : 3);
            }
            if (!got || lpid != pid || p < 0 || p >= oc->nparts) {
                fail_msg("%s:%d: bad line \"%s\"", files[f], lineno, line);
            }
            switch (kind) {
            case 'P':
                if (off != next[p] || off < 0 || off >= oc->per) {
                    fail_msg("%s:%d: member %ld processed %d/%lld, expected "
                             "offset %lld (-1: not owned)",
                             files[f], lineno, pid, p, off, (long long)next[p]);
                }
                next[p]++;
                oc->processed++;
                count[(size_t)p * (size_t)oc->per + (size_t)off]++;
                if (victim) {
                    by_victim[(size_t)p * (size_t)oc->per + (size_t)off]++;
                }
                break;
            case 'A':
                if (next[p] != -1) {
                    fail_msg("%s:%d: %d assigned twice", files[f], lineno, p);
                }
                next[p] = off;
                oc->assigned[f] |= 1u << p;
                if (victim) {
                    oc->victim_bound[p] = off;
                }
                break;
            case 'C':
                if (next[p] != off) {
                    fail_msg("%s:%d: committed %d/%lld, position %lld",
                             files[f], lineno, p, off, (long long)next[p]);
                }
                if (victim) {
                    oc->victim_bound[p] = off;
                }
                break;
            case 'R': /* -1: revoked before its start was known */
                if (off != -1 && next[p] != off) {
                    fail_msg("%s:%d: revoked %d at %lld, position %lld",
                             files[f], lineno, p, off, (long long)next[p]);
                }
                if (victim && off != -1) {
                    oc->victim_bound[p] = off;
                }
                oc->live_revokes += off > 0 && off < oc->per;
                next[p] = -1;
                break;
            case 'L':
                next[p] = -1;
                break;
            default:
                fail_msg("%s:%d: bad line \"%s\"", files[f], lineno, line);
            }
            line = nl + 1;
        }
        free(text);
    }
    for (int p = 0; p < oc->nparts; p++) {
        for (int64_t o = 0; o < oc->per; o++) {
            size_t k = (size_t)p * (size_t)oc->per + (size_t)o;
            if (count[k] == 0) {
                fail_msg("%d/%lld was never processed", p, (long long)o);
            }
            if (by_victim[k] && o >= oc->victim_bound[p]) {
                oc->victim_after++;
            }
            if (count[k] == 1) {
                continue;
            }
            oc->dups++;
            if (count[k] != 2 || by_victim[k] != 1 || o < oc->victim_bound[p]) {
                fail_msg("%d/%lld processed %d times (%d by the killed "
                         "member, whose last commit there was %lld): a "
                         "duplicate outside the uncommitted window",
                         p, (long long)o, count[k], by_victim[k],
                         (long long)oc->victim_bound[p]);
            }
        }
    }
    free(count);
    free(by_victim);
}

/* ---------------------------------------------------------------------- */
/* 1. Acceptance: 4 processes, 8 partitions, one SIGKILLed                 */
/* ---------------------------------------------------------------------- */

#define ACC_MEMBERS 4
#define ACC_PARTS 8
#define ACC_PER 2500   /* per partition: 20000 messages */
#define ACC_WORK_US 50 /* so that the kill lands in the middle of work */

static void test_group_kill9_partitions_move(void **state)
{
    char dir[4200];
    crawllog_t *log = open_data(state, dir, sizeof(dir));
    cl_test_create_topic(log, TOPIC, ACC_PARTS, NULL);
    uint64_t rng = CL_TEST_SEED;
    struct child_cfg cfg[ACC_MEMBERS + 1]; /* + the replacement */
    pid_t pids[ACC_MEMBERS + 1];
    char files[ACC_MEMBERS + 1][4200];
    for (int i = 0; i < ACC_MEMBERS; i++) {
        char name[32];
        snprintf(name, sizeof(name), "out-%d", i);
        cfg_init(&cfg[i], state, dir, name);
        cfg[i].work_us = ACC_WORK_US;
        memcpy(files[i], cfg[i].out, sizeof(files[i]));
        pids[i] = cl_test_kids_spawn(child_member, &cfg[i]);
    }
    struct stable_arg sa = {ACC_MEMBERS, ACC_PARTS};
    crawllog_group_desc_t *d = wait_group(log, 10000, pred_stable, &sa,
                                          "4 members own 2 partitions each");
    crawllog_group_desc_free(d);

    /* Phase 1: half the messages; kill a member once 30% are committed
     * (the rest keep the members busy meanwhile: each message takes
     * ACC_WORK_US to process, so the kill lands in the middle of work). */
    const int64_t total = (int64_t)ACC_PARTS * ACC_PER;
    int64_t produced = ACC_PER / 2, sum = 0;
    produce(log, ACC_PARTS, 0, produced);
    int64_t deadline = cl_test_mono_ms() + 10000;
    while (sum * 10 < total * 3) {
        if (cl_test_mono_ms() > deadline) {
            fail_msg("only %lld of %lld messages committed", (long long)sum,
                     (long long)total);
        }
        cl_test_kids_check_running();
        cl_test_sleep_ms(5);
        d = describe(log);
        sum = committed_sum(d);
        crawllog_group_desc_free(d);
    }
    int vi = (int)cl_test_rand_below(&rng, ACC_MEMBERS);
    pid_t victim = pids[vi];
    d = describe(log);
    unsigned victim_parts = owned_mask(d, (long)victim);
    int64_t sum_at_kill = committed_sum(d);
    crawllog_group_desc_free(d);

    /* Kill it; time until nothing is owned by it and all 8 have owners. */
    int64_t t0 = mono_us();
    assert_int_equal(kill(victim, SIGKILL), 0);
    int64_t moved_us = -1, gone_us = -1;
    deadline = cl_test_mono_ms() + 5000;
    while (moved_us < 0) {
        d = describe(log);
        int ok = 1, dead_owns = 0;
        for (size_t i = 0; i < d->partition_count; i++) {
            long o = owner_pid(d, i);
            dead_owns |= o == (long)victim;
            ok &= o != 0 && o != (long)victim;
        }
        int64_t now = mono_us();
        if (!dead_owns && gone_us < 0) {
            gone_us = now - t0;
        }
        if (ok && d->partition_count == ACC_PARTS) {
            moved_us = now - t0;
            assert_null(member_by_pid(d, (long)victim));
        }
        if (moved_us < 0 && cl_test_mono_ms() > deadline) {
            print_desc(d);
            crawllog_group_desc_free(d);
            fail_msg("the killed member's partitions did not move in 5 s");
        }
        crawllog_group_desc_free(d);
        if (moved_us < 0) {
            cl_test_sleep_ms(5);
        }
    }
    cl_test_assert_killed_by(cl_test_kids_reap(victim, 5000), SIGKILL);
    print_message("acceptance: killed member %d (pid %ld, partitions 0x%02x) "
                  "at %lld/%lld committed, %lld produced; released after "
                  "%.1f ms, all partitions owned again after %.1f ms\n",
                  vi, (long)victim, victim_parts, (long long)sum_at_kill,
                  (long long)total, (long long)produced * ACC_PARTS,
                  (double)gone_us / 1000.0, (double)moved_us / 1000.0);
    assert_true(victim_parts != 0);
    if (moved_us >= 1000000) {
        fail_msg("partitions moved after %.1f ms, not within 1 s",
                 (double)moved_us / 1000.0);
    }

    /* Phase 2: the rest, and a replacement member joins while the others
     * work through it: live hand-offs (commit on revoke). */
    produce(log, ACC_PARTS, produced, ACC_PER);
    cfg_init(&cfg[ACC_MEMBERS], state, dir, "out-new");
    cfg[ACC_MEMBERS].work_us = ACC_WORK_US;
    memcpy(files[ACC_MEMBERS], cfg[ACC_MEMBERS].out, sizeof(files[0]));
    pids[ACC_MEMBERS] = cl_test_kids_spawn(child_member, &cfg[ACC_MEMBERS]);
    int64_t per = ACC_PER;
    d = wait_group(log, 20000, pred_all_committed, &per,
                   "every partition committed up to its log end");
    crawllog_group_desc_free(d);
    pid_t survivors[ACC_MEMBERS + 1];
    size_t ns = 0;
    for (int i = 0; i <= ACC_MEMBERS; i++) {
        if (i != vi) {
            survivors[ns++] = pids[i];
        }
    }
    stop_members(survivors, ns);
    d = describe(log);
    assert_non_null(d);
    assert_int_equal(d->member_count, 0);
    assert_int_equal(d->partition_count, ACC_PARTS);
    for (size_t i = 0; i < d->partition_count; i++) {
        assert_int_equal(d->partitions[i].committed, ACC_PER);
        assert_int_equal(d->partitions[i].lag, 0);
    }
    crawllog_group_desc_free(d);

    struct out_check oc;
    memset(&oc, 0, sizeof(oc));
    oc.nparts = ACC_PARTS;
    oc.per = ACC_PER;
    oc.victim = (long)victim;
    check_outputs(files, pids, ACC_MEMBERS + 1, &oc);
    print_message("acceptance: %ld lines processed for %lld messages, %ld "
                  "duplicates (all in the killed member's uncommitted "
                  "window, where it processed %ld); %ld live hand-offs "
                  "mid-partition\n",
                  oc.processed, (long long)total, oc.dups, oc.victim_after,
                  oc.live_revokes);
    assert_int_equal(oc.processed, total + oc.dups);
    assert_true(oc.dups <= oc.victim_after);
    /* Whether the replacement arrives before the others finished is timing
     * (live hand-offs are asserted in test_group_handoff_commits_on_revoke);
     * that it was given partitions is not. */
    assert_true(oc.assigned[ACC_MEMBERS] != 0);
    cl_test_close_verify(log, dir);
}

/* ---------------------------------------------------------------------- */
/* 2. Stale generation across processes                                    */
/* ---------------------------------------------------------------------- */

#define SG_PARTS 4

struct own_arg {
    long pid;
    unsigned mask; /* exactly these partitions */
    size_t members;
};

static int pred_owns(const crawllog_group_desc_t *d, const void *arg)
{
    const struct own_arg *a = arg;
    return d->member_count == a->members && owned_mask(d, a->pid) == a->mask;
}

static void test_group_stale_generation_after_stop(void **state)
{
    char dir[4200];
    crawllog_t *log = open_data(state, dir, sizeof(dir));
    cl_test_create_topic(log, TOPIC, SG_PARTS, NULL);
    produce(log, SG_PARTS, 0, 10);
    int cmd[2], rep[2];
    assert_int_equal(pipe(cmd), 0);
    assert_int_equal(pipe(rep), 0);
    struct child_cfg ca, cb;
    char files[2][4200];
    cfg_init(&ca, state, dir, "out-a");
    ca.max_poll = "500";
    ca.cmd_fd = cmd[0];
    ca.rep_fd = rep[1];
    cfg_init(&cb, state, dir, "out-b");
    memcpy(files[0], ca.out, sizeof(files[0]));
    memcpy(files[1], cb.out, sizeof(files[1]));
    pid_t pids[2];
    pids[0] = cl_test_kids_spawn(child_member, &ca);
    pids[1] = cl_test_kids_spawn(child_member, &cb);
    struct stable_arg sa = {2, SG_PARTS};
    crawllog_group_desc_free(wait_group(log, 10000, pred_stable, &sa,
                                        "2 members, 2 partitions "
                                        "each"));
    int64_t ten = 10;
    crawllog_group_desc_free(wait_group(log, 10000, pred_all_committed, &ten,
                                        "10 messages committed everywhere"));

    /* A holds (outside poll), reports what it owns; then stop it. */
    char c = 'H';
    write_all(cmd[1], &c, 1);
    struct report r;
    parent_report(rep[0], REP_HELD, &r);
    assert_int_equal(r.n, 2);
    unsigned held = 0;
    for (int i = 0; i < r.n; i++) {
        assert_int_equal(r.pos[i], 10);
        held |= 1u << r.part[i];
    }
    crawllog_group_desc_t *d = describe(log);
    assert_int_equal(owned_mask(d, (long)pids[0]), held);
    int32_t gen_before = d->generation;
    crawllog_group_desc_free(d);
    int64_t t_stop = cl_test_mono_ms();
    assert_int_equal(kill(pids[0], SIGSTOP), 0);
    /* More messages: B, alone, takes over and commits them. */
    produce(log, SG_PARTS, 10, 15);
    struct own_arg oa = {(long)pids[1], (1u << SG_PARTS) - 1, 1};
    crawllog_group_desc_free(wait_group(log, 5000, pred_owns, &oa,
                                        "B owns all partitions, A expelled"));
    int64_t t_taken = cl_test_mono_ms() - t_stop;
    int64_t fifteen = 15;
    d = wait_group(log, 5000, pred_all_committed, &fifteen,
                   "B committed 15 everywhere");
    assert_true(d->generation > gen_before);
    crawllog_group_desc_free(d);
    assert_true(cl_test_mono_ms() - t_stop >= 500);

    /* Continue A: its commits before polling are refused. */
    assert_int_equal(kill(pids[0], SIGCONT), 0);
    c = 'G';
    write_all(cmd[1], &c, 1);
    parent_report(rep[0], REP_STALE, &r);
    for (int i = 0; i < 3; i++) {
        if (r.rc[i] != CRAWLLOG_EGENERATION) {
            fail_msg("stale commit %d returned %s, expected EGENERATION", i,
                     crawllog_err_name(r.rc[i]));
        }
    }
    d = describe(log);
    for (size_t i = 0; i < d->partition_count; i++) {
        assert_int_equal(d->partitions[i].committed, 15);
    }
    crawllog_group_desc_free(d);
    /* Its next poll reports the loss; it rejoins and gets a share back. */
    parent_report(rep[0], REP_LOST, &r);
    assert_int_equal(r.n, 2);
    crawllog_group_desc_free(
        wait_group(log, 5000, pred_stable, &sa, "A rejoined: 2 and 2"));
    d = describe(log);
    for (size_t i = 0; i < d->partition_count; i++) {
        assert_int_equal(d->partitions[i].committed, 15);
    }
    crawllog_group_desc_free(d);
    print_message("stale generation: A stopped, B owned everything after "
                  "%lld ms; A's 3 commits refused with EGENERATION\n",
                  (long long)t_taken);
    stop_members(pids, 2);
    close(cmd[0]);
    close(cmd[1]);
    close(rep[0]);
    close(rep[1]);
    struct out_check oc;
    memset(&oc, 0, sizeof(oc));
    oc.nparts = SG_PARTS;
    oc.per = 15;
    check_outputs(files, pids, 2, &oc);
    assert_int_equal(oc.dups, 0);
    assert_int_equal(oc.processed, SG_PARTS * 15);
    cl_test_close_verify(log, dir);
}

/* ---------------------------------------------------------------------- */
/* 3. Static membership across processes                                   */
/* ---------------------------------------------------------------------- */

#define SM_PARTS 4
#define SM_SESSION_MS 3000
#define SM_SESSION "3000"

static int pred_away(const crawllog_group_desc_t *d, const void *arg)
{
    (void)arg;
    for (size_t m = 0; m < d->member_count; m++) {
        if (strcmp(d->members[m].instance_id, "x") == 0) {
            return !d->members[m].alive;
        }
    }
    return 0;
}

static void test_group_static_member_restart(void **state)
{
    char dir[4200];
    crawllog_t *log = open_data(state, dir, sizeof(dir));
    cl_test_create_topic(log, TOPIC, SM_PARTS, NULL);
    produce(log, SM_PARTS, 0, 10);
    struct child_cfg cx, cy, cx2;
    cfg_init(&cx, state, dir, "out-x");
    cx.instance = "x";
    cx.session = SM_SESSION;
    cfg_init(&cy, state, dir, "out-y");
    cfg_init(&cx2, state, dir, "out-x2");
    cx2.instance = "x";
    cx2.session = SM_SESSION;
    pid_t x = cl_test_kids_spawn(child_member, &cx);
    pid_t y = cl_test_kids_spawn(child_member, &cy);
    struct stable_arg sa = {2, SM_PARTS};
    crawllog_group_desc_free(
        wait_group(log, 10000, pred_stable, &sa, "x and y own 2 each"));
    int64_t ten = 10;
    crawllog_group_desc_t *d = wait_group(log, 10000, pred_all_committed, &ten,
                                          "10 committed everywhere");
    unsigned xs = owned_mask(d, (long)x), ys = owned_mask(d, (long)y);
    int32_t gen = d->generation;
    const crawllog_group_member_t *mx = member_by_pid(d, (long)x);
    assert_non_null(mx);
    assert_string_equal(mx->instance_id, "x");
    crawllog_group_desc_free(d);
    assert_int_equal(xs | ys, (1u << SM_PARTS) - 1);
    assert_int_equal(xs & ys, 0);

    /* Kill x: y notices (x is away), but x's partitions stay unowned. */
    int64_t t_kill = cl_test_mono_ms();
    assert_int_equal(kill(x, SIGKILL), 0);
    cl_test_assert_killed_by(cl_test_kids_reap(x, 5000), SIGKILL);
    crawllog_group_desc_free(
        wait_group(log, 2000, pred_away, NULL, "x seen dead (away)"));
    int64_t t_away = cl_test_mono_ms() - t_kill;
    long checks = 0;
    while (cl_test_mono_ms() - t_kill < SM_SESSION_MS - 1000) {
        d = describe(log);
        if (owned_mask(d, (long)y) != ys || d->generation != gen ||
            d->member_count != 2) {
            print_desc(d);
            fail_msg("x's partitions moved while it was away");
        }
        for (size_t i = 0; i < d->partition_count; i++) {
            if ((xs >> d->partitions[i].partition) & 1) {
                assert_null(d->partitions[i].member_id);
            }
        }
        crawllog_group_desc_free(d);
        checks++;
        cl_test_kids_check_running();
        cl_test_sleep_ms(10);
    }

    /* Restart x: exactly its partitions come back, no rebalance. */
    pid_t x2 = cl_test_kids_spawn(child_member, &cx2);
    struct own_arg oa = {(long)x2, xs, 2};
    crawllog_group_desc_free(
        wait_group(log, 5000, pred_owns, &oa, "x's restart owns x's share"));
    d = wait_group(log, 5000, pred_stable, &sa, "stable after the restart");
    assert_int_equal(owned_mask(d, (long)x2), xs);
    assert_int_equal(owned_mask(d, (long)y), ys);
    assert_int_equal(d->generation, gen);
    const crawllog_group_member_t *mx2 = member_by_pid(d, (long)x2);
    assert_non_null(mx2);
    assert_string_equal(mx2->instance_id, "x");
    assert_true(mx2->alive);
    crawllog_group_desc_free(d);

    /* Killed again and not restarted: they move after session.timeout. */
    int64_t t_kill2 = cl_test_mono_ms();
    assert_int_equal(kill(x2, SIGKILL), 0);
    cl_test_assert_killed_by(cl_test_kids_reap(x2, 5000), SIGKILL);
    struct own_arg all = {(long)y, (1u << SM_PARTS) - 1, 1};
    crawllog_group_desc_free(wait_group(log, SM_SESSION_MS + 3000, pred_owns,
                                        &all, "y owns everything"));
    int64_t t_moved = cl_test_mono_ms() - t_kill2;
    print_message("static membership: x seen away after %lld ms, its "
                  "partitions unowned through %ld checks, back to the "
                  "restart; after a second kill they moved after %lld ms "
                  "(session.timeout.ms %d)\n",
                  (long long)t_away, checks, (long long)t_moved, SM_SESSION_MS);
    assert_true(t_moved >= SM_SESSION_MS);
    assert_true(t_moved < SM_SESSION_MS + 1500);
    stop_members(&y, 1);

    /* Everything processed once; x2's own view: assigned exactly x's
     * partitions. */
    char files[3][4200];
    pid_t pids[3] = {x, y, x2};
    memcpy(files[0], cx.out, sizeof(files[0]));
    memcpy(files[1], cy.out, sizeof(files[1]));
    memcpy(files[2], cx2.out, sizeof(files[2]));
    struct out_check oc;
    memset(&oc, 0, sizeof(oc));
    oc.nparts = SM_PARTS;
    oc.per = 10;
    oc.victim = (long)x;
    check_outputs(files, pids, 3, &oc);
    assert_int_equal(oc.dups, 0);
    assert_int_equal(oc.processed, SM_PARTS * 10);
    assert_int_equal(oc.assigned[2], xs);
    cl_test_close_verify(log, dir);
}

/* ---------------------------------------------------------------------- */
/* 4. A live hand-off needs the commit in the revoke callback              */
/* ---------------------------------------------------------------------- */

#define HO_PARTS 4
#define HO_PER 2000

/* "Processed" lines in an output file (0 if it does not exist yet). */
static size_t count_processed(const char *path)
{
    if (!cl_test_exists(path)) {
        return 0;
    }
    size_t len = 0, n = 0;
    char *text = cl_test_read_file(path, &len);
    for (size_t i = 0; i < len; i++) {
        n +=
            (i == 0 || text[i - 1] == '\n') && text[i] >= '0' && text[i] <= '9';
    }
    free(text);
    return n;
}

static void test_group_handoff_commits_on_revoke(void **state)
{
    char dir[4200];
    crawllog_t *log = open_data(state, dir, sizeof(dir));
    cl_test_create_topic(log, TOPIC, HO_PARTS, NULL);
    struct child_cfg cfg[2];
    char files[2][4200];
    pid_t pids[2];
    for (int i = 0; i < 2; i++) {
        cfg_init(&cfg[i], state, dir, i == 0 ? "out-a" : "out-b");
        cfg[i].work_us = ACC_WORK_US;
        cfg[i].no_loop_commit = 1;
        memcpy(files[i], cfg[i].out, sizeof(files[i]));
    }
    pids[0] = cl_test_kids_spawn(child_member, &cfg[0]);
    struct stable_arg one = {1, HO_PARTS};
    crawllog_group_desc_free(
        wait_group(log, 10000, pred_stable, &one, "A owns everything"));
    produce(log, HO_PARTS, 0, HO_PER);
    /* B joins while A is busy: A revokes two partitions mid-way, and only
     * its commit in the callback tells B where to start. */
    int64_t deadline = cl_test_mono_ms() + 10000;
    while (count_processed(files[0]) < 500) {
        if (cl_test_mono_ms() > deadline) {
            fail_msg("A processed nothing in 10 s");
        }
        cl_test_kids_check_running();
        cl_test_sleep_ms(2);
    }
    pids[1] = cl_test_kids_spawn(child_member, &cfg[1]);
    struct stable_arg two = {2, HO_PARTS};
    crawllog_group_desc_free(
        wait_group(log, 10000, pred_stable, &two, "A and B own 2 each"));
    /* Nothing is committed outside the callbacks: stop both (close
     * revokes), then every partition must be committed to its end. */
    int64_t deadline2 = cl_test_mono_ms() + 20000;
    while (count_processed(files[0]) + count_processed(files[1]) <
           (size_t)HO_PARTS * HO_PER) {
        if (cl_test_mono_ms() > deadline2) {
            fail_msg("A and B did not process everything in 20 s");
        }
        cl_test_kids_check_running();
        cl_test_sleep_ms(5);
    }
    stop_members(pids, 2);
    crawllog_group_desc_t *d = describe(log);
    assert_int_equal(d->member_count, 0);
    for (size_t i = 0; i < d->partition_count; i++) {
        assert_int_equal(d->partitions[i].committed, HO_PER);
    }
    crawllog_group_desc_free(d);
    struct out_check oc;
    memset(&oc, 0, sizeof(oc));
    oc.nparts = HO_PARTS;
    oc.per = HO_PER;
    check_outputs(files, pids, 2, &oc);
    print_message("hand-off: %ld partitions revoked mid-way, %ld lines for "
                  "%d messages, %ld duplicates\n",
                  oc.live_revokes, oc.processed, HO_PARTS * HO_PER, oc.dups);
    assert_int_equal(oc.dups, 0);
    assert_int_equal(oc.processed, HO_PARTS * HO_PER);
    assert_true(oc.live_revokes >= 1);
    cl_test_close_verify(log, dir);
}

/* ---------------------------------------------------------------------- */

static int setup(void **state)
{
    cl_test_kids_kill_all(); /* nothing left from an earlier test */
    return cl_test_tmpdir_setup(state);
}

static int teardown(void **state)
{
    cl_test_kids_kill_all();
    return cl_test_tmpdir_teardown(state);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_group_kill9_partitions_move),
        T(test_group_stale_generation_after_stop),
        T(test_group_static_member_restart),
        T(test_group_handoff_commits_on_revoke),
    };
#undef T
    (void)cl_test_seed();
    if (getenv("CL_TEST_FILTER") != NULL) {
        cmocka_set_test_filter(getenv("CL_TEST_FILTER"));
    }
    return cmocka_run_group_tests_name("group_multiproc", tests, NULL, NULL);
}
