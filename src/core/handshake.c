/* SPDX-License-Identifier: MIT */
#include "handshake.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "utf8.h"

static const char GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

void hs_base64(const uint8_t *p, size_t n, char *out)
{
    EVP_EncodeBlock((unsigned char *)out, p, (int)n);
}

void hs_client_set_key(struct hs_client *c, const uint8_t nonce[16])
{
    hs_base64(nonce, 16, c->key);
}

void hs_accept_for_key(const char *key, size_t len, char out[HS_ACCEPT_LEN + 1])
{
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) || !EVP_DigestUpdate(ctx, key, len) ||
        !EVP_DigestUpdate(ctx, GUID, sizeof(GUID) - 1) || !EVP_DigestFinal_ex(ctx, md, &mdlen)) {
        out[0] = 0; /* matches no answer, so the handshake fails safe */
    } else {
        hs_base64(md, mdlen, out);
    }
    EVP_MD_CTX_free(ctx);
}

static int appendf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int appendf(struct buf *b, const char *fmt, ...)
{
    char line[8192];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(line))
        return -1;
    return buf_append(b, line, (size_t)n);
}

/* True when the user's extra headers replace the default one of this name. */
static bool is_overridden(const struct hs_client *c, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < c->num_headers; i++)
        if (!strncasecmp(c->headers[i], name, n) && c->headers[i][n] == ':')
            return true;
    return false;
}

int hs_build_request(const struct hs_client *c, struct buf *out)
{
    char host[300];
    url_host_header(c->url, host, sizeof(host));
    int r = appendf(out, "GET %s HTTP/1.1\r\n", c->url->path);
    if (!is_overridden(c, "Host"))
        r |= appendf(out, "Host: %s\r\n", host);
    if (!is_overridden(c, "User-Agent"))
        r |= appendf(out, "User-Agent: wsc/" PACKAGE_VERSION "\r\n");
    r |= appendf(out, "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: %u\r\n",
                 c->key, c->version);
    if (c->origin)
        r |= appendf(out, "%s: %s\r\n", c->version == 8 ? "Sec-WebSocket-Origin" : "Origin",
                     c->origin);
    if (c->num_subprotocols) {
        r |= appendf(out, "Sec-WebSocket-Protocol: ");
        for (size_t i = 0; i < c->num_subprotocols; i++)
            r |= appendf(out, "%s%s", i ? ", " : "", c->subprotocols[i]);
        r |= appendf(out, "\r\n");
    }
    if (c->offer_deflate)
        r |= appendf(out, "Sec-WebSocket-Extensions: " WS_DEFLATE_OFFER "\r\n");
    if (c->auth && !is_overridden(c, "Authorization")) {
        char b64[4 * ((HS_MAX_AUTH + 2) / 3) + 1];
        size_t n = strlen(c->auth);
        if (n > HS_MAX_AUTH)
            return -1;
        hs_base64((const uint8_t *)c->auth, n, b64);
        r |= appendf(out, "Authorization: Basic %s\r\n", b64);
    }
    for (size_t i = 0; i < c->num_headers; i++)
        r |= appendf(out, "%s\r\n", c->headers[i]);
    r |= appendf(out, "\r\n");
    return r ? -1 : 0;
}

static int refuse(struct hs_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int refuse(struct hs_result *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->error, sizeof(r->error), fmt, ap);
    va_end(ap);
    utf8_sanitize(r->error); /* it quotes the server and will be printed */
    r->outcome = HS_REFUSED;
    return -1;
}

static void copy_value(char *dst, size_t dstlen, const struct http_header *h)
{
    size_t n = h->value_len < dstlen - 1 ? h->value_len : dstlen - 1;
    memcpy(dst, h->value, n);
    dst[n] = 0;
}

/* Picks the best version we speak from a 426's Sec-WebSocket-Version list. */
static unsigned pick_version(const struct http_head *h, unsigned current)
{
    for (size_t i = 0; i < h->num_headers; i++) {
        const struct http_header *hd = &h->headers[i];
        if (!http_equals(hd->name, hd->name_len, "Sec-WebSocket-Version"))
            continue;
        if (current != 13 && http_has_token(hd->value, hd->value_len, "13"))
            return 13;
        if (current != 8 && http_has_token(hd->value, hd->value_len, "8"))
            return 8;
    }
    return 0;
}

static int check_status(const struct hs_client *c, const struct http_head *h, struct hs_result *r)
{
    const struct http_header *hd;
    char value[512] = "";
    if (h->status >= 300 && h->status < 400 && (hd = http_find_header(h, "Location"))) {
        copy_value(r->location, sizeof(r->location), hd);
        r->outcome = HS_REDIRECT;
        snprintf(r->error, sizeof(r->error), "server redirects (%d) to %.400s", h->status,
                 r->location);
        utf8_sanitize(r->error);
        return -1;
    }
    if (h->status == 426) {
        const struct http_header *v = http_find_header(h, "Sec-WebSocket-Version");
        r->retry_version = pick_version(h, c->version);
        if (r->retry_version) {
            r->outcome = HS_RETRY_VERSION;
            snprintf(r->error, sizeof(r->error), "server wants version %u", r->retry_version);
            return -1;
        }
        if (v)
            copy_value(value, sizeof(value), v);
        return refuse(r, "server answered 426 Upgrade Required; it speaks WebSocket version %s, "
                         "wsc speaks 13 and 8", v ? value : "(none listed)");
    }
    if ((hd = http_find_header(h, "WWW-Authenticate")))
        copy_value(value, sizeof(value), hd);
    return refuse(r, "server answered %d %.*s%s%s", h->status, (int)h->reason_len, h->reason,
                  *value ? "; WWW-Authenticate: " : "", value);
}

static int check_subprotocol(const struct hs_client *c, const struct http_head *h,
                             struct hs_result *r)
{
    const struct http_header *hd = http_find_header(h, "Sec-WebSocket-Protocol");
    if (!hd)
        return 0; /* as browsers do: no choice means no subprotocol */
    copy_value(r->subprotocol, sizeof(r->subprotocol), hd);
    if (http_count_header(h, "Sec-WebSocket-Protocol") > 1)
        return refuse(r, "RFC 6455 4.1: more than one Sec-WebSocket-Protocol header");
    for (size_t i = 0; i < c->num_subprotocols; i++)
        if (!strcmp(c->subprotocols[i], r->subprotocol))
            return 0;
    return refuse(r, "RFC 6455 4.1: server chose subprotocol \"%s\", which was not offered",
                  r->subprotocol);
}

static int check_extensions(const struct hs_client *c, const struct http_head *h,
                            struct hs_result *r)
{
    char value[1024] = "";
    size_t count = 0;
    /* Several headers are one comma-separated list (RFC 9110 5.3). */
    for (size_t i = 0; i < h->num_headers; i++) {
        const struct http_header *hd = &h->headers[i];
        if (!http_equals(hd->name, hd->name_len, "Sec-WebSocket-Extensions"))
            continue;
        size_t used = strlen(value);
        if (used + hd->value_len + 3 > sizeof(value))
            return refuse(r, "Sec-WebSocket-Extensions too long");
        snprintf(value + used, sizeof(value) - used, "%s%.*s", count++ ? ", " : "",
                 (int)hd->value_len, hd->value);
    }
    if (!count)
        return 0;
    char err[256];
    if (ws_deflate_parse_response(value, c->offer_deflate, &r->deflate, &r->has_deflate, err,
                                  sizeof(err)) != 0)
        return refuse(r, "%s", err);
    return 0;
}

int hs_check_response(const struct hs_client *c, const struct http_head *h, struct hs_result *r)
{
    memset(r, 0, sizeof(*r));
    r->status = h->status;
    if (h->status != 101)
        return check_status(c, h, r);
    if (h->minor_version < 1)
        return refuse(r, "RFC 6455 4.1: the 101 answer is not HTTP/1.1");
    const struct http_header *hd = http_find_header(h, "Upgrade");
    if (!hd || !http_has_token(hd->value, hd->value_len, "websocket"))
        return refuse(r, "RFC 6455 4.1: the 101 answer lacks \"Upgrade: websocket\"");
    hd = http_find_header(h, "Connection");
    if (!hd || !http_has_token(hd->value, hd->value_len, "upgrade"))
        return refuse(r, "RFC 6455 4.1: the 101 answer lacks \"Connection: Upgrade\"");
    hd = http_find_header(h, "Sec-WebSocket-Accept");
    if (!hd)
        return refuse(r, "RFC 6455 4.1: the 101 answer lacks Sec-WebSocket-Accept");
    char expected[HS_ACCEPT_LEN + 1];
    hs_accept_for_key(c->key, strlen(c->key), expected);
    if (http_count_header(h, "Sec-WebSocket-Accept") > 1 ||
        hd->value_len != HS_ACCEPT_LEN || memcmp(hd->value, expected, HS_ACCEPT_LEN) != 0)
        return refuse(r, "RFC 6455 4.1: wrong Sec-WebSocket-Accept \"%.*s\" (expected \"%s\")",
                      (int)(hd->value_len > 64 ? 64 : hd->value_len), hd->value, expected);
    if (check_subprotocol(c, h, r) != 0 || check_extensions(c, h, r) != 0)
        return -1;
    r->outcome = HS_ACCEPTED;
    return 0;
}

/* ---- server role ---- */

static int reject(struct hs_server_result *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int reject(struct hs_server_result *r, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->error, sizeof(r->error), fmt, ap);
    va_end(ap);
    utf8_sanitize(r->error);
    r->status = status;
    return -1;
}

/* A key is the base64 of exactly 16 bytes: 22 characters and "==". */
static bool is_valid_key(const char *v, size_t n)
{
    if (n != HS_KEY_LEN || v[22] != '=' || v[23] != '=')
        return false;
    for (size_t i = 0; i < 22; i++) {
        char ch = v[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '+' || ch == '/'))
            return false;
    }
    /* The last character before the padding carries 2 bits: its low 4 are 0. */
    return strchr("AQgw", v[21]) != NULL;
}

static void choose_subprotocol(const struct hs_server *s, const struct http_head *h,
                               struct hs_server_result *r)
{
    for (size_t i = 0; i < s->num_subprotocols; i++) {
        for (size_t j = 0; j < h->num_headers; j++) {
            const struct http_header *hd = &h->headers[j];
            if (http_equals(hd->name, hd->name_len, "Sec-WebSocket-Protocol") &&
                http_has_token(hd->value, hd->value_len, s->subprotocols[i])) {
                snprintf(r->subprotocol, sizeof(r->subprotocol), "%s", s->subprotocols[i]);
                return;
            }
        }
    }
}

int hs_check_request(const struct hs_server *s, const struct http_head *h,
                     struct hs_server_result *r)
{
    memset(r, 0, sizeof(*r));
    /* RFC 9110 9.1: methods are case-sensitive */
    if (h->method_len != 3 || memcmp(h->method, "GET", 3) != 0)
        return reject(r, 405, "method %.*s is not GET", (int)h->method_len, h->method);
    if (h->minor_version < 1)
        return reject(r, 400, "RFC 6455 4.1: the request is not HTTP/1.1");
    if (http_count_header(h, "Host") != 1)
        return reject(r, 400, "RFC 6455 4.1: the request needs exactly one Host header");
    const struct http_header *hd = http_find_header(h, "Upgrade");
    if (!hd || !http_has_token(hd->value, hd->value_len, "websocket"))
        return reject(r, 426, "the request lacks \"Upgrade: websocket\"");
    hd = http_find_header(h, "Connection");
    if (!hd || !http_has_token(hd->value, hd->value_len, "upgrade"))
        return reject(r, 400, "RFC 6455 4.1: the request lacks \"Connection: Upgrade\"");
    hd = http_find_header(h, "Sec-WebSocket-Version");
    if (hd && http_equals(hd->value, hd->value_len, "13"))
        r->version = 13;
    else if (hd && http_equals(hd->value, hd->value_len, "8"))
        r->version = 8;
    else
        return reject(r, 426, "unsupported Sec-WebSocket-Version \"%.*s\"",
                      hd ? (int)hd->value_len : 0, hd ? hd->value : "");
    hd = http_find_header(h, "Sec-WebSocket-Key");
    if (!hd || http_count_header(h, "Sec-WebSocket-Key") != 1 ||
        !is_valid_key(hd->value, hd->value_len))
        return reject(r, 400, "RFC 6455 4.1: Sec-WebSocket-Key is not the base64 of 16 bytes");
    hs_accept_for_key(hd->value, hd->value_len, r->accept);
    choose_subprotocol(s, h, r);
    if (s->allow_deflate) {
        for (size_t i = 0; i < h->num_headers && !r->has_deflate; i++) {
            const struct http_header *e = &h->headers[i];
            char value[1024];
            if (!http_equals(e->name, e->name_len, "Sec-WebSocket-Extensions"))
                continue;
            copy_value(value, sizeof(value), e);
            r->has_deflate = ws_deflate_accept_offer(value, &r->deflate, r->extensions,
                                                     sizeof(r->extensions)) == 1;
        }
    }
    r->status = 101;
    return 0;
}

int hs_build_response(const struct hs_server_result *r, struct buf *out)
{
    int rc;
    if (r->status != 101) {
        const char *text = http_status_text(r->status);
        rc = appendf(out, "HTTP/1.1 %d %s\r\n", r->status, *text ? text : "Error");
        if (r->status == 426)
            rc |= appendf(out, "Sec-WebSocket-Version: 13, 8\r\n");
        if (r->status == 401)
            rc |= appendf(out, "WWW-Authenticate: Basic realm=\"wsc\", charset=\"UTF-8\"\r\n");
        rc |= appendf(out, "Content-Type: text/plain\r\nContent-Length: %zu\r\n"
                           "Connection: close\r\n\r\n%s\n",
                      strlen(r->error) + 1, r->error);
        return rc ? -1 : 0;
    }
    rc = appendf(out, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n", r->accept);
    if (r->subprotocol[0])
        rc |= appendf(out, "Sec-WebSocket-Protocol: %s\r\n", r->subprotocol);
    if (r->has_deflate)
        rc |= appendf(out, "Sec-WebSocket-Extensions: %s\r\n", r->extensions);
    rc |= appendf(out, "\r\n");
    return rc ? -1 : 0;
}

bool hs_has_basic_auth(const struct http_head *h, const char *credentials)
{
    const struct http_header *a = http_find_header(h, "Authorization");
    if (!a || http_count_header(h, "Authorization") != 1 || a->value_len < 6 ||
        strncasecmp(a->value, "Basic ", 6))
        return false;
    const char *given = a->value + 6;
    size_t given_len = a->value_len - 6;
    while (given_len && *given == ' ') {
        given++;
        given_len--;
    }
    size_t n = strlen(credentials);
    if (n > HS_MAX_AUTH)
        return false;
    char want[(HS_MAX_AUTH + 2) / 3 * 4 + 1];
    hs_base64((const uint8_t *)credentials, n, want);
    /* The length is no secret; the bytes are compared in constant time. */
    return given_len == strlen(want) && CRYPTO_memcmp(given, want, given_len) == 0;
}

/* Splits "host[:port]" or "[v6]:port" (len bytes) into host and port (0: none). */
static bool split_authority(const char *s, size_t len, const char **host, size_t *hlen,
                            unsigned *port)
{
    *port = 0;
    const char *end = s + len, *colon = NULL;
    if (len && s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (!close)
            return false;
        *host = s + 1;
        *hlen = (size_t)(close - s - 1);
        colon = close + 1 < end && close[1] == ':' ? close + 1 : NULL;
        if (!colon && close + 1 != end)
            return false;
    } else {
        colon = memchr(s, ':', len);
        *host = s;
        *hlen = colon ? (size_t)(colon - s) : len;
    }
    if (colon) {
        unsigned v = 0;
        const char *p = colon + 1;
        if (p == end || end - p > 5)
            return false;
        for (; p < end; p++) {
            if (*p < '0' || *p > '9')
                return false;
            v = v * 10 + (unsigned)(*p - '0');
        }
        *port = v;
    }
    return *hlen > 0;
}

bool hs_origin_allowed(const struct http_head *h, const char *const *allowed, size_t num_allowed,
                       bool is_tls)
{
    const struct http_header *o = http_find_header(h, "Origin");
    if (!o)
        return true; /* not a browser: the Origin check guards browsers' users */
    for (size_t i = 0; i < num_allowed; i++)
        if (!strcmp(allowed[i], "*") || http_equals(o->value, o->value_len, allowed[i]))
            return true;
    const struct http_header *host = http_find_header(h, "Host");
    const char *sep = memmem(o->value, o->value_len, "://", 3);
    if (!host || !sep)
        return false; /* "null" and other opaque origins are cross-site */
    size_t scheme_len = (size_t)(sep - o->value);
    unsigned origin_default = http_equals(o->value, scheme_len, "https") ? 443
                              : http_equals(o->value, scheme_len, "http") ? 80 : 0;
    const char *oh, *hh;
    size_t ohl, hhl;
    unsigned op, hp;
    const char *auth = sep + 3;
    size_t auth_len = o->value_len - scheme_len - 3;
    if (!origin_default || !split_authority(auth, auth_len, &oh, &ohl, &op) ||
        !split_authority(host->value, host->value_len, &hh, &hhl, &hp))
        return false;
    if (!op)
        op = origin_default;
    if (!hp)
        hp = is_tls ? 443 : 80;
    return op == hp && ohl == hhl && !strncasecmp(oh, hh, ohl);
}
