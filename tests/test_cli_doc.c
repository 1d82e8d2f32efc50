/*
 * test_cli_doc.c - docs/CLI.md tells the truth: every command's --help
 * text, run from the built binary, appears in it verbatim (inside a code
 * block), and every --help exits 0 with the usage on stdout only.  When
 * this fails, run `make docs` (tests/tools/gen_clidoc.sh writes CLI.md
 * from the same texts).
 */
#include "cli_harness.h"

#define CLI_DOC "docs/CLI.md"

static void check_help(const char *doc, const char *const *args)
{
    struct run r;
    cli_run(&r, NULL, NULL, args);
    if (r.status != 0 || r.err[0] != '\0' || r.out_len < 20) {
        cl_test_failf_at(__FILE__, __LINE__,
                         "%s %s --help: exit %d, stderr \"%s\"", args[0],
                         args[1] ? args[1] : "", r.status, r.err);
    }
    char *block = malloc(r.out_len + 16);
    assert_non_null(block);
    snprintf(block, r.out_len + 16, "```\n%s```\n", r.out);
    if (strstr(doc, block) == NULL) {
        cl_test_failf_at(__FILE__, __LINE__,
                         "%s: the --help text of \"%s %s\" is not in it (run "
                         "make docs):\n%s",
                         CLI_DOC, args[0], args[1] ? args[1] : "", r.out);
    }
    free(block);
    run_free(&r);
}

static void test_cli_doc_in_sync(void **state)
{
    static const char *const cmds[][4] = {
        {"help", NULL},
        {"topics", "--help", NULL},
        {"topics", "migrate", "--help", NULL},
        {"topics", "migration", "--help", NULL},
        {"offsets", "--help", NULL},
        {"produce", "--help", NULL},
        {"consume", "--help", NULL},
        {"tail", "--help", NULL},
        {"grep", "--help", NULL},
        {"dump", "--help", NULL},
        {"groups", "--help", NULL},
        {"lag", "check", "--help", NULL},
        {"metrics", "--help", NULL},
        {"dlq", "--help", NULL},
        {"mirror", "--help", NULL},
        {"stats", "--help", NULL},
        {"verify", "--help", NULL},
        {"retention", "run", "--help", NULL},
    };
    size_t len = 0;
    char *doc = cl_test_read_file(CLI_DOC, &len);
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        check_help(doc, cmds[i]);
    }
    free(doc);
    /* An unknown command: usage on stderr, exit 2, nothing on stdout. */
    CLI_EXPECT(state, NULL, 2, "", "unknown command 'nosuch'", "nosuch");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cl_test_unit_tmpdir(test_cli_doc_in_sync),
    };
    return cmocka_run_group_tests_name("cli_doc", tests, group_setup, NULL);
}
