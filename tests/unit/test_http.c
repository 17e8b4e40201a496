/* SPDX-License-Identifier: MIT */
/* Unit tests for http.c: a table of response and request heads, each parsed
 * whole, split in two at every offset and fed one byte at a time (every
 * prefix of a head must be HTTP_INCOMPLETE and the whole must give the same
 * head); the size bound at and around the maximum; the header limit; and
 * the helpers for header names and token lists. Every input is copied into
 * a heap buffer of exactly its length, so that ASan catches an over-read. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "tap.h"

enum kind { RESPONSE, REQUEST };

static int parse(enum kind k, const char *p, size_t len, size_t max, struct http_head *h)
{
    return k == RESPONSE ? http_parse_response(p, len, max, h)
                         : http_parse_request(p, len, max, h);
}

/* A one-line picture of a parsed head, so that vectors can state what they
 * expect and the split variants can be compared with the whole. */
static void describe(enum kind k, const struct http_head *h, char *out, size_t outlen)
{
    size_t n = 0;
    if (k == RESPONSE)
        n += (size_t)snprintf(out, outlen, "1.%d %d [%.*s]", h->minor_version, h->status,
                              (int)h->reason_len, h->reason);
    else
        n += (size_t)snprintf(out, outlen, "%.*s [%.*s] 1.%d", (int)h->method_len, h->method,
                              (int)h->target_len, h->target, h->minor_version);
    for (size_t i = 0; i < h->num_headers && n < outlen; i++)
        n += (size_t)snprintf(out + n, outlen - n, " {%.*s=%.*s}", (int)h->headers[i].name_len,
                              h->headers[i].name, (int)h->headers[i].value_len,
                              h->headers[i].value);
}

/* The outcome of feeding an input: the parser's return value and, when the
 * head was complete, its description. */
struct outcome {
    int rc;
    char desc[2048];
};

static bool same(const struct outcome *a, const struct outcome *b)
{
    return a->rc == b->rc && (a->rc <= 0 || strcmp(a->desc, b->desc) == 0);
}

/* Feeds p[0, len) as a socket would deliver it, in pieces ending at the cut
 * offsets: after each piece the bytes received so far are parsed again from
 * a fresh exact-size copy, as the caller of a stateless parser does. The
 * first answer other than HTTP_INCOMPLETE is the outcome. */
static struct outcome feed_cuts(enum kind k, const char *p, size_t len, size_t max,
                                const size_t *cuts, size_t ncuts)
{
    struct outcome o = {HTTP_INCOMPLETE, ""};
    for (size_t c = 0; c <= ncuts; c++) {
        size_t end = c < ncuts ? cuts[c] : len;
        char *copy = (char *)tap_dup(p, end);
        struct http_head h;
        o.rc = parse(k, copy, end, max, &h);
        if (o.rc > 0)
            describe(k, &h, o.desc, sizeof(o.desc));
        free(copy);
        if (o.rc != HTTP_INCOMPLETE)
            break;
    }
    return o;
}

static struct outcome feed_whole(enum kind k, const char *p, size_t len, size_t max)
{
    return feed_cuts(k, p, len, max, NULL, 0);
}

/* ---- the table ---- */

#define HEAD 1 /* expected result: complete, the length of the head part */

struct vector {
    const char *name;
    enum kind kind;
    const char *head; /* the input, through the blank line when complete */
    const char *tail; /* bytes after the head (a body or the first frames) */
    int expect;       /* HEAD, HTTP_MALFORMED */
    const char *desc; /* for HEAD: the expected description */
};

#define SWITCHING "HTTP/1.1 101 Switching Protocols\r\n"

static const struct vector vectors[] = {
    /* responses */
    {"response: RFC 6455 1.3 101", RESPONSE,
     SWITCHING "Upgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
               "Sec-WebSocket-Protocol: chat\r\n\r\n",
     "", HEAD,
     "1.1 101 [Switching Protocols] {Upgrade=websocket} {Connection=Upgrade} "
     "{Sec-WebSocket-Accept=s3pPLMBiTxaQ9kYGzzhZRbK+xOo=} {Sec-WebSocket-Protocol=chat}"},
    {"response: frame bytes after the head are not part of it", RESPONSE,
     SWITCHING "Upgrade: websocket\r\n\r\n", "\x81\x05Hello", HEAD,
     "1.1 101 [Switching Protocols] {Upgrade=websocket}"},
    {"response: body after the head", RESPONSE,
     "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n", "hi", HEAD,
     "1.1 404 [Not Found] {Content-Length=2}"},
    {"response: RFC 9112 2.2 bare LF line ends", RESPONSE,
     "HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\nConnection: Upgrade\n\n", "x",
     HEAD, "1.1 101 [Switching Protocols] {Upgrade=websocket} {Connection=Upgrade}"},
    {"response: CRLF lines ended by a bare LF blank line", RESPONSE,
     SWITCHING "Upgrade: websocket\r\n\n", "", HEAD,
     "1.1 101 [Switching Protocols] {Upgrade=websocket}"},
    {"response: bare LF lines ended by a CRLF blank line", RESPONSE,
     "HTTP/1.1 101 OK\nUpgrade: websocket\n\r\n", "", HEAD,
     "1.1 101 [OK] {Upgrade=websocket}"},
    {"response: no headers", RESPONSE, "HTTP/1.1 200 OK\r\n\r\n", "", HEAD, "1.1 200 [OK]"},
    {"response: HTTP/1.0", RESPONSE, "HTTP/1.0 403 Forbidden\r\n\r\n", "", HEAD,
     "1.0 403 [Forbidden]"},
    {"response: RFC 9112 4 empty reason after the space", RESPONSE, "HTTP/1.1 101 \r\n\r\n", "",
     HEAD, "1.1 101 []"},
    {"response: no reason and no space", RESPONSE, "HTTP/1.1 101\r\n\r\n", "", HEAD,
     "1.1 101 []"},
    {"response: reason with spaces", RESPONSE, "HTTP/1.1 426 Upgrade  Required \r\n\r\n", "",
     HEAD, "1.1 426 [Upgrade  Required ]"},
    {"response: RFC 9110 5.5 header values trimmed of spaces and tabs", RESPONSE,
     "HTTP/1.1 101 X\r\nA:websocket\r\nB: \t two  words \t \r\nC:\r\nD:  \t \r\n\r\n", "", HEAD,
     "1.1 101 [X] {A=websocket} {B=two  words} {C=} {D=}"},
    {"response: obs-text in a value", RESPONSE, "HTTP/1.1 200 OK\r\nX: caf\xc3\xa9\r\n\r\n", "",
     HEAD, "1.1 200 [OK] {X=caf\xc3\xa9}"},
    {"response: every token character in a name", RESPONSE,
     "HTTP/1.1 200 OK\r\n!#$%&'*+-.^_`|~09azAZ: v\r\n\r\n", "", HEAD,
     "1.1 200 [OK] {!#$%&'*+-.^_`|~09azAZ=v}"},
    {"response: repeated headers kept in order", RESPONSE,
     "HTTP/1.1 101 X\r\nSec-WebSocket-Extensions: a\r\nX: 1\r\n"
     "sec-websocket-extensions: b\r\n\r\n",
     "", HEAD, "1.1 101 [X] {Sec-WebSocket-Extensions=a} {X=1} {sec-websocket-extensions=b}"},
    {"response: colon inside a value", RESPONSE,
     "HTTP/1.1 302 Found\r\nLocation: wss://h:9000/x\r\n\r\n", "", HEAD,
     "1.1 302 [Found] {Location=wss://h:9000/x}"},
    {"response: status line with two-digit status", RESPONSE, "HTTP/1.1 10 OK\r\n\r\n", "",
     HTTP_MALFORMED, NULL},
    {"response: status line with four-digit status", RESPONSE, "HTTP/1.1 1011 OK\r\n\r\n", "",
     HTTP_MALFORMED, NULL},
    {"response: status not digits", RESPONSE, "HTTP/1.1 1x1 OK\r\n\r\n", "", HTTP_MALFORMED,
     NULL},
    {"response: two spaces before the status", RESPONSE, "HTTP/1.1  101 OK\r\n\r\n", "",
     HTTP_MALFORMED, NULL},
    {"response: RFC 9112 2.3 HTTP-name is case-sensitive", RESPONSE,
     "http/1.1 101 OK\r\n\r\n", "", HTTP_MALFORMED, NULL},
    {"response: HTTP/2", RESPONSE, "HTTP/2 101 OK\r\n\r\n", "", HTTP_MALFORMED, NULL},
    {"response: HTTP/2.0", RESPONSE, "HTTP/2.0 101 OK\r\n\r\n", "", HTTP_MALFORMED, NULL},
    {"response: ICY", RESPONSE, "ICY 200 OK\r\n\r\n", "", HTTP_MALFORMED, NULL},
    {"response: empty start line", RESPONSE, "\r\n\r\n", "", HTTP_MALFORMED, NULL},
    {"response: a request line", RESPONSE, "GET / HTTP/1.1\r\nHost: h\r\n\r\n", "",
     HTTP_MALFORMED, NULL},
    {"response: RFC 9112 5.2 obs-fold rejected", RESPONSE,
     "HTTP/1.1 101 X\r\nUpgrade: websocket\r\n Connection: Upgrade\r\n\r\n", "",
     HTTP_MALFORMED, NULL},
    {"response: RFC 9112 5.2 obs-fold with a tab rejected", RESPONSE,
     "HTTP/1.1 101 X\r\nX: a\r\n\tb\r\n\r\n", "", HTTP_MALFORMED, NULL},
    {"response: RFC 9112 2.2 whitespace before the first header rejected", RESPONSE,
     "HTTP/1.1 101 X\r\n Upgrade: websocket\r\n\r\n", "", HTTP_MALFORMED, NULL},
    {"response: RFC 9112 5.1 whitespace before the colon rejected", RESPONSE,
     "HTTP/1.1 101 X\r\nUpgrade : websocket\r\n\r\n", "", HTTP_MALFORMED, NULL},
    {"response: header without a colon", RESPONSE, "HTTP/1.1 101 X\r\nUpgrade websocket\r\n\r\n",
     "", HTTP_MALFORMED, NULL},
    {"response: empty header name", RESPONSE, "HTTP/1.1 101 X\r\n: websocket\r\n\r\n", "",
     HTTP_MALFORMED, NULL},
    {"response: RFC 9110 5.1 '(' is not a token character", RESPONSE,
     "HTTP/1.1 101 X\r\nUp(grade: websocket\r\n\r\n", "", HTTP_MALFORMED, NULL},
    {"response: RFC 9110 5.1 '\"' is not a token character", RESPONSE,
     "HTTP/1.1 101 X\r\n\"Upgrade\": websocket\r\n\r\n", "", HTTP_MALFORMED, NULL},
    {"response: RFC 9110 5.1 '/' is not a token character", RESPONSE,
     "HTTP/1.1 101 X\r\nUp/grade: websocket\r\n\r\n", "", HTTP_MALFORMED, NULL},
    {"response: RFC 9110 5.1 non-ASCII is not a token character", RESPONSE,
     "HTTP/1.1 101 X\r\nUpgr\xc3\xa4""de: websocket\r\n\r\n", "", HTTP_MALFORMED, NULL},
    {"response: DEL in a name", RESPONSE, "HTTP/1.1 101 X\r\nUp\x7fgrade: websocket\r\n\r\n",
     "", HTTP_MALFORMED, NULL},
    {"response: RFC 9110 5.5 control character in a value", RESPONSE,
     "HTTP/1.1 101 X\r\nUpgrade: web\x01socket\r\n\r\n", "", HTTP_MALFORMED, NULL},
    {"response: RFC 9112 2.2 bare CR in a value", RESPONSE,
     "HTTP/1.1 101 X\r\nUpgrade: web\rsocket\r\n\r\n", "", HTTP_MALFORMED, NULL},
    {"response: CR CR LF line end", RESPONSE, "HTTP/1.1 101 X\r\nUpgrade: websocket\r\r\n\r\n",
     "", HTTP_MALFORMED, NULL},

    /* requests */
    {"request: RFC 6455 1.2 client handshake", REQUEST,
     "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n"
     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
     "Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n"
     "Sec-WebSocket-Version: 13\r\n\r\n",
     "", HEAD,
     "GET [/chat] 1.1 {Host=server.example.com} {Upgrade=websocket} {Connection=Upgrade} "
     "{Sec-WebSocket-Key=dGhlIHNhbXBsZSBub25jZQ==} {Origin=http://example.com} "
     "{Sec-WebSocket-Protocol=chat, superchat} {Sec-WebSocket-Version=13}"},
    {"request: RFC 9112 2.2 bare LF line ends", REQUEST,
     "GET /x?y=1 HTTP/1.1\nHost: h\n\n", "\x81\x80", HEAD, "GET [/x?y=1] 1.1 {Host=h}"},
    {"request: HTTP/1.0", REQUEST, "GET / HTTP/1.0\r\n\r\n", "", HEAD, "GET [/] 1.0"},
    {"request: other methods parse (the handshake refuses them)", REQUEST,
     "POST /chat HTTP/1.1\r\nContent-Length: 0\r\n\r\n", "", HEAD,
     "POST [/chat] 1.1 {Content-Length=0}"},
    {"request: absolute-form target", REQUEST, "GET ws://h/chat HTTP/1.1\r\n\r\n", "", HEAD,
     "GET [ws://h/chat] 1.1"},
    {"request: asterisk target", REQUEST, "OPTIONS * HTTP/1.1\r\n\r\n", "", HEAD,
     "OPTIONS [*] 1.1"},
    {"request: value trimming", REQUEST, "GET / HTTP/1.1\r\nHost:\t h \t\r\n\r\n", "", HEAD,
     "GET [/] 1.1 {Host=h}"},
    {"request: RFC 9112 3 two spaces after the method", REQUEST, "GET  / HTTP/1.1\r\n\r\n", "",
     HTTP_MALFORMED, NULL},
    {"request: leading space", REQUEST, " GET / HTTP/1.1\r\n\r\n", "", HTTP_MALFORMED, NULL},
    {"request: no version", REQUEST, "GET /\r\n\r\n", "", HTTP_MALFORMED, NULL},
    {"request: HTTP/0.9 style", REQUEST, "GET\r\n\r\n", "", HTTP_MALFORMED, NULL},
    {"request: extra word after the version", REQUEST, "GET / HTTP/1.1 x\r\n\r\n", "",
     HTTP_MALFORMED, NULL},
    {"request: HTTP/2.0", REQUEST, "GET / HTTP/2.0\r\n\r\n", "", HTTP_MALFORMED, NULL},
    {"request: lower-case http", REQUEST, "GET / http/1.1\r\n\r\n", "", HTTP_MALFORMED, NULL},
    {"request: RFC 9110 9.1 method must be a token", REQUEST, "G(T / HTTP/1.1\r\n\r\n", "",
     HTTP_MALFORMED, NULL},
    {"request: control character in the target", REQUEST, "GET /a\x01 HTTP/1.1\r\n\r\n", "",
     HTTP_MALFORMED, NULL},
    {"request: DEL in the target", REQUEST, "GET /a\x7f HTTP/1.1\r\n\r\n", "", HTTP_MALFORMED,
     NULL},
    {"request: tab in the request line", REQUEST, "GET\t/ HTTP/1.1\r\n\r\n", "",
     HTTP_MALFORMED, NULL},
    {"request: RFC 9112 5.2 obs-fold rejected", REQUEST,
     "GET / HTTP/1.1\r\nHost: h\r\n  more\r\n\r\n", "", HTTP_MALFORMED, NULL},
    {"request: RFC 9112 5.1 whitespace before the colon rejected", REQUEST,
     "GET / HTTP/1.1\r\nHost : h\r\n\r\n", "", HTTP_MALFORMED, NULL},
    {"request: bad token character in a name", REQUEST, "GET / HTTP/1.1\r\nHo[s]t: h\r\n\r\n",
     "", HTTP_MALFORMED, NULL},
    {"request: empty start line", REQUEST, "\n\n", "", HTTP_MALFORMED, NULL},
    {"request: a response line", REQUEST, "HTTP/1.1 200 OK\r\n\r\n", "", HTTP_MALFORMED, NULL},
};

static void test_vector(const struct vector *v, const char *input, size_t head_len, size_t len)
{
    struct outcome want = {v->expect == HEAD ? (int)head_len : v->expect, ""};
    if (v->desc)
        snprintf(want.desc, sizeof(want.desc), "%s", v->desc);

    struct outcome got = feed_whole(v->kind, input, len, HTTP_MAX_HEAD);
    if (!tap_ok(same(&got, &want), "http %s: whole gives %d", v->name, want.rc))
        tap_diag("got %d [%s], want [%s]", got.rc, got.desc, want.desc);

    /* Every proper prefix of a complete head is incomplete. */
    size_t limit = v->expect == HEAD ? head_len : 0;
    size_t bad = SIZE_MAX;
    for (size_t n = 0; n < limit && bad == SIZE_MAX; n++) {
        struct outcome o = feed_whole(v->kind, input, n, HTTP_MAX_HEAD);
        if (o.rc != HTTP_INCOMPLETE)
            bad = n;
    }
    if (v->expect == HEAD && !tap_ok(bad == SIZE_MAX, "http %s: every prefix is incomplete",
                                     v->name))
        tap_diag("prefix of %zu bytes gave %d", bad, feed_whole(v->kind, input, bad,
                                                                HTTP_MAX_HEAD).rc);

    bad = SIZE_MAX;
    for (size_t at = 0; at <= len && bad == SIZE_MAX; at++) {
        struct outcome o = feed_cuts(v->kind, input, len, HTTP_MAX_HEAD, &at, 1);
        if (!same(&o, &want))
            bad = at;
    }
    if (!tap_ok(bad == SIZE_MAX, "http %s: split in two at every offset", v->name))
        tap_diag("split at %zu differs", bad);

    size_t *cuts = malloc((len ? len : 1) * sizeof(*cuts));
    if (!cuts)
        abort();
    for (size_t i = 0; i < len; i++)
        cuts[i] = i;
    got = feed_cuts(v->kind, input, len, HTTP_MAX_HEAD, cuts, len);
    free(cuts);
    if (!tap_ok(same(&got, &want), "http %s: one byte at a time", v->name))
        tap_diag("got %d [%s]", got.rc, got.desc);
}

/* Vectors holding a NUL, which strlen cannot measure. */
#define V(s) s, sizeof(s) - 1
static const struct {
    struct vector v;
    const char *head;
    size_t head_len;
} nul_vectors[] = {
    {{"response: NUL in a name", RESPONSE, NULL, "", HTTP_MALFORMED, NULL},
     V("HTTP/1.1 101 X\r\nUp\0grade: websocket\r\n\r\n")},
    {{"response: RFC 9110 5.5 NUL in a value", RESPONSE, NULL, "", HTTP_MALFORMED, NULL},
     V("HTTP/1.1 101 X\r\nUpgrade: web\0socket\r\n\r\n")},
    {{"request: NUL in the target", REQUEST, NULL, "", HTTP_MALFORMED, NULL},
     V("GET /\0 HTTP/1.1\r\n\r\n")},
    {{"request: NUL in the method", REQUEST, NULL, "", HTTP_MALFORMED, NULL},
     V("G\0T / HTTP/1.1\r\n\r\n")},
};

static void run_vector(const struct vector *v, const char *head, size_t head_len)
{
    size_t tail_len = strlen(v->tail);
    char *input = malloc(head_len + tail_len + 1);
    if (!input)
        abort();
    memcpy(input, head, head_len);
    memcpy(input + head_len, v->tail, tail_len);
    test_vector(v, input, head_len, head_len + tail_len);
    free(input);
}

static void test_vectors(void)
{
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++)
        run_vector(&vectors[i], vectors[i].head, strlen(vectors[i].head));
    for (size_t i = 0; i < sizeof(nul_vectors) / sizeof(nul_vectors[0]); i++)
        run_vector(&nul_vectors[i].v, nul_vectors[i].head, nul_vectors[i].head_len);
}

/* ---- the size bound ---- */

static const char small_head[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n";

static void test_too_large(void)
{
    size_t L = sizeof(small_head) - 1;
    struct http_head h;
    char *p = (char *)tap_dup(small_head, L);

    tap_ok(http_parse_response(p, L, L, &h) == (int)L,
           "http HTTP_TOO_LARGE: a head of exactly max bytes is complete");
    tap_ok(http_parse_response(p, L, L - 1, &h) == HTTP_TOO_LARGE,
           "http HTTP_TOO_LARGE: a head one byte over max is too large");
    tap_ok(http_parse_response(p, L - 1, L, &h) == HTTP_INCOMPLETE,
           "http HTTP_TOO_LARGE: max-1 bytes without the end are incomplete");
    tap_ok(http_parse_response(p, L - 1, L - 1, &h) == HTTP_TOO_LARGE,
           "http HTTP_TOO_LARGE: max bytes without the end are too large");
    tap_ok(http_parse_request(p, L - 1, L - 1, &h) == HTTP_TOO_LARGE,
           "http HTTP_TOO_LARGE: the same for a request");
    free(p);

    /* A head of exactly HTTP_MAX_HEAD bytes, padded by a long header. */
    size_t max = HTTP_MAX_HEAD;
    char *big = malloc(max + 100);
    if (!big)
        abort();
    static const char start[] = "HTTP/1.1 200 OK\r\nX-Pad: ";
    memcpy(big, start, sizeof(start) - 1);
    memset(big + sizeof(start) - 1, 'a', max + 100 - (sizeof(start) - 1));
    memcpy(big + max - 4, "\r\n\r\n", 4);
    char *q = (char *)tap_dup(big, max);
    int rc = http_parse_response(q, max, HTTP_MAX_HEAD, &h);
    tap_ok(rc == (int)max && h.num_headers == 1 && h.headers[0].value_len == max - 4 - (sizeof(start) - 1),
           "http HTTP_TOO_LARGE: a head of HTTP_MAX_HEAD bytes is complete (rc %d)", rc);
    free(q);

    /* One more byte of padding: too large, whether or not the end follows. */
    memset(big + max - 4, 'a', 1);
    memcpy(big + max - 3, "\r\n\r\n", 4);
    q = (char *)tap_dup(big, max + 1);
    tap_ok(http_parse_response(q, max + 1, HTTP_MAX_HEAD, &h) == HTTP_TOO_LARGE,
           "http HTTP_TOO_LARGE: a head of HTTP_MAX_HEAD + 1 bytes is too large");
    tap_ok(http_parse_response(q, max, HTTP_MAX_HEAD, &h) == HTTP_TOO_LARGE,
           "http HTTP_TOO_LARGE: its first HTTP_MAX_HEAD bytes are already too large");
    tap_ok(http_parse_response(q, max - 1, HTTP_MAX_HEAD, &h) == HTTP_INCOMPLETE,
           "http HTTP_TOO_LARGE: and one byte fewer is still incomplete");
    free(q);

    /* Endless garbage with no line end. */
    memset(big, 'x', max + 100);
    q = (char *)tap_dup(big, max + 100);
    tap_ok(http_parse_request(q, max + 100, HTTP_MAX_HEAD, &h) == HTTP_TOO_LARGE,
           "http HTTP_TOO_LARGE: a request line that never ends");
    free(q);
    free(big);
}

/* ---- the header limit ---- */

static char *head_with_headers(enum kind k, size_t n, size_t *len)
{
    size_t cap = 64 + n * 32;
    char *s = malloc(cap);
    if (!s)
        abort();
    size_t off = (size_t)snprintf(s, cap, "%s", k == RESPONSE ? "HTTP/1.1 200 OK\r\n"
                                                             : "GET / HTTP/1.1\r\n");
    for (size_t i = 0; i < n; i++)
        off += (size_t)snprintf(s + off, cap - off, "X-H%zu: %zu\r\n", i, i);
    off += (size_t)snprintf(s + off, cap - off, "\r\n");
    *len = off;
    char *q = (char *)tap_dup(s, off);
    free(s);
    return q;
}

static void test_header_limit(void)
{
    for (int k = RESPONSE; k <= REQUEST; k++) {
        const char *what = k == RESPONSE ? "response" : "request";
        struct http_head h;
        size_t len;
        char *s = head_with_headers((enum kind)k, HTTP_MAX_HEADERS, &len);
        int rc = parse((enum kind)k, s, len, HTTP_MAX_HEAD, &h);
        tap_ok(rc == (int)len && h.num_headers == HTTP_MAX_HEADERS &&
                   http_equals(h.headers[63].name, h.headers[63].name_len, "X-H63"),
               "http %s: HTTP_MAX_HEADERS (%d) headers are accepted", what, HTTP_MAX_HEADERS);
        free(s);
        s = head_with_headers((enum kind)k, HTTP_MAX_HEADERS + 1, &len);
        rc = parse((enum kind)k, s, len, HTTP_MAX_HEAD, &h);
        tap_ok(rc == HTTP_TOO_LARGE, "http %s: one header more than %d is too large (rc %d)",
               what, HTTP_MAX_HEADERS, rc);
        free(s);
        s = head_with_headers((enum kind)k, 200, &len);
        rc = parse((enum kind)k, s, len, HTTP_MAX_HEAD, &h);
        tap_ok(rc == HTTP_TOO_LARGE, "http %s: 200 headers are too large", what);
        free(s);
    }
}

/* ---- helpers ---- */

static void test_find_count(void)
{
    static const char text[] = "HTTP/1.1 101 X\r\nUpgrade: websocket\r\nCONNECTION: Upgrade\r\n"
                               "sec-websocket-protocol: a\r\nSec-WebSocket-Protocol: b\r\n"
                               "Upgrade-Insecure-Requests: 1\r\n\r\n";
    char *p = (char *)tap_dup(text, sizeof(text) - 1);
    struct http_head h;
    int rc = http_parse_response(p, sizeof(text) - 1, HTTP_MAX_HEAD, &h);
    tap_ok(rc == (int)sizeof(text) - 1, "http find: the head parses");

    static const struct {
        const char *name;
        const char *first; /* value of the first match, NULL for none */
        size_t count;
    } cases[] = {
        {"Upgrade", "websocket", 1},
        {"upgrade", "websocket", 1},
        {"UPGRADE", "websocket", 1},
        {"uPgRaDe", "websocket", 1},
        {"Connection", "Upgrade", 1},
        {"connection", "Upgrade", 1},
        {"Sec-WebSocket-Protocol", "a", 2},
        {"SEC-WEBSOCKET-PROTOCOL", "a", 2},
        {"Upgrad", NULL, 0},
        {"Upgrade-", NULL, 0},
        {"Upgrade-Insecure-Requests", "1", 1},
        {"Host", NULL, 0},
        {"", NULL, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct http_header *f = http_find_header(&h, cases[i].name);
        bool ok = cases[i].first ? f && http_equals(f->value, f->value_len, cases[i].first)
                                 : f == NULL;
        tap_ok(ok, "http_find_header(\"%s\") is case-insensitive and exact: %s", cases[i].name,
               cases[i].first ? cases[i].first : "none");
        size_t n = http_count_header(&h, cases[i].name);
        tap_ok(n == cases[i].count, "http_count_header(\"%s\") == %zu (got %zu)", cases[i].name,
               cases[i].count, n);
    }
    free(p);
}

static void test_has_token(void)
{
    static const struct {
        const char *value;
        const char *token;
        bool expect;
    } cases[] = {
        {"Upgrade", "upgrade", true},
        {"upgrade", "Upgrade", true},
        {"UPGRADE", "upgrade", true},
        {"keep-alive, Upgrade", "upgrade", true},
        {"keep-alive,Upgrade", "upgrade", true},
        {"Upgrade, keep-alive", "upgrade", true},
        {"keep-alive, Upgrade, close", "upgrade", true},
        {"  upgrade  ", "upgrade", true},
        {"\tupgrade\t", "upgrade", true},
        {",, upgrade ,,", "upgrade", true},
        {"upgrader", "upgrade", false},
        {"xupgrade", "upgrade", false},
        {"keep-alive, upgrader", "upgrade", false},
        {"up grade", "upgrade", false},
        {"upgrade-x", "upgrade", false},
        {"keep-alive", "upgrade", false},
        {"", "upgrade", false},
        {",", "upgrade", false},
        {"   ", "upgrade", false},
        {"13, 8", "8", true},
        {"13, 8", "13", true},
        {"13, 8", "1", false},
        {"138", "8", false},
        {"chat, superchat", "chat", true},
        {"superchat", "chat", false},
        {"websocket", "websocket", true},
        {"WebSocket", "websocket", true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = strlen(cases[i].value);
        /* no terminating NUL: the length must be respected */
        char *v = (char *)tap_dup(cases[i].value, n);
        bool got = http_has_token(v, n, cases[i].token);
        tap_ok(got == cases[i].expect, "http_has_token(\"%s\", \"%s\") is %s", cases[i].value,
               cases[i].token, cases[i].expect ? "true" : "false");
        free(v);
    }

    /* The length bounds the value: "upgrade" cut to 6 bytes is "upgrad". */
    char *v = (char *)tap_dup("keep-alive, upgrade", 19);
    tap_ok(!http_has_token(v, 18, "upgrade"), "http_has_token respects the length it is given");
    tap_ok(http_has_token(v, 10, "keep-alive"), "http_has_token finds a token cut at the length");
    free(v);
}

static void test_equals_status(void)
{
    char *s = (char *)tap_dup("WebSocket", 9);
    tap_ok(http_equals(s, 9, "websocket"), "http_equals ignores case");
    tap_ok(!http_equals(s, 8, "websocket"), "http_equals compares lengths");
    tap_ok(!http_equals(s, 9, "websockets"), "http_equals: a longer literal differs");
    free(s);
    tap_ok(strcmp(http_status_text(101), "Switching Protocols") == 0 &&
               strcmp(http_status_text(426), "Upgrade Required") == 0 &&
               strcmp(http_status_text(405), "Method Not Allowed") == 0 &&
               http_status_text(999) != NULL,
           "http_status_text names 101, 405 and 426 and never returns NULL");
}

int main(void)
{
    test_vectors();
    test_too_large();
    test_header_limit();
    test_find_count();
    test_has_token();
    test_equals_status();
    return tap_done();
}
