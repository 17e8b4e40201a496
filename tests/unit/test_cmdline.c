/* SPDX-License-Identifier: MIT */
/* Unit tests for cmdline.c: which --exec commands run without /bin/sh, and
 * their words. Every byte of shell syntax, each builtin and reserved word in
 * the first word (and not later), assignments, blanks, empty commands, and
 * the vector's layout. Each command is copied into a heap buffer of exactly
 * its size, so that ASan catches an over-read. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmdline.h"
#include "tap.h"

struct split_case {
    const char *cmd;
    enum cmdline_kind kind;
    const char *words; /* joined with '|'; NULL unless plain */
};

static const struct split_case cases[] = {
    {"cat", CMDLINE_PLAIN, "cat"},
    {"/usr/bin/printf %s. a b", CMDLINE_PLAIN, "/usr/bin/printf|%s.|a|b"},
    {"  cat   -u  ", CMDLINE_PLAIN, "cat|-u"},
    {"\tcat\t-\t", CMDLINE_PLAIN, "cat|-"},
    {"./count.sh --from=1 a,b x.y:z@w%v+", CMDLINE_PLAIN, "./count.sh|--from=1|a,b|x.y:z@w%v+"},
    {"python3 -u server.py", CMDLINE_PLAIN, "python3|-u|server.py"},
    {"caf\xc3\xa9 \xe2\x82\xac", CMDLINE_PLAIN, "caf\xc3\xa9|\xe2\x82\xac"},
    {"echoes", CMDLINE_PLAIN, "echoes"},
    {"/bin/echo hi", CMDLINE_PLAIN, "/bin/echo|hi"},
    {"env echo x", CMDLINE_PLAIN, "env|echo|x"},
    {"cat if then", CMDLINE_PLAIN, "cat|if|then"},
    {"", CMDLINE_SHELL, NULL},
    {"   ", CMDLINE_SHELL, NULL},
    {"\t", CMDLINE_SHELL, NULL},
    {"cat | wc", CMDLINE_SHELL, NULL},
    {"a&", CMDLINE_SHELL, NULL},
    {"a;b", CMDLINE_SHELL, NULL},
    {"a <f", CMDLINE_SHELL, NULL},
    {"a >f", CMDLINE_SHELL, NULL},
    {"(a)", CMDLINE_SHELL, NULL},
    {"a $HOME", CMDLINE_SHELL, NULL},
    {"a `b`", CMDLINE_SHELL, NULL},
    {"a \\x", CMDLINE_SHELL, NULL},
    {"a \"b c\"", CMDLINE_SHELL, NULL},
    {"a 'b c'", CMDLINE_SHELL, NULL},
    {"ls *.c", CMDLINE_SHELL, NULL},
    {"ls ?", CMDLINE_SHELL, NULL},
    {"ls [ab]", CMDLINE_SHELL, NULL},
    {"a ]", CMDLINE_SHELL, NULL},
    {"a #comment", CMDLINE_SHELL, NULL},
    {"a b#c", CMDLINE_SHELL, NULL},
    {"ls ~", CMDLINE_SHELL, NULL},
    {"a {b,c}", CMDLINE_SHELL, NULL},
    {"a }", CMDLINE_SHELL, NULL},
    {"! a", CMDLINE_SHELL, NULL},
    {"a ^ b", CMDLINE_SHELL, NULL},
    {"a\nb", CMDLINE_SHELL, NULL},
    {"a\rb", CMDLINE_SHELL, NULL},
    {"a\x01", CMDLINE_SHELL, NULL},
    {"a\x7f", CMDLINE_SHELL, NULL},
    {"X=1 env", CMDLINE_SHELL, NULL},
    {"=x", CMDLINE_SHELL, NULL},
    {"echo hi", CMDLINE_SHELL, NULL},
    {"  echo", CMDLINE_SHELL, NULL},
    {"printf %s x", CMDLINE_SHELL, NULL},
    {"test -f x", CMDLINE_SHELL, NULL},
    {"ulimit -n", CMDLINE_SHELL, NULL},
    {"exec cat", CMDLINE_SHELL, NULL},
    {"exit 3", CMDLINE_SHELL, NULL},
    {"cd /tmp", CMDLINE_SHELL, NULL},
    {". ./lib.sh", CMDLINE_SHELL, NULL},
    {": nothing", CMDLINE_SHELL, NULL},
    {"kill 1", CMDLINE_SHELL, NULL},
    {"time cat", CMDLINE_SHELL, NULL},
    {"true", CMDLINE_SHELL, NULL},
    {"while true", CMDLINE_SHELL, NULL},
};

static void join(char *const *argv, char *out, size_t outlen)
{
    out[0] = 0;
    for (size_t i = 0; argv[i]; i++) {
        size_t used = strlen(out);
        snprintf(out + used, outlen - used, "%s%s", i ? "|" : "", argv[i]);
    }
}

static void test_cases(void)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct split_case *c = &cases[i];
        char *cmd = (char *)tap_dup(c->cmd, strlen(c->cmd) + 1);
        char **argv = (char **)&argv; /* not NULL: the call must set it */
        enum cmdline_kind kind = cmdline_split(cmd, &argv);
        tap_ok(kind == c->kind, "%s %zu: %s", c->kind == CMDLINE_PLAIN ? "plain" : "shell", i,
               c->kind == CMDLINE_PLAIN ? c->words : "(needs sh)");
        if (c->kind != CMDLINE_PLAIN || kind != CMDLINE_PLAIN) {
            tap_ok(argv == NULL, "case %zu: no vector when sh runs it", i);
        } else {
            char got[512];
            join(argv, got, sizeof(got));
            if (!tap_ok(!strcmp(got, c->words), "case %zu: words %s", i, c->words))
                tap_diag("got %s", got);
        }
        free(argv);
        free(cmd);
    }
}

/* Each shell byte, alone in a plain command's argument. */
static void test_every_shell_byte(void)
{
    const char *bytes = "|&;<>()$`\\\"'*?[]#~{}!^";
    size_t shell = 0;
    for (const char *b = bytes; *b; b++) {
        char cmd[] = "cat a?b";
        cmd[5] = *b;
        char **argv;
        shell += cmdline_split(cmd, &argv) == CMDLINE_SHELL;
        free(argv);
    }
    tap_ok(shell == strlen(bytes), "every shell byte sends the command to sh (%zu of %zu)", shell,
           strlen(bytes));
    size_t plain = 0;
    for (int c = 0x21; c < 0x7f; c++) {
        char cmd[] = "cat a?b";
        cmd[5] = (char)c;
        char **argv;
        plain += cmdline_split(cmd, &argv) == CMDLINE_PLAIN;
        free(argv);
    }
    tap_ok(plain == 0x7f - 0x21 - strlen(bytes),
           "every other printable byte is plain inside an argument (%zu)", plain);
}

/* The vector and the words share one allocation that free() releases. */
static void test_layout(void)
{
    char *cmd = (char *)tap_dup("a bb ccc", 9);
    char **argv;
    tap_ok(cmdline_split(cmd, &argv) == CMDLINE_PLAIN, "layout: plain");
    cmd[0] = 'x'; /* the words are a copy, not the caller's string */
    tap_ok(argv[0][0] == 'a' && !strcmp(argv[1], "bb") && !strcmp(argv[2], "ccc") && !argv[3],
           "layout: three words, NULL-ended, copied");
    tap_ok((char *)argv < argv[0] && argv[0] < argv[1] && argv[1] < argv[2],
           "layout: the words follow the vector");
    free(argv);
    free(cmd);
}

int main(void)
{
    test_cases();
    test_every_shell_byte();
    test_layout();
    return tap_done();
}
