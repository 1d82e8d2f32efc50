/*
 * gen_confdoc.c - print docs/CONFIGURATION.md on stdout.
 *
 * Built and run by `make docs` (which writes docs/CONFIGURATION.md) and
 * `make check-docs` (which fails if the committed file differs).  The text
 * comes from the library's own property table (cl_conf_markdown in
 * libcrawllog/conf.c), so the document cannot drift from the code.
 * Linked against the release static library.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

int main(void)
{
    char *text = NULL;
    int rc = cl_conf_markdown(&text);
    size_t len;

    if (rc != 0 || text == NULL) {
        fprintf(stderr, "gen_confdoc: cl_conf_markdown: %s (%s)\n",
                crawllog_err_name(rc), crawllog_strerror(rc));
        return 1;
    }
    len = strlen(text);
    if (fwrite(text, 1, len, stdout) != len || fflush(stdout) != 0) {
        fprintf(stderr, "gen_confdoc: cannot write stdout\n");
        free(text);
        return 1;
    }
    free(text);
    return 0;
}
