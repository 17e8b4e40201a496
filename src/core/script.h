/* SPDX-License-Identifier: MIT */
/* script: a -f FILE, checked whole before anything is sent, and a runner
 * that steps through it: each line as if typed at the console, /sleep and
 * /expect as waits. Pure: the caller reads the file, performs the commands
 * the runner hands out and owns the clock. */
#ifndef WSC_SCRIPT_H
#define WSC_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "commands.h"
#include "expect.h"

/* One line that does something (blank and # lines are not kept). */
struct script_line {
    size_t off, len;      /* in the script's text, without the newline */
    unsigned long number; /* 1-based line number in the file */
    enum cmd_kind kind;
    long expect_index; /* CMD_EXPECT: its place among the /expect lines */
};

struct script {
    char name[256]; /* the file's name, for messages ("-": stdin) */
    uint8_t *text;  /* a copy of the file; owned */
    size_t text_len;
    struct script_line *lines; /* owned */
    size_t num_lines, cap_lines;
    size_t num_expects;
};

/* Parses text[0, len): lines end with LF (a CR before it is dropped); blank
 * lines and lines starting with '#' are skipped; the others are commands as
 * commands.c parses them, plain lines are text messages (valid UTF-8). /to
 * and /help have no place in a script; /close (or /quit) ends it and any
 * line after it is refused. Returns 0, or -1 with "NAME:LINE: why" in err. */
int script_parse(struct script *s, const char *name, const uint8_t *text, size_t len, char *err,
                 size_t errlen);
void script_free(struct script *s);

/* Adds the script's /expect patterns, in order, to e (one fresh expect per
 * run); returns 0 or -1 with err. */
int script_add_expects(const struct script *s, struct expect *e, char *err, size_t errlen);

struct script_run {
    const struct script *s; /* borrowed */
    size_t pos;             /* next line to run */
    bool is_sleeping;
    int64_t wake_ms;
    bool is_expecting;
    long expect_index;
    unsigned long line; /* the line being run (or waited on) */
};

enum script_step {
    SCRIPT_COMMAND,       /* perform c (send it); then call again */
    SCRIPT_WAIT,          /* nothing to do before script_deadline() or a message */
    SCRIPT_END,           /* every line ran (close with 1000, or wait as -w says) */
    SCRIPT_EXPECT_FAILED, /* the /expect at run->line was not met in time: exit 7 */
};

void script_run_init(struct script_run *r, const struct script *s);
/* Runs the script on as far as it can at now_ms. e is the expect that
 * script_add_expects filled and that is fed every message received. The
 * caller calls it when the connection can take a message, after each
 * message received and at script_deadline(). */
enum script_step script_step(struct script_run *r, struct expect *e, int64_t now_ms,
                             struct command *c);
/* When script_step wants to be called again without a message: the end of a
 * /sleep or of an /expect's wait; -1 when only a message can move it. */
int64_t script_deadline(const struct script_run *r, const struct expect *e);

#endif
