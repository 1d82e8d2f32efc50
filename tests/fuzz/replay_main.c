/*
 * replay_main.c - a main() for the fuzz targets without libFuzzer: feeds
 * each file named on the command line (or every file of a directory named
 * there) to LLVMFuzzerTestOneInput once, so the committed corpus can be
 * replayed by any compiler with ASan/UBSan (tests/tools/fuzz.sh
 * replay-gcc).  Exit status 0 if every input ran; a failed oracle or a
 * sanitizer report aborts the process.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        return -1;
    }
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap);
    size_t n;
    while (buf != NULL && (n = fread(buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            uint8_t *nb = realloc(buf, cap *= 2);
            if (nb == NULL) {
                free(buf);
                buf = NULL;
            }
            buf = nb;
        }
    }
    fclose(f);
    if (buf == NULL) {
        return -1;
    }
    /* An exact-size copy, as libFuzzer passes it. */
    uint8_t *exact = malloc(len ? len : 1);
    if (exact == NULL) {
        free(buf);
        return -1;
    }
    memcpy(exact, buf, len);
    free(buf);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    return 0;
}

int main(int argc, char **argv)
{
    int files = 0, bad = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            DIR *d = opendir(argv[i]);
            struct dirent *de;
            while (d != NULL && (de = readdir(d)) != NULL) {
                char path[4096];
                if (de->d_name[0] == '.') {
                    continue;
                }
                snprintf(path, sizeof(path), "%s/%s", argv[i], de->d_name);
                bad += run_file(path) != 0;
                files++;
            }
            if (d != NULL) {
                closedir(d);
            }
        } else {
            bad += run_file(argv[i]) != 0;
            files++;
        }
    }
    printf("replay: %d inputs, %d unreadable\n", files, bad);
    return bad != 0;
}
