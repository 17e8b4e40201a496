/* SPDX-License-Identifier: MIT */
/* Unit tests for permessage-deflate (RFC 7692): engine round trips in both
 * roles, the RFC's own examples fed whole, split and byte by byte, limits on
 * the inflated size, protocol errors, window sizes and negotiation. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "buf.h"
#include "deflate.h"
#include "tap.h"
#include "ws.h"

/* ---- heap probe: bytes in use, to bound what a deflate bomb costs ---- */

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WSC_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define WSC_ASAN 1
#endif

#if defined(WSC_ASAN)
size_t __sanitizer_get_current_allocated_bytes(void);
static bool heap_in_use(size_t *n)
{
    *n = __sanitizer_get_current_allocated_bytes();
    return true;
}
#elif defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
#include <malloc.h>
static bool heap_in_use(size_t *n)
{
    struct mallinfo2 mi = mallinfo2();
    *n = mi.uordblks + mi.hblkhd;
    return true;
}
#else
static bool heap_in_use(size_t *n)
{
    *n = 0;
    return false;
}
#endif

/* ---- event recorder ---- */

#define MAX_FRAMES 64

/* Events serialised into log so that two runs compare with memcmp: data is
 * gathered per message, since how it is chunked is not an event. */
struct rec {
    struct buf log;
    struct buf msg;
    int op;
    bool is_probing;
    size_t heap_peak;
    uint64_t delivered;
    struct ws_frame_header out[MAX_FRAMES]; /* outgoing frame headers */
    size_t nout;
};

/* buf_head() of a buffer that never held data is NULL + 0, which UBSan
 * (clang) reports; the tests read empty buffers often. */
static const uint8_t *head(const struct buf *b)
{
    return b->data ? buf_head(b) : (const uint8_t *)"";
}

static void log_u64(struct buf *b, uint64_t v)
{
    uint8_t x[8];
    for (int i = 0; i < 8; i++)
        x[i] = (uint8_t)(v >> (8 * i));
    buf_append(b, x, 8);
}

static void log_message(struct buf *b, int op, const void *p, size_t len)
{
    uint8_t tag[2] = {'M', (uint8_t)op};
    buf_append(b, tag, 2);
    log_u64(b, len);
    buf_append(b, p, len);
}

static void on_frame(void *ctx, bool is_outgoing, const struct ws_frame_header *h,
                     const uint8_t *preview, size_t preview_len)
{
    struct rec *r = ctx;
    (void)preview;
    (void)preview_len;
    if (is_outgoing && r->nout < MAX_FRAMES)
        r->out[r->nout++] = *h;
}

static void on_begin(void *ctx, enum ws_opcode op)
{
    struct rec *r = ctx;
    r->op = (int)op;
    buf_clear(&r->msg);
}

static void on_data(void *ctx, const uint8_t *p, size_t len)
{
    struct rec *r = ctx;
    r->delivered += len;
    if (r->is_probing) {
        size_t n;
        if (heap_in_use(&n) && n > r->heap_peak)
            r->heap_peak = n;
        return; /* a bomb's output is not kept */
    }
    buf_append(&r->msg, p, len);
}

static void on_end(void *ctx)
{
    struct rec *r = ctx;
    log_message(&r->log, r->op, head(&r->msg), buf_size(&r->msg));
}

static void on_control(struct rec *r, char tag, const uint8_t *p, size_t len)
{
    uint8_t t = (uint8_t)tag;
    buf_append(&r->log, &t, 1);
    log_u64(&r->log, len);
    buf_append(&r->log, p, len);
}

static void on_ping(void *ctx, const uint8_t *p, size_t len)
{
    on_control(ctx, 'P', p, len);
}

static void on_pong(void *ctx, const uint8_t *p, size_t len)
{
    on_control(ctx, 'Q', p, len);
}

static void on_close(void *ctx, unsigned code, const uint8_t *reason, size_t len)
{
    struct rec *r = ctx;
    uint8_t t = 'C';
    buf_append(&r->log, &t, 1);
    log_u64(&r->log, code);
    buf_append(&r->log, reason, len);
}

/* Deterministic masking keys: any fill will do in tests. */
static int fill_random(void *ctx, uint8_t *p, size_t n)
{
    uint32_t *seed = ctx;
    for (size_t i = 0; i < n; i++) {
        *seed = *seed * 1103515245u + 12345u;
        p[i] = (uint8_t)(*seed >> 16);
    }
    return 0;
}

/* ---- peers ---- */

struct peer {
    struct ws_conn c;
    struct rec r;
    uint32_t seed;
};

static struct peer *peer_new(enum ws_role role, uint64_t max_message)
{
    struct peer *pe = calloc(1, sizeof(*pe));
    if (!pe)
        abort();
    buf_init(&pe->r.log, 0);
    buf_init(&pe->r.msg, 0);
    pe->seed = role == WS_ROLE_CLIENT ? 1 : 2;
    struct ws_config cfg = {
        .role = role,
        .max_message = max_message,
        .random = fill_random,
        .random_ctx = &pe->seed,
        .events = {.ctx = &pe->r,
                   .frame = on_frame,
                   .message_begin = on_begin,
                   .message_data = on_data,
                   .message_end = on_end,
                   .ping = on_ping,
                   .pong = on_pong,
                   .close = on_close},
    };
    ws_init(&pe->c, &cfg);
    return pe;
}

static void peer_free(struct peer *pe)
{
    if (!pe)
        return;
    ws_free(&pe->c);
    buf_free(&pe->r.log);
    buf_free(&pe->r.msg);
    free(pe);
}

static struct ws_deflate_params default_params(void)
{
    struct ws_deflate_params p = {.server_max_window_bits = 15, .client_max_window_bits = 15};
    return p;
}

struct pair {
    struct peer *cl, *sv;
};

static struct pair pair_open(const struct ws_deflate_params *prm, uint64_t max_message)
{
    struct pair pp;
    pp.cl = peer_new(WS_ROLE_CLIENT, max_message);
    pp.sv = peer_new(WS_ROLE_SERVER, max_message);
    if (ws_deflate_enable(&pp.cl->c, prm, true) != 0 ||
        ws_deflate_enable(&pp.sv->c, prm, false) != 0) {
        tap_diag("ws_deflate_enable failed");
        abort();
    }
    return pp;
}

static void pair_close(struct pair *pp)
{
    peer_free(pp->cl);
    peer_free(pp->sv);
}

/* Moves what `from` has queued into `to`, through exact-size copies. */
static int pump(struct peer *from, struct peer *to)
{
    struct buf *out = ws_output(&from->c);
    int r = 0;
    if (buf_size(out)) {
        unsigned char *copy = tap_dup(head(out), buf_size(out));
        r = ws_feed(&to->c, copy, buf_size(out));
        free(copy);
        buf_clear(out);
    }
    return r;
}

/* The payloads of the frames in wire[0, len), unmasked and concatenated. */
static bool wire_payload(const uint8_t *w, size_t len, struct buf *payload)
{
    buf_clear(payload);
    size_t i = 0;
    while (i < len) {
        if (len - i < 2)
            return false;
        bool has_mask = (w[i + 1] & 0x80) != 0;
        uint64_t n = w[i + 1] & 0x7F;
        i += 2;
        size_t extra = n == 126 ? 2 : n == 127 ? 8 : 0;
        if (len - i < extra)
            return false;
        if (extra) {
            n = 0;
            for (size_t k = 0; k < extra; k++)
                n = n << 8 | w[i + k];
            i += extra;
        }
        uint8_t mask[4] = {0};
        if (has_mask) {
            if (len - i < 4)
                return false;
            memcpy(mask, w + i, 4);
            i += 4;
        }
        if (len - i < n)
            return false;
        uint8_t *dst = buf_reserve(payload, (size_t)n);
        for (size_t k = 0; k < n; k++)
            dst[k] = w[i + k] ^ mask[k & 3];
        buf_commit(payload, (size_t)n);
        i += (size_t)n;
    }
    return true;
}

/* ---- data ---- */

static uint8_t *random_bytes(size_t len, uint32_t seed)
{
    uint8_t *p = malloc(len ? len : 1);
    if (!p)
        abort();
    fill_random(&seed, p, len);
    return p;
}

/* Compressible valid UTF-8 with some variety. */
static char *text_bytes(size_t len)
{
    static const char *const words[] = {"permessage", "deflate ", "héllo ",    "日本語 ",
                                        "window ",    "context ", "takeover ", "\n"};
    char *p = malloc(len + 1);
    if (!p)
        abort();
    size_t i = 0;
    uint32_t seed = 7;
    while (i < len) {
        seed = seed * 1103515245u + 12345u;
        const char *w = words[(seed >> 16) % 8];
        size_t n = strlen(w);
        if (n > len - i)
            break;
        memcpy(p + i, w, n);
        i += n;
    }
    memset(p + i, ' ', len - i);
    p[len] = '\0';
    return p;
}

/* ---- round trips through both engines ---- */

static bool got_message(struct peer *pe, int op, const void *p, size_t len)
{
    struct buf want;
    buf_init(&want, 0);
    log_message(&want, op, p, len);
    bool same = buf_size(&pe->r.log) == buf_size(&want) &&
                memcmp(head(&pe->r.log), head(&want), buf_size(&want)) == 0;
    buf_free(&want);
    buf_clear(&pe->r.log);
    return same;
}

/* Sends one message from `from` and checks that `to` gets it intact, with
 * RSV1 on its (only) frame. */
static bool send_one(struct peer *from, struct peer *to, int op, const void *p, size_t len)
{
    from->r.nout = 0;
    if (ws_send_message(&from->c, (enum ws_opcode)op, p, len) != 0)
        return false;
    bool has_rsv1 = from->r.nout == 1 && from->r.out[0].rsv == 0x4;
    if (pump(from, to) != 0)
        return false;
    return has_rsv1 && got_message(to, op, p, len) && to->c.state == WS_STATE_OPEN;
}

static void test_round_trip(void)
{
    struct ws_deflate_params prm = default_params();
    struct pair pp = pair_open(&prm, 0);
    char *text = text_bytes(5000);
    uint8_t *bin = random_bytes(70000, 3);
    for (int dir = 0; dir < 2; dir++) {
        struct peer *from = dir ? pp.sv : pp.cl, *to = dir ? pp.cl : pp.sv;
        const char *who = dir ? "server -> client" : "client -> server";
        tap_ok(send_one(from, to, WS_OP_TEXT, "Hello", 5), "%s: text Hello", who);
        tap_ok(send_one(from, to, WS_OP_TEXT, text, 5000), "%s: 5000 bytes of text", who);
        tap_ok(send_one(from, to, WS_OP_BINARY, bin, 70000), "%s: 70000 random bytes", who);
        tap_ok(send_one(from, to, WS_OP_BINARY, text, 1), "%s: one byte", who);
        unsigned long long w1, p1, w2, p2;
        ws_deflate_last_sizes(&from->c, true, &w1, &p1);
        ws_deflate_last_sizes(&to->c, false, &w2, &p2);
        tap_ok(p1 == 1 && p2 == 1 && w1 == w2 && w1 > 0, "%s: last sizes agree (%llu/%llu)", who,
               w1, p1);
    }
    free(text);
    free(bin);
    pair_close(&pp);
}

/* RFC 7692 6: the sender chooses per message; below the minimum size a
 * single-frame message goes out plain, and the peer still reads it. */
static void test_min_size(void)
{
    struct ws_deflate_params prm = default_params();
    struct pair pp = pair_open(&prm, 0);
    ws_deflate_set_min_size(&pp.cl->c, 128);
    char *text = text_bytes(300);
    pp.cl->r.nout = 0;
    bool ok = ws_send_message(&pp.cl->c, WS_OP_TEXT, text, 127) == 0 && pp.cl->r.nout == 1 &&
              pp.cl->r.out[0].rsv == 0 && pp.cl->r.out[0].len == 127 && pump(pp.cl, pp.sv) == 0 &&
              got_message(pp.sv, WS_OP_TEXT, text, 127);
    tap_ok(ok, "min size 128: a 127-byte message is sent plain (RSV1 clear) and received");
    tap_ok(send_one(pp.cl, pp.sv, WS_OP_TEXT, text, 128),
           "min size 128: a 128-byte message is compressed (RSV1 set) and received");
    pp.cl->r.nout = 0;
    ok = ws_send_frame(&pp.cl->c, WS_OP_TEXT, false, text, 10) == 0 &&
         ws_send_frame(&pp.cl->c, WS_OP_CONT, true, text + 10, 10) == 0 && pp.cl->r.nout == 2 &&
         pp.cl->r.out[0].rsv == 0x4 && pump(pp.cl, pp.sv) == 0 &&
         got_message(pp.sv, WS_OP_TEXT, text, 20);
    tap_ok(ok, "min size 128: a fragmented message is compressed whatever its size");
    free(text);
    pair_close(&pp);
}

/* The payload the last message from `from` put on the wire. */
static bool last_wire(struct peer *from, struct buf *payload)
{
    struct buf *out = ws_output(&from->c);
    return wire_payload(head(out), buf_size(out), payload);
}

static void test_empty_messages(void)
{
    struct ws_deflate_params prm = default_params();
    struct pair pp = pair_open(&prm, 0);
    struct buf pl;
    buf_init(&pl, 0);
    for (int dir = 0; dir < 2; dir++) {
        struct peer *from = dir ? pp.sv : pp.cl, *to = dir ? pp.cl : pp.sv;
        const char *who = dir ? "server -> client" : "client -> server";
        /* First an empty message on a fresh stream, then one after a flush:
         * zlib has nothing to add there, and the payload must still be 00. */
        for (int i = 0; i < 3; i++) {
            from->r.nout = 0;
            bool ok = ws_send_message(&from->c, WS_OP_TEXT, "", 0) == 0 && last_wire(from, &pl);
            ok = ok && buf_size(&pl) == 1 && head(&pl)[0] == 0x00 && from->r.out[0].rsv == 0x4;
            ok = ok && pump(from, to) == 0 && got_message(to, WS_OP_TEXT, "", 0);
            tap_ok(ok, "%s: RFC 7692 7.2.3.6: empty message %d is the single byte 00", who, i);
            tap_ok(send_one(from, to, WS_OP_TEXT, "abc", 3), "%s: a message after it", who);
        }
        /* A fragmented message whose last frame is empty. */
        bool ok = ws_send_frame(&from->c, WS_OP_TEXT, false, "Hel", 3) == 0 &&
                  ws_send_frame(&from->c, WS_OP_CONT, true, "", 0) == 0 && pump(from, to) == 0;
        tap_ok(ok && got_message(to, WS_OP_TEXT, "Hel", 3), "%s: empty final fragment", who);
        ok = ws_send_frame(&from->c, WS_OP_BINARY, false, "", 0) == 0 &&
             ws_send_frame(&from->c, WS_OP_CONT, false, "", 0) == 0 &&
             ws_send_frame(&from->c, WS_OP_CONT, true, "", 0) == 0 && pump(from, to) == 0;
        tap_ok(ok && got_message(to, WS_OP_BINARY, "", 0), "%s: all fragments empty", who);
        tap_ok(send_one(from, to, WS_OP_TEXT, "still in sync", 13), "%s: context intact", who);
    }
    buf_free(&pl);
    pair_close(&pp);
}

static void test_large(void)
{
    const size_t len = (size_t)1 << 20;
    struct ws_deflate_params prm = default_params();
    struct pair pp = pair_open(&prm, len);
    char *text = text_bytes(len);
    uint8_t *bin = random_bytes(len, 11);
    for (int dir = 0; dir < 2; dir++) {
        struct peer *from = dir ? pp.sv : pp.cl, *to = dir ? pp.cl : pp.sv;
        const char *who = dir ? "server -> client" : "client -> server";
        tap_ok(send_one(from, to, WS_OP_TEXT, text, len), "%s: 1 MiB of text", who);
        unsigned long long wire, plain;
        ws_deflate_last_sizes(&to->c, false, &wire, &plain);
        tap_ok(plain == len && wire < len / 4, "%s: 1 MiB of text took %llu bytes", who, wire);
        tap_ok(send_one(from, to, WS_OP_BINARY, bin, len), "%s: 1 MiB of random bytes", who);
    }
    free(text);
    free(bin);
    pair_close(&pp);
}

static void test_fragmented(void)
{
    struct ws_deflate_params prm = default_params();
    struct pair pp = pair_open(&prm, 0);
    char *text = text_bytes(3000);
    /* Cut points that land inside multibyte characters too. */
    static const size_t cuts[] = {0, 1, 7, 8, 100, 1001, 2999, 3000};
    for (int dir = 0; dir < 2; dir++) {
        struct peer *from = dir ? pp.sv : pp.cl, *to = dir ? pp.cl : pp.sv;
        const char *who = dir ? "server -> client" : "client -> server";
        from->r.nout = 0;
        bool ok = true;
        size_t n = sizeof(cuts) / sizeof(cuts[0]);
        for (size_t i = 0; i + 1 < n; i++) {
            enum ws_opcode op = i == 0 ? WS_OP_TEXT : WS_OP_CONT;
            ok = ok && ws_send_frame(&from->c, op, i + 2 == n, text + cuts[i],
                                     cuts[i + 1] - cuts[i]) == 0;
            if (i == 3)
                ok = ok && ws_send_ping(&from->c, "mid", 3) == 0;
        }
        bool rsv_ok = from->r.out[0].rsv == 0x4 && from->r.out[0].opcode == WS_OP_TEXT;
        for (size_t i = 1; i < from->r.nout; i++)
            rsv_ok = rsv_ok && from->r.out[i].rsv == 0;
        tap_ok(ok && rsv_ok && from->r.nout == (n - 1) + 1 /* the ping */,
               "%s: RFC 7692 6.1: RSV1 on the first fragment only (and not on a ping)", who);
        ok = pump(from, to) == 0;
        /* The ping arrives before the message ends. */
        const uint8_t *log = head(&to->r.log);
        ok = ok && buf_size(&to->r.log) > 12 && log[0] == 'P' && memcmp(log + 9, "mid", 3) == 0;
        buf_consume(&to->r.log, 12);
        tap_ok(ok && got_message(to, WS_OP_TEXT, text, 3000),
               "%s: fragmented compressed message with a ping inside", who);
        /* Pong answers the ping: drop it so the next test starts clean. */
        buf_clear(ws_output(&to->c));
    }
    free(text);
    pair_close(&pp);
}

/* Sends the same message twice; returns the wire sizes of both. */
static bool send_twice(struct peer *from, struct peer *to, const char *p, size_t len,
                       unsigned long long wire[2])
{
    for (int i = 0; i < 2; i++) {
        if (!send_one(from, to, WS_OP_TEXT, p, len))
            return false;
        unsigned long long plain;
        ws_deflate_last_sizes(&from->c, true, &wire[i], &plain);
    }
    return true;
}

static void test_context_takeover(void)
{
    char *text = text_bytes(2000);
    for (int mode = 0; mode < 4; mode++) {
        struct ws_deflate_params prm = default_params();
        prm.client_no_context_takeover = (mode & 1) != 0;
        prm.server_no_context_takeover = (mode & 2) != 0;
        struct pair pp = pair_open(&prm, 0);
        for (int dir = 0; dir < 2; dir++) {
            struct peer *from = dir ? pp.sv : pp.cl, *to = dir ? pp.cl : pp.sv;
            bool nct = dir ? prm.server_no_context_takeover : prm.client_no_context_takeover;
            unsigned long long w[2] = {0, 0};
            bool ok = send_twice(from, to, text, 2000, w);
            /* With the window kept, the repeat is a few back-references. */
            ok = ok && (nct ? w[1] == w[0] : w[1] < w[0] / 4);
            tap_ok(ok, "%s, %s_no_context_takeover %s: second message %llu bytes, first %llu",
                   dir ? "server -> client" : "client -> server", dir ? "server" : "client",
                   nct ? "on" : "off", w[1], w[0]);
        }
        pair_close(&pp);
    }
    free(text);
}

/* Inflates a message payload the way a peer with a window of 2^bits must,
 * one output byte per call so that no back-reference can reach past the
 * window into zlib's output buffer. */
static bool inflates_within(const struct buf *payload, int bits, const uint8_t *want, size_t len)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (inflateInit2(&z, -bits) != Z_OK)
        return false;
    size_t n = buf_size(payload);
    uint8_t *in = malloc(n + 4);
    if (!in)
        abort();
    memcpy(in, head(payload), n);
    memcpy(in + n, "\x00\x00\xff\xff", 4);
    z.next_in = in;
    z.avail_in = (uInt)(n + 4);
    size_t got = 0;
    bool ok = true;
    for (;;) {
        uint8_t byte;
        z.next_out = &byte;
        z.avail_out = 1;
        int r = inflate(&z, Z_SYNC_FLUSH);
        if (r != Z_OK && r != Z_BUF_ERROR) {
            ok = false;
            break;
        }
        if (z.avail_out == 0) {
            if (got >= len || byte != want[got]) {
                ok = false;
                break;
            }
            got++;
        } else if (z.avail_in == 0) {
            break;
        }
    }
    inflateEnd(&z);
    free(in);
    return ok && got == len;
}

static void test_window_bits(void)
{
    /* 20000 bytes of noise, then the same twice: only a window of 32 KiB
     * sees the repeats. */
    const size_t block = 20000, len = 3 * block;
    uint8_t *data = random_bytes(len, 5);
    memcpy(data + block, data, block);
    memcpy(data + 2 * block, data, block);
    struct buf pl;
    buf_init(&pl, 0);
    for (unsigned bits = 8; bits <= 15; bits++) {
        struct ws_deflate_params prm = default_params();
        prm.client_max_window_bits = bits;
        prm.server_max_window_bits = bits;
        struct pair pp = pair_open(&prm, 0);
        for (int dir = 0; dir < 2; dir++) {
            struct peer *from = dir ? pp.sv : pp.cl, *to = dir ? pp.cl : pp.sv;
            const char *who = dir ? "server" : "client";
            from->r.nout = 0;
            bool ok =
                ws_send_message(&from->c, WS_OP_BINARY, data, len) == 0 && last_wire(from, &pl);
            bool is_compressed = from->r.nout == 1 && from->r.out[0].rsv == 0x4;
            if (bits == 8) {
                tap_ok(ok && !is_compressed && buf_size(&pl) == len,
                       "%s_max_window_bits=8: sent uncompressed (zlib has no 256-byte window)",
                       who);
            } else {
                ok = ok && is_compressed && inflates_within(&pl, (int)bits, data, len);
                ok = ok && (bits == 15 ? buf_size(&pl) < len / 2 : buf_size(&pl) > len * 9 / 10);
                tap_ok(ok, "%s_max_window_bits=%u: stays within the window (%zu bytes)", who, bits,
                       buf_size(&pl));
                if (bits == 15)
                    tap_ok(!inflates_within(&pl, 14, data, len),
                           "%s_max_window_bits=15: the check catches a too small window", who);
            }
            ok = pump(from, to) == 0 && got_message(to, WS_OP_BINARY, data, len);
            tap_ok(ok, "%s_max_window_bits=%u: the peer gets the message", who, bits);
        }
        pair_close(&pp);
    }
    buf_free(&pl);
    free(data);
}

/* ---- byte streams fed whole, split at every offset and byte by byte ---- */

struct outcome {
    struct buf log;
    unsigned code;
};

/* Feeds in[0, len) to a fresh peer with deflate on: in two pieces cut at
 * `split`, or in pieces of `step` bytes when step is not 0. */
static void feed_peer(enum ws_role role, const struct ws_deflate_params *prm, uint64_t max,
                      const uint8_t *in, size_t len, size_t split, size_t step, struct outcome *o)
{
    struct peer *pe = peer_new(role, max);
    if (ws_deflate_enable(&pe->c, prm, role == WS_ROLE_CLIENT) != 0)
        abort();
    size_t i = 0;
    while (i < len) {
        size_t n = step ? step : (i == 0 && split ? split : len - i);
        if (n > len - i)
            n = len - i;
        unsigned char *copy = tap_dup(in + i, n);
        int r = ws_feed(&pe->c, copy, n);
        free(copy);
        i += n;
        if (r != 0)
            break;
    }
    buf_init(&o->log, 0);
    if (buf_size(&pe->r.log))
        buf_append(&o->log, head(&pe->r.log), buf_size(&pe->r.log));
    o->code = pe->c.state == WS_STATE_FAILED ? pe->c.error.code : 0;
    if (o->code && split == 0 && step == 0)
        tap_diag("failed with %u: %s", o->code, pe->c.error.reason);
    peer_free(pe);
}

static bool same_bytes(const struct buf *a, const struct buf *b)
{
    return buf_size(a) == buf_size(b) &&
           (buf_size(a) == 0 || memcmp(head(a), head(b), buf_size(a)) == 0);
}

static bool same_outcome(const struct outcome *a, const struct outcome *b)
{
    return a->code == b->code && same_bytes(&a->log, &b->log);
}

struct vector {
    const char *name;
    const char *hex;         /* frames as the server sends them */
    bool nct;                /* server_no_context_takeover */
    uint64_t max;            /* --max-message */
    unsigned code;           /* expected close code, 0 for none */
    bool has_ping;           /* an empty ping comes before the messages */
    const char *messages[3]; /* expected text messages, in order */
};

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    for (const char *s = hex; *s;) {
        if (*s == ' ' || *s == '|') {
            s++;
            continue;
        }
        unsigned v;
        if (n == cap || sscanf(s, "%2x", &v) != 1)
            abort();
        out[n++] = (uint8_t)v;
        s += 2;
    }
    return n;
}

/* clang-format off */
static const struct vector vectors[] = {
    {"RFC 7692 7.2.3.1: Hello",
     "c1 07 f2 48 cd c9 c9 07 00",
     false, 0, 0, false, {"Hello"}},
    {"RFC 7692 7.2.3.1: Hello in two fragments, RSV1 on the first",
     "41 03 f2 48 cd | 80 04 c9 c9 07 00",
     false, 0, 0, false, {"Hello"}},
    {"RFC 7692 7.2.3.2: second message uses the shared window",
     "c1 07 f2 48 cd c9 c9 07 00 | c1 05 f2 00 11 00 00",
     false, 0, 0, false, {"Hello", "Hello"}},
    {"RFC 7692 7.2.3.3: DEFLATE block with no compression",
     "c1 0b 00 05 00 fa ff 48 65 6c 6c 6f 00",
     false, 0, 0, false, {"Hello"}},
    {"RFC 7692 7.2.3.4: DEFLATE block with BFINAL set",
     "c1 08 f3 48 cd c9 c9 07 00 00",
     false, 0, 0, false, {"Hello"}},
    {"RFC 7692 7.2.3.4: the window survives a BFINAL block",
     "c1 08 f3 48 cd c9 c9 07 00 00 | c1 05 f2 00 11 00 00",
     false, 0, 0, false, {"Hello", "Hello"}},
    {"BFINAL block ending the message without the extra 00 is accepted",
     "c1 07 f3 48 cd c9 c9 07 00 | c1 07 f2 48 cd c9 c9 07 00",
     false, 0, 0, false, {"Hello", "Hello"}},
    {"RFC 7692 7.2.3.5: two DEFLATE blocks in one message",
     "c1 0d f2 48 05 00 00 00 ff ff ca c9 c9 07 00",
     false, 0, 0, false, {"Hello"}},
    {"RFC 7692 7.2.3.6: empty message",
     "c1 01 00",
     false, 0, 0, false, {""}},
    {"ping between the fragments of a compressed message",
     "41 03 f2 48 cd | 89 00 | 80 04 c9 c9 07 00",
     false, 0, 0, true, {"Hello"}},
    {"server_no_context_takeover: each message inflates on its own",
     "c1 07 f2 48 cd c9 c9 07 00 | c1 07 f2 48 cd c9 c9 07 00",
     true, 0, 0, false, {"Hello", "Hello"}},
    {"server_no_context_takeover: a reference to the last message fails with 1007",
     "c1 07 f2 48 cd c9 c9 07 00 | c1 05 f2 00 11 00 00",
     true, 0, 1007, false, {"Hello"}},
    {"inflated size over --max-message fails with 1009",
     "c1 07 f2 48 cd c9 c9 07 00",
     false, 4, 1009, false, {NULL}},
    {"inflated size at --max-message is accepted",
     "c1 07 f2 48 cd c9 c9 07 00",
     false, 5, 0, false, {"Hello"}},
    {"corrupt stream (reserved block type) fails with 1007",
     "c1 01 ff",
     false, 0, 1007, false, {NULL}},
    {"truncated stream fails with 1007",
     "c1 02 f2 48",
     false, 0, 1007, false, {NULL}},
    {"compressed message with no payload at all fails with 1007",
     "c1 00",
     false, 0, 1007, false, {NULL}},
    {"stray data after a BFINAL block fails with 1007",
     "c1 08 f3 48 cd c9 c9 07 00 ff",
     false, 0, 1007, false, {NULL}},
    {"invalid UTF-8 after inflating fails with 1007",
     "c1 07 00 01 00 fe ff ff 00",
     false, 0, 1007, false, {NULL}},
    {"RFC 7692 6.1: RSV1 on a continuation frame fails with 1002",
     "41 03 f2 48 cd | c0 04 c9 c9 07 00",
     false, 0, 1002, false, {NULL}},
    {"RFC 7692 6.1: RSV1 on a ping fails with 1002",
     "c9 00",
     false, 0, 1002, false, {NULL}},
    {"RFC 7692 6.1: RSV1 on a close fails with 1002",
     "c8 02 03 e8",
     false, 0, 1002, false, {NULL}},
    {"RSV2 is still reserved with deflate on",
     "a1 07 f2 48 cd c9 c9 07 00",
     false, 0, 1002, false, {NULL}},
};
/* clang-format on */

static void test_vectors(void)
{
    for (size_t v = 0; v < sizeof(vectors) / sizeof(vectors[0]); v++) {
        const struct vector *t = &vectors[v];
        uint8_t in[64];
        size_t len = unhex(t->hex, in, sizeof(in));
        struct ws_deflate_params prm = default_params();
        prm.server_no_context_takeover = t->nct;
        struct outcome whole;
        feed_peer(WS_ROLE_CLIENT, &prm, t->max, in, len, 0, 0, &whole);
        struct outcome want = {.code = t->code};
        buf_init(&want.log, 0);
        if (t->has_ping) {
            buf_append(&want.log, "P", 1);
            log_u64(&want.log, 0);
        }
        for (int i = 0; i < 3 && t->messages[i]; i++)
            log_message(&want.log, WS_OP_TEXT, t->messages[i], strlen(t->messages[i]));
        tap_ok(same_outcome(&want, &whole), "%s", t->name);
        size_t bad = 0;
        for (size_t split = 1; split <= len; split++) {
            struct outcome o;
            /* split == len means one byte at a time */
            feed_peer(WS_ROLE_CLIENT, &prm, t->max, in, len, split < len ? split : 0,
                      split < len ? 0 : 1, &o);
            if (!same_outcome(&o, &whole))
                bad++;
            buf_free(&o.log);
        }
        tap_ok(bad == 0, "%s: same events split at every offset and byte by byte", t->name);
        buf_free(&want.log);
        buf_free(&whole.log);
    }
}

/* What our own engine sends (masked or not, fragmented, with a ping inside
 * and back-references into earlier messages) reads the same in any pieces. */
static void test_engine_output_splits(void)
{
    char *text = text_bytes(300);
    for (int dir = 0; dir < 2; dir++) {
        enum ws_role role = dir ? WS_ROLE_SERVER : WS_ROLE_CLIENT;
        enum ws_role peer_role = dir ? WS_ROLE_CLIENT : WS_ROLE_SERVER;
        struct ws_deflate_params prm = default_params();
        struct peer *from = peer_new(role, 0);
        ws_deflate_enable(&from->c, &prm, role == WS_ROLE_CLIENT);
        bool ok = ws_send_message(&from->c, WS_OP_TEXT, "Hello", 5) == 0 &&
                  ws_send_message(&from->c, WS_OP_TEXT, "Hello", 5) == 0 &&
                  ws_send_frame(&from->c, WS_OP_TEXT, false, text, 100) == 0 &&
                  ws_send_ping(&from->c, "mid", 3) == 0 &&
                  ws_send_frame(&from->c, WS_OP_CONT, false, text + 100, 101) == 0 &&
                  ws_send_frame(&from->c, WS_OP_CONT, true, text + 201, 99) == 0 &&
                  ws_send_message(&from->c, WS_OP_BINARY, "", 0) == 0;
        struct outcome want = {.code = 0};
        buf_init(&want.log, 0);
        log_message(&want.log, WS_OP_TEXT, "Hello", 5);
        log_message(&want.log, WS_OP_TEXT, "Hello", 5);
        buf_append(&want.log, "P", 1);
        log_u64(&want.log, 3);
        buf_append(&want.log, "mid", 3);
        log_message(&want.log, WS_OP_TEXT, text, 300);
        log_message(&want.log, WS_OP_BINARY, "", 0);
        const struct buf *wire = ws_output(&from->c);
        size_t len = buf_size(wire);
        struct outcome whole;
        feed_peer(peer_role, &prm, 0, head(wire), len, 0, 0, &whole);
        tap_ok(ok && same_outcome(&want, &whole), "%s output: messages, ping, empty message",
               dir ? "server" : "client");
        size_t bad = 0;
        for (size_t split = 1; split <= len; split++) {
            struct outcome o;
            feed_peer(peer_role, &prm, 0, head(wire), len, split < len ? split : 0,
                      split < len ? 0 : 1, &o);
            if (!same_outcome(&o, &whole))
                bad++;
            buf_free(&o.log);
        }
        tap_ok(bad == 0,
               "%s output (%zu bytes): same events split at every offset and byte "
               "by byte",
               dir ? "server" : "client", len);
        buf_free(&want.log);
        buf_free(&whole.log);
        peer_free(from);
    }
    free(text);
}

/* The sizes of the RFC's Hello, as a trace would show them. */
static void test_last_sizes(void)
{
    struct ws_deflate_params prm = default_params();
    struct peer *pe = peer_new(WS_ROLE_CLIENT, 0);
    ws_deflate_enable(&pe->c, &prm, true);
    unsigned long long wire, plain;
    ws_deflate_last_sizes(&pe->c, false, &wire, &plain);
    bool ok = wire == 0 && plain == 0;
    uint8_t in[16];
    size_t len = unhex("c1 07 f2 48 cd c9 c9 07 00", in, sizeof(in));
    unsigned char *copy = tap_dup(in, len);
    ok = ok && ws_feed(&pe->c, copy, len) == 0;
    free(copy);
    ws_deflate_last_sizes(&pe->c, false, &wire, &plain);
    tap_ok(ok && wire == 7 && plain == 5, "last sizes of an incoming message: 7 -> 5");
    tap_ok(ws_deflate_enable(&pe->c, &prm, true) == -1, "enabling twice is refused");
    peer_free(pe);
}

/* Masked client frames with broken compressed data reach a server. */
static void test_server_side_errors(void)
{
    struct ws_deflate_params prm = default_params();
    struct pair pp = pair_open(&prm, 0);
    struct ws_frame_header h = {.is_final = true,
                                .rsv = 0x4,
                                .opcode = WS_OP_BINARY,
                                .has_mask = true,
                                .mask = {1, 2, 3, 4},
                                .len = 3};
    ws_send_raw(&pp.cl->c, &h, "\xff\xff\xff");
    pump(pp.cl, pp.sv);
    tap_ok(pp.sv->c.state == WS_STATE_FAILED && pp.sv->c.error.code == 1007 &&
               strstr(pp.sv->c.error.reason, "RFC 7692") != NULL,
           "server: corrupt compressed data from the client fails with 1007 (%s)",
           pp.sv->c.error.reason);
    pair_close(&pp);
}

/* ---- a deflate bomb ---- */

/* 100 MiB of zeros, compressed (about 100 KB), as one unmasked frame. */
static uint8_t *bomb_frame(size_t *len)
{
    const size_t zeros = (size_t)100 << 20, piece = (size_t)1 << 20;
    uint8_t *zero = calloc(1, piece);
    struct buf out;
    buf_init(&out, 0);
    uint8_t hdr[10] = {0xC2, 127};
    buf_append(&out, hdr, sizeof(hdr));
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (!zero || deflateInit2(&z, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        abort();
    for (size_t done = 0; done < zeros; done += piece) {
        z.next_in = zero;
        z.avail_in = (uInt)piece;
        int flush = done + piece == zeros ? Z_SYNC_FLUSH : Z_NO_FLUSH;
        do {
            z.next_out = buf_reserve(&out, 65536);
            z.avail_out = 65536;
            deflate(&z, flush);
            buf_commit(&out, 65536 - z.avail_out);
        } while (z.avail_out == 0);
    }
    deflateEnd(&z);
    free(zero);
    out.len -= 4; /* RFC 7692 7.2.1: drop 00 00 ff ff */
    uint64_t plen = buf_size(&out) - sizeof(hdr);
    uint8_t *frame = out.data;
    for (int i = 0; i < 8; i++)
        frame[2 + i] = (uint8_t)(plen >> (56 - 8 * i));
    *len = buf_size(&out);
    return frame; /* out.off is 0: the buffer is the frame */
}

static void test_bomb(void)
{
    const uint64_t max = (uint64_t)1 << 20;
    size_t len;
    uint8_t *frame = bomb_frame(&len);
    tap_diag("bomb: 100 MiB of zeros in %zu bytes", len);
    struct ws_deflate_params prm = default_params();
    struct peer *pe = peer_new(WS_ROLE_CLIENT, max);
    unsigned char *copy = tap_dup(frame, len);
    free(frame);
    /* Counted from before the extension exists: its buffers and zlib's
     * state and window are part of what a bomb may cost. */
    size_t base;
    bool can_probe = heap_in_use(&base);
    ws_deflate_enable(&pe->c, &prm, true);
    pe->r.is_probing = true;
    pe->r.heap_peak = base;
    int r = ws_feed(&pe->c, copy, len);
    size_t after;
    if (heap_in_use(&after) && after > pe->r.heap_peak)
        pe->r.heap_peak = after;
    free(copy);
    tap_ok(r == -1 && pe->c.error.code == 1009, "deflate bomb fails with 1009 (%s)",
           pe->c.error.reason);
    tap_ok(pe->r.delivered <= max, "no more than --max-message was delivered (%llu)",
           (unsigned long long)pe->r.delivered);
    if (can_probe)
        tap_ok(pe->r.heap_peak - base < 512 * 1024,
               "peak heap of the extension while inflating: %zu bytes", pe->r.heap_peak - base);
    else
        tap_diag("no heap probe on this platform: peak allocation not checked");
    peer_free(pe);
}

/* ---- negotiation ---- */

struct response_case {
    const char *value;
    bool offered;
    int result; /* 0 or -1 */
    bool accepted;
    struct ws_deflate_params p;
    const char *why; /* part of the error */
};

/* clang-format off */
static const struct response_case responses[] = {
    /* value, offered, result, accepted, parameters, part of the reason */
    {"", true, 0, false, {0, 0, 15, 15}, NULL},
    {"  ", true, 0, false, {0, 0, 15, 15}, NULL},
    {NULL, true, 0, false, {0, 0, 15, 15}, NULL},
    {"", false, 0, false, {0, 0, 15, 15}, NULL},
    {"permessage-deflate", true, 0, true, {0, 0, 15, 15}, NULL},
    {"permessage-deflate; server_no_context_takeover", true, 0, true, {1, 0, 15, 15}, NULL},
    {"permessage-deflate;client_no_context_takeover;server_no_context_takeover",
     true, 0, true, {1, 1, 15, 15}, NULL},
    {"permessage-deflate; server_max_window_bits=10; client_max_window_bits=9",
     true, 0, true, {0, 0, 10, 9}, NULL},
    {"permessage-deflate; server_max_window_bits=8; client_max_window_bits=15",
     true, 0, true, {0, 0, 8, 15}, NULL},
    {"permessage-deflate; client_max_window_bits=\"12\"", true, 0, true, {0, 0, 15, 12}, NULL},
    {"permessage-deflate; client_max_window_bits=\"1\\2\"", true, 0, true, {0, 0, 15, 12}, NULL},
    {" permessage-deflate ;\tserver_max_window_bits = 11 , ", true, 0, true, {0, 0, 11, 15}, NULL},
    {"permessage-deflate; foo", true, -1, false, {0, 0, 15, 15}, "unknown parameter foo"},
    {"permessage-deflate; x-foo=1", true, -1, false, {0, 0, 15, 15}, "unknown parameter x-foo"},
    {"permessage-deflate; server_no_context_takeover; server_no_context_takeover",
     true, -1, false, {0, 0, 15, 15}, "appears twice"},
    {"permessage-deflate; server_max_window_bits=9; server_max_window_bits=9",
     true, -1, false, {0, 0, 15, 15}, "appears twice"},
    {"permessage-deflate; server_max_window_bits=16", true, -1, false, {0, 0, 15, 15}, "7.1.2.1"},
    {"permessage-deflate; server_max_window_bits=7",
     true, -1, false, {0, 0, 15, 15}, "from 8 to 15"},
    {"permessage-deflate; server_max_window_bits=08",
     true, -1, false, {0, 0, 15, 15}, "from 8 to 15"},
    {"permessage-deflate; client_max_window_bits=1x", true, -1, false, {0, 0, 15, 15}, "7.1.2.2"},
    {"permessage-deflate; client_max_window_bits=\"\"",
     true, -1, false, {0, 0, 15, 15}, "from 8 to 15"},
    {"permessage-deflate; client_max_window_bits=\"1 0\"",
     true, -1, false, {0, 0, 15, 15}, "from 8 to 15"},
    {"permessage-deflate; server_max_window_bits",
     true, -1, false, {0, 0, 15, 15}, "needs a value"},
    {"permessage-deflate; client_max_window_bits",
     true, -1, false, {0, 0, 15, 15}, "needs a value"},
    {"permessage-deflate; server_no_context_takeover=1",
     true, -1, false, {0, 0, 15, 15}, "takes no value"},
    {"permessage-deflate; client_no_context_takeover=\"\"",
     true, -1, false, {0, 0, 15, 15}, "takes no value"},
    {"permessage-deflate; client_max_window_bits=10",
     false, -1, false, {0, 0, 15, 15}, "did not offer"},
    {"permessage-deflate", false, -1, false, {0, 0, 15, 15}, "did not offer"},
    {"permessage-deflate, permessage-deflate",
     true, -1, false, {0, 0, 15, 15}, "second extension"},
    {"permessage-deflate, x-webkit-deflate-frame",
     true, -1, false, {0, 0, 15, 15}, "second extension"},
    {"x-webkit-deflate-frame", true, -1, false, {0, 0, 15, 15}, "did not offer"},
    {"PerMessage-Deflate", true, -1, false, {0, 0, 15, 15}, "did not offer"},
    {"permessage-deflate; ", true, -1, false, {0, 0, 15, 15}, "malformed"},
    {"permessage-deflate;; server_no_context_takeover",
     true, -1, false, {0, 0, 15, 15}, "malformed"},
    {"permessage-deflate server_no_context_takeover",
     true, -1, false, {0, 0, 15, 15}, "malformed"},
    {"permessage-deflate; server_max_window_bits=", true, -1, false, {0, 0, 15, 15}, "malformed"},
    {"permessage-deflate; server_max_window_bits=\"10",
     true, -1, false, {0, 0, 15, 15}, "malformed"},
    {"permessage-deflate; server_max_window_bits=10 11",
     true, -1, false, {0, 0, 15, 15}, "malformed"},
    {"; permessage-deflate", true, -1, false, {0, 0, 15, 15}, "malformed"},
    {"permessage-deflate; server_max_window_bits=\"\xc3\xa9\"",
     true, -1, false, {0, 0, 15, 15}, "=\"??\" is not"},
    {"permessage-deflate; server_max_window_bits=\"\x1b[2J\"",
     true, -1, false, {0, 0, 15, 15}, "malformed"},
};
/* clang-format on */

/* s with bytes outside printable ASCII escaped, for test names. */
static const char *escaped(const char *s, char *out, size_t outlen)
{
    size_t n = 0;
    for (; s && *s && n + 5 < outlen; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch >= 0x20 && ch < 0x7F)
            out[n++] = (char)ch;
        else
            n += (size_t)snprintf(out + n, outlen - n, "\\x%02x", ch);
    }
    out[n] = '\0';
    return s ? out : "(none)";
}

/* Reasons may be printed to a terminal: nothing from the peer goes raw. */
static bool is_printable(const char *s)
{
    for (; *s; s++)
        if (*s < 0x20 || *s >= 0x7F)
            return false;
    return true;
}

static bool same_params(const struct ws_deflate_params *a, const struct ws_deflate_params *b)
{
    return a->server_no_context_takeover == b->server_no_context_takeover &&
           a->client_no_context_takeover == b->client_no_context_takeover &&
           a->server_max_window_bits == b->server_max_window_bits &&
           a->client_max_window_bits == b->client_max_window_bits;
}

static void test_parse_response(void)
{
    for (size_t i = 0; i < sizeof(responses) / sizeof(responses[0]); i++) {
        const struct response_case *t = &responses[i];
        char *value = t->value ? (char *)tap_dup(t->value, strlen(t->value) + 1) : NULL;
        struct ws_deflate_params p = default_params();
        bool accepted = !t->accepted;
        char err[160] = "";
        int r = ws_deflate_parse_response(value, t->offered, &p, &accepted, err, sizeof(err));
        bool ok = r == t->result && accepted == t->accepted;
        if (r == 0)
            ok = ok && same_params(&p, &t->p);
        else
            ok = ok && t->why && strstr(err, t->why) != NULL && is_printable(err);
        char name[160];
        tap_ok(ok, "response \"%s\"%s: %s", escaped(t->value, name, sizeof(name)),
               t->offered ? "" : " (not offered)", r == 0 ? "ok" : err);
        free(value);
    }
}

struct offer_case {
    const char *value;
    int result;
    const char *resp;
    struct ws_deflate_params p;
};

/* clang-format off */
static const struct offer_case offers[] = {
    /* value, result, response, parameters */
    {WS_DEFLATE_OFFER, 1, "permessage-deflate", {0, 0, 15, 15}},
    {"permessage-deflate", 1, "permessage-deflate", {0, 0, 15, 15}},
    {"permessage-deflate; client_max_window_bits=10",
     1, "permessage-deflate; client_max_window_bits=10", {0, 0, 15, 10}},
    {"permessage-deflate; client_max_window_bits=\"9\"",
     1, "permessage-deflate; client_max_window_bits=9", {0, 0, 15, 9}},
    {"permessage-deflate; server_max_window_bits=12",
     1, "permessage-deflate; server_max_window_bits=12", {0, 0, 12, 15}},
    {"permessage-deflate; server_max_window_bits=8",
     1, "permessage-deflate; server_max_window_bits=8", {0, 0, 8, 15}},
    {"permessage-deflate; client_no_context_takeover; server_no_context_takeover",
     1,
     "permessage-deflate; server_no_context_takeover; client_no_context_takeover", {1, 1, 15, 15}},
    {"permessage-deflate; server_no_context_takeover; client_max_window_bits",
     1, "permessage-deflate; server_no_context_takeover", {1, 0, 15, 15}},
    {"x-webkit-deflate-frame, permessage-deflate; client_max_window_bits",
     1, "permessage-deflate", {0, 0, 15, 15}},
    {"foo; bar=\"a, b; c\", permessage-deflate", 1, "permessage-deflate", {0, 0, 15, 15}},
    {"permessage-deflate; foo, permessage-deflate; server_max_window_bits=10",
     1, "permessage-deflate; server_max_window_bits=10", {0, 0, 10, 15}},
    {"permessage-deflate; server_max_window_bits, permessage-deflate",
     1, "permessage-deflate", {0, 0, 15, 15}},
    {"permessage-deflate; server_max_window_bits=16, permessage-deflate; "
     "client_no_context_takeover",
     1, "permessage-deflate; client_no_context_takeover", {0, 1, 15, 15}},
    {"permessage-deflate; client_max_window_bits=9; client_max_window_bits=9",
     0, NULL, {0, 0, 15, 15}},
    {"permessage-deflate; server_no_context_takeover=yes", 0, NULL, {0, 0, 15, 15}},
    {"x-webkit-deflate-frame", 0, NULL, {0, 0, 15, 15}},
    {"", 0, NULL, {0, 0, 15, 15}},
    {NULL, 0, NULL, {0, 0, 15, 15}},
    {"foo; bar=\"unterminated, permessage-deflate", 0, NULL, {0, 0, 15, 15}},
};
/* clang-format on */

static void test_accept_offer(void)
{
    for (size_t i = 0; i < sizeof(offers) / sizeof(offers[0]); i++) {
        const struct offer_case *t = &offers[i];
        char *value = t->value ? (char *)tap_dup(t->value, strlen(t->value) + 1) : NULL;
        struct ws_deflate_params p = default_params();
        char resp[128] = "";
        int r = ws_deflate_accept_offer(value, &p, resp, sizeof(resp));
        bool ok = r == t->result;
        if (r == 1)
            ok = ok && strcmp(resp, t->resp) == 0 && same_params(&p, &t->p);
        tap_ok(ok, "offer \"%s\": %s", t->value ? t->value : "(none)", r == 1 ? resp : "declined");
        free(value);
    }
    static const char offer[] = "permessage-deflate; server_no_context_takeover";
    char *value = (char *)tap_dup(offer, sizeof(offer));
    struct ws_deflate_params p = default_params();
    char small[20];
    tap_ok(ws_deflate_accept_offer(value, &p, small, sizeof(small)) == 0,
           "offer declined when the response does not fit");
    free(value);
}

/* What a server answers, the client accepts, and both agree on. */
static void test_negotiation_end_to_end(void)
{
    static const char *const client_offers[] = {
        WS_DEFLATE_OFFER,
        "permessage-deflate; client_max_window_bits=9; server_max_window_bits=10",
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
    };
    for (size_t i = 0; i < 3; i++) {
        struct ws_deflate_params sp, cp;
        char resp[128] = "", err[160] = "";
        bool accepted = false;
        char *offer = (char *)tap_dup(client_offers[i], strlen(client_offers[i]) + 1);
        bool ok = ws_deflate_accept_offer(offer, &sp, resp, sizeof(resp)) == 1;
        free(offer);
        char *answer = (char *)tap_dup(resp, strlen(resp) + 1);
        ok = ok && ws_deflate_parse_response(answer, true, &cp, &accepted, err, sizeof(err)) == 0;
        ok = ok && accepted && same_params(&sp, &cp);
        free(answer);
        if (ok) {
            struct pair pp = pair_open(&cp, 0);
            ok = send_one(pp.cl, pp.sv, WS_OP_TEXT, "negotiated", 10) &&
                 send_one(pp.sv, pp.cl, WS_OP_TEXT, "negotiated", 10);
            pair_close(&pp);
        }
        tap_ok(ok, "offer \"%s\" -> \"%s\" -> the same parameters both sides", client_offers[i],
               ok ? resp : "?");
    }
}

int main(void)
{
    test_min_size();
    test_round_trip();
    test_empty_messages();
    test_large();
    test_fragmented();
    test_context_takeover();
    test_window_bits();
    test_vectors();
    test_engine_output_splits();
    test_last_sizes();
    test_server_side_errors();
    test_bomb();
    test_parse_response();
    test_accept_offer();
    test_negotiation_end_to_end();
    return tap_done();
}
