/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the client side over HTTP/2 (RFC 8441): the input is
 * a byte of chunk size, two bytes (big-endian) of first-flight length L, and
 * what a server sends on the connection: its first L bytes (preface and
 * SETTINGS) at once, the rest only after wsc has sent its request, as a real
 * server answers only then. It is handed to the HTTP/2 session (src/io/h2.c
 * over a transport that reads from memory) as the loop drives it: the answer
 * to the extended CONNECT is judged, and on success the stream's bytes go to
 * a client engine whose output is written back to the stream. Checks: no
 * crash, no leak, every failure has a reason, nothing past the input read. */
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/handshake.h"
#include "core/url.h"
#include "core/ws.h"
#include "io/h2.h"
#include "io/stream.h"

#define CHECK(cond)                                                                            \
    do {                                                                                       \
        if (!(cond))                                                                           \
            __builtin_trap();                                                                  \
    } while (0)

#define MAX_TURNS 100000

/* The server's bytes, served a chunk per read; what wsc writes is dropped. */
struct memory {
    const uint8_t *data;
    size_t size, off, chunk;
    size_t first;    /* served before the request went out */
    bool is_open;    /* the request went out: everything may come */
    bool is_blocked; /* every other read would block, as a socket does */
};

static ssize_t mem_read(struct stream *s, void *p, size_t n)
{
    struct memory *m = s->impl;
    m->is_blocked = !m->is_blocked;
    if (m->is_blocked && m->off < m->size)
        return STREAM_AGAIN;
    size_t end = m->is_open || m->first > m->size ? m->size : m->first;
    if (m->off == end && end < m->size)
        return STREAM_AGAIN; /* the server waits for the request */
    size_t left = end - m->off, take = left < n ? left : n;
    take = take < m->chunk ? take : m->chunk;
    memcpy(p, m->data + m->off, take);
    m->off += take;
    return (ssize_t)take;
}

static ssize_t mem_write(struct stream *s, const void *p, size_t n)
{
    return (ssize_t)n;
}

static size_t mem_pending(struct stream *s)
{
    return 0;
}

static void mem_shutdown(struct stream *s)
{
}

static void mem_free(struct stream *s)
{
    free(s->impl);
}

static const struct stream_ops mem_ops = {mem_read, mem_write, mem_pending, mem_shutdown,
                                          mem_free, NULL, NULL};

static int fill_random(void *ctx, uint8_t *p, size_t n)
{
    memset(p, 0x5a, n);
    return 0;
}

/* The engine's turn: what the stream has goes in, what the engine says goes
 * out. Returns false once the WebSocket is over. */
static bool run_engine(struct stream *s, struct ws_conn *c)
{
    static uint8_t rbuf[65536];
    ssize_t n = stream_read(s, rbuf, sizeof(rbuf));
    if (n == STREAM_ERROR) {
        CHECK(s->error[0]);
        return false;
    }
    if (n == 0)
        return false;
    if (n > 0 && ws_feed(c, rbuf, (size_t)n) != 0) {
        CHECK(c->state == WS_STATE_FAILED && c->error.reason[0]);
        return false;
    }
    struct buf *out = ws_output(c);
    while (buf_size(out)) {
        ssize_t w = stream_write(s, buf_head(out), buf_size(out));
        if (w == STREAM_AGAIN)
            break;
        if (w < 0) {
            CHECK(s->error[0]);
            return false;
        }
        buf_consume(out, (size_t)w);
    }
    return !ws_is_done(c);
}

static void run(const uint8_t *data, size_t size, size_t chunk, size_t first)
{
    static struct url url;
    static int has_url;
    if (!has_url) {
        char err[128];
        CHECK(url_parse("ws://server.example.com/chat", &url, err, sizeof(err)) == 0);
        has_url = 1;
    }
    struct memory *m = calloc(1, sizeof(*m));
    struct stream *t = calloc(1, sizeof(*t));
    CHECK(m && t);
    *m = (struct memory){.data = data, .size = size, .chunk = chunk, .first = first};
    *t = (struct stream){.ops = &mem_ops, .fd = -1, .is_secured = true, .impl = m};
    static const char *const protos[] = {"chat"};
    struct hs_client hc = {.url = &url, .version = 13, .offer_deflate = true,
                           .subprotocols = protos, .num_subprotocols = 1};
    char err[256];
    struct stream *s = h2_client_open(t, false, &hc, err, sizeof(err));
    CHECK(s != NULL);
    struct http_head h;
    enum h2_response r = H2_WAIT;
    for (int turn = 0; turn < MAX_TURNS && r == H2_WAIT; turn++) {
        stream_poll_events(s, true, false);
        stream_ready(s, POLLIN);
        r = h2_stream_response(s, &h);
        m->is_open = h2_stream_id(s) > 0;
        if (r == H2_WAIT && m->off == m->size && turn > 4)
            break; /* the input ended without an answer */
        if (r == H2_WAIT && !m->is_open && m->off == m->first && turn > 100)
            break; /* a first flight after which wsc cannot send its request */
    }
    if (r == H2_FAILED || r == H2_NO_WEBSOCKETS)
        CHECK(s->error[0]);
    struct hs_result res;
    if (r == H2_READY && hs_check_response_h2(&hc, &h, &res) == 0) {
        struct ws_config cfg = {.role = WS_ROLE_CLIENT, .max_message = 1 << 20,
                                .random = fill_random};
        struct ws_conn c;
        ws_init(&c, &cfg);
        if (res.has_deflate)
            CHECK(ws_deflate_enable(&c, &res.deflate, true) == 0);
        ws_send_message(&c, WS_OP_TEXT, "hello", 5);
        for (int turn = 0; turn < MAX_TURNS; turn++) {
            stream_poll_events(s, true, true);
            if (!run_engine(s, &c))
                break;
            if (m->off == m->size && !stream_pending(s) && turn > 4)
                break;
        }
        stream_shutdown(s);
        ws_free(&c);
    }
    CHECK(m->off <= m->size);
    stream_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    static const size_t chunks[8] = {1, 2, 3, 9, 64, 1000, 16393, 65536};
    uint8_t *copy = malloc(size - 3 ? size - 3 : 1); /* exact size for ASan */
    CHECK(copy != NULL);
    memcpy(copy, data + 3, size - 3);
    run(copy, size - 3, chunks[data[0] & 7], (size_t)data[1] << 8 | data[2]);
    free(copy);
    return 0;
}
