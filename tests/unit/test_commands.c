/* SPDX-License-Identifier: MIT */
/* Unit tests for the slash-command parser (commands.c). */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "tap.h"

static void parse(struct command *c, const char *line)
{
    /* exact-size heap copy: the parser must not read past the line */
    unsigned char *p = tap_dup(line, strlen(line));
    command_parse((const char *)p, strlen(line), c);
    /* text points into the line: keep a copy for the checks */
    static char text[512];
    snprintf(text, sizeof(text), "%.*s", (int)c->len, c->text ? c->text : "");
    c->text = text;
    free(p);
}

static void test_text(void)
{
    struct command c;
    command_init(&c);
    parse(&c, "hello");
    tap_ok(c.kind == CMD_TEXT && !strcmp(c.text, "hello"), "plain line is a text message");
    parse(&c, "");
    tap_ok(c.kind == CMD_TEXT && c.len == 0, "empty line is an empty text message");
    parse(&c, "//etc/passwd");
    tap_ok(c.kind == CMD_TEXT && !strcmp(c.text, "/etc/passwd"), "// sends a leading slash");
    parse(&c, "/nosuch x");
    tap_ok(c.kind == CMD_ERROR && strstr(c.error, "/nosuch") && strstr(c.error, "/help"),
           "unknown command gets a hint, not a message");
    command_free(&c);
}

static void test_control(void)
{
    struct command c;
    command_init(&c);
    parse(&c, "/ping");
    tap_ok(c.kind == CMD_PING && c.len == 0, "/ping without payload");
    parse(&c, "/ping abc def");
    tap_ok(c.kind == CMD_PING && !strcmp(c.text, "abc def"), "/ping with payload");
    parse(&c, "/pong x");
    tap_ok(c.kind == CMD_PONG && !strcmp(c.text, "x"), "/pong with payload");
    char big[200] = "/ping ";
    memset(big + 6, 'a', 126);
    big[132] = 0;
    parse(&c, big);
    tap_ok(c.kind == CMD_ERROR, "RFC 6455 5.5: /ping payload over 125 bytes is refused");
    command_free(&c);
}

static void test_close(void)
{
    struct command c;
    command_init(&c);
    parse(&c, "/close");
    tap_ok(c.kind == CMD_CLOSE && c.code == 1000 && c.len == 0, "/close defaults to 1000");
    parse(&c, "/close 4001 bye now");
    tap_ok(c.kind == CMD_CLOSE && c.code == 4001 && !strcmp(c.text, "bye now"),
           "/close with code and reason");
    static const char *const refused[] = {"/close 1005", "/close 1006", "/close 999",
                                          "/close 1015", "/close 2000", "/close 5000",
                                          "/close abc", "/close 70000"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        parse(&c, refused[i]);
        tap_ok(c.kind == CMD_ERROR, "RFC 6455 7.4: '%s' is refused (%s)", refused[i], c.error);
    }
    char big[200] = "/close 1000 ";
    memset(big + 12, 'r', 124);
    big[136] = 0;
    parse(&c, big);
    tap_ok(c.kind == CMD_ERROR, "RFC 6455 5.5: a close reason over 123 bytes is refused");
    command_free(&c);
}

static void test_fragment_binary(void)
{
    struct command c;
    command_init(&c);
    parse(&c, "/fragment 3 abc");
    tap_ok(c.kind == CMD_FRAGMENT && c.count == 3 && !strcmp(c.text, "abc"), "/fragment 3 abc");
    parse(&c, "/fragment 0 abc");
    tap_ok(c.kind == CMD_ERROR, "/fragment 0 is refused");
    parse(&c, "/fragment x abc");
    tap_ok(c.kind == CMD_ERROR, "/fragment without a count is refused");
    parse(&c, "/binary 00 ff 10");
    tap_ok(c.kind == CMD_BINARY && buf_size(&c.data) == 3 && buf_head(&c.data)[1] == 0xff,
           "/binary decodes hex with blanks");
    parse(&c, "/binary 0xdeadbeef");
    tap_ok(c.kind == CMD_BINARY && buf_size(&c.data) == 4 && buf_head(&c.data)[0] == 0xde,
           "/binary accepts a 0x prefix");
    parse(&c, "/binary abc");
    tap_ok(c.kind == CMD_ERROR, "/binary with an odd number of digits is refused");
    parse(&c, "/binary zz");
    tap_ok(c.kind == CMD_ERROR, "/binary with non-hex is refused");
    parse(&c, "/binary @/tmp/file.bin");
    tap_ok(c.kind == CMD_BINARY_FILE && !strcmp(c.path, "/tmp/file.bin"), "/binary @FILE");
    command_free(&c);
}

static void test_raw(void)
{
    struct command c;
    command_init(&c);
    parse(&c, "/raw hello");
    tap_ok(c.kind == CMD_RAW && c.raw.opcode == WS_OP_TEXT && c.raw.is_final &&
               c.raw.has_mask && c.raw.rsv == 0 && c.raw.len == 5,
           "/raw defaults: masked final text frame");
    parse(&c, "/raw op=binary fin=0 rsv=4 mask=0 hex=0102");
    tap_ok(c.kind == CMD_RAW && c.raw.opcode == WS_OP_BINARY && !c.raw.is_final &&
               !c.raw.has_mask && c.raw.rsv == 4 && c.raw.len == 2 && buf_head(&c.data)[1] == 2,
           "/raw with every setting");
    parse(&c, "/raw op=0xB x");
    tap_ok(c.kind == CMD_RAW && c.raw.opcode == 0xB && c.raw.len == 1, "/raw reserved opcode");
    parse(&c, "/raw op=16 x");
    tap_ok(c.kind == CMD_ERROR, "/raw opcode above 15 is refused");
    parse(&c, "/raw rsv=8 x");
    tap_ok(c.kind == CMD_ERROR, "/raw rsv above 7 is refused");
    parse(&c, "/raw op=ping");
    tap_ok(c.kind == CMD_RAW && c.raw.opcode == WS_OP_PING && c.raw.len == 0, "/raw empty ping");
    command_free(&c);
}

static void test_misc(void)
{
    struct command c;
    command_init(&c);
    parse(&c, "/help");
    tap_ok(c.kind == CMD_HELP, "/help");
    parse(&c, "/quit");
    tap_ok(c.kind == CMD_QUIT, "/quit");
    parse(&c, "/to 3 hi there");
    tap_ok(c.kind == CMD_TO && c.target == 3 && !strcmp(c.text, "hi there"), "/to ID text");
    parse(&c, "/to x hi");
    tap_ok(c.kind == CMD_ERROR, "/to without an id is refused");
    size_t n = 0;
    while (command_names[n])
        n++;
    tap_ok(n >= 8 && strstr(command_help(), "/fragment"), "names and help list the commands");
    command_free(&c);
}

static void test_expect_sleep(void)
{
    struct command c;
    command_init(&c);
    parse(&c, "/expect \"status\":\"ok\"");
    tap_ok(c.kind == CMD_EXPECT && c.wait_ms == 10000 && !strcmp(c.text, "\"status\":\"ok\""),
           "/expect REGEX waits 10 s by default");
    parse(&c, "/expect -t 2.5 ^a b$");
    tap_ok(c.kind == CMD_EXPECT && c.wait_ms == 2500 && !strcmp(c.text, "^a b$"),
           "/expect -t SEC: the rest of the line is the pattern");
    parse(&c, "/expect -t 0 x");
    tap_ok(c.kind == CMD_EXPECT && c.wait_ms == 0, "/expect -t 0 looks only at what came");
    parse(&c, "/expect -tx");
    tap_ok(c.kind == CMD_EXPECT && !strcmp(c.text, "-tx"), "-t only as a word of its own");
    parse(&c, "/expect x(");
    tap_ok(c.kind == CMD_ERROR && strstr(c.error, "/expect") && strstr(c.error, "/x(/"),
           "a malformed pattern is refused at parse time (%s)", c.error);
    parse(&c, "/expect");
    tap_ok(c.kind == CMD_ERROR && strstr(c.error, "usage"), "/expect without a pattern");
    parse(&c, "/expect -t");
    tap_ok(c.kind == CMD_ERROR, "/expect -t without seconds");
    parse(&c, "/expect -t 5");
    tap_ok(c.kind == CMD_ERROR && strstr(c.error, "usage"), "/expect -t SEC without a pattern");
    parse(&c, "/expect -t 1e3 x");
    tap_ok(c.kind == CMD_ERROR, "/expect -t takes plain decimal seconds");
    parse(&c, "/sleep 0.25");
    tap_ok(c.kind == CMD_SLEEP && c.wait_ms == 250, "/sleep SEC");
    parse(&c, "/sleep 3");
    tap_ok(c.kind == CMD_SLEEP && c.wait_ms == 3000, "/sleep whole seconds");
    parse(&c, "/sleep .5");
    tap_ok(c.kind == CMD_SLEEP && c.wait_ms == 500, "/sleep .5");
    parse(&c, "/sleep");
    tap_ok(c.kind == CMD_ERROR, "/sleep without seconds");
    parse(&c, "/sleep -1");
    tap_ok(c.kind == CMD_ERROR, "/sleep refuses a negative time");
    parse(&c, "/sleep 86401");
    tap_ok(c.kind == CMD_ERROR, "/sleep refuses more than a day");
    parse(&c, "/sleep 1 2");
    tap_ok(c.kind == CMD_ERROR, "/sleep takes one number");
    parse(&c, "/sleep 99999999999999999999");
    tap_ok(c.kind == CMD_ERROR, "/sleep does not overflow");
    tap_ok(strstr(command_help(), "/expect [-t SEC] REGEX") && strstr(command_help(), "/sleep SEC"),
           "/help lists /expect and /sleep");
    command_free(&c);
}

/* /help is a table: each line is a synopsis, then at least two spaces and
 * the description in one column shared by all; a synopsis too wide for the
 * column stands alone with its description on the lines below, which are
 * indented to the column. Every line fits 79 columns; every command is
 * listed at the start of a line. */
static void test_help_table(void)
{
    const char *help = command_help();
    size_t column = 0;
    bool is_aligned = true, fits = true, wants_more = false;
    char bad[200] = "";
    for (const char *line = help; *line;) {
        size_t len = strcspn(line, "\n");
        if (len > 79)
            fits = false;
        size_t lead = strspn(line, " ");
        const char *gap = NULL;
        for (size_t i = 1; i + 1 < len; i++)
            if (line[i] == ' ' && line[i + 1] == ' ') {
                gap = line + i;
                break;
            }
        size_t at = 0; /* where this line's description starts; 0: none */
        if (lead > 0)
            at = lead; /* a continuation */
        else if (gap)
            at = (size_t)(gap - line) + strspn(gap, " ");
        if (lead > 0 && !wants_more && column && lead != column)
            is_aligned = false;
        if (at) {
            if (!column)
                column = at;
            if (at != column && !bad[0])
                snprintf(bad, sizeof(bad), "%.*s", (int)len, line);
            is_aligned = is_aligned && at == column;
        }
        /* a lone synopsis must be followed by its description */
        if (wants_more && lead == 0) {
            is_aligned = false;
            if (!bad[0])
                snprintf(bad, sizeof(bad), "%.*s (after a line with no description)", (int)len,
                         line);
        }
        wants_more = at == 0;
        line += len + (line[len] == '\n');
    }
    if (!tap_ok(is_aligned && !wants_more && column >= 8,
                "/help: the descriptions share one column"))
        tap_diag("column %zu; first line off it: \"%s\"", column, bad);
    tap_ok(fits, "/help: every line fits 79 columns");
    bool has_all = true;
    for (size_t i = 0; command_names[i]; i++) {
        char want[32];
        snprintf(want, sizeof(want), "\n%s ", command_names[i]);
        if (strncmp(help, want + 1, strlen(want) - 1) != 0 && !strstr(help, want)) {
            has_all = false;
            tap_diag("%s is not at the start of a line", command_names[i]);
        }
    }
    tap_ok(has_all, "/help: every command starts a line");
}

int main(void)
{
    test_text();
    test_control();
    test_close();
    test_fragment_binary();
    test_raw();
    test_misc();
    test_expect_sleep();
    test_help_table();
    return tap_done();
}
