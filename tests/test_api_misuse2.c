/*
 * test_api_misuse2.c - T1 of the reliability test plan (section 4.2),
 * part 2: the cases of test_api_misuse.c (read its header comment) for
 * every public header but crawllog.h - producer, consumers and groups,
 * migration, inspection, group administration, transactions - including a
 * consumer used after crawllog_consumer_close() (CC rows).  The self-check
 * parses the other include/ headers.
 * Transactions: a row on PT starts from the state a->txn names and ends
 * with none open; a PF row gets its own fenced producer (scenario_begin /
 * scenario_end): no row depends on the rows before it.
 */
#include "helpers.h"

#include <dirent.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MISUSE_BADVAL (-1000)
#define MISUSE_BADOUT (-1001)
#define ES CRAWLLOG_ERRSTR_SIZE
#define PRIME "zz-prime"

#define FUNCS(X)                                                               \
    X(producer_new) X(producer_destroy) X(producer_send)                       \
    X(producer_send_record) X(producer_send_batch)                             \
    X(producer_send_sequenced) X(producer_next_sequence)                       \
    X(producer_identity) X(producer_poll) X(producer_flush)                    \
    X(producer_set_partitioner) X(producer_set_delivery_cb)                    \
    X(producer_errmsg) X(txn_begin) X(txn_send_offsets) X(txn_commit)          \
    X(txn_abort) X(txn_recover) X(consumer_new) X(consumer_set_rebalance_cb)   \
    X(consumer_subscribe) X(consumer_assign) X(consumer_poll)                  \
    X(consumer_commit) X(consumer_commit_offsets) X(consumer_dead_letter)      \
    X(consumer_process) X(consumer_committed) X(consumer_seek)                 \
    X(consumer_seek_to_time) X(consumer_position) X(consumer_pause)            \
    X(consumer_resume) X(consumer_assignment) X(consumer_generation)           \
    X(consumer_member_id) X(consumer_close) X(consumer_destroy)                \
    X(consumer_errmsg) X(consumer_group_metadata) X(group_metadata_destroy)    \
    X(msg_topic) X(msg_partition) X(group_describe)                            \
    X(group_desc_free) X(group_list) X(group_delete) X(group_set_offsets)      \
    X(topic_migrate) X(topic_migration) X(migration_free)                      \
    X(partition_segments) X(partition_batches)

#define FN_ENUM(n) F_##n,
#define FN_NAME(n) "crawllog_" #n,
enum { FUNCS(FN_ENUM) F_COUNT };
static const char *const fn_names[] = {FUNCS(FN_NAME)};

/* Producers: acks=all (default), idempotence off, acks=0, one whose
 * custom partitioner returns 99, and a transactional one (transactional.id
 * "tx", no transaction open between rows).  PF is no fixture: a row with
 * .k = PF gets a producer of transactional.id "tf" fenced in the middle of
 * a transaction (scenario_begin).  Consumers: group g assigned t/0 and
 * polled, no group assigned t/0 and polled, fresh, group gs subscribed to
 * t (an active member), closed, and one for poll and seek (no group). */
enum { PA, PN, P0, PB, PT, NPROD, PF = NPROD };
enum { CG, CN, CF, CS, CC, CP, NCONS };
_Static_assert((int)NPROD <= (int)NCONS, "the teardown loop frees both");

/* a->txn: PT's state before the call: none open, open, open and doomed
 * by a failed send (ENOTOPIC), open with a record sent to w. */
enum { TX_NONE, TX_OPEN, TX_DOOMED, TX_SENT };

struct fx {
    char root[4096], data[4200];
    crawllog_t *log;
    crawllog_producer_t *prod[NPROD];
    crawllog_consumer_t *cons[NCONS];
    const crawllog_msg_t *own[NCONS]; /* from the consumer's own poll */
    const crawllog_msg_t *msgs[512], *pmsgs[512], *nmsgs[512];
    crawllog_reader_t *rd;
    const crawllog_msg_t *rmsg; /* from a reader: no consumer's */
    crawllog_conf_t *badpconf, *tfconf;
    crawllog_producer_t *fz, *fz_new; /* PF: fenced, and the newer one */
    crawllog_group_metadata_t *md;    /* of CG (group g, no generation) */
    char meta[4097];
    char *errstr;
    struct cl_test_snap *last; /* after the previous case, if it was NW */
};

struct args {
    int unused_;
    unsigned null; /* bit i: pointer parameter i (from 0) is NULL */
    int k;         /* which producer or consumer */
    int h;         /* variant */
    int32_t p;     /* partition, count */
    int64_t o;     /* offset, timestamp, timeout, sequence, sync */
    size_t n;      /* count, size, errstr_size */
    const char *s; /* topic, group */
    const char *v; /* second topic */
    int txn;       /* TX_*: the transaction state before the call */
};

#define NW 0x1u     /* nothing may be written */
#define EM_LOG 0x2u /* failure: crawllog_errmsg(f->log) set */
#define EM_H 0x4u   /* failure: the producer's / consumer's errmsg set */
#define EM_ES 0x8u  /* errstr set as errstr_size (a->n) allows */
#define NWL (NW | EM_LOG)
#define NWH (NW | EM_H)

struct mcase {
    int fn;
    struct args a;
    int want;
    unsigned flags;
};

#define R(name, code, flags, ...)                                              \
    {F_##name, {0, __VA_ARGS__}, CRAWLLOG_##code, (flags)}

#define P(i, v) (((a->null >> (i)) & 1u) ? NULL : (v))
#define ISNULL(i) ((a->null >> (i)) & 1u)
#define TOPIC(i) P(i, a->s != NULL ? a->s : "t")
#define VAL(cond) return (cond) ? 0 : MISUSE_BADVAL
#define RESET(i, ok) (rc != 0 && !ISNULL(i) && !(ok))
static char junk_;
static size_t junk_batches;
#define JUNK ((void *)&junk_)

static int32_t bad_partitioner(const char *topic, const void *key,
                               size_t keylen, int32_t count, void *opaque)
{
    (void)topic, (void)key, (void)keylen, (void)count, (void)opaque;
    return 99;
}

static int process_ok(const crawllog_msg_t *msg, void *opaque, char *reason,
                      size_t size)
{
    (void)msg, (void)opaque, (void)reason, (void)size;
    return 0;
}

static int batch_cb(void *opaque, const crawllog_batch_info_t *b)
{
    (void)b;
    *(size_t *)(opaque ? opaque : &junk_batches) += 1;
    return 0;
}

static void progress(void *opaque, const crawllog_migrate_progress_t *pr)
{
    (void)opaque, (void)pr;
}

/* ---------------------------------------------------------------------- */
/* One call of each public function of the other headers                   */
/* ---------------------------------------------------------------------- */

static int call(struct fx *f, int fn, const struct args *a)
{
    crawllog_producer_t *np = JUNK, *pr = a->k == PF ? f->fz
                                         : a->k < NPROD ? f->prod[a->k] : NULL;
    crawllog_consumer_t *c = a->k < NCONS ? f->cons[a->k] : NULL, *nc = JUNK;
    crawllog_group_metadata_t *md = JUNK;
    int fin = 7;
    crawllog_group_desc_t *desc = JUNK;
    crawllog_migration_t *info = JUNK;
    crawllog_segment_info_t *segs = JUNK;
    crawllog_topic_partition_t *list = JUNK;
    char **names = JUNK;
    /* a->h 1: the message of another reader; 2: none of any. */
    const crawllog_msg_t *msg = a->h == 1 ? f->rmsg : f->own[a->k];
    crawllog_header_t hd = {a->h == 2 ? NULL : "h", 1, "x", 1};
    crawllog_record_t recs[2] = {{"k", 1, "v", 1, a->o, NULL, 0},
                                 {"k", 1, "v", 1, -1, NULL, 0}};
    crawllog_topic_partition_t tp = {a->h == 4 ? NULL : a->s ? a->s : "t",
                                     a->p, a->o,
                                     a->h == 2 ? f->meta : f->meta + 1};
    const char *topics[66];
    int64_t i1 = 7;
    int32_t n32 = 7;
    int16_t e16 = 7;
    size_t len = 7, cnt = 0;
    int rc, dup = 7;
    for (size_t i = 0; i < 66; i++) {
        topics[i] = i > 0 || a->h == 0 ? "t" : a->h == 1 ? NULL : "a/b";
    }
    recs[1].header_count = a->h == 1;             /* headers NULL */
    recs[1].value_len = a->h == 3 ? SIZE_MAX : 1; /* a lie: refused first */
    switch (fn) {
    case F_producer_new: /* a->h 1: producer.id without idempotence */
        rc = crawllog_producer_new(P(0, f->log), a->h ? f->badpconf : NULL,
                                   P(2, &np), P(3, f->errstr), a->n);
        assert_crawllog_ok(crawllog_producer_destroy(rc == 0 ? np : NULL));
        return RESET(2, np == NULL) ? MISUSE_BADOUT : rc;
    case F_producer_destroy:
        return crawllog_producer_destroy(NULL);
    case F_producer_send: /* a->h 2: a header without a name, 3 / 4: a key
                           * / value of SIZE_MAX bytes; a->n: nheaders */
        rc = crawllog_producer_send(
            P(0, pr), TOPIC(1), a->p, P(3, "k"), a->h == 3 ? SIZE_MAX : 1,
            P(5, "v"), a->h == 4 ? SIZE_MAX : 1, P(7, &hd), a->n, P(9, &i1));
        return RESET(9, i1 == -1) ? MISUSE_BADOUT : rc;
    case F_producer_send_record:
        rc = crawllog_producer_send_record(P(0, pr), TOPIC(1), a->p,
                                           P(3, &recs[a->h ? 1 : 0]),
                                           P(4, &i1));
        return RESET(4, i1 == -1) ? MISUSE_BADOUT : rc;
    case F_producer_send_batch: /* a->h 1 / 3: recs[1] is refused */
        rc = crawllog_producer_send_batch(P(0, pr), TOPIC(1), a->p,
                                          P(3, recs), a->n, P(5, &i1));
        return RESET(5, i1 == -1) ? MISUSE_BADOUT : rc;
    case F_producer_send_sequenced: /* a->o: base sequence */
        recs[0].timestamp = -1;
        rc = crawllog_producer_send_sequenced(P(0, pr), TOPIC(1), a->p,
                                              (int32_t)a->o, P(4, recs), a->n,
                                              P(6, &i1), P(7, &dup));
        return RESET(6, i1 == -1) || RESET(7, dup == 0) ? MISUSE_BADOUT : rc;
    case F_producer_next_sequence:
        rc = crawllog_producer_next_sequence(P(0, pr), TOPIC(1), a->p,
                                             P(3, &n32));
        return RESET(3, n32 == -1) ? MISUSE_BADOUT : rc;
    case F_producer_identity: /* idempotence off: -1, -1 */
        rc = crawllog_producer_identity(P(0, pr), P(1, &i1), P(2, &e16));
        return rc == 0 && a->k == PN && ((!ISNULL(1) && i1 != -1) ||
                                         (!ISNULL(2) && e16 != -1))
                   ? MISUSE_BADOUT : rc;
    case F_producer_poll:
        rc = crawllog_producer_poll(P(0, pr));
        return rc > 0 ? MISUSE_BADVAL : rc; /* nothing to report */
    case F_producer_flush:
        return crawllog_producer_flush(P(0, pr), (int)a->o);
    case F_producer_set_partitioner:
        return crawllog_producer_set_partitioner(P(0, pr), NULL, NULL);
    case F_producer_set_delivery_cb:
        return crawllog_producer_set_delivery_cb(P(0, pr), NULL, NULL);
    case F_producer_errmsg:
        VAL(crawllog_producer_errmsg(NULL)[0] == '\0');
    case F_txn_begin:
        return crawllog_txn_begin(P(0, pr));
    case F_txn_send_offsets: /* a->h 2: metadata of 4096 bytes (else 4095);
                              * 4: a NULL topic */
        return crawllog_txn_send_offsets(P(0, pr), P(1, f->md), P(2, &tp),
                                         a->n);
    case F_txn_commit:
        return crawllog_txn_commit(P(0, pr));
    case F_txn_abort:
        return crawllog_txn_abort(P(0, pr));
    case F_txn_recover: /* no transaction of the log is left to finish */
        rc = crawllog_txn_recover(P(0, f->log), P(1, &fin));
        return RESET(1, fin == 0) || (rc == 0 && !ISNULL(1) && fin != 0)
                   ? MISUSE_BADOUT : rc;
    case F_consumer_new:
        rc = crawllog_consumer_new(P(0, f->log), NULL, P(2, &nc),
                                   P(3, f->errstr), a->n);
        crawllog_consumer_destroy(rc == 0 ? nc : NULL);
        return RESET(2, nc == NULL) ? MISUSE_BADOUT : rc;
    case F_consumer_set_rebalance_cb:
        return crawllog_consumer_set_rebalance_cb(P(0, c), NULL, NULL);
    case F_consumer_subscribe: /* a->h 1: topics[0] NULL, 2: invalid */
        return crawllog_consumer_subscribe(P(0, c), P(1, topics), a->n);
    case F_consumer_assign: /* a->h 4: a NULL topic */
        return crawllog_consumer_assign(P(0, c), P(1, &tp), a->n);
    case F_consumer_poll: /* from the start of t/0: 3 messages at once */
        if (c != NULL && a->k != CC) {
            assert_crawllog_ok(crawllog_consumer_seek(
                c, "t", 0, CRAWLLOG_OFFSET_BEGINNING));
        }
        rc = crawllog_consumer_poll(P(0, c), (int)a->o, P(2, f->pmsgs), a->n,
                                    P(4, &len));
        return RESET(4, len == 0) || (rc == 0 && (len < 1 || len > a->n))
                   ? MISUSE_BADOUT : rc;
    case F_consumer_commit: /* a->o: sync */
        return crawllog_consumer_commit(P(0, c), P(1, msg), (int)a->o);
    case F_consumer_commit_offsets: /* a->h 1: sync -1; 2: metadata of
                                     * 4096 bytes (else 4095); 4: no topic */
        return crawllog_consumer_commit_offsets(
            P(0, c), P(1, &tp), a->n, a->h == 1 ? -1 : CRAWLLOG_SYNC_DURABLE);
    case F_consumer_dead_letter:
        return crawllog_consumer_dead_letter(P(0, c), P(1, msg), P(2, "r"));
    case F_consumer_process:
        rc = crawllog_consumer_process(P(0, c), P(1, msg), P(2, process_ok),
                                       P(3, JUNK), P(4, &dup));
        return (rc != 0 && !ISNULL(4) && dup != 0) ||
                       (rc == 0 && !ISNULL(4) && dup != CRAWLLOG_PROCESSED)
                   ? MISUSE_BADOUT : rc;
    case F_consumer_committed: /* t/0 of g: committed at 1 by the setup */
        rc = crawllog_consumer_committed(P(0, c), TOPIC(1), a->p, P(3, &i1));
        return RESET(3, i1 == -1) ||
                       (rc == 0 && i1 != (a->s == NULL && a->p == 0 ? 1 : -1))
                   ? MISUSE_BADOUT : rc;
    case F_consumer_seek:
        return crawllog_consumer_seek(P(0, c), TOPIC(1), a->p, a->o);
    case F_consumer_seek_to_time:
        return crawllog_consumer_seek_to_time(P(0, c), TOPIC(1), a->p, a->o);
    case F_consumer_position:
        rc = crawllog_consumer_position(P(0, c), TOPIC(1), a->p, P(3, &i1));
        return RESET(3, i1 == -1) ? MISUSE_BADOUT : rc;
    case F_consumer_pause:
    case F_consumer_resume:
        return (fn == F_consumer_pause ? crawllog_consumer_pause
                                       : crawllog_consumer_resume)(
            P(0, c), P(1, &tp), a->n);
    case F_consumer_assignment:
        rc = crawllog_consumer_assignment(P(0, c), P(1, &list), P(2, &len));
        free(rc == 0 ? list : NULL);
        return RESET(1, list == NULL) || RESET(2, len == 0) ? MISUSE_BADOUT
                                                            : rc;
    case F_consumer_generation: /* -1 unless in a group (CS) */
        n32 = crawllog_consumer_generation(P(0, c));
        VAL(ISNULL(0) || a->k != CS ? n32 == -1 : n32 >= 0);
    case F_consumer_member_id:
        VAL((crawllog_consumer_member_id(P(0, c))[0] != '\0') ==
            (!ISNULL(0) && a->k == CS));
    case F_consumer_close:
        return crawllog_consumer_close(P(0, c));
    case F_consumer_destroy:
        crawllog_consumer_destroy(NULL);
        return 0;
    case F_consumer_errmsg:
        VAL(crawllog_consumer_errmsg(NULL)[0] == '\0');
    case F_consumer_group_metadata:
        rc = crawllog_consumer_group_metadata(P(0, c), P(1, &md));
        fin = RESET(1, md == NULL) || (rc == 0 && md == NULL);
        crawllog_group_metadata_destroy(rc == 0 ? md : NULL);
        return fin ? MISUSE_BADOUT : rc;
    case F_group_metadata_destroy:
        crawllog_group_metadata_destroy(NULL);
        return 0;
    case F_msg_topic:
        VAL(ISNULL(0) ? crawllog_msg_topic(NULL) == NULL
                      : strcmp(crawllog_msg_topic(f->own[CG]), "t") == 0);
    case F_msg_partition:
        VAL(crawllog_msg_partition(P(0, f->own[CG])) == (ISNULL(0) ? -1 : 0));
    case F_group_describe:
        rc = crawllog_group_describe(P(0, f->log), P(1, a->s ? a->s : "g"),
                                     P(2, &desc));
        crawllog_group_desc_free(rc == 0 ? desc : NULL);
        return RESET(2, desc == NULL) ? MISUSE_BADOUT : rc;
    case F_group_desc_free:
        crawllog_group_desc_free(NULL);
        return 0;
    case F_group_list:
        rc = crawllog_group_list(P(0, f->log), P(1, &names), P(2, &len));
        crawllog_topic_list_free(rc == 0 ? names : NULL, len);
        return RESET(1, names == NULL) || RESET(2, len == 0) ? MISUSE_BADOUT
                                                             : rc;
    case F_group_delete:
        return crawllog_group_delete(P(0, f->log), P(1, a->s));
    case F_group_set_offsets: /* a->v: the group */
        return crawllog_group_set_offsets(P(0, f->log), P(1, a->v),
                                          P(2, &tp), a->n);
    case F_topic_migrate:
        return crawllog_topic_migrate(P(0, f->log), TOPIC(1),
                                      P(2, a->v ? a->v : "t9"), a->p,
                                      P(4, progress), P(5, JUNK));
    case F_topic_migration: /* "t": not migrated */
        rc = crawllog_topic_migration(P(0, f->log), TOPIC(1), P(2, &info));
        if (rc == 0 && info->state != CRAWLLOG_MIGRATION_NONE) {
            rc = MISUSE_BADOUT;
        }
        crawllog_migration_free(rc == 0 ? info : NULL);
        return RESET(2, info == NULL) ? MISUSE_BADOUT : rc;
    case F_migration_free:
        crawllog_migration_free(NULL);
        return 0;
    case F_partition_segments:
        rc = crawllog_partition_segments(P(0, f->log), TOPIC(1), a->p,
                                         P(3, &segs), P(4, &len));
        free(rc == 0 ? segs : NULL);
        return RESET(3, segs == NULL) || RESET(4, len == 0) ||
                       (rc == 0 && len != 1)
                   ? MISUSE_BADOUT : rc;
    case F_partition_batches: /* t/0: 2 batches (offsets 0, 1..2) */
        rc = crawllog_partition_batches(P(0, f->log), TOPIC(1), a->p, a->o,
                                        P(4, batch_cb), P(5, &cnt));
        return rc == 0 && !ISNULL(5) &&
                       cnt != (a->o >= 3 ? 0u : a->o >= 1 ? 1u : 2u)
                   ? MISUSE_BADOUT : rc;
    }
    fail_msg("no call for function %d", fn);
    return 0;
}

/* ---------------------------------------------------------------------- */
/* The cases                                                               */
/* ---------------------------------------------------------------------- */

#define N10 "nnnnnnnnnn"
#define LONGNAME /* 250 > CRAWLLOG_TOPIC_NAME_MAX */                         \
    N10 N10 N10 N10 N10 N10 N10 N10 N10 N10 N10 N10 N10 N10 N10 N10 N10 N10 \
    N10 N10 N10 N10 N10 N10 N10
_Static_assert(sizeof(LONGNAME) == CRAWLLOG_TOPIC_NAME_MAX + 2, "250 bytes");

/* crawllog_txn_send_offsets() in an open transaction of PT. */
#define SO(code, ...) R(txn_send_offsets, code, NWH, .k = PT, .txn = TX_OPEN, __VA_ARGS__)

/* clang-format off */
static const struct mcase cases[] = {
    /* Producer (a->k: PA acks=all unless said).  Accepted sends go to "w". */
    R(producer_new, EINVAL, NW | EM_ES, .null = 1, .n = ES), R(producer_new, EINVAL, NW | EM_ES, .null = 4, .n = ES),
    R(producer_new, EINVAL, NW | EM_ES, .null = 1, .n = 0), R(producer_new, EINVAL, NW | EM_ES, .null = 1, .n = 1),
    R(producer_new, EINVAL, NW | EM_ES, .null = 1, .n = SIZE_MAX), R(producer_new, EINVAL, NW, .null = 1 | 8, .n = ES),
    R(producer_new, EINVAL, NW | EM_ES, .h = 1, .n = ES), R(producer_new, OK, NW, .n = ES), R(producer_destroy, OK, 0, .null = 1),
    R(producer_send, EINVAL, NW, .null = 1), R(producer_send, EINVAL, NWH, .null = 2),
    R(producer_send, ENOTOPIC, NWH, .s = "nosuch"), R(producer_send, EINVAL, NWH, .s = "a/b"),
    R(producer_send, EPARTITION, NWH, .p = 2), R(producer_send, EPARTITION, NWH, .p = INT32_MAX),
    R(producer_send, EPARTITION, NWH, .p = -2), R(producer_send, EPARTITION, NWH, .p = INT32_MIN),
    R(producer_send, EINVAL, NWH, .null = 128, .n = 1), R(producer_send, EINVAL, NWH, .h = 2, .n = 1),
    R(producer_send, ETOOBIG, NWH, .h = 3), R(producer_send, ETOOBIG, NWH, .h = 4),
    R(producer_send, ETOOBIG, NWH, .k = P0, .h = 4), R(producer_send, EPARTITION, NWH, .k = P0, .p = 2),
    R(producer_send, EPARTITION, NWH, .k = PB, .p = -1), R(producer_send, ETOOBIG, NWH, .k = PN, .h = 3),
    R(producer_send, OK, 0, .s = "w", .null = 8 | 32 | 128), R(producer_send, OK, 0, .s = "w", .null = 512),
    R(producer_send, OK, 0, .s = "w", .p = CRAWLLOG_PARTITION_ANY),
    R(producer_send, OK, 0, .s = "w", .null = 8, .h = 3), R(producer_send, OK, 0, .s = "w", .null = 32, .h = 4),
    R(producer_send_record, EINVAL, NW, .null = 1), R(producer_send_record, EINVAL, NWH, .null = 2),
    R(producer_send_record, EINVAL, NWH, .null = 8), R(producer_send_record, EINVAL, NWH, .h = 1),
    R(producer_send_record, ETOOBIG, NWH, .h = 3), R(producer_send_record, EPARTITION, NWH, .p = 5),
    R(producer_send_record, OK, 0, .s = "w", .o = INT64_MIN, .null = 16),
    R(producer_send_batch, EINVAL, NW, .null = 1, .n = 2), R(producer_send_batch, EINVAL, NWH, .null = 2, .n = 2),
    R(producer_send_batch, EINVAL, NWH, .null = 8, .n = 2), R(producer_send_batch, EINVAL, NWH, .n = 0),
    R(producer_send_batch, EINVAL, NWH, .n = SIZE_MAX), R(producer_send_batch, EINVAL, NWH, .n = (size_t)INT32_MAX + 1),
    R(producer_send_batch, EINVAL, NWH, .h = 1, .n = 2), R(producer_send_batch, ETOOBIG, NWH, .h = 3, .n = 2),
    R(producer_send_batch, ETOOBIG, NWH, .k = P0, .h = 3, .n = 2),
    R(producer_send_batch, EPARTITION, NWH, .p = 2, .n = 2), R(producer_send_batch, ENOTOPIC, NWH, .s = "nosuch", .n = 2),
    R(producer_send_batch, OK, 0, .s = "w", .n = 2, .null = 32),
    R(producer_send_sequenced, EINVAL, NW, .null = 1, .n = 1), R(producer_send_sequenced, EINVAL, NWH, .null = 2, .n = 1),
    R(producer_send_sequenced, EINVAL, NWH, .null = 16, .n = 1), R(producer_send_sequenced, EINVAL, NWH, .n = 0),
    R(producer_send_sequenced, EINVAL, NWH, .o = -1, .n = 1), R(producer_send_sequenced, EINVAL, NWH, .o = INT32_MIN, .n = 1),
    R(producer_send_sequenced, EINVAL, NWH, .p = -1, .n = 1), R(producer_send_sequenced, EINVAL, NWH, .k = PN, .n = 1),
    R(producer_send_sequenced, EPARTITION, NWH, .p = 2, .n = 1),
    /* On "s", where PA has not written: 0, 0 again (a duplicate), gaps,
     * and INT32_MAX (before 0 in sequence space, never written). */
    R(producer_send_sequenced, OK, 0, .s = "s", .n = 1, .null = 64 | 128), R(producer_send_sequenced, OK, NW, .s = "s", .n = 1),
    R(producer_send_sequenced, ESEQUENCE, NWH, .s = "s", .o = 2, .n = 1), R(producer_send_sequenced, ESEQUENCE, NWH, .s = "s", .o = 5, .n = 1),
    R(producer_send_sequenced, ESEQUENCE, NWH, .s = "s", .o = INT32_MAX, .n = 1),
    R(producer_next_sequence, EINVAL, NW, .null = 1), R(producer_next_sequence, EINVAL, NWH, .null = 2),
    R(producer_next_sequence, EINVAL, NWH, .null = 8), R(producer_next_sequence, EINVAL, NWH, .k = PN),
    R(producer_next_sequence, EPARTITION, NWH, .p = -1), R(producer_next_sequence, EPARTITION, NWH, .p = 2),
    R(producer_next_sequence, EPARTITION, NWH, .p = INT32_MIN), R(producer_next_sequence, ENOTOPIC, NWH, .s = "nosuch"),
    R(producer_next_sequence, OK, NW, .p = 1), R(producer_identity, EINVAL, 0, .null = 1), R(producer_identity, OK, 0, .null = 2 | 4),
    R(producer_identity, OK, 0, .k = PN), R(producer_poll, EINVAL, 0, .null = 1), R(producer_poll, OK, NW, .k = PA),
    R(producer_flush, EINVAL, 0, .null = 1), R(producer_flush, OK, NW, .o = -1),
    R(producer_flush, OK, NW, .o = INT_MIN), R(producer_flush, OK, NW, .o = INT_MAX),
    R(producer_set_partitioner, EINVAL, 0, .null = 1), R(producer_set_partitioner, OK, 0, .k = PA),
    R(producer_set_delivery_cb, EINVAL, 0, .null = 1), R(producer_set_delivery_cb, OK, 0, .k = PA), R(producer_errmsg, OK, 0, .null = 1),
    /* Transactions (a->txn: PT's state; PF: fenced).  Out of order or not
     * transactional: EMISUSE; after a failed send commit is EABORT, abort
     * OK.  Offsets: group g's (f->md), 4095 bytes of metadata. */
    R(txn_begin, EINVAL, NW, .null = 1), R(txn_begin, EMISUSE, NWH, .k = PA), R(txn_begin, EMISUSE, NWH, .k = PN), R(txn_begin, EMISUSE, NWH, .k = P0),
    R(txn_begin, OK, NW, .k = PT), R(txn_begin, EMISUSE, NWH, .k = PT, .txn = TX_OPEN), R(txn_begin, EMISUSE, NWH, .k = PT, .txn = TX_DOOMED),
    R(txn_begin, EFENCED, NWH, .k = PF), R(txn_commit, EINVAL, NW, .null = 1), R(txn_commit, EMISUSE, NWH, .k = PA), R(txn_commit, EMISUSE, NWH, .k = PN),
    R(txn_commit, EMISUSE, NWH, .k = PT), R(txn_commit, OK, NW, .k = PT, .txn = TX_OPEN), R(txn_commit, EABORT, NWH, .k = PT, .txn = TX_DOOMED),
    R(txn_commit, OK, 0, .k = PT, .txn = TX_SENT), R(txn_commit, EFENCED, NWH, .k = PF), R(txn_abort, EINVAL, NW, .null = 1),
    R(txn_abort, EMISUSE, NWH, .k = PA), R(txn_abort, EMISUSE, NWH, .k = P0), R(txn_abort, EMISUSE, NWH, .k = PT),
    R(txn_abort, OK, NW, .k = PT, .txn = TX_OPEN), R(txn_abort, OK, NW, .k = PT, .txn = TX_DOOMED), R(txn_abort, OK, 0, .k = PT, .txn = TX_SENT),
    R(txn_abort, EFENCED, NWH, .k = PF),
    R(txn_send_offsets, EINVAL, NW, .null = 1, .n = 1), SO(EINVAL, .null = 2, .n = 1), SO(EINVAL, .null = 4, .n = 1), SO(EINVAL, .n = 0),
    SO(EINVAL, .o = -1, .n = 1), SO(EINVAL, .o = INT64_MIN, .n = 1), SO(EINVAL, .o = CRAWLLOG_OFFSET_BEGINNING, .n = 1),
    SO(EINVAL, .h = 4, .n = 1), SO(EINVAL, .s = "", .n = 1), SO(EINVAL, .s = "a/b", .n = 1), SO(EINVAL, .s = "..", .n = 1),
    SO(EINVAL, .s = LONGNAME, .n = 1), SO(EINVAL, .p = -1, .n = 1), SO(EINVAL, .p = INT32_MIN, .n = 1),
    SO(EINVAL, .p = CRAWLLOG_PARTITIONS_MAX, .n = 1), SO(EINVAL, .h = 2, .n = 1),
    R(txn_send_offsets, EMISUSE, NWH, .k = PA, .n = 1), R(txn_send_offsets, EMISUSE, NWH, .k = PT, .n = 1),
    R(txn_send_offsets, EFENCED, NWH, .k = PF, .n = 1), R(txn_send_offsets, OK, 0, .k = PT, .txn = TX_OPEN, .n = 1),
    R(txn_send_offsets, OK, 0, .k = PT, .txn = TX_SENT, .p = CRAWLLOG_PARTITIONS_MAX - 1, .o = INT64_MAX, .n = 1),
    R(txn_recover, EINVAL, NW, .null = 1), R(txn_recover, EINVAL, NW, .null = 1 | 2), R(txn_recover, OK, NW, .null = 2), R(txn_recover, OK, NW, .k = 0),
    /* Sends of PT: none outside a transaction or after a failed one. */
    R(producer_send, EMISUSE, NWH, .k = PT, .s = "w"), R(producer_send_record, EMISUSE, NWH, .k = PT, .s = "w"),
    R(producer_send_batch, EMISUSE, NWH, .k = PT, .s = "w", .n = 2), R(producer_send_sequenced, EMISUSE, NWH, .k = PT, .s = "w", .n = 1),
    R(producer_send, EABORT, NWH, .k = PT, .txn = TX_DOOMED, .s = "w"), R(producer_send, EFENCED, NWH, .k = PF, .s = "w"),
    R(producer_send, OK, 0, .k = PT, .txn = TX_OPEN, .s = "w"),
    /* Migration and inspection. */
    R(topic_migrate, EINVAL, NW, .null = 1, .p = 3), R(topic_migrate, EINVAL, NWL, .null = 2, .p = 3),
    R(topic_migrate, EINVAL, NWL, .null = 4, .p = 3), R(topic_migrate, EINVAL, NWL, .v = "t", .p = 3),
    R(topic_migrate, EINVAL, NWL, .s = "a/b", .p = 3), R(topic_migrate, EINVAL, NWL, .v = "..", .p = 3),
    R(topic_migrate, EINVAL, NWL, .v = LONGNAME, .p = 3), R(topic_migrate, EINVAL, NWL, .p = 0),
    R(topic_migrate, EINVAL, NWL, .p = -1), R(topic_migrate, EINVAL, NWL, .p = INT32_MIN),
    R(topic_migrate, EINVAL, NWL, .p = CRAWLLOG_PARTITIONS_MAX + 1),
    R(topic_migrate, ENOTOPIC, NWL, .s = "nosuch", .p = 3), R(topic_migrate, EEXIST, EM_LOG, .v = "t2", .p = 3),
    R(topic_migration, EINVAL, NW, .null = 1), R(topic_migration, EINVAL, NWL, .null = 2),
    R(topic_migration, EINVAL, NWL, .null = 4), R(topic_migration, EINVAL, NWL, .s = "a/b"),
    R(topic_migration, ENOTOPIC, NWL, .s = "nosuch"), R(topic_migration, OK, NW, .k = 0), R(migration_free, OK, 0, .null = 1),
    R(partition_segments, EINVAL, NW, .null = 1), R(partition_segments, EINVAL, NWL, .null = 2),
    R(partition_segments, EINVAL, NWL, .null = 8), R(partition_segments, EINVAL, NWL, .null = 16),
    R(partition_segments, EINVAL, NWL, .p = -1), R(partition_segments, EINVAL, NWL, .p = INT32_MIN),
    R(partition_segments, ENOTOPIC, NWL, .p = 2), R(partition_segments, ENOTOPIC, NWL, .s = "nosuch"),
    R(partition_segments, EINVAL, NWL, .s = "a/b"), R(partition_segments, OK, NW, .p = 1),
    R(partition_batches, EINVAL, NW, .null = 1), R(partition_batches, EINVAL, NWL, .null = 2),
    R(partition_batches, EINVAL, NWL, .null = 16), R(partition_batches, EINVAL, NWL, .p = -1),
    R(partition_batches, ENOTOPIC, NWL, .p = 2), R(partition_batches, ENOTOPIC, NWL, .s = "nosuch"),
    R(partition_batches, EINVAL, NWL, .s = ".."), R(partition_batches, OK, NW, .o = INT64_MIN),
    R(partition_batches, OK, NW, .o = -1), R(partition_batches, OK, NW, .o = 1),
    R(partition_batches, OK, NW, .o = 2), R(partition_batches, OK, NW, .o = 3),
    R(partition_batches, OK, NW, .o = INT64_MAX), R(partition_batches, OK, NW, .null = 32),
    /* Now the groups g (CG commits) and gs (CS subscribes) exist: rows
     * before ran without their multi-MB files in every snapshot. */
    {F_COUNT, {0, .k = 0}, 0, 0},
    /* Consumers (a->k), and CC: after crawllog_consumer_close(). */
    R(consumer_new, EINVAL, NW | EM_ES, .null = 1, .n = ES), R(consumer_new, EINVAL, NW | EM_ES, .null = 4, .n = ES),
    R(consumer_new, EINVAL, NW | EM_ES, .null = 1, .n = 0), R(consumer_new, EINVAL, NW | EM_ES, .null = 1, .n = 1),
    R(consumer_new, EINVAL, NW | EM_ES, .null = 1, .n = SIZE_MAX), R(consumer_new, EINVAL, NW, .null = 1 | 8, .n = ES),
    R(consumer_set_rebalance_cb, EINVAL, 0, .null = 1), R(consumer_set_rebalance_cb, OK, 0, .k = CF),
    R(consumer_subscribe, EINVAL, NW, .null = 1, .n = 1), R(consumer_subscribe, EINVAL, NWH, .k = CF, .null = 2, .n = 1),
    R(consumer_subscribe, EINVAL, NWH, .k = CF, .n = 0), R(consumer_subscribe, EINVAL, NWH, .k = CF, .n = 65),
    R(consumer_subscribe, EINVAL, NWH, .k = CF, .n = SIZE_MAX), R(consumer_subscribe, EINVAL, NWH, .k = CF, .h = 1, .n = 1),
    R(consumer_subscribe, EINVAL, NWH, .k = CF, .h = 2, .n = 1), R(consumer_subscribe, EINVAL, NWH, .k = CF, .n = 1),
    R(consumer_subscribe, EMISUSE, NWH, .k = CG, .n = 1), R(consumer_subscribe, ECLOSED, NWH, .k = CC, .n = 1),
    R(consumer_assign, EINVAL, NW, .null = 1, .n = 1), R(consumer_assign, EINVAL, NWH, .k = CF, .null = 2, .n = 1),
    R(consumer_assign, EMISUSE, NWH, .k = CS, .n = 1), R(consumer_assign, ENOTOPIC, NWH, .k = CF, .s = "nosuch", .n = 1),
    R(consumer_assign, ENOTOPIC, NWH, .k = CF, .p = -1, .n = 1), R(consumer_assign, ENOTOPIC, NWH, .k = CF, .p = 2, .n = 1),
    R(consumer_assign, EINVAL, NWH, .k = CF, .h = 4, .n = 1), R(consumer_assign, EINVAL, NWH, .k = CF, .o = -5, .n = 1),
    R(consumer_assign, EINVAL, NWH, .k = CF, .o = INT64_MIN, .n = 1), R(consumer_assign, ECLOSED, NWH, .k = CC, .n = 1),
    R(consumer_assign, EINVAL, NWH, .k = CF, .s = "a/b", .n = 1), R(consumer_assign, OK, NW, .k = CF, .n = 0),
    R(consumer_poll, EINVAL, NW, .null = 1, .n = 1), R(consumer_poll, EINVAL, NWH, .k = CP, .null = 4, .n = 1),
    R(consumer_poll, EINVAL, NWH, .k = CP, .null = 16, .n = 1), R(consumer_poll, EINVAL, NWH, .k = CP, .n = 0),
    R(consumer_poll, OK, NW, .k = CP, .n = 1), R(consumer_poll, OK, NW, .k = CP, .n = SIZE_MAX),
    R(consumer_poll, OK, NW, .k = CP, .o = -1, .n = 8), R(consumer_poll, OK, NW, .k = CP, .o = INT_MIN, .n = 8),
    R(consumer_poll, OK, NW, .k = CP, .o = INT_MAX, .n = 8), R(consumer_poll, ECLOSED, NWH, .k = CC, .n = 1),
    R(consumer_commit, EINVAL, NW, .null = 1, .o = 2), R(consumer_commit, EINVAL, NWH, .k = CG, .h = 1, .o = 2),
    R(consumer_commit, EINVAL, NWH, .k = CN, .o = 2), R(consumer_commit, EINVAL, NWH, .k = CN, .null = 2, .o = 1),
    R(consumer_commit, EINVAL, NWH, .k = CG, .o = -1), R(consumer_commit, EINVAL, NWH, .k = CG, .o = 0),
    R(consumer_commit, EINVAL, NWH, .k = CG, .o = 3), R(consumer_commit, EINVAL, NWH, .k = CG, .o = INT64_MIN),
    R(consumer_commit, ECLOSED, NWH, .k = CC, .o = 2), R(consumer_commit, ECLOSED, NWH, .k = CC, .h = 1, .o = 2),
    R(consumer_commit, EINVAL, NWH, .k = CF, .null = 2, .o = 1), R(consumer_commit, EINVAL, NWH, .k = CS, .null = 2, .o = -1),
    R(consumer_commit, OK, 0, .k = CG, .o = 2),
    R(consumer_commit_offsets, EINVAL, NW, .null = 1, .n = 1), R(consumer_commit_offsets, EINVAL, NWH, .k = CG, .null = 2, .n = 1),
    R(consumer_commit_offsets, OK, NW, .k = CG, .n = 0), R(consumer_commit_offsets, EINVAL, NWH, .k = CG, .h = 4, .n = 1),
    R(consumer_commit_offsets, EINVAL, NWH, .k = CG, .s = "a/b", .n = 1), R(consumer_commit_offsets, EINVAL, NWH, .k = CG, .p = -1, .n = 1),
    R(consumer_commit_offsets, EINVAL, NWH, .k = CG, .o = -1, .n = 1), R(consumer_commit_offsets, EINVAL, NWH, .k = CG, .h = 2, .n = 1),
    R(consumer_commit_offsets, EINVAL, NWH, .k = CG, .h = 1, .o = 1, .n = 1),
    R(consumer_commit_offsets, EINVAL, NWH, .k = CN, .o = 1, .n = 1), R(consumer_commit_offsets, ECLOSED, NWH, .k = CC, .o = 1, .n = 1),
    R(consumer_commit_offsets, OK, 0, .k = CG, .o = 1, .n = 1),
    R(consumer_dead_letter, EINVAL, NW, .null = 1), R(consumer_dead_letter, EINVAL, NWH, .k = CG, .null = 2),
    R(consumer_dead_letter, EINVAL, NWH, .k = CG, .h = 1), R(consumer_dead_letter, EINVAL, NWH, .k = CN),
    R(consumer_dead_letter, ECLOSED, NWH, .k = CC, .h = 1),
    R(consumer_process, EINVAL, NW, .null = 1), R(consumer_process, EINVAL, NWH, .k = CG, .null = 2),
    R(consumer_process, EINVAL, NWH, .k = CG, .null = 4), R(consumer_process, EINVAL, NWH, .k = CG, .h = 1),
    R(consumer_process, ECLOSED, NWH, .k = CC, .h = 1), R(consumer_process, OK, NW, .k = CG), R(consumer_process, OK, NW, .k = CG, .null = 8 | 16),
    R(consumer_committed, EINVAL, NW, .null = 1), R(consumer_committed, EINVAL, NWH, .k = CG, .null = 2),
    R(consumer_committed, EINVAL, NWH, .k = CG, .null = 8), R(consumer_committed, EINVAL, NWH, .k = CN),
    R(consumer_committed, OK, NW, .k = CG), R(consumer_committed, OK, NW, .k = CG, .p = 1),
    R(consumer_committed, OK, NW, .k = CG, .s = "nosuch"), R(consumer_committed, OK, NW, .k = CG, .p = -1),
    R(consumer_committed, EINVAL, NWH, .k = CG, .s = "a/b"), R(consumer_seek, EINVAL, NW, .null = 1), R(consumer_seek, ENOTOPIC, NWH, .k = CP, .null = 2),
    R(consumer_seek, ENOTOPIC, NWH, .k = CP, .p = 1), R(consumer_seek, EINVAL, NWH, .k = CP, .o = -5),
    R(consumer_seek, EINVAL, NWH, .k = CP, .o = INT64_MIN), R(consumer_seek, EINVAL, NWH, .k = CP, .o = CRAWLLOG_OFFSET_COMMITTED),
    R(consumer_seek, EOFFSET, NWH, .k = CP, .o = 4), R(consumer_seek, EOFFSET, NWH, .k = CP, .o = INT64_MAX),
    R(consumer_seek, OK, NW, .k = CP, .o = CRAWLLOG_OFFSET_BEGINNING), R(consumer_seek, OK, NW, .k = CP, .o = CRAWLLOG_OFFSET_END),
    R(consumer_seek, OK, NW, .k = CP, .o = 3), R(consumer_seek, ENOTOPIC, NWH, .k = CC),
    R(consumer_seek_to_time, EINVAL, NW, .null = 1), R(consumer_seek_to_time, ENOTOPIC, NWH, .k = CP, .null = 2),
    R(consumer_seek_to_time, ENOTOPIC, NWH, .k = CP, .p = 1), R(consumer_seek_to_time, OK, NW, .k = CP, .o = INT64_MIN),
    R(consumer_seek_to_time, OK, NW, .k = CP, .o = -1), R(consumer_seek_to_time, OK, NW, .k = CP, .o = INT64_MAX),
    R(consumer_seek_to_time, ENOTOPIC, NWH, .k = CC),
    R(consumer_position, EINVAL, NW, .null = 1), R(consumer_position, EINVAL, NWH, .k = CP, .null = 8),
    R(consumer_position, ENOTOPIC, NWH, .k = CP, .p = 1), R(consumer_position, ENOTOPIC, NWH, .k = CP, .null = 2),
    R(consumer_position, OK, NW, .k = CP), R(consumer_position, ENOTOPIC, NWH, .k = CC),
    R(consumer_pause, EINVAL, NW, .null = 1, .n = 1), R(consumer_pause, EINVAL, NWH, .k = CP, .null = 2, .n = 1),
    R(consumer_pause, ENOTOPIC, NWH, .k = CP, .p = 1, .n = 1), R(consumer_pause, ENOTOPIC, NWH, .k = CP, .h = 4, .n = 1),
    R(consumer_pause, OK, NW, .k = CP, .n = 0), R(consumer_pause, OK, NW, .k = CP, .n = 1), R(consumer_pause, ENOTOPIC, NWH, .k = CC, .n = 1),
    R(consumer_resume, EINVAL, NW, .null = 1, .n = 1), R(consumer_resume, EINVAL, NWH, .k = CP, .null = 2, .n = 1),
    R(consumer_resume, ENOTOPIC, NWH, .k = CP, .p = 1, .n = 1), R(consumer_resume, OK, NW, .k = CP, .n = 1),
    R(consumer_assignment, EINVAL, NW, .null = 1), R(consumer_assignment, EINVAL, NWH, .k = CG, .null = 2),
    R(consumer_assignment, EINVAL, NWH, .k = CG, .null = 4), R(consumer_assignment, OK, NW, .k = CG),
    R(consumer_assignment, OK, NW, .k = CF), R(consumer_assignment, OK, NW, .k = CC),
    R(consumer_generation, OK, 0, .null = 1), R(consumer_generation, OK, 0, .k = CG),
    R(consumer_generation, OK, 0, .k = CS), R(consumer_generation, OK, 0, .k = CC),
    R(consumer_member_id, OK, 0, .null = 1), R(consumer_member_id, OK, 0, .k = CG),
    R(consumer_member_id, OK, 0, .k = CS), R(consumer_member_id, OK, 0, .k = CC),
    R(consumer_close, EINVAL, NW, .null = 1), R(consumer_close, OK, NW, .k = CC),
    R(consumer_destroy, OK, 0, .null = 1), R(consumer_errmsg, OK, 0, .null = 1), R(msg_topic, OK, 0, .null = 1), R(msg_topic, OK, 0, .null = 0),
    R(consumer_group_metadata, EINVAL, NW, .null = 1),
    R(consumer_group_metadata, EINVAL, NWH, .k = CG, .null = 2),
    R(consumer_group_metadata, EINVAL, NWH, .k = CN),
    R(consumer_group_metadata, EINVAL, NWH, .k = CF),
    R(consumer_group_metadata, EINVAL, NWH, .k = CP),
    R(consumer_group_metadata, OK, NW, .k = CG),
    R(consumer_group_metadata, OK, NW, .k = CS), R(consumer_group_metadata, OK, NW, .k = CC),
    R(group_metadata_destroy, OK, 0, .null = 1),
    R(msg_partition, OK, 0, .null = 1), R(msg_partition, OK, 0, .null = 0),
    /* Groups. */
    R(group_describe, EINVAL, NW, .null = 1), R(group_describe, EINVAL, NWL, .null = 2),
    R(group_describe, EINVAL, NWL, .null = 4), R(group_describe, ENOENT, NWL, .s = "nosuch"),
    R(group_describe, EINVAL, NWL, .s = "a/b"), R(group_describe, EINVAL, NWL, .s = ""),
    R(group_describe, OK, NW, .s = "g"), R(group_desc_free, OK, 0, .null = 1),
    R(group_list, EINVAL, NW, .null = 1), R(group_list, EINVAL, NWL, .null = 2), R(group_list, EINVAL, NWL, .null = 4), R(group_list, OK, NW, .k = 0),
    R(group_delete, EINVAL, NW, .null = 1, .s = "g"), R(group_delete, EINVAL, NWL, .null = 2),
    R(group_delete, EINVAL, NWL, .s = ""), R(group_delete, EINVAL, NWL, .s = "."),
    R(group_delete, EINVAL, NWL, .s = ".."), R(group_delete, EINVAL, NWL, .s = "a/b"),
    R(group_delete, EINVAL, NWL, .s = LONGNAME), R(group_delete, ENOENT, NWL, .s = "nosuch"), R(group_delete, EBUSY, NWL, .s = "gs"),
    R(group_set_offsets, EINVAL, NW, .null = 1, .v = "gw", .n = 1), R(group_set_offsets, EINVAL, NWL, .null = 2, .n = 1),
    R(group_set_offsets, EINVAL, NWL, .null = 4, .v = "gw", .n = 1), R(group_set_offsets, EINVAL, NWL, .v = "gw", .n = 0),
    R(group_set_offsets, EINVAL, NWL, .v = "a/b", .n = 1), R(group_set_offsets, EINVAL, NWL, .v = "gw", .h = 4, .n = 1),
    R(group_set_offsets, EINVAL, NWL, .v = "gw", .s = "a/b", .n = 1), R(group_set_offsets, EINVAL, NWL, .v = "gw", .p = -1, .n = 1),
    R(group_set_offsets, EINVAL, NWL, .v = "gw", .p = CRAWLLOG_PARTITIONS_MAX, .n = 1),
    R(group_set_offsets, EINVAL, NWL, .v = "gw", .p = INT32_MIN, .n = 1),
    R(group_set_offsets, EINVAL, NWL, .v = "gw", .h = 2, .n = 1), R(group_set_offsets, EBUSY, NWL, .v = "gs", .n = 1),
    R(group_set_offsets, OK, 0, .v = "gw", .p = CRAWLLOG_PARTITIONS_MAX - 1, .o = INT64_MAX, .n = 1),
};
/* clang-format on */

#define NCASES (sizeof(cases) / sizeof(cases[0]))

/* ---------------------------------------------------------------------- */
/* Runner and self-check                                                   */
/* ---------------------------------------------------------------------- */

static const char *code_name(int rc)
{
    return rc == MISUSE_BADVAL ? "BADVAL"
           : rc == MISUSE_BADOUT ? "BADOUT" : crawllog_err_name(rc);
}

#define is_producer(fn) ((fn) <= F_txn_abort)
#define is_consumer(fn) ((fn) >= F_consumer_new && (fn) <= F_msg_partition)

/* The message of the case's producer or consumer. */
static const char *handle_msg(const struct fx *f, const struct mcase *c)
{
    if (is_producer(c->fn) && c->a.k <= PF) {
        return crawllog_producer_errmsg(c->a.k == PF ? f->fz
                                                     : f->prod[c->a.k]);
    }
    return is_consumer(c->fn) ? crawllog_consumer_errmsg(f->cons[c->a.k]) : "";
}

/* Set the messages to known ones, so that a case that fails without a
 * message of its own is seen. */
static void prime(struct fx *f, const struct mcase *c)
{
    assert_crawllog_rc(
        crawllog_partition_offsets(f->log, PRIME, 0, NULL, NULL),
        CRAWLLOG_ENOTOPIC);
    snprintf(f->errstr, ES, "%s", PRIME);
    if (is_producer(c->fn) && c->a.k == PT) {
        /* Not a send: a failed one would doom an open transaction. */
        int32_t seq = 0;
        assert_crawllog_rc(crawllog_producer_next_sequence(f->prod[PT], PRIME,
                                                           0, &seq),
                           CRAWLLOG_ENOTOPIC);
    } else if (is_producer(c->fn) && c->a.k < NPROD) {
        assert_crawllog_rc(crawllog_producer_send(f->prod[c->a.k], PRIME, 0,
                                                  NULL, 0, "x", 1, NULL, 0,
                                                  NULL),
                           CRAWLLOG_ENOTOPIC);
    } else if (is_consumer(c->fn)) {
        assert_crawllog_rc(crawllog_consumer_seek(f->cons[c->a.k], PRIME, 0, 0),
                           CRAWLLOG_ENOTOPIC);
    }
}

static int msg_fresh(const char *msg)
{
    return msg[0] != '\0' && strstr(msg, PRIME) == NULL;
}

static const char *check_msg(const struct fx *f, const struct mcase *c)
{
    size_t n = c->a.n;
    if ((c->flags & EM_LOG) && !msg_fresh(crawllog_errmsg(f->log))) {
        return "crawllog_errmsg() not set";
    }
    if ((c->flags & EM_H) && !msg_fresh(handle_msg(f, c))) {
        return "the producer's / consumer's errmsg not set";
    }
    if ((c->flags & EM_ES) &&
        (n == 0   ? strcmp(f->errstr, PRIME) != 0
         : n == 1 ? f->errstr[0] != '\0' || f->errstr[1] != 'z'
                  : !msg_fresh(f->errstr))) {
        return "errstr not set as errstr_size demands";
    }
    return "";
}

/* 1 if every difference is the mtime of a group.state or lag.history:
 * each open of a group reserves their blocks again (posix_fallocate). */
static int reserve_only(const char *diff)
{
    for (const char *l = diff; *l != '\0';) {
        size_t k = strcspn(l, "\n");
        if (k > 0 && (strncmp(l, "changed: ", 9) != 0 || k < 29 ||
                      (strncmp(l + k - 20, "/group.state (mtime)", 20) != 0 &&
                       strncmp(l + k - 20, "/lag.history (mtime)", 20) != 0))) {
            return 0;
        }
        l += k + (l[k] != '\0');
    }
    return 1;
}

/* Snapshots hash every byte (multi-MB group files), which TSan makes
 * slow: its build checks races, the other builds what was written. */
#if defined(__SANITIZE_THREAD__)
#define SNAPS 0
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SNAPS 0
#endif
#endif
#ifndef SNAPS
#define SNAPS 1
#endif

/* The rows on PT and PF. */
#define is_scenario(c)                                                         \
    (is_producer((c)->fn) && ((c)->a.k == PT || (c)->a.k == PF))
#define SEND1(prod, topic)                                                     \
    crawllog_producer_send(prod, topic, 0, NULL, 0, "x", 1, NULL, 0, NULL)

/* Bring PT into the state c->a.txn names, or make the fenced PF: instance
 * 1 of "tf" sent in a transaction, then instance 2 (aborting it) came. */
static void scenario_begin(struct fx *f, const struct mcase *c)
{
    crawllog_producer_t *pt = f->prod[PT];
    if (c->a.k == PF) {
        assert_crawllog_ok(
            crawllog_producer_new(f->log, f->tfconf, &f->fz, NULL, 0));
        assert_crawllog_ok(crawllog_txn_begin(f->fz));
        assert_crawllog_ok(SEND1(f->fz, "w"));
        assert_crawllog_ok(
            crawllog_producer_new(f->log, f->tfconf, &f->fz_new, NULL, 0));
    } else if (c->a.txn != TX_NONE) {
        assert_crawllog_ok(crawllog_txn_begin(pt));
        if (c->a.txn == TX_DOOMED) {
            assert_crawllog_rc(SEND1(pt, "nosuch"), CRAWLLOG_ENOTOPIC);
        } else if (c->a.txn == TX_SENT) {
            assert_crawllog_ok(SEND1(pt, "w"));
        }
    }
}

/* Undo scenario_begin: "" or what is wrong.  PT's transaction is open iff
 * the row began one and did not end it, or its begin succeeded: abort must
 * then succeed, else say EMISUSE.  Then PT must begin and abort again. */
static const char *scenario_end(struct fx *f, const struct mcase *c, int rc)
{
    crawllog_producer_t *pt = f->prod[PT];
    int fn = c->fn;
    if (c->a.k == PF) {
        int rc1 = crawllog_producer_destroy(f->fz);
        int rc2 = crawllog_producer_destroy(f->fz_new);
        f->fz = f->fz_new = NULL;
        return rc1 != 0 || rc2 != 0 ? "destroying the fenced producers failed"
                                    : "";
    }
    int open = (c->a.txn != TX_NONE &&
                !((fn == F_txn_commit || fn == F_txn_abort) && rc == 0)) ||
               (fn == F_txn_begin && rc == 0);
    if (crawllog_txn_abort(pt) != (open ? 0 : CRAWLLOG_EMISUSE)) {
        return open ? "the transaction is not open (or not abortable) after "
                      "the call"
                    : "a transaction is open after the call";
    }
    if (crawllog_txn_begin(pt) != 0 || crawllog_txn_abort(pt) != 0) {
        return "PT cannot begin and abort a transaction after the call";
    }
    return "";
}

static int run_case(struct fx *f, const struct mcase *c, size_t i)
{
    char diff[2048] = "";
    int snap = (c->flags & NW) && SNAPS, scen = is_scenario(c);
    if (scen) { /* it may write: a new "before" */
        cl_test_snap_free(f->last);
        f->last = NULL;
        scenario_begin(f, c);
    }
    prime(f, c);
    /* After a case that wrote nothing, its "after" is this one's "before"
     * (only failing prime() calls ran since: they must not write either). */
    if (!snap) {
        cl_test_snap_free(f->last);
        f->last = NULL;
    }
    struct cl_test_snap *before =
        !snap ? NULL : f->last ? f->last : cl_test_snap_take(f->root);
    f->last = NULL;
    int rc = call(f, c->fn, &c->a);
    const char *why = rc != c->want ? "wrong code"
                      : rc < 0      ? check_msg(f, c)
                                    : "";
    if (before != NULL) {
        f->last = cl_test_snap_take(f->root);
        if (!cl_test_snap_equal(before, f->last, diff, sizeof(diff)) &&
            !reserve_only(diff) && why[0] == '\0') {
            why = "the directory changed";
        }
        cl_test_snap_free(before);
    }
    const char *end_why = "";
    if (scen) {
        end_why = scenario_end(f, c, rc);
        cl_test_snap_free(f->last);
        f->last = NULL;
    }
    if (why[0] == '\0') {
        why = end_why;
    }
    if (why[0] == '\0') {
        return 0;
    }
    print_error("case %zu: %s(null=0x%x k=%d h=%d p=%" PRId32 " o=%" PRId64
                " n=%zu s=%.20s v=%.20s txn=%d): %s: got %d %s, want %d %s; "
                "errmsg \"%s\" handle \"%s\" errstr \"%s\" %s\n",
                i, fn_names[c->fn], c->a.null, c->a.k, c->a.h, c->a.p,
                c->a.o, c->a.n, c->a.s ? c->a.s : "-",
                c->a.v ? c->a.v : "-", c->a.txn, why, rc, code_name(rc),
                c->want, code_name(c->want), crawllog_errmsg(f->log),
                handle_msg(f, c), f->errstr, diff);
    return 1;
}


/* Every function of every public header but crawllog.h has a case. */
static void test_misuse2_table_complete(void **state)
{
    static char names[256][64];
    size_t n = 0, missing = 0, headers = 0;
    int used[F_COUNT] = {0};
    struct dirent *de;
    DIR *d = opendir("include");
    (void)state;
    cl_test_checkf(d != NULL, "opendir include (run from the repo root)");
    while ((de = readdir(d)) != NULL) {
        char path[300];
        size_t len = strlen(de->d_name);
        if (len > 2 && strcmp(de->d_name + len - 2, ".h") == 0 &&
            strcmp(de->d_name, "crawllog.h") != 0) {
            snprintf(path, sizeof(path), "include/%s", de->d_name);
            n = cl_test_api_names(path, names, n, 256);
            headers++;
        }
    }
    closedir(d);
    for (size_t k = 0; k < NCASES; k++) {
        used[cases[k].fn < F_COUNT ? cases[k].fn : 0] = 1;
    }
    for (size_t i = 0; i < n; i++) {
        int k = 0;
        while (k < F_COUNT && strcmp(fn_names[k], names[i]) != 0) {
            k++;
        }
        if (k == F_COUNT || !used[k]) {
            print_error("no misuse case for %s\n", names[i]);
            missing++;
        }
    }
    cl_test_checkf(missing == 0, "%zu public function(s) without a case",
                   missing);
    cl_test_checkf(n == F_COUNT, "%zu functions declared, %d in FUNCS", n,
                   F_COUNT);
    print_message("misuse table (%zu other headers): %zu functions, %zu "
                  "cases\n", headers, n, NCASES);
}

static crawllog_consumer_t *consumer(crawllog_t *log, const char *group)
{
    crawllog_consumer_t *c = NULL;
    crawllog_conf_t *conf =
        group ? cl_test_conf("group.id", group, NULL) : NULL;
    assert_crawllog_ok(crawllog_consumer_new(log, conf, &c, NULL, 0));
    crawllog_conf_destroy(conf);
    return c;
}

static void assign_t0(crawllog_consumer_t *c)
{
    crawllog_topic_partition_t tp = {"t", 0, CRAWLLOG_OFFSET_BEGINNING, NULL};
    assert_crawllog_ok(crawllog_consumer_assign(c, &tp, 1));
}

/* Poll c until it owns want partitions (and, with firstp, got a message:
 * the first one into *firstp). */
static void poll_until(crawllog_consumer_t *c, const crawllog_msg_t **msgs,
                       size_t want, const crawllog_msg_t **firstp)
{
    crawllog_topic_partition_t *list = NULL;
    size_t owned = 0, n = 0;
    int64_t deadline = cl_test_mono_ms() + 5000;
    do {
        free(list);
        assert_crawllog_ok(crawllog_consumer_poll(c, 20, msgs, 512, &n));
        if (n > 0 && firstp != NULL && *firstp == NULL) {
            *firstp = msgs[0];
        }
        assert_crawllog_ok(crawllog_consumer_assignment(c, &list, &owned));
        cl_test_checkf(cl_test_mono_ms() < deadline, "no assignment");
    } while (owned < want || (firstp != NULL && *firstp == NULL));
    free(list);
}

/* The groups: g with t/0 committed at 1, gs with an active member. */
static void fx_groups(struct fx *f)
{
    const char *t = "t";
    assert_crawllog_ok(crawllog_consumer_commit(f->cons[CG], f->own[CG],
                                                CRAWLLOG_SYNC_DURABLE));
    assert_crawllog_ok(crawllog_consumer_subscribe(f->cons[CS], &t, 1));
    poll_until(f->cons[CS], f->pmsgs, 2, NULL);
}

static void fx_setup(struct fx *f, const char *root)
{
    crawllog_record_t r[2] = {{"k", 1, "v", 1, -1, NULL, 0},
                              {"k", 1, "w", 1, -1, NULL, 0}};
    memset(f, 0, sizeof(*f));
    snprintf(f->root, sizeof(f->root), "%s", root);
    cl_test_path(f->data, sizeof(f->data), root, "data");
    f->errstr = malloc(ES);
    assert_non_null(f->errstr);
    memset(f->meta, 'm', sizeof(f->meta) - 1); /* strlen 4096 */
    /* Small index files: snapshots hash every byte of every file. */
    crawllog_conf_t *lc = cl_test_conf("segment.index.bytes", "4096", NULL);
    f->log = cl_test_open(f->data, lc);
    crawllog_conf_destroy(lc);
    cl_test_create_topic(f->log, "t", 2, NULL);
    cl_test_create_topic(f->log, "t2", 1, NULL);
    cl_test_create_topic(f->log, "w", 1, NULL);
    cl_test_create_topic(f->log, "s", 1, NULL);
    /* t/0: a batch at offset 0, then one of offsets 1 and 2. */
    assert_crawllog_ok(crawllog_append(f->log, "t", 0, r, 1, 2, NULL));
    assert_crawllog_ok(crawllog_append(f->log, "t", 0, r, 2, 2, NULL));
    assert_crawllog_ok(crawllog_append(f->log, "t2", 0, r, 1, 2, NULL));
    /* The first use of a partition creates its files: done now. */
    assert_crawllog_ok(crawllog_partition_offsets(f->log, "t", 1, 0, 0));
    assert_crawllog_ok(crawllog_partition_offsets(f->log, "w", 0, 0, 0));
    assert_crawllog_ok(crawllog_partition_offsets(f->log, "s", 0, 0, 0));
    f->badpconf = cl_test_conf("enable.idempotence", "false", "producer.id",
                               "x", NULL);
    f->tfconf = cl_test_conf("transactional.id", "tf", NULL);
    crawllog_conf_t *pc[NPROD] = {
        NULL, cl_test_conf("enable.idempotence", "false", NULL),
        cl_test_conf("acks", "0", NULL), NULL,
        cl_test_conf("transactional.id", "tx", NULL)};
    for (int i = 0; i < NPROD; i++) {
        assert_crawllog_ok(
            crawllog_producer_new(f->log, pc[i], &f->prod[i], NULL, 0));
        crawllog_conf_destroy(pc[i]);
    }
    assert_crawllog_ok(crawllog_producer_set_partitioner(
        f->prod[PB], bad_partitioner, NULL));
    const char *groups[NCONS] = {"g", NULL, NULL, "gs", "gc", NULL};
    for (int i = 0; i < NCONS; i++) {
        f->cons[i] = consumer(f->log, groups[i]);
    }
    assign_t0(f->cons[CG]);
    poll_until(f->cons[CG], f->msgs, 1, &f->own[CG]);
    assert_crawllog_ok(crawllog_consumer_group_metadata(f->cons[CG], &f->md));
    assign_t0(f->cons[CN]);
    poll_until(f->cons[CN], f->nmsgs, 1, &f->own[CN]);
    assign_t0(f->cons[CC]);
    assert_crawllog_ok(crawllog_consumer_close(f->cons[CC]));
    assign_t0(f->cons[CP]);
    assert_crawllog_ok(crawllog_reader_new(&f->rd, f->log, "t", 0));
    f->rmsg = cl_test_next_msg(f->rd);
}

static void test_misuse2_cases(void **state)
{
    struct fx f;
    size_t failed = 0;
    int64_t end = -1;
    fx_setup(&f, CL_TEST_DIR(state));
    for (size_t i = 0; i < NCASES; i++) {
        if (cases[i].fn == F_COUNT) {
            cl_test_snap_free(f.last);
            f.last = NULL;
            fx_groups(&f);
            continue;
        }
        failed += (size_t)run_case(&f, &cases[i], i);
    }
    /* None of the refused sends exists: t/0 holds 0..2 still, t/1 none. */
    for (int32_t p = 0; p < 2; p++) {
        assert_crawllog_ok(crawllog_partition_offsets(f.log, "t", p, NULL,
                                                      &end));
        assert_int_equal(end, p == 0 ? 3 : 0);
    }
    for (int i = 0; i < NCONS; i++) {
        assert_crawllog_ok(crawllog_producer_destroy(i < NPROD ? f.prod[i]
                                                               : NULL));
        crawllog_consumer_destroy(f.cons[i]);
    }
    crawllog_reader_destroy(f.rd);
    cl_test_snap_free(f.last);
    crawllog_conf_destroy(f.badpconf);
    crawllog_conf_destroy(f.tfconf);
    crawllog_group_metadata_destroy(f.md);
    cl_test_close_verify(f.log, f.data);
    free(f.errstr);
    print_message("misuse cases (other headers): %zu run, %zu failed\n",
                  NCASES, failed);
    cl_test_checkf(failed == 0, "%zu of %zu misuse cases failed", failed,
                   NCASES);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_misuse2_table_complete),
        cmocka_unit_test_setup_teardown(test_misuse2_cases,
                                        cl_test_fast_tmpdir_setup,
                                        cl_test_tmpdir_teardown),
    };
    return cmocka_run_group_tests_name("api_misuse2", tests, NULL, NULL);
}
