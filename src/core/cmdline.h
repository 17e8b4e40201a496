/* SPDX-License-Identifier: MIT */
/* cmdline: whether a --exec command needs /bin/sh. One without shell syntax
 * is a list of words that sh would only split at blanks and run: wsc runs
 * it itself, one process fewer per client. Pure: reads a string. */
#ifndef WSC_CMDLINE_H
#define WSC_CMDLINE_H

enum cmdline_kind {
    CMDLINE_SHELL,     /* shell syntax, a shell builtin or keyword, or no word */
    CMDLINE_PLAIN,     /* plain words: the program and its arguments */
    CMDLINE_NO_MEMORY, /* plain, but the vector could not be allocated */
};

/* Reads cmd as sh would decide it. Shell syntax is any of | & ; < > ( )
 * $ ` \ " ' * ? [ ] # ~ { } ! ^, a control character, a '=' in the first
 * word (an assignment), or a first word that names a builtin or a reserved
 * word of sh (echo, test, ulimit, if, ...: the shell's own behaves unlike a
 * program of the same name, or there is no such program). For
 * CMDLINE_PLAIN, *argv is a NULL-ended vector of the words, in one
 * allocation that free() releases; otherwise *argv is NULL. */
enum cmdline_kind cmdline_split(const char *cmd, char ***argv);

#endif
