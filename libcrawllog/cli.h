/*
 * cli.h - what the files of the crawllog tool share (crawllog_cli.c and
 * the cli_*.c files).  Not part of the library: these files
 * are linked into the crawllog binary only and use the public header only.
 *
 * Conventions of every command: errors are one line on stderr,
 * "crawllog: <what> <arg>: <CRAWLLOG_E...>: <detail>" (cli_fail), and the
 * exit status says the class of the problem (CLI_EXIT_*, from the library
 * code by cli_exit_code); usage errors print the problem and the command's
 * usage on stderr and exit CLI_EXIT_USAGE (2); `--help` (or -h) prints the
 * command's usage on stdout and exits 0.  Listings take --json (one JSON
 * value on stdout).  Long operations show a progress line on stderr only
 * when stderr is a terminal (struct cli_progress).
 */
#ifndef CRAWLLOG_CLI_H
#define CRAWLLOG_CLI_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "crawllog.h"

/* Exit statuses (docs/CLI.md "Exit status"); `lag check` keeps Nagios'
 * 0 OK, 1 breached, 2 usage, 3 unknown. */
#define CLI_EXIT_OK 0
#define CLI_EXIT_ERROR 1    /* I/O, memory, anything not below */
#define CLI_EXIT_USAGE 2    /* bad command line */
#define CLI_EXIT_NOTFOUND 3 /* no such topic, partition, group, offset */
#define CLI_EXIT_DAMAGED 4  /* damaged or unreadable data (verify: problems) */
#define CLI_EXIT_REFUSED 5  /* the state forbids it: exists, busy, fenced */

/* The exit status for a library code (CRAWLLOG_OK: 0). */
int cli_exit_code(int rc);

/* Global options and state of one run. */
struct cli {
    const char *dir;       /* data directory */
    crawllog_conf_t *conf; /* from -X options */
    crawllog_t *log;       /* opened lazily by cli_open() */
};

/* "crawllog: " fmt (with arg) on stderr, then usage; returns
 * CLI_EXIT_USAGE. */
int cli_usage(const char *usage, const char *fmt, const char *arg);

/* 1 if arg asks for help ("--help" or "-h"). */
int cli_is_help(const char *arg);

/* Print usage on stdout for --help; returns 0. */
int cli_help(const char *usage);

/* Report a library error ("crawllog: what arg: CRAWLLOG_E...: detail",
 * detail defaulting to the code's description); returns
 * cli_exit_code(rc). */
int cli_fail(const char *what, const char *arg, int rc, const char *detail);

/* cli_fail with crawllog_errmsg() of the open log as the detail. */
int cli_fail_log(struct cli *c, const char *what, const char *arg, int rc);

/* Strict decimal integer in [lo, hi]: 0, or -1 if s is not one. */
int cli_parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out);

/* Set "name=value" (spec) on conf; opt names the option in messages.
 * Returns 0, the exit status of the library's refusal, or CLI_EXIT_USAGE
 * (no '=', with usage). */
int cli_conf_set_spec(crawllog_conf_t *conf, const char *opt,
                      const char *spec, const char *usage);

/* Print conf's properties: "name=value" lines after prefix, or (json) the
 * members of a JSON object ("name":"value",...; the braces are the
 * caller's).  Returns 0 or the exit status. */
int cli_print_conf(const crawllog_conf_t *conf, const char *prefix,
                   int json);

/* Print the names a lister (crawllog_topic_list, crawllog_group_list)
 * returns, one a line or as a JSON array.  Returns 0 or the status. */
int cli_print_names(struct cli *c, const char *what,
                    int (*list)(crawllog_t *, char ***, size_t *), int json);

/* Open the log (once).  Returns 0 or the exit status (reported). */
int cli_open(struct cli *c);

/* s as a JSON string ("null" if NULL): '"', '\' and bytes outside
 * 0x20..0x7e escaped (\u00XX), so the output is ASCII and always valid. */
void cli_json_str(FILE *f, const char *s);

/* The same for len bytes at p (NUL bytes included; NULL: null). */
void cli_json_bytes(FILE *f, const void *p, size_t len);

/* Bytes as text, or "(null)": bytes outside 0x20..0x7e and '\' as \xHH
 * (so tabs and newlines never appear raw). */
void cli_print_escaped(FILE *f, const void *p, size_t len);

/* The wall clock in ms since the epoch (the clock of commit times). */
int64_t cli_now_ms(void);

/* A time for --from-time / --to-time: ms since the epoch, or ISO 8601
 * local time "YYYY-MM-DDTHH:MM[:SS[.mmm]]" (a trailing 'Z' or +HH:MM /
 * -HH:MM offset makes it absolute; none: local time).  0, or -1 if s is
 * not one. */
int cli_parse_time(const char *s, int64_t *msp);

/* cli_format.c: how consume and tail print a record. */
#define CLI_FMT_TEXT 0   /* OFFSET\tTIMESTAMP\tKEY\tVALUE, escaped */
#define CLI_FMT_RAW 1    /* the value's bytes and a newline */
#define CLI_FMT_JSON 2   /* one JSON object per line */
#define CLI_FMT_CUSTOM 3 /* a kcat-style format string */
struct cli_format {
    int kind;          /* CLI_FMT_* */
    const char *custom; /* the format string of CLI_FMT_CUSTOM */
    int custom_nl;     /* it ends with a newline */
    int partition_col; /* text: a PARTITION column first */
};
/* "text", "raw", "json" or a format string with a %: 0, or -1 if s is
 * none of them (an unknown % or \ escape). */
int cli_format_parse(struct cli_format *co, const char *f);
void cli_format_print(const struct cli_format *f, const crawllog_msg_t *m);
/* Flush stdout: 0, 1 if the reader went away (EPIPE: stdout is then
 * /dev/null, the caller stops quietly), -1 after reporting an error. */
int cli_stdout_flush(void);

/* A progress line on stderr for long operations ("<what>: 42.0% 4200/10000
 * <unit>, 1234 <unit>/s, ETA 0:05"), redrawn at most 10 times a second and
 * only when stderr is a terminal; silent when piped.  total <= 0: no
 * percentage or ETA. */
struct cli_progress {
    const char *what, *unit;
    int tty, shown;
    double t0, last;
};
void cli_progress_start(struct cli_progress *p, const char *what,
                        const char *unit);
void cli_progress_update(struct cli_progress *p, int64_t done, int64_t total);
/* Erase the line (if one was shown). */
void cli_progress_end(struct cli_progress *p);

/* The body of a response: *bodyp (malloc'd, freed by the caller, also
 * after a failure) and *lenp.  Returns 0, or -1 for a 500 response. */
typedef int cli_http_body_fn(void *opaque, char **bodyp, size_t *lenp);

/* What cli_http_serve() serves. */
struct cli_http {
    const char *who;          /* in messages: "crawllog: <who>: ..." */
    const char *path;         /* the one path served, e.g. "/metrics" */
    const char *content_type; /* of a 200 response */
    cli_http_body_fn *body;
    void *opaque;
    const char *usage; /* printed after a usage error (bad address) */
};

/* Serve GET / HEAD of h->path on spec ("HOST:PORT" or "[HOST]:PORT",
 * numeric; port 0: any free one), one connection at a time, until SIGINT
 * or SIGTERM (see cli_util.c).  A non-loopback HOST needs allow_remote.
 * Prints "crawllog: <who>: listening on http://HOST:PORT<path>" on stderr
 * once bound.  Returns the exit status: 0 after a signal, CLI_EXIT_USAGE
 * for a bad or refused address, 1 if it cannot listen. */
int cli_http_serve(const struct cli_http *h, const char *spec,
                   int allow_remote);

/* Commands: argv[0] is the first argument after the command name; each
 * returns the exit status. */
int cli_cmd_topics(struct cli *c, int argc, char **argv);  /* cli_topics.c */
int cli_cmd_offsets(struct cli *c, int argc, char **argv); /* cli_topics.c */
int cli_cmd_groups(struct cli *c, int argc, char **argv);  /* cli_groups.c */
int cli_cmd_dump(struct cli *c, int argc, char **argv);    /* cli_inspect.c */
int cli_cmd_stats(struct cli *c, int argc, char **argv);   /* cli_inspect.c */
int cli_cmd_verify(struct cli *c, int argc, char **argv);  /* cli_inspect.c */
int cli_cmd_retention(struct cli *c, int argc,
                      char **argv); /* cli_inspect.c */
int cli_cmd_produce(struct cli *c, int argc, char **argv); /* cli_produce.c */
int cli_cmd_consume(struct cli *c, int argc, char **argv); /* cli_consume.c */
int cli_cmd_tail(struct cli *c, int argc, char **argv);    /* cli_consume.c */
int cli_cmd_grep(struct cli *c, int argc, char **argv);    /* cli_grep.c */
int cli_cmd_lag(struct cli *c, int argc, char **argv);
int cli_cmd_metrics(struct cli *c, int argc, char **argv);
int cli_cmd_dlq(struct cli *c, int argc, char **argv);

/* cli_migrate.c: crawllog topics migrate OLD NEW --partitions N. */
int cli_cmd_migrate(struct cli *c, int argc, char **argv);
/* cli_migrate.c: "topics migration OLD [--json]". */
int cli_cmd_migration(struct cli *c, int argc, char **argv);

/* cli_mirror.c: crawllog mirror TOPIC --to LOCATION. */
int cli_cmd_mirror(struct cli *c, int argc, char **argv);

/* SIGINT / SIGTERM handler of the long-running commands (tail, consume
 * -f, metrics --listen, mirror --follow): the first sets cli_stop_signal
 * (the command finishes its step, commits and exits 0), a second one
 * kills.  The caller installs it with sigaction. */
extern volatile sig_atomic_t cli_stop_signal;
void cli_on_stop(int sig);

#endif /* CRAWLLOG_CLI_H */
