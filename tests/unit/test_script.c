/* SPDX-License-Identifier: MIT */
/* Unit tests for scripts (script.c): the parse of a whole -f FILE with
 * file:line errors, and the runner's steps, sleeps and /expect waits. */
#include <stdio.h>
#include <string.h>

#include "script.h"
#include "tap.h"

static int parse(struct script *s, const char *text, char *err, size_t errlen)
{
    unsigned char *p = tap_dup(text, strlen(text));
    int rc = script_parse(s, "t.wsc", p, strlen(text), err, errlen);
    free(p);
    return rc;
}

static bool refused(const char *text, const char *want)
{
    struct script s;
    char err[300] = "";
    bool ok = parse(&s, text, err, sizeof(err)) == -1 && strstr(err, want) != NULL;
    if (!ok)
        tap_diag("got '%s', wanted '%s'", err, want);
    return ok;
}

static void test_parse(void)
{
    struct script s;
    char err[300];
    const char *text = "# a comment\n"
                       "hello\r\n"
                       "\n"
                       "   \t\n"
                       "/ping x\n"
                       "/expect -t 2 ^ok\n"
                       "//slash\n"
                       "/sleep 1\n"
                       "/expect done\n"
                       "/close 4000 done\n"
                       "# after the close: comments are fine\n"
                       "\n";
    tap_ok(parse(&s, text, err, sizeof(err)) == 0, "a script parses");
    tap_ok(s.num_lines == 7 && s.num_expects == 2, "blank and # lines are skipped");
    tap_ok(s.lines[0].number == 2 && s.lines[0].len == 5 && s.lines[0].kind == CMD_TEXT,
           "line numbers count every line; CR LF ends a line");
    tap_ok(s.lines[1].kind == CMD_PING && s.lines[2].kind == CMD_EXPECT &&
               s.lines[2].expect_index == 0 && s.lines[5].expect_index == 1 &&
               s.lines[6].kind == CMD_CLOSE && s.lines[6].number == 10,
           "commands keep their kinds and /expect its index");
    script_free(&s);

    tap_ok(parse(&s, "", err, sizeof(err)) == 0 && s.num_lines == 0, "an empty script");
    script_free(&s);
    tap_ok(parse(&s, "last line without newline", err, sizeof(err)) == 0 && s.num_lines == 1 &&
               s.lines[0].len == 25,
           "the last line needs no newline");
    script_free(&s);

    tap_ok(refused("ok\n/nosuch\n", "t.wsc:2: unknown command /nosuch"),
           "an unknown command names file and line");
    tap_ok(refused("\n\n/expect x(\n", "t.wsc:3: /expect: bad pattern /x(/"),
           "a malformed pattern is refused at parse time");
    tap_ok(refused("/close\nmore\n", "t.wsc:2: nothing may follow /close (line 1)"),
           "a line after /close is refused");
    tap_ok(refused("/quit\n/ping\n", "t.wsc:2: nothing may follow /close"),
           "/quit ends the script as /close does");
    tap_ok(refused("/to 1 x\n", "t.wsc:1: /to is for listen mode"), "/to is refused");
    tap_ok(refused("/help\n", "t.wsc:1: /help has no place"), "/help is refused");
    tap_ok(refused("ok\n\xff\xfe\n", "t.wsc:2: not valid UTF-8"), "a text line must be UTF-8");
    tap_ok(refused("/sleep x\n", "t.wsc:1: /sleep: usage"), "a bad /sleep");
    tap_ok(refused("/close 1005\n", "t.wsc:1: /close: code 1005 may not be sent"),
           "a close code that may not be sent");
    struct script st;
    unsigned char *p = tap_dup("/x", 2);
    script_parse(&st, "-", p, 2, err, sizeof(err));
    free(p);
    tap_ok(!strncmp(err, "stdin:1:", 8), "-f - is named stdin (%s)", err);
}

static void test_run(void)
{
    struct script s;
    char err[300];
    const char *text = "hello\n"
                       "/expect -t 1 ^ok\n"
                       "/sleep 0.5\n"
                       "/ping x\n"
                       "/expect -t 2 ^second\n"
                       "/close 4000 done\n";
    parse(&s, text, err, sizeof(err));
    struct expect e;
    expect_init(&e, 0);
    tap_ok(script_add_expects(&s, &e, err, sizeof(err)) == 0 && e.num_items == 2,
           "the /expect patterns go into the expectation, in order");
    struct script_run r;
    script_run_init(&r, &s);
    struct command c;
    command_init(&c);
    tap_ok(script_step(&r, &e, 0, &c) == SCRIPT_COMMAND && c.kind == CMD_TEXT && c.len == 5 &&
               !memcmp(c.text, "hello", 5),
           "the first line is a text message");
    tap_ok(script_step(&r, &e, 10, &c) == SCRIPT_WAIT && script_deadline(&r, &e) == 1010 &&
               r.line == 2,
           "/expect waits, with its deadline");
    expect_message_begin(&e, WS_OP_TEXT);
    expect_message_data(&e, (const uint8_t *)"nope", 4);
    expect_message_end(&e);
    tap_ok(script_step(&r, &e, 500, &c) == SCRIPT_WAIT, "a message that does not match");
    /* the second pattern's message comes early: it waits for its /expect */
    expect_message_begin(&e, WS_OP_TEXT);
    expect_message_data(&e, (const uint8_t *)"ok", 2);
    expect_message_end(&e);
    expect_message_begin(&e, WS_OP_TEXT);
    expect_message_data(&e, (const uint8_t *)"second", 6);
    expect_message_end(&e);
    tap_ok(script_step(&r, &e, 600, &c) == SCRIPT_WAIT && script_deadline(&r, &e) == 1100,
           "a match moves on to /sleep");
    tap_ok(script_step(&r, &e, 1099, &c) == SCRIPT_WAIT, "asleep until its end");
    tap_ok(script_step(&r, &e, 1100, &c) == SCRIPT_COMMAND && c.kind == CMD_PING,
           "then the next command");
    tap_ok(script_step(&r, &e, 1100, &c) == SCRIPT_COMMAND && c.kind == CMD_CLOSE &&
               c.code == 4000 && c.len == 4,
           "an /expect met before it was reached does not wait");
    tap_ok(script_step(&r, &e, 1100, &c) == SCRIPT_END, "the end");
    expect_free(&e);

    /* a failed /expect */
    expect_init(&e, 0);
    script_add_expects(&s, &e, err, sizeof(err));
    script_run_init(&r, &s);
    script_step(&r, &e, 0, &c);
    tap_ok(script_step(&r, &e, 0, &c) == SCRIPT_WAIT, "waiting");
    tap_ok(script_step(&r, &e, 999, &c) == SCRIPT_WAIT, "still waiting before the deadline");
    tap_ok(script_step(&r, &e, 1000, &c) == SCRIPT_EXPECT_FAILED && r.line == 2,
           "not met in time: failed, at its line");
    expect_describe(&e, EXPECT_TIMED_OUT, 1000, err, sizeof(err));
    tap_ok(!strcmp(err, "no message matched /^ok/ in 1 s (none received)"), "%s", err);
    expect_free(&e);
    script_free(&s);

    /* -t 0: only what already came */
    parse(&s, "/expect -t 0 x\n/ping\n", err, sizeof(err));
    expect_init(&e, 0);
    script_add_expects(&s, &e, err, sizeof(err));
    script_run_init(&r, &s);
    tap_ok(script_step(&r, &e, 5, &c) == SCRIPT_EXPECT_FAILED, "-t 0 with nothing received fails");
    expect_free(&e);
    expect_init(&e, 0);
    script_add_expects(&s, &e, err, sizeof(err));
    expect_message_begin(&e, WS_OP_TEXT);
    expect_message_data(&e, (const uint8_t *)"x", 1);
    expect_message_end(&e);
    script_run_init(&r, &s);
    tap_ok(script_step(&r, &e, 5, &c) == SCRIPT_COMMAND && c.kind == CMD_PING,
           "-t 0 with the message already there passes");
    expect_free(&e);
    script_free(&s);

    parse(&s, "/quit\n", err, sizeof(err));
    expect_init(&e, 0);
    script_run_init(&r, &s);
    tap_ok(script_step(&r, &e, 0, &c) == SCRIPT_COMMAND && c.kind == CMD_CLOSE && c.code == 1000,
           "/quit runs as /close 1000");
    expect_free(&e);
    script_free(&s);
    command_free(&c);
}

int main(void)
{
    test_parse();
    test_run();
    return tap_done();
}
