/* SPDX-License-Identifier: MIT */
/* Unit tests for the replay schedule (replay.c), built from recordings that
 * the writer makes and the reader reads, as a --replay run would. */
#include <stdio.h>
#include <string.h>

#include "replay.h"
#include "tap.h"

struct line {
    unsigned client;
    enum rec_from from;
    enum ws_opcode op;
    const char *data;
    int64_t t;
};

/* Writes the lines as a recording, reads it back into r. */
static int build(struct replay *r, const struct line *lines, size_t n)
{
    struct rec_writer w;
    rec_writer_init(&w, false);
    for (size_t i = 0; i < n; i++) {
        struct rec_stream s;
        rec_stream_init(&s, lines[i].client, lines[i].from);
        struct rec_stamp st = {.time = NULL, .t = lines[i].t};
        const uint8_t *p = (const uint8_t *)lines[i].data;
        size_t len = strlen(lines[i].data);
        if (lines[i].op == WS_OP_CLOSE) {
            rec_close(&w, &s, 1000, p, len, &st);
        } else {
            rec_message_begin(&w, &s, lines[i].op, &st);
            rec_message_data(&w, &s, p, len, &st);
            rec_message_end(&w, &s, &st);
        }
    }
    struct rec_reader rd;
    rec_reader_init(&rd, 0);
    size_t off = 0;
    int rc = 0;
    while (off < buf_size(&w.out) && rc == 0) {
        size_t used;
        enum rec_result res =
            rec_reader_feed(&rd, buf_head(&w.out) + off, buf_size(&w.out) - off, &used);
        off += used;
        if (res == REC_EVENT)
            rc = replay_add(r, rec_reader_event(&rd));
        else if (res == REC_ERROR)
            rc = -1;
    }
    rec_reader_free(&rd);
    rec_writer_free(&w);
    return rc;
}

static bool rx(struct replay *r, enum ws_opcode op, const char *data, int64_t now, char *out,
               size_t outlen)
{
    replay_rx_begin(r, op);
    size_t len = strlen(data);
    replay_rx_data(r, (const uint8_t *)data, len / 2);
    replay_rx_data(r, (const uint8_t *)data + len / 2, len - len / 2);
    return replay_rx_end(r, now, out, outlen);
}

static const struct line chat[] = {
    {0, REC_FROM_CLIENT, WS_OP_TEXT, "sub", 100},
    {0, REC_FROM_SERVER, WS_OP_TEXT, "ack", 150},
    {0, REC_FROM_SERVER, WS_OP_BINARY, "tick1", 300},
    {0, REC_FROM_CLIENT, WS_OP_TEXT, "second", 1300},
    {0, REC_FROM_SERVER, WS_OP_TEXT, "bye", 1350},
    {0, REC_FROM_CLIENT, WS_OP_CLOSE, "done", 1400},
};

static void test_client(void)
{
    struct replay r;
    replay_init(&r, REC_FROM_CLIENT, 0, 1);
    tap_ok(build(&r, chat, 6) == 0 && r.num_own == 3 && r.num_other == 3,
           "the client's messages and close are its own, the server's are awaited");
    tap_ok(r.own[1].awaits == 2 && r.own[2].awaits == 3 && r.own[2].code == 1000,
           "each own message awaits the server messages before it");
    size_t i = 99;
    char why[200];
    replay_start(&r, 1000);
    tap_ok(replay_next(&r, 1000, &i) == REPLAY_WAIT && replay_deadline(&r) == 1100,
           "the first message waits for its recorded time");
    tap_ok(replay_next(&r, 1100, &i) == REPLAY_SEND && i == 0, "then goes");
    replay_sent(&r, 1100);
    tap_ok(replay_next(&r, 1100, &i) == REPLAY_WAIT && replay_deadline(&r) == 11100,
           "the second waits for two server messages, 10 s at most");
    tap_ok(!rx(&r, WS_OP_TEXT, "ack", 1200, why, sizeof(why)), "a message as recorded");
    tap_ok(replay_next(&r, 5000, &i) == REPLAY_WAIT, "one server message is not two");
    tap_ok(!rx(&r, WS_OP_BINARY, "tick1", 1500, why, sizeof(why)), "binary as recorded");
    tap_ok(replay_next(&r, 1500, &i) == REPLAY_WAIT && replay_deadline(&r) == 2500,
           "the recorded gap after the awaited message (1000 ms) is kept");
    tap_ok(replay_next(&r, 2500, &i) == REPLAY_SEND && i == 1, "the reply goes after its question");
    replay_sent(&r, 2500);
    tap_ok(rx(&r, WS_OP_TEXT, "BYE", 2510, why, sizeof(why)) &&
               !strcmp(why, "differs from recording at message 3: other bytes than recorded "
                            "(3 bytes, line 5)"),
           "a different payload is reported (%s)", why);
    tap_ok(replay_next(&r, 2600, &i) == REPLAY_CLOSE && i == 2, "the recorded close comes last");
    replay_sent(&r, 2600);
    tap_ok(replay_next(&r, 2600, &i) == REPLAY_DONE && r.differences == 1, "done, one difference");
    tap_ok(rx(&r, WS_OP_TEXT, "extra", 2700, why, sizeof(why)) &&
               strstr(why, "message 4: not in the recording (text, 5 bytes)"),
           "a message past the recording (%s)", why);
    replay_free(&r);
}

static void test_speed_and_missing(void)
{
    struct replay r;
    size_t i;
    char why[200];
    replay_init(&r, REC_FROM_CLIENT, 0, 0);
    build(&r, chat, 6);
    replay_start(&r, 0);
    tap_ok(replay_next(&r, 0, &i) == REPLAY_SEND, "--replay-speed 0: no gaps");
    replay_sent(&r, 0);
    rx(&r, WS_OP_TEXT, "ack", 1, why, sizeof(why));
    rx(&r, WS_OP_BINARY, "tick1", 2, why, sizeof(why));
    tap_ok(replay_next(&r, 2, &i) == REPLAY_SEND && i == 1,
           "--replay-speed 0: at once when the awaited messages came");
    replay_free(&r);

    replay_init(&r, REC_FROM_CLIENT, 0, 2);
    build(&r, chat, 6);
    replay_start(&r, 0);
    tap_ok(replay_next(&r, 0, &i) == REPLAY_WAIT && replay_deadline(&r) == 50,
           "--replay-speed 2 halves the gaps");
    replay_free(&r);

    replay_init(&r, REC_FROM_CLIENT, 0, 1);
    build(&r, chat, 6);
    replay_start(&r, 0);
    replay_next(&r, 100, &i);
    replay_sent(&r, 100);
    rx(&r, WS_OP_TEXT, "ack", 200, why, sizeof(why));
    tap_ok(replay_next(&r, 10199, &i) == REPLAY_WAIT, "waiting for the second server message");
    tap_ok(replay_next(&r, 10200, &i) == REPLAY_MISSING, "missing 10 s after the last arrival");
    replay_describe_missing(&r, why, sizeof(why));
    tap_ok(!strcmp(why, "message 2 of the server (recording line 3) did not come within 10 s"),
           "names the message (%s)", why);
    replay_free(&r);
}

static void test_server_and_clients(void)
{
    struct replay r;
    size_t i;
    char why[200];
    replay_init(&r, REC_FROM_SERVER, 0, 0);
    build(&r, chat, 6);
    tap_ok(r.num_own == 3 && r.own[0].awaits == 1 && r.own[2].awaits == 2 && r.num_other == 2 &&
               r.other_closed_first,
           "the same recording as a server: replies await their questions");
    replay_start(&r, 0);
    tap_ok(replay_next(&r, 0, &i) == REPLAY_WAIT, "the server waits for the client's message");
    tap_ok(rx(&r, WS_OP_BINARY, "sub", 5, why, sizeof(why)) &&
               strstr(why, "message 1: binary (3 bytes), recorded text (3 bytes, line 1)"),
           "a type that differs (%s)", why);
    tap_ok(replay_next(&r, 5, &i) == REPLAY_SEND && i == 0, "then replies");
    replay_free(&r);

    static const struct line two[] = {
        {1, REC_FROM_CLIENT, WS_OP_TEXT, "one", 1}, {2, REC_FROM_CLIENT, WS_OP_TEXT, "two", 2},
        {2, REC_FROM_SERVER, WS_OP_TEXT, "2!", 3},  {1, REC_FROM_SERVER, WS_OP_TEXT, "1!", 4},
        {2, REC_FROM_SERVER, WS_OP_TEXT, "2!!", 5},
    };
    replay_init(&r, REC_FROM_CLIENT, 0, 0);
    build(&r, two, 5);
    tap_ok(r.client == 1 && r.num_own == 1 && r.num_other == 1, "the first client by default");
    replay_free(&r);
    replay_init(&r, REC_FROM_CLIENT, 2, 0);
    build(&r, two, 5);
    tap_ok(r.client == 2 && r.num_own == 1 && r.num_other == 2 && r.other[1].len == 3,
           "--replay-client picks another");
    replay_free(&r);
}

int main(void)
{
    test_client();
    test_speed_and_missing();
    test_server_and_clients();
    return tap_done();
}
