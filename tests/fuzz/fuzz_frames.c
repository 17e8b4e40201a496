/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the ws engine (ws.c, and deflate.c's inflater when
 * permessage-deflate is on). The first input byte chooses the setup:
 *   bit 0     role: 0 client (server frames must be unmasked), 1 server
 *   bits 1-3  max_message: 0, 1, 2, 125, 126, 65535, 65536, 1 MiB
 *   bit 4     permessage-deflate on (skipped if ws_deflate_enable fails)
 *   bits 5-6  chunking: whole, one byte at a time, or two ways of taking
 *             chunk sizes from the input's own bytes; bit 6 also has the
 *             engine send a close after its message
 *   bit 7     no_context_takeover both ways, window bits 9 for ours
 * The rest is fed to the engine, each chunk copied into a heap buffer of
 * exactly its size; an input of odd length takes the frame trace away and
 * asks for the whole-message event (the engine's one-step path for whole
 * frames), as the peer engine below always does. Then, if the connection is still open, the engine sends
 * a message made of the input's first bytes. Everything the engine wrote is
 * fed to a peer engine of the other role, which must accept all of it and
 * receive that message intact. Event invariants trap on violation. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "deflate.h"
#include "ws.h"

#define CHECK(cond)                                                                            \
    do {                                                                                       \
        if (!(cond))                                                                           \
            __builtin_trap();                                                                  \
    } while (0)

static const uint64_t max_messages[8] = {0, 1, 2, 125, 126, 65535, 65536, 1 << 20};

struct observer {
    uint64_t max_message;
    bool in_message;
    uint64_t message_len;
    bool has_close;
    /* the last complete message, up to a bound, for the peer */
    uint8_t *cur;
    size_t cur_len, cur_cap;
    uint8_t *last;
    size_t last_len;
    bool has_last;
};

static void on_frame(void *ctx, bool is_outgoing, const struct ws_frame_header *h,
                     const uint8_t *preview, size_t preview_len)
{
    (void)ctx;
    (void)is_outgoing;
    CHECK(preview_len <= 64 && preview_len <= h->len);
    CHECK(preview_len == 0 || preview != NULL);
    CHECK(h->opcode <= 0xF && h->rsv <= 7);
}

static void on_begin(void *ctx, enum ws_opcode op)
{
    struct observer *o = ctx;
    CHECK(!o->in_message && !o->has_close);
    CHECK(op == WS_OP_TEXT || op == WS_OP_BINARY);
    o->in_message = true;
    o->message_len = 0;
    o->cur_len = 0;
}

static void on_data(void *ctx, const uint8_t *p, size_t len)
{
    struct observer *o = ctx;
    CHECK(o->in_message);
    CHECK(len > 0);
    o->message_len += len;
    CHECK(o->max_message == 0 || o->message_len <= o->max_message);
    if (o->cur_len + len <= o->cur_cap) {
        memcpy(o->cur + o->cur_len, p, len);
        o->cur_len += len;
    } else {
        o->cur_len = o->cur_cap + 1; /* too long to keep */
    }
}

static void on_end(void *ctx)
{
    struct observer *o = ctx;
    CHECK(o->in_message);
    o->in_message = false;
    if (o->cur_len <= o->cur_cap) {
        memcpy(o->last, o->cur, o->cur_len);
        o->last_len = o->cur_len;
        o->has_last = true;
    }
}

/* The whole-message event, held to the same rules as the three calls. */
static void on_message(void *ctx, enum ws_opcode op, const uint8_t *p, size_t len)
{
    on_begin(ctx, op);
    if (len)
        on_data(ctx, p, len);
    on_end(ctx);
}

static void on_control(void *ctx, const uint8_t *p, size_t len)
{
    (void)ctx;
    CHECK(len <= WS_MAX_CONTROL);
    CHECK(len == 0 || p != NULL);
}

static void on_close(void *ctx, unsigned code, const uint8_t *reason, size_t len)
{
    struct observer *o = ctx;
    CHECK(!o->has_close);
    o->has_close = true;
    CHECK(code == WS_CLOSE_NO_STATUS || ws_close_code_is_sendable(code));
    CHECK(len <= WS_MAX_CONTROL - 2);
    CHECK(len == 0 || reason != NULL);
}

static int fake_random(void *ctx, uint8_t *p, size_t n)
{
    uint32_t *state = ctx;
    for (size_t i = 0; i < n; i++) {
        *state = *state * 1103515245u + 12345u;
        p[i] = (uint8_t)(*state >> 16);
    }
    return 0;
}

static void observer_init(struct observer *o, uint64_t max, size_t cap)
{
    memset(o, 0, sizeof(*o));
    o->max_message = max;
    o->cur_cap = cap;
    o->cur = malloc(cap ? cap : 1);
    o->last = malloc(cap ? cap : 1);
    if (!o->cur || !o->last)
        abort();
}

static void observer_free(struct observer *o)
{
    free(o->cur);
    free(o->last);
}

static struct ws_config config(enum ws_role role, uint64_t max, struct observer *o, uint32_t *rnd,
                               bool is_traced)
{
    struct ws_config cfg = {
        .role = role,
        .max_message = max,
        .random = fake_random,
        .random_ctx = rnd,
        .events = {o, on_frame, on_begin, on_data, on_end, on_control, on_control, on_close},
    };
    if (!is_traced) {
        cfg.events.frame = NULL;
        cfg.events.message = on_message;
    }
    return cfg;
}

/* Feeds p[0, len) in one exact-size heap copy. */
static int feed_copy(struct ws_conn *c, const uint8_t *p, size_t len)
{
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        abort();
    if (len)
        memcpy(copy, p, len);
    int rc = ws_feed(c, copy, len);
    free(copy);
    return rc;
}

static size_t next_chunk(unsigned mode, const uint8_t *p, size_t pos, size_t len)
{
    size_t left = len - pos;
    size_t n;
    switch (mode) {
    case 0:
        n = left;
        break;
    case 1:
        n = 1;
        break;
    case 2:
        n = 1 + p[pos] % 13u;
        break;
    default:
        n = 1 + (size_t)(p[pos] ^ p[len - 1 - pos]) * 7u;
        break;
    }
    return n < left ? n : left;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t *input = malloc(size);
    if (!input)
        abort();
    memcpy(input, data, size);

    uint8_t setup = input[0];
    enum ws_role role = (setup & 1) ? WS_ROLE_SERVER : WS_ROLE_CLIENT;
    uint64_t max = max_messages[(setup >> 1) & 7];
    bool want_deflate = (setup & 0x10) != 0;
    unsigned mode = (setup >> 5) & 3;
    bool nct = (setup & 0x80) != 0;
    const uint8_t *p = input + 1;
    size_t len = size - 1;

    uint32_t rnd = 0x12345678u;
    struct observer obs;
    observer_init(&obs, max, 0);
    struct ws_config cfg = config(role, max, &obs, &rnd, size % 2 == 0);
    struct ws_conn c;
    ws_init(&c, &cfg);

    struct ws_deflate_params params = {nct, nct, nct ? 9 : 15, nct ? 9 : 15};
    bool has_deflate = want_deflate && ws_deflate_enable(&c, &params, role == WS_ROLE_CLIENT) == 0;

    int rc = 0;
    for (size_t pos = 0; pos < len;) {
        size_t n = next_chunk(mode, p, pos, len);
        rc = feed_copy(&c, p + pos, n);
        pos += n;
        if (rc != 0)
            break;
    }
    if (rc != 0) {
        /* A failure names its rule and queues a close with a sendable code. */
        CHECK(c.state == WS_STATE_FAILED);
        CHECK(ws_close_code_is_sendable(c.error.code));
        CHECK(c.error.reason[0] != 0);
        CHECK(memchr(c.error.reason, 0, sizeof(c.error.reason)) != NULL);
        CHECK(feed_copy(&c, (const uint8_t *)"\x81\x00", 2) == -1); /* later input ignored */
    }

    /* Send a message of up to 300 bytes of the input, as binary. */
    size_t mlen = len < 300 ? len : 300;
    bool sent = c.state == WS_STATE_OPEN && ws_send_message(&c, WS_OP_BINARY, p, mlen) == 0;
    if (c.state == WS_STATE_OPEN && (setup & 0x40))
        ws_send_close(&c, WS_CLOSE_NORMAL, "bye", 3);

    /* The peer: the other role, the same extension, no limit. */
    uint32_t prnd = 0x9abcdef0u;
    struct observer pobs;
    observer_init(&pobs, 0, 512);
    enum ws_role prole = role == WS_ROLE_CLIENT ? WS_ROLE_SERVER : WS_ROLE_CLIENT;
    struct ws_config pcfg = config(prole, 0, &pobs, &prnd, false);
    struct ws_conn peer;
    ws_init(&peer, &pcfg);
    if (has_deflate)
        CHECK(ws_deflate_enable(&peer, &params, prole == WS_ROLE_CLIENT) == 0);
    struct buf *out = ws_output(&c);
    int prc = feed_copy(&peer, buf_head(out), buf_size(out));
    CHECK(prc == 0); /* everything the engine writes is valid for its peer */
    if (sent) {
        CHECK(pobs.has_last && pobs.last_len == mlen);
        CHECK(mlen == 0 || memcmp(pobs.last, p, mlen) == 0);
    }

    ws_free(&peer);
    ws_free(&c);
    observer_free(&pobs);
    observer_free(&obs);
    free(input);
    return 0;
}
