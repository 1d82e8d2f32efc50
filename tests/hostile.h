/*
 * hostile.h - helpers shared by test_hostile.c (hostile names) and
 * test_hostile_fs.c (links, modes, the swap race): T10 of reliability.md
 * 4.11.  Header-only (static inline), included by those two programs.
 */
#ifndef CL_TEST_HOSTILE_H
#define CL_TEST_HOSTILE_H

#include "helpers.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define HOSTILE_TEST(f)                                                        \
    cmocka_unit_test_setup_teardown(f, cl_test_fast_tmpdir_setup,              \
                                    cl_test_tmpdir_teardown)

/* ---------------------------------------------------------------------- */
/* Helpers                                                                 */
/* ---------------------------------------------------------------------- */

/* Size, mtime and FNV-1a 64 of a regular file's content (ignoring its
 * link count: a file whose other name is removed is unchanged). */
struct sig {
    off_t size;
    struct timespec mtime;
    uint64_t hash;
};

static inline struct sig file_sig(const char *path)
{
    struct sig s;
    struct stat st;
    size_t len;
    cl_test_checkf(lstat(path, &st) == 0, "%s: %s", path, strerror(errno));
    unsigned char *b = cl_test_read_file(path, &len);
    s.size = st.st_size;
    s.mtime = st.st_mtim;
    s.hash = 0xcbf29ce484222325u;
    for (size_t i = 0; i < len; i++) {
        s.hash = (s.hash ^ b[i]) * 0x100000001b3u;
    }
    free(b);
    return s;
}

static inline int sig_equal(struct sig a, struct sig b)
{
    return a.size == b.size && a.hash == b.hash &&
           a.mtime.tv_sec == b.mtime.tv_sec &&
           a.mtime.tv_nsec == b.mtime.tv_nsec;
}

struct dirs {
    char data[4096];
    char outside[4096];
};

static inline void dirs_init(void **state, struct dirs *d)
{
    cl_test_path(d->data, sizeof(d->data), CL_TEST_DIR(state), "data");
    cl_test_path(d->outside, sizeof(d->outside), CL_TEST_DIR(state), "outside");
}

static inline crawllog_record_t rec(const char *v)
{
    crawllog_record_t r;
    memset(&r, 0, sizeof(r));
    r.value = v;
    r.value_len = strlen(v);
    r.timestamp = -1;
    return r;
}

static inline crawllog_consumer_t *consumer(crawllog_t *log, const char *group)
{
    crawllog_conf_t *conf =
        cl_test_conf("group.id", group, "auto.offset.reset", "earliest",
                     "heartbeat.interval.ms", "10", NULL);
    crawllog_consumer_t *c = NULL;
    char es[CRAWLLOG_ERRSTR_SIZE] = "";
    int rc = crawllog_consumer_new(log, conf, &c, es, sizeof(es));
    crawllog_conf_destroy(conf);
    cl_test_checkf(rc == 0, "consumer_new %s: %s", crawllog_err_name(rc), es);
    return c;
}

/* A producer with producer.id id ("" none) and acks; rc out. */
static inline crawllog_producer_t *producer_rc(crawllog_t *log, const char *id,
                                               const char *acks, int *rcp)
{
    crawllog_conf_t *conf = cl_test_conf("acks", acks, NULL);
    crawllog_producer_t *p = NULL;
    char es[CRAWLLOG_ERRSTR_SIZE] = "";
    int rc = crawllog_conf_set(conf, "producer.id", id, es, sizeof(es));
    if (rc == 0) {
        rc = crawllog_producer_new(log, conf, &p, es, sizeof(es));
    }
    crawllog_conf_destroy(conf);
    *rcp = rc;
    return p;
}

static inline crawllog_producer_t *producer(crawllog_t *log, const char *id,
                                            const char *acks)
{
    int rc;
    crawllog_producer_t *p = producer_rc(log, id, acks, &rc);
    cl_test_checkf(rc == 0, "producer_new %s: %s", id, crawllog_err_name(rc));
    return p;
}

/* The committed offset of group/topic/0 as crawllog_group_describe shows
 * it (-1 none); rc of describe in *rcp. */
static inline int64_t described_offset(crawllog_t *log, const char *group,
                                       const char *topic, int *rcp)
{
    crawllog_group_desc_t *desc = NULL;
    int64_t off = -1;
    *rcp = crawllog_group_describe(log, group, &desc);
    for (size_t i = 0; *rcp == 0 && i < desc->partition_count; i++) {
        if (strcmp(desc->partitions[i].topic, topic) == 0 &&
            desc->partitions[i].partition == 0) {
            off = desc->partitions[i].committed;
        }
    }
    crawllog_group_desc_free(desc);
    return off;
}

static inline void set_offset(crawllog_t *log, const char *group,
                              const char *topic, int64_t off)
{
    crawllog_topic_partition_t tp = {topic, 0, off, NULL};
    assert_crawllog_ok_log(log, crawllog_group_set_offsets(log, group, &tp, 1));
}

/* data/: topic "t" (2 partitions, 6 records in 0), group "g" committed at
 * 4 on t/0 by a member (offsets, group.state, lag.history), producer
 * "pp" (producers/pp); trash/ and staging/ exist. */
static inline void populate_log(crawllog_t *log)
{
    cl_test_create_topic(log, "t", 2, NULL);
    cl_test_create_topic(log, "gone", 1, NULL);
    assert_crawllog_ok(crawllog_topic_delete(log, "gone"));
    crawllog_producer_t *p = producer(log, "pp", "1");
    for (int i = 0; i < 6; i++) {
        assert_crawllog_ok(
            crawllog_producer_send(p, "t", 0, NULL, 0, "v", 1, NULL, 0, NULL));
    }
    crawllog_producer_destroy(p);
    crawllog_consumer_t *c = consumer(log, "g");
    const char *topics[] = {"t"};
    assert_crawllog_ok(crawllog_consumer_subscribe(c, topics, 1));
    const crawllog_msg_t *msgs[8];
    size_t n = 0, got = 0;
    for (int i = 0; i < 100 && got < 6; i++) {
        assert_crawllog_ok(crawllog_consumer_poll(c, 20, msgs, 8, &n));
        got += n;
    }
    cl_test_check(got == 6);
    crawllog_topic_partition_t tp = {"t", 0, 4, NULL};
    assert_crawllog_ok(
        crawllog_consumer_commit_offsets(c, &tp, 1, CRAWLLOG_SYNC_DURABLE));
    crawllog_consumer_destroy(c);
}

static inline void populate(const char *dir)
{
    crawllog_t *log = cl_test_open(dir, NULL);
    populate_log(log);
    assert_crawllog_ok(crawllog_close(log));
}

static inline char *name_of(char *buf, size_t n, char c)
{
    memset(buf, c, n);
    buf[n] = '\0';
    return buf;
}

/* Dead-letter the first message of topic/0 through a consumer of group
 * "dg" with dead.letter.topic dlt ("" default); returns the code. */
static inline int dead_letter_first(crawllog_t *log, const char *topic,
                                    const char *dlt)
{
    crawllog_consumer_t *c = NULL;
    crawllog_conf_t *conf =
        cl_test_conf("group.id", "dg", "dead.letter.topic", dlt, NULL);
    char es[CRAWLLOG_ERRSTR_SIZE] = "";
    assert_crawllog_ok(crawllog_consumer_new(log, conf, &c, es, sizeof(es)));
    crawllog_conf_destroy(conf);
    crawllog_topic_partition_t tp = {topic, 0, CRAWLLOG_OFFSET_BEGINNING, NULL};
    assert_crawllog_ok(crawllog_consumer_assign(c, &tp, 1));
    const crawllog_msg_t *msg = NULL;
    size_t n = 0;
    for (int i = 0; i < 50 && n == 0; i++) {
        assert_crawllog_ok(crawllog_consumer_poll(c, 20, &msg, 1, &n));
    }
    cl_test_check(n == 1);
    int rc = crawllog_consumer_dead_letter(c, msg, "hostile");
    crawllog_consumer_destroy(c);
    return rc;
}

#endif /* CL_TEST_HOSTILE_H */
