/* SPDX-License-Identifier: MIT */
#include "jsonl.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "utf8.h"

static int puts_(struct buf *out, const char *s)
{
    return buf_append(out, s, strlen(s));
}

const char *jsonl_type_name(enum ws_opcode op)
{
    switch (op) {
    case WS_OP_TEXT: return "text";
    case WS_OP_BINARY: return "binary";
    case WS_OP_PING: return "ping";
    case WS_OP_PONG: return "pong";
    case WS_OP_CLOSE: return "close";
    default: return "frame";
    }
}

int jsonl_head(struct buf *out, const struct jsonl_head *h)
{
    char s[200];
    int rc = 0;
    snprintf(s, sizeof(s), "{\"type\":\"%s\",\"opcode\":%u", jsonl_type_name(h->op),
             h->is_continuation ? 0u : (unsigned)h->op);
    rc |= puts_(out, s);
    if (h->time) {
        rc |= puts_(out, ",\"time\":");
        rc |= buf_append(out, "\"", 1);
        rc |= puts_(out, h->time); /* digits and punctuation only */
        rc |= buf_append(out, "\"", 1);
    }
    if (h->client) {
        snprintf(s, sizeof(s), ",\"client\":%u", h->client);
        rc |= puts_(out, s);
    }
    if (h->from) {
        snprintf(s, sizeof(s), ",\"from\":\"%s\"", h->from);
        rc |= puts_(out, s);
    }
    if (h->t >= 0) {
        snprintf(s, sizeof(s), ",\"t\":%" PRId64, h->t);
        rc |= puts_(out, s);
    }
    return rc ? -1 : 0;
}

/* ---- text ---- */

/* The UTF-8 sequence at p: its length when whole and valid, 0 when p[0]
 * cannot start one (or the next byte breaks it), -1 when it is valid so
 * far but avail ends before it does. */
static int sequence(const uint8_t *p, size_t avail)
{
    uint8_t c = p[0], lo = 0x80, hi = 0xBF;
    size_t n;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        lo = c == 0xE0 ? 0xA0 : 0x80; /* no overlong forms */
        hi = c == 0xED ? 0x9F : 0xBF; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF; /* nothing past U+10FFFF */
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if (i >= avail)
            return -1;
        if (p[i] < (i == 1 ? lo : 0x80) || p[i] > (i == 1 ? hi : 0xBF))
            return 0;
    }
    return (int)n;
}

static int put_escape(struct buf *out, unsigned c)
{
    char esc[8];
    switch (c) {
    case '"': return puts_(out, "\\\"");
    case '\\': return puts_(out, "\\\\");
    case '\n': return puts_(out, "\\n");
    case '\r': return puts_(out, "\\r");
    case '\t': return puts_(out, "\\t");
    default: snprintf(esc, sizeof(esc), "\\u%04x", c); return puts_(out, esc);
    }
}

/* Writes the sequences of p that are whole; returns how many bytes were
 * used (the rest, at most 3 bytes, is an unfinished character), or -1. */
static long put_text(struct buf *out, const uint8_t *p, size_t len, bool is_final)
{
    size_t i = 0, run = 0; /* p[run, i) is plain: written in one append */
    int rc = 0;
    while (i < len) {
        int n = sequence(p + i, len - i);
        if (n < 0 && !is_final)
            break;
        bool is_plain = n == 1   ? p[i] >= 0x20 && p[i] != 0x7F && p[i] != '"' && p[i] != '\\'
                        : n == 2 ? !(p[i] == 0xC2 && p[i + 1] <= 0x9F)
                                 : n > 2;
        if (is_plain) {
            i += (size_t)n;
            continue;
        }
        rc |= buf_append(out, p + run, i - run);
        if (n <= 0) {
            rc |= puts_(out, "\\ufffd"); /* not UTF-8: one replacement per byte */
            i++;
        } else {
            rc |= put_escape(out, n == 1 ? p[i] : p[i + 1]); /* a C0, DEL or C1 control */
            i += (size_t)n;
        }
        run = i;
    }
    rc |= buf_append(out, p + run, i - run);
    return rc ? -1 : (long)i;
}

static int add_text(struct buf *out, struct jsonl_data *d, const uint8_t *p, size_t len)
{
    if (d->pend_len) {
        /* finish the held character with the first bytes of p */
        uint8_t tmp[8];
        size_t k = d->pend_len, take = len < 3 ? len : 3;
        memcpy(tmp, d->pend, k);
        memcpy(tmp + k, p, take);
        size_t i = 0;
        while (i < k) {
            int n = sequence(tmp + i, k + take - i);
            if (n < 0) {
                /* still unfinished: p was too short to complete it */
                d->pend_len = k + take - i;
                memmove(d->pend, tmp + i, d->pend_len);
                return 0;
            }
            long used = put_text(out, tmp + i, n ? (size_t)n : 1, true);
            if (used < 0)
                return -1;
            i += (size_t)used;
        }
        d->pend_len = 0;
        p += i - k;
        len -= i - k;
    }
    long used = put_text(out, p, len, false);
    if (used < 0)
        return -1;
    d->pend_len = len - (size_t)used;
    memcpy(d->pend, p + used, d->pend_len);
    return 0;
}

/* ---- base64 ---- */

static const char b64_digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void b64_group(char q[4], const uint8_t *g, size_t n)
{
    uint32_t v = (uint32_t)g[0] << 16 | (n > 1 ? (uint32_t)g[1] << 8 : 0) | (n > 2 ? g[2] : 0);
    q[0] = b64_digits[v >> 18];
    q[1] = b64_digits[(v >> 12) & 63];
    q[2] = n > 1 ? b64_digits[(v >> 6) & 63] : '=';
    q[3] = n > 2 ? b64_digits[v & 63] : '=';
}

static int add_base64(struct buf *out, struct jsonl_data *d, const uint8_t *p, size_t len)
{
    while (d->pend_len && d->pend_len < 3 && len) {
        d->pend[d->pend_len++] = *p++;
        len--;
    }
    if (d->pend_len == 3) {
        char q[4];
        b64_group(q, d->pend, 3);
        d->pend_len = 0;
        if (buf_append(out, q, 4) != 0)
            return -1;
    }
    while (len >= 3) {
        char block[4 * 256];
        size_t groups = len / 3 < 256 ? len / 3 : 256;
        for (size_t g = 0; g < groups; g++)
            b64_group(block + 4 * g, p + 3 * g, 3);
        if (buf_append(out, block, 4 * groups) != 0)
            return -1;
        p += 3 * groups;
        len -= 3 * groups;
    }
    memcpy(d->pend + d->pend_len, p, len);
    d->pend_len += len;
    return 0;
}

/* ---- data fields ---- */

int jsonl_data_begin(struct buf *out, struct jsonl_data *d, bool is_base64)
{
    memset(d, 0, sizeof(*d));
    d->is_base64 = is_base64;
    return puts_(out, is_base64 ? ",\"encoding\":\"base64\",\"data\":\"" : ",\"data\":\"");
}

int jsonl_data_add(struct buf *out, struct jsonl_data *d, const uint8_t *p, size_t len)
{
    d->len += len;
    return d->is_base64 ? add_base64(out, d, p, len) : add_text(out, d, p, len);
}

int jsonl_data_end(struct buf *out, struct jsonl_data *d)
{
    int rc = 0;
    if (d->pend_len) {
        if (d->is_base64) {
            char q[4];
            b64_group(q, d->pend, d->pend_len);
            rc |= buf_append(out, q, 4);
        } else {
            rc |= put_text(out, d->pend, d->pend_len, true) < 0;
        }
        d->pend_len = 0;
    }
    char tail[48];
    snprintf(tail, sizeof(tail), "\",\"length\":%" PRIu64, d->len);
    rc |= puts_(out, tail);
    return rc ? -1 : 0;
}

int jsonl_payload(struct buf *out, const uint8_t *p, size_t len)
{
    struct utf8_state st = {0};
    bool is_utf8 = utf8_validate(&st, p, len) == len && utf8_is_complete(&st);
    struct jsonl_data d;
    int rc = jsonl_data_begin(out, &d, !is_utf8);
    rc |= jsonl_data_add(out, &d, p, len);
    rc |= jsonl_data_end(out, &d);
    return rc ? -1 : 0;
}

int jsonl_close(struct buf *out, int code, const uint8_t *reason, size_t len)
{
    char s[48];
    int rc = 0;
    if (code >= 0) {
        snprintf(s, sizeof(s), ",\"code\":%d", code);
        rc |= puts_(out, s);
    }
    rc |= puts_(out, ",\"reason\":\"");
    rc |= put_text(out, reason, len, true) < 0;
    snprintf(s, sizeof(s), "\",\"length\":%zu", code >= 0 ? len + 2 : 0);
    rc |= puts_(out, s);
    return rc ? -1 : 0;
}

int jsonl_string(struct buf *out, const uint8_t *p, size_t len)
{
    int rc = buf_append(out, "\"", 1);
    rc |= put_text(out, p, len, true) < 0;
    rc |= buf_append(out, "\"", 1);
    return rc ? -1 : 0;
}

int jsonl_string_field(struct buf *out, const char *name, const uint8_t *p, size_t len)
{
    int rc = buf_append(out, ",\"", 2);
    rc |= puts_(out, name);
    rc |= puts_(out, "\":");
    rc |= jsonl_string(out, p, len);
    return rc ? -1 : 0;
}
