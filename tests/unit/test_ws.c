/* SPDX-License-Identifier: MIT */
/* Unit tests for the sans-I/O engine ws.c, in both roles, without sockets.
 *
 * Every input is a list of frames built for the role under test (masked when
 * the engine is a server, unmasked when it is a client) or raw bytes. Each is
 * fed whole, split in two at every offset and one byte at a time, each piece
 * in a heap buffer of exactly its size; the recorded events, the final state
 * and the frames the engine queued in c->out (decoded here) must be the same
 * for every variant. An outcome is summarised as
 *     "events ; state ; frames queued"
 * e.g. "begin TEXT|data 'Hel' ; FAILED 1007 ; CLOSE 1007". */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "ws.h"

/* ---- byte strings ---- */

struct bytes {
    uint8_t *p;
    size_t len, cap;
};

static void bytes_add(struct bytes *b, const void *p, size_t n)
{
    if (b->cap - b->len < n + 1) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap - b->len < n + 1)
            cap *= 2;
        uint8_t *q = realloc(b->p, cap);
        if (!q)
            abort();
        b->p = q;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = 0; /* always a C string too */
}

static void bytes_addc(struct bytes *b, uint8_t c)
{
    bytes_add(b, &c, 1);
}

__attribute__((format(printf, 2, 3))) static void bytes_printf(struct bytes *b, const char *fmt,
                                                               ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0)
        abort();
    bytes_add(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

static void bytes_free(struct bytes *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

static const char *bytes_str(struct bytes *b)
{
    if (!b->p)
        bytes_add(b, "", 0);
    return (const char *)b->p;
}

static uint32_t fnv(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

/* Quotes up to 40 bytes ('Hel\xff'); longer payloads as <N bytes #hash>. */
static void esc(struct bytes *s, const uint8_t *p, size_t n)
{
    if (n > 40) {
        bytes_printf(s, "<%zu bytes #%08x>", n, (unsigned)fnv(p, n));
        return;
    }
    bytes_addc(s, '\'');
    for (size_t i = 0; i < n; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\'' && p[i] != '\\')
            bytes_addc(s, p[i]);
        else
            bytes_printf(s, "\\x%02x", p[i]);
    }
    bytes_addc(s, '\'');
}

/* Payload pattern for generated frames. */
static uint8_t pattern_byte(size_t i, bool is_text)
{
    return is_text ? (uint8_t)('a' + i % 26) : (uint8_t)(i * 31 + 7);
}

static void pattern(struct bytes *b, size_t n, bool is_text)
{
    for (size_t i = 0; i < n; i++)
        bytes_addc(b, pattern_byte(i, is_text));
}

/* ---- random sources for masking keys ---- */

static const uint8_t rfc_key[4] = {0x37, 0xfa, 0x21, 0x3d}; /* RFC 6455 5.7 */

/* Every key is the one of the RFC's examples. */
static int random_rfc(void *ctx, uint8_t *p, size_t n)
{
    (void)ctx;
    for (size_t i = 0; i < n; i++)
        p[i] = rfc_key[i & 3];
    return 0;
}

/* A different key for every frame. */
static int random_lcg(void *ctx, uint8_t *p, size_t n)
{
    uint32_t *st = ctx;
    for (size_t i = 0; i < n; i++) {
        *st = *st * 1103515245u + 12345u;
        p[i] = (uint8_t)(*st >> 16);
        if (p[i] == 0)
            p[i] = 0x5a; /* never an all-zero key, so masking shows */
    }
    return 0;
}

static int random_fail(void *ctx, uint8_t *p, size_t n)
{
    (void)ctx;
    (void)p;
    (void)n;
    return -1;
}

/* ---- recording events ---- */

struct rec {
    struct bytes log;     /* events separated by '|' */
    struct bytes pending; /* message data not yet logged: adjacent chunks are one event */
    struct bytes data;    /* every message byte delivered */
    struct bytes hdrs;    /* incoming frame headers, from the frame event */
    size_t frames_out;
    size_t whole_messages; /* events.message calls */
    bool after_fail;      /* an event came after ws_feed returned -1 */
    bool has_failed;
};

static void flush_data(struct rec *r)
{
    if (!r->pending.len)
        return;
    if (r->log.len)
        bytes_addc(&r->log, '|');
    if (r->pending.len > 40)
        bytes_printf(&r->log, "data %zu", r->pending.len);
    else {
        bytes_add(&r->log, "data ", 5);
        esc(&r->log, r->pending.p, r->pending.len);
    }
    r->pending.len = 0;
}

static void event_start(struct rec *r)
{
    if (r->has_failed)
        r->after_fail = true;
    flush_data(r);
    if (r->log.len)
        bytes_addc(&r->log, '|');
}

static void on_begin(void *ctx, enum ws_opcode op)
{
    struct rec *r = ctx;
    event_start(r);
    bytes_printf(&r->log, "begin %s", ws_opcode_name(op));
}

static void on_data(void *ctx, const uint8_t *p, size_t len)
{
    struct rec *r = ctx;
    if (r->has_failed)
        r->after_fail = true;
    bytes_add(&r->pending, p, len);
    bytes_add(&r->data, p, len);
}

static void on_end(void *ctx)
{
    struct rec *r = ctx;
    event_start(r);
    bytes_add(&r->log, "end", 3);
}

/* A whole message is logged as its three calls would be, so that every
 * outcome can be compared with the run that has no such event. */
static void on_message(void *ctx, enum ws_opcode op, const uint8_t *p, size_t len)
{
    struct rec *r = ctx;
    r->whole_messages++;
    on_begin(ctx, op);
    if (len)
        on_data(ctx, p, len);
    on_end(ctx);
}

static void on_ping(void *ctx, const uint8_t *p, size_t len)
{
    struct rec *r = ctx;
    event_start(r);
    bytes_add(&r->log, "ping ", 5);
    esc(&r->log, p, len);
}

static void on_pong(void *ctx, const uint8_t *p, size_t len)
{
    struct rec *r = ctx;
    event_start(r);
    bytes_add(&r->log, "pong ", 5);
    esc(&r->log, p, len);
}

static void on_close(void *ctx, unsigned code, const uint8_t *reason, size_t len)
{
    struct rec *r = ctx;
    event_start(r);
    bytes_printf(&r->log, "close %u", code);
    if (len) {
        bytes_addc(&r->log, ' ');
        esc(&r->log, reason, len);
    }
}

static void on_frame(void *ctx, bool is_outgoing, const struct ws_frame_header *h,
                     const uint8_t *preview, size_t preview_len)
{
    struct rec *r = ctx;
    (void)preview;
    (void)preview_len;
    if (is_outgoing) {
        r->frames_out++;
        return;
    }
    bytes_printf(&r->hdrs, "[%s%s rsv%u %s len %llu", ws_opcode_name(h->opcode),
                 h->is_final ? "" : " nofin", (unsigned)h->rsv, h->has_mask ? "masked" : "plain",
                 (unsigned long long)h->len);
    if (h->has_mask)
        bytes_printf(&r->hdrs, " key %02x%02x%02x%02x", h->mask[0], h->mask[1], h->mask[2],
                     h->mask[3]);
    bytes_add(&r->hdrs, "]", 1);
}

static void rec_free(struct rec *r)
{
    bytes_free(&r->log);
    bytes_free(&r->pending);
    bytes_free(&r->data);
    bytes_free(&r->hdrs);
}

/* ---- decoding what the engine queued ---- */

struct dframe {
    bool is_final;
    unsigned rsv, opcode;
    bool has_mask;
    uint64_t len;
    size_t hdr_len;
    uint8_t *payload; /* unmasked copy, malloc'd */
};

/* Parses one frame at p; returns its size, or 0 when p holds less. */
static size_t parse_frame(const uint8_t *p, size_t len, struct dframe *f)
{
    if (len < 2)
        return 0;
    memset(f, 0, sizeof(*f));
    f->is_final = (p[0] & 0x80) != 0;
    f->rsv = (p[0] >> 4) & 7u;
    f->opcode = p[0] & 0xFu;
    f->has_mask = (p[1] & 0x80) != 0;
    size_t n = 2;
    unsigned len7 = p[1] & 0x7Fu;
    if (len7 == 126) {
        if (len < 4)
            return 0;
        f->len = (uint64_t)p[2] << 8 | p[3];
        n = 4;
    } else if (len7 == 127) {
        if (len < 10)
            return 0;
        for (size_t i = 0; i < 8; i++)
            f->len = f->len << 8 | p[2 + i];
        n = 10;
    } else {
        f->len = len7;
    }
    uint8_t key[4] = {0};
    if (f->has_mask) {
        if (len < n + 4)
            return 0;
        memcpy(key, p + n, 4);
        n += 4;
    }
    f->hdr_len = n;
    if (len - n < f->len)
        return 0;
    f->payload = malloc((size_t)f->len + 1);
    if (!f->payload)
        abort();
    for (size_t i = 0; i < f->len; i++)
        f->payload[i] = p[n + i] ^ key[i & 3];
    return n + (size_t)f->len;
}

static const char *op_name(unsigned op)
{
    static char tmp[16];
    switch (op) {
    case 0: return "CONT";
    case 1: return "TEXT";
    case 2: return "BINARY";
    case 8: return "CLOSE";
    case 9: return "PING";
    case 10: return "PONG";
    default: snprintf(tmp, sizeof(tmp), "OP%X", op); return tmp;
    }
}

/* "CLOSE 1002|PONG 'x'"; "-" when empty. Every frame must be masked exactly
 * when the engine is a client (RFC 6455 5.1, 5.3). */
static void describe_out(struct bytes *s, const uint8_t *p, size_t len, bool want_mask)
{
    size_t start = s->len;
    while (len) {
        struct dframe f;
        size_t n = parse_frame(p, len, &f);
        if (s->len > start)
            bytes_addc(s, '|');
        if (!n) {
            bytes_printf(s, "!truncated(%zu)", len);
            break;
        }
        bytes_add(s, op_name(f.opcode), strlen(op_name(f.opcode)));
        if (!f.is_final)
            bytes_add(s, " nofin", 6);
        if (f.rsv)
            bytes_printf(s, " rsv%u", f.rsv);
        if (f.has_mask != want_mask)
            bytes_add(s, f.has_mask ? " !masked" : " !unmasked", f.has_mask ? 8 : 10);
        if (f.opcode == WS_OP_CLOSE && f.len >= 2) {
            bytes_printf(s, " %u", (unsigned)f.payload[0] << 8 | f.payload[1]);
            if (f.len > 2) {
                bytes_addc(s, ' ');
                esc(s, f.payload + 2, (size_t)f.len - 2);
            }
        } else if (f.opcode != WS_OP_CLOSE || f.len) {
            bytes_addc(s, ' ');
            esc(s, f.payload, (size_t)f.len);
        }
        free(f.payload);
        p += n;
        len -= n;
    }
    if (s->len == start)
        bytes_addc(s, '-');
}

/* ---- running the engine ---- */

enum { PRE_NONE, PRE_CLOSE };

/* The events a run asks for. Without the frame trace a whole frame that is
 * all in one piece takes the engine's one-step path; with the message event
 * too, it is given in one call. Every outcome must be the same. */
enum { EV_TRACE, EV_PLAIN, EV_WHOLE };

struct setup {
    enum ws_role role;
    uint64_t max;
    unsigned pre;    /* PRE_CLOSE: ws_send_close(1000, "bye") before feeding */
    unsigned events; /* EV_TRACE (the default), EV_PLAIN, EV_WHOLE */
};

struct outcome {
    struct bytes summary; /* events ; state ; out */
    struct bytes full;    /* summary, reason, headers, data hash */
    struct bytes core;    /* full without the headers (which only EV_TRACE sees) */
    struct bytes data;    /* delivered message bytes */
    size_t whole_messages;
};

static void outcome_free(struct outcome *o)
{
    bytes_free(&o->summary);
    bytes_free(&o->full);
    bytes_free(&o->core);
    bytes_free(&o->data);
}

static void conn_init(struct ws_conn *c, struct rec *r, const struct setup *s)
{
    struct ws_config cfg = {
        .role = s->role,
        .max_message = s->max,
        .random = random_rfc,
        .events = {.ctx = r, .frame = on_frame, .message_begin = on_begin,
                   .message_data = on_data, .message_end = on_end, .ping = on_ping,
                   .pong = on_pong, .close = on_close},
    };
    if (s->events != EV_TRACE)
        cfg.events.frame = NULL;
    if (s->events == EV_WHOLE)
        cfg.events.message = on_message;
    memset(r, 0, sizeof(*r));
    ws_init(c, &cfg);
}

static void describe_state(struct bytes *s, const struct ws_conn *c)
{
    switch (c->state) {
    case WS_STATE_OPEN: bytes_printf(s, "OPEN"); break;
    case WS_STATE_CLOSE_SENT: bytes_printf(s, "CLOSE_SENT"); break;
    case WS_STATE_CLOSED:
        bytes_printf(s, "CLOSED%s", c->closed_by_peer ? " by peer" : "");
        break;
    case WS_STATE_FAILED:
        bytes_printf(s, "FAILED %u", c->error.code);
        if (!c->error.reason[0])
            bytes_printf(s, " (no reason)");
        break;
    default: bytes_printf(s, "state %d", (int)c->state); break;
    }
}

/* Feeds in[0, len) in pieces ending at cuts[]. */
static void run(const struct setup *s, const uint8_t *in, size_t len, const size_t *cuts,
                size_t ncuts, struct outcome *o)
{
    struct ws_conn c;
    struct rec r;
    conn_init(&c, &r, s);
    if (s->pre == PRE_CLOSE && ws_send_close(&c, 1000, "bye", 3) != 0)
        bytes_printf(&r.log, "!pre-close refused");
    bool is_rc_consistent = true;
    int last_rc = 0;
    size_t start = 0;
    for (size_t k = 0; k <= ncuts; k++) {
        size_t end = k < ncuts ? cuts[k] : len;
        unsigned char *piece = tap_dup(in + start, end - start);
        int rc = ws_feed(&c, piece, end - start);
        free(piece);
        if (rc != 0 && rc != -1)
            is_rc_consistent = false;
        if (last_rc == -1 && rc != -1)
            is_rc_consistent = false; /* once failed, always failed */
        if (rc == -1)
            r.has_failed = true;
        last_rc = rc;
        start = end;
    }
    flush_data(&r);
    memset(o, 0, sizeof(*o));
    bytes_add(&o->summary, r.log.len ? r.log.p : (const uint8_t *)"-", r.log.len ? r.log.len : 1);
    bytes_add(&o->summary, " ; ", 3);
    describe_state(&o->summary, &c);
    if ((last_rc == -1) != (c.state == WS_STATE_FAILED) || !is_rc_consistent)
        bytes_printf(&o->summary, " (ws_feed returned %d)", last_rc);
    if (r.after_fail)
        bytes_printf(&o->summary, " (events after the failure)");
    bytes_add(&o->summary, " ; ", 3);
    describe_out(&o->summary, buf_head(&c.out), buf_size(&c.out), s->role == WS_ROLE_CLIENT);

    bytes_add(&o->full, o->summary.p, o->summary.len);
    bytes_printf(&o->full, " ; reason '%s' ; data %zu #%08x ; peer close %d %u ; sent close %u ; ",
                 c.error.reason, r.data.len, (unsigned)fnv(r.data.p, r.data.len),
                 (int)c.has_peer_close, c.peer_close_code, c.sent_close_code);
    bytes_add(&o->core, o->full.p, o->full.len);
    bytes_add(&o->full, bytes_str(&r.hdrs), r.hdrs.len);
    o->whole_messages = r.whole_messages;
    bytes_add(&o->data, r.data.p, r.data.len);
    rec_free(&r);
    ws_free(&c);
}

static const char *role_name(enum ws_role role)
{
    return role == WS_ROLE_CLIENT ? "client" : "server";
}

/* Offsets at which to split an input in two: all of them, or for large
 * inputs (payloads over 4 KiB, all of them a single frame's header followed
 * by a run of payload) every offset in the first and last 100 bytes, which
 * covers every header byte, and every 4093rd in between. */
static size_t split_offsets(size_t len, size_t *out)
{
    size_t n = 0;
    for (size_t at = 1; at < len; at++)
        if (len <= 4096 || at <= 100 || len - at <= 100 || at % 4093 == 0)
            out[n++] = at;
    return n;
}

static const char *const event_names[] = {"", "without the frame trace",
                                          "with the whole-message event"};

/* Without the frame trace, and with the whole-message event: the same
 * outcome as with the trace (want), fed whole, split in two at every
 * offset and one byte at a time. */
static void check_variants(const char *name, const struct setup *s, const uint8_t *in,
                           size_t len, struct outcome *want, const size_t *offs,
                           size_t noffs)
{
    const char *rn = role_name(s->role);
    for (unsigned ev = EV_PLAIN; ev <= EV_WHOLE; ev++) {
        struct setup sv = *s;
        sv.events = ev;
        struct outcome got;
        run(&sv, in, len, NULL, 0, &got);
        bool is_same = strcmp(bytes_str(&got.core), bytes_str(&want->core)) == 0;
        size_t bad_at = SIZE_MAX;
        for (size_t k = 0; k < noffs && is_same && bad_at == SIZE_MAX; k++) {
            struct outcome split;
            run(&sv, in, len, &offs[k], 1, &split);
            if (strcmp(bytes_str(&split.core), bytes_str(&want->core)) != 0)
                bad_at = offs[k];
            outcome_free(&split);
        }
        if (is_same && bad_at == SIZE_MAX) {
            size_t *each = malloc((len ? len : 1) * sizeof(*each));
            if (!each)
                abort();
            for (size_t i = 0; i + 1 < len; i++)
                each[i] = i + 1;
            struct outcome bytewise;
            run(&sv, in, len, each, len ? len - 1 : 0, &bytewise);
            if (strcmp(bytes_str(&bytewise.core), bytes_str(&want->core)) != 0)
                bad_at = 0;
            outcome_free(&bytewise);
            free(each);
        }
        if (!tap_ok(is_same && bad_at == SIZE_MAX,
                    "%s (%s): same outcome %s, whole, split and byte by byte", name, rn,
                    event_names[ev])) {
            tap_diag("trace: %s", bytes_str(&want->core));
            tap_diag("whole: %s", bytes_str(&got.core));
            if (bad_at != SIZE_MAX)
                tap_diag("differs split at %zu (0: byte by byte)", bad_at);
        }
        outcome_free(&got);
    }
}

/* The whole check of one input: whole against the expectation, then every
 * split and the byte-at-a-time feed against the whole; failing or closed
 * outcomes must also ignore a valid frame and a ping appended after them.
 * Then the same without the frame trace and with the whole-message event. */
static void check_input(const char *name, const struct setup *s, const uint8_t *in, size_t len,
                        const char *expect, const struct bytes *expect_data)
{
    const char *rn = role_name(s->role);
    struct outcome whole;
    run(s, in, len, NULL, 0, &whole);
    if (!tap_ok(strcmp(bytes_str(&whole.summary), expect) == 0, "%s (%s)", name, rn)) {
        tap_diag("expected: %s", expect);
        tap_diag("got:      %s", bytes_str(&whole.summary));
        tap_diag("full:     %s", bytes_str(&whole.full));
    }
    if (expect_data) {
        bool same = whole.data.len == expect_data->len &&
                    (!whole.data.len || memcmp(whole.data.p, expect_data->p, whole.data.len) == 0);
        if (!tap_ok(same, "%s (%s): delivered bytes are the payload", name, rn))
            tap_diag("got %zu bytes, expected %zu", whole.data.len, expect_data->len);
    }

    size_t *offs = malloc((len ? len : 1) * sizeof(*offs));
    if (!offs)
        abort();
    size_t noffs = split_offsets(len, offs);
    size_t bad_at = SIZE_MAX;
    struct outcome split = {0};
    for (size_t k = 0; k < noffs && bad_at == SIZE_MAX; k++) {
        outcome_free(&split);
        run(s, in, len, &offs[k], 1, &split);
        if (strcmp(bytes_str(&split.full), bytes_str(&whole.full)) != 0)
            bad_at = offs[k];
    }
    if (!tap_ok(bad_at == SIZE_MAX, "%s (%s): same outcome split in two at %s offset", name, rn,
                len <= 4096 ? "every" : "many an")) {
        tap_diag("split at %zu of %zu", bad_at, len);
        tap_diag("whole: %s", bytes_str(&whole.full));
        tap_diag("split: %s", bytes_str(&split.full));
    }
    outcome_free(&split);
    check_variants(name, s, in, len, &whole, offs, noffs);

    for (size_t i = 0; i + 1 < len; i++)
        offs[i] = i + 1;
    struct outcome bytewise;
    run(s, in, len, offs, len ? len - 1 : 0, &bytewise);
    if (!tap_ok(strcmp(bytes_str(&bytewise.full), bytes_str(&whole.full)) == 0,
                "%s (%s): same outcome one byte at a time", name, rn)) {
        tap_diag("whole:    %s", bytes_str(&whole.full));
        tap_diag("bytewise: %s", bytes_str(&bytewise.full));
    }
    outcome_free(&bytewise);
    free(offs);

    /* RFC 6455 5.5.1 and 7.1.7: after the peer's close or a failure, nothing
     * more is processed. */
    if (strstr(expect, " ; FAILED ") || strstr(expect, " ; CLOSED")) {
        static const uint8_t masked[] = {0x81, 0x82, 1, 2, 3, 4, 'h' ^ 1, 'i' ^ 2,
                                         0x89, 0x80, 1, 2, 3, 4};
        static const uint8_t plain[] = {0x81, 0x02, 'h', 'i', 0x89, 0x00};
        const uint8_t *tail = s->role == WS_ROLE_SERVER ? masked : plain;
        size_t tail_len = s->role == WS_ROLE_SERVER ? sizeof(masked) : sizeof(plain);
        struct bytes more = {0};
        bytes_add(&more, in, len);
        bytes_add(&more, tail, tail_len);
        struct outcome after;
        size_t cut = len;
        run(s, more.p, more.len, &cut, 1, &after);
        if (!tap_ok(strcmp(bytes_str(&after.full), bytes_str(&whole.full)) == 0,
                    "%s (%s): later frames are ignored", name, rn))
            tap_diag("got: %s", bytes_str(&after.full));
        outcome_free(&after);
        bytes_free(&more);
    }
    outcome_free(&whole);
}

/* ---- building frames ---- */

enum {
    F_FLIP_MASK = 1,    /* masked when the role wants it unmasked, and the reverse */
    F_HDR_ONLY = 2,     /* the header announces len bytes; none follow */
    F_RAW = 4,          /* p[0, len) verbatim */
    F_PAYLOAD_ONLY = 8, /* len pattern bytes, no header, unmasked */
    F_TEXT = 16,        /* the generated pattern is ASCII letters */
};

struct fr {
    uint8_t b0;    /* FIN, RSV1-3, opcode */
    const char *p; /* payload; NULL: a generated pattern of len bytes */
    size_t len;
    unsigned flags;
};

#define P(s) s, sizeof(s) - 1
#define MAX_FRAMES 8

static bool fr_is_end(const struct fr *f)
{
    return !f->b0 && !f->p && !f->len && !f->flags;
}

static void add_header(struct bytes *b, uint8_t b0, bool has_mask, uint64_t len)
{
    uint8_t m = has_mask ? 0x80 : 0;
    bytes_addc(b, b0);
    if (len < 126) {
        bytes_addc(b, (uint8_t)(m | len));
    } else if (len <= 0xFFFF) {
        bytes_addc(b, m | 126);
        bytes_addc(b, (uint8_t)(len >> 8));
        bytes_addc(b, (uint8_t)len);
    } else {
        bytes_addc(b, m | 127);
        for (int sh = 56; sh >= 0; sh -= 8)
            bytes_addc(b, (uint8_t)(len >> sh));
    }
    if (has_mask)
        bytes_add(b, rfc_key, 4);
}

/* Appends one frame as the peer of an engine in `role` would send it. The
 * plain payload of data frames is added to `data` when it is not NULL. */
static void add_frame(struct bytes *b, enum ws_role role, const struct fr *f)
{
    if (f->flags & F_RAW) {
        bytes_add(b, f->p, f->len);
        return;
    }
    struct bytes pay = {0};
    if (f->p)
        bytes_add(&pay, f->p, f->len);
    else if (!(f->flags & F_HDR_ONLY))
        pattern(&pay, f->len, (f->flags & F_TEXT) != 0);
    if (f->flags & F_PAYLOAD_ONLY) {
        bytes_add(b, pay.p, pay.len);
        bytes_free(&pay);
        return;
    }
    bool has_mask = (role == WS_ROLE_SERVER) != ((f->flags & F_FLIP_MASK) != 0);
    add_header(b, f->b0, has_mask, f->len);
    if (!(f->flags & F_HDR_ONLY)) {
        for (size_t i = 0; i < pay.len; i++)
            bytes_addc(b, has_mask ? pay.p[i] ^ rfc_key[i & 3] : pay.p[i]);
    }
    bytes_free(&pay);
}

/* ---- the table ---- */

enum { RC = 1, RS = 2, RB = 3 }; /* roles a vector applies to */

struct vec {
    const char *name;
    unsigned roles;
    uint64_t max;
    unsigned pre;
    struct fr f[MAX_FRAMES];
    const char *expect;
};

static const struct vec vecs[] = {
    /* RFC 6455 5.7, byte for byte */
    {"RFC 6455 5.7: single-frame unmasked text message 'Hello'", RC, 0, 0,
     {{0, P("\x81\x05\x48\x65\x6c\x6c\x6f"), F_RAW}},
     "begin TEXT|data 'Hello'|end ; OPEN ; -"},
    {"RFC 6455 5.7: single-frame masked text message 'Hello'", RS, 0, 0,
     {{0, P("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"), F_RAW}},
     "begin TEXT|data 'Hello'|end ; OPEN ; -"},
    {"RFC 6455 5.7: fragmented unmasked text message 'Hel' + 'lo'", RC, 0, 0,
     {{0, P("\x01\x03\x48\x65\x6c"), F_RAW}, {0, P("\x80\x02\x6c\x6f"), F_RAW}},
     "begin TEXT|data 'Hello'|end ; OPEN ; -"},
    {"RFC 6455 5.7: unmasked ping 'Hello' is answered by a masked pong 'Hello'", RC, 0, 0,
     {{0, P("\x89\x05\x48\x65\x6c\x6c\x6f"), F_RAW}},
     "ping 'Hello' ; OPEN ; PONG 'Hello'"},
    {"RFC 6455 5.7: masked pong 'Hello'", RS, 0, 0,
     {{0, P("\x8a\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"), F_RAW}},
     "pong 'Hello' ; OPEN ; -"},
    {"RFC 6455 5.7: 256 bytes binary message in a single unmasked frame (16-bit length)", RC, 0,
     0, {{0, P("\x82\x7e\x01\x00"), F_RAW}, {0, NULL, 256, F_PAYLOAD_ONLY}},
     "begin BINARY|data 256|end ; OPEN ; -"},
    {"RFC 6455 5.7: 64KiB binary message in a single unmasked frame (64-bit length)", RC, 0, 0,
     {{0, P("\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00"), F_RAW},
      {0, NULL, 65536, F_PAYLOAD_ONLY}},
     "begin BINARY|data 65536|end ; OPEN ; -"},
    {"masked 256-byte binary frame (16-bit length)", RS, 0, 0, {{0x82, NULL, 256, 0}},
     "begin BINARY|data 256|end ; OPEN ; -"},
    {"masked 64KiB binary frame (64-bit length)", RS, 0, 0, {{0x82, NULL, 65536, 0}},
     "begin BINARY|data 65536|end ; OPEN ; -"},

    /* plain messages */
    {"empty text message", RB, 0, 0, {{0x81, P(""), 0}}, "begin TEXT|end ; OPEN ; -"},
    {"empty binary message", RB, 0, 0, {{0x82, P(""), 0}}, "begin BINARY|end ; OPEN ; -"},
    {"binary message need not be UTF-8", RB, 0, 0, {{0x82, P("\xff\xfe\x00\xc0"), 0}},
     "begin BINARY|data '\\xff\\xfe\\x00\\xc0'|end ; OPEN ; -"},
    {"two messages in one buffer", RB, 0, 0, {{0x81, P("one"), 0}, {0x82, P("two"), 0}},
     "begin TEXT|data 'one'|end|begin BINARY|data 'two'|end ; OPEN ; -"},
    {"fragmented binary message in three frames", RB, 0, 0,
     {{0x02, P("ab"), 0}, {0x00, P("cd"), 0}, {0x80, P("ef"), 0}},
     "begin BINARY|data 'abcdef'|end ; OPEN ; -"},
    {"fragmented message with empty fragments", RB, 0, 0,
     {{0x01, P(""), 0}, {0x00, P(""), 0}, {0x00, P("x"), 0}, {0x80, P(""), 0}},
     "begin TEXT|data 'x'|end ; OPEN ; -"},
    {"text message in a 126-byte frame (16-bit length)", RB, 0, 0, {{0x81, NULL, 126, F_TEXT}},
     "begin TEXT|data 126|end ; OPEN ; -"},
    {"message header without its payload waits for it", RB, 0, 0,
     {{0x82, NULL, 1000, F_HDR_ONLY}}, "begin BINARY ; OPEN ; -"},
    {"64-bit length of 2^40 is accepted without a limit", RB, 0, 0,
     {{0x82, NULL, (size_t)1 << 40, F_HDR_ONLY}}, "begin BINARY ; OPEN ; -"},

    /* RFC 6455 5.2: reserved bits */
    {"RFC 6455 5.2: RSV1 without a negotiated extension", RB, 0, 0, {{0xC1, P("Hello"), 0}},
     "- ; FAILED 1002 ; CLOSE 1002"},
    {"RFC 6455 5.2: RSV2 without a negotiated extension", RB, 0, 0, {{0xA1, P("Hello"), 0}},
     "- ; FAILED 1002 ; CLOSE 1002"},
    {"RFC 6455 5.2: RSV3 without a negotiated extension", RB, 0, 0, {{0x91, P("Hello"), 0}},
     "- ; FAILED 1002 ; CLOSE 1002"},
    {"RFC 6455 5.2: RSV1-3 all set", RB, 0, 0, {{0xF2, P("x"), 0}}, "- ; FAILED 1002 ; CLOSE 1002"},
    {"RFC 6455 5.2: RSV1 on a ping", RB, 0, 0, {{0xC9, P("x"), 0}}, "- ; FAILED 1002 ; CLOSE 1002"},
    {"RFC 6455 5.2: RSV2 on a continuation", RB, 0, 0, {{0x01, P("a"), 0}, {0xA0, P("b"), 0}},
     "begin TEXT|data 'a' ; FAILED 1002 ; CLOSE 1002"},

    /* RFC 6455 5.5: control frames */
    {"RFC 6455 5.5: ping with a 126-byte payload", RB, 0, 0, {{0x89, NULL, 126, 0}},
     "- ; FAILED 1002 ; CLOSE 1002"},
    {"RFC 6455 5.5: ping announcing 126 bytes fails before the payload", RB, 0, 0,
     {{0x89, NULL, 126, F_HDR_ONLY}}, "- ; FAILED 1002 ; CLOSE 1002"},
    {"RFC 6455 5.5: pong with a 126-byte payload", RB, 0, 0, {{0x8A, NULL, 126, 0}},
     "- ; FAILED 1002 ; CLOSE 1002"},
    {"RFC 6455 5.5: close with a 126-byte payload", RB, 0, 0, {{0x88, NULL, 126, F_TEXT}},
     "- ; FAILED 1002 ; CLOSE 1002"},
    {"RFC 6455 5.5: ping with a 64-bit length of 2^32", RB, 0, 0,
     {{0x89, NULL, (size_t)1 << 32, F_HDR_ONLY}}, "- ; FAILED 1002 ; CLOSE 1002"},
    {"RFC 6455 5.5: fragmented ping", RB, 0, 0, {{0x09, P("x"), 0}, {0x80, P("y"), 0}},
     "- ; FAILED 1002 ; CLOSE 1002"},
    {"RFC 6455 5.5: fragmented pong", RB, 0, 0, {{0x0A, P(""), 0}},
     "- ; FAILED 1002 ; CLOSE 1002"},
    {"RFC 6455 5.5: fragmented close", RB, 0, 0, {{0x08, P("\x03\xe8"), 0}},
     "- ; FAILED 1002 ; CLOSE 1002"},
    {"RFC 6455 5.5: fragmented ping inside a fragmented message", RB, 0, 0,
     {{0x01, P("a"), 0}, {0x09, P("x"), 0}, {0x80, P("b"), 0}},
     "begin TEXT|data 'a' ; FAILED 1002 ; CLOSE 1002"},

    /* RFC 6455 5.4: fragmentation */
    {"RFC 6455 5.4: continuation frame with no message", RB, 0, 0, {{0x80, P("x"), 0}},
     "- ; FAILED 1002 ; CLOSE 1002"},
    {"RFC 6455 5.4: non-final continuation frame with no message", RB, 0, 0, {{0x00, P("x"), 0}},
     "- ; FAILED 1002 ; CLOSE 1002"},
    {"RFC 6455 5.4: continuation frame after a finished message", RB, 0, 0,
     {{0x81, P("a"), 0}, {0x80, P("b"), 0}}, "begin TEXT|data 'a'|end ; FAILED 1002 ; CLOSE 1002"},
    {"RFC 6455 5.4: text frame inside a fragmented text message", RB, 0, 0,
     {{0x01, P("a"), 0}, {0x81, P("b"), 0}}, "begin TEXT|data 'a' ; FAILED 1002 ; CLOSE 1002"},
    {"RFC 6455 5.4: binary frame inside a fragmented text message", RB, 0, 0,
     {{0x01, P("a"), 0}, {0x82, P("b"), 0}}, "begin TEXT|data 'a' ; FAILED 1002 ; CLOSE 1002"},
    {"RFC 6455 5.4: non-final binary frame inside a fragmented binary message", RB, 0, 0,
     {{0x02, P("a"), 0}, {0x00, P("b"), 0}, {0x02, P("c"), 0}},
     "begin BINARY|data 'ab' ; FAILED 1002 ; CLOSE 1002"},

    /* RFC 6455 5.1 and 5.3: masking */
    {"RFC 6455 5.1: a client fails on a masked frame", RC, 0, 0,
     {{0x81, P("Hello"), F_FLIP_MASK}}, "- ; FAILED 1002 ; CLOSE 1002"},
    {"RFC 6455 5.1: a client fails on a masked ping", RC, 0, 0,
     {{0x89, P("x"), F_FLIP_MASK}}, "- ; FAILED 1002 ; CLOSE 1002"},
    {"RFC 6455 5.1: a client fails on a masked continuation", RC, 0, 0,
     {{0x01, P("ab"), 0}, {0x80, P("cd"), F_FLIP_MASK}},
     "begin TEXT|data 'ab' ; FAILED 1002 ; CLOSE 1002"},
    {"RFC 6455 5.1: a server fails on an unmasked frame", RS, 0, 0,
     {{0x81, P("Hello"), F_FLIP_MASK}}, "- ; FAILED 1002 ; CLOSE 1002"},
    {"RFC 6455 5.1: a server fails on an unmasked close", RS, 0, 0,
     {{0x88, P("\x03\xe8"), F_FLIP_MASK}}, "- ; FAILED 1002 ; CLOSE 1002"},
    {"RFC 6455 5.1: a server fails on an unmasked continuation", RS, 0, 0,
     {{0x02, P("ab"), 0}, {0x80, P("cd"), F_FLIP_MASK}},
     "begin BINARY|data 'ab' ; FAILED 1002 ; CLOSE 1002"},
    {"RFC 6455 5.1: a server fails on an empty unmasked frame", RS, 0, 0,
     {{0x82, P(""), F_FLIP_MASK}}, "- ; FAILED 1002 ; CLOSE 1002"},

    /* RFC 6455 5.2: payload length */
    {"RFC 6455 5.2: 64-bit length with the most significant bit set", RB, 0, 0,
     {{0x82, NULL, (size_t)1 << 63, F_HDR_ONLY}}, "- ; FAILED 1002 ; CLOSE 1002"},
    {"RFC 6455 5.2: 64-bit length of all ones", RB, 0, 0,
     {{0x82, NULL, SIZE_MAX, F_HDR_ONLY}}, "- ; FAILED 1002 ; CLOSE 1002"},

    /* RFC 6455 5.5.1 and 7.4: close frames */
    {"RFC 6455 5.5.1: close with a 1-byte payload", RB, 0, 0, {{0x88, P("\x03"), 0}},
     "- ; FAILED 1002 ; CLOSE 1002"},
    {"RFC 6455 5.5.1: close reason that is not UTF-8", RB, 0, 0, {{0x88, P("\x03\xe8\xff"), 0}},
     "- ; FAILED 1007 ; CLOSE 1007"},
    {"RFC 6455 5.5.1: close reason ending inside a UTF-8 sequence", RB, 0, 0,
     {{0x88, P("\x03\xe8" "ab\xe2\x82"), 0}}, "- ; FAILED 1007 ; CLOSE 1007"},
    {"RFC 6455 5.5.1: close reason with a surrogate", RB, 0, 0,
     {{0x88, P("\x03\xe8\xed\xa0\x80"), 0}}, "- ; FAILED 1007 ; CLOSE 1007"},
    {"RFC 6455 5.5.1: close reason in UTF-8 is accepted", RB, 0, 0,
     {{0x88, P("\x03\xe8\xe2\x82\xac"), 0}},
     "close 1000 '\\xe2\\x82\\xac' ; CLOSED by peer ; CLOSE 1000"},
    {"RFC 6455 5.5.1: close with a 123-byte reason", RB, 0, 0,
     {{0x88, P("\x0f\xa0" "0123456789012345678901234567890123456789"
                "0123456789012345678901234567890123456789"
                "0123456789012345678901234567890123456789" "abc"), 0}},
     "close 4000 <123 bytes #6774015b> ; CLOSED by peer ; CLOSE 4000"},

    /* RFC 6455 8.1: UTF-8 in text messages */
    {"RFC 6455 8.1: invalid UTF-8 in a text frame fails at the bad byte", RB, 0, 0,
     {{0x81, P("Hel\xffo"), 0}}, "begin TEXT|data 'Hel' ; FAILED 1007 ; CLOSE 1007"},
    {"RFC 6455 8.1: invalid UTF-8 as the first byte", RB, 0, 0, {{0x81, P("\x80" "abc"), 0}},
     "begin TEXT ; FAILED 1007 ; CLOSE 1007"},
    {"RFC 6455 8.1: overlong sequence in a text frame", RB, 0, 0, {{0x81, P("ab\xc0\xaf"), 0}},
     "begin TEXT|data 'ab' ; FAILED 1007 ; CLOSE 1007"},
    {"RFC 6455 8.1: surrogate in a text frame fails at its second byte", RB, 0, 0,
     {{0x81, P("ab\xed\xa0\x80"), 0}},
     "begin TEXT|data 'ab\\xed' ; FAILED 1007 ; CLOSE 1007"},
    {"RFC 6455 8.1: code point above U+10FFFF in a text frame", RB, 0, 0,
     {{0x81, P("\xf4\x90\x80\x80"), 0}},
     "begin TEXT|data '\\xf4' ; FAILED 1007 ; CLOSE 1007"},
    {"RFC 6455 8.1: bad byte late in a long text frame", RB, 0, 0,
     {{0x81, P("0123456789012345678901234567890123456789012345678\xed\xa0\x80"), 0}},
     "begin TEXT|data 50 ; FAILED 1007 ; CLOSE 1007"},
    {"RFC 6455 8.1: bad byte in a later fragment", RB, 0, 0,
     {{0x01, P("Hello"), 0}, {0x00, P(" wor"), 0}, {0x80, P("ld\xc0\xafX"), 0}},
     "begin TEXT|data 'Hello world' ; FAILED 1007 ; CLOSE 1007"},
    {"RFC 6455 8.1: sequence begun in one fragment broken in the next", RB, 0, 0,
     {{0x01, P("a\xe2\x82"), 0}, {0x80, P("Z"), 0}},
     "begin TEXT|data 'a\\xe2\\x82' ; FAILED 1007 ; CLOSE 1007"},
    {"RFC 6455 8.1: bad byte after a ping between fragments", RB, 0, 0,
     {{0x01, P("ab"), 0}, {0x89, P("p"), 0}, {0x80, P("\xff"), 0}},
     "begin TEXT|data 'ab'|ping 'p' ; FAILED 1007 ; PONG 'p'|CLOSE 1007"},
    {"RFC 6455 8.1: bad byte in a non-final fragment fails at once", RB, 0, 0,
     {{0x01, P("ok\xff"), 0}, {0x80, P("never"), 0}},
     "begin TEXT|data 'ok' ; FAILED 1007 ; CLOSE 1007"},
    {"RFC 6455 8.1: 3-byte sequence split across fragments is accepted", RB, 0, 0,
     {{0x01, P("\xe2\x82"), 0}, {0x80, P("\xac"), 0}},
     "begin TEXT|data '\\xe2\\x82\\xac'|end ; OPEN ; -"},
    {"RFC 6455 8.1: 4-byte sequence split across four fragments and a ping", RB, 0, 0,
     {{0x01, P("\xf0"), 0}, {0x00, P("\x9f"), 0}, {0x89, P(""), 0}, {0x00, P("\x98"), 0}, {0x80, P("\x80"), 0}},
     "begin TEXT|data '\\xf0\\x9f'|ping ''|data '\\x98\\x80'|end ; OPEN ; PONG ''"},
    {"RFC 6455 8.1: text message ending inside a UTF-8 sequence", RB, 0, 0,
     {{0x81, P("a\xe2\x82"), 0}}, "begin TEXT|data 'a\\xe2\\x82' ; FAILED 1007 ; CLOSE 1007"},
    {"RFC 6455 8.1: fragmented text message ending inside a UTF-8 sequence", RB, 0, 0,
     {{0x01, P("a"), 0}, {0x80, P("\xf0\x9f\x98"), 0}},
     "begin TEXT|data 'a\\xf0\\x9f\\x98' ; FAILED 1007 ; CLOSE 1007"},
    {"RFC 6455 8.1: empty final fragment after an unfinished sequence", RB, 0, 0,
     {{0x01, P("\xc3"), 0}, {0x80, P(""), 0}},
     "begin TEXT|data '\\xc3' ; FAILED 1007 ; CLOSE 1007"},
    {"RFC 6455 8.1: UTF-8 state is reset for each message", RB, 0, 0,
     {{0x82, P("\xe2\x82"), 0}, {0x81, P("\xac"), 0}},
     "begin BINARY|data '\\xe2\\x82'|end|begin TEXT ; FAILED 1007 ; CLOSE 1007"},

    /* --max-message */
    {"max_message: a frame over the limit fails at its header", RB, 10, 0,
     {{0x82, NULL, 11, F_HDR_ONLY}}, "- ; FAILED 1009 ; CLOSE 1009"},
    {"max_message: a frame over the limit delivers nothing", RB, 10, 0,
     {{0x81, P("0123456789A"), 0}}, "- ; FAILED 1009 ; CLOSE 1009"},
    {"max_message: a 64-bit length over the limit fails at its header", RB, 10, 0,
     {{0x82, NULL, (size_t)1 << 40, F_HDR_ONLY}}, "- ; FAILED 1009 ; CLOSE 1009"},
    {"max_message: a message of exactly the limit", RB, 10, 0, {{0x81, P("0123456789"), 0}},
     "begin TEXT|data '0123456789'|end ; OPEN ; -"},
    {"max_message: fragments over the limit fail at the header that crosses it", RB, 10, 0,
     {{0x01, P("012345"), 0}, {0x80, NULL, 5, F_HDR_ONLY}},
     "begin TEXT|data '012345' ; FAILED 1009 ; CLOSE 1009"},
    {"max_message: fragments over the limit", RB, 10, 0,
     {{0x01, P("012345"), 0}, {0x00, P(""), 0}, {0x80, P("6789A"), 0}},
     "begin TEXT|data '012345' ; FAILED 1009 ; CLOSE 1009"},
    {"max_message: fragments adding up to exactly the limit", RB, 10, 0,
     {{0x02, P("01234"), 0}, {0x00, P(""), 0}, {0x80, P("56789"), 0}},
     "begin BINARY|data '0123456789'|end ; OPEN ; -"},
    {"max_message: control frames do not count", RB, 10, 0,
     {{0x01, P("01234"), 0}, {0x89, P("pingpingping"), 0}, {0x80, P("56789"), 0}},
     "begin TEXT|data '01234'|ping 'pingpingping'|data '56789'|end ; OPEN ; PONG 'pingpingping'"},
    {"max_message: the limit applies to each message, not their sum", RB, 10, 0,
     {{0x81, P("01234567"), 0}, {0x82, P("01234567"), 0}},
     "begin TEXT|data '01234567'|end|begin BINARY|data '01234567'|end ; OPEN ; -"},
    {"max_message: the limit applies to each fragmented message", RB, 10, 0,
     {{0x01, P("0123"), 0}, {0x80, P("4567"), 0}, {0x01, P("0123"), 0}, {0x80, P("4567"), 0}},
     "begin TEXT|data '01234567'|end|begin TEXT|data '01234567'|end ; OPEN ; -"},

    /* RFC 6455 5.4 and 5.5.2-3: control frames amid a fragmented message */
    {"RFC 6455 5.4: ping between fragments", RB, 0, 0,
     {{0x01, P("Hel"), 0}, {0x89, P("ping"), 0}, {0x80, P("lo"), 0}},
     "begin TEXT|data 'Hel'|ping 'ping'|data 'lo'|end ; OPEN ; PONG 'ping'"},
    {"RFC 6455 5.4: pong and pings between fragments", RB, 0, 0,
     {{0x02, P("a"), 0}, {0x8A, P("x"), 0}, {0x00, P("b"), 0}, {0x89, P("1"), 0}, {0x89, P("2"), 0},
      {0x80, P("c"), 0}},
     "begin BINARY|data 'a'|pong 'x'|data 'b'|ping '1'|ping '2'|data 'c'|end ; OPEN ; "
     "PONG '1'|PONG '2'"},
    {"RFC 6455 5.4: close between fragments ends everything", RB, 0, 0,
     {{0x01, P("Hel"), 0}, {0x88, P("\x03\xe8"), 0}, {0x80, P("lo"), 0}},
     "begin TEXT|data 'Hel'|close 1000 ; CLOSED by peer ; CLOSE 1000"},
    {"RFC 6455 5.5.2: ping with an empty payload", RB, 0, 0, {{0x89, P(""), 0}},
     "ping '' ; OPEN ; PONG ''"},
    {"RFC 6455 5.5.2: binary ping payload echoed", RB, 0, 0, {{0x89, P("\x00\xff\x80"), 0}},
     "ping '\\x00\\xff\\x80' ; OPEN ; PONG '\\x00\\xff\\x80'"},
    {"RFC 6455 5.5.2: two pings get two pongs", RB, 0, 0, {{0x89, P("a"), 0}, {0x89, P("b"), 0}},
     "ping 'a'|ping 'b' ; OPEN ; PONG 'a'|PONG 'b'"},
    {"RFC 6455 5.5.3: unsolicited pong is accepted", RB, 0, 0, {{0x8A, P("x"), 0}},
     "pong 'x' ; OPEN ; -"},
    {"RFC 6455 5.5.3: unsolicited empty pong is accepted", RB, 0, 0, {{0x8A, P(""), 0}},
     "pong '' ; OPEN ; -"},

    /* RFC 6455 5.5.1 and 7: the closing handshake */
    {"RFC 6455 5.5.1: peer closes first; we echo its code", RB, 0, 0,
     {{0x88, P("\x03\xe8" "bye"), 0}}, "close 1000 'bye' ; CLOSED by peer ; CLOSE 1000"},
    {"RFC 6455 5.5.1: peer closes with no code; we answer with an empty close", RB, 0, 0,
     {{0x88, P(""), 0}}, "close 1005 ; CLOSED by peer ; CLOSE"},
    {"RFC 6455 5.5.1: peer closes with 1001", RB, 0, 0, {{0x88, P("\x03\xe9"), 0}},
     "close 1001 ; CLOSED by peer ; CLOSE 1001"},
    {"RFC 6455 5.5.1: nothing is processed after the peer's close", RB, 0, 0,
     {{0x88, P("\x03\xe8"), 0}, {0x81, P("Hello"), 0}, {0x89, P("p"), 0}, {0, P("\xff\xff\xff"), F_RAW}},
     "close 1000 ; CLOSED by peer ; CLOSE 1000"},
    {"RFC 6455 5.5.1: a second close from the peer is ignored", RB, 0, 0,
     {{0x88, P("\x03\xe8"), 0}, {0x88, P("\x03\xe9"), 0}},
     "close 1000 ; CLOSED by peer ; CLOSE 1000"},
    {"RFC 6455 5.5.1: we close first; the peer's reply closes", RB, 0, PRE_CLOSE,
     {{0x88, P("\x03\xe8"), 0}}, "close 1000 ; CLOSED ; CLOSE 1000 'bye'"},
    {"RFC 6455 5.5.1: we close first and wait", RB, 0, PRE_CLOSE, {{0}},
     "- ; CLOSE_SENT ; CLOSE 1000 'bye'"},
    {"RFC 6455 5.5.1: data after our close is still delivered", RB, 0, PRE_CLOSE,
     {{0x01, P("la"), 0}, {0x80, P("te"), 0}, {0x82, P("x"), 0}, {0x88, P("\x03\xe8"), 0}},
     "begin TEXT|data 'late'|end|begin BINARY|data 'x'|end|close 1000 ; CLOSED ; CLOSE 1000 'bye'"},
    {"RFC 6455 5.5.1: peer's reply may carry another code", RB, 0, PRE_CLOSE,
     {{0x88, P("\x03\xe9" "gone"), 0}}, "close 1001 'gone' ; CLOSED ; CLOSE 1000 'bye'"},
    {"RFC 6455 5.5.1: no second close frame after ours when the peer errs", RB, 0, PRE_CLOSE,
     {{0x81, P("\xff"), 0}}, "begin TEXT ; FAILED 1007 ; CLOSE 1000 'bye'"},
    {"RFC 6455 5.5.1: invalid close code in the reply to our close", RB, 0, PRE_CLOSE,
     {{0x88, P("\x03\xed"), 0}}, "- ; FAILED 1002 ; CLOSE 1000 'bye'"},
};

/* ---- generated tables: opcodes, close codes, header variants ---- */

static void check_vec(const struct vec *v)
{
    for (int role = WS_ROLE_CLIENT; role <= WS_ROLE_SERVER; role++) {
        if (!(v->roles & (role == WS_ROLE_CLIENT ? RC : RS)))
            continue;
        struct bytes in = {0};
        for (size_t i = 0; i < MAX_FRAMES && !fr_is_end(&v->f[i]); i++)
            add_frame(&in, (enum ws_role)role, &v->f[i]);
        struct setup s = {(enum ws_role)role, v->max, v->pre, EV_TRACE};
        check_input(v->name, &s, in.p ? in.p : (const uint8_t *)"", in.len, v->expect, NULL);
        bytes_free(&in);
    }
}

static void check_frames(const char *name, unsigned roles, const struct fr *f, size_t n,
                         const char *expect)
{
    struct vec v = {.name = name, .roles = roles, .expect = expect};
    for (size_t i = 0; i < n && i < MAX_FRAMES; i++)
        v.f[i] = f[i];
    check_vec(&v);
}

static void test_reserved_opcodes(void)
{
    static const uint8_t ops[] = {3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF};
    for (size_t i = 0; i < sizeof(ops); i++) {
        char name[96];
        snprintf(name, sizeof(name), "RFC 6455 5.2: reserved %s opcode 0x%X",
                 ops[i] < 8 ? "data" : "control", ops[i]);
        struct fr f[] = {{(uint8_t)(0x80 | ops[i]), P("x"), 0}};
        check_frames(name, RB, f, 1, "- ; FAILED 1002 ; CLOSE 1002");
        snprintf(name, sizeof(name), "RFC 6455 5.2: reserved opcode 0x%X inside a fragmented message",
                 ops[i]);
        struct fr g[] = {{0x01, P("a"), 0}, {(uint8_t)(0x80 | ops[i]), P(""), 0}};
        check_frames(name, RB, g, 2, "begin TEXT|data 'a' ; FAILED 1002 ; CLOSE 1002");
    }
}

static void test_close_codes(void)
{
    static const unsigned bad[] = {0,    1,    999,  1004, 1005, 1006, 1015,
                                   1016, 1100, 2000, 2999, 5000, 65535};
    static const unsigned good[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010,
                                    1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char name[96], pay[2] = {(char)(bad[i] >> 8), (char)bad[i]};
        snprintf(name, sizeof(name), "RFC 6455 7.4: close code %u is refused", bad[i]);
        struct fr f[] = {{0x88, pay, 2, 0}};
        check_frames(name, RB, f, 1, "- ; FAILED 1002 ; CLOSE 1002");
    }
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        char name[96], expect[96], pay[4] = {(char)(good[i] >> 8), (char)good[i], 'o', 'k'};
        snprintf(name, sizeof(name), "RFC 6455 7.4: close code %u is accepted and echoed",
                 good[i]);
        snprintf(expect, sizeof(expect), "close %u 'ok' ; CLOSED by peer ; CLOSE %u", good[i],
                 good[i]);
        struct fr f[] = {{0x88, pay, 4, 0}};
        check_frames(name, RB, f, 1, expect);
    }
    for (unsigned code = 0; code < 70000; code++) {
        bool want = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
                    (code >= 3000 && code <= 4999);
        if (ws_close_code_is_sendable(code) != want) {
            tap_ok(0, "RFC 6455 7.4: ws_close_code_is_sendable(%u) is %d", code, want);
            return;
        }
    }
    tap_ok(1, "RFC 6455 7.4: ws_close_code_is_sendable agrees for codes 0..69999");
}

/* Every length encoding, masked (server role) and not (client role), fed
 * whole, split and bytewise; the header fields reach the frame event. */
static void test_header_variants(void)
{
    static const size_t lens[] = {0,   1,   2,    3,     4,     5,     7,     8,   9,
                                  125, 126, 127,  128,   1000,  65535, 65536, 65537};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        for (int role = WS_ROLE_CLIENT; role <= WS_ROLE_SERVER; role++) {
            for (int is_text = 0; is_text <= (lens[i] <= 1000); is_text++) {
                size_t n = lens[i];
                const char *enc = n < 126 ? "7-bit" : n <= 0xFFFF ? "16-bit" : "64-bit";
                char name[128];
                snprintf(name, sizeof(name), "RFC 6455 5.2: %s frame, %s length %zu, %s",
                         is_text ? "text" : "binary", enc, n,
                         role == WS_ROLE_SERVER ? "masked" : "unmasked");
                struct bytes in = {0}, want = {0}, expect = {0};
                struct fr f = {(uint8_t)(is_text ? 0x81 : 0x82), NULL, n,
                               is_text ? (unsigned)F_TEXT : 0u};
                add_frame(&in, (enum ws_role)role, &f);
                pattern(&want, n, is_text);
                bytes_printf(&expect, "begin %s", is_text ? "TEXT" : "BINARY");
                if (n > 40)
                    bytes_printf(&expect, "|data %zu", n);
                else if (n) {
                    bytes_add(&expect, "|data ", 6);
                    esc(&expect, want.p, n);
                }
                bytes_printf(&expect, "|end ; OPEN ; -");
                struct setup s = {(enum ws_role)role, 0, 0, EV_TRACE};
                check_input(name, &s, in.p, in.len, bytes_str(&expect), &want);

                /* the frame event sees the header as sent */
                struct ws_conn c;
                struct rec r;
                conn_init(&c, &r, &s);
                unsigned char *copy = tap_dup(in.p, in.len);
                ws_feed(&c, copy, in.len);
                free(copy);
                char hdr[128];
                snprintf(hdr, sizeof(hdr), "[%s rsv0 %s len %zu%s]", is_text ? "TEXT" : "BINARY",
                         role == WS_ROLE_SERVER ? "masked" : "plain", n,
                         role == WS_ROLE_SERVER ? " key 37fa213d" : "");
                if (!tap_ok(strcmp(bytes_str(&r.hdrs), hdr) == 0, "%s: frame event", name))
                    tap_diag("got %s, expected %s", bytes_str(&r.hdrs), hdr);
                rec_free(&r);
                ws_free(&c);
                bytes_free(&in);
                bytes_free(&want);
                bytes_free(&expect);
            }
        }
    }

    /* A fragmented message of 16-bit and 64-bit fragments, masked. */
    struct fr f[] = {{0x02, NULL, 300, 0}, {0x00, NULL, 70000, 0}, {0x80, NULL, 7, 0}};
    struct bytes want = {0};
    pattern(&want, 300, false);
    pattern(&want, 70000, false);
    pattern(&want, 7, false);
    for (int role = WS_ROLE_CLIENT; role <= WS_ROLE_SERVER; role++) {
        struct bytes in = {0};
        for (size_t i = 0; i < 3; i++)
            add_frame(&in, (enum ws_role)role, &f[i]);
        struct setup s = {(enum ws_role)role, 0, 0, EV_TRACE};
        check_input("RFC 6455 5.4: fragments with 16-bit and 64-bit lengths", &s, in.p, in.len,
                    "begin BINARY|data 70307|end ; OPEN ; -", &want);
        bytes_free(&in);
    }
    bytes_free(&want);
}

/* A 125-byte ping, the largest control frame, comes back as a pong. */
static void test_ping_125(void)
{
    struct bytes pay = {0}, expect = {0};
    pattern(&pay, 125, false);
    bytes_add(&expect, "ping ", 5);
    esc(&expect, pay.p, pay.len);
    bytes_add(&expect, " ; OPEN ; PONG ", 15);
    esc(&expect, pay.p, pay.len);
    struct fr f[] = {{0x89, NULL, 125, 0}};
    check_frames("RFC 6455 5.5: 125-byte ping is answered by the same 125-byte pong", RB, f, 1,
                 bytes_str(&expect));
    bytes_free(&pay);
    bytes_free(&expect);
}

/* ---- the exact bytes and fields the engine leaves ---- */

static struct ws_conn *new_conn(struct ws_conn *c, struct rec *r, enum ws_role role,
                                uint64_t max)
{
    struct setup s = {role, max, 0, EV_TRACE};
    conn_init(c, r, &s);
    return c;
}

static int feed_str(struct ws_conn *c, const void *p, size_t n)
{
    unsigned char *copy = tap_dup(p, n);
    int rc = ws_feed(c, copy, n);
    free(copy);
    return rc;
}

static bool out_is(struct ws_conn *c, const void *p, size_t n)
{
    return buf_size(&c->out) == n && memcmp(buf_head(&c->out), p, n) == 0;
}

static void test_exact_bytes(void)
{
    struct ws_conn c;
    struct rec r;

    /* RFC 6455 5.7: the client's pong to "Hello", masked with the RFC's key,
     * is byte for byte the masked pong of the RFC. */
    new_conn(&c, &r, WS_ROLE_CLIENT, 0);
    feed_str(&c, "\x89\x05Hello", 7);
    tap_ok(out_is(&c, "\x8a\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11),
           "RFC 6455 5.7: client answers ping 'Hello' with the RFC's masked pong bytes");
    rec_free(&r);
    ws_free(&c);

    /* A server answers unmasked. */
    new_conn(&c, &r, WS_ROLE_SERVER, 0);
    feed_str(&c, "\x89\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11);
    tap_ok(out_is(&c, "\x8a\x05Hello", 7),
           "RFC 6455 5.1: server answers masked ping 'Hello' with an unmasked pong");
    rec_free(&r);
    ws_free(&c);

    /* Failure fields: code, reason naming the rule, close frame, ws_is_done. */
    new_conn(&c, &r, WS_ROLE_CLIENT, 0);
    int rc = feed_str(&c, "\x83\x00", 2);
    tap_ok(rc == -1 && c.state == WS_STATE_FAILED && c.error.code == 1002 && ws_is_done(&c),
           "RFC 6455 5.2: reserved opcode sets state FAILED, error.code 1002, ws_is_done");
    tap_ok(strstr(c.error.reason, "RFC 6455") != NULL, "error.reason names the rule: '%s'",
           c.error.reason);
    tap_ok(out_is(&c, "\x88\x82\x37\xfa\x21\x3d\x34\x10", 8),
           "client's close 1002 after the failure is masked, byte for byte");
    tap_ok(c.sent_close_code == 1002, "sent_close_code is 1002");
    size_t before = buf_size(&c.out);
    rc = feed_str(&c, "\x81\x02hi", 4);
    tap_ok(rc == -1 && buf_size(&c.out) == before && r.log.len == 0,
           "input after a failure: -1, no events, nothing queued");
    tap_ok(ws_send_message(&c, WS_OP_TEXT, "x", 1) == -1 && ws_send_ping(&c, "", 0) == -1 &&
               ws_send_close(&c, 1000, NULL, 0) == -1 && buf_size(&c.out) == before,
           "nothing can be sent after a failure");
    rec_free(&r);
    ws_free(&c);

    /* Peer closes first: fields. */
    new_conn(&c, &r, WS_ROLE_SERVER, 0);
    rc = feed_str(&c, "\x88\x84\x00\x00\x00\x00\x0f\xa0ok", 10);
    tap_ok(rc == 0 && c.state == WS_STATE_CLOSED && c.closed_by_peer && c.has_peer_close &&
               c.peer_close_code == 4000 && c.sent_close_code == 4000 && ws_is_done(&c),
           "RFC 6455 5.5.1: peer's close: CLOSED, closed_by_peer, peer and sent codes 4000");
    tap_ok(out_is(&c, "\x88\x02\x0f\xa0", 4), "RFC 6455 5.5.1: the reply echoes code 4000");
    tap_ok(ws_send_message(&c, WS_OP_TEXT, "x", 1) == -1 && ws_send_close(&c, 1000, NULL, 0) == -1,
           "RFC 6455 5.5.1: nothing can be sent after the closing handshake");
    rec_free(&r);
    ws_free(&c);

    /* We close first: fields through both steps. */
    new_conn(&c, &r, WS_ROLE_CLIENT, 0);
    rc = ws_send_close(&c, 1001, "bye", 3);
    tap_ok(rc == 0 && c.state == WS_STATE_CLOSE_SENT && !ws_is_done(&c) &&
               c.sent_close_code == 1001,
           "RFC 6455 5.5.1: our close: CLOSE_SENT, not done, sent_close_code 1001");
    rc = feed_str(&c, "\x81\x02hi", 4);
    tap_ok(rc == 0 && (flush_data(&r), strcmp(bytes_str(&r.log), "begin TEXT|data 'hi'|end") == 0),
           "RFC 6455 5.5.1: a message after our close is delivered");
    rc = feed_str(&c, "\x88\x02\x03\xe8", 4);
    tap_ok(rc == 0 && c.state == WS_STATE_CLOSED && !c.closed_by_peer && c.has_peer_close &&
               c.peer_close_code == 1000 && ws_is_done(&c),
           "RFC 6455 5.5.1: the reply: CLOSED, not closed_by_peer, peer_close_code 1000");
    struct bytes s = {0};
    describe_out(&s, buf_head(&c.out), buf_size(&c.out), true);
    tap_ok(strcmp(bytes_str(&s), "CLOSE 1001 'bye'") == 0,
           "RFC 6455 5.5.1: only our one close was queued: %s", bytes_str(&s));
    bytes_free(&s);
    rec_free(&r);
    ws_free(&c);

    /* A failure while our close is out queues no second close. */
    new_conn(&c, &r, WS_ROLE_CLIENT, 0);
    ws_send_close(&c, 1000, NULL, 0);
    before = buf_size(&c.out);
    rc = feed_str(&c, "\x83\x00", 2);
    tap_ok(rc == -1 && c.state == WS_STATE_FAILED && c.error.code == 1002 &&
               buf_size(&c.out) == before,
           "RFC 6455 5.5.1: a failure after our close is recorded but sends no second close");
    rec_free(&r);
    ws_free(&c);

    /* A ping while our close is out: the engine may not answer after its
     * close (no frames after a close, RFC 6455 5.5.1), the event still comes. */
    new_conn(&c, &r, WS_ROLE_SERVER, 0);
    ws_send_close(&c, 1000, NULL, 0);
    before = buf_size(&c.out);
    rc = feed_str(&c, "\x89\x81\x00\x00\x00\x00p", 7);
    tap_ok(rc == 0 && buf_size(&c.out) == before && strcmp(bytes_str(&r.log), "ping 'p'") == 0,
           "RFC 6455 5.5.1: no pong is sent after our close; the ping event comes");
    rec_free(&r);
    ws_free(&c);

    /* Incoming frame event: header fields and the payload preview unmasked. */
    new_conn(&c, &r, WS_ROLE_SERVER, 0);
    rc = feed_str(&c, "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11);
    tap_ok(rc == 0 && strcmp(bytes_str(&r.hdrs), "[TEXT rsv0 masked len 5 key 37fa213d]") == 0,
           "frame event for an incoming masked frame: %s", bytes_str(&r.hdrs));
    rec_free(&r);
    ws_free(&c);
}

/* ---- the encoder ---- */

struct sent {
    struct ws_conn c;
    struct rec r;
    uint32_t seed;
};

static void sent_init(struct sent *s, enum ws_role role)
{
    struct setup st = {role, 0, 0, EV_TRACE};
    conn_init(&s->c, &s->r, &st);
    s->seed = 12345;
    s->c.cfg.random = random_lcg;
    s->c.cfg.random_ctx = &s->seed;
}

static void sent_free(struct sent *s)
{
    rec_free(&s->r);
    ws_free(&s->c);
}

/* Feeds what `from` queued into a fresh engine of the other role, one byte
 * at a time for small outputs; returns its event summary. */
static void decode_with_peer(struct ws_conn *from, struct outcome *o)
{
    struct setup s = {from->cfg.role == WS_ROLE_CLIENT ? WS_ROLE_SERVER : WS_ROLE_CLIENT, 0, 0,
                      EV_TRACE};
    size_t len = buf_size(&from->out);
    run(&s, buf_head(&from->out), len, NULL, 0, o);
}

static void test_encoder_lengths(void)
{
    static const size_t lens[] = {0, 1, 5, 125, 126, 127, 65535, 65536, 100000};
    for (int role = WS_ROLE_CLIENT; role <= WS_ROLE_SERVER; role++) {
        const char *rn = role_name((enum ws_role)role);
        bool is_client = role == WS_ROLE_CLIENT;
        for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
            size_t n = lens[i];
            struct sent s;
            sent_init(&s, (enum ws_role)role);
            struct bytes pay = {0};
            pattern(&pay, n, false);
            int rc = ws_send_message(&s.c, WS_OP_BINARY, pay.p ? pay.p : (const uint8_t *)"", n);

            /* the header, byte for byte */
            uint8_t hdr[14];
            size_t h = 0;
            uint8_t m = is_client ? 0x80 : 0;
            hdr[h++] = 0x82;
            if (n < 126) {
                hdr[h++] = (uint8_t)(m | n);
            } else if (n <= 0xFFFF) {
                hdr[h++] = m | 126;
                hdr[h++] = (uint8_t)(n >> 8);
                hdr[h++] = (uint8_t)n;
            } else {
                hdr[h++] = m | 127;
                for (int sh = 56; sh >= 0; sh -= 8)
                    hdr[h++] = (uint8_t)((uint64_t)n >> sh);
            }
            size_t total = h + (is_client ? 4 : 0) + n;
            const uint8_t *o = buf_head(&s.c.out);
            bool ok = rc == 0 && buf_size(&s.c.out) == total && memcmp(o, hdr, h) == 0;
            if (!tap_ok(ok, "RFC 6455 5.2: %s encodes a %zu-byte frame with a %s length", rn, n,
                        n < 126 ? "7-bit" : n <= 0xFFFF ? "16-bit" : "64-bit"))
                tap_diag("rc %d, size %zu (want %zu), bytes %02x %02x", rc, buf_size(&s.c.out),
                         total, buf_size(&s.c.out) ? o[0] : 0, buf_size(&s.c.out) > 1 ? o[1] : 0);

            /* the payload: masked with the key that follows the header */
            if (ok) {
                const uint8_t *key = o + h;
                const uint8_t *body = o + h + (is_client ? 4 : 0);
                size_t wrong = 0;
                for (size_t k = 0; k < n; k++)
                    if ((uint8_t)(body[k] ^ (is_client ? key[k & 3] : 0)) != pay.p[k])
                        wrong++;
                bool key_nonzero = !is_client || (key[0] | key[1] | key[2] | key[3]) != 0;
                tap_ok(wrong == 0 && key_nonzero, "RFC 6455 5.3: %s payload of %zu bytes is %s",
                       rn, n, is_client ? "masked with the key from the random source" : "plain");
            }

            /* and a peer engine decodes it back */
            struct outcome back;
            decode_with_peer(&s.c, &back);
            char expect[96];
            if (n == 0)
                snprintf(expect, sizeof(expect), "begin BINARY|end ; OPEN ; -");
            else if (n > 40)
                snprintf(expect, sizeof(expect), "begin BINARY|data %zu|end ; OPEN ; -", n);
            else
                expect[0] = 0;
            bool same = back.data.len == n && (!n || memcmp(back.data.p, pay.p, n) == 0) &&
                        (!expect[0] || strcmp(bytes_str(&back.summary), expect) == 0);
            if (!tap_ok(same, "%s's %zu-byte message decodes back in the other role", rn, n))
                tap_diag("%s", bytes_str(&back.summary));
            outcome_free(&back);
            bytes_free(&pay);
            sent_free(&s);
        }
    }

    /* Client masks: a fresh key per frame. */
    struct sent s;
    sent_init(&s, WS_ROLE_CLIENT);
    ws_send_message(&s.c, WS_OP_TEXT, "aaaa", 4);
    ws_send_message(&s.c, WS_OP_TEXT, "aaaa", 4);
    const uint8_t *o = buf_head(&s.c.out);
    tap_ok(buf_size(&s.c.out) == 20 && memcmp(o + 2, o + 12, 4) != 0,
           "RFC 6455 5.3: each frame gets a fresh masking key");
    struct outcome back;
    decode_with_peer(&s.c, &back);
    tap_ok(strcmp(bytes_str(&back.summary),
                  "begin TEXT|data 'aaaa'|end|begin TEXT|data 'aaaa'|end ; OPEN ; -") == 0,
           "client's text messages decode back: %s", bytes_str(&back.summary));
    outcome_free(&back);
    sent_free(&s);

    /* No random source, no masked frame. */
    sent_init(&s, WS_ROLE_CLIENT);
    s.c.cfg.random = random_fail;
    tap_ok(ws_send_message(&s.c, WS_OP_TEXT, "x", 1) == -1 && buf_size(&s.c.out) == 0,
           "RFC 6455 5.3: client refuses to send when the random source fails");
    sent_free(&s);
}

static void test_encoder_fragments(void)
{
    for (int role = WS_ROLE_CLIENT; role <= WS_ROLE_SERVER; role++) {
        const char *rn = role_name((enum ws_role)role);
        struct sent s;
        sent_init(&s, (enum ws_role)role);
        struct ws_conn *c = &s.c;
        tap_ok(ws_send_frame(c, WS_OP_CONT, true, "x", 1) == -1 && buf_size(&c->out) == 0,
               "RFC 6455 5.4: %s refuses a continuation with no message started", rn);
        tap_ok(ws_send_frame(c, WS_OP_TEXT, false, "Hel", 3) == 0,
               "%s starts a fragmented message", rn);
        size_t before = buf_size(&c->out);
        tap_ok(ws_send_frame(c, WS_OP_TEXT, true, "x", 1) == -1 &&
                   ws_send_frame(c, WS_OP_BINARY, false, "x", 1) == -1 &&
                   ws_send_message(c, WS_OP_TEXT, "x", 1) == -1 && buf_size(&c->out) == before,
               "RFC 6455 5.4: %s refuses a new message inside a fragmented one", rn);
        tap_ok(ws_send_frame(c, WS_OP_PING, true, "x", 1) == -1 &&
                   ws_send_frame(c, WS_OP_CLOSE, true, "", 0) == -1 && buf_size(&c->out) == before,
               "RFC 6455 5.5: %s refuses a control opcode in ws_send_frame", rn);
        tap_ok(ws_send_ping(c, "p", 1) == 0, "RFC 6455 5.4: %s may ping between fragments", rn);
        tap_ok(ws_send_frame(c, WS_OP_CONT, false, "l", 1) == 0 &&
                   ws_send_frame(c, WS_OP_CONT, true, "o", 1) == 0,
               "%s continues and ends the message", rn);
        before = buf_size(&c->out);
        tap_ok(ws_send_frame(c, WS_OP_CONT, true, "x", 1) == -1 && buf_size(&c->out) == before,
               "RFC 6455 5.4: %s refuses a continuation after the final frame", rn);
        tap_ok(ws_send_message(c, WS_OP_BINARY, "Hi", 2) == 0, "%s sends the next message", rn);
        tap_ok(ws_send_ping(c, NULL, 0) == 0 && ws_send_pong(c, "u", 1) == 0,
               "%s sends an empty ping and a pong", rn);

        struct bytes d = {0};
        describe_out(&d, buf_head(&c->out), buf_size(&c->out), role == WS_ROLE_CLIENT);
        const char *want = "TEXT nofin 'Hel'|PING 'p'|CONT nofin 'l'|CONT 'o'|BINARY 'Hi'|"
                           "PING ''|PONG 'u'";
        if (!tap_ok(strcmp(bytes_str(&d), want) == 0, "%s queued the frames in order", rn))
            tap_diag("got %s", bytes_str(&d));
        bytes_free(&d);
        struct outcome back;
        decode_with_peer(c, &back);
        want = "begin TEXT|data 'Hel'|ping 'p'|data 'lo'|end|begin BINARY|data 'Hi'|end|"
               "ping ''|pong 'u' ; OPEN ; PONG 'p'|PONG ''";
        if (!tap_ok(strcmp(bytes_str(&back.summary), want) == 0,
                    "%s's fragmented message decodes back in the other role", rn))
            tap_diag("got %s", bytes_str(&back.summary));
        outcome_free(&back);

        /* RFC 6455 5.5: control frames carry at most 125 bytes. */
        uint8_t big[126];
        memset(big, 'p', sizeof(big));
        before = buf_size(&c->out);
        tap_ok(ws_send_ping(c, big, 126) == -1 && ws_send_pong(c, big, 126) == -1 &&
                   buf_size(&c->out) == before,
               "RFC 6455 5.5: %s refuses a 126-byte ping or pong", rn);
        tap_ok(ws_send_ping(c, big, 125) == 0 && ws_send_pong(c, big, 125) == 0,
               "RFC 6455 5.5: %s sends a 125-byte ping and pong", rn);

        /* RFC 6455 5.5.1: after our close, no more data frames. */
        tap_ok(ws_send_frame(c, WS_OP_TEXT, false, "a", 1) == 0, "%s opens a message", rn);
        tap_ok(ws_send_close(c, 1000, "done", 4) == 0 && c->state == WS_STATE_CLOSE_SENT,
               "%s closes in the middle of a fragmented message", rn);
        before = buf_size(&c->out);
        tap_ok(ws_send_frame(c, WS_OP_CONT, true, "b", 1) == -1 &&
                   ws_send_message(c, WS_OP_TEXT, "c", 1) == -1 &&
                   ws_send_message(c, WS_OP_BINARY, "", 0) == -1 && buf_size(&c->out) == before,
               "RFC 6455 5.5.1: %s refuses data frames after its close", rn);
        tap_ok(ws_send_ping(c, "", 0) == -1 && ws_send_pong(c, "", 0) == -1 &&
                   ws_send_close(c, 1000, NULL, 0) == -1 && buf_size(&c->out) == before,
               "RFC 6455 5.5.1: %s sends no control frame and no second close after its close",
               rn);
        sent_free(&s);
    }
}

/* RFC 6455 5.5 and 5.5.1: a close reason is cut to fit 125 bytes with the
 * code, and never inside a UTF-8 sequence. */
static void test_close_reason(void)
{
    static const struct {
        const char *name;
        const char *unit; /* repeated to build the reason */
        size_t prefix;    /* ASCII bytes before the repetitions */
    } cases[] = {
        {"ASCII", "a", 0},
        {"2-byte characters", "\xc3\xa9", 0},
        {"2-byte characters after 1 ASCII byte", "\xc3\xa9", 1},
        {"3-byte characters", "\xe2\x82\xac", 0},
        {"3-byte characters after 1 ASCII byte", "\xe2\x82\xac", 1},
        {"3-byte characters after 2 ASCII bytes", "\xe2\x82\xac", 2},
        {"4-byte characters", "\xf0\x9f\x98\x80", 0},
        {"4-byte characters after 1 ASCII byte", "\xf0\x9f\x98\x80", 1},
        {"4-byte characters after 2 ASCII bytes", "\xf0\x9f\x98\x80", 2},
        {"4-byte characters after 3 ASCII bytes", "\xf0\x9f\x98\x80", 3},
    };
    for (int role = WS_ROLE_CLIENT; role <= WS_ROLE_SERVER; role++) {
        const char *rn = role_name((enum ws_role)role);
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            struct bytes reason = {0};
            for (size_t k = 0; k < cases[i].prefix; k++)
                bytes_addc(&reason, 'x');
            while (reason.len < 200)
                bytes_add(&reason, cases[i].unit, strlen(cases[i].unit));
            struct sent s;
            sent_init(&s, (enum ws_role)role);
            int rc = ws_send_close(&s.c, 4001, (const char *)reason.p, reason.len);
            struct dframe f = {0};
            size_t n = parse_frame(buf_head(&s.c.out), buf_size(&s.c.out), &f);
            bool ok = rc == 0 && n == buf_size(&s.c.out) && f.opcode == WS_OP_CLOSE &&
                      f.len >= 2 && f.len <= 125 && f.payload[0] == 0x0f && f.payload[1] == 0xa1;
            size_t rlen = ok ? (size_t)f.len - 2 : 0;
            struct utf8_state st = {0};
            bool is_utf8 = ok && utf8_validate(&st, f.payload + 2, rlen) == rlen &&
                           utf8_is_complete(&st);
            bool is_prefix = ok && memcmp(f.payload + 2, reason.p, rlen) == 0;
            /* as long as possible: the next character would not have fit */
            bool is_longest = ok && rlen + strlen(cases[i].unit) > 123;
            if (!tap_ok(ok && is_utf8 && is_prefix && is_longest,
                        "RFC 6455 5.5: %s cuts a 200-byte reason of %s to %zu bytes, whole "
                        "characters, within 125",
                        rn, cases[i].name, rlen))
                tap_diag("rc %d, frame len %llu, utf8 %d, prefix %d, longest %d", rc,
                         (unsigned long long)f.len, is_utf8, is_prefix, is_longest);
            free(f.payload);

            /* the peer accepts it */
            struct outcome back;
            decode_with_peer(&s.c, &back);
            tap_ok(strstr(bytes_str(&back.summary), "; CLOSED by peer ;") != NULL &&
                       strncmp(bytes_str(&back.summary), "close 4001 <", 12) == 0,
                   "RFC 6455 5.5.1: the peer accepts %s's cut reason of %s", rn, cases[i].name);
            outcome_free(&back);
            sent_free(&s);
            bytes_free(&reason);
        }

        /* Reasons that fit are kept whole; code 0 sends an empty close. */
        static const struct {
            unsigned code;
            const char *reason;
            size_t len;
            const char *want;
        } fits[] = {
            {1000, NULL, 0, "CLOSE 1000"},
            {0, "ignored", 7, "CLOSE"},
            {1001, "bye", 3, "CLOSE 1001 'bye'"},
            {4999, "\xe2\x82\xac", 3, "CLOSE 4999 '\\xe2\\x82\\xac'"},
        };
        for (size_t i = 0; i < sizeof(fits) / sizeof(fits[0]); i++) {
            struct sent s;
            sent_init(&s, (enum ws_role)role);
            int rc = ws_send_close(&s.c, fits[i].code, fits[i].reason, fits[i].len);
            struct bytes d = {0};
            describe_out(&d, buf_head(&s.c.out), buf_size(&s.c.out), role == WS_ROLE_CLIENT);
            unsigned want_sent = fits[i].code ? fits[i].code : WS_CLOSE_NO_STATUS;
            if (!tap_ok(rc == 0 && strcmp(bytes_str(&d), fits[i].want) == 0 &&
                            s.c.sent_close_code == want_sent && s.c.state == WS_STATE_CLOSE_SENT,
                        "RFC 6455 5.5.1: %s ws_send_close(%u, %zu bytes) queues %s", rn,
                        fits[i].code, fits[i].len, fits[i].want))
                tap_diag("rc %d, got %s, sent_close_code %u", rc, bytes_str(&d),
                         s.c.sent_close_code);
            bytes_free(&d);
            sent_free(&s);
        }

        /* Exactly 123 bytes of 3-byte characters: kept whole. */
        struct bytes reason = {0};
        for (int k = 0; k < 41; k++)
            bytes_add(&reason, "\xe2\x82\xac", 3);
        struct sent s;
        sent_init(&s, (enum ws_role)role);
        ws_send_close(&s.c, 1000, (const char *)reason.p, reason.len);
        struct dframe f = {0};
        parse_frame(buf_head(&s.c.out), buf_size(&s.c.out), &f);
        tap_ok(f.len == 125 && f.payload && memcmp(f.payload + 2, reason.p, 123) == 0,
               "RFC 6455 5.5: %s keeps a reason of exactly 123 bytes whole", rn);
        free(f.payload);
        sent_free(&s);
        bytes_free(&reason);
    }
}

/* ws_send_raw queues exactly what it is told, whatever the rules. */
static void test_send_raw(void)
{
    struct sent s;
    sent_init(&s, WS_ROLE_CLIENT);
    struct ws_frame_header h = {.is_final = false, .rsv = 5, .opcode = 0x3, .len = 3};
    tap_ok(ws_send_raw(&s.c, &h, "abc") == 0 && out_is(&s.c, "\x53\x03" "abc", 5),
           "ws_send_raw: reserved opcode, RSV1+RSV3, no FIN, unmasked from a client");
    sent_free(&s);
    sent_init(&s, WS_ROLE_SERVER);
    struct ws_frame_header m = {.is_final = true, .opcode = 0x9, .has_mask = true,
                                .mask = {1, 2, 3, 4}, .len = 2};
    tap_ok(ws_send_raw(&s.c, &m, "\x01\x02") == 0 &&
               out_is(&s.c, "\x89\x82\x01\x02\x03\x04\x00\x00", 8),
           "ws_send_raw: masked ping from a server, with the given key");
    sent_free(&s);
}

static void test_names(void)
{
    tap_ok(strcmp(ws_opcode_name(WS_OP_TEXT), "TEXT") == 0 &&
               strcmp(ws_opcode_name(WS_OP_CLOSE), "CLOSE") == 0 &&
               strcmp(ws_opcode_name(0x3), "RESERVED-DATA") == 0 &&
               strcmp(ws_opcode_name(0xB), "RESERVED-CONTROL") == 0,
           "ws_opcode_name names opcodes, reserved ones by class");
    tap_ok(strcmp(ws_close_code_name(1000), "normal closure") == 0 &&
               strcmp(ws_close_code_name(1009), "message too big") == 0 &&
               strcmp(ws_close_code_name(4123), "private use") == 0 &&
               strcmp(ws_close_code_name(2000), "invalid code") == 0,
           "ws_close_code_name describes codes");
}

/* Fail fast: a header is judged byte by byte, before the rest of it comes. */
static void test_header_fails_at_first_bad_byte(void)
{
    static const struct {
        enum ws_role role;
        const char *bytes;
        size_t len;
        unsigned code;
        const char *rule;
    } cases[] = {
        {WS_ROLE_CLIENT, "\x83", 1, 1002, "RFC 6455 5.2: reserved opcode, at byte 0"},
        {WS_ROLE_CLIENT, "\xf1", 1, 1002, "RFC 6455 5.2: RSV bits, at byte 0"},
        {WS_ROLE_CLIENT, "\x09", 1, 1002, "RFC 6455 5.5: fragmented ping, at byte 0"},
        {WS_ROLE_CLIENT, "\x80", 1, 1002, "RFC 6455 5.4: continuation, no message, at byte 0"},
        {WS_ROLE_CLIENT, "\x81\x85", 2, 1002, "RFC 6455 5.1: masked server frame, at byte 1"},
        {WS_ROLE_SERVER, "\x81\x05", 2, 1002, "RFC 6455 5.1: unmasked client frame, at byte 1"},
        {WS_ROLE_CLIENT, "\x89\x7e", 2, 1002, "RFC 6455 5.5: ping over 125 bytes, at byte 1"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ws_conn c;
        struct rec r;
        new_conn(&c, &r, cases[i].role, 0);
        int rc = feed_str(&c, cases[i].bytes, cases[i].len);
        tap_ok(rc == -1 && c.state == WS_STATE_FAILED && c.error.code == cases[i].code,
               "%s (%s)", cases[i].rule, c.error.reason);
        rec_free(&r);
        ws_free(&c);
    }
}

/* RFC 6455 5.3: the client masks every payload length alike, whatever
 * part of it the word-at-a-time masking covers (32, 8, then single bytes). */
static void test_mask_every_length(void)
{
    size_t wrong = 0, first = SIZE_MAX;
    for (size_t n = 0; n <= 80; n++) {
        struct sent s;
        sent_init(&s, WS_ROLE_CLIENT);
        struct bytes pay = {0};
        pattern(&pay, n, false);
        struct dframe f = {0};
        const uint8_t *p = pay.p ? pay.p : (const uint8_t *)"";
        bool ok = ws_send_message(&s.c, WS_OP_BINARY, p, n) == 0 &&
                  parse_frame(buf_head(&s.c.out), buf_size(&s.c.out), &f) == buf_size(&s.c.out) &&
                  f.has_mask && f.len == n && (!n || memcmp(f.payload, p, n) == 0);
        if (!ok && first == SIZE_MAX)
            first = n;
        wrong += !ok;
        free(f.payload);
        bytes_free(&pay);
        sent_free(&s);
    }
    if (!tap_ok(wrong == 0,
                "RFC 6455 5.3: masked payloads of every length 0..80 unmask to what was sent"))
        tap_diag("%zu wrong, the first of %zu bytes", wrong, first);
}

/* The whole-message event carries exactly the messages that came whole in
 * one frame and one piece; the rest keep the three calls. */
static void test_whole_message_event(void)
{
    static const struct {
        const char *name;
        enum ws_role role;
        uint64_t max;
        struct fr frames[MAX_FRAMES];
        size_t cut; /* 0: fed whole */
        size_t want;
    } cases[] = {
        {"text, binary, empty and 16-bit-length frames", WS_ROLE_CLIENT, 0,
         {{0x81, P("hi"), 0}, {0x82, P("\x00\xff"), 0}, {0x81, NULL, 0, 0},
          {0x81, NULL, 300, F_TEXT}},
         0, 4},
        {"masked frames to a server", WS_ROLE_SERVER, 0,
         {{0x81, P("hi"), 0}, {0x82, NULL, 200, 0}}, 0, 2},
        {"a frame cut in two pieces", WS_ROLE_CLIENT, 0,
         {{0x81, P("hi"), 0}, {0x81, P("yo"), 0}}, 3, 1},
        {"a fragmented message", WS_ROLE_CLIENT, 0, {{0x01, P("h"), 0}, {0x80, P("i"), 0}}, 0, 0},
        {"a 64-bit length", WS_ROLE_CLIENT, 0, {{0x82, NULL, 70000, 0}}, 0, 0},
        {"invalid UTF-8", WS_ROLE_CLIENT, 0, {{0x81, P("a\xff"), 0}}, 0, 0},
        {"UTF-8 cut at the end", WS_ROLE_CLIENT, 0, {{0x81, P("a\xc3"), 0}}, 0, 0},
        {"over --max-message", WS_ROLE_CLIENT, 3, {{0x81, P("abcd"), 0}}, 0, 0},
        {"a ping between messages", WS_ROLE_CLIENT, 0,
         {{0x81, P("a"), 0}, {0x89, P("p"), 0}, {0x81, P("b"), 0}}, 0, 2},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct bytes in = {0};
        for (const struct fr *f = cases[i].frames; !fr_is_end(f); f++)
            add_frame(&in, cases[i].role, f);
        struct setup s = {cases[i].role, cases[i].max, PRE_NONE, EV_WHOLE};
        struct outcome o;
        size_t cut = cases[i].cut;
        run(&s, in.p, in.len, cut ? &cut : NULL, cut ? 1 : 0, &o);
        if (!tap_ok(o.whole_messages == cases[i].want, "whole-message event: %s: %zu of them",
                    cases[i].name, cases[i].want))
            tap_diag("got %zu: %s", o.whole_messages, bytes_str(&o.summary));
        outcome_free(&o);
        bytes_free(&in);
    }
}

int main(void)
{
    test_header_fails_at_first_bad_byte();
    for (size_t i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++)
        check_vec(&vecs[i]);
    test_reserved_opcodes();
    test_close_codes();
    test_header_variants();
    test_ping_125();
    test_exact_bytes();
    test_encoder_lengths();
    test_encoder_fragments();
    test_close_reason();
    test_send_raw();
    test_names();
    test_mask_every_length();
    test_whole_message_event();
    return tap_done();
}
