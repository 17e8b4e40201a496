/* SPDX-License-Identifier: MIT */
#include "ws.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "deflate.h"

#define OUT_MAX ((size_t)1 << 40) /* the loop bounds the output; this only guards overflow */

void ws_init(struct ws_conn *c, const struct ws_config *cfg)
{
    memset(c, 0, sizeof(*c));
    c->cfg = *cfg;
    c->state = WS_STATE_OPEN;
    c->rnd_pos = sizeof(c->rnd);
    buf_init(&c->out, OUT_MAX);
}

void ws_free(struct ws_conn *c)
{
    buf_free(&c->out);
    ws_inflater_free(c->inflater);
    ws_deflater_free(c->deflater);
    c->inflater = NULL;
    c->deflater = NULL;
}

/* ---- helpers ---- */

static bool is_control(unsigned op)
{
    return (op & 0x8) != 0;
}

bool ws_close_code_is_sendable(unsigned code)
{
    /* RFC 6455 7.4.1 and the IANA registry: 1004-1006 and 1015 are reserved
     * for local use, 1016-2999 are unassigned, below 1000 is unused. */
    if (code >= 1000 && code <= 1003)
        return true;
    if (code >= 1007 && code <= 1014)
        return true;
    return code >= 3000 && code <= 4999;
}

const char *ws_close_code_name(unsigned code)
{
    switch (code) {
    case 1000: return "normal closure";
    case 1001: return "going away";
    case 1002: return "protocol error";
    case 1003: return "unsupported data";
    case 1005: return "no status code";
    case 1006: return "no close frame";
    case 1007: return "invalid payload data";
    case 1008: return "policy violation";
    case 1009: return "message too big";
    case 1010: return "mandatory extension";
    case 1011: return "internal error";
    case 1012: return "service restart";
    case 1013: return "try again later";
    case 1014: return "bad gateway";
    case 1015: return "TLS handshake failure";
    default:
        if (code >= 3000 && code <= 3999)
            return "registered";
        if (code >= 4000 && code <= 4999)
            return "private use";
        return "invalid code";
    }
}

const char *ws_opcode_name(unsigned op)
{
    switch (op) {
    case WS_OP_CONT: return "CONT";
    case WS_OP_TEXT: return "TEXT";
    case WS_OP_BINARY: return "BINARY";
    case WS_OP_CLOSE: return "CLOSE";
    case WS_OP_PING: return "PING";
    case WS_OP_PONG: return "PONG";
    default: return is_control(op) ? "RESERVED-CONTROL" : "RESERVED-DATA";
    }
}

/* XORs p with the mask, starting at mask byte `phase`; a word at a time. */
static void apply_mask(uint8_t *p, size_t len, const uint8_t mask[4], size_t phase)
{
    uint8_t rot[4];
    for (size_t i = 0; i < 4; i++)
        rot[i] = mask[(phase + i) & 3];
    uint32_t m32;
    memcpy(&m32, rot, 4);
    uint64_t m64 = ((uint64_t)m32 << 32) | m32;
    size_t i = 0;
    for (; len - i >= 8; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        w ^= m64;
        memcpy(p + i, &w, 8);
    }
    for (; i < len; i++)
        p[i] ^= rot[i & 3];
}

/* Copies len bytes from src to dst XORed with the mask (phase 0): masking
 * as it copies, a word at a time, so that a frame's payload is read once. */
static void copy_masked(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t mask[4])
{
    uint32_t m32;
    memcpy(&m32, mask, 4);
    uint64_t m64 = ((uint64_t)m32 << 32) | m32;
    size_t i = 0;
    for (; len - i >= 32; i += 32) {
        uint64_t w[4];
        memcpy(w, src + i, 32);
        w[0] ^= m64;
        w[1] ^= m64;
        w[2] ^= m64;
        w[3] ^= m64;
        memcpy(dst + i, w, 32);
    }
    for (; len - i >= 8; i += 8) {
        uint64_t w;
        memcpy(&w, src + i, 8);
        w ^= m64;
        memcpy(dst + i, &w, 8);
    }
    for (; i < len; i++)
        dst[i] = src[i] ^ mask[i & 3];
}

/* Fails the connection (RFC 6455 7.1.7): queue a close with the code, then
 * ignore whatever else the peer sends. */
int ws_fail(struct ws_conn *c, unsigned code, const char *fmt, ...)
{
    if (c->state == WS_STATE_FAILED)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->error.reason, sizeof(c->error.reason), fmt, ap);
    va_end(ap);
    c->error.code = code;
    if (c->state == WS_STATE_OPEN)
        ws_send_close(c, code, NULL, 0);
    c->state = WS_STATE_FAILED;
    return -1;
}

/* ---- encoder ---- */

static int next_mask(struct ws_conn *c, uint8_t mask[4])
{
    if (c->rnd_pos + 4 > sizeof(c->rnd)) {
        if (!c->cfg.random || c->cfg.random(c->cfg.random_ctx, c->rnd, sizeof(c->rnd)) != 0)
            return -1;
        c->rnd_pos = 0;
    }
    memcpy(mask, c->rnd + c->rnd_pos, 4);
    c->rnd_pos += 4;
    return 0;
}

static size_t encode_header(uint8_t *out, const struct ws_frame_header *h)
{
    size_t n = 0;
    out[n++] = (uint8_t)((h->is_final ? 0x80 : 0) | ((h->rsv & 7) << 4) | (h->opcode & 0xF));
    uint8_t mask_bit = h->has_mask ? 0x80 : 0;
    if (h->len < 126) {
        out[n++] = (uint8_t)(mask_bit | h->len);
    } else if (h->len <= 0xFFFF) {
        out[n++] = mask_bit | 126;
        out[n++] = (uint8_t)(h->len >> 8);
        out[n++] = (uint8_t)h->len;
    } else {
        out[n++] = mask_bit | 127;
        for (int s = 56; s >= 0; s -= 8)
            out[n++] = (uint8_t)(h->len >> s);
    }
    if (h->has_mask) {
        memcpy(out + n, h->mask, 4);
        n += 4;
    }
    return n;
}

/* Appends header and payload with a single copy, masking as it copies. */
static int emit(struct ws_conn *c, const struct ws_frame_header *h, const void *payload)
{
    if (h->len > SIZE_MAX - WS_MAX_HEADER)
        return -1;
    uint8_t *dst = buf_reserve(&c->out, WS_MAX_HEADER + (size_t)h->len);
    if (!dst)
        return -1;
    size_t n = encode_header(dst, h);
    if (h->len && h->has_mask)
        copy_masked(dst + n, payload, (size_t)h->len, h->mask);
    else if (h->len)
        memcpy(dst + n, payload, (size_t)h->len);
    buf_commit(&c->out, n + (size_t)h->len);
    if (c->cfg.events.frame)
        c->cfg.events.frame(c->cfg.events.ctx, true, h, payload,
                            h->len < 64 ? (size_t)h->len : 64);
    return 0;
}

static int send_frame(struct ws_conn *c, unsigned op, unsigned rsv, bool is_final,
                      const void *p, size_t len)
{
    struct ws_frame_header h = {
        .is_final = is_final, .rsv = (uint8_t)rsv, .opcode = (uint8_t)op, .len = len,
        .has_mask = c->cfg.role == WS_ROLE_CLIENT,
    };
    if (h.has_mask && next_mask(c, h.mask) != 0)
        return -1;
    return emit(c, &h, p);
}

int ws_send_frame(struct ws_conn *c, enum ws_opcode op, bool is_final, const void *p, size_t len)
{
    if (c->state != WS_STATE_OPEN)
        return -1;
    bool is_first = !c->sending_message;
    if (is_first == (op == WS_OP_CONT) || op > WS_OP_BINARY)
        return -1; /* reserved opcodes go out only through ws_send_raw */
    if (c->deflater)
        return ws_deflate_frame(c, op, is_first, is_final, p, len);
    if (send_frame(c, op, 0, is_final, p, len) != 0)
        return -1;
    c->sending_message = !is_final;
    return 0;
}

int ws_send_message(struct ws_conn *c, enum ws_opcode op, const void *p, size_t len)
{
    return ws_send_frame(c, op, true, p, len);
}

/* For the deflate extension: a frame with RSV1 already decided. */
int ws_emit_data_frame(struct ws_conn *c, unsigned op, bool has_rsv1, bool is_final,
                       const void *p, size_t len)
{
    if (send_frame(c, op, has_rsv1 ? 0x4 : 0, is_final, p, len) != 0)
        return -1;
    c->sending_message = !is_final;
    return 0;
}

static int send_control(struct ws_conn *c, unsigned op, const void *p, size_t len)
{
    if (c->state != WS_STATE_OPEN || len > WS_MAX_CONTROL)
        return -1;
    return send_frame(c, op, 0, true, p, len);
}

int ws_send_ping(struct ws_conn *c, const void *p, size_t len)
{
    return send_control(c, WS_OP_PING, p, len);
}

int ws_send_pong(struct ws_conn *c, const void *p, size_t len)
{
    return send_control(c, WS_OP_PONG, p, len);
}

int ws_send_close(struct ws_conn *c, unsigned code, const char *reason, size_t len)
{
    /* RFC 6455 7.4.1: 1005, 1006 and 1015 (and unassigned codes) never go on
     * the wire; ws_send_raw can still send them to test a peer. */
    if (c->state != WS_STATE_OPEN || (code && !ws_close_code_is_sendable(code)))
        return -1;
    uint8_t payload[WS_MAX_CONTROL] = {0};
    size_t n = 0;
    if (code) {
        payload[n++] = (uint8_t)(code >> 8);
        payload[n++] = (uint8_t)code;
        if (len > WS_MAX_CONTROL - 2) {
            len = WS_MAX_CONTROL - 2;
            /* Never cut a UTF-8 sequence in half. */
            while (len > 0 && ((uint8_t)reason[len] & 0xC0) == 0x80)
                len--;
        }
        if (len)
            memcpy(payload + n, reason, len);
        n += len;
    }
    if (send_frame(c, WS_OP_CLOSE, 0, true, payload, n) != 0)
        return -1;
    c->sent_close_code = code ? code : WS_CLOSE_NO_STATUS;
    c->state = c->has_peer_close ? WS_STATE_CLOSED : WS_STATE_CLOSE_SENT;
    return 0;
}

int ws_send_raw(struct ws_conn *c, const struct ws_frame_header *h, const void *p)
{
    return emit(c, h, p);
}

/* ---- decoder ---- */

/* Delivers plain (inflated) message bytes: size limit, UTF-8, event. */
int ws_deliver(struct ws_conn *c, const uint8_t *p, size_t len)
{
    uint64_t max = c->cfg.max_message;
    if (max && (len > max || c->message_len > max - len))
        return ws_fail(c, WS_CLOSE_TOO_BIG,
                    "message exceeds the limit of %llu bytes (--max-message)",
                    (unsigned long long)max);
    c->message_len += len;
    size_t ok = len;
    if (c->is_text)
        ok = utf8_validate(&c->utf8, p, len);
    if (ok && c->cfg.events.message_data)
        c->cfg.events.message_data(c->cfg.events.ctx, p, ok);
    if (ok < len)
        return ws_fail(c, WS_CLOSE_INVALID_DATA,
                    "RFC 6455 8.1: text message is not valid UTF-8 (byte 0x%02x at offset %llu)",
                    p[ok], (unsigned long long)(c->message_len - len + ok));
    return 0;
}

static int end_message(struct ws_conn *c)
{
    if (c->is_text && !utf8_is_complete(&c->utf8))
        return ws_fail(c, WS_CLOSE_INVALID_DATA,
                    "RFC 6455 8.1: text message ends inside a UTF-8 sequence");
    c->in_message = false;
    if (c->cfg.events.message_end)
        c->cfg.events.message_end(c->cfg.events.ctx);
    return 0;
}

static int handle_close(struct ws_conn *c, const uint8_t *p, size_t len)
{
    unsigned code = WS_CLOSE_NO_STATUS;
    if (len == 1)
        return ws_fail(c, WS_CLOSE_PROTOCOL_ERROR,
                    "RFC 6455 5.5.1: close frame with a 1-byte payload");
    if (len >= 2) {
        code = (unsigned)p[0] << 8 | p[1];
        if (!ws_close_code_is_sendable(code))
            return ws_fail(c, WS_CLOSE_PROTOCOL_ERROR,
                        "RFC 6455 7.4: close code %u may not be sent", code);
        struct utf8_state st = {0};
        size_t ok = utf8_validate(&st, p + 2, len - 2);
        if (ok < len - 2 || !utf8_is_complete(&st))
            return ws_fail(c, WS_CLOSE_INVALID_DATA,
                        "RFC 6455 5.5.1: close reason is not valid UTF-8");
    }
    c->has_peer_close = true;
    c->peer_close_code = code;
    if (c->state == WS_STATE_OPEN) {
        c->closed_by_peer = true;
        /* RFC 6455 5.5.1: answer with a close, echoing the status code. */
        ws_send_close(c, code == WS_CLOSE_NO_STATUS ? 0 : code, NULL, 0);
    }
    c->state = WS_STATE_CLOSED;
    if (c->cfg.events.close)
        c->cfg.events.close(c->cfg.events.ctx, code, len > 2 ? p + 2 : NULL, len > 2 ? len - 2 : 0);
    return 0;
}

static int handle_control(struct ws_conn *c)
{
    const struct ws_events *ev = &c->cfg.events;
    switch (c->frame.opcode) {
    case WS_OP_PING:
        if (c->state == WS_STATE_OPEN && send_control(c, WS_OP_PONG, c->ctrl, c->ctrl_len) != 0)
            return ws_fail(c, WS_CLOSE_INTERNAL, "out of memory");
        if (ev->ping)
            ev->ping(ev->ctx, c->ctrl, c->ctrl_len);
        return 0;
    case WS_OP_PONG:
        if (ev->pong)
            ev->pong(ev->ctx, c->ctrl, c->ctrl_len);
        return 0;
    default:
        return handle_close(c, c->ctrl, c->ctrl_len);
    }
}

/* The header is checked byte by byte as it arrives, so that a bad frame is
 * refused at its first byte (fail fast), not once 14 bytes have come. */

/* Byte 0: FIN, RSV and opcode, against RFC 6455 5.2-5.5 and what came before. */
static int check_first_byte(struct ws_conn *c)
{
    const struct ws_frame_header *h = &c->frame;
    unsigned op = h->opcode;
    if (op > 2 && op < 8)
        return ws_fail(c, WS_CLOSE_PROTOCOL_ERROR, "RFC 6455 5.2: reserved data opcode 0x%x", op);
    if (op > 0xA)
        return ws_fail(c, WS_CLOSE_PROTOCOL_ERROR, "RFC 6455 5.2: reserved control opcode 0x%x", op);
    if (h->rsv & 0x3)
        return ws_fail(c, WS_CLOSE_PROTOCOL_ERROR,
                       "RFC 6455 5.2: reserved bit %s set without a negotiated extension",
                       (h->rsv & 0x2) ? "RSV2" : "RSV3");
    if ((h->rsv & 0x4) && !c->inflater)
        return ws_fail(c, WS_CLOSE_PROTOCOL_ERROR,
                       "RFC 6455 5.2: reserved bit RSV1 set without a negotiated extension");
    if ((h->rsv & 0x4) && (op == WS_OP_CONT || is_control(op)))
        return ws_fail(c, WS_CLOSE_PROTOCOL_ERROR, "RFC 7692 6: RSV1 set on a %s frame",
                       ws_opcode_name(op));
    if (is_control(op))
        return h->is_final ? 0
                           : ws_fail(c, WS_CLOSE_PROTOCOL_ERROR,
                                     "RFC 6455 5.5: fragmented %s frame", ws_opcode_name(op));
    if (op == WS_OP_CONT && !c->in_message)
        return ws_fail(c, WS_CLOSE_PROTOCOL_ERROR,
                       "RFC 6455 5.4: continuation frame with no message started");
    if (op != WS_OP_CONT && c->in_message)
        return ws_fail(c, WS_CLOSE_PROTOCOL_ERROR,
                       "RFC 6455 5.4: new %s frame inside a fragmented message",
                       ws_opcode_name(op));
    return 0;
}

/* Byte 1: the mask bit for our role, and a control frame's 7-bit length. */
static int check_second_byte(struct ws_conn *c, unsigned len7)
{
    const struct ws_frame_header *h = &c->frame;
    if (c->cfg.role == WS_ROLE_CLIENT && h->has_mask)
        return ws_fail(c, WS_CLOSE_PROTOCOL_ERROR, "RFC 6455 5.1: the server sent a masked frame");
    if (c->cfg.role == WS_ROLE_SERVER && !h->has_mask)
        return ws_fail(c, WS_CLOSE_PROTOCOL_ERROR,
                       "RFC 6455 5.1: the client sent an unmasked frame");
    if (is_control(h->opcode) && len7 > WS_MAX_CONTROL)
        return ws_fail(c, WS_CLOSE_PROTOCOL_ERROR,
                       "RFC 6455 5.5: %s frame payload longer than 125 bytes",
                       ws_opcode_name(h->opcode));
    return 0;
}

/* The whole header: the message size limit, and a first frame opens a message. */
static int start_frame(struct ws_conn *c)
{
    const struct ws_frame_header *h = &c->frame;
    unsigned op = h->opcode;
    if (is_control(op))
        return 0;
    uint64_t max = c->cfg.max_message;
    bool is_compressed = op == WS_OP_CONT ? c->is_compressed : (h->rsv & 0x4) != 0;
    /* A first frame starts from 0: message_len still counts the last message. */
    uint64_t so_far = op == WS_OP_CONT ? c->message_len : 0;
    /* Uncompressed sizes are known from the header: refuse before the data. */
    if (max && !is_compressed && (h->len > max || so_far > max - h->len))
        return ws_fail(c, WS_CLOSE_TOO_BIG,
                       "message exceeds the limit of %llu bytes (--max-message)",
                       (unsigned long long)max);
    if (op != WS_OP_CONT) {
        c->in_message = true;
        c->is_text = op == WS_OP_TEXT;
        c->is_compressed = is_compressed;
        c->message_len = 0;
        memset(&c->utf8, 0, sizeof(c->utf8));
        if (is_compressed)
            ws_inflater_begin(c->inflater);
        if (c->cfg.events.message_begin)
            c->cfg.events.message_begin(c->cfg.events.ctx, (enum ws_opcode)op);
    }
    return 0;
}

/* Takes the header from c->hdr as its bytes arrive. Returns 1 when it is
 * complete, 0 when more bytes are needed, -1 on error. */
static int parse_header(struct ws_conn *c)
{
    struct ws_frame_header *h = &c->frame;
    if (c->hdr_len == 1) {
        h->is_final = (c->hdr[0] & 0x80) != 0;
        h->rsv = (c->hdr[0] >> 4) & 7;
        h->opcode = c->hdr[0] & 0xF;
        return check_first_byte(c) != 0 ? -1 : 0;
    }
    unsigned len7 = c->hdr[1] & 0x7F;
    if (c->hdr_len == 2) {
        h->has_mask = (c->hdr[1] & 0x80) != 0;
        if (check_second_byte(c, len7) != 0)
            return -1;
    }
    size_t n = len7 == 126 ? 4 : len7 == 127 ? 10 : 2; /* where the mask key starts */
    if (c->hdr_len < n + (h->has_mask ? 4 : 0))
        return 0;
    if (len7 == 126) {
        h->len = (uint64_t)c->hdr[2] << 8 | c->hdr[3];
    } else if (len7 == 127) {
        h->len = 0;
        for (size_t i = 0; i < 8; i++)
            h->len = h->len << 8 | c->hdr[2 + i];
        if (h->len >> 63)
            return ws_fail(c, WS_CLOSE_PROTOCOL_ERROR,
                           "RFC 6455 5.2: 64-bit payload length with the most significant bit set");
    } else {
        h->len = len7;
    }
    if (h->has_mask)
        memcpy(h->mask, c->hdr + n, 4);
    return start_frame(c) != 0 ? -1 : 1;
}

static int finish_frame(struct ws_conn *c)
{
    if (is_control(c->frame.opcode))
        return handle_control(c);
    if (c->is_compressed && c->frame.is_final && ws_inflater_finish(c) != 0)
        return -1;
    if (c->frame.is_final)
        return end_message(c);
    return 0;
}

static void trace_incoming(struct ws_conn *c, const uint8_t *p, size_t avail)
{
    uint8_t preview[64];
    size_t n = avail < c->frame.len ? avail : (size_t)c->frame.len;
    if (n > sizeof(preview))
        n = sizeof(preview);
    memcpy(preview, p, n);
    if (c->frame.has_mask)
        apply_mask(preview, n, c->frame.mask, 0);
    c->cfg.events.frame(c->cfg.events.ctx, false, &c->frame, preview, n);
}

static int payload_chunk(struct ws_conn *c, uint8_t *p, size_t n)
{
    if (c->frame.has_mask)
        apply_mask(p, n, c->frame.mask, c->mask_phase);
    c->mask_phase = (c->mask_phase + n) & 3;
    if (is_control(c->frame.opcode)) {
        memcpy(c->ctrl + c->ctrl_len, p, n);
        c->ctrl_len += n;
        return 0;
    }
    if (c->is_compressed)
        return ws_inflater_feed(c, p, n);
    return ws_deliver(c, p, n);
}

/* The common frame, whole in p: a final, uncompressed text or binary frame
 * outside a fragmented message, with the mask bit our role expects and a 7-
 * or 16-bit length. Its first two bytes pass every check of
 * check_first_byte() and check_second_byte() (control frames, RSV bits,
 * continuations and reserved opcodes never match), so it is decoded in one
 * step. Returns its header's size (the frame is that and c->frame.len), or 0
 * when p does not start one: the general path takes it byte by byte. */
static size_t whole_frame(struct ws_conn *c, const uint8_t *p, size_t avail)
{
    if (avail < 2 || c->in_message || c->cfg.events.frame || (p[0] != 0x81 && p[0] != 0x82))
        return 0;
    bool has_mask = (p[1] & 0x80) != 0;
    if (has_mask != (c->cfg.role == WS_ROLE_SERVER))
        return 0;
    size_t len = p[1] & 0x7F, hdr = 2;
    if (len == 127)
        return 0;
    if (len == 126) {
        if (avail < 4)
            return 0;
        len = (size_t)p[2] << 8 | p[3];
        hdr = 4;
    }
    hdr += has_mask ? 4 : 0;
    if (avail < hdr || avail - hdr < len)
        return 0;
    c->frame = (struct ws_frame_header){.is_final = true, .opcode = p[0] & 0xF,
                                        .has_mask = has_mask, .len = len};
    if (has_mask)
        memcpy(c->frame.mask, p + hdr - 4, 4);
    return hdr;
}

/* A whole message the events.message call may take: within the size limit
 * and, for text, valid UTF-8 that ends on a character boundary. Leaves the
 * decoder as start_frame, ws_deliver and end_message would. */
static bool takes_whole(struct ws_conn *c, const uint8_t *p, size_t len)
{
    uint64_t max = c->cfg.max_message;
    if (!c->cfg.events.message || (max && len > max))
        return false;
    bool is_text = c->frame.opcode == WS_OP_TEXT;
    struct utf8_state st = {0};
    if (is_text && (utf8_validate(&st, p, len) != len || !utf8_is_complete(&st)))
        return false;
    c->is_text = is_text;
    c->is_compressed = false;
    c->message_len = len;
    c->utf8 = st;
    return true;
}

/* Delivers the frame whole_frame() found: the same steps as the general
 * path (start_frame, payload_chunk, finish_frame) without the per-byte
 * bookkeeping, or one events.message call. Anything wrong with it (size,
 * UTF-8) takes the steps, which fail it as a split frame would be. */
static int feed_whole_frame(struct ws_conn *c, uint8_t *payload)
{
    size_t len = (size_t)c->frame.len;
    if (len && c->frame.has_mask)
        apply_mask(payload, len, c->frame.mask, 0);
    if (takes_whole(c, payload, len)) {
        c->cfg.events.message(c->cfg.events.ctx, (enum ws_opcode)c->frame.opcode, payload, len);
        return 0;
    }
    if (start_frame(c) != 0)
        return -1;
    if (c->state == WS_STATE_FAILED || c->state == WS_STATE_CLOSED)
        return 0; /* ws_feed's loop stops there too */
    if (len && ws_deliver(c, payload, len) != 0)
        return -1;
    return end_message(c);
}

int ws_feed(struct ws_conn *c, uint8_t *p, size_t len)
{
    size_t i = 0;
    while (i < len) {
        if (c->state == WS_STATE_FAILED || c->state == WS_STATE_CLOSED)
            return c->state == WS_STATE_FAILED ? -1 : 0; /* RFC 6455 5.5.1: nothing after close */
        if (c->frame_left == 0 && c->hdr_len == 0) {
            size_t hdr = whole_frame(c, p + i, len - i);
            if (hdr) {
                uint8_t *payload = p + i + hdr;
                i += hdr + (size_t)c->frame.len;
                if (feed_whole_frame(c, payload) != 0)
                    return -1;
                continue;
            }
        }
        if (c->frame_left == 0) {
            /* Collect a header byte by byte up to what parse_header needs. */
            c->hdr[c->hdr_len++] = p[i++];
            int r = parse_header(c);
            if (r < 0)
                return -1;
            if (r == 0)
                continue;
            c->hdr_len = 0;
            c->frame_left = c->frame.len;
            c->mask_phase = 0;
            c->ctrl_len = 0;
            if (c->cfg.events.frame)
                trace_incoming(c, p + i, len - i);
            if (c->frame_left == 0 && finish_frame(c) != 0)
                return -1;
            continue;
        }
        size_t n = len - i;
        if (n > c->frame_left)
            n = (size_t)c->frame_left;
        c->frame_left -= n;
        if (payload_chunk(c, p + i, n) != 0)
            return -1;
        i += n;
        if (c->frame_left == 0 && finish_frame(c) != 0)
            return -1;
    }
    return c->state == WS_STATE_FAILED ? -1 : 0;
}
