/* SPDX-License-Identifier: MIT */
/* Unit tests for expectations (expect.c): patterns, the sequence of
 * /expect, --count, waits and the failure line. */
#include <stdio.h>
#include <string.h>

#include "expect.h"
#include "tap.h"

/* Feeds one message, split into pieces of step bytes (0: whole), each piece
 * an exact-size heap copy. Returns what expect_message_end said. */
static bool feed(struct expect *e, enum ws_opcode op, const void *p, size_t len, size_t step)
{
    expect_message_begin(e, op);
    size_t at = 0;
    do {
        size_t n = step && len - at > step ? step : len - at;
        unsigned char *piece = tap_dup((const char *)p + at, n);
        expect_message_data(e, piece, n);
        free(piece);
        at += n;
    } while (at < len);
    return expect_message_end(e);
}

static bool feeds(struct expect *e, const char *s)
{
    return feed(e, WS_OP_TEXT, s, strlen(s), 0);
}

static long add(struct expect *e, const char *pat, long wait_ms)
{
    char err[200];
    return expect_add(e, pat, strlen(pat), wait_ms, err, sizeof(err));
}

static bool matches(const char *pat, enum ws_opcode op, const void *p, size_t len)
{
    struct expect e;
    expect_init(&e, 0);
    bool ok = add(&e, pat, -1) == 0;
    /* the same answer whole, split at every offset and byte by byte */
    bool is_match = feed(&e, op, p, len, 0);
    for (size_t step = 1; ok && step <= len; step++) {
        struct expect f;
        expect_init(&f, 0);
        add(&f, pat, -1);
        if (feed(&f, op, p, len, step) != is_match)
            ok = false;
        expect_free(&f);
    }
    expect_free(&e);
    return ok && is_match;
}

static void test_patterns(void)
{
    struct expect_pattern p;
    char err[200];
    tap_ok(expect_pattern_compile(&p, "x(", 2, err, sizeof(err)) == -1 && strstr(err, "/x(/"),
           "a malformed pattern is refused, naming it (%s)", err);
    tap_ok(expect_pattern_compile(&p, "", 0, err, sizeof(err)) == -1,
           "an empty pattern is refused");
    tap_ok(expect_pattern_compile(&p, "a\0b", 3, err, sizeof(err)) == -1 && strstr(err, "NUL"),
           "a pattern with a NUL byte is refused");
    tap_ok(expect_pattern_compile(&p, "a|b", 3, err, sizeof(err)) == 0, "ERE alternation compiles");
    expect_pattern_free(&p);
    const char *heavy[] = {"(((x{99}){99}){99})", "x++", "(a{1,400}){300}", "((((a+)+)+)+)",
                           "t*+", "a*?", "((a{2}){2})*+"};
    for (size_t i = 0; i < sizeof(heavy) / sizeof(heavy[0]); i++)
        tap_ok(expect_pattern_compile(&p, heavy[i], strlen(heavy[i]), err, sizeof(err)) == -1 &&
                   strstr(err, "bad pattern"),
               "a pattern too costly to compile is refused: %s (%s)", heavy[i], err);
    tap_ok(expect_pattern_compile(&p, "(a)\\1", 5, err, sizeof(err)) == -1 &&
               strstr(err, "back-references"),
           "back-references are refused (%s)", err);
    const char *fine[] = {"[a-z]+@[a-z]+\\.com$", "x{2,5}y?z*", "[[:digit:]]{3}-[]a]+", "(ab|cd){10}",
                          "\\(literal\\)+", "a)b", "((\"[a-z]+\":[0-9]+,?)+)*", "x+|y+"};
    for (size_t i = 0; i < sizeof(fine) / sizeof(fine[0]); i++) {
        int rc = expect_pattern_compile(&p, fine[i], strlen(fine[i]), err, sizeof(err));
        tap_ok(rc == 0, "an ordinary pattern compiles: %s %s", fine[i], rc ? err : "");
        expect_pattern_free(&p);
    }
    char lit[5001];
    memset(lit, 'q', 5000);
    lit[5000] = 0;
    tap_ok(expect_pattern_compile(&p, lit, 5000, err, sizeof(err)) == 0,
           "a long literal pattern compiles");
    expect_pattern_free(&p);

    const char *ok = "{\"status\":\"ok\"}";
    tap_ok(matches("\"status\":\"ok\"", WS_OP_TEXT, ok, strlen(ok)), "text matched as its text");
    tap_ok(!matches("\"status\":\"ko\"", WS_OP_TEXT, ok, strlen(ok)), "a text that does not match");
    tap_ok(matches("^\\{.*\\}$", WS_OP_TEXT, ok, strlen(ok)), "^ and $ anchor the whole message");
    tap_ok(matches("^a.b$", WS_OP_TEXT, "a\nb", 3), "'.' matches a newline (no REG_NEWLINE)");
    tap_ok(matches("(ab){2,}", WS_OP_TEXT, "xababx", 6), "ERE intervals and groups");
    tap_ok(matches("^.$", WS_OP_TEXT, "\xc3\xa9", 2), "'.' is one UTF-8 character, whatever LANG");
    tap_ok(matches("b$", WS_OP_TEXT, "a\0b", 3), "a NUL in text does not end the subject");
    tap_ok(matches("^a[^x]b$", WS_OP_TEXT, "a\0b", 3), "[^x] matches a NUL byte in text");
    const unsigned char bin[] = {0x00, 0xff, 0x10};
    tap_ok(matches("^00ff10$", WS_OP_BINARY, bin, 3), "binary matched as lowercase hex");
    tap_ok(!matches("00FF10", WS_OP_BINARY, bin, 3), "hex digits are lowercase");
    tap_ok(matches("^$", WS_OP_BINARY, "", 0) && matches("^$", WS_OP_TEXT, "", 0),
           "an empty message is the empty subject");
    unsigned char all[256];
    char hex[513];
    for (int i = 0; i < 256; i++) {
        all[i] = (unsigned char)i;
        snprintf(hex + 2 * i, 3, "%02x", i);
    }
    char pat[520];
    snprintf(pat, sizeof(pat), "^%s$", hex);
    tap_ok(matches(pat, WS_OP_BINARY, all, sizeof(all)), "every byte value in hex");
}

static void test_sequence(void)
{
    struct expect e;
    expect_init(&e, 0);
    tap_ok(add(&e, "^A", 1000) == 0 && add(&e, "^B", 2000) == 1, "patterns are added in order");
    tap_ok(!feeds(&e, "B0"), "a message matching a later pattern is tested against the first");
    tap_ok(feeds(&e, "A1"), "the first pattern met");
    tap_ok(expect_item_is_met(&e, 0) && !expect_item_is_met(&e, 1) && e.items[0].met_by == 2,
           "the match is recorded with its message number");
    tap_ok(!expect_is_met(&e), "not all met yet");
    tap_ok(!feeds(&e, "A2") && feeds(&e, "B3") && e.items[1].met_by == 4,
           "messages after a match are tested against the next pattern");
    tap_ok(expect_is_met(&e) && !feeds(&e, "B4"), "every pattern met; later messages match none");
    tap_ok(e.received == 5, "every message counted");
    expect_free(&e);

    /* the messages before a match are consumed: B0 is not seen by ^B */
    expect_init(&e, 0);
    add(&e, "^A", -1);
    add(&e, "^B", -1);
    feeds(&e, "B0");
    feeds(&e, "A1");
    tap_ok(!expect_item_is_met(&e, 1), "a message before the previous match is consumed");
    expect_free(&e);

    /* abort: an incomplete message is not a message */
    expect_init(&e, 0);
    add(&e, "x", -1);
    expect_message_begin(&e, WS_OP_TEXT);
    expect_message_data(&e, (const uint8_t *)"x", 1);
    expect_message_abort(&e);
    tap_ok(e.received == 0 && !expect_item_is_met(&e, 0),
           "an aborted message neither counts nor matches");
    expect_free(&e);
}

static void test_count(void)
{
    struct expect e;
    expect_init(&e, 0);
    expect_set_count(&e, 3);
    tap_ok(expect_is_active(&e) && !expect_is_met(&e), "--count 3 waits");
    feeds(&e, "1");
    feeds(&e, "2");
    tap_ok(!expect_is_met(&e), "two messages are not three");
    feed(&e, WS_OP_BINARY, "\x01", 1, 0);
    tap_ok(expect_is_met(&e), "binary messages count too");
    tap_ok(buf_size(&e.subject) == 0 && e.subject.cap == 0, "--count alone keeps no message");
    expect_free(&e);

    /* --until X --count 2: X must come within 2 messages */
    expect_init(&e, 0);
    add(&e, "X", -1);
    expect_set_count(&e, 2);
    feeds(&e, "a");
    tap_ok(!expect_count_exhausted(&e), "one message of two");
    feeds(&e, "b");
    tap_ok(expect_count_exhausted(&e) && !expect_is_met(&e), "count reached without a match");
    char line[300];
    expect_describe(&e, EXPECT_TIMED_OUT, 0, line, sizeof(line));
    tap_ok(!strcmp(line, "no message matched /X/ in the first 2 messages (last: b)"),
           "says the pattern met none of the first N (%s)", line);
    expect_free(&e);

    expect_init(&e, 0);
    expect_set_count(&e, 5);
    expect_wait_start(&e, 1000);
    feeds(&e, "one");
    feeds(&e, "two");
    expect_describe(&e, EXPECT_CLOSED, 3500, line, sizeof(line));
    tap_ok(!strcmp(line, "2 of 5 messages received in 2.5 s, before the connection ended "
                         "(last: two)"),
           "count failure line (%s)", line);
    expect_free(&e);
}

static void test_wait(void)
{
    struct expect e;
    expect_init(&e, 0);
    add(&e, "\"status\":\"ok\"", 10000);
    tap_ok(expect_deadline(&e) == -1, "no deadline before the wait starts");
    feeds(&e, "{\"status\":\"new\"}");
    expect_wait_start(&e, 5000);
    tap_ok(expect_deadline(&e) == 15000, "the deadline is the start plus the wait");
    feeds(&e, "{\"status\":\"queued\"}");
    feeds(&e, "{\"status\":\"pending\"}");
    tap_ok(!expect_has_expired(&e, 14999) && expect_has_expired(&e, 15000),
           "expires at the deadline");
    char line[300];
    expect_describe(&e, EXPECT_TIMED_OUT, 15000, line, sizeof(line));
    tap_ok(!strcmp(line, "no message matched /\"status\":\"ok\"/ in 10 s (3 received; last: "
                         "{\"status\":\"pending\"})"),
           "the failure line (%s)", line);
    tap_ok(feeds(&e, "{\"status\":\"ok\"}") && expect_deadline(&e) == -1, "a match ends the wait");
    expect_free(&e);

    expect_init(&e, 0);
    add(&e, "x", -1);
    expect_wait_start(&e, 0);
    tap_ok(expect_deadline(&e) == -1 && !expect_has_expired(&e, 1000000),
           "--until has no deadline of its own");
    expect_describe(&e, EXPECT_CLOSED, 250, line, sizeof(line));
    tap_ok(!strcmp(line, "no message matched /x/ in 0.25 s, before the connection ended "
                         "(none received)"),
           "nothing received (%s)", line);
    expect_free(&e);
}

static void test_describe_bounds(void)
{
    struct expect e;
    expect_init(&e, 0);
    add(&e, "zz\x1b", -1);
    char big[300];
    memset(big, 'a', sizeof(big));
    big[0] = '\x1b';
    big[1] = '\n';
    feed(&e, WS_OP_TEXT, big, sizeof(big), 7);
    char line[400];
    expect_describe(&e, EXPECT_TIMED_OUT, 0, line, sizeof(line));
    tap_ok(strstr(line, "/zz\\x1b/") && strstr(line, "last: \\x1b\\x0aaaa") &&
               strstr(line, "...") && strstr(line, "(300 bytes)") && !strchr(line, '\x1b'),
           "pattern and message escaped and bounded (%s)", line);
    const unsigned char b[20] = {0xde, 0xad, 0xbe, 0xef};
    feed(&e, WS_OP_BINARY, b, sizeof(b), 0);
    expect_describe(&e, EXPECT_TIMED_OUT, 0, line, sizeof(line));
    tap_ok(strstr(line, "last: binary deadbeef000000000000000000000000... (20 bytes)") != NULL,
           "a binary last message shows as hex (%s)", line);
    feeds(&e, "caf\xc3\xa9 \xc2\x85");
    expect_describe(&e, EXPECT_TIMED_OUT, 0, line, sizeof(line));
    tap_ok(strstr(line, "last: caf\xc3\xa9 \\xc2\\x85)") != NULL,
           "UTF-8 kept, a C1 control escaped (%s)", line);
    expect_free(&e);
}

static void test_hold(void)
{
    struct expect e;
    expect_init(&e, 8);
    add(&e, "^0123", -1);
    add(&e, "89", -1);
    tap_ok(feeds(&e, "0123456789"), "a long text is matched on its first hold_max bytes");
    tap_ok(!feeds(&e, "0123456789"), "what was not kept is not matched");
    tap_ok(buf_size(&e.subject) == 0, "nothing is kept between messages");
    expect_free(&e);

    expect_init(&e, 2);
    add(&e, "^0001$", -1);
    const unsigned char b[3] = {0, 1, 2};
    tap_ok(feed(&e, WS_OP_BINARY, b, 3, 1), "binary keeps 2 * hold_max hex digits");
    expect_free(&e);
}

int main(void)
{
    test_patterns();
    test_sequence();
    test_count();
    test_wait();
    test_describe_bounds();
    test_hold();
    return tap_done();
}
