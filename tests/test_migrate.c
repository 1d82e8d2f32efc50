/*
 * test_migrate.c - topic migration, steps 1-3 of docs/MIGRATION.md
 * (migrate.c, migrate_file.c, append.c's redirect hook): 12 -> 3 and
 * 3 -> 12 partitions with keyed and keyless records (every record copied
 * exactly once with its key, value, headers and timestamp, keyed records
 * at murmur2(key) % N, keyless ones of old partition p at p % N, per-key
 * and per-keyless-partition order kept); the migration file as
 * crawllog_topic_migration() reports it; a crash (kill -9 through the
 * CRASH failpoint) at every k-th I/O operation of the copy and of the
 * cut-over, then a resume; appends after the cut-over (this handle, a
 * handle and a process that had the topic open before, producers of every
 * acks level) landing in the new topic; a producer thread appending
 * during the whole migration (every acknowledged record in the new topic
 * exactly once, per-key order kept); misuse.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sys/resource.h>

#include "helpers.h"
#include "io.h"
#include "metafile.h"
#include "migrate.h"

#define TS0 1700000000000LL
#define NKEYS 29
#define MAXREC 40000

/* What the test appended: record id i has value "v<i>". */
struct exp {
    int used;      /* acknowledged */
    int keyed;
    int space;     /* the writer (order is checked per writer) */
    int32_t oldp;  /* partition of <old> it was sent to; -1: unknown */
    char key[24];
};

struct world {
    struct exp *e;
    int n; /* ids in use: [0, n) */
};

static struct world *world_new(void)
{
    struct world *w = calloc(1, sizeof(*w));
    assert_non_null(w);
    w->e = calloc(MAXREC, sizeof(*w->e));
    assert_non_null(w->e);
    return w;
}

static void world_free(struct world *w)
{
    free(w->e);
    free(w);
}

/* One record's bytes (the crawllog_record_t points into it). */
struct rbuf {
    char key[24], val[24], hid[16];
    crawllog_header_t h[2];
    crawllog_record_t r;
};

/* Record id of writer space: keyed ids get key "k<space>-<id % NKEYS>". */
static void make_rec(struct rbuf *b, int id, int keyed, int space)
{
    snprintf(b->key, sizeof(b->key), "k%d-%d", space, id % NKEYS);
    snprintf(b->val, sizeof(b->val), "v%d", id);
    snprintf(b->hid, sizeof(b->hid), "%d", id);
    b->h[0] = (crawllog_header_t){"id", 2, b->hid, strlen(b->hid)};
    b->h[1] = (crawllog_header_t){"nul", 3, NULL, 0};
    b->r = (crawllog_record_t){keyed ? b->key : NULL,
                               keyed ? strlen(b->key) : 0, b->val,
                               strlen(b->val), TS0 + 3 * (int64_t)id, b->h,
                               2};
}

static void note(struct world *w, int id, int keyed, int space, int32_t oldp)
{
    struct exp *e = &w->e[id];
    e->used = 1;
    e->keyed = keyed;
    e->space = space;
    e->oldp = oldp;
    snprintf(e->key, sizeof(e->key), "k%d-%d", space, id % NKEYS);
    if (id >= w->n) {
        w->n = id + 1;
    }
}

/* Append ids [from, to) to topic (m partitions), every fourth keyless (to
 * partition id % m), keyed ones to their murmur2 partition, in batches of
 * up to 5 records of one partition. */
static void fill(crawllog_t *log, const char *topic, int32_t m,
                 struct world *w, int from, int to)
{
    for (int i = from; i < to;) {
        struct rbuf b[5];
        crawllog_record_t recs[5];
        int k = 0, keyed = i % 4 != 3;
        int32_t p = -1;
        while (k < 5 && i < to && (i % 4 != 3) == keyed) {
            make_rec(&b[k], i, keyed, 0);
            int32_t pi = keyed ? crawllog_partitioner_murmur2(
                                     NULL, b[k].key, strlen(b[k].key), m,
                                     NULL)
                               : i % m;
            if (p >= 0 && pi != p) {
                break;
            }
            p = pi;
            recs[k] = b[k].r;
            k++;
            note(w, i, keyed, 0, p);
            i++;
        }
        cl_test_check(crawllog_append(log, topic, p, recs, (size_t)k,
                                      CRAWLLOG_SYNC_WRITTEN, NULL) == 0);
    }
}

/* Every acknowledged record of w is in topic (n partitions) exactly once,
 * with its key, headers and timestamp, in the partition the rules give,
 * and per key (and per keyless old partition) in the order of the ids of
 * one writer.  Nothing else is there. */
static void check_new(crawllog_t *log, const char *topic, int32_t n,
                      const struct world *w)
{
    int64_t *off = calloc(MAXREC, sizeof(*off));
    int32_t *where = calloc(MAXREC, sizeof(*where));
    int64_t *last = calloc(64 * 1024, sizeof(*last));
    cl_test_check(off && where && last);
    for (int i = 0; i < MAXREC; i++) {
        where[i] = -1;
    }
    for (int32_t q = 0; q < n; q++) {
        crawllog_reader_t *rd;
        cl_test_check(crawllog_reader_new(&rd, log, topic, q) == 0);
        for (;;) {
            const crawllog_msg_t *m = NULL;
            cl_test_check(crawllog_reader_next(rd, &m) == 0);
            if (m == NULL) {
                break;
            }
            size_t vl, kl;
            const char *v = crawllog_msg_value(m, &vl);
            const char *k = crawllog_msg_key(m, &kl);
            char vbuf[32];
            cl_test_check(v != NULL && vl < sizeof(vbuf));
            memcpy(vbuf, v, vl);
            vbuf[vl] = '\0';
            int id = atoi(vbuf + 1);
            cl_test_checkf(id >= 0 && id < w->n && w->e[id].used,
                           "%s/%d: unexpected record %s", topic, (int)q,
                           vbuf);
            cl_test_checkf(where[id] < 0, "%s: v%d twice (%d@%" PRId64
                           " and %d@%" PRId64 ")",
                           topic, id, (int)where[id], off[id], (int)q,
                           crawllog_msg_offset(m));
            where[id] = q;
            off[id] = crawllog_msg_offset(m);
            const struct exp *e = &w->e[id];
            if (e->keyed) {
                cl_test_check(k != NULL && kl == strlen(e->key) &&
                              memcmp(k, e->key, kl) == 0);
                cl_test_checkf(q == crawllog_partitioner_murmur2(
                                        NULL, e->key, kl, n, NULL),
                               "v%d (key %s) in %d", id, e->key, (int)q);
            } else {
                cl_test_check(k == NULL);
                cl_test_checkf(e->oldp < 0 || q == e->oldp % n,
                               "keyless v%d of %d in %d", id, (int)e->oldp,
                               (int)q);
            }
            cl_test_check(crawllog_msg_timestamp(m) == TS0 + 3 * (int64_t)id);
            crawllog_header_t h;
            char hid[16];
            snprintf(hid, sizeof(hid), "%d", id);
            cl_test_check(crawllog_msg_header_count(m) == 2);
            cl_test_check(crawllog_msg_header(m, 0, &h) == 0 &&
                          h.name_len == 2 && !memcmp(h.name, "id", 2) &&
                          h.value_len == strlen(hid) &&
                          !memcmp(h.value, hid, h.value_len));
            cl_test_check(crawllog_msg_header(m, 1, &h) == 0 &&
                          h.name_len == 3 && h.value == NULL);
        }
        crawllog_reader_destroy(rd);
    }
    for (int i = 0; i < 64 * 1024; i++) {
        last[i] = -1;
    }
    for (int id = 0; id < w->n; id++) {
        const struct exp *e = &w->e[id];
        if (!e->used) {
            continue;
        }
        cl_test_checkf(where[id] >= 0, "%s: v%d is missing", topic, id);
        if (!e->keyed && e->oldp < 0) {
            continue; /* keyless, partition chosen by a producer */
        }
        int slot = e->space * 1024 + (e->keyed ? id % NKEYS : 512 + e->oldp);
        cl_test_checkf(off[id] > last[slot],
                       "%s: v%d at %" PRId64 " not after %" PRId64, topic, id,
                       off[id], last[slot]);
        last[slot] = off[id];
    }
    free(off);
    free(where);
    free(last);
}

static void verify_cb(void *opaque, const char *problem)
{
    /* verify.c does not know the migration file yet (see the report). */
    if (strstr(problem, "/migration: unexpected entry") == NULL) {
        fprintf(stderr, "verify: %s\n", problem);
        (*(int *)opaque)++;
    }
}

static void close_verify(crawllog_t *log, const char *dir)
{
    int bad = 0;
    size_t problems;
    char es[CRAWLLOG_ERRSTR_SIZE];
    assert_crawllog_ok(crawllog_close(log));
    int rc = crawllog_verify(dir, verify_cb, &bad, &problems, es, sizeof(es));
    cl_test_checkf(rc == 0 || rc == CRAWLLOG_ECORRUPT, "verify: %s",
                   crawllog_err_name(rc));
    cl_test_check(bad == 0);
}

static int64_t end_of(crawllog_t *log, const char *topic, int32_t p)
{
    int64_t end = -1;
    cl_test_check(crawllog_partition_offsets(log, topic, p, NULL, &end) == 0);
    return end;
}

struct prog {
    int calls, cutovers;
    crawllog_migrate_progress_t last;
};

static void prog_cb(void *opaque, const crawllog_migrate_progress_t *p)
{
    struct prog *g = opaque;
    g->calls++;
    g->cutovers += p->cutover;
    cl_test_check(p->copied <= p->total);
    g->last = *p;
}

/* Appends to <old> after its cut-over, ids [from, from + 60): through
 * crawllog_append (keyed ones sent to a wrong partition on purpose, and
 * a batch mixing keys) and a producer (acks=all, ANY). */
static void append_after(crawllog_t *log, int32_t m, struct world *w,
                         int from)
{
    int id = from;
    for (; id < from + 20; id++) {
        struct rbuf b;
        int keyed = id % 3 != 0;
        int32_t p = (id * 7) % m;
        int64_t off = -1;
        make_rec(&b, id, keyed, 0);
        assert_crawllog_ok_log(log, crawllog_append(log, "old", p, &b.r, 1,
                                                    CRAWLLOG_SYNC_DURABLE,
                                                    &off));
        assert_true(off >= 0);
        note(w, id, keyed, 0, p);
    }
    struct rbuf bb[6];
    crawllog_record_t recs[6];
    for (int k = 0; k < 6; k++, id++) {
        make_rec(&bb[k], id, k != 2, 0);
        recs[k] = bb[k].r;
        note(w, id, k != 2, 0, 1);
    }
    assert_crawllog_ok_log(log, crawllog_append(log, "old", 1, recs, 6,
                                                CRAWLLOG_SYNC_WRITTEN, NULL));
    crawllog_producer_t *prod;
    char es[CRAWLLOG_ERRSTR_SIZE];
    assert_crawllog_ok(crawllog_producer_new(log, NULL, &prod, es,
                                             sizeof(es)));
    for (; id < from + 60; id++) {
        struct rbuf b;
        int keyed = id % 5 != 0;
        int64_t off = -1;
        make_rec(&b, id, keyed, 0);
        assert_crawllog_ok(crawllog_producer_send_record(
            prod, "old", CRAWLLOG_PARTITION_ANY, &b.r, &off));
        assert_true(off >= 0);
        note(w, id, keyed, 0, -1);
    }
    assert_crawllog_ok(crawllog_producer_destroy(prod));
}

static void put_to(crawllog_t *log, const char *topic)
{
    crawllog_record_t r = {NULL, 0, "x", 1, -1, NULL, 0};
    assert_crawllog_ok(crawllog_append(log, topic, 1, &r, 1,
                                       CRAWLLOG_SYNC_WRITTEN, NULL));
}

static void migrate_and_check(void **state, int32_t m, int32_t n, int nrec)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = cl_test_open(dir, NULL);
    struct world *w = world_new();
    cl_test_create_topic(log, "old", m, NULL);
    fill(log, "old", m, w, 0, nrec);
    int64_t ends[16];
    for (int32_t p = 0; p < m; p++) {
        ends[p] = end_of(log, "old", p);
    }
    crawllog_migration_t *info;
    assert_crawllog_ok(crawllog_topic_migration(log, "old", &info));
    assert_int_equal(info->state, CRAWLLOG_MIGRATION_NONE);
    assert_null(info->target);
    crawllog_migration_free(info);

    struct prog g = {0, 0, {0, 0, 0, 0, 0}};
    assert_crawllog_ok_log(log,
                           crawllog_topic_migrate(log, "old", "new", n,
                                                  prog_cb, &g));
    assert_true(g.calls >= 2);
    assert_true(g.cutovers >= 1);
    assert_int_equal(g.last.state, CRAWLLOG_MIGRATION_REDIRECT);
    assert_int_equal(g.last.copied, nrec);

    assert_crawllog_ok(crawllog_topic_migration(log, "old", &info));
    /* No consumer group has offsets on <old>: done at once (step 5). */
    assert_int_equal(info->state, CRAWLLOG_MIGRATION_DONE);
    assert_string_equal(info->target, "new");
    assert_int_equal(info->partitions, n);
    assert_int_equal(info->old_partitions, m);
    assert_int_equal(info->records_copied, nrec);
    int64_t sum = 0;
    for (int32_t p = 0; p < m; p++) {
        assert_int_equal(info->cut[p], ends[p]);
        assert_int_equal(info->copied[p], ends[p]);
    }
    for (int32_t q = 0; q < n; q++) {
        assert_int_equal(info->start[q], end_of(log, "new", q));
        sum += info->start[q];
    }
    assert_int_equal(sum, nrec);
    crawllog_migration_free(info);
    int32_t parts = 0;
    assert_crawllog_ok(crawllog_topic_describe(log, "new", &parts, NULL));
    assert_int_equal(parts, n);
    check_new(log, "new", n, w);

    /* A second call: nothing more to do. */
    assert_crawllog_ok(crawllog_topic_migrate(log, "old", "new", n, NULL,
                                              NULL));
    append_after(log, m, w, nrec);
    for (int32_t p = 0; p < m; p++) {
        assert_int_equal(end_of(log, "old", p), ends[p]);
    }
    check_new(log, "new", n, w);
    close_verify(log, dir);

    /* Reopened: the redirect comes from the file now. */
    log = cl_test_open(dir, NULL);
    append_after(log, m, w, nrec + 100);
    for (int32_t p = 0; p < m; p++) {
        assert_int_equal(end_of(log, "old", p), ends[p]);
    }
    check_new(log, "new", n, w);
    close_verify(log, dir);
    world_free(w);
}

static void test_migrate_12_to_3(void **state)
{
    migrate_and_check(state, 12, 3, 3000);
}

static void test_migrate_3_to_12(void **state)
{
    migrate_and_check(state, 3, 12, 3000);
}

/* ---- redirect of handles and processes that opened <old> before -------- */

static int32_t key_part(const char *key, int32_t m)
{
    return crawllog_partitioner_murmur2(NULL, key, strlen(key), m, NULL);
}

/* Append id to topic: keyed ones to their partition of m, keyless ones to
 * id % m; sync as given.  Returns the partition. */
static int32_t put(crawllog_t *log, int id, int keyed, int space, int32_t m,
                   int sync)
{
    struct rbuf b;
    make_rec(&b, id, keyed, space);
    int32_t p = keyed ? key_part(b.key, m) : id % m;
    int rc = crawllog_append(log, "old", p, &b.r, 1, sync, NULL);
    cl_test_checkf(rc == 0, "append v%d: %s: %s", id, crawllog_err_name(rc),
                   crawllog_errmsg(log));
    return p;
}

struct child_arg {
    const char *dir;
    int to_child[2], from_child[2];
};

/* A process with <old> open (and buffered data) before the cut-over. */
static void open_before_child(void *arg)
{
    struct child_arg *a = arg;
    crawllog_t *log = NULL;
    crawllog_producer_t *p0, *p1;
    char c = 'x', es[CRAWLLOG_ERRSTR_SIZE];
    cl_test_check(crawllog_open(&log, a->dir, NULL, es, sizeof(es)) == 0);
    crawllog_conf_t *conf = cl_test_conf("acks", "0", "linger.ms", "3600000",
                                         NULL);
    cl_test_check(crawllog_producer_new(log, conf, &p0, es, sizeof(es)) == 0);
    crawllog_conf_destroy(conf);
    conf = cl_test_conf("acks", "1", NULL);
    cl_test_check(crawllog_producer_new(log, conf, &p1, es, sizeof(es)) == 0);
    crawllog_conf_destroy(conf);
    put(log, 201, 1, 0, 4, CRAWLLOG_SYNC_WRITTEN);
    put(log, 203, 0, 0, 4, CRAWLLOG_SYNC_NONE); /* buffered in <old> 3 */
    struct rbuf b;
    make_rec(&b, 202, 1, 1);                    /* buffered in p0 */
    cl_test_check(crawllog_producer_send_record(p0, "old", -1, &b.r, NULL) ==
                  0);
    cl_test_check(write(a->from_child[1], &c, 1) == 1);
    cl_test_check(read(a->to_child[0], &c, 1) == 1); /* cut over now */
    for (int id = 210; id < 230; id++) {
        put(log, id, id % 4 != 0, 0, 4, CRAWLLOG_SYNC_WRITTEN);
    }
    for (int id = 230; id < 240; id++) {
        int64_t off = -1;
        make_rec(&b, id, 1, 0);
        cl_test_check(crawllog_producer_send_record(p1, "old", -1, &b.r,
                                                    &off) == 0 &&
                      off >= 0);
    }
    cl_test_check(crawllog_producer_destroy(p0) == 0); /* writes 202 */
    cl_test_check(crawllog_producer_destroy(p1) == 0);
    cl_test_check(crawllog_close(log) == 0);           /* writes 203 */
}

static void test_redirect_open_before(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = cl_test_open(dir, NULL);
    struct world *w = world_new();
    struct child_arg a;
    char c = 'x';
    int64_t ends[4];
    cl_test_create_topic(log, "old", 4, NULL);
    fill(log, "old", 4, w, 0, 200);
    /* Another handle of this process, the topic loaded before. */
    crawllog_t *log2 = cl_test_open(dir, NULL);
    note(w, 200, 0, 0, put(log2, 200, 0, 0, 4, CRAWLLOG_SYNC_WRITTEN));
    assert_int_equal(pipe(a.to_child), 0);
    assert_int_equal(pipe(a.from_child), 0);
    a.dir = dir;
    pid_t pid = cl_test_fork_start(open_before_child, &a);
    assert_int_equal(read(a.from_child[0], &c, 1), 1);
    assert_crawllog_ok_log(log, crawllog_topic_migrate(log, "old", "new", 3,
                                                       NULL, NULL));
    for (int32_t p = 0; p < 4; p++) {
        ends[p] = end_of(log, "old", p);
    }
    assert_int_equal(write(a.to_child[1], &c, 1), 1);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    cl_test_assert_exit_ok(status);
    close(a.to_child[0]);
    close(a.to_child[1]);
    close(a.from_child[0]);
    close(a.from_child[1]);
    note(w, 201, 1, 0, 0);
    note(w, 202, 1, 1, -1);
    note(w, 203, 0, 0, 203 % 4);
    for (int id = 210; id < 230; id++) {
        note(w, id, id % 4 != 0, 0, id % 4);
    }
    for (int id = 230; id < 240; id++) {
        note(w, id, 1, 0, -1);
    }
    for (int id = 240; id < 260; id++) {
        note(w, id, id % 3 != 0, 0,
             put(log2, id, id % 3 != 0, 0, 4, CRAWLLOG_SYNC_DURABLE));
    }
    for (int32_t p = 0; p < 4; p++) {
        assert_int_equal(end_of(log, "old", p), ends[p]);
        assert_int_equal(end_of(log2, "old", p), ends[p]);
    }
    check_new(log, "new", 3, w);
    assert_crawllog_ok(crawllog_close(log2));
    close_verify(log, dir);
    world_free(w);
}

/* ---- a producer appending during the whole migration -------------------- */

struct sender {
    crawllog_t *log;
    struct world *w;
    int32_t m;
    atomic_int sent; /* acknowledged */
    atomic_int stop;
};

static void *sender_main(void *arg)
{
    struct sender *s = arg;
    crawllog_producer_t *prod;
    char es[CRAWLLOG_ERRSTR_SIZE];
    crawllog_conf_t *conf = cl_test_conf("acks", "all", NULL);
    int rc = crawllog_producer_new(s->log, conf, &prod, es, sizeof(es));
    crawllog_conf_destroy(conf);
    cl_test_thread_check(rc == 0, "producer_new: %s", es);
    for (int id = 10000; id < MAXREC && !atomic_load(&s->stop); id++) {
        struct rbuf b;
        int keyed = id % 5 != 0;
        int32_t p = keyed ? CRAWLLOG_PARTITION_ANY : id % s->m;
        int64_t off = -1;
        make_rec(&b, id, keyed, 2);
        rc = crawllog_producer_send_record(prod, "old", p, &b.r, &off);
        cl_test_thread_check(rc == 0 && off >= 0, "send v%d: %s: %s", id,
                             crawllog_err_name(rc),
                             crawllog_producer_errmsg(prod));
        note(s->w, id, keyed, 2, keyed ? key_part(b.key, s->m) : p);
        atomic_fetch_add(&s->sent, 1);
    }
    crawllog_producer_destroy(prod);
    return NULL;
}

static void wait_sent(struct sender *s, int n)
{
    for (int i = 0; i < 30000 && atomic_load(&s->sent) < n; i++) {
        cl_test_sleep_ms(1);
    }
    assert_true(atomic_load(&s->sent) >= n);
}

static void test_concurrent_producer(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = cl_test_open(dir, NULL);
    struct world *w = world_new();
    cl_test_create_topic(log, "old", 6, NULL);
    fill(log, "old", 6, w, 0, 4000);
    /* The sender's handle had <old> open before the cut-over. */
    struct sender s = {cl_test_open(dir, NULL), w, 6, 0, 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, sender_main, &s), 0);
    wait_sent(&s, 100);
    struct prog g = {0, 0, {0, 0, 0, 0, 0}};
    assert_crawllog_ok_log(log, crawllog_topic_migrate(log, "old", "new", 4,
                                                       prog_cb, &g));
    int at_cut = atomic_load(&s.sent);
    wait_sent(&s, at_cut + 200);
    atomic_store(&s.stop, 1);
    assert_int_equal(pthread_join(th, NULL), 0);
    print_message("concurrent producer: %d sent, %d before the migration "
                  "returned; %lld copied; %llu takes of crawllog.lock by the "
                  "cut-over and waiting appends\n",
                  atomic_load(&s.sent), at_cut, (long long)g.last.copied,
                  (unsigned long long)cl_fp_hits("migrate.lock"));
    crawllog_migration_t *info;
    assert_crawllog_ok(crawllog_topic_migration(log, "old", &info));
    for (int32_t p = 0; p < 6; p++) {
        assert_int_equal(end_of(log, "old", p), info->cut[p]);
    }
    assert_int_equal(info->records_copied, g.last.copied);
    assert_true(info->records_copied >= 4000 + 100);
    crawllog_migration_free(info);
    check_new(log, "new", 4, w);
    assert_crawllog_ok(crawllog_close(s.log));
    close_verify(log, dir);
    world_free(w);
}

/* ---- misuse and damage -------------------------------------------------- */

static void test_misuse(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = cl_test_open(dir, NULL);
    struct world *w = world_new();
    crawllog_migration_t *info = NULL;
    cl_test_create_topic(log, "old", 2, NULL);
    fill(log, "old", 2, w, 0, 10);
    assert_crawllog_rc(crawllog_topic_migrate(NULL, "old", "n", 2, NULL,
                                              NULL),
                       CRAWLLOG_EINVAL);
    assert_crawllog_rc(crawllog_topic_migrate(log, "old", "old", 2, NULL,
                                              NULL),
                       CRAWLLOG_EINVAL);
    assert_crawllog_rc(crawllog_topic_migrate(log, "old", "a/b", 2, NULL,
                                              NULL),
                       CRAWLLOG_EINVAL);
    assert_crawllog_rc(crawllog_topic_migrate(log, "old", "n", 0, NULL, NULL),
                       CRAWLLOG_EINVAL);
    assert_crawllog_rc(crawllog_topic_migrate(log, "nope", "n", 2, NULL,
                                              NULL),
                       CRAWLLOG_ENOTOPIC);
    assert_crawllog_rc(crawllog_topic_migration(log, "nope", &info),
                       CRAWLLOG_ENOTOPIC);
    assert_null(info);
    /* A target that exists with data, or another count: refused, and
     * nothing was started. */
    cl_test_create_topic(log, "full", 3, NULL);
    put_to(log, "full");
    assert_crawllog_rc(crawllog_topic_migrate(log, "old", "full", 3, NULL,
                                              NULL),
                       CRAWLLOG_EEXIST);
    cl_test_create_topic(log, "empty", 3, NULL);
    assert_crawllog_rc(crawllog_topic_migrate(log, "old", "empty", 4, NULL,
                                              NULL),
                       CRAWLLOG_EEXIST);
    assert_crawllog_ok(crawllog_topic_migration(log, "old", &info));
    assert_int_equal(info->state, CRAWLLOG_MIGRATION_NONE);
    crawllog_migration_free(info);
    /* An empty target of the right count (a crash after step 1's create)
     * is taken. */
    assert_crawllog_ok_log(log, crawllog_topic_migrate(log, "old", "empty",
                                                       3, NULL, NULL));
    check_new(log, "empty", 3, w);
    /* Once migrated, another target or count is refused. */
    assert_crawllog_rc(crawllog_topic_migrate(log, "old", "other", 3, NULL,
                                              NULL),
                       CRAWLLOG_EEXIST);
    assert_crawllog_rc(crawllog_topic_migrate(log, "old", "empty", 2, NULL,
                                              NULL),
                       CRAWLLOG_EEXIST);
    assert_true(strstr(crawllog_errmsg(log), "empty") != NULL);

    /* A damaged migration file: reported, never ignored (like a damaged
     * topic.meta, it stops the open, which loads every topic). */
    char path[4200], es[CRAWLLOG_ERRSTR_SIZE];
    cl_test_path(path, sizeof(path), dir, "topics/old/migration");
    cl_test_flip_byte(path, 30, 0x01);
    assert_crawllog_rc(crawllog_topic_migration(log, "old", &info),
                       CRAWLLOG_ECORRUPT);
    assert_true(strstr(crawllog_errmsg(log), "topics/old/migration") != NULL);
    assert_crawllog_ok(crawllog_close(log));
    log = NULL;
    assert_crawllog_rc(crawllog_open(&log, dir, NULL, es, sizeof(es)),
                       CRAWLLOG_ECORRUPT);
    assert_null(log);
    assert_true(strstr(es, "topics/old/migration") != NULL);
    cl_test_flip_byte(path, 30, 0x01);
    log = cl_test_open(dir, NULL);
    close_verify(log, dir);
    world_free(w);
}

/* A tiny migration file claiming 10000 x 10000 partitions is refused
 * before its 800 MB counts table is allocated (found by fuzz_state): in a
 * child whose address space is capped at 512 MiB (not under sanitizers,
 * which reserve more), the read must be ECORRUPT, not ENOMEM. */
static void bogus_migration_child(void *arg)
{
    const char *dir = arg;
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
    struct rlimit rl = {512u << 20, 512u << 20};
    cl_test_check(setrlimit(RLIMIT_AS, &rl) == 0);
#endif
    struct cl_err err = {{0}};
    struct cl_mig m;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    cl_test_check(dfd >= 0);
    int rc = cl_migrate_file_read(dfd, "migration", &m, &err);
    cl_test_checkf(rc == CRAWLLOG_ECORRUPT, "read: %s (%s)",
                   crawllog_err_name(rc), err.msg);
    close(dfd);
}

static void test_migration_file_bounds(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    struct cl_err err = {{0}};
    cl_test_check(mkdir(dir, 0700) == 0 || errno == EEXIST);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    assert_true(dfd >= 0);
    assert_crawllog_ok(cl_metafile_write(
        dfd, CL_MIGRATE_NAME, "migration", CL_MIGRATE_KIND,
        "target=new\npartitions=10000\nold.partitions=10000\n"
        "state=copying\ncopied.0=0\n",
        0600, &err));
    close(dfd);
    cl_test_assert_exit_ok(cl_test_fork_run(bogus_migration_child,
                                            (void *)dir));
}

/* partition.state is a cache: a damaged migration word (offset 392, FORMAT.md
 * section 6) is settled from the migration file, never trusted. */
static void poke_word(const char *dir, const char *topic, int32_t p,
                      uint32_t v)
{
    char rel[128], path[4200];
    snprintf(rel, sizeof(rel), "topics/%s/%d/partition.state", topic, (int)p);
    cl_test_path(path, sizeof(path), dir, rel);
    int fd = open(path, O_RDWR);
    cl_test_check(fd >= 0 && pwrite(fd, &v, 4, 392) == 4 && close(fd) == 0);
}

static uint32_t peek_word(const char *dir, const char *topic, int32_t p)
{
    char rel[128], path[4200];
    uint32_t v = 0;
    snprintf(rel, sizeof(rel), "topics/%s/%d/partition.state", topic, (int)p);
    cl_test_path(path, sizeof(path), dir, rel);
    int fd = open(path, O_RDONLY);
    cl_test_check(fd >= 0 && pread(fd, &v, 4, 392) == 4 && close(fd) == 0);
    return v;
}

static void test_damaged_word(void **state)
{
    const char *dir = CL_TEST_DIR(state);
    crawllog_t *log = cl_test_open(dir, NULL);
    struct world *w = world_new();
    cl_test_create_topic(log, "plain", 2, NULL);
    cl_test_create_topic(log, "old", 2, NULL);
    fill(log, "old", 2, w, 0, 20);
    put_to(log, "plain");
    assert_crawllog_ok(crawllog_topic_migrate(log, "old", "new", 3, NULL,
                                              NULL));
    assert_int_equal(peek_word(dir, "plain", 1), 0);
    assert_int_equal(peek_word(dir, "old", 0), 2);
    assert_int_equal(peek_word(dir, "old", 1), 2);
    /* Garbage (and a fence nobody holds) on a topic never migrated: the
     * append lands where it was sent, the word is cleared. */
    poke_word(dir, "plain", 1, 0xdeadbeefu);
    put_to(log, "plain");
    assert_int_equal(end_of(log, "plain", 1), 2);
    assert_int_equal(peek_word(dir, "plain", 1), 0);
    poke_word(dir, "plain", 1, 1);
    put_to(log, "plain");
    assert_int_equal(end_of(log, "plain", 1), 3);
    assert_int_equal(peek_word(dir, "plain", 1), 0);
    /* Garbage on the migrated topic: still redirected, the word repaired. */
    int64_t end0 = end_of(log, "old", 0);
    poke_word(dir, "old", 0, 0x1234u);
    note(w, 100, 0, 0, put(log, 100, 0, 0, 2, CRAWLLOG_SYNC_WRITTEN));
    assert_int_equal(end_of(log, "old", 0), end0);
    assert_int_equal(peek_word(dir, "old", 0), 2);
    /* A mark lost (partition.state is not durable): whoever loads the
     * topic sets it again. */
    assert_crawllog_ok(crawllog_close(log));
    poke_word(dir, "old", 1, 0);
    log = cl_test_open(dir, NULL);
    assert_int_equal(peek_word(dir, "old", 1), 2);
    note(w, 101, 1, 0, put(log, 101, 1, 0, 2, CRAWLLOG_SYNC_WRITTEN));
    check_new(log, "new", 3, w);
    close_verify(log, dir);
    world_free(w);
}

/* ---- crash at every I/O operation, then resume -------------------------- */

/* Note every record of topic (m partitions) in w, as appended: the truth
 * of what was acknowledged before the cut-over. */
static void world_from_old(crawllog_t *log, const char *topic, int32_t m,
                           struct world *w)
{
    for (int32_t p = 0; p < m; p++) {
        crawllog_reader_t *rd;
        cl_test_check(crawllog_reader_new(&rd, log, topic, p) == 0);
        for (;;) {
            const crawllog_msg_t *msg = NULL;
            size_t vl, kl;
            char buf[32];
            cl_test_check(crawllog_reader_next(rd, &msg) == 0);
            if (msg == NULL) {
                break;
            }
            const char *v = crawllog_msg_value(msg, &vl);
            const char *k = crawllog_msg_key(msg, &kl);
            cl_test_check(v != NULL && vl < sizeof(buf) && vl > 1);
            memcpy(buf, v, vl);
            buf[vl] = '\0';
            int id = atoi(buf + 1);
            cl_test_check(id >= 0 && id < MAXREC && !w->e[id].used);
            note(w, id, k != NULL, k != NULL ? k[1] - '0' : 0, p);
        }
        crawllog_reader_destroy(rd);
    }
}

struct crash_arg {
    const char *dir;
    char spec[64];
    int32_t m, n;
    crawllog_t *log;
    int extra; /* records appended by the progress callback so far */
};

/* While the last old partition is copied, append to the first ones (a tail
 * for the cut-over to copy). */
static void crash_prog(void *opaque, const crawllog_migrate_progress_t *p)
{
    struct crash_arg *a = opaque;
    if (p->cutover || p->partition != a->m - 1 || a->extra >= 6) {
        return;
    }
    for (int i = 0; i < 3; i++, a->extra++) {
        struct rbuf b;
        int id = 500 + a->extra;
        make_rec(&b, id, i != 1, 0);
        cl_test_check(crawllog_append(a->log, "old", (int32_t)(id % (a->m - 1)),
                                      &b.r, 1, CRAWLLOG_SYNC_WRITTEN,
                                      NULL) == 0);
    }
}

static void crash_child(void *arg)
{
    struct crash_arg *a = arg;
    a->log = NULL;
    cl_test_check(crawllog_open(&a->log, a->dir, NULL, NULL, 0) == 0);
    cl_test_check(cl_fp_set(a->spec) == 0);
    int rc = crawllog_topic_migrate(a->log, "old", "new", a->n, crash_prog,
                                    a);
    cl_fp_clear();
    cl_test_checkf(rc == 0, "migrate: %s: %s", crawllog_err_name(rc),
                   crawllog_errmsg(a->log));
    crawllog_close(a->log);
}

/* Crash the migration m -> n at its k-th I/O operation (allocations
 * included), for every k; then, in the parent, append to <old> (which
 * lifts a fence a dead cut-over left) and migrate again: every record
 * <old> holds and every one appended since is in <new> exactly once. */
static void crash_sweep(void **state, int32_t m, int32_t n, int nrec)
{
    int crashed = 0, finished = 0;
    char seed[4200];
    cl_test_path(seed, sizeof(seed), CL_TEST_DIR(state), "seed");
    crawllog_t *log = cl_test_open(seed, NULL);
    struct world *w = world_new();
    cl_test_create_topic(log, "old", m, NULL);
    fill(log, "old", m, w, 0, nrec);
    assert_crawllog_ok(crawllog_close(log));
    for (int k = 1; k < 5000 && !finished; k++) {
        char dir[4200], sub[32];
        snprintf(sub, sizeof(sub), "k%d", k);
        cl_test_path(dir, sizeof(dir), CL_TEST_DIR(state), sub);
        cl_test_copy_tree(seed, dir);

        struct crash_arg a = {dir, "", m, n, NULL, 0};
        snprintf(a.spec, sizeof(a.spec), "*=CRASH@%d", k);
        int status = cl_test_fork_run(crash_child, &a);
        if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
            crashed++;
        } else {
            cl_test_assert_exit_ok(status);
            finished = 1;
        }
        log = cl_test_open(dir, NULL);
        memset(w->e, 0, MAXREC * sizeof(*w->e));
        w->n = 0;
        world_from_old(log, "old", m, w);
        struct rbuf b[2];
        for (int i = 0; i < 2; i++) {
            make_rec(&b[i], 900 + i, i, 0);
            int32_t p = i == 0 ? 1
                               : crawllog_partitioner_murmur2(
                                     NULL, b[i].key, strlen(b[i].key), m,
                                     NULL);
            assert_crawllog_ok_log(log, crawllog_append(log, "old", p,
                                                        &b[i].r, 1,
                                                        CRAWLLOG_SYNC_WRITTEN,
                                                        NULL));
            note(w, 900 + i, i, 0, p);
        }
        assert_crawllog_ok_log(log, crawllog_topic_migrate(log, "old", "new",
                                                           n, NULL, NULL));
        crawllog_migration_t *info;
        assert_crawllog_ok(crawllog_topic_migration(log, "old", &info));
        assert_int_equal(info->state, CRAWLLOG_MIGRATION_DONE);
        crawllog_migration_free(info);
        struct rbuf c;
        make_rec(&c, 950, 1, 0);
        assert_crawllog_ok(crawllog_append(log, "old", 0, &c.r, 1,
                                           CRAWLLOG_SYNC_WRITTEN, NULL));
        note(w, 950, 1, 0, 0);
        check_new(log, "new", n, w);
        close_verify(log, dir);
        cl_test_rmrf(dir);
    }
    world_free(w);
    print_message("migrate %d -> %d crash sweep: %d crash points, then "
                  "completed\n",
                  (int)m, (int)n, crashed);
    assert_true(finished);
    assert_true(crashed >= 100);
}

/* The sweeps run thousands of fsyncs: on tmpfs when there is one. */
static int sweep_setup(void **state)
{
    cl_fp_clear();
    return cl_test_fast_tmpdir_setup(state);
}

static void test_crash_sweep_down(void **state)
{
    crash_sweep(state, 3, 2, 24);
}

static void test_crash_sweep_up(void **state)
{
    crash_sweep(state, 2, 3, 16);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cl_test_unit_tmpdir(test_migrate_12_to_3),
        cl_test_unit_tmpdir(test_migrate_3_to_12),
        cl_test_unit_tmpdir(test_redirect_open_before),
        cl_test_unit_fp(test_concurrent_producer),
        cl_test_unit_tmpdir(test_misuse),
        cl_test_unit_tmpdir(test_migration_file_bounds),
        cl_test_unit_tmpdir(test_damaged_word),
        cmocka_unit_test_setup_teardown(test_crash_sweep_down, sweep_setup,
                                        cl_test_fp_teardown),
        cmocka_unit_test_setup_teardown(test_crash_sweep_up, sweep_setup,
                                        cl_test_fp_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
