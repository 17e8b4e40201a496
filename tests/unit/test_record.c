/* SPDX-License-Identifier: MIT */
/* Unit tests for recordings (record.c): what the writer writes, and that
 * the reader gives back every event byte for byte, however the file is cut
 * into reads; reader errors name their line. */
#include <stdio.h>
#include <string.h>

#include "record.h"
#include "tap.h"

/* An event as the tests compare it. */
struct got {
    enum rec_type type;
    enum rec_from from;
    unsigned client;
    int64_t t;
    unsigned long line;
    int code;
    bool is_incomplete;
    size_t len;
    unsigned char *payload; /* owned */
    char url[2048], subprotocol[256];
};

struct gots {
    struct got ev[64];
    size_t n;
    bool was_cut;
    char error[200];
};

static void gots_free(struct gots *g)
{
    for (size_t i = 0; i < g->n; i++)
        free(g->ev[i].payload);
    g->n = 0;
}

static void take(struct gots *g, const struct rec_event *e)
{
    if (g->n == 64)
        return;
    struct got *o = &g->ev[g->n++];
    o->type = e->type;
    o->from = e->from;
    o->client = e->client;
    o->t = e->t;
    o->line = e->line;
    o->code = e->code;
    o->is_incomplete = e->is_incomplete;
    o->len = buf_size(&e->payload);
    o->payload = tap_dup(buf_head(&e->payload), o->len);
    snprintf(o->url, sizeof(o->url), "%s", e->url);
    snprintf(o->subprotocol, sizeof(o->subprotocol), "%s", e->subprotocol);
}

/* Reads text[0, len) in reads of step bytes (0: whole), each an exact-size
 * heap copy. Returns 0, or -1 with g->error. */
static int read_all(const void *text, size_t len, size_t step, uint64_t max, struct gots *g)
{
    struct rec_reader r;
    rec_reader_init(&r, max);
    memset(g, 0, sizeof(*g));
    int rc = 0;
    size_t at = 0;
    while (at < len && rc == 0) {
        size_t n = step && len - at > step ? step : len - at;
        unsigned char *piece = tap_dup((const char *)text + at, n);
        size_t off = 0;
        while (off < n) {
            size_t used;
            enum rec_result res = rec_reader_feed(&r, piece + off, n - off, &used);
            off += used;
            if (res == REC_EVENT)
                take(g, rec_reader_event(&r));
            if (res == REC_ERROR) {
                rc = -1;
                break;
            }
        }
        free(piece);
        at += n;
    }
    while (rc == 0) {
        enum rec_result res = rec_reader_finish(&r);
        if (res == REC_EVENT)
            take(g, rec_reader_event(&r));
        else if (res == REC_ERROR)
            rc = -1;
        else
            break;
    }
    g->was_cut = r.was_cut;
    snprintf(g->error, sizeof(g->error), "%s", rec_reader_error(&r));
    rec_reader_free(&r);
    return rc;
}

static bool same_reads(const void *text, size_t len, const struct gots *want)
{
    for (size_t step = 1; step < 40 && step < len; step += step < 8 ? 1 : 7) {
        struct gots g;
        int rc = read_all(text, len, step, 0, &g);
        bool same = rc == 0 && g.n == want->n;
        for (size_t i = 0; same && i < g.n; i++)
            same = g.ev[i].type == want->ev[i].type && g.ev[i].len == want->ev[i].len &&
                   !memcmp(g.ev[i].payload, want->ev[i].payload, g.ev[i].len) &&
                   g.ev[i].line == want->ev[i].line;
        gots_free(&g);
        if (!same) {
            tap_diag("reads of %zu bytes differ", step);
            return false;
        }
    }
    return true;
}

static struct rec_stamp at(int64_t t)
{
    return (struct rec_stamp){.time = "2026-01-02T03:04:05.678Z", .t = t};
}

/* A whole message through the writer, in pieces of step bytes. */
static void message(struct rec_writer *w, struct rec_stream *s, enum ws_opcode op, const void *p,
                    size_t len, size_t step, int64_t t)
{
    struct rec_stamp st = at(t);
    rec_message_begin(w, s, op, &st);
    size_t done = 0;
    while (done < len) {
        size_t n = step && len - done > step ? step : len - done;
        rec_message_data(w, s, (const uint8_t *)p + done, n, &st);
        done += n;
    }
    rec_message_end(w, s, &st);
}

static bool payload_is(const struct got *g, const void *p, size_t len)
{
    return g->len == len && !memcmp(g->payload, p, len);
}

static void test_round_trip(void)
{
    struct rec_writer w;
    rec_writer_init(&w, false);
    struct rec_stream cs, ss;
    rec_stream_init(&cs, 0, REC_FROM_CLIENT);
    rec_stream_init(&ss, 0, REC_FROM_SERVER);
    struct rec_header req[] = {{"Host", "x"},
                               {"authorization", "Basic c2VjcmV0"},
                               {"Cookie", "id=1"},
                               {"Sec-WebSocket-Protocol", "chat, superchat"}};
    struct rec_header res[] = {{"Sec-WebSocket-Protocol", "chat"},
                               {"Sec-WebSocket-Extensions", "permessage-deflate"}};
    struct rec_open o = {"ws://h/p?q=\"1\"", REC_FROM_CLIENT, req, 4, res, 2};
    struct rec_stamp st0 = at(0);
    rec_write_open(&w, &o, 0, &st0);
    tap_ok(rec_writer_wants_write(&w), "a whole line is due to be written");

    unsigned char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    const char *text = "h\xc3\xa9llo \"w\" \\ \x01\x7f\xc2\x85 \xf0\x9f\x98\x80 \0end";
    size_t text_len = 28;
    message(&w, &cs, WS_OP_TEXT, text, text_len, 0, 10);
    message(&w, &ss, WS_OP_BINARY, all, sizeof(all), 0, 20);
    message(&w, &cs, WS_OP_TEXT, "", 0, 0, 30);
    message(&w, &ss, WS_OP_BINARY, "", 0, 0, 31);
    message(&w, &cs, WS_OP_TEXT, text, text_len, 1, 40); /* byte by byte: fragmented */
    struct rec_stamp st = at(50);
    rec_control(&w, &cs, WS_OP_PING, (const uint8_t *)"p\xff", 2, &st);
    rec_control(&w, &ss, WS_OP_PONG, (const uint8_t *)"p", 1, &st);
    st = at(60);
    rec_close(&w, &cs, 4000, (const uint8_t *)"done \"x\"", 8, &st);
    rec_close(&w, &ss, WS_CLOSE_NO_STATUS, (const uint8_t *)"", 0, &st);

    size_t file_len = buf_size(&w.out);
    buf_append(&w.out, "", 1); /* a C string for strstr; file_len leaves the NUL out */
    const char *file = (const char *)buf_head(&w.out);
    tap_ok(strstr(file, "\"authorization\"") == NULL &&
               strstr(file, "\"request\":{\"Authorization\":\"***\",\"Cookie\":\"***\","
                            "\"Sec-WebSocket-Protocol\":\"chat, superchat\"}") != NULL &&
               strstr(file, "c2VjcmV0") == NULL,
           "the opening keeps the headers that matter, credentials masked");
    tap_ok(strstr(file, "{\"type\":\"text\",\"opcode\":1,\"time\":\"2026-01-02T03:04:05.678Z\","
                        "\"from\":\"client\",\"t\":10,\"data\":\"h\xc3\xa9llo") != NULL,
           "a message line: the --jsonl head plus from and t");
    tap_ok(strstr(file, "\"from\":\"server\",\"t\":60,\"reason\":\"\",\"length\":0}") != NULL,
           "a close without a status");

    struct gots g;
    tap_ok(read_all(file, file_len, 0, 0, &g) == 0 && g.n == 10, "the reader reads it back: %s",
           g.error);
    tap_ok(g.ev[0].type == REC_OPEN && !strcmp(g.ev[0].url, "ws://h/p?q=\"1\"") &&
               !strcmp(g.ev[0].subprotocol, "chat") && g.ev[0].t == 0 && g.ev[0].line == 1,
           "the opening: URL and the subprotocol chosen");
    tap_ok(g.ev[1].type == REC_TEXT && g.ev[1].from == REC_FROM_CLIENT && g.ev[1].t == 10 &&
               payload_is(&g.ev[1], text, text_len),
           "text byte-exact: escapes, C1, 4-byte character, NUL");
    tap_ok(g.ev[2].type == REC_BINARY && g.ev[2].from == REC_FROM_SERVER &&
               payload_is(&g.ev[2], all, sizeof(all)),
           "binary: every byte value");
    tap_ok(g.ev[3].len == 0 && g.ev[3].type == REC_TEXT && g.ev[4].len == 0 &&
               g.ev[4].type == REC_BINARY,
           "empty text and binary messages");
    tap_ok(payload_is(&g.ev[5], text, text_len) && g.ev[5].t == 40,
           "a message written byte by byte reads as one");
    tap_ok(g.ev[6].type == REC_PING && payload_is(&g.ev[6], "p\xff", 2) &&
               g.ev[7].type == REC_PONG && payload_is(&g.ev[7], "p", 1),
           "ping (not UTF-8: base64) and pong");
    tap_ok(g.ev[8].type == REC_CLOSE && g.ev[8].code == 4000 &&
               payload_is(&g.ev[8], "done \"x\"", 8) && g.ev[9].code == -1,
           "closes with code and reason, and without");
    tap_ok(!g.was_cut, "nothing was cut");
    tap_ok(same_reads(file, file_len, &g), "the same events whatever the reads");
    gots_free(&g);
    rec_writer_free(&w);

    rec_writer_init(&w, true);
    rec_write_open(&w, &o, 3, &st0);
    buf_append(&w.out, "", 1); /* a C string for strstr */
    tap_ok(strstr((const char *)buf_head(&w.out), "\"Authorization\":\"Basic c2VjcmV0\"") &&
               strstr((const char *)buf_head(&w.out), "\"client\":3"),
           "--record-secrets keeps credentials; listen mode names the client");
    rec_writer_free(&w);
}

static void test_interleaved(void)
{
    /* A large message from the client, with the server's messages, a ping
     * and another client's message arriving while it streams. */
    struct rec_writer w;
    rec_writer_init(&w, false);
    struct rec_stream c1, s1, c2;
    rec_stream_init(&c1, 1, REC_FROM_CLIENT);
    rec_stream_init(&s1, 1, REC_FROM_SERVER);
    rec_stream_init(&c2, 2, REC_FROM_CLIENT);
    size_t big_len = 300000;
    unsigned char *big = malloc(big_len);
    for (size_t i = 0; i < big_len; i++)
        big[i] = (unsigned char)(i * 31 + (i >> 8));
    const char *euro = "\xe2\x82\xac\xe2\x82\xac"; /* split inside a character below */
    struct rec_stamp st = at(5);
    size_t max_unwritten = 0;
    struct buf file;
    buf_init(&file, 0);
    rec_message_begin(&w, &c1, WS_OP_BINARY, &st);
    rec_message_begin(&w, &c2, WS_OP_TEXT, &st);
    rec_message_data(&w, &c2, (const uint8_t *)euro, 2, &st);
    for (size_t off = 0; off < big_len; off += 1000) {
        rec_message_data(&w, &c1, big + off, 1000, &st);
        if (off == 50000) {
            message(&w, &s1, WS_OP_TEXT, "reply", 5, 0, 7);
            rec_control(&w, &s1, WS_OP_PING, (const uint8_t *)"", 0, &st);
            rec_message_data(&w, &c2, (const uint8_t *)euro + 2, 4, &st);
            rec_message_end(&w, &c2, &st);
        }
        if (buf_size(&w.out) > max_unwritten)
            max_unwritten = buf_size(&w.out);
        if (rec_writer_wants_write(&w)) { /* as the recorder's file writes would */
            buf_append(&file, buf_head(&w.out), buf_size(&w.out));
            buf_clear(&w.out);
        }
    }
    rec_message_end(&w, &c1, &st);
    buf_append(&file, buf_head(&w.out), buf_size(&w.out));
    size_t file_len = buf_size(&file);
    buf_append(&file, "", 1); /* a C string for strstr */
    tap_ok(max_unwritten < 2 * REC_WRITE_AT, "a large message streams out (%zu bytes held)",
           max_unwritten);
    tap_ok(strstr((const char *)buf_head(&file), "\"more\":true") != NULL &&
               strstr((const char *)buf_head(&file), "\"opcode\":0") != NULL,
           "interrupted lines end as parts and go on with opcode 0");

    struct gots g;
    int rc = read_all(buf_head(&file), file_len, 4096, 0, &g);
    tap_ok(rc == 0 && g.n == 4, "read back: %zu events %s", g.n, g.error);
    tap_ok(g.ev[0].type == REC_TEXT && payload_is(&g.ev[0], "reply", 5) && g.ev[1].type == REC_PING,
           "the server's message and ping in their places");
    tap_ok(g.ev[2].client == 2 && payload_is(&g.ev[2], euro, 6),
           "a character split across parts comes back whole");
    tap_ok(g.ev[3].client == 1 && g.ev[3].type == REC_BINARY && g.ev[3].t == 5 &&
               g.ev[3].line == 1 && payload_is(&g.ev[3], big, big_len),
           "the large message byte-exact, dated and numbered by its first line");
    gots_free(&g);
    tap_ok(read_all(buf_head(&file), file_len, 0, big_len - 1, &g) == -1 &&
               strstr(g.error, "larger than --max-message"),
           "a message larger than --max-message is refused (%s)", g.error);
    gots_free(&g);
    buf_free(&file);
    free(big);
    rec_writer_free(&w);
}

static void test_cut(void)
{
    struct rec_writer w;
    rec_writer_init(&w, false);
    struct rec_stream s;
    rec_stream_init(&s, 0, REC_FROM_SERVER);
    message(&w, &s, WS_OP_TEXT, "one", 3, 0, 1);
    struct rec_stamp st = at(2);
    rec_message_begin(&w, &s, WS_OP_TEXT, &st);
    rec_message_data(&w, &s, (const uint8_t *)"tw", 2, &st);
    /* killed here: the second line has no end */
    struct gots g;
    tap_ok(read_all(buf_head(&w.out), buf_size(&w.out), 0, 0, &g) == 0 && g.n == 1 && g.was_cut,
           "a line a killed wsc left unfinished is dropped, the rest kept");
    gots_free(&g);
    rec_message_abort(&w, &s, &st);
    tap_ok(read_all(buf_head(&w.out), buf_size(&w.out), 0, 0, &g) == 0 && g.n == 2 &&
               g.ev[1].is_incomplete && payload_is(&g.ev[1], "tw", 2),
           "an aborted message reads as incomplete");
    gots_free(&g);
    const char *no_nl = "{\"type\":\"pong\",\"from\":\"client\",\"data\":\"x\"}";
    tap_ok(read_all(no_nl, strlen(no_nl), 0, 0, &g) == 0 && g.n == 1 && !g.was_cut,
           "a whole last line needs no newline");
    gots_free(&g);
    rec_writer_free(&w);
}

static bool refused(const char *text, const char *want)
{
    struct gots g;
    int rc = read_all(text, strlen(text), 0, 0, &g);
    gots_free(&g);
    if (rc == 0 || !strstr(g.error, want)) {
        tap_diag("got '%s', wanted '%s'", g.error, want);
        return false;
    }
    return true;
}

static void test_errors(void)
{
    tap_ok(refused("\n\nnot json\n", "line 3: expected a JSON object"), "not JSON, with its line");
    tap_ok(refused("{\"type\":\"text\",\"from\":\"client\",\"data\":\"x\"\n",
                   "line 1: the line ends inside its object"),
           "an object cut by a newline");
    tap_ok(refused("{\"type\":\"text\",\"data\":\"x\"}\n", "\"from\""), "a message needs from");
    tap_ok(refused("{\"type\":\"text\",\"opcode\":0,\"from\":\"client\",\"data\":\"x\"}\n",
                   "continuation (opcode 0) of no message"),
           "a continuation of nothing");
    tap_ok(refused("{\"type\":\"text\",\"from\":\"server\",\"data\":\"ab\",\"length\":3}\n",
                   "\"length\" is 3 but the data holds 2 bytes"),
           "a length that does not match");
    tap_ok(refused("{\"type\":\"binary\",\"from\":\"server\",\"encoding\":\"base64\","
                   "\"data\":\"Zm9=v\"}\n",
                   "base64"),
           "bad base64");
    tap_ok(refused("{\"type\":\"text\",\"from\":\"server\",\"data\":\"\\ud800x\"}\n", "surrogate"),
           "a lone surrogate");
    tap_ok(refused("{\"type\":\"text\",\"from\":\"server\",\"encoding\":\"base64\","
                   "\"data\":\"/w==\"}\n",
                   "not valid UTF-8"),
           "a text message must be UTF-8");
    tap_ok(
        refused("{\"type\":\"text\",\"from\":\"server\",\"t\":1.5}\n", "\"t\" is not an integer"),
        "t is an integer");
    tap_ok(refused("{\"type\":\"binary\",\"from\":\"client\",\"t\":-5}\n", "\"t\" is negative"),
           "t is not negative (the writer never writes one; -1 means none)");
    tap_ok(refused("{\"type\":\"text\",\"from\":\"server\",\"more\":true,\"data\":\"a\"}\n"
                   "{\"type\":\"text\",\"from\":\"server\",\"data\":\"b\"}\n",
                   "line 2: a new message before the one at line 1 ended"),
           "a new message while one is in parts");
    tap_ok(refused("{\"type\":\"open\",\"request\":{\"a\":{}}}\n", "nest too deep"),
           "only one level of nesting");
    struct gots g;
    const char *ok = "{\"type\":\"frame\",\"opcode\":5}\n"
                     "{ \"type\" : \"text\" , \"from\" : \"client\" , \"data\" : \"\\u00e9\\ud83d"
                     "\\ude00\\/\" , \"future\" : [1] }\n";
    tap_ok(read_all(ok, strlen(ok), 0, 0, &g) == -1, "arrays are not part of the format");
    gots_free(&g);
    ok = "{\"type\":\"frame\",\"opcode\":5}\n"
         "{ \"type\" : \"text\" , \"from\" : \"client\" , \"data\" : \"\\u00e9\\ud83d"
         "\\ude00\\/\" , \"future\" : {\"x\":1}, \"n\":null }\r\n";
    tap_ok(read_all(ok, strlen(ok), 0, 0, &g) == 0 && g.n == 1 &&
               payload_is(&g.ev[0], "\xc3\xa9\xf0\x9f\x98\x80/", 7) && g.ev[0].t == -1 &&
               g.ev[0].line == 2,
           "JSON as others write it: spaces, escapes, surrogate pairs, unknown members");
    gots_free(&g);
}

int main(void)
{
    test_round_trip();
    test_interleaved();
    test_cut();
    test_errors();
    return tap_done();
}
