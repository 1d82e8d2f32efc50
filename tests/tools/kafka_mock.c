/*
 * kafka_mock.c - a librdkafka mock cluster in its own process, for the
 * cross-process Kafka tests (examples and the crawllog tool against one
 * shared cluster: `crawllog -d kafka://<bootstraps> ...`).
 *
 *   kafka_mock [--brokers N] [--topic NAME:PARTITIONS]...
 *
 * Starts librdkafka's in-process mock cluster with N brokers (default 3),
 * creates the given topics (replication factor 1), prints the bootstrap
 * list ("127.0.0.1:port,...") as the first line of stdout and flushes it,
 * then serves until stdin reaches end of file or SIGTERM / SIGINT arrives.
 * Exit status: 0 after a clean shutdown, 1 if the cluster cannot be
 * started, 2 for a usage error.  Diagnostics go to stderr.
 *
 * Built by `make kafka` as <builddir>/kafka/tools/kafka_mock, linked with
 * -lrdkafka only (not with libcrawllog).  The mock cluster lives in the
 * rd_kafka_t handle that owns it; its brokers are threads of this process.
 * librdkafka 2.0.2's mock does not implement CreateTopics: topics are
 * created here (--topic), or auto-created with the cluster's default
 * partition count when a client names them in a Metadata request.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define TOPICS_MAX 64

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: kafka_mock [--brokers N] [--topic NAME:PARTITIONS]...\n"
               "  Starts a librdkafka mock cluster of N brokers (default 3, "
               "1..32),\n"
               "  creates the topics, prints the bootstrap servers on the "
               "first line\n"
               "  of stdout and serves until stdin is closed or SIGTERM/"
               "SIGINT.\n");
}

/* A decimal integer in [lo, hi], or -1. */
static long parse_num(const char *s, long lo, long hi)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
        return -1;
    }
    return v;
}

struct topic_arg {
    char name[250];
    int partitions;
};

/* "NAME:PARTITIONS" into t; 0, or -1 with a message. */
static int parse_topic(const char *s, struct topic_arg *t)
{
    const char *colon = strrchr(s, ':');
    size_t len = colon ? (size_t)(colon - s) : 0;
    if (colon == NULL || len == 0 || len >= sizeof(t->name)) {
        fprintf(stderr, "kafka_mock: --topic %s: expected NAME:PARTITIONS\n",
                s);
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')) {
            fprintf(stderr, "kafka_mock: --topic %s: invalid topic name\n", s);
            return -1;
        }
    }
    long n = parse_num(colon + 1, 1, 10000);
    if (n < 0) {
        fprintf(stderr, "kafka_mock: --topic %s: partitions must be 1..10000\n",
                s);
        return -1;
    }
    memcpy(t->name, s, len);
    t->name[len] = '\0';
    t->partitions = (int)n;
    return 0;
}

int main(int argc, char **argv)
{
    long brokers = 3;
    static struct topic_arg topics[TOPICS_MAX];
    int ntopics = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            fprintf(stderr,
                    "kafka_mock: %s: unknown option or missing "
                    "value\n",
                    a);
            usage(stderr);
            return 2;
        }
        if (strcmp(a, "--brokers") == 0) {
            brokers = parse_num(argv[++i], 1, 32);
            if (brokers < 0) {
                fprintf(stderr, "kafka_mock: --brokers %s: must be 1..32\n",
                        argv[i]);
                return 2;
            }
        } else if (strcmp(a, "--topic") == 0) {
            if (ntopics == TOPICS_MAX) {
                fprintf(stderr, "kafka_mock: more than %d topics\n",
                        TOPICS_MAX);
                return 2;
            }
            if (parse_topic(argv[++i], &topics[ntopics]) != 0) {
                return 2;
            }
            ntopics++;
        } else {
            fprintf(stderr, "kafka_mock: %s: unknown option\n", a);
            usage(stderr);
            return 2;
        }
    }

    /* librdkafka's threads inherit this mask: the signals go to the main
     * thread, whose read below they interrupt (no SA_RESTART). */
    sigset_t sigs, old;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &sigs, &old);

    char errstr[512], num[24];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    snprintf(num, sizeof(num), "%ld", brokers);
    if (rd_kafka_conf_set(conf, "test.mock.num.brokers", num, errstr,
                          sizeof(errstr)) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "client.id", "kafka_mock", errstr,
                          sizeof(errstr)) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "log_level", "4", errstr, sizeof(errstr)) !=
            RD_KAFKA_CONF_OK) {
        fprintf(stderr, "kafka_mock: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return 1;
    }
    rd_kafka_t *rk =
        rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (rk == NULL) {
        fprintf(stderr, "kafka_mock: rd_kafka_new: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return 1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_handle_mock_cluster(rk);
    if (mc == NULL) {
        fprintf(stderr, "kafka_mock: no mock cluster in the handle\n");
        rd_kafka_destroy(rk);
        return 1;
    }
    for (int i = 0; i < ntopics; i++) {
        rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(
            mc, topics[i].name, topics[i].partitions, 1);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            fprintf(stderr, "kafka_mock: topic %s: %s: %s\n", topics[i].name,
                    rd_kafka_err2name(err), rd_kafka_err2str(err));
            rd_kafka_destroy(rk);
            return 1;
        }
    }
    printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
    if (fflush(stdout) != 0) {
        fprintf(stderr, "kafka_mock: stdout: %s\n", strerror(errno));
        rd_kafka_destroy(rk);
        return 1;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: the read returns EINTR */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigdelset(&old, SIGTERM);
    sigdelset(&old, SIGINT);
    pthread_sigmask(SIG_SETMASK, &old, NULL);

    int status = 0;
    while (!stop_signal) {
        char buf[256];
        ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
        if (n == 0) {
            break; /* end of file */
        }
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "kafka_mock: stdin: %s\n", strerror(errno));
            status = 1;
            break;
        }
    }
    rd_kafka_destroy(rk);
    return status;
}
