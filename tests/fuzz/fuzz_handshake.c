/* SPDX-License-Identifier: MIT */
/* libFuzzer target for handshake.c. The first input byte chooses:
 *   bit 0     0: the rest is a server's response head, judged by
 *             hs_check_response for a fixed client; 1: it is a client's
 *             request head, judged by hs_check_request, and the answer is
 *             built with hs_build_response
 *   bit 1     client version 8 instead of 13
 *   bit 2     the client offers subprotocols chat and superchat; the server
 *             accepts superchat and chat
 *   bit 3     the client offers permessage-deflate; the server allows it
 * The head is parsed from a heap copy of exactly its size. The outcome
 * must agree with the head and with what was offered. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "handshake.h"
#include "http.h"
#include "url.h"

#define CHECK(cond)                                                                            \
    do {                                                                                       \
        if (!(cond))                                                                           \
            __builtin_trap();                                                                  \
    } while (0)

static const char *const offered[] = {"chat", "superchat"};
static const char *const accepted[] = {"superchat", "chat"};

static bool terminated(const char *s, size_t cap)
{
    return memchr(s, 0, cap) != NULL;
}

static void check_response(uint8_t setup, const struct http_head *h)
{
    static struct url url;
    static bool has_url;
    if (!has_url) {
        char err[128];
        CHECK(url_parse("ws://server.example.com/chat", &url, err, sizeof(err)) == 0);
        has_url = true;
    }
    struct hs_client c;
    memset(&c, 0, sizeof(c));
    c.url = &url;
    c.version = (setup & 2) ? 8 : 13;
    if (setup & 4) {
        c.subprotocols = offered;
        c.num_subprotocols = 2;
    }
    c.offer_deflate = (setup & 8) != 0;
    hs_client_set_key(&c, (const uint8_t *)"the sample nonce");

    struct hs_result *r = malloc(sizeof(*r));
    if (!r)
        abort();
    int rc = hs_check_response(&c, h, r);
    CHECK(rc == (r->outcome == HS_ACCEPTED ? 0 : -1));
    CHECK(r->status == h->status);
    CHECK(terminated(r->error, sizeof(r->error)) &&
          terminated(r->subprotocol, sizeof(r->subprotocol)) &&
          terminated(r->location, sizeof(r->location)));
    switch (r->outcome) {
    case HS_ACCEPTED:
        CHECK(h->status == 101);
        CHECK(http_find_header(h, "Sec-WebSocket-Accept") != NULL);
        CHECK(!r->has_deflate || c.offer_deflate);
        if (r->subprotocol[0])
            CHECK(c.num_subprotocols && (!strcmp(r->subprotocol, "chat") ||
                                         !strcmp(r->subprotocol, "superchat")));
        if (r->has_deflate) {
            CHECK(r->deflate.server_max_window_bits >= 8 &&
                  r->deflate.server_max_window_bits <= 15);
            CHECK(r->deflate.client_max_window_bits >= 8 &&
                  r->deflate.client_max_window_bits <= 15);
        }
        break;
    case HS_REDIRECT:
        CHECK(h->status >= 300 && h->status <= 399);
        CHECK(http_find_header(h, "Location") != NULL);
        break;
    case HS_RETRY_VERSION:
        CHECK(h->status == 426);
        CHECK((r->retry_version == 13 || r->retry_version == 8) &&
              r->retry_version != c.version);
        break;
    case HS_REFUSED:
        CHECK(r->error[0] != 0);
        break;
    default:
        CHECK(0);
    }
    free(r);
}

static void check_request(uint8_t setup, const struct http_head *h)
{
    struct hs_server s = {accepted, (setup & 4) ? 2 : 0, (setup & 8) != 0};
    struct hs_server_result *r = malloc(sizeof(*r));
    if (!r)
        abort();
    int rc = hs_check_request(&s, h, r);
    CHECK(rc == (r->status == 101 ? 0 : -1));
    CHECK(terminated(r->error, sizeof(r->error)) &&
          terminated(r->subprotocol, sizeof(r->subprotocol)) &&
          terminated(r->extensions, sizeof(r->extensions)));
    if (rc == 0) {
        CHECK(r->version == 13 || r->version == 8);
        CHECK(strlen(r->accept) == HS_ACCEPT_LEN);
        CHECK(!r->has_deflate || s.allow_deflate);
        CHECK(!r->has_deflate || r->extensions[0] != 0);
        if (r->subprotocol[0])
            CHECK(s.num_subprotocols && (!strcmp(r->subprotocol, "chat") ||
                                         !strcmp(r->subprotocol, "superchat")));
    } else {
        CHECK(r->status >= 400 && r->status <= 599 && r->error[0] != 0);
    }

    /* The answer is a well-formed response head with that status. */
    struct buf b;
    buf_init(&b, 0);
    CHECK(hs_build_response(r, &b) == 0);
    size_t n = buf_size(&b);
    char *text = malloc(n ? n : 1);
    if (!text)
        abort();
    memcpy(text, buf_head(&b), n);
    struct http_head *a = malloc(sizeof(*a));
    if (!a)
        abort();
    int arc = http_parse_response(text, n, HTTP_MAX_HEAD, a);
    CHECK(arc > 0 && a->status == r->status);
    if (r->status == 101)
        CHECK((size_t)arc == n);
    free(a);
    free(text);
    buf_free(&b);
    free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t setup = data[0];
    size_t n = size - 1;
    char *text = malloc(n ? n : 1);
    struct http_head *h = malloc(sizeof(*h));
    if (!text || !h)
        abort();
    if (n)
        memcpy(text, data + 1, n);
    bool is_request = (setup & 1) != 0;
    int rc = is_request ? http_parse_request(text, n, HTTP_MAX_HEAD, h)
                        : http_parse_response(text, n, HTTP_MAX_HEAD, h);
    if (rc > 0) {
        if (is_request)
            check_request(setup, h);
        else
            check_response(setup, h);
    }
    free(h);
    free(text);
    return 0;
}
