/* SPDX-License-Identifier: MIT */
#include "cmdline.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Bytes with a meaning to sh: operators, quoting, expansions, globs,
 * comments, tilde, and the reserved words and brace expansions that some
 * shells read in { } ! and ^ (an old pipe). A byte that is special only in
 * some positions (# and ~ at a word's start) counts everywhere: a plain
 * command never needs them, and sh is always right. */
static const char shell_bytes[] = "|&;<>()$`\\\"'*?[]#~{}!^";

/* Names sh runs itself: POSIX's reserved words, special and regular
 * builtins, and those of dash and bash that have a program of the same name
 * (echo, printf, test, kill, pwd, time...), whose options and output differ. */
static const char *const shell_words[] = {
    ".",       ":",      "[",       "[[",       "alias",  "bg",     "break",    "builtin",
    "case",    "cd",     "command", "continue", "declare", "do",    "done",     "echo",
    "elif",    "else",   "esac",    "eval",     "exec",   "exit",   "export",   "false",
    "fc",      "fg",     "fi",      "for",      "function", "getopts", "hash",  "if",
    "in",      "jobs",   "kill",    "let",      "local",  "printf", "pwd",      "read",
    "readonly", "return", "select", "set",      "shift",  "source", "test",     "then",
    "time",    "times",  "trap",    "true",     "type",   "typeset", "ulimit",  "umask",
    "unalias", "unset",  "until",   "wait",     "while",
};

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static bool has_shell_byte(const char *cmd)
{
    for (const char *p = cmd; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if ((c < 0x20 && c != '\t') || c == 0x7f || strchr(shell_bytes, c))
            return true;
    }
    return false;
}

static bool is_shell_word(const char *word, size_t len)
{
    if (memchr(word, '=', len))
        return true; /* NAME=value is an assignment, not a program */
    for (size_t i = 0; i < sizeof(shell_words) / sizeof(shell_words[0]); i++)
        if (strlen(shell_words[i]) == len && !memcmp(shell_words[i], word, len))
            return true;
    return false;
}

enum cmdline_kind cmdline_split(const char *cmd, char ***argv)
{
    *argv = NULL;
    if (has_shell_byte(cmd))
        return CMDLINE_SHELL;
    const char *first = cmd;
    while (is_blank(*first))
        first++;
    size_t first_len = strcspn(first, " \t");
    if (first_len == 0 || is_shell_word(first, first_len))
        return CMDLINE_SHELL;
    size_t words = 0, len = strlen(cmd);
    for (const char *p = cmd; *p; p++)
        words += !is_blank(*p) && (p == cmd || is_blank(p[-1]));
    /* words <= len, so neither size can overflow for a string in memory */
    size_t vec = (words + 1) * sizeof(char *);
    char **v = malloc(vec + len + 1);
    if (!v)
        return CMDLINE_NO_MEMORY;
    char *text = (char *)v + vec;
    memcpy(text, cmd, len + 1);
    size_t n = 0;
    for (char *p = text; *p; p++) {
        if (is_blank(*p))
            *p = 0;
        else if (p == text || p[-1] == 0)
            v[n++] = p;
    }
    v[n] = NULL;
    *argv = v;
    return CMDLINE_PLAIN;
}
