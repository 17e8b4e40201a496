/* SPDX-License-Identifier: MIT */
/* A stand-in for libFuzzer's driver: linked with a fuzz target, it runs
 * LLVMFuzzerTestOneInput once on every file in the directories (or on the
 * files) named as arguments, each input in a heap buffer of exactly its
 * size. make check uses it to replay the committed corpora on builds
 * without libFuzzer. It fails when an argument is missing or a directory
 * holds no input. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* In sanitizer builds, called before the process dies of a finding. */
void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

/* The input being run, named when it crashes the target. */
static const char *current;

static void report_current(void)
{
    if (!current)
        return;
    static const char msg[] = "replay: crashed on ";
    ssize_t r = write(2, msg, sizeof(msg) - 1);
    r = write(2, current, strlen(current));
    r = write(2, "\n", 1);
    (void)r;
}

static void on_signal(int sig)
{
    report_current();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void catch_crashes(void)
{
    signal(SIGILL, on_signal); /* __builtin_trap */
    signal(SIGABRT, on_signal);
    signal(SIGFPE, on_signal);
    if (__sanitizer_set_death_callback) {
        __sanitizer_set_death_callback(report_current);
    } else {
        signal(SIGSEGV, on_signal);
        signal(SIGBUS, on_signal);
    }
}

/* Runs the target on one file; returns 0, or -1 when it cannot be read. */
static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 4096, len = 0;
    uint8_t *data = malloc(cap);
    if (!data) {
        fclose(f);
        return -1;
    }
    size_t n;
    while ((n = fread(data + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            uint8_t *bigger = realloc(data, cap * 2);
            if (!bigger) {
                free(data);
                fclose(f);
                return -1;
            }
            data = bigger;
            cap *= 2;
        }
    }
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        fprintf(stderr, "replay: %s: read error\n", path);
        free(data);
        return -1;
    }
    /* An exact-size copy, so that ASan catches a read past the end. */
    uint8_t *input = malloc(len ? len : 1);
    if (!input) {
        free(data);
        return -1;
    }
    if (len)
        memcpy(input, data, len);
    free(data);
    current = path;
    LLVMFuzzerTestOneInput(input, len);
    current = NULL;
    free(input);
    return 0;
}

static int is_regular(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Runs every regular file of a directory, in name order; returns how many,
 * or -1 on an error. */
static long run_dir(const char *dir)
{
    struct dirent **names;
    int count = scandir(dir, &names, NULL, alphasort);
    if (count < 0) {
        fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    long ran = 0;
    int failed = 0;
    for (int i = 0; i < count; i++) {
        const char *name = names[i]->d_name;
        size_t len = strlen(dir) + strlen(name) + 2;
        char *path = malloc(len);
        if (path && name[0] != '.') {
            snprintf(path, len, "%s/%s", dir, name);
            if (is_regular(path)) {
                if (run_file(path) != 0)
                    failed = 1;
                else
                    ran++;
            }
        }
        free(path);
        free(names[i]);
    }
    free(names);
    return failed ? -1 : ran;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR|FILE...\n", argv[0]);
        return 2;
    }
    catch_crashes();
    long total = 0;
    for (int i = 1; i < argc; i++) {
        long ran;
        if (is_regular(argv[i])) {
            ran = run_file(argv[i]) == 0 ? 1 : -1;
        } else {
            ran = run_dir(argv[i]);
            if (ran == 0) {
                fprintf(stderr, "replay: %s: no inputs\n", argv[i]);
                return 1;
            }
        }
        if (ran < 0)
            return 1;
        printf("replay: %ld inputs from %s\n", ran, argv[i]);
        total += ran;
    }
    printf("replay: %ld inputs\n", total);
    return 0;
}
