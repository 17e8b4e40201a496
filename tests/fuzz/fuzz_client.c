/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the whole client side after the TCP connect: the
 * input is what a server sends, the 101 head and the frames after it, as
 * loop.c handles them: the head is parsed and judged against a fixed
 * request (the key of RFC 6455 1.3), and on success the rest goes to a
 * client engine, permessage-deflate on when negotiated, in chunks whose
 * sizes come from the first input byte. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "deflate.h"
#include "handshake.h"
#include "http.h"
#include "url.h"
#include "ws.h"

#define CHECK(cond)                                                                            \
    do {                                                                                       \
        if (!(cond))                                                                           \
            __builtin_trap();                                                                  \
    } while (0)

static int fill_random(void *ctx, uint8_t *p, size_t n)
{
    memset(p, 0x5a, n);
    return 0;
}

static void judge_and_feed(size_t chunk, uint8_t *data, size_t size)
{
    static struct url url;
    static int has_url;
    if (!has_url) {
        char err[128];
        CHECK(url_parse("ws://server.example.com/chat", &url, err, sizeof(err)) == 0);
        has_url = 1;
    }
    struct hs_client hc = {.url = &url, .version = 13, .offer_deflate = true};
    hs_client_set_key(&hc, (const uint8_t *)"the sample nonce");
    struct http_head h;
    int head = http_parse_response((const char *)data, size, HTTP_MAX_HEAD, &h);
    if (head <= 0)
        return;
    struct hs_result r;
    if (hs_check_response(&hc, &h, &r) != 0)
        return;
    struct ws_config cfg = {.role = WS_ROLE_CLIENT, .max_message = 1 << 20, .random = fill_random};
    struct ws_conn c;
    ws_init(&c, &cfg);
    if (r.has_deflate)
        CHECK(ws_deflate_enable(&c, &r.deflate, true) == 0);
    for (size_t off = (size_t)head; off < size;) {
        size_t n = size - off < chunk ? size - off : chunk;
        int rc = ws_feed(&c, data + off, n);
        CHECK(rc == 0 || c.state == WS_STATE_FAILED);
        if (rc != 0) {
            CHECK(ws_close_code_is_sendable(c.error.code) && c.error.reason[0]);
            break;
        }
        off += n;
    }
    ws_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const size_t chunks[8] = {1, 2, 3, 7, 64, 1000, 65536, (size_t)-1};
    uint8_t *copy = malloc(size - 1 ? size - 1 : 1); /* exact size for ASan */
    CHECK(copy != NULL);
    memcpy(copy, data + 1, size - 1);
    judge_and_feed(chunks[data[0] & 7], copy, size - 1);
    free(copy);
    return 0;
}
