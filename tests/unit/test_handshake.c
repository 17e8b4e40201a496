/* SPDX-License-Identifier: MIT */
/* Unit tests for handshake.c, both roles of RFC 6455 section 4. Client:
 * the request's contents (read back through the HTTP parser) and, for the
 * server's answer, a table with one server that gets each rule of 4.1 wrong.
 * Server: a table of requests checked against 4.2.1 and the answers built
 * for them. Last, both roles talk to each other. Heads are parsed from heap
 * buffers of exactly their size, so that ASan catches an over-read. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "handshake.h"
#include "http.h"
#include "tap.h"
#include "url.h"

/* RFC 6455 1.3 / 4.1: the sample nonce and its key and accept values. */
#define SAMPLE_NONCE "the sample nonce"
#define SAMPLE_KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define SAMPLE_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

/* A parsed head together with the exact-size buffer it points into. */
struct parsed {
    char *text; /* exactly len bytes, no NUL */
    size_t len;
    struct http_head head;
    int rc;
};

static void parse_head(struct parsed *p, const char *text, bool is_request)
{
    size_t n = strlen(text);
    p->text = (char *)tap_dup(text, n);
    p->len = n;
    p->rc = is_request ? http_parse_request(p->text, n, HTTP_MAX_HEAD, &p->head)
                       : http_parse_response(p->text, n, HTTP_MAX_HEAD, &p->head);
}

/* The value of the only header with this name, "" when absent, "(many)" when
 * repeated. */
static const char *only_value(const struct http_head *h, const char *name, char *out, size_t len)
{
    size_t count = http_count_header(h, name);
    if (count == 0)
        snprintf(out, len, "%s", "(none)");
    else if (count > 1)
        snprintf(out, len, "%s", "(many)");
    else {
        const struct http_header *f = http_find_header(h, name);
        snprintf(out, len, "%.*s", (int)f->value_len, f->value);
    }
    return out;
}

/* ---- primitives ---- */

static void test_primitives(void)
{
    char accept[HS_ACCEPT_LEN + 1];
    hs_accept_for_key(SAMPLE_KEY, strlen(SAMPLE_KEY), accept);
    tap_ok(strcmp(accept, SAMPLE_ACCEPT) == 0,
           "RFC 6455 1.3: key \"" SAMPLE_KEY "\" gives accept \"" SAMPLE_ACCEPT "\" (got %s)",
           accept);

    struct hs_client c = {0};
    hs_client_set_key(&c, (const uint8_t *)SAMPLE_NONCE);
    tap_ok(strcmp(c.key, SAMPLE_KEY) == 0,
           "RFC 6455 4.1: the key is the base64 of the 16-byte nonce (got %s)", c.key);
    tap_ok(strlen(c.key) == HS_KEY_LEN, "RFC 6455 4.1: the key is %d characters", HS_KEY_LEN);

    /* RFC 4648 10 test vectors */
    static const struct {
        const char *in, *out;
    } b64[] = {
        {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},         {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
    };
    for (size_t i = 0; i < sizeof(b64) / sizeof(b64[0]); i++) {
        size_t n = strlen(b64[i].in);
        char out[16];
        memset(out, 'X', sizeof(out));
        uint8_t *in = tap_dup(b64[i].in, n);
        hs_base64(in, n, out);
        free(in);
        tap_ok(strcmp(out, b64[i].out) == 0, "RFC 4648 10: base64(\"%s\") = \"%s\"", b64[i].in,
               b64[i].out);
    }
}

/* ---- the client's request ---- */

struct client_setup {
    struct url url;
    struct hs_client c;
};

static void client_init(struct client_setup *s, const char *url)
{
    char err[256];
    memset(s, 0, sizeof(*s));
    if (url_parse(url, &s->url, err, sizeof(err)) != 0) {
        tap_diag("cannot parse %s: %s", url, err);
        abort();
    }
    s->c.url = &s->url;
    s->c.version = 13;
    hs_client_set_key(&s->c, (const uint8_t *)SAMPLE_NONCE);
}

/* Builds the request and parses it back. */
static int build_request(const struct hs_client *c, struct parsed *p)
{
    struct buf b;
    buf_init(&b, 0);
    int rc = hs_build_request(c, &b);
    char *text = malloc(buf_size(&b) + 1);
    if (!text)
        abort();
    memcpy(text, buf_head(&b), buf_size(&b));
    text[buf_size(&b)] = 0;
    parse_head(p, text, true);
    if (p->rc != (int)buf_size(&b))
        tap_diag("request does not parse to its end (%d of %zu): %s", p->rc, buf_size(&b), text);
    free(text);
    buf_free(&b);
    return rc;
}

static bool has_value(const struct parsed *p, const char *name, const char *value)
{
    char v[1024];
    only_value(&p->head, name, v, sizeof(v));
    if (strcmp(v, value) == 0)
        return true;
    tap_diag("%s: got \"%s\", want \"%s\"", name, v, value);
    return false;
}

static void test_request(void)
{
    struct client_setup s;
    struct parsed p;

    client_init(&s, "ws://server.example.com/chat");
    int rc = build_request(&s.c, &p);
    tap_ok(rc == 0 && p.rc > 0, "RFC 6455 4.1: the request is a complete HTTP/1.1 head");
    tap_ok(http_equals(p.head.method, p.head.method_len, "GET") && p.head.minor_version == 1 &&
               p.head.target_len == 5 && memcmp(p.head.target, "/chat", 5) == 0,
           "RFC 6455 4.1: GET /chat HTTP/1.1");
    tap_ok(has_value(&p, "Host", "server.example.com"),
           "RFC 6455 4.1: one Host header with the host");
    tap_ok(has_value(&p, "Upgrade", "websocket"), "RFC 6455 4.1: Upgrade: websocket");
    tap_ok(has_value(&p, "Connection", "Upgrade"), "RFC 6455 4.1: Connection: Upgrade");
    tap_ok(has_value(&p, "Sec-WebSocket-Key", SAMPLE_KEY),
           "RFC 6455 4.1: Sec-WebSocket-Key is the key");
    tap_ok(has_value(&p, "Sec-WebSocket-Version", "13"),
           "RFC 6455 4.1: Sec-WebSocket-Version: 13");
    tap_ok(has_value(&p, "User-Agent", "wsc/" PACKAGE_VERSION), "User-Agent: wsc/version");
    tap_ok(has_value(&p, "Origin", "(none)") && has_value(&p, "Sec-WebSocket-Origin", "(none)"),
           "no Origin unless asked for");
    tap_ok(has_value(&p, "Sec-WebSocket-Protocol", "(none)"),
           "no Sec-WebSocket-Protocol when no subprotocol is offered");
    tap_ok(has_value(&p, "Sec-WebSocket-Extensions", "(none)"),
           "no Sec-WebSocket-Extensions unless offer_deflate");
    tap_ok(has_value(&p, "Authorization", "(none)"), "no Authorization unless asked for");
    free(p.text);

    /* Origin: version 13 says Origin, version 8 (hybi-08) Sec-WebSocket-Origin. */
    s.c.origin = "http://example.com";
    build_request(&s.c, &p);
    tap_ok(has_value(&p, "Origin", "http://example.com") &&
               has_value(&p, "Sec-WebSocket-Origin", "(none)"),
           "RFC 6455 4.1: version 13 sends Origin");
    free(p.text);
    s.c.version = 8;
    build_request(&s.c, &p);
    tap_ok(has_value(&p, "Sec-WebSocket-Origin", "http://example.com") &&
               has_value(&p, "Origin", "(none)"),
           "hybi-08 1.3: version 8 sends Sec-WebSocket-Origin");
    tap_ok(has_value(&p, "Sec-WebSocket-Version", "8"), "version 8: Sec-WebSocket-Version: 8");
    free(p.text);

    /* subprotocols, in order */
    client_init(&s, "ws://server.example.com/chat");
    static const char *const protos[] = {"chat", "superchat"};
    s.c.subprotocols = protos;
    s.c.num_subprotocols = 2;
    build_request(&s.c, &p);
    tap_ok(has_value(&p, "Sec-WebSocket-Protocol", "chat, superchat"),
           "RFC 6455 4.1: Sec-WebSocket-Protocol lists the offered subprotocols in order");
    free(p.text);
    s.c.num_subprotocols = 1;
    build_request(&s.c, &p);
    tap_ok(has_value(&p, "Sec-WebSocket-Protocol", "chat"), "one subprotocol");
    free(p.text);

    /* the deflate offer */
    client_init(&s, "ws://server.example.com/chat");
    s.c.offer_deflate = true;
    build_request(&s.c, &p);
    tap_ok(has_value(&p, "Sec-WebSocket-Extensions", WS_DEFLATE_OFFER),
           "RFC 7692 5: offer_deflate sends the permessage-deflate offer");
    free(p.text);

    /* Basic auth: RFC 7617 2 example */
    client_init(&s, "ws://server.example.com/chat");
    s.c.auth = "Aladdin:open sesame";
    build_request(&s.c, &p);
    tap_ok(has_value(&p, "Authorization", "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="),
           "RFC 7617 2: Authorization: Basic base64(user:pass)");
    free(p.text);
    s.c.auth = "";
    build_request(&s.c, &p);
    tap_ok(has_value(&p, "Authorization", "Basic"), "empty credentials give an empty token");
    free(p.text);
    char *long_auth = malloc(HS_MAX_AUTH + 2);
    if (!long_auth)
        abort();
    memset(long_auth, 'a', HS_MAX_AUTH + 1);
    long_auth[HS_MAX_AUTH] = 0;
    s.c.auth = long_auth;
    struct buf b;
    buf_init(&b, 0);
    tap_ok(hs_build_request(&s.c, &b) == 0, "credentials of HS_MAX_AUTH (%d) bytes are sent",
           HS_MAX_AUTH);
    buf_clear(&b);
    long_auth[HS_MAX_AUTH] = 'a';
    long_auth[HS_MAX_AUTH + 1] = 0;
    tap_ok(hs_build_request(&s.c, &b) == -1, "credentials of one byte more are refused");
    buf_free(&b);
    free(long_auth);

    /* -H headers: added, and overriding Host, User-Agent and Authorization */
    client_init(&s, "ws://server.example.com/chat");
    static const char *const extra[] = {"Host: other.example", "User-Agent: test/1",
                                        "X-Trace: 42", "Authorization: Bearer t0k"};
    s.c.headers = extra;
    s.c.num_headers = 4;
    s.c.auth = "user:pass";
    build_request(&s.c, &p);
    tap_ok(has_value(&p, "Host", "other.example"), "-H Host: replaces the Host header");
    tap_ok(has_value(&p, "User-Agent", "test/1"), "-H User-Agent: replaces the User-Agent");
    tap_ok(has_value(&p, "X-Trace", "42"), "-H adds other headers");
    tap_ok(has_value(&p, "Authorization", "Bearer t0k"), "-H Authorization: replaces --auth");
    free(p.text);
    static const char *const lower[] = {"host: lower.example"};
    s.c.headers = lower;
    s.c.num_headers = 1;
    build_request(&s.c, &p);
    tap_ok(has_value(&p, "Host", "lower.example"),
           "-H host: replaces the Host header whatever its case");
    free(p.text);
    static const char *const hostname[] = {"Hostname: x"};
    s.c.headers = hostname;
    build_request(&s.c, &p);
    tap_ok(has_value(&p, "Host", "server.example.com") && has_value(&p, "Hostname", "x"),
           "-H Hostname: does not replace Host");
    free(p.text);

    /* Host for ports and IPv6; path with query */
    static const struct {
        const char *url, *host, *target;
    } hosts[] = {
        {"ws://h:9000/x", "h:9000", "/x"},
        {"wss://h:443/x", "h", "/x"},
        {"wss://h:80/x", "h:80", "/x"},
        {"ws://[::1]:9000", "[::1]:9000", "/"},
        {"wss://[2001:db8::1]/", "[2001:db8::1]", "/"},
        {"ws://h?x=1#f", "h", "/?x=1"},
    };
    for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
        client_init(&s, hosts[i].url);
        build_request(&s.c, &p);
        size_t tl = strlen(hosts[i].target);
        tap_ok(has_value(&p, "Host", hosts[i].host) && p.head.target_len == tl &&
                   memcmp(p.head.target, hosts[i].target, tl) == 0,
               "RFC 6455 4.1: %s gives GET %s and Host: %s", hosts[i].url, hosts[i].target,
               hosts[i].host);
        free(p.text);
    }
}

/* ---- the server's answer, judged by the client ---- */

enum variant {
    PLAIN,     /* version 13, nothing offered */
    V8,        /* version 8 */
    PROTOS,    /* offers chat and superchat */
    DEFLATE,   /* offers permessage-deflate */
};

struct answer {
    const char *name;
    enum variant variant;
    const char *response;
    enum hs_outcome outcome;
    const char *error;    /* a part of r->error, or NULL */
    const char *detail;   /* location, subprotocol or retry version, by outcome */
};

#define R101 "HTTP/1.1 101 Switching Protocols\r\n"
#define UPG "Upgrade: websocket\r\n"
#define CONN "Connection: Upgrade\r\n"
#define ACC "Sec-WebSocket-Accept: " SAMPLE_ACCEPT "\r\n"
#define END "\r\n"

static const struct answer answers[] = {
    {"RFC 6455 4.1 a good 101", PLAIN, R101 UPG CONN ACC END, HS_ACCEPTED, NULL, ""},
    {"RFC 6455 4.1 a good 101 with header names in lower case", PLAIN,
     R101 "upgrade: websocket\r\nconnection: upgrade\r\nsec-websocket-accept: " SAMPLE_ACCEPT
          "\r\n" END,
     HS_ACCEPTED, NULL, ""},
    {"RFC 6455 4.1 Upgrade value is case-insensitive", PLAIN,
     R101 "Upgrade: WebSocket\r\n" CONN ACC END, HS_ACCEPTED, NULL, ""},
    {"RFC 6455 4.1 Connection: keep-alive, Upgrade accepted", PLAIN,
     R101 UPG "Connection: keep-alive, Upgrade\r\n" ACC END, HS_ACCEPTED, NULL, ""},
    {"RFC 6455 4.1 Connection: upgrade in lower case accepted", PLAIN,
     R101 UPG "Connection: upgrade\r\n" ACC END, HS_ACCEPTED, NULL, ""},
    {"a good 101 with bare LF line ends", PLAIN,
     "HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\nConnection: Upgrade\n"
     "Sec-WebSocket-Accept: " SAMPLE_ACCEPT "\n\n",
     HS_ACCEPTED, NULL, ""},
    {"a good 101 for version 8", V8, R101 UPG CONN ACC END, HS_ACCEPTED, NULL, ""},

    /* status */
    {"RFC 6455 4.1 status 200 is refused", PLAIN, "HTTP/1.1 200 OK\r\n\r\n", HS_REFUSED, "200",
     NULL},
    {"RFC 6455 4.1 status 200 with the right headers is still refused", PLAIN,
     "HTTP/1.1 200 OK\r\n" UPG CONN ACC END, HS_REFUSED, "200", NULL},
    {"RFC 6455 4.1 status 401 shows WWW-Authenticate", PLAIN,
     "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"chat\"\r\n\r\n", HS_REFUSED,
     "Basic realm=\"chat\"", NULL},
    {"status 401 names the status", PLAIN,
     "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"chat\"\r\n\r\n", HS_REFUSED,
     "401", NULL},
    {"status 403", PLAIN, "HTTP/1.1 403 Forbidden\r\n\r\n", HS_REFUSED, "403", NULL},
    {"status 500", PLAIN, "HTTP/1.1 500 Internal Server Error\r\n\r\n", HS_REFUSED, "500", NULL},
    {"status 100 is not 101", PLAIN, "HTTP/1.1 100 Continue\r\n" UPG CONN ACC END, HS_REFUSED,
     "100", NULL},

    /* redirects */
    {"RFC 6455 4.1 301 with Location redirects", PLAIN,
     "HTTP/1.1 301 Moved Permanently\r\nLocation: wss://new.example/chat\r\n\r\n", HS_REDIRECT,
     NULL, "wss://new.example/chat"},
    {"302 with a relative Location redirects", PLAIN,
     "HTTP/1.1 302 Found\r\nLocation: /other\r\n\r\n", HS_REDIRECT, NULL, "/other"},
    {"307 redirects", PLAIN, "HTTP/1.1 307 Temporary Redirect\r\nLocation: /t\r\n\r\n",
     HS_REDIRECT, NULL, "/t"},
    {"308 redirects", PLAIN, "HTTP/1.1 308 Permanent Redirect\r\nlocation: /p\r\n\r\n",
     HS_REDIRECT, NULL, "/p"},
    {"302 without Location is refused", PLAIN, "HTTP/1.1 302 Found\r\n\r\n", HS_REFUSED, "302",
     NULL},

    /* 426 version negotiation (RFC 6455 4.4) */
    {"RFC 6455 4.4 426 listing 13, 8 when we sent 8 retries with 13", V8,
     "HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13, 8\r\n\r\n", HS_RETRY_VERSION,
     NULL, "13"},
    {"RFC 6455 4.4 426 listing 8 when we sent 13 retries with 8", PLAIN,
     "HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 8\r\n\r\n", HS_RETRY_VERSION, NULL,
     "8"},
    {"RFC 6455 4.4 426 with versions in several headers", V8,
     "HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 7\r\n"
     "Sec-WebSocket-Version: 13\r\n\r\n",
     HS_RETRY_VERSION, NULL, "13"},
    {"RFC 6455 4.4 426 listing only 7 is refused, naming 7", PLAIN,
     "HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 7\r\n\r\n", HS_REFUSED,
     "version 7", NULL},
    {"RFC 6455 4.4 426 listing only the version we sent is refused", PLAIN,
     "HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\n\r\n", HS_REFUSED, "426",
     NULL},
    {"426 with no version listed is refused", PLAIN, "HTTP/1.1 426 Upgrade Required\r\n\r\n",
     HS_REFUSED, "426", NULL},
    {"426 listing 130 is not 13", V8,
     "HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 130\r\n\r\n", HS_REFUSED, "130",
     NULL},

    /* Upgrade */
    {"RFC 6455 4.1 missing Upgrade", PLAIN, R101 CONN ACC END, HS_REFUSED, "Upgrade", NULL},
    {"RFC 6455 4.1 Upgrade: h2c", PLAIN, R101 "Upgrade: h2c\r\n" CONN ACC END, HS_REFUSED,
     "Upgrade", NULL},
    {"RFC 6455 4.1 Upgrade: websockets", PLAIN, R101 "Upgrade: websockets\r\n" CONN ACC END,
     HS_REFUSED, "Upgrade", NULL},
    {"RFC 6455 4.1 empty Upgrade", PLAIN, R101 "Upgrade:\r\n" CONN ACC END, HS_REFUSED,
     "Upgrade", NULL},

    /* Connection */
    {"RFC 6455 4.1 missing Connection", PLAIN, R101 UPG ACC END, HS_REFUSED, "Connection", NULL},
    {"RFC 6455 4.1 Connection without the upgrade token", PLAIN,
     R101 UPG "Connection: keep-alive\r\n" ACC END, HS_REFUSED, "Connection", NULL},
    {"RFC 6455 4.1 Connection: upgrader is not upgrade", PLAIN,
     R101 UPG "Connection: upgrader\r\n" ACC END, HS_REFUSED, "Connection", NULL},
    {"RFC 6455 4.1 Connection: close", PLAIN, R101 UPG "Connection: close\r\n" ACC END,
     HS_REFUSED, "Connection", NULL},

    /* Sec-WebSocket-Accept */
    {"RFC 6455 4.1 missing Sec-WebSocket-Accept", PLAIN, R101 UPG CONN END, HS_REFUSED,
     "Sec-WebSocket-Accept", NULL},
    {"RFC 6455 4.1 wrong Sec-WebSocket-Accept", PLAIN,
     R101 UPG CONN "Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n" END, HS_REFUSED,
     SAMPLE_ACCEPT, NULL},
    {"RFC 6455 4.1 Sec-WebSocket-Accept compared case-sensitively", PLAIN,
     R101 UPG CONN "Sec-WebSocket-Accept: S3PPLMBITXAQ9KYGZZHZRBK+XOO=\r\n" END, HS_REFUSED,
     "Sec-WebSocket-Accept", NULL},
    {"RFC 6455 4.1 Sec-WebSocket-Accept of the key itself", PLAIN,
     R101 UPG CONN "Sec-WebSocket-Accept: " SAMPLE_KEY "\r\n" END, HS_REFUSED,
     "Sec-WebSocket-Accept", NULL},
    {"RFC 6455 4.1 Sec-WebSocket-Accept with a byte missing", PLAIN,
     R101 UPG CONN "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo\r\n" END, HS_REFUSED,
     "Sec-WebSocket-Accept", NULL},
    {"RFC 6455 4.1 Sec-WebSocket-Accept with a byte extra", PLAIN,
     R101 UPG CONN "Sec-WebSocket-Accept: " SAMPLE_ACCEPT "=\r\n" END, HS_REFUSED,
     "Sec-WebSocket-Accept", NULL},
    {"RFC 6455 4.1 empty Sec-WebSocket-Accept", PLAIN,
     R101 UPG CONN "Sec-WebSocket-Accept:\r\n" END, HS_REFUSED, "Sec-WebSocket-Accept", NULL},
    {"RFC 6455 4.1 duplicated Sec-WebSocket-Accept", PLAIN, R101 UPG CONN ACC ACC END,
     HS_REFUSED, "Sec-WebSocket-Accept", NULL},
    {"RFC 6455 4.1 a wrong then a right Sec-WebSocket-Accept", PLAIN,
     R101 UPG CONN "Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n" ACC END, HS_REFUSED,
     "Sec-WebSocket-Accept", NULL},

    /* Sec-WebSocket-Protocol */
    {"RFC 6455 4.1 subprotocol chosen from the offer", PROTOS,
     R101 UPG CONN ACC "Sec-WebSocket-Protocol: chat\r\n" END, HS_ACCEPTED, NULL, "chat"},
    {"RFC 6455 4.1 second offered subprotocol chosen", PROTOS,
     R101 UPG CONN ACC "Sec-WebSocket-Protocol: superchat\r\n" END, HS_ACCEPTED, NULL,
     "superchat"},
    {"no subprotocol chosen from an offer", PROTOS, R101 UPG CONN ACC END, HS_ACCEPTED, NULL,
     ""},
    {"RFC 6455 4.1 subprotocol not offered", PROTOS,
     R101 UPG CONN ACC "Sec-WebSocket-Protocol: mqtt\r\n" END, HS_REFUSED, "mqtt", NULL},
    {"RFC 6455 4.1 subprotocols compared case-sensitively", PROTOS,
     R101 UPG CONN ACC "Sec-WebSocket-Protocol: Chat\r\n" END, HS_REFUSED, "Chat", NULL},
    {"RFC 6455 4.1 subprotocol when none was offered", PLAIN,
     R101 UPG CONN ACC "Sec-WebSocket-Protocol: chat\r\n" END, HS_REFUSED, "chat", NULL},
    {"RFC 6455 4.1 the server may choose only one subprotocol (list)", PROTOS,
     R101 UPG CONN ACC "Sec-WebSocket-Protocol: chat, superchat\r\n" END, HS_REFUSED,
     "subprotocol", NULL},
    {"RFC 6455 4.1 two Sec-WebSocket-Protocol headers", PROTOS,
     R101 UPG CONN ACC "Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: superchat\r\n" END,
     HS_REFUSED, "more than one", NULL},
    {"RFC 6455 4.1 the same subprotocol twice", PROTOS,
     R101 UPG CONN ACC "Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: chat\r\n" END,
     HS_REFUSED, "more than one", NULL},
    {"RFC 6455 4.1 empty subprotocol", PROTOS,
     R101 UPG CONN ACC "Sec-WebSocket-Protocol:\r\n" END, HS_REFUSED, "subprotocol", NULL},

    /* Sec-WebSocket-Extensions */
    {"RFC 6455 4.1 an extension when none was offered", PLAIN,
     R101 UPG CONN ACC "Sec-WebSocket-Extensions: permessage-deflate\r\n" END, HS_REFUSED, NULL,
     NULL},
    {"RFC 6455 4.1 an unknown extension when none was offered", PLAIN,
     R101 UPG CONN ACC "Sec-WebSocket-Extensions: x-webkit-deflate-frame\r\n" END, HS_REFUSED,
     NULL, NULL},
    {"RFC 6455 4.1 an unknown extension when deflate was offered", DEFLATE,
     R101 UPG CONN ACC "Sec-WebSocket-Extensions: x-webkit-deflate-frame\r\n" END, HS_REFUSED,
     NULL, NULL},
    {"RFC 6455 4.1 extension in the second of two headers, none offered", PLAIN,
     R101 UPG CONN ACC "Sec-WebSocket-Extensions: \r\n"
                       "Sec-WebSocket-Extensions: permessage-deflate\r\n" END,
     HS_REFUSED, NULL, NULL},
    {"no extension answer to a deflate offer", DEFLATE, R101 UPG CONN ACC END, HS_ACCEPTED, NULL,
     ""},
};

static void test_answer(const struct answer *a)
{
    struct client_setup s;
    client_init(&s, "ws://server.example.com/chat");
    static const char *const protos[] = {"chat", "superchat"};
    if (a->variant == V8)
        s.c.version = 8;
    if (a->variant == PROTOS) {
        s.c.subprotocols = protos;
        s.c.num_subprotocols = 2;
    }
    if (a->variant == DEFLATE)
        s.c.offer_deflate = true;

    struct parsed p;
    parse_head(&p, a->response, false);
    if (!tap_ok(p.rc > 0, "hs_check_response %s: the response parses", a->name)) {
        free(p.text);
        return;
    }
    struct hs_result r;
    memset(&r, 0x5A, sizeof(r)); /* the result must be filled, whatever was there */
    int rc = hs_check_response(&s.c, &p.head, &r);
    static const char *const names[] = {"HS_ACCEPTED", "HS_REDIRECT", "HS_RETRY_VERSION",
                                        "HS_REFUSED"};
    bool ok = r.outcome == a->outcome && rc == (a->outcome == HS_ACCEPTED ? 0 : -1) &&
              r.status == p.head.status;
    if (ok && a->error)
        ok = strstr(r.error, a->error) != NULL;
    if (ok && a->outcome != HS_ACCEPTED)
        ok = r.error[0] != 0 && memchr(r.error, 0, sizeof(r.error)) != NULL;
    if (ok && a->outcome == HS_ACCEPTED && a->detail)
        ok = strcmp(r.subprotocol, a->detail) == 0;
    if (ok && a->outcome == HS_ACCEPTED && a->variant != DEFLATE)
        ok = !r.has_deflate;
    if (ok && a->outcome == HS_REDIRECT)
        ok = strcmp(r.location, a->detail) == 0;
    if (ok && a->outcome == HS_RETRY_VERSION)
        ok = r.retry_version == (unsigned)atoi(a->detail);
    if (!tap_ok(ok, "hs_check_response %s: %s%s%s", a->name, names[a->outcome],
                a->error ? ", error mentions " : "", a->error ? a->error : ""))
        tap_diag("got rc %d outcome %d status %d error \"%.*s\" subprotocol \"%.*s\" "
                 "location \"%.*s\" retry %u",
                 rc, (int)r.outcome, r.status, (int)sizeof(r.error), r.error,
                 (int)sizeof(r.subprotocol), r.subprotocol, 100, r.location, r.retry_version);
    free(p.text);
}

/* ---- the server role ---- */

struct request {
    const char *name;
    const char *request;
    const char *const *prefs; /* server's subprotocols, NULL-terminated */
    int status;
    const char *detail; /* 101: the chosen subprotocol; otherwise a part of r->error */
    unsigned version;
};

#define GET "GET /chat HTTP/1.1\r\n"
#define HOST "Host: server.example.com\r\n"
#define KEY "Sec-WebSocket-Key: " SAMPLE_KEY "\r\n"
#define V13 "Sec-WebSocket-Version: 13\r\n"
#define GOOD_FIELDS HOST UPG CONN KEY V13

static const char *const no_prefs[] = {NULL};
static const char *const chat_first[] = {"chat", "superchat", NULL};
static const char *const superchat_first[] = {"superchat", "chat", NULL};
static const char *const mqtt_only[] = {"mqtt", NULL};

static const struct request requests[] = {
    {"RFC 6455 4.2.1 a good request", GET GOOD_FIELDS END, no_prefs, 101, "", 13},
    {"RFC 6455 1.2 the sample request", GET HOST UPG CONN KEY
     "Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n" V13 END,
     chat_first, 101, "chat", 13},
    {"RFC 6455 4.2.1 Firefox's Connection: keep-alive, Upgrade", GET HOST UPG
     "Connection: keep-alive, Upgrade\r\n" KEY V13 END, no_prefs, 101, "", 13},
    {"RFC 6455 4.2.1 Upgrade and Connection values are case-insensitive", GET HOST
     "Upgrade: WebSocket\r\nConnection: upgrade\r\n" KEY V13 END, no_prefs, 101, "", 13},
    {"RFC 6455 4.2.1 a request target with a query", "GET /chat?room=1 HTTP/1.1\r\n" GOOD_FIELDS
     END, no_prefs, 101, "", 13},
    {"RFC 6455 4.2.1 POST gets 405", "POST /chat HTTP/1.1\r\n" GOOD_FIELDS END, no_prefs, 405,
     "POST", 0},
    {"RFC 6455 4.2.1 HEAD gets 405", "HEAD /chat HTTP/1.1\r\n" GOOD_FIELDS END, no_prefs, 405,
     "HEAD", 0},
    {"RFC 9110 9.1 methods are case-sensitive: get gets 405", "get /chat HTTP/1.1\r\n" GOOD_FIELDS
     END, no_prefs, 405, "get", 0},
    {"RFC 6455 4.2.1 HTTP/1.0 is refused", "GET /chat HTTP/1.0\r\n" GOOD_FIELDS END, no_prefs,
     400, "HTTP/1.1", 0},
    {"RFC 6455 4.2.1 no Host is refused", GET UPG CONN KEY V13 END, no_prefs, 400, "Host", 0},
    {"RFC 6455 4.2.1 two Host headers are refused", GET HOST "Host: other.example\r\n" UPG CONN
     KEY V13 END, no_prefs, 400, "Host", 0},
    {"RFC 6455 4.2.1 missing Upgrade gets 426", GET HOST CONN KEY V13 END, no_prefs, 426,
     "Upgrade", 0},
    {"RFC 6455 4.2.1 Upgrade: h2c gets 426", GET HOST "Upgrade: h2c\r\n" CONN KEY V13 END,
     no_prefs, 426, "Upgrade", 0},
    {"RFC 6455 4.2.1 missing Connection is refused", GET HOST UPG KEY V13 END, no_prefs, 400,
     "Connection", 0},
    {"RFC 6455 4.2.1 Connection without upgrade is refused", GET HOST UPG
     "Connection: keep-alive\r\n" KEY V13 END, no_prefs, 400, "Connection", 0},
    {"RFC 6455 4.2.1 version 8 is accepted", GET HOST UPG CONN KEY
     "Sec-WebSocket-Version: 8\r\n" END, no_prefs, 101, "", 8},
    {"RFC 6455 4.4 version 7 gets 426", GET HOST UPG CONN KEY "Sec-WebSocket-Version: 7\r\n" END,
     no_prefs, 426, "7", 0},
    {"RFC 6455 4.4 version 14 gets 426", GET HOST UPG CONN KEY
     "Sec-WebSocket-Version: 14\r\n" END, no_prefs, 426, "14", 0},
    {"RFC 6455 4.2.1 missing version gets 426", GET HOST UPG CONN KEY END, no_prefs, 426,
     "Version", 0},
    {"RFC 6455 4.2.1 version 013 is not 13", GET HOST UPG CONN KEY
     "Sec-WebSocket-Version: 013\r\n" END, no_prefs, 426, "013", 0},
    {"RFC 6455 4.2.1 missing key is refused", GET HOST UPG CONN V13 END, no_prefs, 400, "Key",
     0},
    {"RFC 6455 4.2.1 key of 23 characters is refused", GET HOST UPG CONN
     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=\r\n" V13 END, no_prefs, 400, "Key", 0},
    {"RFC 6455 4.2.1 key of 25 characters is refused", GET HOST UPG CONN
     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ===\r\n" V13 END, no_prefs, 400, "Key", 0},
    {"RFC 6455 4.2.1 key of 20 bytes is refused", GET HOST UPG CONN
     "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n" V13 END, no_prefs, 400, "Key", 0},
    {"RFC 6455 4.2.1 key that is not base64 is refused", GET HOST UPG CONN
     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub2*jZQ==\r\n" V13 END, no_prefs, 400, "Key", 0},
    {"RFC 6455 4.2.1 key without padding is refused", GET HOST UPG CONN
     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQAA\r\n" V13 END, no_prefs, 400, "Key", 0},
    {"RFC 6455 4.2.1 key of 16 bytes: AAAAAAAAAAAAAAAAAAAAAB== has non-zero low bits", GET HOST
     UPG CONN "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAB==\r\n" V13 END, no_prefs, 400, "Key",
     0},
    {"RFC 6455 4.2.1 key AAAAAAAAAAAAAAAAAAAAAQ== is 16 bytes", GET HOST UPG CONN
     "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAQ==\r\n" V13 END, no_prefs, 101, "", 13},
    {"RFC 6455 4.2.1 key /////////////////////w== is 16 bytes", GET HOST UPG CONN
     "Sec-WebSocket-Key: /////////////////////w==\r\n" V13 END, no_prefs, 101, "", 13},
    {"RFC 6455 4.2.1 two keys are refused", GET HOST UPG CONN KEY KEY V13 END, no_prefs, 400,
     "Key", 0},
    {"RFC 6455 4.2.2 subprotocol by the server's preference", GET GOOD_FIELDS
     "Sec-WebSocket-Protocol: chat, superchat\r\n" END, superchat_first, 101, "superchat", 13},
    {"RFC 6455 4.2.2 subprotocol by the server's preference, other order", GET GOOD_FIELDS
     "Sec-WebSocket-Protocol: superchat, chat\r\n" END, chat_first, 101, "chat", 13},
    {"RFC 6455 4.2.2 subprotocols from several headers", GET GOOD_FIELDS
     "Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: superchat\r\n" END,
     superchat_first, 101, "superchat", 13},
    {"RFC 6455 4.2.2 no common subprotocol: none chosen", GET GOOD_FIELDS
     "Sec-WebSocket-Protocol: chat, superchat\r\n" END, mqtt_only, 101, "", 13},
    {"RFC 6455 4.2.2 subprotocol offered but the server has none", GET GOOD_FIELDS
     "Sec-WebSocket-Protocol: chat\r\n" END, no_prefs, 101, "", 13},
    {"RFC 6455 4.2.2 subprotocols compared as whole tokens", GET GOOD_FIELDS
     "Sec-WebSocket-Protocol: superchat2, xchat\r\n" END, chat_first, 101, "", 13},
};

static size_t count_prefs(const char *const *p)
{
    size_t n = 0;
    while (p[n])
        n++;
    return n;
}

/* Builds the server's answer and parses it back as a response. */
static void build_response(const struct hs_server_result *r, struct parsed *p)
{
    struct buf b;
    buf_init(&b, 0);
    if (hs_build_response(r, &b) != 0)
        tap_diag("hs_build_response failed");
    char *text = malloc(buf_size(&b) + 1);
    if (!text)
        abort();
    memcpy(text, buf_head(&b), buf_size(&b));
    text[buf_size(&b)] = 0;
    parse_head(p, text, false);
    free(text);
    buf_free(&b);
}

static void test_request_check(const struct request *q)
{
    struct parsed p;
    parse_head(&p, q->request, true);
    if (!tap_ok(p.rc > 0, "hs_check_request %s: the request parses", q->name)) {
        free(p.text);
        return;
    }
    struct hs_server s = {q->prefs, count_prefs(q->prefs), false};
    struct hs_server_result r;
    memset(&r, 0x5A, sizeof(r));
    int rc = hs_check_request(&s, &p.head, &r);
    bool ok = r.status == q->status && rc == (q->status == 101 ? 0 : -1);
    if (ok && q->status == 101)
        ok = strcmp(r.subprotocol, q->detail) == 0 && r.version == q->version && !r.has_deflate;
    else if (ok)
        ok = strstr(r.error, q->detail) != NULL;
    if (!tap_ok(ok, "hs_check_request %s: %d%s%s", q->name, q->status,
                q->status == 101 ? ", subprotocol " : ", error mentions ", q->detail))
        tap_diag("got rc %d status %d subprotocol \"%.*s\" version %u error \"%.*s\"", rc,
                 r.status, (int)sizeof(r.subprotocol), r.subprotocol, r.version,
                 (int)sizeof(r.error), r.error);

    /* The answer built for it. */
    struct parsed a;
    build_response(&r, &a);
    char v[512];
    ok = a.rc > 0 && a.head.status == q->status;
    if (ok && q->status == 101) {
        char want[HS_ACCEPT_LEN + 1];
        const struct http_header *k = http_find_header(&p.head, "Sec-WebSocket-Key");
        hs_accept_for_key(k->value, k->value_len, want);
        ok = strcmp(r.accept, want) == 0 &&
             strcmp(only_value(&a.head, "Sec-WebSocket-Accept", v, sizeof(v)), want) == 0 &&
             strcmp(only_value(&a.head, "Upgrade", v, sizeof(v)), "websocket") == 0 &&
             strcmp(only_value(&a.head, "Connection", v, sizeof(v)), "Upgrade") == 0 &&
             strcmp(only_value(&a.head, "Sec-WebSocket-Protocol", v, sizeof(v)),
                    q->detail[0] ? q->detail : "(none)") == 0 &&
             strcmp(only_value(&a.head, "Sec-WebSocket-Extensions", v, sizeof(v)), "(none)") ==
                 0;
    } else if (ok) {
        /* The body says why; Content-Length counts it exactly. */
        const char *body = a.text + a.rc;
        size_t body_len = a.len - (size_t)a.rc;
        ok = strcmp(only_value(&a.head, "Content-Length", v, sizeof(v)), "(none)") != 0 &&
             (size_t)atoi(v) == body_len &&
             memmem(body, body_len, q->detail, strlen(q->detail)) != NULL;
        if (ok && q->status == 426)
            ok = strcmp(only_value(&a.head, "Sec-WebSocket-Version", v, sizeof(v)), "13, 8") ==
                 0;
    }
    if (!tap_ok(ok, "hs_build_response %s: %d answer%s", q->name, q->status,
                q->status == 426 ? " with Sec-WebSocket-Version: 13, 8" : ""))
        tap_diag("answer: %.*s", (int)a.len, a.text);
    free(a.text);
    free(p.text);
}

static void test_server_misc(void)
{
    /* RFC 6455 4.2.2: the accept value is computed from the key as sent. */
    struct parsed p;
    parse_head(&p, GET GOOD_FIELDS END, true);
    struct hs_server s = {no_prefs, 0, false};
    struct hs_server_result r;
    hs_check_request(&s, &p.head, &r);
    tap_ok(strcmp(r.accept, SAMPLE_ACCEPT) == 0,
           "RFC 6455 4.2.2: the sample key's accept is " SAMPLE_ACCEPT);
    free(p.text);

    /* An extension offer is ignored when the server does not allow deflate. */
    parse_head(&p, GET GOOD_FIELDS "Sec-WebSocket-Extensions: permessage-deflate\r\n" END, true);
    hs_check_request(&s, &p.head, &r);
    struct parsed a;
    build_response(&r, &a);
    char v[256];
    tap_ok(r.status == 101 && !r.has_deflate &&
               strcmp(only_value(&a.head, "Sec-WebSocket-Extensions", v, sizeof(v)), "(none)") ==
                   0,
           "RFC 6455 9.1: no extension is accepted when the server allows none");
    free(a.text);
    free(p.text);

    /* Every error status has an answer with a reason phrase. */
    static const int statuses[] = {400, 405, 426, 500};
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        memset(&r, 0, sizeof(r));
        r.status = statuses[i];
        snprintf(r.error, sizeof(r.error), "why %d", statuses[i]);
        build_response(&r, &a);
        tap_ok(a.rc > 0 && a.head.status == statuses[i] && a.head.reason_len > 0,
               "hs_build_response: status %d answer has a reason phrase", statuses[i]);
        free(a.text);
    }
}

/* ---- both roles together ---- */

static void test_round_trip(void)
{
    static const struct {
        const char *name;
        const char *const *offer;
        size_t num_offer;
        const char *const *prefs;
        const char *chosen;
        unsigned version;
    } trips[] = {
        {"no subprotocols", NULL, 0, no_prefs, "", 13},
        {"server prefers superchat", chat_first, 2, superchat_first, "superchat", 13},
        {"server prefers chat", superchat_first, 2, chat_first, "chat", 13},
        {"no common subprotocol", chat_first, 2, mqtt_only, "", 13},
        {"version 8", chat_first, 1, chat_first, "chat", 8},
    };
    for (size_t i = 0; i < sizeof(trips) / sizeof(trips[0]); i++) {
        struct client_setup cs;
        client_init(&cs, "ws://[::1]:9000/chat?x=1");
        uint8_t nonce[16];
        for (size_t k = 0; k < 16; k++)
            nonce[k] = (uint8_t)(i * 16 + k * 7);
        hs_client_set_key(&cs.c, nonce);
        cs.c.subprotocols = trips[i].offer;
        cs.c.num_subprotocols = trips[i].num_offer;
        cs.c.version = trips[i].version;
        cs.c.origin = "http://example.com";

        struct parsed req;
        build_request(&cs.c, &req);
        struct hs_server s = {trips[i].prefs, count_prefs(trips[i].prefs), false};
        struct hs_server_result sr;
        int src = hs_check_request(&s, &req.head, &sr);
        struct parsed resp;
        build_response(&sr, &resp);
        struct hs_result cr;
        int crc = resp.rc > 0 ? hs_check_response(&cs.c, &resp.head, &cr) : -2;
        if (!tap_ok(src == 0 && sr.version == trips[i].version && crc == 0 &&
                        cr.outcome == HS_ACCEPTED && strcmp(cr.subprotocol, trips[i].chosen) == 0,
                    "round trip %s: wsc's server accepts wsc's client, subprotocol \"%s\"",
                    trips[i].name, trips[i].chosen))
            tap_diag("server rc %d status %d (%s); client rc %d (%s)", src, sr.status, sr.error,
                     crc, crc == -2 ? "unparsable" : cr.error);
        free(req.text);
        free(resp.text);
    }
}

/* ---- who may open a WebSocket on a bridge (--auth, Origin) ---- */

struct access_case {
    const char *name;
    const char *headers; /* header lines after the request line */
    bool is_tls;
    bool want_origin;    /* hs_origin_allowed with no --allow-origin */
    bool want_auth;      /* hs_has_basic_auth with "alice:s3cret" */
};

/* base64("alice:s3cret") = YWxpY2U6czNjcmV0 */
static const struct access_case access_cases[] = {
    {"no Origin, not a browser", "Host: 127.0.0.1:8080\r\n", false, true, false},
    {"same host and port", "Host: 127.0.0.1:8080\r\nOrigin: http://127.0.0.1:8080\r\n", false,
     true, false},
    {"host names compare without case", "Host: Example.TEST:8080\r\n"
     "Origin: http://example.test:8080\r\n", false, true, false},
    {"default port of http is 80", "Host: example.test\r\nOrigin: http://example.test\r\n",
     false, true, false},
    {"https origin on a TLS server, default ports", "Host: example.test\r\n"
     "Origin: https://example.test\r\n", true, true, false},
    {"https origin, plain server on 80: another site", "Host: example.test\r\n"
     "Origin: https://example.test\r\n", false, false, false},
    {"another port is another site", "Host: 127.0.0.1:8080\r\n"
     "Origin: http://127.0.0.1:8081\r\n", false, false, false},
    {"another host", "Host: 127.0.0.1:8080\r\nOrigin: http://evil.example:8080\r\n", false,
     false, false},
    {"a suffix is not the host", "Host: a.test\r\nOrigin: http://xa.test\r\n", false, false,
     false},
    {"null origin (file://, sandbox)", "Host: 127.0.0.1:8080\r\nOrigin: null\r\n", false, false,
     false},
    {"IPv6 literal", "Host: [::1]:8080\r\nOrigin: http://[::1]:8080\r\n", false, true, false},
    {"Origin but no Host", "Origin: http://127.0.0.1:8080\r\n", false, false, false},
    {"bad port in Origin", "Host: a.test\r\nOrigin: http://a.test:80x\r\n", false, false,
     false},
    {"right credentials", "Host: a\r\nAuthorization: Basic YWxpY2U6czNjcmV0\r\n", false, true,
     true},
    {"scheme without case", "Host: a\r\nAuthorization: basic YWxpY2U6czNjcmV0\r\n", false,
     true, true},
    {"wrong password", "Host: a\r\nAuthorization: Basic YWxpY2U6d3Jvbmc=\r\n", false, true,
     false},
    {"a prefix of the credentials", "Host: a\r\nAuthorization: Basic YWxpY2U6czNj\r\n", false,
     true, false},
    {"another scheme", "Host: a\r\nAuthorization: Bearer YWxpY2U6czNjcmV0\r\n", false, true,
     false},
    {"two Authorization headers", "Host: a\r\nAuthorization: Basic YWxpY2U6czNjcmV0\r\n"
     "Authorization: Basic YWxpY2U6czNjcmV0\r\n", false, true, false},
};

static void test_access(const struct access_case *a)
{
    char text[1024];
    snprintf(text, sizeof(text), "GET / HTTP/1.1\r\n%s\r\n", a->headers);
    struct parsed p;
    parse_head(&p, text, true);
    tap_ok(p.rc > 0, "access %s: the request parses", a->name);
    tap_ok(hs_origin_allowed(&p.head, NULL, 0, a->is_tls) == a->want_origin,
           "access %s: Origin %s", a->name, a->want_origin ? "allowed" : "cross-site");
    tap_ok(hs_has_basic_auth(&p.head, "alice:s3cret") == a->want_auth,
           "access %s: credentials %s", a->name, a->want_auth ? "accepted" : "refused");
    free(p.text);
}

static void test_allow_origin(void)
{
    struct parsed p;
    parse_head(&p, "GET / HTTP/1.1\r\nHost: a.test\r\nOrigin: http://evil.example\r\n\r\n",
               true);
    const char *const listed[] = {"http://other.example", "HTTP://EVIL.example"};
    const char *const any[] = {"*"};
    const char *const other[] = {"http://other.example"};
    tap_ok(hs_origin_allowed(&p.head, listed, 2, false), "--allow-origin: a listed Origin passes");
    tap_ok(hs_origin_allowed(&p.head, any, 1, false), "--allow-origin '*': any Origin passes");
    tap_ok(!hs_origin_allowed(&p.head, other, 1, false),
           "--allow-origin: an Origin not listed stays cross-site");
    free(p.text);
    struct hs_server_result r = {.status = 401};
    snprintf(r.error, sizeof(r.error), "missing or wrong credentials (--auth)");
    struct buf out;
    buf_init(&out, 0);
    hs_build_response(&r, &out);
    buf_append(&out, "", 1); /* a C string for strstr */
    tap_ok(buf_size(&out) > 1 && strstr((const char *)buf_head(&out), "WWW-Authenticate: Basic "),
           "401 answer: WWW-Authenticate: Basic");
    buf_free(&out);
}

/* ---- HTTP/2 (RFC 8441) ---- */

/* A field list as the HTTP/2 layer hands it over: a struct http_head whose
 * headers are the fields, each name and value in a heap buffer of exactly
 * its length. pairs is name, value, ..., NULL. */
struct h2_head {
    struct http_head head;
    unsigned char *bytes[2 * HTTP_MAX_HEADERS];
    size_t num_bytes;
};

static void h2_head_init(struct h2_head *h, const char *const *pairs)
{
    memset(h, 0, sizeof(*h));
    for (size_t i = 0; pairs[i] && pairs[i + 1]; i += 2) {
        size_t nl = strlen(pairs[i]), vl = strlen(pairs[i + 1]);
        unsigned char *n = tap_dup(pairs[i], nl), *v = tap_dup(pairs[i + 1], vl);
        h->bytes[h->num_bytes++] = n;
        h->bytes[h->num_bytes++] = v;
        h->head.headers[h->head.num_headers++] =
            (struct http_header){(const char *)n, nl, (const char *)v, vl};
        if (!strcmp(pairs[i], ":status"))
            h->head.status = atoi(pairs[i + 1]);
    }
}

static void h2_head_from_fields(struct h2_head *h, const struct hs_fields *f)
{
    const char *pairs[2 * HS_FIELDS_MAX + 1];
    char *copies[2 * HS_FIELDS_MAX];
    size_t n = 0;
    for (size_t i = 0; i < f->num && i < HTTP_MAX_HEADERS; i++) {
        copies[n] = strndup(f->fields[i].name, f->fields[i].name_len);
        pairs[n] = copies[n];
        n++;
        copies[n] = strndup(f->fields[i].value, f->fields[i].value_len);
        pairs[n] = copies[n];
        n++;
    }
    pairs[n] = NULL;
    h2_head_init(h, pairs);
    for (size_t i = 0; i < n; i++)
        free(copies[i]);
}

static void h2_head_free(struct h2_head *h)
{
    for (size_t i = 0; i < h->num_bytes; i++)
        free(h->bytes[i]);
}

/* The value of field i as a C string. */
static const char *field_at(const struct hs_fields *f, size_t i, char *out, size_t len)
{
    if (i >= f->num)
        snprintf(out, len, "(none)");
    else
        snprintf(out, len, "%.*s: %.*s", (int)f->fields[i].name_len, f->fields[i].name,
                 (int)f->fields[i].value_len, f->fields[i].value);
    return out;
}

/* Whether the list has this "name: value" field exactly once, or (value
 * NULL) no field of this name. */
static bool has_field(const struct hs_fields *f, const char *name, const char *value)
{
    size_t count = 0;
    char want[1024], got[1024];
    snprintf(want, sizeof(want), "%s: %s", name, value ? value : "");
    for (size_t i = 0; i < f->num; i++) {
        if (f->fields[i].name_len == strlen(name) &&
            !memcmp(f->fields[i].name, name, f->fields[i].name_len)) {
            count++;
            if (value && strcmp(field_at(f, i, got, sizeof(got)), want) != 0) {
                tap_diag("got \"%s\", want \"%s\"", got, want);
                return false;
            }
        }
    }
    if (count != (value ? 1u : 0u))
        tap_diag("%s: %zu fields", name, count);
    return count == (value ? 1u : 0u);
}

struct h2_request_case {
    const char *name;
    const char *url;
    const char *origin;
    const char *const *protos; /* NULL-terminated */
    const char *const *headers; /* NULL-terminated */
    const char *auth;
    bool offer_deflate;
    int rc;
    const char *const *want; /* name, value (NULL: absent), ...; NULL-terminated by name */
};

static const char *const h2_chat[] = {"chat", "superchat", NULL};
static const char *const h2_none[] = {NULL};
static const char *const h2_extra[] = {"X-Trace: 1", "Cookie:  a=b ", NULL};
static const char *const h2_host[] = {"Host: other.example:8443", NULL};
static const char *const h2_hop[] = {"Connection: keep-alive", "Upgrade: h2c", "Keep-Alive: 5",
                                     "Transfer-Encoding: chunked", "Sec-WebSocket-Key: x", NULL};
static const char *const h2_agent[] = {"User-Agent: probe/1", NULL};
static const char *const h2_bad[] = {"no colon here", NULL};
static const char *const h2_authz[] = {"Authorization: Bearer t", NULL};

static const struct h2_request_case h2_requests[] = {
    {"plain ws://", "ws://server.example.com/chat", NULL, h2_none, h2_none, NULL, false, 0,
     (const char *const[]){":method", "CONNECT", ":protocol", "websocket", ":scheme", "http",
                           ":path", "/chat", ":authority", "server.example.com",
                           "sec-websocket-version", "13", "user-agent", "wsc/" PACKAGE_VERSION,
                           "sec-websocket-key", NULL, "host", NULL, "upgrade", NULL,
                           "connection", NULL, "origin", NULL, "sec-websocket-protocol", NULL,
                           "sec-websocket-extensions", NULL, "authorization", NULL, NULL}},
    {"wss:// with port and query", "wss://server.example.com:8443/a/b?x=1&y=2", NULL, h2_none,
     h2_none, NULL, false, 0,
     (const char *const[]){":scheme", "https", ":path", "/a/b?x=1&y=2", ":authority",
                           "server.example.com:8443", NULL}},
    {"IPv6 literal", "ws://[::1]:9000/", NULL, h2_none, h2_none, NULL, false, 0,
     (const char *const[]){":authority", "[::1]:9000", ":path", "/", NULL}},
    {"origin, subprotocols, deflate, auth", "wss://h.example/", "https://h.example", h2_chat,
     h2_none, "user:pass", true, 0,
     (const char *const[]){"origin", "https://h.example", "sec-websocket-protocol",
                           "chat, superchat", "sec-websocket-extensions", WS_DEFLATE_OFFER,
                           "authorization", "Basic dXNlcjpwYXNz", NULL}},
    {"extra headers lowercased, values trimmed", "ws://h.example/", NULL, h2_none, h2_extra,
     NULL, false, 0, (const char *const[]){"x-trace", "1", "cookie", "a=b", NULL}},
    {"-H Host: becomes :authority", "ws://h.example/", NULL, h2_none, h2_host, NULL, false, 0,
     (const char *const[]){":authority", "other.example:8443", "host", NULL, NULL}},
    {"RFC 9113 8.2.2: connection-specific headers are left out", "ws://h.example/", NULL,
     h2_none, h2_hop, NULL, false, 0,
     (const char *const[]){"connection", NULL, "upgrade", NULL, "keep-alive", NULL,
                           "transfer-encoding", NULL, "sec-websocket-key", NULL, NULL}},
    {"-H User-Agent: replaces ours", "ws://h.example/", NULL, h2_none, h2_agent, NULL, false, 0,
     (const char *const[]){"user-agent", "probe/1", NULL}},
    {"-H Authorization: replaces --auth", "ws://h.example/", NULL, h2_none, h2_authz, "u:p",
     false, 0, (const char *const[]){"authorization", "Bearer t", NULL}},
    {"an extra header without a colon is refused", "ws://h.example/", NULL, h2_none, h2_bad,
     NULL, false, -1, (const char *const[]){NULL}},
};

static size_t count_list(const char *const *l)
{
    size_t n = 0;
    while (l[n])
        n++;
    return n;
}

static void test_h2_request(const struct h2_request_case *t)
{
    struct client_setup s;
    client_init(&s, t->url);
    s.c.origin = t->origin;
    s.c.subprotocols = t->protos;
    s.c.num_subprotocols = count_list(t->protos);
    s.c.headers = t->headers;
    s.c.num_headers = count_list(t->headers);
    s.c.auth = t->auth;
    s.c.offer_deflate = t->offer_deflate;
    struct hs_fields *f = malloc(sizeof(*f));
    if (!f)
        abort();
    int rc = hs_build_request_h2(&s.c, f);
    bool ok = rc == t->rc;
    if (!ok)
        tap_diag("rc %d, want %d", rc, t->rc);
    for (size_t i = 0; rc == 0 && t->want[i]; i += 2)
        ok &= has_field(f, t->want[i], t->want[i + 1]);
    /* RFC 9113 8.3: pseudo-headers come before every other field */
    bool seen_regular = false;
    for (size_t i = 0; rc == 0 && i < f->num; i++) {
        bool is_pseudo = f->fields[i].name[0] == ':';
        ok &= !(is_pseudo && seen_regular);
        seen_regular |= !is_pseudo;
        for (size_t k = 0; k < f->fields[i].name_len; k++)
            ok &= !(f->fields[i].name[k] >= 'A' && f->fields[i].name[k] <= 'Z');
    }
    tap_ok(ok, "RFC 8441 4: extended CONNECT, %s", t->name);
    free(f);
}

struct h2_answer_case {
    const char *name;
    const char *const *protos; /* offered */
    bool offer_deflate;
    const char *const *fields; /* the answer */
    enum hs_outcome outcome;
    const char *error_part; /* in r.error; NULL: none expected */
    const char *subprotocol;
    bool has_deflate;
};

static const struct h2_answer_case h2_answers[] = {
    {"200 accepts", h2_none, false, (const char *const[]){":status", "200", NULL}, HS_ACCEPTED,
     NULL, "", false},
    {"200 with the chosen subprotocol", h2_chat, false,
     (const char *const[]){":status", "200", "sec-websocket-protocol", "superchat", NULL},
     HS_ACCEPTED, NULL, "superchat", false},
    {"RFC 6455 4.1: a subprotocol that was not offered", h2_chat, false,
     (const char *const[]){":status", "200", "sec-websocket-protocol", "mqtt", NULL}, HS_REFUSED,
     "not offered", NULL, false},
    {"RFC 6455 4.1: two sec-websocket-protocol fields", h2_chat, false,
     (const char *const[]){":status", "200", "sec-websocket-protocol", "chat",
                           "sec-websocket-protocol", "chat", NULL},
     HS_REFUSED, "more than one", NULL, false},
    {"permessage-deflate accepted", h2_none, true,
     (const char *const[]){":status", "200", "sec-websocket-extensions",
                           "permessage-deflate; server_no_context_takeover", NULL},
     HS_ACCEPTED, NULL, "", true},
    {"RFC 6455 9.1: an extension that was not offered", h2_none, false,
     (const char *const[]){":status", "200", "sec-websocket-extensions", "permessage-deflate",
                           NULL},
     HS_REFUSED, "deflate", NULL, false},
    {"RFC 8441 5: 404 refuses, the status named", h2_none, false,
     (const char *const[]){":status", "404", NULL}, HS_REFUSED, "server answered 404 Not Found",
     NULL, false},
    {"RFC 8441 5: 101 is no answer over HTTP/2", h2_none, false,
     (const char *const[]){":status", "101", NULL}, HS_REFUSED, "server answered 101", NULL,
     false},
    {"RFC 8441 5: 204 is not 200", h2_none, false, (const char *const[]){":status", "204", NULL},
     HS_REFUSED, "server answered 204", NULL, false},
    {"401 shows WWW-Authenticate", h2_none, false,
     (const char *const[]){":status", "401", "www-authenticate", "Basic realm=\"x\"", NULL},
     HS_REFUSED, "WWW-Authenticate: Basic realm=\"x\"", NULL, false},
    {"302 with a location redirects", h2_none, false,
     (const char *const[]){":status", "302", "location", "wss://elsewhere.example/", NULL},
     HS_REDIRECT, "wss://elsewhere.example/", NULL, false},
};

static void test_h2_answer(const struct h2_answer_case *t)
{
    struct client_setup s;
    client_init(&s, "wss://server.example.com/chat");
    s.c.subprotocols = t->protos;
    s.c.num_subprotocols = count_list(t->protos);
    s.c.offer_deflate = t->offer_deflate;
    struct h2_head h;
    h2_head_init(&h, t->fields);
    struct hs_result r;
    int rc = hs_check_response_h2(&s.c, &h.head, &r);
    bool ok = (rc == 0) == (t->outcome == HS_ACCEPTED) && r.outcome == t->outcome;
    if (t->error_part)
        ok &= strstr(r.error, t->error_part) != NULL;
    if (t->subprotocol)
        ok &= strcmp(r.subprotocol, t->subprotocol) == 0;
    ok &= r.has_deflate == t->has_deflate;
    if (!tap_ok(ok, "RFC 8441 5: client judges the answer: %s", t->name))
        tap_diag("rc %d outcome %d error \"%s\" subprotocol \"%s\"", rc, r.outcome, r.error,
                 r.subprotocol);
    h2_head_free(&h);
}

struct h2_server_case {
    const char *name;
    const char *const *fields;
    int status;
    const char *subprotocol;
    bool has_deflate;
};

#define H2_GOOD ":method", "CONNECT", ":protocol", "websocket", ":scheme", "https", ":path", \
                "/chat", ":authority", "server.example.com"

static const struct h2_server_case h2_server_cases[] = {
    {"a plain extended CONNECT", (const char *const[]){H2_GOOD, "sec-websocket-version", "13",
                                                       NULL},
     200, "", false},
    {"subprotocol in our order",
     (const char *const[]){H2_GOOD, "sec-websocket-version", "13", "sec-websocket-protocol",
                           "superchat, chat", NULL},
     200, "chat", false},
    {"permessage-deflate", (const char *const[]){H2_GOOD, "sec-websocket-version", "13",
                                                 "sec-websocket-extensions",
                                                 "permessage-deflate", NULL},
     200, "", true},
    {"RFC 8441 4: no key needed, a key ignored",
     (const char *const[]){H2_GOOD, "sec-websocket-version", "13", "sec-websocket-key", "junk",
                           NULL},
     200, "", false},
    {"RFC 8441 4: GET is not CONNECT",
     (const char *const[]){":method", "GET", ":scheme", "https", ":path", "/", ":authority",
                           "h", "sec-websocket-version", "13", NULL},
     405, NULL, false},
    {"RFC 8441 4: a CONNECT without :protocol",
     (const char *const[]){":method", "CONNECT", ":authority", "h:443", NULL}, 400, NULL, false},
    {"RFC 8441 4: :protocol other than websocket",
     (const char *const[]){":method", "CONNECT", ":protocol", "webtransport", ":scheme", "https",
                           ":path", "/", ":authority", "h", "sec-websocket-version", "13", NULL},
     400, NULL, false},
    {"RFC 8441 4: :scheme missing",
     (const char *const[]){":method", "CONNECT", ":protocol", "websocket", ":path", "/",
                           ":authority", "h", "sec-websocket-version", "13", NULL},
     400, NULL, false},
    {"RFC 8441 5: :authority missing",
     (const char *const[]){":method", "CONNECT", ":protocol", "websocket", ":scheme", "http",
                           ":path", "/", "sec-websocket-version", "13", NULL},
     400, NULL, false},
    {"RFC 6455 4.4: version 8 is answered with 426",
     (const char *const[]){H2_GOOD, "sec-websocket-version", "8", NULL}, 426, NULL, false},
    {"RFC 6455 4.4: no version is answered with 426", (const char *const[]){H2_GOOD, NULL}, 426,
     NULL, false},
};

static void test_h2_server(const struct h2_server_case *t)
{
    struct hs_server srv = {chat_first, 2, true};
    struct h2_head h;
    h2_head_init(&h, t->fields);
    struct hs_server_result r;
    int rc = hs_check_request_h2(&srv, &h.head, &r);
    bool ok = r.status == t->status && (rc == 0) == (t->status == 200);
    if (t->subprotocol)
        ok &= strcmp(r.subprotocol, t->subprotocol) == 0;
    ok &= r.has_deflate == t->has_deflate;
    struct hs_fields *f = malloc(sizeof(*f));
    if (!f)
        abort();
    char status[8];
    snprintf(status, sizeof(status), "%d", t->status);
    ok &= hs_build_response_h2(&r, f) == 0 && has_field(f, ":status", status) &&
          f->fields[0].name_len == 7 && !memcmp(f->fields[0].name, ":status", 7);
    if (t->status == 200) {
        ok &= has_field(f, "sec-websocket-protocol", *t->subprotocol ? t->subprotocol : NULL);
        ok &= has_field(f, "sec-websocket-extensions", t->has_deflate ? r.extensions : NULL);
        ok &= has_field(f, "sec-websocket-accept", NULL);
    }
    if (t->status == 426)
        ok &= has_field(f, "sec-websocket-version", "13");
    if (!tap_ok(ok, "RFC 8441 5: server: %s answered %d", t->name, t->status))
        tap_diag("rc %d status %d error \"%s\"", rc, r.status, r.error);
    free(f);
    h2_head_free(&h);
}

/* wsc's client and server agree over HTTP/2, deflate parameters included. */
static void test_h2_round_trip(void)
{
    struct client_setup s;
    client_init(&s, "wss://server.example.com/chat?room=1");
    s.c.subprotocols = h2_chat;
    s.c.num_subprotocols = 2;
    s.c.offer_deflate = true;
    struct hs_fields *f = malloc(sizeof(*f));
    if (!f)
        abort();
    struct h2_head req, resp;
    int brc = hs_build_request_h2(&s.c, f);
    h2_head_from_fields(&req, f);
    struct hs_server srv = {superchat_first, 2, true};
    struct hs_server_result sr;
    int src = hs_check_request_h2(&srv, &req.head, &sr);
    int rrc = hs_build_response_h2(&sr, f);
    h2_head_from_fields(&resp, f);
    struct hs_result cr;
    int crc = hs_check_response_h2(&s.c, &resp.head, &cr);
    tap_ok(brc == 0 && src == 0 && rrc == 0 && crc == 0 && cr.outcome == HS_ACCEPTED &&
               !strcmp(cr.subprotocol, "superchat") && cr.has_deflate && sr.has_deflate &&
               cr.deflate.server_max_window_bits == sr.deflate.server_max_window_bits &&
               cr.deflate.client_max_window_bits == sr.deflate.client_max_window_bits,
           "RFC 8441: wsc's server accepts wsc's client over HTTP/2, superchat and deflate");
    struct buf b;
    buf_init(&b, 0);
    hs_fields_format(f->fields, f->num, &b);
    tap_ok(buf_size(&b) > 13 && !memcmp(buf_head(&b), ":status: 200\r\n", 14),
           "-v shows the answer's fields as lines, :status first");
    buf_free(&b);
    h2_head_free(&req);
    h2_head_free(&resp);
    free(f);
}

/* A list that does not fit is refused, never cut. */
static void test_h2_limits(void)
{
    static char big[HTTP_MAX_HEAD];
    memset(big, 'a', sizeof(big) - 1);
    memcpy(big, "X-Big: ", 7);
    const char *const headers[] = {big, NULL};
    struct client_setup s;
    client_init(&s, "ws://h.example/");
    s.c.headers = headers;
    s.c.num_headers = 1;
    struct hs_fields *f = malloc(sizeof(*f));
    if (!f)
        abort();
    tap_ok(hs_build_request_h2(&s.c, f) == -1, "a header list over %d bytes is refused",
           HTTP_MAX_HEAD);
    const char *many[HS_FIELDS_MAX + 1];
    for (size_t i = 0; i < HS_FIELDS_MAX; i++)
        many[i] = "X-Many: 1";
    many[HS_FIELDS_MAX] = NULL;
    s.c.headers = many;
    s.c.num_headers = HS_FIELDS_MAX;
    tap_ok(hs_build_request_h2(&s.c, f) == -1, "more than %d fields are refused",
           HS_FIELDS_MAX);
    free(f);
}

int main(void)
{
    for (size_t i = 0; i < sizeof(access_cases) / sizeof(access_cases[0]); i++)
        test_access(&access_cases[i]);
    test_allow_origin();
    test_primitives();
    test_request();
    for (size_t i = 0; i < sizeof(answers) / sizeof(answers[0]); i++)
        test_answer(&answers[i]);
    for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++)
        test_request_check(&requests[i]);
    test_server_misc();
    test_round_trip();
    for (size_t i = 0; i < sizeof(h2_requests) / sizeof(h2_requests[0]); i++)
        test_h2_request(&h2_requests[i]);
    for (size_t i = 0; i < sizeof(h2_answers) / sizeof(h2_answers[0]); i++)
        test_h2_answer(&h2_answers[i]);
    for (size_t i = 0; i < sizeof(h2_server_cases) / sizeof(h2_server_cases[0]); i++)
        test_h2_server(&h2_server_cases[i]);
    test_h2_round_trip();
    test_h2_limits();
    return tap_done();
}
