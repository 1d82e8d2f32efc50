/*
 * test_hostile.c - T10 (reliability.md 4.11), hostile names, beyond
 * test_names.c (the validator itself) and test_api_security.c (topic names
 * on create, append, describe, delete, add_partitions, partition_offsets
 * and the reader): every other call that takes a name refuses each of 83
 * hostile names with CRAWLLOG_EINVAL and changes nothing on disk - group
 * names (describe, delete, set_offsets), the name properties (group.id,
 * group.instance.id, client.id, producer.id, dead.letter.topic), topic
 * names of producers, consumers (subscribe, assign, commits, committed),
 * group offsets, migration, inspection and a forced delete, the log calls
 * again for names test_api_security.c does not try; embedded NULs; the
 * 249 / 250 limit of every kind of name (derived ones too: "<topic>.dlt",
 * migration producers); odd valid names that look like options or like
 * the library's own file and tmp names.  The links, modes and the race
 * are in test_hostile_fs.c.  Every check is strict: the deviations an
 * earlier run reported are fixed and these are their regression tests.
 */
#include "hostile.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <unistd.h>

/* ---------------------------------------------------------------------- */
/* Hostile names                                                           */
/* ---------------------------------------------------------------------- */

static char name_250[251], name_300[301];

/* Every entry, read as a C string, is an invalid name.  Entries with a NUL
 * inside are what a caller holding a longer buffer can express: the API
 * sees the part before the NUL (".", "..", "" or "g/"). */
/* clang-format off */
static const char *const hostile[] = {
    "", ".", "..", "../x", "../../outside", "..//..", "a/b", "g/", "/g",
    "/abs", "/", "./g", "g/.", "..\\g", "\\", "g\\..", name_250, name_300,
    "\xc0\xae", "\xc0\xae\xc0\xae", "\xc0\xae\xc0\xae\xc0\xaf" "x",
    "\xe0\x80\xae\xe0\x80\xae", "\xf0\x80\x80\xae", "\xc0\xaf",
    "\xef\xbc\x8e\xef\xbc\x8e", "\xe2\x88\x95", "%2e%2e", "%2e%2e%2f" "x",
    "%252e%252e", "..%2f", "%00", "%2f", " ", "g ", " g", "g x", "\t", "g\t",
    "\n", "g\n", "\r", "\v", "\f", "\x01", "\x1b[0m", "\x7f", "~", "~root",
    "g~", "*", "g*", "?", "[g]", "{g}", "g:0", "g;x", "g|x", "g&x", "$G",
    "`id`", "$(id)", "'g'", "\"g\"", "<g>", "g,h", "g=h", "g+h", "g@h", "g#h",
    "g!h", "g^h", "(g)", "caf\xc3\xa9", "\xe2\x80\x8b", "g\xe2\x80\xae" "x",
    "\xd0\xb3", "\xff", "\x80", "g\xfe", ".\0x", "..\0/x", "\0../x", "g/\0x",
};
/* clang-format on */

static void init_names(void)
{
    memset(name_250, 'n', 250);
    name_250[250] = '\0';
    memset(name_300, 'x', 300);
    name_300[300] = '\0';
}

/* Every group-name call refuses h; nothing is created or changed. */
static void group_calls_refuse(crawllog_t *log, const char *h)
{
    crawllog_group_desc_t *desc = NULL;
    crawllog_topic_partition_t tp = {"t", 0, 1, NULL};
    int rc = crawllog_group_describe(log, h, &desc);
    assert_crawllog_rc_log(log, rc, CRAWLLOG_EINVAL);
    assert_crawllog_rc_log(log, crawllog_group_delete(log, h), CRAWLLOG_EINVAL);
    assert_crawllog_rc_log(log, crawllog_group_set_offsets(log, h, &tp, 1),
                           CRAWLLOG_EINVAL);
}

/* Every name property refuses h and keeps its value. */
static void conf_names_refuse(const char *h)
{
    static const char *const props[] = {"group.id", "group.instance.id",
                                        "client.id", "producer.id",
                                        "dead.letter.topic"};
    crawllog_conf_t *conf;
    assert_crawllog_ok(crawllog_conf_new(&conf));
    for (size_t i = 0; i < ARRAY_LEN(props); i++) {
        char buf[512], es[CRAWLLOG_ERRSTR_SIZE] = "";
        size_t sz = sizeof(buf);
        assert_crawllog_ok(crawllog_conf_set(conf, props[i], "keep", NULL, 0));
        if (h[0] != '\0') { /* "" is the documented "unset" value */
            assert_crawllog_rc(
                crawllog_conf_set(conf, props[i], h, es, sizeof(es)),
                CRAWLLOG_EINVAL);
            assert_true(es[0] != '\0');
        }
        assert_crawllog_ok(crawllog_conf_get(conf, props[i], buf, &sz));
        assert_string_equal(buf, "keep");
    }
    crawllog_conf_destroy(conf);
}

struct handles {
    crawllog_t *log;
    crawllog_consumer_t *sub;     /* group "g", never subscribed */
    crawllog_consumer_t *man;     /* group "g", never assigned */
    crawllog_producer_t *prod[3]; /* acks 0, 1, all; idempotent */
};

static int cb_count(void *opaque, const crawllog_batch_info_t *b)
{
    (void)b;
    (*(int *)opaque)++;
    return 0;
}

/* Every call taking a topic name (outside test_api_security's) refuses
 * h with CRAWLLOG_EINVAL. */
static void topic_calls_refuse(struct handles *hd, const char *h)
{
    crawllog_t *log = hd->log;
    crawllog_record_t r = rec("x");
    crawllog_topic_partition_t tp = {h, 0, 1, NULL};
    crawllog_topic_partition_t two[2] = {{"t", 1, 1, NULL}, {h, 0, 1, NULL}};
    const char *subs[2] = {"t", h};
    int64_t off = 77;
    int32_t seq;
    int n = 0, dup;
    /* The log calls (test_api_security.c's list has other names). */
    crawllog_reader_t *rd = NULL;
    int64_t s, e;
    assert_crawllog_rc(crawllog_topic_create(log, h, 1, NULL), CRAWLLOG_EINVAL);
    assert_crawllog_rc(crawllog_topic_delete(log, h), CRAWLLOG_EINVAL);
    assert_crawllog_rc(crawllog_topic_describe(log, h, NULL, NULL),
                       CRAWLLOG_EINVAL);
    assert_crawllog_rc(crawllog_topic_add_partitions(log, h, 4),
                       CRAWLLOG_EINVAL);
    assert_crawllog_rc(crawllog_partition_offsets(log, h, 0, &s, &e),
                       CRAWLLOG_EINVAL);
    assert_crawllog_rc(crawllog_reader_new(&rd, log, h, 0), CRAWLLOG_EINVAL);
    assert_null(rd);
    for (int sync = CRAWLLOG_SYNC_NONE; sync <= CRAWLLOG_SYNC_DURABLE; sync++) {
        assert_crawllog_rc(crawllog_append(log, h, 0, &r, 1, sync, NULL),
                           CRAWLLOG_EINVAL);
    }
    for (int i = 0; i < 3; i++) {
        crawllog_producer_t *p = hd->prod[i];
        assert_crawllog_rc(
            crawllog_producer_send(p, h, 0, NULL, 0, "x", 1, NULL, 0, NULL),
            CRAWLLOG_EINVAL);
        assert_crawllog_rc(crawllog_producer_send(p, h, CRAWLLOG_PARTITION_ANY,
                                                  "k", 1, "x", 1, NULL, 0,
                                                  NULL),
                           CRAWLLOG_EINVAL);
        assert_crawllog_rc(crawllog_producer_send_batch(p, h, 0, &r, 1, NULL),
                           CRAWLLOG_EINVAL);
        assert_crawllog_rc(
            crawllog_producer_send_sequenced(p, h, 0, 0, &r, 1, NULL, &dup),
            CRAWLLOG_EINVAL);
        int rc = crawllog_producer_next_sequence(p, h, 0, &seq);
        assert_true(rc == CRAWLLOG_EINVAL || rc == CRAWLLOG_ENOTOPIC);
    }
    assert_crawllog_rc(crawllog_consumer_subscribe(hd->sub, subs + 1, 1),
                       CRAWLLOG_EINVAL);
    assert_crawllog_rc(crawllog_consumer_subscribe(hd->sub, subs, 2),
                       CRAWLLOG_EINVAL);
    assert_crawllog_rc(crawllog_consumer_commit_offsets(hd->sub, &tp, 1,
                                                        CRAWLLOG_SYNC_DURABLE),
                       CRAWLLOG_EINVAL);
    assert_crawllog_rc(crawllog_consumer_commit_offsets(hd->man, two, 2,
                                                        CRAWLLOG_SYNC_DURABLE),
                       CRAWLLOG_EINVAL);
    assert_crawllog_rc(crawllog_consumer_assign(hd->man, &tp, 1),
                       CRAWLLOG_EINVAL);
    assert_crawllog_rc(crawllog_consumer_committed(hd->sub, h, 0, &off),
                       CRAWLLOG_EINVAL);
    assert_true(off == -1);
    assert_crawllog_rc_log(log, crawllog_group_set_offsets(log, "g", &tp, 1),
                           CRAWLLOG_EINVAL);
    assert_crawllog_rc_log(log, crawllog_group_set_offsets(log, "g", two, 2),
                           CRAWLLOG_EINVAL);
    assert_crawllog_rc_log(log,
                           crawllog_topic_migrate(log, "t", h, 3, NULL, NULL),
                           CRAWLLOG_EINVAL);
    assert_crawllog_rc_log(log,
                           crawllog_topic_migrate(log, h, "t2", 3, NULL, NULL),
                           CRAWLLOG_EINVAL);
    crawllog_migration_t *mi = NULL;
    assert_crawllog_rc_log(log, crawllog_topic_migration(log, h, &mi),
                           CRAWLLOG_EINVAL);
    assert_null(mi);
    assert_crawllog_rc_log(
        log, crawllog_topic_delete_flags(log, h, CRAWLLOG_DELETE_FORCE),
        CRAWLLOG_EINVAL);
    crawllog_segment_info_t *segs = NULL;
    size_t nsegs = 0;
    assert_crawllog_rc_log(
        log, crawllog_partition_segments(log, h, 0, &segs, &nsegs),
        CRAWLLOG_EINVAL);
    assert_crawllog_rc_log(
        log, crawllog_partition_batches(log, h, 0, 0, cb_count, &n),
        CRAWLLOG_EINVAL);
    assert_int_equal(n, 0);
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h = (h ^ ((const unsigned char *)p)[i]) * 0x100000001b3u;
    }
    return h;
}

/* A hash of the names and lstat() attributes (type, mode, size, links,
 * inode, mtime) of everything below dir: a cheap snapshot for each name
 * (cl_test_snap_take hashes contents: 2 MB here, slow under TSan).  The
 * full snapshot at the end catches writes through shared mappings, whose
 * mtime may lag. */
static uint64_t tree_stat_hash(const char *dir)
{
    uint64_t h = 0xcbf29ce484222325u;
    DIR *dh = opendir(dir);
    cl_test_checkf(dh != NULL, "opendir %s: %s", dir, strerror(errno));
    struct dirent *de;
    while ((de = readdir(dh)) != NULL) {
        char p[8192];
        struct stat st;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }
        cl_test_path(p, sizeof(p), dir, de->d_name);
        cl_test_check(lstat(p, &st) == 0);
        int64_t a[7] = {(int64_t)st.st_mode,
                        (int64_t)st.st_size,
                        (int64_t)st.st_nlink,
                        (int64_t)st.st_ino,
                        (int64_t)st.st_mtim.tv_sec,
                        (int64_t)st.st_mtim.tv_nsec,
                        0};
        h = fnv(fnv(h, de->d_name, strlen(de->d_name) + 1), a, sizeof(a));
        if (S_ISDIR(st.st_mode)) {
            h = fnv(h, &(uint64_t){tree_stat_hash(p)}, 8);
        }
    }
    closedir(dh);
    return h;
}

/* Each hostile name is refused by every group call, every name property
 * and every topic-taking call of consumers, producers, group offsets,
 * migration and inspection; the test directory (data and all) is the same
 * after each name, and after flushing and closing everything. */
static void test_hostile_names_everywhere(void **state)
{
    struct dirs d;
    struct handles hd;
    init_names();
    dirs_init(state, &d);
    assert_true(ARRAY_LEN(hostile) >= 50);
    populate(d.data);
    hd.log = cl_test_open(d.data, NULL);
    hd.sub = consumer(hd.log, "g");
    hd.man = consumer(hd.log, "g");
    static const char *const acks[3] = {"0", "1", "all"};
    for (int i = 0; i < 3; i++) {
        hd.prod[i] = producer(hd.log, i ? "" : "pp", acks[i]);
    }
    int64_t off;
    /* Open the consumers' group before the snapshot. */
    assert_crawllog_ok(crawllog_consumer_committed(hd.sub, "t", 0, &off));
    assert_int_equal(off, 4);
    assert_crawllog_ok(crawllog_consumer_committed(hd.man, "t", 0, &off));
    struct cl_test_snap *before = cl_test_snap_take(CL_TEST_DIR(state));
    uint64_t quick = tree_stat_hash(CL_TEST_DIR(state));
    for (size_t i = 0; i < ARRAY_LEN(hostile); i++) {
        group_calls_refuse(hd.log, hostile[i]);
        conf_names_refuse(hostile[i]);
        topic_calls_refuse(&hd, hostile[i]);
        if (tree_stat_hash(CL_TEST_DIR(state)) != quick) {
            struct cl_test_snap *now = cl_test_snap_take(CL_TEST_DIR(state));
            char diff[4096] = "";
            cl_test_snap_equal(before, now, diff, sizeof(diff));
            cl_test_snap_free(now);
            fail_msg("hostile name #%zu changed the directory:\n%s", i, diff);
        }
    }
    group_calls_refuse(hd.log, NULL);
    topic_calls_refuse(&hd, NULL);
    /* Nothing was buffered or half-done by the refused calls: flushing
     * and destroying the producers writes nothing. */
    for (int i = 0; i < 3; i++) {
        assert_crawllog_ok(crawllog_producer_destroy(hd.prod[i]));
    }
    assert_dir_unchanged(before, CL_TEST_DIR(state));
    crawllog_consumer_destroy(hd.sub);
    crawllog_consumer_destroy(hd.man);
    int rc;
    assert_int_equal(described_offset(hd.log, "g", "t", &rc), 4);
    assert_crawllog_ok(rc);
    char **names;
    size_t count;
    assert_crawllog_ok(crawllog_group_list(hd.log, &names, &count));
    assert_int_equal(count, 1);
    assert_string_equal(names[0], "g");
    crawllog_topic_list_free(names, count);
    assert_crawllog_ok(crawllog_topic_list(hd.log, &names, &count));
    assert_int_equal(count, 1);
    crawllog_topic_list_free(names, count);
    assert_crawllog_ok(crawllog_close(hd.log));
    assert_false(cl_test_exists(d.outside));
}

/* A name property set to "" means "unset": a consumer with group.id ""
 * cannot subscribe or commit and creates nothing. */
static void test_hostile_empty_group_id(void **state)
{
    struct dirs d;
    dirs_init(state, &d);
    populate(d.data);
    crawllog_t *log = cl_test_open(d.data, NULL);
    struct cl_test_snap *before = cl_test_snap_take(d.data);
    crawllog_consumer_t *c = consumer(log, "");
    const char *topics[] = {"t"};
    crawllog_topic_partition_t tp = {"t", 0, 1, NULL};
    assert_crawllog_rc(crawllog_consumer_subscribe(c, topics, 1),
                       CRAWLLOG_EINVAL);
    assert_crawllog_rc(
        crawllog_consumer_commit_offsets(c, &tp, 1, CRAWLLOG_SYNC_DURABLE),
        CRAWLLOG_EINVAL);
    crawllog_consumer_destroy(c);
    assert_crawllog_rc(crawllog_group_set_offsets(log, "", &tp, 1),
                       CRAWLLOG_EINVAL);
    assert_dir_unchanged(before, d.data);
    assert_crawllog_ok(crawllog_close(log));
}

/* A NUL inside a longer buffer ends the name: the part before it is used,
 * and nothing after it (a path) reaches the file system. */
static void test_hostile_embedded_nul(void **state)
{
    static const char group[] = "nul\0/../../outside";
    static const char topic[] = "t\0/../../outside";
    static const char pid[] = "pn\0/../../outside";
    struct dirs d;
    char path[8192];
    dirs_init(state, &d);
    assert_int_equal(mkdir(d.outside, 0700), 0);
    struct cl_test_snap *out = cl_test_snap_take(d.outside);
    crawllog_t *log = cl_test_open(d.data, NULL);
    cl_test_create_topic(log, topic, 1, NULL);
    set_offset(log, group, topic, 3);
    crawllog_producer_destroy(producer(log, pid, "1"));
    assert_true(cl_test_exists(
        cl_test_path(path, sizeof(path), d.data, "groups/nul/offsets")));
    assert_true(cl_test_exists(
        cl_test_path(path, sizeof(path), d.data, "producers/pn")));
    assert_true(
        cl_test_exists(cl_test_path(path, sizeof(path), d.data, "topics/t/0")));
    int rc;
    assert_int_equal(described_offset(log, "nul", "t", &rc), 3);
    assert_crawllog_ok(rc);
    assert_crawllog_ok(crawllog_close(log));
    assert_dir_unchanged(out, d.outside);
    assert_int_equal(cl_test_count_entries(CL_TEST_DIR(state)), 2);
}

/* ---------------------------------------------------------------------- */
/* Name limits                                                             */
/* ---------------------------------------------------------------------- */

/* 249 characters are accepted for every kind of name, 250 refused with
 * nothing created: group names (set_offsets, describe, list, delete),
 * group.id / group.instance.id / client.id of a member (stored in
 * group.state), producer.id (producers/<name>), dead.letter.topic and the
 * default "<topic>.dlt" (a 246-character topic has no valid default), and
 * migration between 249-character topics (its producers get short names). */
static void test_hostile_name_limits(void **state)
{
    char n249[250], n250[251], t245[246], t246[247], other[250], cid[250];
    char path[8192];
    struct dirs d;
    int rc;
    dirs_init(state, &d);
    name_of(n249, 249, 'g');
    name_of(n250, 250, 'g');
    crawllog_t *log = cl_test_open(d.data, NULL);
    cl_test_create_topic(log, "t", 1, NULL);

    /* Group names. */
    struct cl_test_snap *before = cl_test_snap_take(d.data);
    crawllog_topic_partition_t tp = {"t", 0, 2, NULL};
    assert_crawllog_rc(crawllog_group_set_offsets(log, n250, &tp, 1),
                       CRAWLLOG_EINVAL);
    assert_crawllog_rc(crawllog_group_delete(log, n250), CRAWLLOG_EINVAL);
    assert_dir_unchanged(before, d.data);
    set_offset(log, n249, "t", 2);
    snprintf(path, sizeof(path), "%s/groups/%s/offsets", d.data, n249);
    assert_true(cl_test_exists(path));
    assert_int_equal(described_offset(log, n249, "t", &rc), 2);
    assert_crawllog_ok(rc);
    assert_crawllog_ok(crawllog_group_delete(log, n249));
    assert_crawllog_rc(crawllog_group_delete(log, n249), CRAWLLOG_ENOENT);

    /* A member with 249-character group, instance and client ids. */
    crawllog_conf_t *conf = cl_test_conf("group.id", n249, "group.instance.id",
                                         name_of(other, 249, 'i'), "client.id",
                                         name_of(cid, 249, 'c'), NULL);
    crawllog_consumer_t *c = NULL;
    char es[CRAWLLOG_ERRSTR_SIZE] = "";
    assert_crawllog_ok(crawllog_consumer_new(log, conf, &c, es, sizeof(es)));
    crawllog_conf_destroy(conf);
    const char *topics[] = {"t"};
    assert_crawllog_ok(crawllog_consumer_subscribe(c, topics, 1));
    const crawllog_msg_t *msgs[4];
    size_t n = 0;
    for (int i = 0; i < 50 && crawllog_consumer_generation(c) < 1; i++) {
        assert_crawllog_ok(crawllog_consumer_poll(c, 10, msgs, 4, &n));
    }
    crawllog_group_desc_t *desc = NULL;
    assert_crawllog_ok(crawllog_group_describe(log, n249, &desc));
    assert_int_equal(desc->member_count, 1);
    assert_string_equal(desc->members[0].instance_id, other);
    assert_string_equal(desc->members[0].client_id, cid);
    crawllog_group_desc_free(desc);
    crawllog_consumer_destroy(c);

    /* producer.id: the registry file is producers/<name>. */
    crawllog_producer_t *p = producer_rc(log, n249, "1", &rc);
    snprintf(path, sizeof(path), "%s/producers/%s", d.data, n249);
    assert_crawllog_ok(rc);
    assert_true(cl_test_exists(path));
    crawllog_producer_destroy(p);

    /* Dead-letter topics: the default "<topic>.dlt" of a 246-character
     * topic would be 250 characters. */
    name_of(t245, 245, 'a');
    name_of(t246, 246, 'b');
    cl_test_create_topic(log, t245, 1, NULL);
    cl_test_create_topic(log, t246, 1, NULL);
    crawllog_record_t r = rec("poison");
    assert_crawllog_ok(
        crawllog_append(log, t245, 0, &r, 1, CRAWLLOG_SYNC_WRITTEN, NULL));
    assert_crawllog_ok(
        crawllog_append(log, t246, 0, &r, 1, CRAWLLOG_SYNC_WRITTEN, NULL));
    char **names;
    size_t count;
    assert_crawllog_ok(crawllog_topic_list(log, &names, &count));
    crawllog_topic_list_free(names, count);
    assert_crawllog_rc(dead_letter_first(log, t246, ""), CRAWLLOG_EINVAL);
    size_t topics_before = count;
    assert_crawllog_ok(crawllog_topic_list(log, &names, &count));
    crawllog_topic_list_free(names, count);
    assert_int_equal(count, topics_before);
    assert_crawllog_ok(dead_letter_first(log, t245, ""));
    snprintf(path, sizeof(path), "%s.dlt", t245);
    assert_crawllog_ok(crawllog_topic_describe(log, path, NULL, NULL));
    assert_crawllog_ok(dead_letter_first(log, t246, name_of(other, 249, 'd')));
    assert_crawllog_ok(crawllog_topic_describe(log, other, NULL, NULL));

    /* Migration between 249-character names. */
    name_of(n249, 249, 'o');
    name_of(other, 249, 'm');
    cl_test_create_topic(log, n249, 2, NULL);
    for (int i = 0; i < 4; i++) {
        assert_crawllog_ok(crawllog_append(log, n249, i % 2, &r, 1,
                                           CRAWLLOG_SYNC_WRITTEN, NULL));
    }
    assert_crawllog_ok_log(
        log, crawllog_topic_migrate(log, n249, other, 3, NULL, NULL));
    crawllog_migration_t *mi = NULL;
    assert_crawllog_ok(crawllog_topic_migration(log, n249, &mi));
    assert_string_equal(mi->target, other);
    assert_true(mi->records_copied == 4);
    crawllog_migration_free(mi);
    /* Its producers are "migrate.<FNV-1a 64 of old, hex>.<p>". */
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof(path), "%s/producers/migrate.%016" PRIx64 ".%d",
                 d.data, fnv(0xcbf29ce484222325u, n249, 249), i);
        assert_true(cl_test_exists(path));
    }
    assert_crawllog_ok(crawllog_close(log));
    cl_test_expect_verify_clean(d.data);
}

/* ---------------------------------------------------------------------- */
/* Odd but valid names                                                     */
/* ---------------------------------------------------------------------- */

/* Valid names that look like options, like the library's own file names
 * or like its tmp names are group and producer names like any other: each
 * lives exactly at groups/<name> or producers/<name>, and the others are
 * unaffected. */
static void test_hostile_odd_valid_group_names(void **state)
{
    static const char *const names[] = {
        "-rf",         "--help", "-",       "...",           ".g",
        "g..",         "groups", "offsets", "offsets.tmp",   "group.state",
        "lag.history", "trash",  "staging", "crawllog.lock", "g.1.2",
        "0",           "_",
    };
    const size_t n = ARRAY_LEN(names);
    struct dirs d;
    char path[8192];
    int rc;
    dirs_init(state, &d);
    crawllog_t *log = cl_test_open(d.data, NULL);
    cl_test_create_topic(log, "t", 1, NULL);
    for (size_t i = 0; i < n; i++) {
        set_offset(log, names[i], "t", (int64_t)i + 1);
        crawllog_producer_destroy(producer(log, names[i], "1"));
    }
    assert_crawllog_ok(crawllog_close(log));
    log = cl_test_open(d.data, NULL);
    char **list;
    size_t count;
    assert_crawllog_ok(crawllog_group_list(log, &list, &count));
    assert_int_equal(count, n);
    crawllog_topic_list_free(list, count);
    for (size_t i = 0; i < n; i++) {
        char rel[300];
        snprintf(rel, sizeof(rel), "groups/%s/offsets", names[i]);
        assert_true(
            cl_test_exists(cl_test_path(path, sizeof(path), d.data, rel)));
        snprintf(rel, sizeof(rel), "producers/%s", names[i]);
        assert_true(
            cl_test_exists(cl_test_path(path, sizeof(path), d.data, rel)));
        assert_int_equal(described_offset(log, names[i], "t", &rc),
                         (int64_t)i + 1);
        assert_crawllog_ok(rc);
    }
    /* Deleting one removes exactly that one. */
    assert_crawllog_ok(crawllog_group_delete(log, "groups"));
    assert_crawllog_ok(crawllog_group_list(log, &list, &count));
    assert_int_equal(count, n - 1);
    crawllog_topic_list_free(list, count);
    assert_int_equal(described_offset(log, "-rf", "t", &rc), 1);
    assert_crawllog_ok(rc);
    cl_test_close_verify(log, d.data);
    assert_int_equal(cl_test_count_entries(CL_TEST_DIR(state)), 1);
}

/* Valid producer.ids of the form "<x>.tmp.<pid>.<n>" are the library's own
 * tmp names in producers/: creating producer <x> must not overwrite the
 * registry of "<x>.tmp.<own pid>.0", and a producer named after a dead
 * process's tmp file must keep its registry (and so fence its older
 * instances). */
static void test_hostile_producer_tmp_names(void **state)
{
    struct dirs d;
    char live[300], dead[300];
    int64_t id1, id2;
    int16_t ep1, ep2;
    dirs_init(state, &d);
    crawllog_t *log = cl_test_open(d.data, NULL);
    cl_test_create_topic(log, "t", 1, NULL);

    snprintf(live, sizeof(live), "pc.tmp.%ld.0", (long)getpid());
    crawllog_producer_destroy(producer(log, live, "1"));
    crawllog_producer_t *p = producer(log, live, "1");
    assert_crawllog_ok(crawllog_producer_identity(p, &id1, &ep1));
    crawllog_producer_destroy(p);
    crawllog_producer_destroy(producer(log, "pc", "1"));
    p = producer(log, live, "1");
    assert_crawllog_ok(crawllog_producer_identity(p, &id2, &ep2));
    crawllog_producer_destroy(p);
    assert_true(id1 == id2);
    if (ep2 != ep1 + 1) {
        fail_msg("epoch %d after %d: the registry was lost", ep2, ep1);
    }

    snprintf(dead, sizeof(dead), "job.tmp.%ld.0", cl_test_dead_pid());
    crawllog_producer_t *old = producer(log, dead, "1");
    crawllog_producer_t *cur = producer(log, dead, "1");
    assert_crawllog_ok(crawllog_producer_identity(old, &id1, &ep1));
    assert_crawllog_ok(crawllog_producer_identity(cur, &id2, &ep2));
    int rc =
        crawllog_producer_send(old, "t", 0, NULL, 0, "z", 1, NULL, 0, NULL);
    if (rc != CRAWLLOG_EFENCED) {
        fail_msg("old instance send gave %s (epochs %d, %d)",
                 crawllog_err_name(rc), ep1, ep2);
    }
    assert_crawllog_ok(
        crawllog_producer_send(cur, "t", 0, NULL, 0, "z", 1, NULL, 0, NULL));
    crawllog_producer_destroy(old);
    crawllog_producer_destroy(cur);
    /* The library's own temp names start with '~' (no name has one): a
     * dead process's is removed by the next producer created, a live
     * process's is left alone. */
    char stale[4200], busy[4200];
    snprintf(stale, sizeof(stale), "%s/producers/~tmp.%ld.0", d.data,
             cl_test_dead_pid());
    snprintf(busy, sizeof(busy), "%s/producers/~tmp.%ld.0", d.data,
             (long)getppid());
    cl_test_write_file(stale, "x", 1);
    cl_test_write_file(busy, "x", 1);
    crawllog_producer_destroy(producer(log, "fresh", "1"));
    assert_false(cl_test_exists(stale));
    assert_true(cl_test_exists(busy));
    cl_test_check(unlink(busy) == 0);
    assert_crawllog_ok(crawllog_close(log));
    /* The registries are not leftovers for crawllog_verify either. */
    size_t problems = 0;
    char es[CRAWLLOG_ERRSTR_SIZE];
    int rc2 = crawllog_verify(d.data, NULL, NULL, &problems, es, sizeof(es));
    if (rc2 != CRAWLLOG_OK) {
        fail_msg("verify: %s, %zu problems", crawllog_err_name(rc2), problems);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        HOSTILE_TEST(test_hostile_names_everywhere),
        HOSTILE_TEST(test_hostile_empty_group_id),
        HOSTILE_TEST(test_hostile_embedded_nul),
        HOSTILE_TEST(test_hostile_name_limits),
        HOSTILE_TEST(test_hostile_odd_valid_group_names),
        HOSTILE_TEST(test_hostile_producer_tmp_names),
    };
    return cmocka_run_group_tests_name("hostile", tests, NULL, NULL);
}
