/*
 * crawllog_cli.c - the `crawllog` command-line tool: global options, the
 * command table and main.
 *
 * A front end over the public API only (include/crawllog.h), like LMDB's
 * mdb_stat beside the library: every command is in a cli_*.c file (topics
 * cli_topics.c, produce cli_produce.c, consume/tail cli_consume.c, grep
 * cli_grep.c, groups cli_groups.c, lag/metrics cli_lag.c, dlq cli_dlq.c,
 * migrate cli_migrate.c, mirror cli_mirror.c, dump/stats/verify/retention
 * cli_inspect.c), shared helpers in cli_util.c (cli.h).  It owns nothing on disk beyond what the
 * library writes.  `crawllog help` lists the commands, `crawllog COMMAND
 * --help` explains one; docs/CLI.md holds the same texts (a test keeps
 * them in sync).
 *
 * Exit status (every command): 0 success, 1 an error (I/O, memory, ...),
 * 2 a usage error (with the usage on stderr), 3 not found (topic,
 * partition, group, offset), 4 damaged data (verify found problems, a CRC
 * mismatch), 5 refused by the state (exists, busy, fenced); errors are one
 * line on stderr, "crawllog: <what> <arg>: <CRAWLLOG_E...>: <detail>".
 * `lag check` uses Nagios' codes and `grep` grep's (see their --help).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "cli.h"
#include "crawllog.h"

#define DEFAULT_DIR "crawllog-data"

static const char usage_text[] =
    "usage: crawllog [-d DIR] [-X prop=value]... COMMAND [ARGS]\n"
    "  -d DIR      data directory (default: $CRAWLLOG_DIR, else "
    "./" DEFAULT_DIR ")\n"
    "  -X p=v      a conf property for opening the log (repeatable),\n"
    "              e.g. -X log.dir.create=false\n"
    "  -h          this help\n"
    "commands (crawllog COMMAND --help for each):\n"
    "  topics create|list|describe|delete|add-partitions|migrate|migration\n"
    "                  topics (\"topic\" works too)\n"
    "  offsets TOPIC   log start and end offset of each partition\n"
    "  produce TOPIC   stdin (or --file) lines as records\n"
    "  consume TOPIC   print records (manual partitions or --group)\n"
    "  tail TOPIC      consume -f from the log end\n"
    "  grep TOPIC      find records by key or bytes\n"
    "  dump TOPIC      the record batches of a partition, segment level\n"
    "  groups list|describe|delete|reset-offsets\n"
    "                  consumer groups, their offsets and lag\n"
    "  lag check       alerting probe (Nagios exit codes)\n"
    "  metrics         Prometheus text format (--listen serves it)\n"
    "  dlq list|show|replay\n"
    "                  dead-letter topics\n"
    "  mirror TOPIC    copy a topic to another log (--to DIR|kafka://...)\n"
    "  stats           the data directory in numbers\n"
    "  verify          full integrity check (exit 4 on damage)\n"
    "  retention run   roll and delete segments per retention\n"
    "  conf [--json]   print the conf built from -X options\n"
    "  version         print the library version\n"
    "  help            this help\n"
    "exit status: 0 ok, 1 error, 2 usage, 3 not found, 4 damaged data,\n"
    "5 refused (exists, busy, fenced); lag check and grep: see their --help\n";

/* Print a usage error and the usage text; returns CLI_EXIT_USAGE. */
static int usage_error(const char *fmt, const char *arg)
{
    return cli_usage(usage_text, fmt, arg);
}

/* Run argv[0] with its arguments argv[1..argc-1]. */
static int run_command(struct cli *c, int argc, char **argv)
{
    const char *cmd = argv[0];

    if (strcmp(cmd, "topics") == 0 || strcmp(cmd, "topic") == 0) {
        return cli_cmd_topics(c, argc - 1, argv + 1);
    } else if (strcmp(cmd, "produce") == 0) {
        return cli_cmd_produce(c, argc - 1, argv + 1);
    } else if (strcmp(cmd, "consume") == 0) {
        return cli_cmd_consume(c, argc - 1, argv + 1);
    } else if (strcmp(cmd, "tail") == 0) {
        return cli_cmd_tail(c, argc - 1, argv + 1);
    } else if (strcmp(cmd, "grep") == 0) {
        return cli_cmd_grep(c, argc - 1, argv + 1);
    } else if (strcmp(cmd, "groups") == 0) {
        return cli_cmd_groups(c, argc - 1, argv + 1);
    } else if (strcmp(cmd, "lag") == 0) {
        return cli_cmd_lag(c, argc - 1, argv + 1);
    } else if (strcmp(cmd, "metrics") == 0) {
        return cli_cmd_metrics(c, argc - 1, argv + 1);
    } else if (strcmp(cmd, "dlq") == 0) {
        return cli_cmd_dlq(c, argc - 1, argv + 1);
    } else if (strcmp(cmd, "mirror") == 0) {
        return cli_cmd_mirror(c, argc - 1, argv + 1);
    } else if (strcmp(cmd, "offsets") == 0) {
        return cli_cmd_offsets(c, argc - 1, argv + 1);
    } else if (strcmp(cmd, "dump") == 0) {
        return cli_cmd_dump(c, argc - 1, argv + 1);
    } else if (strcmp(cmd, "stats") == 0) {
        return cli_cmd_stats(c, argc - 1, argv + 1);
    } else if (strcmp(cmd, "verify") == 0) {
        return cli_cmd_verify(c, argc - 1, argv + 1);
    } else if (strcmp(cmd, "retention") == 0) {
        return cli_cmd_retention(c, argc - 1, argv + 1);
    } else if (strcmp(cmd, "maintain") == 0 && argc == 1) {
        char run[] = "run", *args[] = {run, NULL};
        return cli_cmd_retention(c, 1, args);
    } else if (argc == 2 && cli_is_help(argv[1]) &&
               (strcmp(cmd, "conf") == 0 || strcmp(cmd, "version") == 0 ||
                strcmp(cmd, "help") == 0)) {
        fputs(usage_text, stdout);
        return 0;
    } else if (strcmp(cmd, "conf") == 0 && argc == 2 &&
               strcmp(argv[1], "--json") == 0) {
        putchar('{');
        int st = cli_print_conf(c->conf, "", 1);
        puts("}");
        return st;
    } else if (argc != 1) {
        return usage_error("bad arguments for '%s'", cmd);
    } else if (strcmp(cmd, "conf") == 0) {
        return cli_print_conf(c->conf, "", 0);
    } else if (strcmp(cmd, "version") == 0) {
        printf("%s\n", crawllog_version_str());
        return 0;
    } else if (strcmp(cmd, "help") == 0) {
        fputs(usage_text, stdout);
        return 0;
    }
    return usage_error("unknown command '%s'", cmd);
}

/* Parse the global options; returns the index of the command, or -1 after
 * reporting (*st set). */
static int parse_globals(struct cli *c, int argc, char **argv, int *st)
{
    int i;

    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(usage_text, stdout);
            *st = 0;
            return -1;
        } else if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else if (i + 1 >= argc) {
            *st = usage_error("bad option '%s'", argv[i]);
            return -1;
        } else if (strcmp(argv[i], "-d") == 0) {
            c->dir = argv[++i];
        } else if (strcmp(argv[i], "-X") == 0) {
            if ((*st = cli_conf_set_spec(c->conf, "-X", argv[++i], usage_text)) != 0) {
                return -1;
            }
        } else {
            *st = usage_error("bad option '%s'", argv[i]);
            return -1;
        }
    }
    if (i >= argc) {
        *st = usage_error("%s", "no command");
        return -1;
    }
    return i;
}

int main(int argc, char **argv)
{
    struct cli c = {0};
    const char *env = getenv("CRAWLLOG_DIR");
    int st = 0, cmd, rc;

    c.dir = env != NULL && env[0] != '\0' ? env : DEFAULT_DIR;
    rc = crawllog_conf_new(&c.conf);
    if (rc != CRAWLLOG_OK) {
        return cli_fail("conf", NULL, rc, NULL);
    }
    cmd = parse_globals(&c, argc, argv, &st);
    if (cmd >= 0) {
        st = run_command(&c, argc - cmd, argv + cmd);
    }
    if (c.log != NULL) {
        rc = crawllog_close(c.log);
        if (rc != CRAWLLOG_OK && st == 0) {
            st = cli_fail("close", c.dir, rc, NULL);
        }
    }
    crawllog_conf_destroy(c.conf);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "crawllog: writing stdout: %s\n", strerror(errno));
        st = st != 0 ? st : 1;
    }
    return st;
}
