/*
 * fuzz_record.c - libFuzzer target: the RecordBatch v2 decoder
 * (libcrawllog/record_read.c) directly on the input bytes.
 *
 * The input is one batch.  If the top bit of byte 0 is set (a valid batch
 * never has it: baseOffset >= 0) it is cleared and the CRC is recomputed
 * first, so the fuzzer also reaches the record decoding behind the CRC
 * check of cl_record_batch_validate.
 *
 * Oracles (besides ASan/UBSan: no read outside the exact-size copy):
 *  - validate() == 0  <=>  header ok, CRC ok, the iterator yields exactly
 *    records_count records with offsets base + i and then ends (1), and
 *    every header of every record decodes;
 *  - cl_record_header_at(header_count) is CRAWLLOG_EINVAL;
 *  - a valid batch re-encoded with cl_record_batch_encode decodes to the
 *    same records (keys, values, timestamps, headers), and the encoding
 *    validates.
 */
#include "fuzz_common.h"

#include "crc32c.h"
#include "record.h"

#define MAX_RECS 4096

struct rec {
    crawllog_record_t r;
    crawllog_header_t *h;
};

/* Compare two record views' headers; 0 when equal. */
static int same_view(const struct cl_record_view *a,
                     const struct cl_record_view *b)
{
    if (a->timestamp != b->timestamp || a->key_len != b->key_len ||
        a->value_len != b->value_len || a->header_count != b->header_count) {
        return -1;
    }
    if ((a->key == NULL) != (b->key == NULL) ||
        (a->key && memcmp(a->key, b->key, (size_t)a->key_len) != 0)) {
        return -1;
    }
    if ((a->value == NULL) != (b->value == NULL) ||
        (a->value && memcmp(a->value, b->value, (size_t)a->value_len) != 0)) {
        return -1;
    }
    for (int32_t i = 0; i < a->header_count; i++) {
        crawllog_header_t x, y;
        if (cl_record_header_at(a, (size_t)i, &x) != 0 ||
            cl_record_header_at(b, (size_t)i, &y) != 0 ||
            x.name_len != y.name_len || x.value_len != y.value_len ||
            (x.value == NULL) != (y.value == NULL) ||
            memcmp(x.name, y.name, x.name_len) != 0 ||
            (x.value && memcmp(x.value, y.value, x.value_len) != 0)) {
            return -1;
        }
    }
    return 0;
}

/* Re-encode a valid batch and check the round trip. */
static void roundtrip(const uint8_t *buf, size_t size,
                      const struct cl_batch_hdr *h)
{
    struct cl_record_iter it;
    struct cl_record_view rv;
    int32_t n = h->records_count;
    if (n > MAX_RECS) {
        return;
    }
    struct cl_record_view *views = calloc((size_t)n, sizeof(*views));
    crawllog_record_t *recs = calloc((size_t)n, sizeof(*recs));
    crawllog_header_t **hdrs = calloc((size_t)n, sizeof(*hdrs));
    FZ_CHECK(views && recs && hdrs, "calloc");
    FZ_CHECK(cl_record_iter_init(&it, buf, size) == 0, "iter_init");
    int negative_ts = 0;
    for (int32_t i = 0; i < n; i++) {
        FZ_CHECK(cl_record_iter_next(&it, &views[i]) == 0, "next %d", i);
        rv = views[i];
        if (rv.timestamp < 0) {
            negative_ts = 1; /* encode would take the append time */
        }
        recs[i].key = rv.key;
        recs[i].key_len = rv.key_len < 0 ? 0 : (size_t)rv.key_len;
        recs[i].value = rv.value;
        recs[i].value_len = rv.value_len < 0 ? 0 : (size_t)rv.value_len;
        recs[i].timestamp = rv.timestamp;
        if (rv.header_count > 0) {
            hdrs[i] = calloc((size_t)rv.header_count, sizeof(**hdrs));
            FZ_CHECK(hdrs[i] != NULL, "calloc");
            for (int32_t j = 0; j < rv.header_count; j++) {
                FZ_CHECK(cl_record_header_at(&rv, (size_t)j, &hdrs[i][j]) ==
                             0,
                         "header %d/%d", i, j);
            }
            recs[i].headers = hdrs[i];
            recs[i].header_count = (size_t)rv.header_count;
        }
    }
    if (!negative_ts) {
        struct cl_batch_meta meta = {h->producer_id, h->producer_epoch,
                                     h->base_sequence, h->attributes};
        size_t need = cl_record_batch_size(recs, (size_t)n);
        FZ_CHECK(need >= CL_BATCH_HEADER_SIZE, "size %zu", need);
        uint8_t *out = malloc(need);
        FZ_CHECK(out != NULL, "malloc");
        size_t got =
            cl_record_batch_encode(out, need, recs, (size_t)n, 0, &meta);
        FZ_CHECK(got == need, "encode %zu != size %zu", got, need);
        cl_record_batch_set_base_offset(out, h->base_offset);
        char why[128];
        FZ_CHECK(cl_record_batch_validate(out, got, why, sizeof(why)) == 0,
                 "re-encoded batch invalid: %s", why);
        struct cl_record_iter it2;
        FZ_CHECK(cl_record_iter_init(&it2, out, got) == 0, "iter2");
        for (int32_t i = 0; i < n; i++) {
            FZ_CHECK(cl_record_iter_next(&it2, &rv) == 0, "next2 %d", i);
            FZ_CHECK(rv.offset == views[i].offset, "offset %d", i);
            FZ_CHECK(same_view(&rv, &views[i]) == 0, "record %d differs",
                     i);
        }
        FZ_CHECK(cl_record_iter_next(&it2, &rv) == 1, "end2");
        free(out);
    }
    for (int32_t i = 0; i < n; i++) {
        free(hdrs[i]);
    }
    free(hdrs);
    free(recs);
    free(views);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size heap copy: ASan sees any read past its end. */
    uint8_t *buf = malloc(size ? size : 1);
    if (buf == NULL) {
        return 0;
    }
    memcpy(buf, data, size);
    if (size >= CL_BATCH_HEADER_SIZE && (buf[0] & 0x80) != 0) {
        buf[0] &= 0x7f;
        fz_put_u32(buf + CL_BATCH_OFF_CRC,
                   cl_crc32c(0, buf + CL_BATCH_OFF_ATTRIBUTES,
                             size - CL_BATCH_OFF_ATTRIBUTES));
    }

    struct cl_batch_hdr h;
    int hrc = cl_record_batch_header(buf, size, &h);
    FZ_CHECK(hrc == 0 || hrc == 1 || hrc == CRAWLLOG_ECORRUPT ||
                 hrc == CRAWLLOG_EVERSION,
             "header rc %d", hrc);
    FZ_CHECK((hrc == 1) == (size < CL_BATCH_HEADER_SIZE), "short rc");
    int crc = cl_record_batch_check_crc(buf, size);
    char why[128] = "";
    int vrc = cl_record_batch_validate(buf, size, why, sizeof(why));
    FZ_CHECK(vrc == 0 || vrc == CRAWLLOG_ECORRUPT || vrc == CRAWLLOG_EVERSION,
             "validate rc %d", vrc);
    FZ_CHECK(vrc != 0 || why[0] == '\0', "reason on success: %s", why);
    FZ_CHECK(vrc == 0 || why[0] != '\0', "no reason for %d", vrc);

    /* Iterate whatever the header allows, touching every byte handed out. */
    struct cl_record_iter it;
    int irc = cl_record_iter_init(&it, buf, size);
    int all_ok = 0;
    int32_t count = 0;
    if (irc == 0) {
        FZ_CHECK(hrc == 0 && cl_record_batch_total(&h) == size, "init ok");
        struct cl_record_view rv;
        int rc;
        unsigned sum = 0;
        int headers_ok = 1;
        while ((rc = cl_record_iter_next(&it, &rv)) == 0) {
            FZ_CHECK(rv.offset == h.base_offset + count, "offset %lld",
                     (long long)rv.offset);
            FZ_CHECK(rv.key_len >= -1 && rv.value_len >= -1, "lengths");
            FZ_CHECK((rv.key == NULL) == (rv.key_len == -1), "null key");
            FZ_CHECK((rv.value == NULL) == (rv.value_len == -1), "null val");
            for (int32_t i = 0; i < rv.key_len; i++) {
                sum += rv.key[i];
            }
            for (int32_t i = 0; i < rv.value_len; i++) {
                sum += rv.value[i];
            }
            for (int32_t i = 0; i < rv.header_count && i < 64; i++) {
                crawllog_header_t hd;
                int r = cl_record_header_at(&rv, (size_t)i, &hd);
                FZ_CHECK(r == 0 || r == CRAWLLOG_ECORRUPT, "hdr rc %d", r);
                if (r != 0) {
                    headers_ok = 0;
                    break;
                }
                for (size_t k = 0; k < hd.name_len; k++) {
                    sum += (uint8_t)hd.name[k];
                }
                for (size_t k = 0; hd.value && k < hd.value_len; k++) {
                    sum += ((const uint8_t *)hd.value)[k];
                }
            }
            crawllog_header_t hd;
            FZ_CHECK(cl_record_header_at(&rv, (size_t)rv.header_count,
                                         &hd) == CRAWLLOG_EINVAL,
                     "header_at(count)");
            count++;
        }
        FZ_CHECK(rc == 1 || rc == CRAWLLOG_ECORRUPT, "next rc %d", rc);
        FZ_CHECK(count <= h.records_count, "count %d > %d", count,
                 h.records_count);
        all_ok = rc == 1 && headers_ok;
        FZ_CHECK(rc != 1 || count == h.records_count, "count mismatch");
        (void)sum;
    }
    /* The headers are validated by validate() as skip_headers does. */
    FZ_CHECK((vrc == 0) == (crc == 0 && irc == 0 && all_ok),
             "validate %d (%s) but crc %d iter %d all_ok %d", vrc, why, crc,
             irc, all_ok);
    if (vrc == 0) {
        roundtrip(buf, size, &h);
    }
    free(buf);
    return 0;
}
