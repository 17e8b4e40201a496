/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the recording reader: whatever a --replay FILE
 * holds, read in two pieces. Every event it gives must be within bounds,
 * and must come back the same through the writer and the reader again. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"
#include "utf8.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            __builtin_trap();                                                                      \
    } while (0)

#define MAX_MESSAGE 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool is_utf8(const struct buf *b)
{
    struct utf8_state st = {0};
    return utf8_validate(&st, buf_head(b), buf_size(b)) == buf_size(b) && utf8_is_complete(&st);
}

/* Writes ev with the writer and reads it back. */
static void round_trip(const struct rec_event *ev)
{
    if (ev->type == REC_OPEN || ev->is_incomplete || ev->code == WS_CLOSE_NO_STATUS)
        return;
    if (ev->type == REC_CLOSE && !is_utf8(&ev->payload))
        return; /* a reason that is not UTF-8 cannot be written as it is */
    struct rec_writer w;
    rec_writer_init(&w, false);
    struct rec_stream s;
    rec_stream_init(&s, ev->client, ev->from);
    struct rec_stamp st = {.time = NULL, .t = ev->t};
    const uint8_t *p = buf_head(&ev->payload);
    size_t len = buf_size(&ev->payload);
    switch (ev->type) {
    case REC_TEXT:
    case REC_BINARY:
        CHECK(rec_message_begin(&w, &s, ev->type == REC_TEXT ? WS_OP_TEXT : WS_OP_BINARY, &st) ==
              0);
        CHECK(rec_message_data(&w, &s, p, len / 2, &st) == 0);
        CHECK(rec_message_data(&w, &s, p + len / 2, len - len / 2, &st) == 0);
        CHECK(rec_message_end(&w, &s, &st) == 0);
        break;
    case REC_PING:
    case REC_PONG:
        CHECK(rec_control(&w, &s, ev->type == REC_PING ? WS_OP_PING : WS_OP_PONG, p, len, &st) ==
              0);
        break;
    default:
        CHECK(rec_close(&w, &s, ev->code < 0 ? WS_CLOSE_NO_STATUS : (unsigned)ev->code, p, len,
                        &st) == 0);
    }
    struct rec_reader r;
    rec_reader_init(&r, MAX_MESSAGE);
    size_t used;
    CHECK(rec_reader_feed(&r, buf_head(&w.out), buf_size(&w.out), &used) == REC_EVENT);
    CHECK(used == buf_size(&w.out));
    const struct rec_event *back = rec_reader_event(&r);
    CHECK(back->type == ev->type && back->from == ev->from && back->client == ev->client &&
          back->t == ev->t && back->code == ev->code);
    CHECK(buf_size(&back->payload) == len && !memcmp(buf_head(&back->payload), p, len));
    rec_reader_free(&r);
    rec_writer_free(&w);
}

static void check_event(const struct rec_event *ev)
{
    CHECK(ev->type <= REC_CLOSE);
    CHECK(buf_size(&ev->payload) <= MAX_MESSAGE);
    if (ev->type != REC_OPEN)
        CHECK(ev->from == REC_FROM_CLIENT || ev->from == REC_FROM_SERVER);
    if (ev->type == REC_TEXT && !ev->is_incomplete)
        CHECK(is_utf8(&ev->payload));
    if (ev->type == REC_PING || ev->type == REC_PONG)
        CHECK(buf_size(&ev->payload) <= WS_MAX_CONTROL);
    CHECK(ev->code >= -1 && ev->code <= 65535);
    CHECK(memchr(ev->url, 0, sizeof(ev->url)) != NULL);
    round_trip(ev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t cut = size ? data[0] % (size + 1) : 0;
    struct rec_reader r;
    rec_reader_init(&r, MAX_MESSAGE);
    enum rec_result res = REC_MORE;
    for (int piece = 0; piece < 2 && res != REC_ERROR; piece++) {
        size_t n = piece ? size - cut : cut;
        uint8_t *p = malloc(n ? n : 1);
        CHECK(p != NULL);
        if (n)
            memcpy(p, data + (piece ? cut : 0), n);
        size_t off = 0;
        while (off < n) {
            size_t used;
            res = rec_reader_feed(&r, p + off, n - off, &used);
            CHECK(used <= n - off);
            off += used;
            if (res == REC_EVENT)
                check_event(rec_reader_event(&r));
            if (res == REC_ERROR)
                break;
            CHECK(res == REC_EVENT || off == n);
        }
        free(p);
    }
    while (res != REC_ERROR) {
        res = rec_reader_finish(&r);
        if (res == REC_EVENT)
            check_event(rec_reader_event(&r));
        else
            break;
    }
    if (res == REC_ERROR)
        CHECK(!strncmp(rec_reader_error(&r), "line ", 5));
    rec_reader_free(&r);
    return 0;
}
