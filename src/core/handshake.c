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

static void choose_deflate(const struct hs_server *s, const struct http_head *h,
                           struct hs_server_result *r)
{
    if (!s->allow_deflate)
        return;
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
    choose_deflate(s, h, r);
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

/* ---- HTTP/2 (RFC 8441) ---- */

int hs_fields_add(struct hs_fields *f, const char *name, size_t name_len, const char *value,
                  size_t value_len)
{
    if (f->num >= HS_FIELDS_MAX || name_len > sizeof(f->store) - f->used ||
        value_len > sizeof(f->store) - f->used - name_len)
        return -1;
    char *n = f->store + f->used;
    for (size_t i = 0; i < name_len; i++)
        n[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] - 'A' + 'a' : name[i]);
    char *v = n + name_len;
    memcpy(v, value, value_len);
    f->used += name_len + value_len;
    f->fields[f->num++] = (struct http_header){n, name_len, v, value_len};
    return 0;
}

static int add_fieldf(struct hs_fields *f, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int add_fieldf(struct hs_fields *f, const char *name, const char *fmt, ...)
{
    char value[8192];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(value, sizeof(value), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(value))
        return -1;
    return hs_fields_add(f, name, strlen(name), value, (size_t)n);
}

/* RFC 9113 8.2.2: fields that are about one HTTP/1.1 connection are
 * malformed in HTTP/2, and RFC 8441 4 names Connection and Upgrade. */
static bool is_connection_specific(const char *name, size_t len)
{
    static const char *const names[] = {
        "Connection", "Upgrade",           "Keep-Alive",        "Proxy-Connection",
        "Transfer-Encoding", "TE",         "Sec-WebSocket-Key", "Host",
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (http_equals(name, len, names[i]))
            return true;
    return false;
}

/* Splits an extra "Name: value" header; the value without blanks around it. */
static int split_header(const char *line, const char **name, size_t *name_len, const char **value,
                        size_t *value_len)
{
    const char *colon = strchr(line, ':');
    if (!colon || colon == line)
        return -1;
    *name = line;
    *name_len = (size_t)(colon - line);
    const char *v = colon + 1, *end = v + strlen(v);
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    *value = v;
    *value_len = (size_t)(end - v);
    return 0;
}

/* The value of the user's -H NAME, if any. */
static bool find_extra(const struct hs_client *c, const char *want, const char **value,
                       size_t *value_len)
{
    for (size_t i = 0; i < c->num_headers; i++) {
        const char *name, *v;
        size_t name_len, v_len;
        /* value is left alone unless the header is found */
        if (split_header(c->headers[i], &name, &name_len, &v, &v_len) == 0 &&
            http_equals(name, name_len, want)) {
            *value = v;
            *value_len = v_len;
            return true;
        }
    }
    return false;
}

int hs_build_request_h2(const struct hs_client *c, struct hs_fields *out)
{
    char host[300];
    const char *authority = host;
    size_t authority_len;
    out->num = out->used = 0;
    /* -H Host: names the authority, as it names the Host over HTTP/1.1 */
    if (!find_extra(c, "Host", &authority, &authority_len)) {
        url_host_header(c->url, host, sizeof(host));
        authority_len = strlen(host);
    }
    int r = add_fieldf(out, ":method", "CONNECT");
    r |= add_fieldf(out, ":protocol", "websocket");
    r |= add_fieldf(out, ":scheme", "%s", c->url->is_tls ? "https" : "http");
    r |= add_fieldf(out, ":path", "%s", c->url->path);
    r |= hs_fields_add(out, ":authority", 10, authority, authority_len);
    if (!is_overridden(c, "User-Agent"))
        r |= add_fieldf(out, "user-agent", "wsc/" PACKAGE_VERSION);
    r |= add_fieldf(out, "sec-websocket-version", "%u", c->version);
    if (c->origin)
        r |= add_fieldf(out, c->version == 8 ? "sec-websocket-origin" : "origin", "%s",
                        c->origin);
    if (c->num_subprotocols) {
        char list[4096] = "";
        size_t used = 0;
        for (size_t i = 0; i < c->num_subprotocols; i++) {
            int n = snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "",
                             c->subprotocols[i]);
            if (n < 0 || (size_t)n >= sizeof(list) - used)
                return -1;
            used += (size_t)n;
        }
        r |= add_fieldf(out, "sec-websocket-protocol", "%s", list);
    }
    if (c->offer_deflate)
        r |= add_fieldf(out, "sec-websocket-extensions", WS_DEFLATE_OFFER);
    if (c->auth && !is_overridden(c, "Authorization")) {
        char b64[4 * ((HS_MAX_AUTH + 2) / 3) + 1];
        size_t n = strlen(c->auth);
        if (n > HS_MAX_AUTH)
            return -1;
        hs_base64((const uint8_t *)c->auth, n, b64);
        r |= add_fieldf(out, "authorization", "Basic %s", b64);
    }
    for (size_t i = 0; i < c->num_headers; i++) {
        const char *name, *value;
        size_t name_len, value_len;
        if (split_header(c->headers[i], &name, &name_len, &value, &value_len) != 0)
            return -1;
        if (!is_connection_specific(name, name_len))
            r |= hs_fields_add(out, name, name_len, value, value_len);
    }
    return r ? -1 : 0;
}

int hs_check_response_h2(const struct hs_client *c, const struct http_head *h,
                         struct hs_result *r)
{
    memset(r, 0, sizeof(*r));
    r->status = h->status;
    if (h->status != 200) {
        struct http_head named = *h;
        /* HTTP/2 has no reason phrase: the status's usual text stands in */
        if (!named.reason_len) {
            named.reason = http_status_text(h->status);
            named.reason_len = strlen(named.reason);
        }
        return check_status(c, &named, r);
    }
    if (check_subprotocol(c, h, r) != 0 || check_extensions(c, h, r) != 0)
        return -1;
    r->outcome = HS_ACCEPTED;
    return 0;
}

/* The value of the only field of this name; NULL when absent or repeated. */
static const struct http_header *only_field(const struct http_head *h, const char *name)
{
    return http_count_header(h, name) == 1 ? http_find_header(h, name) : NULL;
}

int hs_check_request_h2(const struct hs_server *s, const struct http_head *h,
                        struct hs_server_result *r)
{
    memset(r, 0, sizeof(*r));
    const struct http_header *method = only_field(h, ":method");
    if (!method || method->value_len != 7 || memcmp(method->value, "CONNECT", 7) != 0)
        return reject(r, 405, "RFC 8441 4: method %.*s is not CONNECT",
                      method ? (int)method->value_len : 0, method ? method->value : "");
    const struct http_header *hd = only_field(h, ":protocol");
    if (!hd || !http_equals(hd->value, hd->value_len, "websocket"))
        return reject(r, 400, "RFC 8441 4: :protocol is not \"websocket\"");
    hd = only_field(h, ":scheme");
    if (!hd || !(http_equals(hd->value, hd->value_len, "http") ||
                 http_equals(hd->value, hd->value_len, "https")))
        return reject(r, 400, "RFC 8441 4: :scheme is not http or https");
    hd = only_field(h, ":path");
    if (!hd || !hd->value_len)
        return reject(r, 400, "RFC 8441 5: the request has no :path");
    if (!only_field(h, ":authority"))
        return reject(r, 400, "RFC 8441 5: the request needs exactly one :authority");
    hd = http_find_header(h, "Sec-WebSocket-Version");
    if (!hd || !http_equals(hd->value, hd->value_len, "13"))
        return reject(r, 426, "unsupported Sec-WebSocket-Version \"%.*s\"",
                      hd ? (int)hd->value_len : 0, hd ? hd->value : "");
    r->version = 13;
    choose_subprotocol(s, h, r);
    choose_deflate(s, h, r);
    r->status = 200;
    return 0;
}

int hs_build_response_h2(const struct hs_server_result *r, struct hs_fields *out)
{
    out->num = out->used = 0;
    int rc = add_fieldf(out, ":status", "%d", r->status);
    if (r->status != 200) {
        if (r->status == 426)
            rc |= add_fieldf(out, "sec-websocket-version", "13");
        rc |= add_fieldf(out, "content-type", "text/plain");
        return rc ? -1 : 0;
    }
    if (r->subprotocol[0])
        rc |= add_fieldf(out, "sec-websocket-protocol", "%s", r->subprotocol);
    if (r->has_deflate)
        rc |= add_fieldf(out, "sec-websocket-extensions", "%s", r->extensions);
    return rc ? -1 : 0;
}

int hs_fields_format(const struct http_header *fields, size_t num, struct buf *out)
{
    int rc = 0;
    for (size_t i = 0; i < num; i++)
        rc |= appendf(out, "%.*s: %.*s\r\n", (int)fields[i].name_len, fields[i].name,
                      (int)fields[i].value_len, fields[i].value);
    return rc ? -1 : 0;
}

int hs_fields_to_head(const struct hs_fields *f, struct http_head *h)
{
    memset(h, 0, sizeof(*h));
    if (f->num > HTTP_MAX_HEADERS)
        return -1;
    for (size_t i = 0; i < f->num; i++) {
        const struct http_header *fd = &f->fields[i];
        h->headers[h->num_headers++] = *fd;
        if (http_equals(fd->name, fd->name_len, ":status")) {
            int status = 0;
            for (size_t k = 0; k < fd->value_len && k < 3; k++) {
                if (fd->value[k] < '0' || fd->value[k] > '9')
                    return -1;
                status = status * 10 + (fd->value[k] - '0');
            }
            if (fd->value_len != 3)
                return -1;
            h->status = status;
        } else if (http_equals(fd->name, fd->name_len, ":method")) {
            h->method = fd->value;
            h->method_len = fd->value_len;
        } else if (http_equals(fd->name, fd->name_len, ":path")) {
            h->target = fd->value;
            h->target_len = fd->value_len;
        }
    }
    h->minor_version = 1; /* no HTTP/1.0 rule applies over HTTP/2 */
    return 0;
}
