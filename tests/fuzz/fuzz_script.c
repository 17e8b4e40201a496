/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the script parser and runner: whatever a -f FILE
 * holds. A script that parses must describe only runnable lines in order,
 * and running it with a made-up clock and messages must end. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "script.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_lines(const struct script *s, size_t size)
{
    unsigned long last = 0;
    long expects = 0;
    for (size_t i = 0; i < s->num_lines; i++) {
        const struct script_line *l = &s->lines[i];
        CHECK(l->off <= size && l->len <= size - l->off);
        CHECK(l->number > last);
        last = l->number;
        CHECK(l->kind != CMD_ERROR && l->kind != CMD_TO && l->kind != CMD_HELP &&
              l->kind != CMD_QUIT);
        CHECK(l->kind != CMD_CLOSE || i + 1 == s->num_lines);
        if (l->kind == CMD_EXPECT)
            CHECK(l->expect_index == expects++);
        else
            CHECK(l->expect_index == -1);
    }
    CHECK((size_t)expects == s->num_expects);
}

static void run(const struct script *s)
{
    struct expect e;
    expect_init(&e, 64);
    char err[300];
    CHECK(script_add_expects(s, &e, err, sizeof(err)) == 0);
    CHECK(e.num_items == s->num_expects);
    struct script_run r;
    script_run_init(&r, s);
    struct command c;
    command_init(&c);
    int64_t now = 0;
    /* Each turn either hands out a command, or waits: then a message comes
     * (every other turn) or the clock jumps to the deadline. */
    for (size_t turn = 0; turn < 4 * s->num_lines + 8; turn++) {
        enum script_step st = script_step(&r, &e, now, &c);
        if (st == SCRIPT_END || st == SCRIPT_EXPECT_FAILED)
            break;
        if (st == SCRIPT_COMMAND) {
            CHECK(c.kind != CMD_ERROR && c.kind != CMD_SLEEP && c.kind != CMD_EXPECT);
            continue;
        }
        int64_t d = script_deadline(&r, &e);
        CHECK(d == -1 || d >= now);
        if (turn % 2 || d < 0) {
            expect_message_begin(&e, turn % 3 ? WS_OP_TEXT : WS_OP_BINARY);
            expect_message_data(&e, (const uint8_t *)"ok 00ff", 7);
            expect_message_end(&e);
        } else {
            now = d;
        }
    }
    command_free(&c);
    expect_free(&e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *text = malloc(size ? size : 1);
    CHECK(text != NULL);
    if (size)
        memcpy(text, data, size);
    struct script s;
    char err[300];
    err[0] = 0;
    if (script_parse(&s, "fuzz", text, size, err, sizeof(err)) == 0) {
        check_lines(&s, size);
        run(&s);
        script_free(&s);
    } else {
        CHECK(!strncmp(err, "fuzz:", 5) && memchr(err, 0, sizeof(err)) != NULL);
    }
    free(text);
    return 0;
}
