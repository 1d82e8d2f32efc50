/*
 * fuzz_names_conf.c - libFuzzer target: name validators (names.c) and
 * configuration parsing (conf.c).
 *
 * Input: byte 0 picks the mode (low 2 bits), the rest is the text:
 *   0  names: the text (up to its first NUL) as a topic name, a segment
 *      file name and a partition directory name;
 *   1  crawllog_conf_set: key and value split at the first NUL (or '=');
 *   2  cl_conf_topic_parse: the text as the body of a topic.meta;
 *   3  a sequence of "key=value" lines given to crawllog_conf_set one by
 *      one (the last one wins), then get/dump/dup.
 *
 * Oracles: cl_names_topic_valid agrees with an independent implementation
 * of [A-Za-z0-9._-]{1,249} minus "." and ".."; a parsed segment or
 * partition name prints back to the same text; a value accepted by
 * crawllog_conf_set reads back with crawllog_conf_get and is accepted
 * again with the same result (a fixed point), an unknown key is refused
 * and a refused set leaves the conf unchanged (same dump); a parsed
 * topic body serialises and parses back to the same serialisation.
 */
#include "fuzz_common.h"

#include "conf.h"
#include "crawllog.h"
#include "io.h"
#include "names.h"

static int my_topic_valid(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > CRAWLLOG_TOPIC_NAME_MAX || strcmp(s, ".") == 0 ||
        strcmp(s, "..") == 0) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')) {
            return 0;
        }
    }
    return 1;
}

static void do_names(const char *s)
{
    int v = cl_names_topic_valid(s);
    FZ_CHECK(v == my_topic_valid(s), "topic_valid(\"%s\") = %d", s, v);

    int64_t base = -1;
    const char *suffix = NULL;
    if (cl_names_parse_segment(s, &base, &suffix) == 0) {
        char out[CL_NAMES_SEGMENT_MAX];
        FZ_CHECK(base >= 0 && suffix != NULL, "parse_segment outputs");
        FZ_CHECK(cl_names_segment(out, sizeof(out), base, suffix) == 0 &&
                     strcmp(out, s) == 0,
                 "segment name \"%s\" prints back as \"%s\"", s, out);
    } else {
        FZ_CHECK(base == -1 && suffix == NULL, "outputs set on failure");
    }
    int32_t p = -1;
    if (cl_names_parse_partition(s, &p) == 0) {
        char out[16];
        FZ_CHECK(p >= 0 && p < CRAWLLOG_PARTITIONS_MAX, "partition %d", p);
        FZ_CHECK(cl_names_partition(out, sizeof(out), p) == 0 &&
                     strcmp(out, s) == 0,
                 "partition \"%s\" prints back as \"%s\"", s, out);
    }
    /* Producing names from fuzzed numbers must never overflow. */
    char small[8];
    uint64_t u = 0;
    for (size_t i = 0; i < 8 && s[i]; i++) {
        u = u << 8 | (uint8_t)s[i];
    }
    int64_t b = (int64_t)u;
    char out[CL_NAMES_SEGMENT_MAX];
    int rc = cl_names_segment(out, sizeof(out), b, ".log");
    FZ_CHECK((rc == 0) == (b >= 0), "segment(%lld)", (long long)b);
    if (rc == 0) {
        int64_t back;
        FZ_CHECK(cl_names_parse_segment(out, &back, NULL) == 0 && back == b,
                 "segment %lld round trip", (long long)b);
    }
    FZ_CHECK(cl_names_segment(small, sizeof(small), b, ".log") == -1 &&
                 small[0] == '\0',
             "small buffer");
    rc = cl_names_partition(out, sizeof(out), (int32_t)b);
    FZ_CHECK((rc == 0) == ((int32_t)b >= 0 &&
                           (int32_t)b < CRAWLLOG_PARTITIONS_MAX),
             "partition(%d)", (int32_t)b);
}

static char *dump(const crawllog_conf_t *c)
{
    char *t = NULL;
    FZ_CHECK(crawllog_conf_dump(c, &t) == 0 && t != NULL, "dump");
    return t;
}

/* Set key=value on c and check the documented behaviour. */
static void set_one(crawllog_conf_t *c, const char *key, const char *value)
{
    char err[CRAWLLOG_ERRSTR_SIZE] = "";
    char *before = dump(c);
    int rc = crawllog_conf_set(c, key, value, err, sizeof(err));
    FZ_CHECK(rc == 0 || rc == CRAWLLOG_EINVAL, "set rc %d", rc);
    char buf[64];
    size_t size = sizeof(buf);
    int grc = crawllog_conf_get(c, key, buf, &size);
    if (rc != 0) {
        char *after = dump(c);
        FZ_CHECK(strcmp(before, after) == 0, "failed set changed the conf");
        FZ_CHECK(err[0] != '\0', "no message");
        free(after);
        free(before);
        return;
    }
    free(before);
    FZ_CHECK(grc == 0 || grc == CRAWLLOG_ETOOBIG, "get of a set key: %d",
             grc);
    char *val = malloc(size);
    FZ_CHECK(val != NULL, "malloc");
    size_t size2 = size;
    FZ_CHECK(crawllog_conf_get(c, key, val, &size2) == 0 && size2 == size &&
                 strlen(val) + 1 == size,
             "get with the size asked for");
    /* The normalised value is accepted again and reads back the same. */
    crawllog_conf_t *c2 = NULL;
    FZ_CHECK(crawllog_conf_dup(&c2, c) == 0, "dup");
    rc = crawllog_conf_set(c2, key, val, err, sizeof(err));
    FZ_CHECK(rc == 0, "value \"%s\" read back from %s is refused: %s", val,
             key, err);
    char *d1 = dump(c), *d2 = dump(c2);
    FZ_CHECK(strcmp(d1, d2) == 0, "set(get()) changed %s", key);
    free(d1);
    free(d2);
    crawllog_conf_destroy(c2);
    free(val);
}

static void do_conf_set(const char *key, const char *value)
{
    crawllog_conf_t *c = NULL;
    FZ_CHECK(crawllog_conf_new(&c) == 0, "conf_new");
    set_one(c, key, value);
    char buf[64];
    size_t size = sizeof(buf);
    int known = crawllog_conf_get(c, key, buf, &size) != CRAWLLOG_EINVAL;
    if (!known) {
        char err[CRAWLLOG_ERRSTR_SIZE];
        FZ_CHECK(crawllog_conf_set(c, key, "1", err, sizeof(err)) ==
                     CRAWLLOG_EINVAL,
                 "unknown key %s accepted", key);
    }
    crawllog_conf_destroy(c);
}

static void do_topic_parse(const char *text, size_t len)
{
    crawllog_conf_t *c = NULL;
    char err[CRAWLLOG_ERRSTR_SIZE] = "";
    FZ_CHECK(crawllog_conf_new(&c) == 0, "conf_new");
    char *before = dump(c);
    int rc = cl_conf_topic_parse(c, text, len, err, sizeof(err));
    FZ_CHECK(rc == 0 || rc == CRAWLLOG_ECORRUPT || rc == CRAWLLOG_ENOMEM,
             "parse rc %d", rc);
    if (rc != 0) {
        char *after = dump(c);
        FZ_CHECK(strcmp(before, after) == 0, "failed parse changed conf");
        free(after);
    } else {
        FZ_CHECK(cl_conf_check_topic_only(c, err, sizeof(err)) == 0,
                 "parsed a log-scope key: %s", err);
        char *s1 = NULL, *s2 = NULL;
        FZ_CHECK(cl_conf_topic_serialize(c, &s1) == 0, "serialize");
        crawllog_conf_t *c2 = NULL;
        FZ_CHECK(crawllog_conf_new(&c2) == 0, "conf_new");
        rc = cl_conf_topic_parse(c2, s1, strlen(s1), err, sizeof(err));
        FZ_CHECK(rc == 0, "serialisation does not parse: %s\n%s", err, s1);
        FZ_CHECK(cl_conf_topic_serialize(c2, &s2) == 0, "serialize 2");
        FZ_CHECK(strcmp(s1, s2) == 0, "serialisation not a fixed point");
        cl_io_free(s1);
        cl_io_free(s2);
        crawllog_conf_destroy(c2);
    }
    free(before);
    crawllog_conf_destroy(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536) {
        return 0;
    }
    unsigned mode = data[0] & 3u;
    size_t len = size - 1;
    char *text = malloc(len + 1);
    FZ_CHECK(text != NULL, "malloc");
    memcpy(text, data + 1, len);
    text[len] = '\0';
    switch (mode) {
    case 0:
        do_names(text);
        break;
    case 1: {
        size_t klen = strlen(text);
        const char *value;
        char *eq = strchr(text, '=');
        if (klen < len) {
            value = text + klen + 1; /* split at the NUL */
        } else if (eq != NULL) {
            *eq = '\0';
            value = eq + 1;
        } else {
            value = "";
        }
        do_conf_set(text, value);
        break;
    }
    case 2:
        do_topic_parse(text, len);
        break;
    default: {
        crawllog_conf_t *c = NULL;
        FZ_CHECK(crawllog_conf_new(&c) == 0, "conf_new");
        char *save = NULL;
        for (char *line = strtok_r(text, "\n", &save); line != NULL;
             line = strtok_r(NULL, "\n", &save)) {
            char *eq = strchr(line, '=');
            if (eq != NULL) {
                *eq = '\0';
                set_one(c, line, eq + 1);
            }
        }
        crawllog_conf_t *d = NULL;
        FZ_CHECK(crawllog_conf_dup(&d, c) == 0, "dup");
        char *d1 = dump(c), *d2 = dump(d);
        FZ_CHECK(strcmp(d1, d2) == 0, "dup differs");
        free(d1);
        free(d2);
        crawllog_conf_destroy(d);
        crawllog_conf_destroy(c);
        break;
    }
    }
    free(text);
    return 0;
}
